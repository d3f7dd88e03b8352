//! What a long command shows a person: a progress bar or spinner per phase on standard
//! error (drawn only on a terminal), and a one-screen summary at the end.

use engine::number::write_amount;
use engine::run::{RunInput, RunResult};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Distributors,
    Orders,
    Compute,
    WriteLines,
    WriteSummary,
    WriteState,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Distributors => "reading distributors",
            Phase::Orders => "reading orders",
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
}

impl Report {
    pub fn new(quiet: bool) -> Report {
        Report {
            quiet,
            timings: Vec::new(),
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

    pub fn finish(&mut self, phase: PhaseBar, _count: u64) {
        phase.bar.finish_and_clear();
        self.timings.push((phase.phase, phase.started.elapsed()));
    }

    pub fn abandon(&mut self) {}

    fn seconds(&self, phases: &[Phase]) -> f64 {
        self.timings
            .iter()
            .filter(|(phase, _)| phases.contains(phase))
            .map(|(_, took)| took.as_secs_f64())
            .sum()
    }

    /// The closing summary: counts, totals per bonus and where the time went.
    pub fn summary(&self, input: &RunInput<'_, '_>, result: &RunResult, elapsed: Duration) {
        if self.quiet {
            return;
        }
        let plan = input.plan;
        let count = input.network.len();
        let active = result.active.iter().filter(|&&active| active).count();
        let paid = (0..count).filter(|&at| result.total_earned(at) > 0).count();
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
            self.seconds(&[Phase::Distributors, Phase::Orders]),
            self.seconds(&[Phase::Compute]),
            self.seconds(&[Phase::WriteLines, Phase::WriteSummary, Phase::WriteState]),
            elapsed.as_secs_f64()
        );
    }
}
