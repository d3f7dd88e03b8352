//! The one real Cassandra node of a test run and unique keyspace prefixes: the store's test
//! support (`store::scylla::testing`), shared with the store's and the API's tests; and a
//! deployment of one's own on it for the binary's commands.
#![allow(unused_imports)]

pub use store::scylla::testing::{node, unique_prefix, DATACENTER};

/// Keyspaces of a test's own (global and `region`'s) on the node, migrated with `upline
/// migrate`; returns their prefix.
pub fn migrated_prefix(label: &str, region: &str) -> String {
    let prefix = unique_prefix(label);
    migrate(&prefix, region);
    prefix
}

/// Migrates the global keyspace under `prefix` and `region`'s.
pub fn migrate(prefix: &str, region: &str) {
    let migrated = std::process::Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(["migrate", "--scylla-nodes", node(), "--region", region])
        .args(["--replication-factor", "1", "--keyspace-prefix", prefix])
        .args(["--datacenter", &format!("{region}={DATACENTER}")])
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
}

/// The arguments that put `upline serve`/`worker` of `region` on the keyspaces under `prefix`.
pub fn store_arguments(prefix: &str, region: &str) -> Vec<String> {
    let mut arguments = vec!["--region".to_owned(), region.to_owned()];
    arguments.extend(scylla_arguments(prefix, region));
    arguments
}

/// [`store_arguments`] without `--region` (for a command given it already).
pub fn scylla_arguments(prefix: &str, region: &str) -> Vec<String> {
    [
        "--store",
        "scylla",
        "--scylla-nodes",
        node(),
        "--datacenter",
        &format!("{region}={DATACENTER}"),
        "--keyspace-prefix",
        prefix,
    ]
    .map(str::to_owned)
    .to_vec()
}
