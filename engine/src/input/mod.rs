//! Reading the run's input files (COMP_PLAN_SPEC.md §1) from bytes into flat arrays.
//!
//! Pure: the caller supplies each file's bytes (a memory map or a buffer) and its name for
//! messages. Every file is checked in three passes — each row on its own, then references
//! between rows and files, then the tree as a whole — and the earliest line of the first
//! pass that finds a problem is reported, e.g. `orders.csv:17: unknown distributor id "d99"`.

mod distributors;
mod lines;
mod orders;
mod state;

pub use distributors::{
    read_distributors, read_distributors_beside, Directory, Network, Placement, PlacementKind,
};
pub use lines::BYTE_ORDER_MARK;
pub use orders::{read_orders, Volumes};
pub use state::{read_state, CarryState};

use std::fmt;

/// A problem in an input file: the file's base name, the line (1 = header) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: Option<u32>,
    pub message: String,
}

impl InputError {
    pub fn at(file: &str, line: u32, message: String) -> InputError {
        InputError {
            file: file.to_string(),
            line: Some(line),
            message,
        }
    }

    pub fn whole_file(file: &str, message: String) -> InputError {
        InputError {
            file: file.to_string(),
            line: None,
            message,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(formatter, "{}:{}: {}", self.file, line, self.message),
            None => write!(formatter, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for InputError {}
