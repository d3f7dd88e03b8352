//! The periods an order counts in: its calendar month and its ISO week, by their names as
//! `--period` spells them (`2026-11`, `2026-W47`).

use engine::calendar::{civil_from_days, days_from_civil, Day};

/// `YYYY-MM` of a day.
pub fn month_of(day: Day) -> String {
    let (year, month, _) = civil_from_days(day);
    format!("{year:04}-{month:02}")
}

/// `YYYY-Www` of a day (ISO 8601: weeks start on Monday; a week belongs to the year of its Thursday).
pub fn iso_week_of(day: Day) -> String {
    // Day 0 (1970-01-01) was a Thursday: index 3 with Monday = 0.
    let weekday = (day + 3).rem_euclid(7);
    let thursday = day - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
    format!("{year:04}-W{week:02}")
}

/// Both periods of a day.
pub fn periods_of(day: Day) -> Vec<String> {
    vec![month_of(day), iso_week_of(day)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::calendar::{parse_date, Period};

    #[test]
    fn every_day_lies_in_the_periods_named_for_it() {
        let start = parse_date(b"2020-12-20").unwrap();
        for day in start..start + 3 * 366 {
            for name in periods_of(day) {
                let period = Period::parse(&name).unwrap_or_else(|error| panic!("{name}: {error}"));
                assert!(period.contains(day), "{name} does not contain day {day}");
            }
        }
    }

    #[test]
    fn year_boundaries_follow_iso() {
        assert_eq!(iso_week_of(parse_date(b"2021-01-03").unwrap()), "2020-W53");
        assert_eq!(iso_week_of(parse_date(b"2024-12-30").unwrap()), "2025-W01");
        assert_eq!(iso_week_of(parse_date(b"2026-11-23").unwrap()), "2026-W48");
        assert_eq!(month_of(parse_date(b"2026-11-30").unwrap()), "2026-11");
    }
}
