//! The one real Cassandra node of a test run (`tests/services/cassandra.sh`), and unique
//! keyspace prefixes that keep tests apart on it.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// `host:port` of the node: `UPLINE_CASSANDRA` when the run started one (scripts/test-all.sh
/// does), otherwise started here through the script. A node that cannot be started fails the
/// test loudly; it never passes without one.
pub fn node() -> &'static str {
    static NODE: OnceLock<String> = OnceLock::new();
    NODE.get_or_init(|| {
        if let Ok(node) = std::env::var("UPLINE_CASSANDRA") {
            if !node.is_empty() {
                return node;
            }
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/services/cassandra.sh");
        let output = Command::new("bash")
            .arg(script)
            .arg("start")
            .output()
            .expect("bash runs tests/services/cassandra.sh");
        assert!(
            output.status.success(),
            "Cassandra could not be started by {script}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("UPLINE_CASSANDRA="))
            .expect("cassandra.sh prints UPLINE_CASSANDRA=host:port")
            .to_string()
    })
}

/// The datacenter name of the test node.
pub const DATACENTER: &str = "datacenter1";

/// A keyspace prefix no other test (or earlier run) uses.
pub fn unique_prefix(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}_{}_{:x}_{label}_",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}
