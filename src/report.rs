//! What a long command shows a person: a progress bar or spinner per phase on standard
//! error (drawn only on a terminal), and a one-screen summary at the end.

use engine::number::write_amount;
use engine::run::{RunInput, RunResult, Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// All input files: the distributors, with orders and state read beside its trees.
    ReadInputs,
    /// Reading orders.csv, within [`Phase::ReadInputs`].
    Orders,
    /// Reading state.csv, within [`Phase::ReadInputs`].
    State,
    Compute,
    WriteLines,
    WriteSummary,
    WriteState,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::ReadInputs => "reading inputs",
            Phase::Orders => "orders (beside)",
            Phase::State => "state (beside)",
            Phase::Compute => "computing",
            Phase::WriteLines => "writing lines.csv",
            Phase::WriteSummary => "writing summary.csv",
            Phase::WriteState => "writing state.csv",
        }
    }
}

/// A running phase: its bar and when it started.
pub struct PhaseBar {
    phase: Phase,
    bar: ProgressBar,
    started: Instant,
}

impl PhaseBar {
    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }
}

pub struct Report {
    quiet: bool,
    timings: Vec<(Phase, Duration)>,
    /// Engine stages with their start times, when `UPLINE_STAGE_TIMINGS` is set.
    stages: Option<Vec<(Stage, Instant)>>,
}

impl Report {
    pub fn new(quiet: bool) -> Report {
        let stages = std::env::var_os("UPLINE_STAGE_TIMINGS").map(|_| Vec::new());
        Report {
            quiet,
            timings: Vec::new(),
            stages,
        }
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// A spinner for a phase of unknown length.
    pub fn phase(&mut self, phase: Phase) -> PhaseBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.set_message(phase.label());
        bar.enable_steady_tick(Duration::from_millis(120));
        PhaseBar {
            phase,
            bar,
            started: Instant::now(),
        }
    }

    /// A bar for a phase of `length` rows.
    pub fn bar(&mut self, phase: Phase, length: u64) -> PhaseBar {
        let bar = ProgressBar::with_draw_target(Some(length), self.target());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:20} [{bar:40}] {human_pos}/{human_len} rows {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(phase.label());
        PhaseBar {
            phase,
            bar,
            started: Instant::now(),
        }
    }

    /// Shows the engine stage now running, and remembers when it started.
    pub fn stage(&mut self, phase: &PhaseBar, stage: Stage) {
        phase.bar.set_message(format!("computing: {stage:?}"));
        if let Some(stages) = &mut self.stages {
            stages.push((stage, Instant::now()));
        }
    }

    /// Seconds spent in each engine stage (from `UPLINE_STAGE_TIMINGS`).
    pub fn stage_seconds(&self) -> Vec<(Stage, f64)> {
        let Some(stages) = &self.stages else {
            return Vec::new();
        };
        stages
            .windows(2)
            .map(|pair| (pair[0].0, (pair[1].1 - pair[0].1).as_secs_f64()))
            .collect()
    }

    pub fn finish(&mut self, phase: PhaseBar) {
        phase.bar.finish_and_clear();
        self.timings.push((phase.phase, phase.started.elapsed()));
    }

    /// The time of a phase that ran inside another (orders and state, beside the
    /// distributors' trees): listed among the phases, not added to the totals.
    pub fn record(&mut self, phase: Phase, took: Duration) {
        self.timings.push((phase, took));
    }

    /// Time spent in one phase so far.
    pub fn phase_seconds(&self, phase: Phase) -> std::time::Duration {
        self.timings
            .iter()
            .filter(|(done, _)| *done == phase)
            .map(|(_, took)| *took)
            .sum()
    }

    fn seconds(&self, phases: &[Phase]) -> f64 {
        self.timings
            .iter()
            .filter(|(phase, _)| phases.contains(phase))
            .map(|(_, took)| took.as_secs_f64())
            .sum()
    }

    /// The closing summary: counts, totals per bonus and where the time went.
    pub fn summary(&self, input: &RunInput<'_>, result: &RunResult, elapsed: Duration) {
        if self.quiet {
            return;
        }
        let plan = input.plan;
        let count = input.network.len();
        let active = result.active.iter().filter(|&&active| active).count();
        let paid = (0..count)
            .into_par_iter()
            .filter(|&at| result.total_earned(at) > 0)
            .count();
        let money = |amount: i128| {
            let mut text = Vec::new();
            write_amount(&mut text, amount as i64, plan.decimals);
            String::from_utf8(text).expect("ASCII")
        };
        eprintln!(
            "Closed the period under plan {:?} ({})",
            plan.name, plan.currency
        );
        eprintln!("  distributors {count:>14}   active {active:>12}   paid {paid:>12}");
        eprintln!("  lines        {:>14}", result.lines.len());
        let mut grand_total = 0i128;
        for (bonus, total) in crate::commissions::totals_by_bonus(result) {
            grand_total += total;
            eprintln!(
                "  {:<18} {:>20} {}",
                bonus.name(),
                money(total),
                plan.currency
            );
        }
        eprintln!(
            "  {:<18} {:>20} {}",
            "total",
            money(grand_total),
            plan.currency
        );
        eprintln!(
            "  time: read {:.2} s · compute {:.2} s · write {:.2} s · whole run {:.2} s",
            self.seconds(&[Phase::ReadInputs]),
            self.seconds(&[Phase::Compute]),
            self.seconds(&[Phase::WriteLines, Phase::WriteSummary, Phase::WriteState]),
            elapsed.as_secs_f64()
        );
        let stages = self.stage_seconds();
        if !stages.is_empty() {
            let text: Vec<String> = stages
                .iter()
                .map(|(stage, seconds)| format!("{stage:?} {seconds:.3}"))
                .collect();
            eprintln!("  compute stages (s): {}", text.join(" · "));
        }
        let reads: Vec<String> = self
            .timings
            .iter()
            .map(|(phase, took)| format!("{} {:.3}", phase.label(), took.as_secs_f64()))
            .collect();
        if self.stages.is_some() {
            eprintln!("  phases (s): {}", reads.join(" · "));
        }
    }
}
