//! A CQL node that speaks only TLS and verifies its clients (a Cassandra node of this test's
//! own, `client_encryption_options` with `require_client_auth`, `UPLINE_CASSANDRA_TLS`):
//! `upline migrate` connects when it trusts the node's authority and shows a certificate it
//! signed, by flags or by the environment; otherwise it fails with the handshake's reason and
//! what to check. Files that hold the wrong thing are refused before anything connects.

mod common;

use common::process::{run, stderr, with_files};
use std::path::PathBuf;
use std::process::{Command, Output};
use store::scylla::testing::OwnNode;

fn migrate(node: &str, prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["migrate", "--scylla-nodes", node, "--region", "us-east"])
        .args(["--datacenter", "us-east=datacenter1"])
        .args(["--replication-factor", "1", "--keyspace-prefix", prefix]);
    for variable in [
        "UPLINE_SCYLLA_USERNAME",
        "UPLINE_SCYLLA_PASSWORD",
        "UPLINE_SCYLLA_CA",
        "UPLINE_SCYLLA_CERT",
        "UPLINE_SCYLLA_KEY",
    ] {
        command.env_remove(variable);
    }
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn migrate_connects_over_mutual_tls_and_says_why_it_cannot_without_it() {
    let cache = std::env::var("UPLINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/upline"));
    let directory = cache.join("cassandra/tls-node");
    let own = OwnNode::new(&directory, &[("UPLINE_CASSANDRA_TLS", "1")]);
    let node = own.run("start");
    assert!(!node.is_empty(), "cassandra.sh printed no address");
    let tls = directory.join("tls");
    let ca = tls.join("ca.crt");
    let certificate = tls.join("client.crt");
    let key = tls.join("client.key");

    let with_flags = run(&mut with_files(
        migrate(&node, "tls_flags_"),
        &[
            ("--scylla-ca", &ca),
            ("--scylla-cert", &certificate),
            ("--scylla-key", &key),
        ],
    ));
    assert!(with_flags.status.success(), "{}", stderr(&with_flags));
    assert!(
        stdout(&with_flags).contains("migrations applied"),
        "{}",
        stdout(&with_flags)
    );
    // The same files from the environment, as a pod's mounted Secret gives them.
    let from_environment = run(migrate(&node, "tls_env_")
        .env("UPLINE_SCYLLA_CA", &ca)
        .env("UPLINE_SCYLLA_CERT", &certificate)
        .env("UPLINE_SCYLLA_KEY", &key));
    assert!(
        from_environment.status.success(),
        "{}",
        stderr(&from_environment)
    );

    let stranger = tls.join("stranger-ca.crt");
    for (what, files, reason) in [
        (
            "no client certificate",
            vec![("--scylla-ca", ca.as_path())],
            "CertificateRequired",
        ),
        (
            "a stranger authority",
            vec![
                ("--scylla-ca", stranger.as_path()),
                ("--scylla-cert", certificate.as_path()),
                ("--scylla-key", key.as_path()),
            ],
            "UnknownIssuer",
        ),
        ("no TLS settings", vec![], "Connection"),
    ] {
        let output = run(&mut with_files(migrate(&node, "tls_refused_"), &files));
        assert!(!output.status.success(), "{what}: migrate succeeded");
        assert!(
            stderr(&output).contains(reason),
            "{what}: expected {reason} in {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("--scylla-ca"),
            "{what}: {}",
            stderr(&output)
        );
    }

    // Files holding the wrong thing: refused at start, naming the flag and the file.
    let other_key = tls.join("server.key");
    let missing = tls.join("no-such.crt");
    for (files, flag) in [
        (vec![("--scylla-ca", missing.as_path())], "--scylla-ca"),
        (vec![("--scylla-ca", key.as_path())], "--scylla-ca"),
        (
            vec![
                ("--scylla-ca", ca.as_path()),
                ("--scylla-cert", certificate.as_path()),
                ("--scylla-key", other_key.as_path()),
            ],
            "--scylla-key",
        ),
    ] {
        let output = run(&mut with_files(migrate(&node, "tls_files_"), &files));
        let named = files.iter().find(|(given, _)| *given == flag).unwrap().1;
        assert_eq!(
            output.status.code(),
            Some(1),
            "{files:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(&format!("{flag} {}:", named.display())),
            "{files:?}: expected {flag} and its file in {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("cannot connect"),
            "{files:?}: refused only after trying to connect: {}",
            stderr(&output)
        );
    }
    let half = run(&mut with_files(
        migrate(&node, "tls_half_"),
        &[("--scylla-cert", &certificate)],
    ));
    assert!(!half.status.success());
    assert!(stderr(&half).contains("--scylla-key"), "{}", stderr(&half));
}
