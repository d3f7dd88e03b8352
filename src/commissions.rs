//! `upline commissions` — being written.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CommissionsArgs {}

pub fn main(_args: CommissionsArgs) -> ExitCode {
    ExitCode::FAILURE
}
