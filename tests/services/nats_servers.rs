//! Real nats-server processes for the tests, through `tests/services/nats.sh` (which builds the
//! server once and caches it): the shared server of a test run, and servers of a test's own
//! that fault tests stop, resume and remove. Included by the binary's tests and the worker's.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// `tests/services/nats.sh`, from the workspace root or from a member crate.
fn nats_script() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let at_root = manifest.join("tests/services/nats.sh");
    if at_root.exists() {
        at_root
    } else {
        manifest.join("../tests/services/nats.sh")
    }
}

/// Runs `nats.sh COMMAND NAME` and returns the client URL it prints. Panics with the script's
/// output when the server cannot be started: a test that needs NATS never passes without it.
fn nats_command(command: &str, name: &str) -> String {
    nats_command_with(command, name, &[]).client
}

/// What `nats.sh start|resume` printed.
pub struct NatsServer {
    pub client: String,
    /// The leaf node port's URL, when the server accepts leaf connections.
    pub leaf: Option<String>,
    /// The folder of the server's certificates, when it speaks TLS (`UPLINE_NATS_TLS`).
    pub tls_dir: Option<String>,
}

/// A server of the test's own shaped by `nats.sh`'s environment (`UPLINE_NATS_DOMAIN`,
/// `UPLINE_NATS_LEAF_LISTEN`, `UPLINE_NATS_LEAF_REMOTES`, `UPLINE_NATS_NO_JETSTREAM`,
/// `UPLINE_NATS_AUTH_USER`, `UPLINE_NATS_TLS`, `UPLINE_NATS_TLS_VERIFY`).
pub fn own_nats_with(name: &str, shape: &[(&str, &str)]) -> NatsServer {
    nats_command_with("start", name, shape)
}

fn nats_command_with(command: &str, name: &str, shape: &[(&str, &str)]) -> NatsServer {
    let output = Command::new("bash")
        .arg(nats_script())
        .arg(command)
        .arg(name)
        .envs(shape.iter().copied())
        .output()
        .expect("running tests/services/nats.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tests/services/nats.sh {command} {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::to_owned)
    };
    NatsServer {
        client: value("UPLINE_NATS=").unwrap_or_default(),
        leaf: value("UPLINE_NATS_LEAF="),
        tls_dir: value("UPLINE_NATS_TLS_DIR="),
    }
}

/// The NATS server shared by the tests of a run (started if it is not up): `UPLINE_NATS` when
/// set, otherwise the server named `shared`.
pub fn shared_nats() -> String {
    match std::env::var("UPLINE_NATS") {
        Ok(url) if !url.is_empty() => url,
        _ => nats_command("start", "shared"),
    }
}

/// A server of the test's own, for fault tests that stop it.
pub fn own_nats(name: &str) -> String {
    nats_command("start", name)
}

pub fn stop_nats(name: &str) {
    let status = Command::new("bash")
        .arg(nats_script())
        .args(["stop", name])
        .status()
        .expect("running tests/services/nats.sh stop");
    assert!(status.success(), "stopping nats server {name} failed");
}

/// Stops the server and deletes its store (the end of a fault test).
pub fn remove_nats(name: &str) {
    let status = Command::new("bash")
        .arg(nats_script())
        .args(["remove", name])
        .status()
        .expect("running tests/services/nats.sh remove");
    assert!(status.success(), "removing nats server {name} failed");
}

pub fn resume_nats(name: &str) -> String {
    nats_command("resume", name)
}

/// A name no other test of any run uses (streams and consumers on a shared server).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
    .to_uppercase()
}
