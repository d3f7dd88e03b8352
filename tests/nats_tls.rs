//! NATS servers that speak only TLS and verify their clients (a server of this test's own, with
//! a certificate authority of its own, `tests/services/nats.sh` with `UPLINE_NATS_TLS`):
//! `upline dlq list` connects when it trusts that authority and shows a certificate it signed,
//! by flags or by the environment; otherwise it fails saying why the connection fails and what
//! to check. Files that hold the wrong thing are refused at start, naming the flag.

mod common;

use common::event_stream::StreamReader;
use common::nats::{nats_url, own_nats_with, resume_nats, stop_nats, unique, OwnServer};
use common::process::{run, stderr, with_files};
use common::serve::{start_with_env, ServeProcess};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// `upline dlq list` on `url`, with none of the caller's NATS settings.
fn dead_letters(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["dlq", "list", "--nats", url, "--region", "local"])
        .args(["--stream-prefix", &unique("TLS")]);
    for variable in [
        "UPLINE_NATS_USER",
        "UPLINE_NATS_PASSWORD",
        "UPLINE_NATS_TOKEN",
        "UPLINE_NATS_CA",
        "UPLINE_NATS_CERT",
        "UPLINE_NATS_KEY",
    ] {
        command.env_remove(variable);
    }
    command
}

/// A TLS server of the test's own verifying its clients, and the folder of its certificates.
fn mutual_tls_server() -> (OwnServer, String, PathBuf) {
    let name = unique("tls");
    let server = own_nats_with(
        &name,
        &[("UPLINE_NATS_TLS", "1"), ("UPLINE_NATS_TLS_VERIFY", "1")],
    );
    let folder = PathBuf::from(
        server
            .tls_dir
            .expect("nats.sh prints UPLINE_NATS_TLS_DIR for a TLS server"),
    );
    (OwnServer(name), server.client, folder)
}

