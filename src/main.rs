//! `upline`: one binary, one subcommand per job. Each subcommand lives in its own module and
//! only parses flags and calls the crates; the work is done in `engine` (and later `store`,
//! `api`, `worker`, `operator`).

mod bench;
mod bench_api;
mod bench_http;
mod bench_snapshot;
mod commissions;
mod demo;
mod export;
mod generate;
mod huge_pages;
mod input_files;
mod load;
mod migrate;
mod report;
mod scylla_args;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: the store's writer frees and allocates page buffers
/// of many sizes at a high rate, and glibc spent a sixth of that thread's time consolidating
/// its free lists (`unlink_chunk`, `malloc_consolidate` in a profile of order ingestion).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "upline", version, about = "Upline — network-marketing platform: commission engine, API, workers and operator", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Close one period from plain files: compute every bonus of a plan and write lines.csv,
    /// summary.csv and state.csv (COMP_PLAN_SPEC.md §7).
    Commissions(commissions::CommissionsArgs),
    /// Generate a realistic synthetic network (distributors, a month of orders, a previous
    /// state) and a matching plan, in the layout `upline commissions` reads.
    Generate(generate::GenerateArgs),
    /// Measure the engine on a generated network (tree building, compute, the whole command,
    /// peak memory), as docs/benchmarks.md reports it.
    Bench(bench::BenchArgs),
    /// Serve the platform API (tenants, genealogy, orders, commission runs, wallets) on the
    /// embedded store.
    Serve(serve::ServeArgs),
    /// Write a tenant's period as plain files that `upline commissions` reproduces exactly.
    Export(export::ExportArgs),
    /// Create a demo tenant (generated network, a month of orders, the period closed) and serve it.
    Demo(demo::DemoArgs),
    /// Load a new tenant from files (plan, distributors, orders) into the embedded store or
    /// ScyllaDB, printing the rows/s of every table.
    Load(load::LoadArgs),
    /// Create the ScyllaDB keyspaces and apply the schema migrations (safe to repeat).
    Migrate(migrate::MigrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Commissions(args) => {
            huge_pages::disable_for_this_process();
            commissions::main(args)
        }
        Command::Generate(args) => generate::main(args),
        Command::Bench(args) => {
            huge_pages::disable_for_this_process();
            bench::main(args)
        }
        Command::Serve(args) => serve::main(args),
        Command::Export(args) => export::main(args),
        Command::Demo(args) => demo::main(args),
        Command::Load(args) => load::main(args),
        Command::Migrate(args) => migrate::main(args),
    }
}
