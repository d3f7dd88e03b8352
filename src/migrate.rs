//! `upline migrate`: create the ScyllaDB keyspaces and apply the schema migrations.

use crate::serve::run_command;
use crate::store_args::ScyllaArgs;
use std::process::ExitCode;
use store::scylla::{connect, migrate};

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
    #[command(flatten)]
    pub cluster: ScyllaArgs,
    /// Replicas per datacenter, when a keyspace is created.
    #[arg(
        long,
        value_name = "N",
        env = "UPLINE_REPLICATION_FACTOR",
        default_value_t = 3
    )]
    pub replication_factor: u32,
}

pub fn main(args: MigrateArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    run_command("migrate", async move {
        let config = args.cluster.config(args.replication_factor)?;
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
