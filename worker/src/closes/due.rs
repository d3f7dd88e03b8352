//! Which periods of a tenant are due to close: every period of the schedule's kind from the
//! first with volumes through the last that ended `after_hours` ago, except those a posted
//! run pays already — in period order, since each close starts from the previous one's state.

use engine::calendar::{Day, Period};
use store::periods::{iso_week_of, month_of};
use store::{CloseSchedule, PeriodKind, Run, RunStatus};

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_HOUR: i64 = 3_600_000;

/// The periods due at `now_ms` (Unix milliseconds), oldest first.
pub fn due_periods(
    schedule: CloseSchedule,
    volume_periods: &[String],
    runs: &[Run],
    now_ms: i64,
) -> Vec<String> {
    let Some(first) = volume_periods
        .iter()
        .filter(|period| schedule.every.names(period))
        .filter_map(|period| Period::parse(period).ok())
        .map(|period| period.first)
        .min()
    else {
        return Vec::new();
    };
    let mut due = Vec::new();
    let mut day = first;
    loop {
        let name = period_name(schedule.every, day);
        let Ok(period) = Period::parse(&name) else {
            break;
        };
        if !has_ended(&period, schedule.after_hours, now_ms) {
            break;
        }
        if !is_posted(runs, &name) {
            due.push(name);
        }
        day = period.last + 1;
    }
    due
}

/// The name of the period of `kind` that holds `day`.
fn period_name(kind: PeriodKind, day: Day) -> String {
    match kind {
        PeriodKind::Month => month_of(day),
        PeriodKind::Week => iso_week_of(day),
    }
}

/// Whether `after_hours` have passed since the period's last day ended (midnight UTC).
fn has_ended(period: &Period, after_hours: u32, now_ms: i64) -> bool {
    let ends_ms = (i64::from(period.last) + 1) * MS_PER_DAY;
    ends_ms + i64::from(after_hours) * MS_PER_HOUR <= now_ms
}

/// Whether a run in force pays the period already.
fn is_posted(runs: &[Run], period: &str) -> bool {
    runs.iter()
        .any(|run| run.period == period && run.status == RunStatus::Posted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::calendar::parse_date;

    fn at(date: &str, hour: i64) -> i64 {
        i64::from(parse_date(date.as_bytes()).unwrap()) * MS_PER_DAY + hour * MS_PER_HOUR
    }

    fn run(period: &str, status: RunStatus) -> Run {
        Run {
            run_id: format!("{period}.1"),
            period: period.into(),
            plan_version: 1,
            status,
            restates: None,
            created_at_ms: 0,
            distributors: 0,
            lines: 0,
            totals: Vec::new(),
            error: None,
        }
    }

    const MONTHLY: CloseSchedule = CloseSchedule {
        every: PeriodKind::Month,
        after_hours: 72,
    };

    #[test]
    fn months_from_the_first_with_volumes_through_the_last_ended() {
        let volumes = ["2026-09".to_string(), "2026-W37".into(), "2026-11".into()];
        // 2026-11 ended at 2026-12-01T00:00; its 72 hours end at 2026-12-04T00:00.
        assert_eq!(
            due_periods(MONTHLY, &volumes, &[], at("2026-12-03", 23)),
            ["2026-09", "2026-10"]
        );
        assert_eq!(
            due_periods(MONTHLY, &volumes, &[], at("2026-12-04", 0)),
            ["2026-09", "2026-10", "2026-11"]
        );
    }

    #[test]
    fn posted_periods_are_done_and_committed_ones_still_due() {
        let volumes = ["2026-09".to_string()];
        let runs = [
            run("2026-09", RunStatus::Posted),
            run("2026-10", RunStatus::Committed),
            run("2026-11", RunStatus::Superseded),
        ];
        assert_eq!(
            due_periods(MONTHLY, &volumes, &runs, at("2026-12-10", 0)),
            ["2026-10", "2026-11"]
        );
    }

    #[test]
    fn weeks_cross_years_by_iso_rules() {
        let weekly = CloseSchedule {
            every: PeriodKind::Week,
            after_hours: 0,
        };
        // 2026-W53 exists (2026 has 53 ISO weeks); it ends on Sunday 2027-01-03.
        let volumes = ["2026-12".to_string(), "2026-W52".into()];
        assert_eq!(
            due_periods(weekly, &volumes, &[], at("2027-01-11", 0)),
            ["2026-W52", "2026-W53", "2027-W01"]
        );
    }

    #[test]
    fn no_volumes_no_closes() {
        assert!(
            due_periods(MONTHLY, &["2026-W40".to_string()], &[], at("2027-01-01", 0)).is_empty()
        );
    }
}
