//! `upline migrate`: the versioned schema, applied once per keyspace, safely twice and from
//! several processes at once.
//!
//! Each keyspace records its migrations in `schema_migrations`. A process claims a version
//! with a lightweight transaction (`INSERT … IF NOT EXISTS`, with a TTL so that the claim of
//! a process that died lapses), runs its statements — all `IF NOT EXISTS`, so a half-applied
//! migration can be run again — waits for schema agreement, and marks it applied (`IF owner
//! = me`). Another process that finds the claim waits until the version is applied. A
//! migration whose statements changed after it was applied is refused: migrations never
//! change once shipped.

use super::schema::{Migration, Scope, MIGRATIONS};
use super::ScyllaConfig;
use scylla::client::session::Session;
use scylla::statement::{Consistency, Statement};
use scylla::value::{CqlValue, Row};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a claim on a version lasts unless its owner marks the version applied.
const CLAIM_SECONDS: u32 = 60;
/// How often a process waiting for another's migration looks again.
const WAIT_STEP: Duration = Duration::from_millis(250);

/// What a `migrate` did.
#[derive(Debug, Default)]
pub struct MigrationReport {
    /// (keyspace, version, name) applied by this process, in order.
    pub applied: Vec<(String, u32, &'static str)>,
    /// Versions found applied already (by an earlier run or another process).
    pub already_applied: usize,
}

/// Creates the keyspaces of `config` (the global one and one per configured region) and
/// applies every migration each is missing.
pub async fn migrate(session: &Session, config: &ScyllaConfig) -> Result<MigrationReport, String> {
    let owner = owner_name();
    let mut report = MigrationReport::default();
    let datacenters: BTreeSet<&str> = config.datacenters.values().map(String::as_str).collect();
    let global = config.global_keyspace();
    create_keyspace(session, &global, &datacenters, config.replication_factor).await?;
    let mut keyspaces = vec![(global.clone(), Scope::Global)];
    for (region, datacenter) in &config.datacenters {
        let keyspace = config.regional_keyspace(region);
        let only_its_own = BTreeSet::from([datacenter.as_str()]);
        create_keyspace(session, &keyspace, &only_its_own, config.replication_factor).await?;
        keyspaces.push((keyspace, Scope::Regional));
    }
    for (keyspace, scope) in &keyspaces {
        run(
            session,
            &format!(
                "CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations (
                    version int PRIMARY KEY, name text, checksum text, state text,
                    owner text, applied_at_ms bigint)"
            ),
        )
        .await?;
        agree(session).await?;
        for migration in MIGRATIONS
            .iter()
            .filter(|migration| migration.scope == *scope)
        {
            let statements = statements_of(migration, &global, keyspace);
            if apply(session, keyspace, migration, &statements, &owner).await? {
                report
                    .applied
                    .push((keyspace.clone(), migration.version, migration.name));
            } else {
                report.already_applied += 1;
            }
        }
    }
    Ok(report)
}

async fn create_keyspace(
    session: &Session,
    keyspace: &str,
    datacenters: &BTreeSet<&str>,
    replication_factor: u32,
) -> Result<(), String> {
    let replicas: Vec<String> = datacenters
        .iter()
        .map(|datacenter| format!("'{datacenter}': {replication_factor}"))
        .collect();
    run(
        session,
        &format!(
            "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = \
             {{'class': 'NetworkTopologyStrategy', {}}}",
            replicas.join(", ")
        ),
    )
    .await?;
    agree(session).await
}

/// The statements of `migration` with the deployment's keyspace names in place.
fn statements_of(migration: &Migration, global: &str, regional: &str) -> Vec<String> {
    migration
        .statements
        .iter()
        .map(|statement| {
            statement
                .replace("{global}", global)
                .replace("{regional}", regional)
        })
        .collect()
}

