//! The command-line options that say where the data is: [`StoreArgs`] (the embedded store's
//! directory or a ScyllaDB deployment: `upline serve`, `upline load`, `upline bench snapshot`)
//! and [`ScyllaArgs`], the deployment alone (`upline migrate`).

use api::server::StoreChoice;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use store::scylla::{ScyllaConfig, ScyllaCredentials};
use store::tls::ClientConfig;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum StoreKind {
    Embedded,
    Scylla,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Where the data lives: `embedded` (the --data directory) or `scylla` (--scylla-nodes,
    /// --region, --datacenter; migrated beforehand with `upline migrate`).
    #[arg(long, value_enum, env = "UPLINE_STORE", default_value = "embedded")]
    pub store: StoreKind,
    #[command(flatten)]
    pub cluster: ScyllaArgs,
    /// The data directory (created if missing): the embedded store's, and where `upline
    /// serve` writes a generated admin token on either store.
    #[arg(
        long,
        value_name = "DIR",
        env = "UPLINE_DATA",
        default_value = "upline-data"
    )]
    pub data: PathBuf,
}

impl StoreArgs {
    /// The store the arguments name, checked before anything opens.
    pub fn choice(&self) -> Result<StoreChoice, String> {
        Ok(match self.store {
            StoreKind::Embedded => StoreChoice::Embedded(self.data.clone()),
            // The replication factor is migrate's business; the others only use the keyspaces.
            StoreKind::Scylla => StoreChoice::Scylla(self.cluster.config(1)?),
        })
    }

    /// The region this process serves: `--region`, or `local` where there are no regions (the
    /// embedded store). It names the region's streams on NATS.
    pub fn region_or_local(&self) -> String {
        self.cluster
            .region
            .clone()
            .unwrap_or_else(|| "local".into())
    }

    pub fn describe(&self) -> String {
        match self.store {
            StoreKind::Embedded => format!("data in {}", self.data.display()),
            StoreKind::Scylla => format!(
                "ScyllaDB at {}, region {}",
                self.cluster.scylla_nodes.join(","),
                self.cluster.region.as_deref().unwrap_or("?")
            ),
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct ScyllaArgs {
    /// Contact points of the ScyllaDB cluster, `HOST:PORT,…`.
    #[arg(
        long,
        value_name = "HOST:PORT,...",
        env = "UPLINE_SCYLLA_NODES",
        value_delimiter = ','
    )]
    pub scylla_nodes: Vec<String>,
    /// The region this process runs in: its datacenter is the local one for routing, and its
    /// keyspace holds the data of the distributors residing there.
    #[arg(long, value_name = "NAME", env = "UPLINE_REGION")]
    pub region: Option<String>,
    /// A region and its datacenter, `REGION=DATACENTER`; repeat for every region of the
    /// deployment (e.g. `--datacenter us-east=dc-us-east --datacenter eu-west=dc-eu-west`).
    /// NetworkTopologyStrategy refuses datacenter names the cluster does not know.
    #[arg(
        long = "datacenter",
        value_name = "REGION=DC",
        env = "UPLINE_DATACENTERS",
        value_delimiter = ','
    )]
    pub datacenters: Vec<String>,
    /// Prepended to every keyspace name (`upline_global`, `upline_region_us_east`, …).
    #[arg(long, value_name = "PREFIX", default_value = "upline_")]
    pub keyspace_prefix: String,
    /// The role to log in as, where the cluster authenticates (PasswordAuthenticator); with
    /// --scylla-password.
    #[arg(long, value_name = "ROLE", env = "UPLINE_SCYLLA_USERNAME")]
    pub scylla_username: Option<String>,
    /// The role's password (better given by the environment than on a command line).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "UPLINE_SCYLLA_PASSWORD",
        hide_env_values = true
    )]
    pub scylla_password: Option<String>,
    /// The certificate authorities (PEM) that sign the nodes' certificates: connect with TLS,
    /// trusting them alone. The driver names each node by its IP address, which the nodes'
    /// certificates must therefore carry. The TLS files are checked at start and read again
    /// for every new connection, so certificates renewed in place are used without a restart
    /// (while renewed files that cannot be used leave the last good ones in use, with a
    /// warning).
    #[arg(long, value_name = "FILE", env = "UPLINE_SCYLLA_CA")]
    pub scylla_ca: Option<PathBuf>,
    /// The client certificate (PEM, with its chain) shown to nodes that verify their clients
    /// (`require_client_auth`); with --scylla-key and --scylla-ca.
    #[arg(
        long,
        value_name = "FILE",
        env = "UPLINE_SCYLLA_CERT",
        requires_all = ["scylla_key", "scylla_ca"]
    )]
    pub scylla_cert: Option<PathBuf>,
    /// The private key (PEM) of --scylla-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "UPLINE_SCYLLA_KEY",
        requires = "scylla_cert"
    )]
    pub scylla_key: Option<PathBuf>,
}

impl ScyllaArgs {
    fn credentials(&self) -> Result<Option<ScyllaCredentials>, String> {
        match (&self.scylla_username, &self.scylla_password) {
            (Some(username), Some(password)) => Ok(Some(ScyllaCredentials {
                username: username.clone(),
                password: password.clone(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("--scylla-username needs --scylla-password (or UPLINE_SCYLLA_PASSWORD)".into())
            }
            (None, Some(_)) => {
                Err("--scylla-password needs --scylla-username (or UPLINE_SCYLLA_USERNAME)".into())
            }
        }
    }

    /// The TLS configuration of --scylla-ca, --scylla-cert and --scylla-key, its files checked;
    /// none without an authority.
    fn tls(&self) -> Result<Option<Arc<ClientConfig>>, String> {
        if self.scylla_ca.is_none() {
            return Ok(None);
        }
        crate::tls_flags::files(&self.scylla_ca, &self.scylla_cert, &self.scylla_key)
            .client_config()
            .map(Some)
            .map_err(|problem| crate::tls_flags::problem_message("scylla", &problem))
    }

    /// The deployment, checked before anything connects.
    pub fn config(&self, replication_factor: u32) -> Result<ScyllaConfig, String> {
        if self.scylla_nodes.is_empty() {
            return Err("--scylla-nodes HOST:PORT,... is required (or UPLINE_SCYLLA_NODES)".into());
        }
        let region = self
            .region
            .clone()
            .ok_or("--region NAME is required (or UPLINE_REGION)")?;
        if self.datacenters.is_empty() {
            return Err(format!(
                "--datacenter REGION=DC is required: map at least {region}=DATACENTER"
            ));
        }
        let mut datacenters = BTreeMap::new();
        for pair in &self.datacenters {
            let (region, datacenter) = pair
                .split_once('=')
                .filter(|(region, datacenter)| !region.is_empty() && !datacenter.is_empty())
                .ok_or_else(|| {
                    format!("--datacenter {pair:?}: expected REGION=DATACENTER, e.g. us-east=dc1")
                })?;
            datacenters.insert(region.to_string(), datacenter.to_string());
        }
        if !self
            .keyspace_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "--keyspace-prefix {:?}: use letters, digits and underscores only",
                self.keyspace_prefix
            ));
        }
        let config = ScyllaConfig {
            nodes: self.scylla_nodes.clone(),
            region,
            datacenters,
            replication_factor,
            keyspace_prefix: self.keyspace_prefix.clone(),
            credentials: self.credentials()?,
            tls: self.tls()?,
        };
        config.local_datacenter()?;
        Ok(config)
    }
}
