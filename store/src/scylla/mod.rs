//! The ScyllaDB backend (production) — Apache Cassandra 5.0 in tests, which speaks the same
//! CQL: the connection, the schema migrations and [`ScyllaStore`], every storage trait on it.
//!
//! Each table module (`tenants`, `distributors`, `profiles`, `orders`, `volumes`, `runs`,
//! `ledger`, `outbox`) prepares its statements once, when the store opens, and implements its
//! trait;
//! `events` is how a change and its outbox event stay together without multi-partition
//! transactions; `cql` is the vocabulary they share.
//!
//! Geo-sharding: one keyspace per region, replicated only in that region's datacenter, holds
//! the profiles (personal data) of the distributors residing there, wherever their tenant is
//! served, and the other rows of the tenants the region serves; one global keyspace,
//! replicated in every region's datacenter, holds tenants, API keys and plans. Requests run
//! at LOCAL_QUORUM (LOCAL_SERIAL for conditional writes), routed token-aware to replicas in
//! the local datacenter, never failing over to another region's (a profile of another region
//! goes through that region's datacenter).

mod bulk;
mod claims;
mod cql;
mod distributors;
mod events;
mod handshake;
mod job_leases;
mod lease;
mod ledger;
mod migrate;
mod orders;
mod outbox;
mod profiles;
mod runs;
pub mod schema;
mod tenants;
pub mod testing;
mod volumes;

pub use bulk::RowsWritten;
pub use lease::LeaseTiming;
pub use migrate::{migrate, MigrationReport};

use std::sync::Arc;

/// The bucket of a partition that holds `id` (distributors, profiles, orders, statements): for
/// tests and tools that read the tables themselves.
pub fn bucket_of(id: &str) -> i16 {
    cql::bucket(id)
}

/// Every storage trait on a ScyllaDB (or Cassandra) cluster: tenants and keys in the global
/// keyspace, everything else in the keyspace of the region this process serves.
pub struct ScyllaStore {
    session: Arc<Session>,
    tenants: tenants::TenantStatements,
    distributors: distributors::DistributorStatements,
    profiles: profiles::ProfileStatements,
    orders: orders::OrderStatements,
    volumes: volumes::VolumeStatements,
    runs: runs::RunStatements,
    ledger: ledger::LedgerStatements,
    outbox: outbox::Outbox,
    bulk: bulk::BulkStatements,
    key_locks: orders::StripedLocks,
    /// This store's order-writer leases (see `lease`).
    leases: Arc<lease::OrderWriterLeases>,
    /// Job leases (see `job_leases`).
    job_leases: job_leases::JobLeaseStatements,
    /// Order-id claims under the leases (see `claims`).
    claims: claims::OrderClaims,
}

impl ScyllaStore {
    /// Connects and prepares every statement. The schema must be there: run `upline migrate`
    /// first (a missing table is reported as such).
    pub async fn open(config: &ScyllaConfig) -> Result<ScyllaStore, String> {
        Self::open_with(config, LeaseTiming::default()).await
    }

    /// [`Self::open`] with the order-writer leases timed as given (tests shorten them).
    pub async fn open_with(
        config: &ScyllaConfig,
        timing: LeaseTiming,
    ) -> Result<ScyllaStore, String> {
        let session = connect(config).await?;
        let global = config.global_keyspace();
        let regional = config.regional_keyspace(&config.region);
        let not_migrated = |error: String| {
            format!(
                "{error}\n(is the schema there? run `upline migrate` with the same --scylla-nodes, \
                 --region and --keyspace-prefix first)"
            )
        };
        let outbox = outbox::Outbox::prepare(&session, &regional)
            .await
            .map_err(not_migrated)?;
        let orders =
            orders::OrderStatements::prepare(&session, &regional, outbox.insert_statement())
                .await
                .map_err(not_migrated)?;
        let session = Arc::new(session);
        let leases = Arc::new(
            lease::OrderWriterLeases::prepare(
                Arc::clone(&session),
                &regional,
                migrate::owner_name(),
                timing,
            )
            .await
            .map_err(not_migrated)?,
        );
        let (insert_order, select_order_id) = orders.claim_statements();
        let claims = claims::OrderClaims::new(
            Arc::clone(&session),
            insert_order,
            select_order_id,
            Arc::clone(&leases),
            timing,
        );
        Ok(ScyllaStore {
            tenants: tenants::TenantStatements::prepare(&session, &global)
                .await
                .map_err(not_migrated)?,
            distributors: distributors::DistributorStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            profiles: profiles::ProfileStatements::prepare(&session, config)
                .await
                .map_err(not_migrated)?,
            volumes: volumes::VolumeStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            runs: runs::RunStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            ledger: ledger::LedgerStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            orders,
            outbox,
            bulk: bulk::BulkStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            key_locks: orders::StripedLocks::new(),
            job_leases: job_leases::JobLeaseStatements::prepare(&session, &regional)
                .await
                .map_err(not_migrated)?,
            leases,
            claims,
            session,
        })
    }
}

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
    /// The role this process logs in as, where the cluster authenticates (PasswordAuthenticator).
    pub credentials: Option<ScyllaCredentials>,
    /// TLS to the nodes, where they require it ([`crate::tls::TlsFiles::client_config`]). The
    /// driver names each node by its IP address, so their certificates must carry it.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// A role's name and password.
#[derive(Clone)]
pub struct ScyllaCredentials {
    pub username: String,
    pub password: String,
}

/// Never printed: the password stays out of logs and error messages.
impl std::fmt::Debug for ScyllaCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "ScyllaCredentials({:?}, ***)", self.username)
    }
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
    let local = config.local_datacenter()?;
    let mut builder = SessionBuilder::new()
        .known_nodes(&config.nodes)
        .default_execution_profile_handle(routed_to(local).into_handle());
    if let Some(credentials) = &config.credentials {
        builder = builder.user(&credentials.username, &credentials.password);
    }
    if let Some(tls) = &config.tls {
        builder = builder.tls_context(Some(tls.clone()));
    }
    let error = match builder.build().await {
        Ok(session) => return Ok(session),
        Err(error) => error.to_string(),
    };
    let refusal = match &config.tls {
        Some(tls) => handshake::tls_refusal(&config.nodes, tls).await,
        None => None,
    };
    let (reason, hint) = match refusal {
        Some(refusal) => (
            refusal,
            "check --scylla-ca, --scylla-cert and --scylla-key against the nodes' TLS settings",
        ),
        None if error.to_lowercase().contains("authenticat") => {
            (error, "check --scylla-username and --scylla-password")
        }
        None => (
            error,
            "is the cluster up? check --scylla-nodes; where the nodes require TLS, --scylla-ca (and --scylla-cert with --scylla-key where they verify clients)",
        ),
    };
    Err(format!(
        "cannot connect to {}: {reason} ({hint})",
        config.nodes.join(",")
    ))
}

/// Requests through `datacenter` alone, token-aware, never failing over to another: with
/// LOCAL_QUORUM and LOCAL_SERIAL they are that datacenter's region's quorum.
pub(super) fn routed_to(datacenter: &str) -> ExecutionProfile {
    let policy = DefaultPolicy::builder()
        .prefer_datacenter(datacenter.to_string())
        .token_aware(true)
        .permit_dc_failover(false)
        .build();
    ExecutionProfile::builder()
        .consistency(Consistency::LocalQuorum)
        .serial_consistency(Some(SerialConsistency::LocalSerial))
        .load_balancing_policy(policy)
        .request_timeout(Some(Duration::from_secs(15)))
        .build()
}
