//! `upline migrate` against a real Cassandra node: the keyspaces and tables it creates, a
//! second run that changes nothing, two processes at once, and a migration edited after it
//! shipped.

mod common;

use common::cassandra::{node, unique_prefix, DATACENTER};
use std::collections::BTreeSet;
use std::process::{Command, Output};
use store::scylla::schema::{Scope, MIGRATIONS};
use store::scylla::{connect, ScyllaConfig};

const REGIONS: [&str; 2] = ["us-east", "eu-west"];

fn migrate(prefix: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["migrate", "--scylla-nodes", node(), "--region", "us-east"])
        .args(["--replication-factor", "1", "--keyspace-prefix", prefix])
        .arg("--datacenter")
        .arg(
            REGIONS
                .iter()
                .map(|region| format!("{region}={DATACENTER}"))
                .collect::<Vec<_>>()
                .join(","),
        );
    command
}

fn config(prefix: &str) -> ScyllaConfig {
    ScyllaConfig {
        nodes: vec![node().to_string()],
        region: "us-east".into(),
        datacenters: REGIONS
            .iter()
            .map(|region| (region.to_string(), DATACENTER.to_string()))
            .collect(),
        replication_factor: 1,
        keyspace_prefix: prefix.into(),
        credentials: None,
        tls: None,
    }
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "upline migrate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The tables each keyspace must have: every `CREATE TABLE` of its scope, and the record.
fn expected_tables(scope: Scope) -> BTreeSet<String> {
    let mut tables: BTreeSet<String> = MIGRATIONS
        .iter()
        .filter(|migration| migration.scope == scope)
        .flat_map(|migration| migration.statements.iter())
        .filter_map(|statement| {
            let name = statement.split_whitespace().nth(5)?;
            Some(name.split('.').nth(1)?.trim_end_matches('(').to_string())
        })
        .collect();
    tables.insert("schema_migrations".into());
    tables
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Tables of a keyspace and the (version, state) rows of its record, read from the node.
fn read_keyspace(prefix: &str, keyspace: &str) -> (BTreeSet<String>, Vec<(i32, String)>) {
    runtime().block_on(async {
        let session = connect(&config(prefix)).await.expect("connects");
        let tables = store::scylla::testing::tables(&session, keyspace)
            .await
            .into_iter()
            .collect();
        let mut record: Vec<(i32, String)> = session
            .query_unpaged(
                format!("SELECT version, state FROM {keyspace}.schema_migrations"),
                (),
            )
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .rows::<(i32, String)>()
            .unwrap()
            .map(|row| row.unwrap())
            .collect();
        record.sort();
        (tables, record)
    })
}

fn versions(scope: Scope) -> Vec<(i32, String)> {
    MIGRATIONS
        .iter()
        .filter(|migration| migration.scope == scope)
        .map(|migration| (migration.version as i32, "applied".to_string()))
        .collect()
}

fn migrations_per_run() -> usize {
    let global = MIGRATIONS
        .iter()
        .filter(|m| m.scope == Scope::Global)
        .count();
    let regional = MIGRATIONS.len() - global;
    global + regional * REGIONS.len()
}

#[test]
fn migrate_creates_every_table_once_and_a_second_run_changes_nothing() {
    let prefix = unique_prefix("twice");
    let first = stdout(&migrate(&prefix).output().unwrap());
    assert!(
        first.contains(&format!(
            "{} migrations applied, 0 already applied",
            migrations_per_run()
        )),
        "{first}"
    );
    let second = stdout(&migrate(&prefix).output().unwrap());
    assert!(
        second.contains(&format!(
            "0 migrations applied, {} already applied",
            migrations_per_run()
        )),
        "{second}"
    );
    let config = config(&prefix);
    let (tables, record) = read_keyspace(&prefix, &config.global_keyspace());
    assert_eq!(tables, expected_tables(Scope::Global));
    assert_eq!(record, versions(Scope::Global));
    for region in REGIONS {
        let (tables, record) = read_keyspace(&prefix, &config.regional_keyspace(region));
        assert_eq!(tables, expected_tables(Scope::Regional), "{region}");
        assert_eq!(record, versions(Scope::Regional), "{region}");
    }
}

#[test]
fn two_processes_at_once_apply_each_migration_exactly_once() {
    let prefix = unique_prefix("race");
    // Both are started before either is waited for, so that they overlap.
    let children: Vec<_> = (0..2)
        .map(|_| {
            migrate(&prefix)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|child| stdout(&child.wait_with_output().unwrap()))
        .collect();
    let applied_lines: Vec<&str> = outputs
        .iter()
        .flat_map(|output| output.lines())
        .filter(|line| line.starts_with("applied "))
        .collect();
    let distinct: BTreeSet<&str> = applied_lines.iter().copied().collect();
    assert_eq!(
        applied_lines.len(),
        distinct.len(),
        "a migration was applied by both processes: {outputs:?}"
    );
    assert_eq!(applied_lines.len(), migrations_per_run(), "{outputs:?}");
    let config = config(&prefix);
    for keyspace in [
        config.global_keyspace(),
        config.regional_keyspace("eu-west"),
    ] {
        let (tables, record) = read_keyspace(&prefix, &keyspace);
        let scope = if keyspace == config.global_keyspace() {
            Scope::Global
        } else {
            Scope::Regional
        };
        assert_eq!(tables, expected_tables(scope), "{keyspace}");
        assert_eq!(record, versions(scope), "{keyspace}");
    }
}

#[test]
fn a_migration_changed_after_it_was_applied_is_refused() {
    let prefix = unique_prefix("edited");
    stdout(&migrate(&prefix).output().unwrap());
    let keyspace = config(&prefix).regional_keyspace("us-east");
    runtime().block_on(async {
        let session = connect(&config(&prefix)).await.unwrap();
        session
            .query_unpaged(
                format!(
                    "UPDATE {keyspace}.schema_migrations SET checksum = 'edited' WHERE version = 3"
                ),
                (),
            )
            .await
            .unwrap();
    });
    let output = migrate(&prefix).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&format!(
            "{keyspace}: migration 3 (orders and period volumes) was applied with other statements"
        )) && message.contains("must never change"),
        "{message}"
    );
}

#[test]
fn a_bad_datacenter_mapping_is_refused_before_connecting() {
    // Port 1 never answers: the refusals below come before any connection attempt.
    let refusal = |region: &str, datacenters: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_upline"))
            .args([
                "migrate",
                "--scylla-nodes",
                "127.0.0.1:1",
                "--region",
                region,
            ])
            .args(["--datacenter", datacenters])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let message = refusal("us-east", "us-east");
    assert!(
        message.contains("--datacenter \"us-east\": expected REGION=DATACENTER"),
        "{message}"
    );
    let message = refusal("ap-southeast", "us-east=dc1");
    assert!(
        message.contains("region \"ap-southeast\" has no datacenter"),
        "{message}"
    );
}

#[test]
fn the_drivers_warnings_reach_standard_error_and_upline_log_filters_them() {
    // Port 1 never answers: the driver warns that it cannot reach the node, then migrate fails.
    let run = |log: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
        command
            .args([
                "migrate",
                "--scylla-nodes",
                "127.0.0.1:1",
                "--region",
                "us-east",
            ])
            .args(["--datacenter", "us-east=dc1"])
            .env_remove("UPLINE_LOG");
        if let Some(directives) = log {
            command.env("UPLINE_LOG", directives);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let refused = "upline migrate: cannot connect to 127.0.0.1:1";
    let by_default = run(None);
    assert!(by_default.contains(refused), "{by_default}");
    assert!(
        by_default
            .lines()
            .any(|line| line.contains("WARN") && line.contains("scylla::")),
        "the driver's warning is missing: {by_default}"
    );
    assert!(!by_default.contains("DEBUG"), "{by_default}");
    let silenced = run(Some("off"));
    assert_eq!(silenced.lines().count(), 1, "{silenced}");
    assert!(silenced.contains(refused), "{silenced}");
    let verbose = run(Some("scylla=debug"));
    assert!(verbose.contains("DEBUG"), "{verbose}");
}
