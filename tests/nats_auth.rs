//! A NATS server that asks its clients who they are (a server of this test's own, with an
//! `authorization` block): `upline dlq list` connects as the user given by flags or by the
//! environment, and without it, or with a wrong password, fails saying what to check.

mod common;

use common::nats::{own_nats_with, unique, OwnServer};
use common::process::{run, stderr};
use std::process::Command;

fn dead_letters(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["dlq", "list", "--nats", url, "--region", "local"])
        .args(["--stream-prefix", &unique("AUTH")])
        .env_remove("UPLINE_NATS_USER")
        .env_remove("UPLINE_NATS_PASSWORD")
        .env_remove("UPLINE_NATS_TOKEN");
    command
}

#[test]
fn workers_connect_as_their_user_and_say_what_to_check_without_it() {
    let name = unique("auth");
    let server = own_nats_with(
        &name,
        &[
            ("UPLINE_NATS_AUTH_USER", "upline-worker"),
            ("UPLINE_NATS_AUTH_PASSWORD", "s3cret"),
        ],
    );
    let _removes = OwnServer(name);
    let url = server.client;

    let with_flags = run(dead_letters(&url)
        .args(["--nats-user", "upline-worker"])
        .args(["--nats-password", "s3cret"]));
    assert!(with_flags.status.success(), "{}", stderr(&with_flags));
    let from_environment = run(dead_letters(&url)
        .env("UPLINE_NATS_USER", "upline-worker")
        .env("UPLINE_NATS_PASSWORD", "s3cret"));
    assert!(
        from_environment.status.success(),
        "{}",
        stderr(&from_environment)
    );

    for (what, output) in [
        ("no user", run(&mut dead_letters(&url))),
        (
            "a wrong password",
            run(dead_letters(&url)
                .args(["--nats-user", "upline-worker"])
                .args(["--nats-password", "not-the-password"])),
        ),
        (
            "a wrong password in the URL",
            run(&mut dead_letters(&url.replacen(
                "://",
                "://upline-worker:not-the-password@",
                1,
            ))),
        ),
    ] {
        assert!(!output.status.success(), "{what}: dlq list succeeded");
        assert!(
            stderr(&output).contains("check --nats-user and --nats-password"),
            "{what}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("not-the-password"),
            "{what}: the password is never printed: {}",
            stderr(&output)
        );
    }
    let half = run(dead_letters(&url).args(["--nats-user", "upline-worker"]));
    assert!(!half.status.success());
    assert!(
        stderr(&half).contains("--nats-user needs --nats-password"),
        "{}",
        stderr(&half)
    );
}
