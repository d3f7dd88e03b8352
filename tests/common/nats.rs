//! The real nats-server the binary's event tests use: `UPLINE_NATS` when set, otherwise the
//! shared server of `tests/services/nats.sh` (built and started if needed).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The server's client URL. Panics with the script's output when it cannot be started: a test
/// that needs NATS never passes without it.
pub fn nats_url() -> String {
    if let Ok(url) = std::env::var("UPLINE_NATS") {
        if !url.is_empty() {
            return url;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services/nats.sh");
    let output = Command::new("bash")
        .arg(script)
        .args(["start", "shared"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "tests/services/nats.sh start failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("UPLINE_NATS=").map(str::to_owned))
        .expect("nats.sh prints UPLINE_NATS")
}
