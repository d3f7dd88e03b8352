//! `upline migrate`: create the ScyllaDB keyspaces and apply the schema migrations.

use crate::serve::run_command;
use std::collections::BTreeMap;
use std::process::ExitCode;
use store::scylla::{connect, migrate, ScyllaConfig};

#[derive(clap::Args, Debug)]
#[command(
    about = "Create the ScyllaDB keyspaces (global and one per region) and apply the schema migrations",
    long_about = "Create the ScyllaDB keyspaces and apply every schema migration they are missing \
        (docs/data-model.md).\n\n\
        The global keyspace (tenants, API keys, plans) is replicated in the datacenter of every region \
        given with --datacenter; each region's keyspace (its residents' personal data, orders, volumes, \
        runs, ledger, outbox) only in its own. Safe to run twice and from several processes at once: \
        each migration is claimed with a lightweight transaction and applied once; the others wait. \
        Works on Apache Cassandra 5.0 as well (the tests' CQL server)."
)]
pub struct MigrateArgs {
    /// Contact points of the cluster, `HOST:PORT,…`.
    #[arg(
        long,
        value_name = "HOST:PORT,...",
        env = "UPLINE_SCYLLA_NODES",
        value_delimiter = ',',
        required = true
    )]
    pub scylla_nodes: Vec<String>,
    /// The region this process runs in: its datacenter is the local one for routing.
    #[arg(long, value_name = "NAME", env = "UPLINE_REGION")]
    pub region: String,
    /// A region and its datacenter, `REGION=DATACENTER`; repeat for every region of the
    /// deployment (e.g. `--datacenter us-east=dc-us-east --datacenter eu-west=dc-eu-west`).
    /// NetworkTopologyStrategy refuses datacenter names the cluster does not know.
    #[arg(
        long = "datacenter",
        value_name = "REGION=DC",
        env = "UPLINE_DATACENTERS",
        value_delimiter = ',',
        required = true
    )]
    pub datacenters: Vec<String>,
    /// Replicas per datacenter.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub replication_factor: u32,
    /// Prepended to every keyspace name (`upline_global`, `upline_region_us_east`, …).
    #[arg(long, value_name = "PREFIX", default_value = "upline_")]
    pub keyspace_prefix: String,
}

impl MigrateArgs {
    pub fn config(&self) -> Result<ScyllaConfig, String> {
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
            region: self.region.clone(),
            datacenters,
            replication_factor: self.replication_factor,
            keyspace_prefix: self.keyspace_prefix.clone(),
        };
        config.local_datacenter()?;
        Ok(config)
    }
}

pub fn main(args: MigrateArgs) -> ExitCode {
    run_command("migrate", async move {
        let config = args.config()?;
        let session = connect(&config).await?;
        let report = migrate(&session, &config).await?;
        for (keyspace, version, name) in &report.applied {
            println!("applied {keyspace} {version:>3} {name}");
        }
        println!(
            "{} migrations applied, {} already applied",
            report.applied.len(),
            report.already_applied
        );
        Ok(())
    })
}
