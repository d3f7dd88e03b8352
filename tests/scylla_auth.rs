//! A CQL cluster that authenticates its clients (a Cassandra node of this test's own, with
//! PasswordAuthenticator): `upline migrate` logs in with the role given by flags or by the
//! environment, and without it, or with a wrong password, fails saying which flags to check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/services/cassandra.sh");

/// Runs `cassandra.sh COMMAND` on the authenticating node in `node_dir`; returns its address.
fn cassandra(command: &str, node_dir: &Path) -> String {
    let output = Command::new("bash")
        .arg(SCRIPT)
        .arg(command)
        .env("UPLINE_CASSANDRA_NODE", node_dir)
        .env("UPLINE_CASSANDRA_AUTH", "1")
        .output()
        .expect("bash runs tests/services/cassandra.sh");
    assert!(
        output.status.success(),
        "cassandra.sh {command} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("UPLINE_CASSANDRA="))
        .unwrap_or_default()
        .to_owned()
}

/// Stops the test's node however the test ends.
struct OwnNode(PathBuf);

impl Drop for OwnNode {
    fn drop(&mut self) {
        cassandra("stop", &self.0);
    }
}

fn migrate(node: &str, prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["migrate", "--scylla-nodes", node, "--region", "us-east"])
        .args(["--datacenter", "us-east=datacenter1"])
        .args(["--replication-factor", "1", "--keyspace-prefix", prefix])
        .env_remove("UPLINE_SCYLLA_USERNAME")
        .env_remove("UPLINE_SCYLLA_PASSWORD");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("upline runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn migrate_logs_in_with_its_role_and_says_what_to_check_without_it() {
    let cache = std::env::var("UPLINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/upline"));
    let node_dir = cache.join("cassandra/auth-node");
    let node = cassandra("start", &node_dir);
    let _stops = OwnNode(node_dir);
    assert!(!node.is_empty(), "cassandra.sh printed no address");

    // The node makes its default superuser just after it starts: the first login may come
    // before it exists.
    let mut logged_in = None;
    for _ in 0..120 {
        let output = run(migrate(&node, "auth_flags_")
            .args(["--scylla-username", "cassandra"])
            .args(["--scylla-password", "cassandra"]));
        if output.status.success() {
            logged_in = Some(output);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logged_in = logged_in.expect("migrate never logged in as cassandra");
    assert!(
        String::from_utf8_lossy(&logged_in.stdout).contains("migrations applied"),
        "{}",
        String::from_utf8_lossy(&logged_in.stdout)
    );

    // The same role from the environment, as a pod's Secret gives it.
    let from_environment = run(migrate(&node, "auth_env_")
        .env("UPLINE_SCYLLA_USERNAME", "cassandra")
        .env("UPLINE_SCYLLA_PASSWORD", "cassandra"));
    assert!(
        from_environment.status.success(),
        "{}",
        stderr(&from_environment)
    );

    for (what, output) in [
        ("no role", run(&mut migrate(&node, "auth_none_"))),
        (
            "a wrong password",
            run(migrate(&node, "auth_wrong_")
                .args(["--scylla-username", "cassandra"])
                .args(["--scylla-password", "not-the-password"])),
        ),
    ] {
        assert!(!output.status.success(), "{what}: migrate succeeded");
        assert!(
            stderr(&output).contains("check --scylla-username and --scylla-password"),
            "{what}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("not-the-password"),
            "the password is never printed"
        );
    }
    let half = run(migrate(&node, "auth_half_").args(["--scylla-username", "cassandra"]));
    assert!(!half.status.success());
    assert!(
        stderr(&half).contains("--scylla-username needs --scylla-password"),
        "{}",
        stderr(&half)
    );
}
