//! Running the binary and reading what it said.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStderr, Command, Output};
use std::sync::{Arc, Mutex};

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

/// Keeps what a running child writes on standard error, line by line, echoing each line under
/// `label` and handing it to `on_line` (e.g. to catch an address it prints); the kept text grows
/// as the child writes.
pub fn keep_stderr(
    pipe: ChildStderr,
    label: &'static str,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> Arc<Mutex<String>> {
    let kept = Arc::new(Mutex::new(String::new()));
    let writer = kept.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            eprintln!("[{label}] {line}");
            on_line(&line);
            let mut kept = writer.lock().unwrap();
            kept.push_str(&line);
            kept.push('\n');
        }
    });
    kept
}
