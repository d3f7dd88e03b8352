//! The ScyllaDB backend (production) — Apache Cassandra 5.0 in tests, which speaks the same
//! CQL. This module holds the connection and the schema migrations; the storage traits follow.
//!
//! Geo-sharding: one keyspace per region, replicated only in that region's datacenter, holds
//! the personal data and orders of the distributors residing there; one global keyspace,
//! replicated in every region's datacenter, holds tenants, API keys and plans. Requests run
//! at LOCAL_QUORUM (LOCAL_SERIAL for conditional writes), routed token-aware to replicas in
//! the local datacenter, never failing over to another region's.

mod migrate;
pub mod schema;

pub use migrate::{migrate, MigrationReport};

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::{Consistency, SerialConsistency};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a deployment's data lives and how it is reached.
#[derive(Clone, Debug)]
pub struct ScyllaConfig {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    /// The region this process serves; its datacenter is the local one.
    pub region: String,
    /// Region name → datacenter name, for every region of the deployment (configuration:
    /// NetworkTopologyStrategy refuses datacenter names the cluster does not know).
    pub datacenters: BTreeMap<String, String>,
    /// Replicas per datacenter.
    pub replication_factor: u32,
    /// Prepended to keyspace names; tests use a unique one each.
    pub keyspace_prefix: String,
}

impl ScyllaConfig {
    /// The local datacenter: the one of `region`.
    pub fn local_datacenter(&self) -> Result<&str, String> {
        self.datacenters
            .get(&self.region)
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "region {:?} has no datacenter; map it with --datacenter {}=DC",
                    self.region, self.region
                )
            })
    }

    /// The keyspace of tenants, API keys and plans.
    pub fn global_keyspace(&self) -> String {
        format!("{}global", self.keyspace_prefix)
    }

    /// The keyspace of the distributors residing in `region`.
    pub fn regional_keyspace(&self, region: &str) -> String {
        let name: String = region
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}region_{name}", self.keyspace_prefix)
    }
}

/// Opens a session: token-aware and datacenter-aware routing to the local datacenter,
/// LOCAL_QUORUM, LOCAL_SERIAL for conditional writes.
pub async fn connect(config: &ScyllaConfig) -> Result<Session, String> {
    let local = config.local_datacenter()?.to_string();
    let policy = DefaultPolicy::builder()
        .prefer_datacenter(local)
        .token_aware(true)
        .permit_dc_failover(false)
        .build();
    let profile = ExecutionProfile::builder()
        .consistency(Consistency::LocalQuorum)
        .serial_consistency(Some(SerialConsistency::LocalSerial))
        .load_balancing_policy(policy)
        .request_timeout(Some(Duration::from_secs(15)))
        .build();
    SessionBuilder::new()
        .known_nodes(&config.nodes)
        .default_execution_profile_handle(profile.into_handle())
        .build()
        .await
        .map_err(|error| {
            format!(
                "cannot connect to {}: {error} (is the cluster up? check --scylla-nodes)",
                config.nodes.join(",")
            )
        })
}