/// Runs the commands side by side: every refused connection waits out the client's time-out.
fn run_all(commands: Vec<(&'static str, Command)>) -> Vec<(&'static str, Output)> {
    std::thread::scope(|scope| {
        let running: Vec<_> = commands
            .into_iter()
            .map(|(what, mut command)| (what, scope.spawn(move || run(&mut command))))
            .collect();
        running
            .into_iter()
            .map(|(what, thread)| (what, thread.join().expect("the command's thread")))
            .collect()
    })
}

#[test]
fn workers_connect_over_mutual_tls_and_say_why_they_cannot_without_it() {
    let (_removes, url, tls) = mutual_tls_server();
    let ca = tls.join("ca.crt");
    let certificate = tls.join("client.crt");
    let key = tls.join("client.key");
    let full = [
        ("--nats-ca", ca.as_path()),
        ("--nats-cert", certificate.as_path()),
        ("--nats-key", key.as_path()),
    ];

    let mut from_environment = dead_letters(&url);
    from_environment
        .env("UPLINE_NATS_CA", &ca)
        .env("UPLINE_NATS_CERT", &certificate)
        .env("UPLINE_NATS_KEY", &key);
    let stranger = tls.join("stranger-ca.crt");
    let refused = run_all(vec![
        ("flags", with_files(dead_letters(&url), &full)),
        ("environment", from_environment),
        (
            "no client certificate",
            with_files(dead_letters(&url), &[("--nats-ca", &ca)]),
        ),
        ("no TLS settings", dead_letters(&url)),
        (
            "a stranger authority",
            with_files(
                dead_letters(&url),
                &[
                    ("--nats-ca", &stranger),
                    ("--nats-cert", &certificate),
                    ("--nats-key", &key),
                ],
            ),
        ),
    ]);

    for (what, output) in &refused {
        match *what {
            "flags" | "environment" => {
                assert!(output.status.success(), "{what}: {}", stderr(output));
                assert!(
                    String::from_utf8_lossy(&output.stdout).contains("no dead letters"),
                    "{what}: {}",
                    String::from_utf8_lossy(&output.stdout)
                );
            }
            _ => {
                assert!(!output.status.success(), "{what}: dlq list succeeded");
                let reason = match *what {
                    "no client certificate" => "CertificateRequired",
                    _ => "UnknownIssuer",
                };
                assert!(
                    stderr(output).contains(reason),
                    "{what}: expected {reason} in {}",
                    stderr(output)
                );
                assert!(
                    stderr(output).contains("check --nats-ca"),
                    "{what}: {}",
                    stderr(output)
                );
            }
        }
    }
}

#[test]
fn a_trusted_authority_refuses_a_server_without_tls() {
    let (_removes, _url, tls) = mutual_tls_server();
    let plain = nats_url();
    let output = run(&mut with_files(
        dead_letters(&plain),
        &[("--nats-ca", &tls.join("ca.crt"))],
    ));
    assert!(
        !output.status.success(),
        "a server without TLS was used although --nats-ca asks for TLS"
    );
    assert!(
        stderr(&output).contains("connecting fails"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn files_that_hold_the_wrong_thing_are_refused_at_start_naming_the_flag() {
    let (_removes, url, tls) = mutual_tls_server();
    let ca = tls.join("ca.crt");
    let certificate = tls.join("client.crt");
    let key = tls.join("client.key");
    let missing = tls.join("no-such.crt");
    let other_key = tls.join("server.key");
    let cases: [(&[(&str, &Path)], &str); 5] = [
        (&[("--nats-ca", &missing)], "--nats-ca"),
        (&[("--nats-ca", &key)], "--nats-ca"),
        (
            &[
                ("--nats-ca", &ca),
                ("--nats-cert", &key),
                ("--nats-key", &key),
            ],
            "--nats-cert",
        ),
        (
            &[
                ("--nats-ca", &ca),
                ("--nats-cert", &certificate),
                ("--nats-key", &certificate),
            ],
            "--nats-key",
        ),
        (
            &[
                ("--nats-ca", &ca),
                ("--nats-cert", &certificate),
                ("--nats-key", &other_key),
            ],
            "--nats-key",
        ),
    ];
    for (files, flag) in cases {
        let output = run(&mut with_files(dead_letters(&url), files));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{files:?}: {message}");
        let named = files
            .iter()
            .find(|(given, _)| given == &flag)
            .map(|(_, path)| path.display().to_string())
            .unwrap();
        assert!(
            message.contains(&format!("{flag} {named}:")),
            "{files:?}: expected {flag} and its file in {message}"
        );
        assert!(
            !message.contains("connecting fails"),
            "{files:?}: refused only after trying to connect: {message}"
        );
    }

    let half = run(&mut with_files(
        dead_letters(&url),
        &[("--nats-cert", &certificate)],
    ));
    assert!(!half.status.success());
    assert!(stderr(&half).contains("--nats-key"), "{}", stderr(&half));
}

/// cert-manager renews a certificate by rewriting the files of its Secret under a running pod.
/// `upline serve` reads them again whenever it connects, so no restart is needed: across a NATS
/// restart, files that came to hold a stranger's certificate are refused and the log says why;
/// once they hold a renewed certificate of the same authority, the process connects again and
/// the events that waited in its outbox reach the stream, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_renewed_certificate_files_when_it_reconnects() {
    let (server, url, tls) = mutual_tls_server();
    let mounted = tempfile::tempdir().unwrap();
    let mount = |certificate: &str| {
        for extension in ["crt", "key"] {
            let from = tls.join(format!("{certificate}.{extension}"));
            // Written beside and renamed, as the kubelet swaps a Secret's files.
            let staged = mounted.path().join(format!("staged.{extension}"));
            std::fs::copy(&from, &staged).unwrap();
            std::fs::rename(&staged, mounted.path().join(format!("client.{extension}"))).unwrap();
        }
    };
    mount("client");
    store::tls::use_ring_by_default();
    worker::bus::tls::set_tls(worker::bus::tls::TlsFiles {
        roots: Some(tls.join("ca.crt")),
        client: Some(worker::bus::tls::ClientCertificate {
            certificate: tls.join("client.crt"),
            key: tls.join("client.key"),
        }),
    })
    .expect("the test's own NATS settings");

    let prefix = unique("RENEWAL");
    let work = tempfile::tempdir().unwrap();
    let serve = start_with_env(
        &work.path().join("data"),
        &[
            "--nats".into(),
            url.clone(),
            "--stream-prefix".into(),
            prefix.clone(),
            "--nats-ca".into(),
            tls.join("ca.crt").display().to_string(),
            "--nats-cert".into(),
            mounted.path().join("client.crt").display().to_string(),
            "--nats-key".into(),
            mounted.path().join("client.key").display().to_string(),
        ],
        &[("UPLINE_LOG", "info")],
    );
    let plan = json!({ "name": "renewal", "currency": "USD", "ranks": [{ "name": "Member" }], "bonuses": { "unilevel": { "levels": [0.10] } } });
    let key = serve.tenant("acme", plan).await;
    serve.enroll_tree(&key, 3, 2, "2026-01-01").await;
    StreamReader::new(&url, &prefix)
        .await
        .read_until(3, 0)
        .await;

    stop_nats(&server.0);
    said_after(&serve, 0, "connection lost").await;
    mount("stranger-client");
    let swapped = serve.said().len();
    resume_nats(&server.0);
    let refusal = said_after(&serve, swapped, "connecting fails").await;
    assert!(
        refusal.contains("UnknownCA"),
        "the refusal of the stranger's certificate, in words: {refusal}"
    );
    serve.enroll_tree_from(&key, 3..5, 2, "2026-01-01").await;

    mount("renewed-client");
    let renewed = serve.said().len();
    said_after(&serve, renewed, "connected again").await;
    let mut reader = StreamReader::new(&url, &prefix).await;
    reader.read_until(5, 0).await;
    reader.assert_each_once(5, 0);
}

/// The first line containing `needle` that `serve` wrote after its first `from` bytes of
/// standard error; fails after two minutes without one (a hang detector, not a timing test).
async fn said_after(serve: &ServeProcess, from: usize, needle: &str) -> String {
    for _ in 0..600 {
        if let Some(line) = serve.said()[from..]
            .lines()
            .find(|line| line.contains(needle))
        {
            return line.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("serve never said {needle:?}:\n{}", serve.said());
}
