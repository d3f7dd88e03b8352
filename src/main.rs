//! `upline`: one binary, one subcommand per job. Each subcommand lives in its own module and
//! only parses flags and calls the crates; the work is done in `engine` (and later `store`,
//! `api`, `worker`, `operator`).

mod bench;
mod bench_api;
mod bench_events;
mod bench_http;
mod bench_snapshot;
mod closes;
mod commissions;
mod crdgen;
mod demo;
mod dlq;
mod export;
mod folders;
mod genealogy_follow;
mod generate;
mod home_link;
mod huge_pages;
mod inbound;
mod input_files;
mod listen_address;
mod load;
mod logging;
mod migrate;
mod nats_args;
mod operator_command;
mod replace_file;
mod report;
mod serve;
mod spare_inputs;
mod store_args;
mod tls_flags;
mod volume_probe;
mod worker_command;

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

// The commands whose arguments carry their own `about` and `long_about` have no doc comment
// here: a variant's doc comment would replace both, and `--help` would lose the long one.
#[derive(Subcommand)]
enum Command {
    Commissions(commissions::CommissionsArgs),
    /// Generate a realistic synthetic network (distributors, a month of orders, a previous
    /// state) and a matching plan, in the layout `upline commissions` reads.
    Generate(generate::GenerateArgs),
    /// Measure: the engine on a generated network (`commissions`), the API under an open-loop
    /// load (`api`), a close's read of a period snapshot (`snapshot`), the event pipeline
    /// (`events`), as docs/benchmarks.md reports them.
    Bench(bench::BenchArgs),
    Serve(serve::ServeArgs),
    Export(export::ExportArgs),
    Demo(demo::DemoArgs),
    Load(load::LoadArgs),
    Migrate(migrate::MigrateArgs),
    Worker(worker_command::WorkerArgs),
    /// List and replay the events that a region's consumers gave up on (the dead letters).
    Dlq(dlq::DlqArgs),
    Crdgen(crdgen::CrdgenArgs),
    Operator(operator_command::OperatorArgs),
}

fn main() -> ExitCode {
    store::tls::use_ring_by_default();
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
        Command::Worker(args) => worker_command::main(args),
        Command::Dlq(args) => dlq::main(args),
        Command::Crdgen(args) => crdgen::main(args),
        Command::Operator(args) => operator_command::main(args),
    }
}
