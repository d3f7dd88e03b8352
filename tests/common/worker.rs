//! `upline worker` as a child process, for the tests of closes and restatements.
#![allow(dead_code)]

use super::process::keep_stderr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `upline worker` as a child process, its standard error kept.
pub struct Worker {
    pub child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Worker {
    pub fn start(data: &std::path::Path, arguments: &[String], failpoint: Option<&str>) -> Worker {
        let failpoint = failpoint.map(|failpoint| ("UPLINE_FAILPOINT", failpoint));
        Worker::start_with_env(data, arguments, failpoint.as_slice())
    }

    /// [`Worker::start`] with more environment variables (`UPLINE_LOG=info`).
    pub fn start_with_env(
        data: &std::path::Path,
        arguments: &[String],
        env: &[(&str, &str)],
    ) -> Worker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
        command
            .arg("worker")
            .arg("--data")
            .arg(data)
            .args(arguments)
            .env("UPLINE_LOG", "warn")
            .envs(env.iter().copied())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("upline worker starts");
        let stderr = keep_stderr(child.stderr.take().unwrap(), "worker", |_| {});
        Worker { child, stderr }
    }

    /// Its exit status, or None when it is still running after `patience` (then killed).
    pub fn wait(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < patience {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    pub fn said(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// A test that fails leaves no worker behind.
impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `done` until it holds or `patience` passed; whether it held.
pub async fn wait_for(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < patience {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    done()
}

impl Worker {
    /// Ends it as an operator would (SIGTERM) and checks it stopped cleanly.
    pub fn stop(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the worker ended with {status}:\n{}",
            self.said()
        );
    }
}