/// Applies one migration unless it is applied already; true when this process applied it.
async fn apply(
    session: &Session,
    keyspace: &str,
    migration: &Migration,
    statements: &[String],
    owner: &str,
) -> Result<bool, String> {
    let checksum = checksum(migration);
    loop {
        match recorded(session, keyspace, migration.version).await? {
            Some((state, recorded_checksum)) if state == "applied" => {
                if recorded_checksum != checksum {
                    return Err(format!(
                        "{keyspace}: migration {} ({}) was applied with other statements \
                         (checksum {recorded_checksum}, now {checksum}); a shipped migration \
                         must never change — add a new one instead",
                        migration.version, migration.name
                    ));
                }
                return Ok(false);
            }
            // Another process holds the claim: wait for it to finish or its claim to lapse.
            Some(_) => tokio::time::sleep(WAIT_STEP).await,
            None => {
                let claim = format!(
                    "INSERT INTO {keyspace}.schema_migrations (version, name, checksum, state, owner) \
                     VALUES ({}, ?, ?, 'applying', ?) IF NOT EXISTS USING TTL {CLAIM_SECONDS}",
                    migration.version
                );
                if !conditional(session, &claim, (migration.name, &checksum, owner)).await? {
                    continue;
                }
                for statement in statements {
                    run(session, statement).await?;
                }
                agree(session).await?;
                let done = format!(
                    "UPDATE {keyspace}.schema_migrations USING TTL 0 \
                     SET state = 'applied', name = ?, checksum = ?, owner = ?, applied_at_ms = ? \
                     WHERE version = {} IF owner = ?",
                    migration.version
                );
                let values = (migration.name, &checksum, owner, now_ms(), owner);
                if conditional(session, &done, values).await? {
                    return Ok(true);
                }
                // Our claim lapsed and another process took the version over; its run of
                // the same idempotent statements completes it.
            }
        }
    }
}

/// The recorded state and checksum of `version`, read at LOCAL_SERIAL so that a claim
/// committed by another process's transaction is seen.
async fn recorded(
    session: &Session,
    keyspace: &str,
    version: u32,
) -> Result<Option<(String, String)>, String> {
    let mut statement = Statement::new(format!(
        "SELECT state, checksum FROM {keyspace}.schema_migrations WHERE version = {version}"
    ));
    statement.set_consistency(Consistency::LocalSerial);
    let result = session
        .query_unpaged(statement, ())
        .await
        .map_err(|error| format!("{keyspace}.schema_migrations: {error}"))?;
    let rows = result
        .into_rows_result()
        .map_err(|error| format!("{keyspace}.schema_migrations: {error}"))?;
    let row = rows
        .maybe_first_row::<(Option<String>, Option<String>)>()
        .map_err(|error| format!("{keyspace}.schema_migrations: {error}"))?;
    Ok(row.map(|(state, checksum)| (state.unwrap_or_default(), checksum.unwrap_or_default())))
}

/// Runs a conditional statement; true when it applied.
async fn conditional(
    session: &Session,
    cql: &str,
    values: impl scylla::serialize::row::SerializeRow,
) -> Result<bool, String> {
    let result = session
        .query_unpaged(cql, values)
        .await
        .map_err(|error| format!("{}: {error}", first_words(cql)))?;
    let rows = result
        .into_rows_result()
        .map_err(|error| format!("{}: {error}", first_words(cql)))?;
    let row: Row = rows
        .first_row()
        .map_err(|error| format!("{}: {error}", first_words(cql)))?;
    Ok(matches!(
        row.columns.first(),
        Some(Some(CqlValue::Boolean(true)))
    ))
}

async fn run(session: &Session, cql: &str) -> Result<(), String> {
    session
        .query_unpaged(cql, ())
        .await
        .map(|_| ())
        .map_err(|error| format!("{}: {error}", first_words(cql)))
}

async fn agree(session: &Session) -> Result<(), String> {
    session
        .await_schema_agreement()
        .await
        .map(|_| ())
        .map_err(|error| format!("waiting for schema agreement: {error}"))
}

/// A stable digest of a migration's statements (FNV-1a, 64 bits): enough to notice an edit.
fn checksum(migration: &Migration) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for statement in migration.statements {
        for byte in statement.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Who claims a migration or holds a lease: this process (and, within it, each call: a
/// process may open several stores), unique enough across hosts and restarts.
pub(super) fn owner_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let call = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{host}-{}-{}-{call}", std::process::id(), now_ms())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// The start of a statement, for error messages.
fn first_words(cql: &str) -> String {
    let words: Vec<&str> = cql.split_whitespace().take(6).collect();
    words.join(" ")
}
