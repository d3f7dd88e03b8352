//! `upline bench commissions`: the engine's figures, measured the way docs/benchmarks.md
//! reports them — tree building, the engine run (compute only) and the whole `upline
//! commissions` run on files, each with peak memory.
//!
//! The network comes from `upline generate` and is cached by its parameters, so repeated
//! benchmarks skip generation.

use crate::commissions::RunFiles;
use crate::generate::{self, GenerateArgs};
use crate::report::Report;
use anyhow::{anyhow, bail, Context, Result};
use engine::run::{run_observed, RunInput, Stage};
use engine::tree::Tree;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchTarget {
    /// Time tree building, the engine run (compute only) and the whole `upline commissions`
    /// run on a generated network, with peak memory.
    Commissions(CommissionsBench),
    /// Offer an open-loop load to a running `upline serve` (orders, enrollments, upline and
    /// downline reads) and report throughput and latency percentiles.
    Api(crate::bench_api::ApiBench),
    /// Read a tenant's period snapshot (every distributor and the period's volumes) as a
    /// close reads it, from the embedded store or ScyllaDB, and report the time.
    Snapshot(crate::bench_snapshot::SnapshotBench),
    /// Measure the event pipeline: the outbox relay publishing to the bus (in process or NATS
    /// JetStream) and the volume worker applying the events, as throughput over a backlog and
    /// as latency from an acknowledged order to its volume.
    Events(crate::bench_events::EventsBench),
}

#[derive(clap::Args, Debug)]
pub struct CommissionsBench {
    /// Distributors in the generated network.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub distributors: u64,
    /// Seed of the generated network.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Plan of the generated network: full, unilevel, binary or matrix.
    #[arg(long, default_value = "full")]
    pub plan: String,
    /// Shape of the sponsor tree: random, chain or star.
    #[arg(long, default_value = "random")]
    pub shape: String,
    /// Use the network in this folder (fixture layout) instead of generating one.
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,
    /// Where generated networks are cached.
    #[arg(long, value_name = "DIR", env = "UPLINE_CACHE")]
    pub cache: Option<PathBuf>,
    /// How many times to repeat the in-process measurements (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

pub fn main(args: BenchArgs) -> ExitCode {
    let bench = match args.target {
        BenchTarget::Commissions(bench) => bench,
        BenchTarget::Api(bench) => return crate::bench_api::main(bench),
        BenchTarget::Events(bench) => return crate::bench_events::main(bench),
        BenchTarget::Snapshot(bench) => return crate::bench_snapshot::main(bench),
    };
    match bench_commissions(&bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn cache_root(bench: &CommissionsBench) -> PathBuf {
    bench.cache.clone().unwrap_or_else(|| {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        home.join(".cache/upline")
    })
}

/// The network folder: given, or generated once per parameters.
fn network_folder(bench: &CommissionsBench) -> Result<PathBuf> {
    if let Some(input) = &bench.input {
        return Ok(input.clone());
    }
    let folder = cache_root(bench).join("bench").join(format!(
        "{}-{}-{}-seed{}",
        bench.plan, bench.shape, bench.distributors, bench.seed
    ));
    let complete = folder.join(".complete");
    if !complete.exists() {
        eprintln!(
            "generating {} distributors into {} …",
            bench.distributors,
            folder.display()
        );
        let arguments = [
            "generate",
            "--distributors",
            &bench.distributors.to_string(),
            "--seed",
            &bench.seed.to_string(),
            "--plan",
            &bench.plan,
            "--shape",
            &bench.shape,
            "--out",
            &folder.to_string_lossy(),
        ];
        let args = <GenerateArgs as clap::FromArgMatches>::from_arg_matches(
            &<crate::Cli as clap::CommandFactory>::command()
                .try_get_matches_from(std::iter::once("upline").chain(arguments))?
                .subcommand_matches("generate")
                .ok_or_else(|| anyhow!("generate arguments"))?
                .clone(),
        )?;
        generate::run(&args)?;
        std::fs::write(&complete, b"")?;
    }
    Ok(folder)
}

struct Measured {
    /// All inputs: the distributors, with orders and state read beside its trees.
    read_inputs: Duration,
    tree_building: Duration,
    /// Orders and state, within `read_inputs`.
    read_orders_and_state: Duration,
    compute: Duration,
    stages: Vec<(Stage, Duration)>,
    lines: usize,
}

fn measure_in_process(folder: &Path) -> Result<Measured> {
    let period = std::fs::read_to_string(folder.join("period")).context("period file")?;
    let state = folder.join("state.csv");
    let files = RunFiles::open(
        &folder.join("plan.json"),
        &folder.join("distributors.csv"),
        &folder.join("orders.csv"),
        state.exists().then_some(state.as_path()),
    )
    .map_err(|message| anyhow!(message))?;
    let mut report = Report::new(true);
    let started = Instant::now();
    let loaded = files
        .load(period.trim(), &mut report)
        .map_err(|message| anyhow!(message))?;
    let read_inputs = started.elapsed();
    let read_orders_and_state = report
        .phase_seconds(crate::report::Phase::Orders)
        .max(report.phase_seconds(crate::report::Phase::State));
    // Trees alone, from the parent arrays the reading produced.
    let sponsor_parent = loaded.network.sponsor.parent.clone();
    let placement_parent = loaded
        .network
        .placement
        .as_ref()
        .map(|placement| placement.tree.parent.clone());
    let started = Instant::now();
    Tree::build(sponsor_parent, loaded.network.sponsor.root)
        .map_err(|_| anyhow!("sponsor tree"))?;
    if let Some(parent) = placement_parent {
        Tree::build(parent, loaded.network.sponsor.root).map_err(|_| anyhow!("placement tree"))?;
    }
    let tree_building = started.elapsed();
    let input = RunInput {
        plan: &loaded.plan,
        network: &loaded.network,
        volumes: &loaded.volumes,
        state: &loaded.state,
    };
    let mut marks: Vec<(Stage, Instant)> = Vec::new();
    let started = Instant::now();
    let result = run_observed(&input, &mut |stage| marks.push((stage, Instant::now())))
        .map_err(|error| anyhow!(error))?;
    let compute = started.elapsed();
    let stages = marks
        .windows(2)
        .map(|pair| (pair[0].0, pair[1].1 - pair[0].1))
        .collect();
    Ok(Measured {
        read_inputs,
        tree_building,
        read_orders_and_state,
        compute,
        stages,
        lines: result.lines.len(),
    })
}

/// Runs `upline commissions` on the files as a child process: wall time and its peak RSS.
fn measure_cli(folder: &Path) -> Result<(Duration, u64)> {
    let out = tempfile::tempdir().context("temporary output folder")?;
    let period = std::fs::read_to_string(folder.join("period"))?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["commissions", "--quiet", "--period", period.trim()])
        .arg("--plan")
        .arg(folder.join("plan.json"))
        .arg("--distributors")
        .arg(folder.join("distributors.csv"))
        .arg("--orders")
        .arg(folder.join("orders.csv"))
        .arg("--out")
        .arg(out.path());
    if folder.join("state.csv").exists() {
        command.arg("--state").arg(folder.join("state.csv"));
    }
    let started = Instant::now();
    let status = command.status()?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("upline commissions failed on {}", folder.display());
    }
    Ok((elapsed, children_peak_rss_bytes()))
}

/// The largest resident set of any waited-for child, from `getrusage(RUSAGE_CHILDREN)`.
fn children_peak_rss_bytes() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as u64 * 1024
}

