//! `upline generate` — being written.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct GenerateArgs {}

pub fn main(_args: GenerateArgs) -> ExitCode {
    ExitCode::FAILURE
}
