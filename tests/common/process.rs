//! Running the binary and reading what it said.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the command to its end.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("upline runs")
}

/// What the command wrote on standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
