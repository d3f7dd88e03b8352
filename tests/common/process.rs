//! Running the binary and reading what it said.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the command to its end.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("upline runs")
}

/// What the command wrote on standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The command with each flag followed by its file (`--nats-ca /path/ca.crt`).
pub fn with_files(mut command: Command, files: &[(&str, &Path)]) -> Command {
    for (flag, path) in files {
        command.arg(flag).arg(path);
    }
    command
}
