//! `upline generate`: a realistic synthetic network in the layout `upline commissions` reads
//! (the folders of `fixtures/commissions/`): `distributors.csv`, `orders.csv`, `state.csv`
//! (the previous period), `plan.json` and `period`.
//!
//! The same flags always give byte-identical files. The sponsor tree, the orders and the state
//! rows depend only on (distributors, seed, shape, period); the plan changes only `plan.json`,
//! the placement columns (filled for binary and matrix plans by the §6 rules) and the state's
//! carries (binary plans only) and ranks (`unilevel` has only `Member`).
//!
//! Modules, one job each (days and periods come from `engine::calendar`): [`text`] (byte formatting),
//! [`ids`], [`rng`] (reproducible streams), [`network`] (the sponsor tree), [`placement`],
//! [`distributors`] (rows in shuffled order),
//! [`orders`], [`state`], [`plans`], [`output`] (files and progress).

mod distributors;
mod ids;
mod network;
mod orders;
mod output;
mod placement;
mod plans;
mod rng;
mod state;
mod text;

use anyhow::{bail, Result};
use engine::calendar::Period;
use engine::placement::PlacementTree;
use ids::Ids;
use network::Network;
pub use network::Shape;
use output::OutputFile;
use placement::Layout;
pub use plans::PlanKind;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// The most distributors one run generates (ids and tree nodes are `u32`; memory is about
/// 40 bytes per distributor).
const MAX_DISTRIBUTORS: u64 = 1_000_000_000;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Number of distributors, the root (the company's house account) included. At least 1.
    #[arg(long, value_name = "N")]
    pub distributors: u64,

    /// Seed of the random generator. The same distributors, seed, shape, plan and period always
    /// give byte-identical files.
    #[arg(long, value_name = "S")]
    pub seed: u64,

    /// Shape of the sponsor tree.
    #[arg(long, value_enum, default_value_t = Shape::Random)]
    pub shape: Shape,

    /// Compensation plan written to plan.json; binary and matrix plans also get the placement
    /// columns.
    #[arg(long, value_enum, default_value_t = PlanKind::Full)]
    pub plan: PlanKind,

    /// Period to close: a calendar month (YYYY-MM) or an ISO week (YYYY-Www). Orders are dated
    /// in it (about 5% just outside); 8% of the distributors joined during it.
    #[arg(long, value_name = "PERIOD", default_value = "2026-11")]
    pub period: String,

    /// About how many orders in all (within a fraction of a percent): every distributor's
    /// count of the monthly model is scaled to reach it, so who orders stays the same. Without
    /// it, about 1.5 per distributor.
    #[arg(long, value_name = "N")]
    pub orders: Option<u64>,

    /// Output directory (created if missing; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn main(args: GenerateArgs) -> ExitCode {
    match run(&args) {
        Ok(summary) => {
            eprint!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// What one run is asked to do, validated.
struct Job {
    count: u32,
    seed: u64,
    shape: Shape,
    plan: PlanKind,
    period: Period,
    orders: Option<u64>,
    out: PathBuf,
}

fn validate(args: &GenerateArgs) -> Result<Job> {
    if args.distributors < 1 {
        bail!("--distributors: must be at least 1");
    }
    if args.distributors > MAX_DISTRIBUTORS {
        bail!(
            "--distributors: must be at most {}",
            text::grouped(MAX_DISTRIBUTORS)
        );
    }
    let period =
        Period::parse(&args.period).map_err(|error| anyhow::anyhow!("--period: {error}"))?;
    if let Some(orders) = args.orders {
        // A count stops at 255 per distributor.
        if orders > args.distributors * 100 {
            bail!(
                "--orders: at most 100 per distributor ({})",
                text::grouped(args.distributors * 100)
            );
        }
    }
    Ok(Job {
        count: args.distributors as u32,
        seed: args.seed,
        shape: args.shape,
        plan: args.plan,
        period,
        orders: args.orders,
        out: args.out.clone(),
    })
}

fn layout(plan: PlanKind) -> Option<Layout> {
    match plan {
        PlanKind::Full | PlanKind::Binary => Some(Layout::Binary),
        PlanKind::Matrix => Some(Layout::Matrix {
            width: plans::MATRIX_WIDTH,
        }),
        PlanKind::Unilevel => None,
    }
}

pub fn run(args: &GenerateArgs) -> Result<String> {
    let started = Instant::now();
    let job = validate(args)?;
    crate::folders::create("--out", &job.out).map_err(anyhow::Error::msg)?;
    let n = job.count as u64;

    let bar = output::bar("network", n);
    let network = Network::build(job.count, job.seed, job.shape, &job.period, &|k| bar.inc(k));
    bar.finish();

    let tree = match layout(job.plan) {
        Some(layout) => {
            let bar = output::bar("placement", n);
            let tree = placement::place(&network, layout, job.seed, job.shape, &|k| bar.inc(k))?;
            bar.finish();
            Some(tree)
        }
        None => None,
    };

    let ids = Ids::new(n, job.seed);
    let chunks: Vec<(u64, usize, usize)> = rng::chunks(network.len()).collect();
    let mut files = Vec::new();

    let bar = output::bar("orders", n);
    let counts = orders::OrderCounts::draw(&network, job.seed, job.orders);
    let context = orders::Context {
        network: &network,
        counts: &counts,
        ids,
        period: &job.period,
        seed: job.seed,
    };
    let mut file = OutputFile::create(&job.out, "orders.csv")?;
    file.write(orders::HEADER)?;
    output::write_chunks(
        &mut file,
        &chunks,
        |out, chunk, start, end| orders::write_chunk(out, chunk, start, end, &context),
        &bar,
    )?;
    files.push(file.finish()?);
    bar.finish();

    let bar = output::bar("writing", 2 * n);
    let rows = distributors::RowOrder::shuffled(network.len(), job.seed);
    let context = distributors::Context {
        network: &network,
        tree: tree.as_ref(),
        ids,
        rows: &rows,
    };
    let mut file = OutputFile::create(&job.out, "distributors.csv")?;
    file.write(distributors::HEADER)?;
    output::write_chunks(
        &mut file,
        &chunks,
        |out, _, start, end| distributors::write_rows(out, start, end, &context),
        &bar,
    )?;
    files.push(file.finish()?);

    let style = state::StateStyle {
        carries: job.plan.has_binary(),
        ranks: job.plan.ranks(),
    };
    let mut file = OutputFile::create(&job.out, "state.csv")?;
    file.write(state::HEADER)?;
    output::write_chunks(
        &mut file,
        &chunks,
        |out, chunk, start, end| state::write_chunk(out, chunk, start, end, job.seed, &ids, style),
        &bar,
    )?;
    files.push(file.finish()?);
    files.push(output::write_small(
        &job.out,
        "plan.json",
        job.plan.json().as_bytes(),
    )?);
    files.push(output::write_small(
        &job.out,
        "period",
        format!("{}\n", job.period).as_bytes(),
    )?);
    bar.finish();

    Ok(summary(
        &job,
        &network,
        tree.as_ref(),
        counts.total,
        &files,
        started,
    ))
}

fn summary(
    job: &Job,
    network: &Network,
    tree: Option<&PlacementTree>,
    orders: u64,
    files: &[(&str, u64)],
    started: Instant,
) -> String {
    use std::fmt::Write;
    let recruits = network.recruit_counts();
    let depth = network.depths().into_iter().max().unwrap_or(0);
    let terminated = network.terminated.iter().filter(|&&t| t).count() as u64;
    let sponsoring = recruits.iter().filter(|&&r| r > 0).count() as u64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "upline generate: {} distributors ({} terminated), shape {}, seed {}, plan {}, period {}",
        text::grouped(network.len() as u64),
        text::grouped(terminated),
        job.shape.name(),
        job.seed,
        job.plan.name(),
        job.period,
    );
    let _ = writeln!(
        s,
        "  sponsor tree: depth {}, {} sponsor someone, the biggest sponsor has {} recruits",
        text::grouped(depth as u64),
        text::grouped(sponsoring),
        text::grouped(recruits.iter().copied().max().unwrap_or(0) as u64),
    );
    if let Some(tree) = tree {
        let _ = writeln!(
            s,
            "  placement: width {}, {} nodes",
            tree.width(),
            text::grouped(tree.len() as u64)
        );
    }
    let _ = writeln!(s, "  orders: {}", text::grouped(orders));
    let mut total = 0;
    for (name, size) in files {
        let _ = writeln!(s, "  {:<18}{:>10}", name, text::bytes(*size));
        total += size;
    }
    let _ = writeln!(
        s,
        "wrote {} in {} in {:.1} s",
        text::bytes(total),
        job.out.display(),
        started.elapsed().as_secs_f64()
    );
    s
}