/// This process's peak resident set, from /proc/self/status (VmHWM).
fn own_peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kilobytes| kilobytes * 1024)
}

fn best<T: Copy, K: PartialOrd>(values: &[T], key: impl Fn(&T) -> K) -> T {
    *values
        .iter()
        .min_by(|a, b| key(a).partial_cmp(&key(b)).expect("comparable"))
        .expect("at least one run")
}

fn bench_commissions(bench: &CommissionsBench) -> Result<()> {
    let folder = network_folder(bench)?;
    let runs = bench.runs.max(1);
    let mut measured = Vec::new();
    for run in 1..=runs {
        eprintln!("in-process run {run}/{runs} …");
        measured.push(measure_in_process(&folder)?);
    }
    let in_process_peak = own_peak_rss_bytes();
    let mut whole = Vec::new();
    for run in 1..=runs {
        eprintln!("whole-CLI run {run}/{runs} …");
        whole.push(measure_cli(&folder)?.0);
    }
    let cli_peak = children_peak_rss_bytes();
    let seconds = |duration: Duration| duration.as_secs_f64();
    let best_read = best(
        &measured.iter().map(|m| m.read_inputs).collect::<Vec<_>>(),
        |d| *d,
    );
    let best_trees = best(
        &measured.iter().map(|m| m.tree_building).collect::<Vec<_>>(),
        |d| *d,
    );
    let best_rest = best(
        &measured
            .iter()
            .map(|m| m.read_orders_and_state)
            .collect::<Vec<_>>(),
        |d| *d,
    );
    let fastest = measured
        .iter()
        .min_by_key(|m| m.compute)
        .expect("at least one run");
    let best_whole = best(&whole, |d| *d);
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    println!(
        "upline bench commissions: {} ({} runs, best of each)",
        folder.display(),
        runs
    );
    println!(
        "  machine: {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model()
    );
    println!(
        "  read inputs (all files, checked, indexed)     {:>9.3} s",
        seconds(best_read)
    );
    println!(
        "    tree building alone (sponsor + placement)   {:>9.3} s",
        seconds(best_trees)
    );
    println!(
        "    orders and state, read beside the trees     {:>9.3} s",
        seconds(best_rest)
    );
    println!(
        "  engine run, compute only                      {:>9.3} s   ({} lines)",
        seconds(fastest.compute),
        fastest.lines
    );
    for (stage, took) in &fastest.stages {
        println!("    {:<44}{:>9.3} s", format!("{stage:?}"), seconds(*took));
    }
    println!(
        "  peak memory, in-process measurements          {:>9.2} GiB",
        gib(in_process_peak)
    );
    println!(
        "  whole `upline commissions` (parse, compute, write) {:>4.3} s",
        seconds(best_whole)
    );
    println!(
        "  peak memory, whole CLI run                    {:>9.2} GiB",
        gib(cli_peak)
    );
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.strip_prefix("model name")
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
