//! A CQL cluster that authenticates its clients (a Cassandra node of this test's own, with
//! PasswordAuthenticator): `upline migrate` logs in with the role given by flags or by the
//! environment, and without it, or with a wrong password, fails saying which flags to check.

mod common;

use common::process::{run, stderr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use store::scylla::testing::OwnNode;

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

#[test]
fn migrate_logs_in_with_its_role_and_says_what_to_check_without_it() {
    let cache = std::env::var("UPLINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/upline"));
    let own = OwnNode::new(
        &cache.join("cassandra/auth-node"),
        &[("UPLINE_CASSANDRA_AUTH", "1")],
    );
    let node = own.run("start");
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
