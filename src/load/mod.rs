//! `upline load`: a new tenant from files, at once — its plan, distributors, orders and the
//! period volumes they make — into the embedded store or ScyllaDB.
//!
//! `input` reads and checks the files, `volumes` folds the orders into period volumes, and
//! `writers` stores them: through the storage traits on the embedded store (one transaction
//! per chunk, already its fastest path), as plain batched upserts on ScyllaDB. The tenant row
//! comes last, so a tenant is there complete or not at all; a load that stopped half-way
//! is run again with the same arguments and writes the same rows.

pub mod input;
mod volumes;
mod writers;

use crate::store_args::StoreArgs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use store::Tenant;

pub use writers::{TableFigures, Writer};

#[derive(clap::Args, Debug)]
#[command(
    about = "Load a new tenant from files (plan, distributors, orders) into the embedded store or ScyllaDB",
    long_about = "Load a new tenant from files: --input holds plan.json, distributors.csv and orders.csv in the \
        layout `upline commissions` reads (COMP_PLAN_SPEC.md §1), as `upline generate` and `upline export` write \
        them. The files are checked first, exactly as a commission run checks them: a problem is reported with its \
        file and line, and nothing is written.\n\n\
        The distributors are enrolled (numbered, and placed where the file leaves it to the plan), the orders are \
        stored as imported (no events), and the volume of every distributor in every month and ISO week is \
        written as the projector would have folded it. On ScyllaDB the rows go as plain upserts, one partition per \
        batch, a bounded number in flight; the figures of each table (rows, seconds, rows/s) are printed at the \
        end.\n\n\
        The tenant must not exist: it is created last, once everything else is written, so a tenant is there \
        complete or not at all. A load that stopped half-way is simply run again with the same arguments. A \
        running `upline serve` picks the tenant up at its next start."
)]
pub struct LoadArgs {
    /// The directory holding plan.json, distributors.csv and orders.csv.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// The new tenant's id (1 to 40 of a-z, 0-9 and '-').
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// The company's name (the tenant id when not given).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn main(args: LoadArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Service);
    crate::serve::run_command("load", load(args))
}

async fn load(args: LoadArgs) -> Result<(), String> {
    let started = Instant::now();
    api::tenants::check_tenant_id(&args.tenant).map_err(|_| {
        format!(
            "--tenant {:?}: use 1 to 40 of a-z, 0-9 and '-', not starting with '-'",
            args.tenant
        )
    })?;
    let name = args.name.clone().unwrap_or_else(|| args.tenant.clone());
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    // The files first: bad input is refused before anything opens, let alone is written.
    let files = Checked::read(&args.input)?;
    let writer = Writer::open(&args.store.choice()?).await?;
    let (_, figures) = load_tenant(&writer, &args.tenant, &name, files).await?;
    print_summary(&args.tenant, &figures, started.elapsed());
    Ok(())
}

/// A tenant's files, read and checked, with the period volumes their orders make.
pub struct Checked {
    files: input::TenantFiles,
    volumes: writers::Volumes,
}

impl Checked {
    pub fn read(input: &Path) -> Result<Checked, String> {
        let reading = Instant::now();
        eprintln!("upline load: reading and checking {}", input.display());
        let files = input::read(input)?;
        let volumes = volumes::period_volumes(&files.orders)?;
        eprintln!(
            "upline load: {} distributors, {} orders, {} periods read in {:.1} s",
            files.distributors.len(),
            files.orders.len(),
            volumes.len(),
            reading.elapsed().as_secs_f64()
        );
        Ok(Checked { files, volumes })
    }
}

/// Writes the files' rows, then creates the tenant; refuses a tenant that exists. Returns the
/// tenant as created and the figures of each table.
pub async fn load_tenant(
    writer: &Writer,
    tenant_id: &str,
    name: &str,
    checked: Checked,
) -> Result<(Tenant, Vec<TableFigures>), String> {
    if writer.tenant_exists(tenant_id).await? {
        return Err(format!(
            "tenant {tenant_id:?} exists already; a load creates a new tenant (choose another --tenant)"
        ));
    }
    let Checked { files, volumes } = checked;
    let figures = writer.write(tenant_id, &files, &volumes).await?;
    let tenant = Tenant {
        id: tenant_id.to_owned(),
        name: name.to_owned(),
        plan: files.plan,
        plan_version: 1,
        created_at_ms: api::state::now_ms(),
        home_region: None,
        closes: None,
    };
    writer.create_tenant(tenant.clone()).await?;
    Ok((tenant, figures))
}

fn print_summary(tenant: &str, figures: &[TableFigures], elapsed: Duration) {
    println!(
        "upline load: tenant {tenant:?} loaded in {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  {:<16} {:>12} {:>9} {:>12}",
        "table", "rows", "seconds", "rows/s"
    );
    for table in figures {
        let seconds = table.elapsed.as_secs_f64();
        println!(
            "  {:<16} {:>12} {:>9.1} {:>12.0}",
            table.table,
            table.rows,
            seconds,
            table.rows as f64 / seconds.max(1e-9)
        );
    }
}
