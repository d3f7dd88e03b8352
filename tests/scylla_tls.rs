//! A CQL node that speaks only TLS and verifies its clients (a Cassandra node of this test's
//! own, `client_encryption_options` with `require_client_auth`, `UPLINE_CASSANDRA_TLS`):
//! `upline migrate` connects when it trusts the node's authority and shows a certificate it
//! signed, by flags or by the environment; otherwise it fails with the handshake's reason and
//! what to check. Files that hold the wrong thing are refused before anything connects. A
//! running process reads its files again for each new connection, so certificates renewed in
//! place (a Secret rewritten by cert-manager) are used without a restart.

mod common;

use common::process::{run, stderr, with_files};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use store::scylla::testing::OwnNode;
use store::scylla::{connect, ScyllaConfig};
use store::tls::{ClientCertificate, TlsFiles};

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

/// One node for every part: starting a Cassandra node takes longer than all the checks.
#[test]
fn a_node_requiring_mutual_tls() {
    let cache = std::env::var("UPLINE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/upline"));
    let directory = cache.join("cassandra/tls-node");
    let own = OwnNode::new(&directory, &[("UPLINE_CASSANDRA_TLS", "1")]);
    let node = own.run("start");
    assert!(!node.is_empty(), "cassandra.sh printed no address");
    let tls = directory.join("tls");
    migrate_connects_and_says_why_it_cannot(&node, &tls);
    files_holding_the_wrong_thing_are_refused_at_start(&node, &tls);
    renewed_files_are_used_by_the_next_connection(&node, &tls);
}

fn migrate_connects_and_says_why_it_cannot(node: &str, tls: &Path) {
    let ca = tls.join("ca.crt");
    let certificate = tls.join("client.crt");
    let key = tls.join("client.key");

    let with_flags = run(&mut with_files(
        migrate(node, "tls_flags_"),
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
    let from_environment = run(migrate(node, "tls_env_")
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
        refused_with(migrate(node, "tls_refused_"), &files, what, reason);
    }
    // TLS settings for a node that does not speak TLS (the run's shared, plain node).
    refused_with(
        migrate(store::scylla::testing::node(), "tls_plain_"),
        &[("--scylla-ca", ca.as_path())],
        "a node without TLS",
        "the node answered without TLS",
    );
}

/// `upline migrate` with these files fails, giving `reason` and pointing at the TLS flags.
fn refused_with(command: Command, files: &[(&str, &Path)], what: &str, reason: &str) {
    let output = run(&mut with_files(command, files));
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

/// Refused at start, naming the flag and the file.
fn files_holding_the_wrong_thing_are_refused_at_start(node: &str, tls: &Path) {
    let ca = tls.join("ca.crt");
    let certificate = tls.join("client.crt");
    let key = tls.join("client.key");
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
        let output = run(&mut with_files(migrate(node, "tls_files_"), &files));
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
        migrate(node, "tls_half_"),
        &[("--scylla-cert", &certificate)],
    ));
    assert!(!half.status.success());
    assert!(stderr(&half).contains("--scylla-key"), "{}", stderr(&half));
}

/// What a pod's mounted Secret does when cert-manager renews it: the files change under a
/// running process. The process's one client configuration must show the new certificate and
/// trust the new authority on its next connection, and keep the last good files when the new
/// ones cannot be used.
fn renewed_files_are_used_by_the_next_connection(node: &str, tls: &Path) {
    let mounted = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = (
        mounted.path().join("ca.crt"),
        mounted.path().join("tls.crt"),
        mounted.path().join("tls.key"),
    );
    let place = |from: &str, to: &Path| std::fs::copy(tls.join(from), to).map(drop).unwrap();
    place("ca.crt", &ca);
    place("client.crt", &certificate);
    place("client.key", &key);
    let files = TlsFiles {
        roots: Some(ca.clone()),
        client: Some(ClientCertificate {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
    };
    let config = ScyllaConfig {
        nodes: vec![node.to_owned()],
        region: "us-east".into(),
        datacenters: [("us-east".to_owned(), "datacenter1".to_owned())].into(),
        replication_factor: 1,
        keyspace_prefix: "tls_renewal_".into(),
        credentials: None,
        tls: Some(
            files
                .client_config()
                .expect("the test certificates are usable"),
        ),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let connects = |when: &str| {
        runtime
            .block_on(connect(&config))
            .map(drop)
            .map_err(|error| format!("{when}: {error}"))
    };
    connects("the first files").unwrap();

    // The files now hold a certificate of an authority the node does not know: a connection
    // that still showed the first one would be accepted.
    place("stranger-client.crt", &certificate);
    place("stranger-client.key", &key);
    let refused = connects("a stranger's certificate")
        .expect_err("the node accepted a stranger's certificate");
    assert!(refused.contains("TLS with"), "{refused}");

    place("renewed-client.crt", &certificate);
    place("renewed-client.key", &key);
    connects("a renewed certificate").unwrap();

    // Caught half-written: the stranger's certificate beside the renewed key. Unusable, so
    // the renewed pair stays in use.
    place("stranger-client.crt", &certificate);
    connects("a certificate that does not go with its key").unwrap();
    place("renewed-client.crt", &certificate);

    // The authority file now trusts only the stranger, who did not sign the node's certificate.
    place("stranger-ca.crt", &ca);
    let untrusted =
        connects("a stranger authority").expect_err("trusted a node its authority did not sign");
    assert!(untrusted.contains("UnknownIssuer"), "{untrusted}");
    place("ca.crt", &ca);
    connects("the authority back").unwrap();
}
