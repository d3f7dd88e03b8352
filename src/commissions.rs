//! `upline commissions`: close one period from plain files (COMP_PLAN_SPEC.md §7).
//!
//! Reads and validates everything first; only a run that succeeded creates `--out` and
//! writes the three files, each under a temporary name renamed into place when complete.

use crate::input_files::InputFile;
use crate::report::{Phase, Report};
use engine::input::{
    read_distributors_beside, read_orders, read_state, CarryState, Directory, Network,
    PlacementKind, Volumes,
};
use engine::output::{write_lines, write_state, write_summary};
use engine::plan::{read_plan, CompiledPlan, PlanFormat};
use engine::run::{run_observed, Bonus, RunInput, RunResult};
use rayon::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
#[command(
    about = "Close one period from plain files: compute every bonus of a plan and write lines.csv, summary.csv and state.csv",
    long_about = "Close one period from plain files (COMP_PLAN_SPEC.md §7).\n\n\
        Reads the plan and the CSV files, checks them completely, computes every bonus of the plan, and writes \
        lines.csv (every commission line with its base, rate and amount), summary.csv (one row per distributor) \
        and state.csv (the carries and highest ranks for the next period) into --out.\n\n\
        Each input may be a file or a stream: `--orders <(zcat orders.csv.gz)` or `--orders /dev/stdin` \
        reads the stream to its end (files are mapped, streams held in memory).\n\n\
        On bad input it exits with status 1 and one line on standard error naming the file, the line and the \
        problem (e.g. `orders.csv:17: unknown distributor id \"d99\"`), and writes nothing.\n\n\
        Progress goes to standard error when it is a terminal, then a one-screen summary. With \
        UPLINE_STAGE_TIMINGS=1 the summary also lists the seconds of every phase and engine stage."
)]
pub struct CommissionsArgs {
    /// The compensation plan, JSON (`.json`) or YAML (any other name).
    #[arg(long, value_name = "PLAN")]
    pub plan: PathBuf,
    /// distributors.csv: `id,sponsor_id,placement_id,leg,joined_on,status`.
    #[arg(long, value_name = "FILE")]
    pub distributors: PathBuf,
    /// orders.csv: `order_id,distributor_id,date,pv,cv,status`.
    #[arg(long, value_name = "FILE")]
    pub orders: PathBuf,
    /// The previous period's state.csv: `id,carry_left,carry_right,highest_rank`. Without it
    /// everyone starts with no carry and rank 0 as their highest.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The period to close: a month `YYYY-MM` (2026-11) or an ISO week `YYYY-Www` (2026-W47).
    #[arg(long, value_name = "P")]
    pub period: String,
    /// Directory for lines.csv, summary.csv and state.csv; created if missing. Existing files
    /// of those names are replaced only when the run succeeds, and never one of the run's own
    /// inputs (--out beside --state state.csv is refused: the next run would read the new
    /// state as the previous one).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print no progress and no summary (errors still go to standard error).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn main(args: CommissionsArgs) -> ExitCode {
    let mut report = Report::new(args.quiet);
    match close_period(&args, &mut report) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything read from the input files, checked.
pub struct LoadedRun {
    pub plan: CompiledPlan,
    pub network: Network,
    pub volumes: Volumes,
    pub state: CarryState,
}

/// The inputs of a run as mapped files; `load` reads them into a [`LoadedRun`].
pub struct RunFiles {
    pub plan: InputFile,
    pub distributors: InputFile,
    pub orders: InputFile,
    pub state: Option<InputFile>,
}

impl RunFiles {
    pub fn open(
        plan: &Path,
        distributors: &Path,
        orders: &Path,
        state: Option<&Path>,
    ) -> Result<RunFiles, String> {
        // Mapping a file reads its pages in, tens of milliseconds for the big ones: the
        // orders and the state are mapped on threads of their own meanwhile. A missing file
        // is still reported in the order plan, distributors, orders, state.
        let (plan, distributors, orders, state) = std::thread::scope(|scope| {
            let orders = scope.spawn(|| InputFile::open(orders));
            let state = scope.spawn(|| state.map(InputFile::open).transpose());
            let plan = InputFile::open(plan);
            let distributors = InputFile::open(distributors);
            let orders = orders.join().expect("opening a file does not panic");
            let state = state.join().expect("opening a file does not panic");
            (plan, distributors, orders, state)
        });
        Ok(RunFiles {
            plan: plan?,
            distributors: distributors?,
            orders: orders?,
            state: state?,
        })
    }

