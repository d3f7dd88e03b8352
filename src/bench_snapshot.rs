//! `upline bench snapshot`: how long a close takes to read a tenant's period snapshot — its
//! genealogy (every distributor, a page at a time, as `distributors.csv`) and the period's
//! volumes — through the storage traits, as the close itself reads them.

use crate::store_args::StoreArgs;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use store::Store;

#[derive(clap::Args, Debug)]
pub struct SnapshotBench {
    /// The tenant whose snapshot is read (e.g. one made by `upline load`).
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// The period read, `YYYY-MM` (or an ISO week, `YYYY-Www`).
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// Reads measured (the best and the worst are reported).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: u32,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn main(bench: SnapshotBench) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    crate::serve::run_command("bench snapshot", run(bench))
}

/// One read of the snapshot.
struct Read {
    distributors: usize,
    volumes: usize,
    elapsed: Duration,
}

async fn run(bench: SnapshotBench) -> Result<(), String> {
    if bench.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let store = api::server::open_store(&bench.store.choice()?).await?;
    let tenant = store
        .tenant(&bench.tenant)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("tenant {:?} does not exist", bench.tenant))?;
    // The legs are written as the tenant's plan has them, as its close would.
    let binary = api::runtime::compile_plan(&tenant.plan)
        .map_err(|error| error.to_string())?
        .binary
        .is_some();
    let mut reads = Vec::new();
    for run in 1..=bench.runs {
        let read = read_snapshot(&*store, &bench.tenant, &bench.period, binary).await?;
        eprintln!(
            "read {run}: {} distributors and {} volumes in {:.2} s",
            read.distributors,
            read.volumes,
            read.elapsed.as_secs_f64()
        );
        reads.push(read);
    }
    let best = reads
        .iter()
        .map(|read| read.elapsed)
        .min()
        .unwrap_or_default();
    let worst = reads
        .iter()
        .map(|read| read.elapsed)
        .max()
        .unwrap_or_default();
    let rows = reads[0].distributors + reads[0].volumes;
    println!(
        "snapshot of {:?} {}: {} rows; best {:.2} s ({:.0} rows/s), worst {:.2} s, {} reads",
        bench.tenant,
        bench.period,
        rows,
        best.as_secs_f64(),
        rows as f64 / best.as_secs_f64().max(1e-9),
        worst.as_secs_f64(),
        reads.len()
    );
    Ok(())
}

async fn read_snapshot(
    store: &dyn Store,
    tenant_id: &str,
    period: &str,
    binary: bool,
) -> Result<Read, String> {
    let started = Instant::now();
    let snapshot = api::runs::compute::read_snapshot(store, tenant_id, period, binary).await?;
    Ok(Read {
        distributors: snapshot.distributors.rows(),
        volumes: snapshot.volumes.len(),
        elapsed: started.elapsed(),
    })
}