    /// Reads and checks the files, reporting problems in the spec's order: plan,
    /// distributors, orders, state. Each file is unmapped as soon as it is read: what a run
    /// keeps is owned, and a file's pages would otherwise count toward the process's peak
    /// memory.
    pub fn load(self, period_text: &str, report: &mut Report) -> Result<LoadedRun, String> {
        let plan = self.compile_plan()?;
        let period = engine::calendar::Period::parse(period_text)
            .map_err(|error| format!("--period: {error}"))?;
        let kind = PlacementKind::of_plan(&plan);
        // Orders and the state need only the distributors' ids, so they are read while the
        // trees are built, each on whatever core is free. Errors still come in the spec's
        // order: the distributors' first, then the orders', then the state's.
        let reading = report.phase(Phase::ReadInputs);
        let window = plan
            .fast_start
            .as_ref()
            .map(|fast_start| fast_start.window_days);
        let read_beside = |directory: Directory<'_>| {
            let started = Instant::now();
            rayon::join(
                || {
                    let volumes = read_orders(
                        self.orders.name(),
                        self.orders.bytes(),
                        directory,
                        &period,
                        window,
                    );
                    (volumes, started.elapsed())
                },
                || {
                    let state = self
                        .state
                        .as_ref()
                        .map(|file| read_state(file.name(), file.bytes(), directory, &plan));
                    (state, started.elapsed())
                },
            )
        };
        let (network, ((volumes, orders_took), (state, state_took))) = read_distributors_beside(
            self.distributors.name(),
            self.distributors.bytes(),
            kind,
            read_beside,
        )
        .map_err(|error| error.to_string())?;
        report.finish(reading);
        report.record(Phase::Orders, orders_took);
        let volumes = volumes.map_err(|error| error.to_string())?;
        let state = match state {
            Some(state) => {
                report.record(Phase::State, state_took);
                state.map_err(|error| error.to_string())?
            }
            None => CarryState::empty(network.len()),
        };
        self.distributors.release_in_background();
        self.orders.release_in_background();
        if let Some(file) = self.state {
            file.release_in_background();
        }
        Ok(LoadedRun {
            plan,
            network,
            volumes,
            state,
        })
    }

    fn compile_plan(&self) -> Result<CompiledPlan, String> {
        let name = self.plan.name();
        let text = std::str::from_utf8(self.plan.bytes())
            .map_err(|_| format!("{name}: the file is not UTF-8 text"))?;
        let document = read_plan(text, PlanFormat::from_file_name(name))
            .map_err(|error| format!("{name}: {error}"))?;
        CompiledPlan::compile(&document).map_err(|error| format!("{name}: {error}"))
    }
}

fn close_period(args: &CommissionsArgs, report: &mut Report) -> Result<(), String> {
    let started = Instant::now();
    let mut inputs = vec![
        ("--plan", args.plan.as_path()),
        ("--distributors", args.distributors.as_path()),
        ("--orders", args.orders.as_path()),
    ];
    inputs.extend(args.state.as_deref().map(|state| ("--state", state)));
    crate::spare_inputs::check(&args.out, &OUTPUT_FILES, &inputs)?;
    let files = RunFiles::open(
        &args.plan,
        &args.distributors,
        &args.orders,
        args.state.as_deref(),
    )?;
    let loaded = files.load(&args.period, report)?;
    let input = RunInput {
        plan: &loaded.plan,
        network: &loaded.network,
        volumes: &loaded.volumes,
        state: &loaded.state,
    };
    let phase = report.phase(Phase::Compute);
    let result = run_observed(&input, &mut |stage| report.stage(&phase, stage))
        .map_err(|error| error.to_string())?;
    report.finish(phase);
    write_outputs(&args.out, &input, &result, report)?;
    report.summary(&input, &result, started.elapsed());
    // The process ends right after this: handing a few hundred megabytes back to the
    // allocator, one vector at a time, would only delay the exit that frees them all at once.
    std::mem::forget(result);
    std::mem::forget(loaded);
    Ok(())
}

/// The files a run writes into `--out`.
const OUTPUT_FILES: [&str; 3] = ["lines.csv", "summary.csv", "state.csv"];

/// Writes the three files under temporary names, then renames them into place.
pub fn write_outputs(
    out: &Path,
    input: &RunInput<'_>,
    result: &RunResult,
    report: &mut Report,
) -> Result<(), String> {
    // A failed run leaves things as they were: a folder it made for its files goes again.
    let made_here = !out.exists();
    crate::folders::create("--out", out)?;
    // The writers hand over text in pieces of hundreds of kilobytes: a buffer in between
    // would only copy every byte once more.
    type Writer =
        fn(&RunInput<'_>, &RunResult, &mut fs::File, &(dyn Fn(u64) + Sync)) -> std::io::Result<()>;
    let [lines, summary, state] = OUTPUT_FILES;
    let files: [(&str, Writer, u64, Phase); 3] = [
        (
            lines,
            write_lines,
            result.lines.len() as u64,
            Phase::WriteLines,
        ),
        (
            summary,
            write_summary,
            input.network.len() as u64,
            Phase::WriteSummary,
        ),
        (
            state,
            write_state,
            input.network.len() as u64,
            Phase::WriteState,
        ),
    ];
    let mut written = Vec::new();
    for (name, write, rows, phase) in files {
        let final_path = out.join(name);
        let temporary = out.join(format!(".{name}.{}.partial", std::process::id()));
        let bar = report.bar(phase, rows);
        let outcome = (|| {
            let mut file = fs::File::create(&temporary)?;
            write(input, result, &mut file, &|done| bar.set_position(done))?;
            Ok::<(), std::io::Error>(())
        })();
        report.finish(bar);
        if let Err(error) = outcome {
            let _ = fs::remove_file(&temporary);
            for (temporary, _) in &written {
                let _ = fs::remove_file(temporary);
            }
            if made_here {
                let _ = fs::remove_dir(out);
            }
            return Err(format!("{}: cannot write: {error}", final_path.display()));
        }
        written.push((temporary, final_path));
    }
    crate::replace_file::replace_all(&written)
        .map_err(|error| format!("{}: cannot write: {error}", out.display()))
}

/// Amount totals per bonus over everyone, for the closing summary.
pub fn totals_by_bonus(result: &RunResult) -> Vec<(Bonus, i128)> {
    Bonus::ALL
        .par_iter()
        .map(|&bonus| {
            (
                bonus,
                result.earned[bonus as usize]
                    .par_iter()
                    .map(|&amount| i128::from(amount))
                    .sum(),
            )
        })
        .collect()
}
