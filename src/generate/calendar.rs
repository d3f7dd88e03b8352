//! Days and periods. A day is an `i32` count of days since 1970-01-01 (proleptic Gregorian);
//! a period is a calendar month (`2026-11`) or an ISO week (`2026-W47`), COMP_PLAN_SPEC.md §1.

use std::fmt;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = month as i32;
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a day (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// ISO weekday of a day: 1 = Monday .. 7 = Sunday (1970-01-01 was a Thursday).
pub fn iso_weekday(days: i32) -> i32 {
    (days + 3).rem_euclid(7) + 1
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    (next - days_from_civil(year, month, 1)) as u32
}

/// Monday of ISO week 1 of `year`: the week holding January 4th.
fn iso_week_one(year: i32) -> i32 {
    let jan4 = days_from_civil(year, 1, 4);
    jan4 - (iso_weekday(jan4) - 1)
}

/// One closed period: the label written to the `period` file and its first and last day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    pub first_day: i32,
    pub last_day: i32,
}

impl Period {
    /// Parses `YYYY-MM` or `YYYY-Www`; years 1000..=9999.
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(text.to_string());
        let bytes = text.as_bytes();
        if bytes.len() < 7 || bytes[4] != b'-' || !bytes[..4].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let year: i32 = text[..4].parse().map_err(|_| bad())?;
        if year < 1000 {
            return Err(bad());
        }
        let rest = &bytes[5..];
        let number = |digits: &[u8]| -> Option<u32> {
            (digits.len() == 2 && digits.iter().all(u8::is_ascii_digit))
                .then(|| u32::from(digits[0] - b'0') * 10 + u32::from(digits[1] - b'0'))
        };
        if rest[0] == b'W' {
            let week = number(&rest[1..]).ok_or_else(bad)?;
            let weeks_in_year = (iso_week_one(year + 1) - iso_week_one(year)) / 7;
            if week == 0 || week as i32 > weeks_in_year {
                return Err(bad());
            }
            let first_day = iso_week_one(year) + (week as i32 - 1) * 7;
            Ok(Period {
                label: text.to_string(),
                first_day,
                last_day: first_day + 6,
            })
        } else {
            let month = number(rest).ok_or_else(bad)?;
            if !(1..=12).contains(&month) {
                return Err(bad());
            }
            let first_day = days_from_civil(year, month, 1);
            let last_day = first_day + days_in_month(year, month) as i32 - 1;
            Ok(Period {
                label: text.to_string(),
                first_day,
                last_day,
            })
        }
    }

    /// Number of days in the period.
    pub fn len_days(&self) -> i32 {
        self.last_day - self.first_day + 1
    }
}

/// A `--period` that is neither an existing month nor an existing ISO week.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--period: {:?} is not an existing calendar month (YYYY-MM, e.g. 2026-11) or ISO week (YYYY-Www, e.g. 2026-W47)",
            self.0
        )
    }
}

impl std::error::Error for PeriodError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for day in -800_000..800_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2026, 11, 1)), (2026, 11, 1));
        assert_eq!(iso_weekday(days_from_civil(2026, 11, 2)), 1);
    }

    #[test]
    fn months() {
        let p = Period::parse("2026-11").unwrap();
        assert_eq!(civil_from_days(p.first_day), (2026, 11, 1));
        assert_eq!(civil_from_days(p.last_day), (2026, 11, 30));
        let p = Period::parse("2024-02").unwrap();
        assert_eq!(p.len_days(), 29);
        let p = Period::parse("2025-12").unwrap();
        assert_eq!(civil_from_days(p.last_day), (2025, 12, 31));
    }

    #[test]
    fn iso_weeks() {
        let p = Period::parse("2026-W47").unwrap();
        assert_eq!(civil_from_days(p.first_day), (2026, 11, 16));
        assert_eq!(civil_from_days(p.last_day), (2026, 11, 22));
        // 2026 starts on a Thursday: it has 53 weeks; 2025 has 52.
        let p = Period::parse("2026-W53").unwrap();
        assert_eq!(civil_from_days(p.last_day), (2027, 1, 3));
        assert!(Period::parse("2025-W53").is_err());
        let p = Period::parse("2026-W01").unwrap();
        assert_eq!(civil_from_days(p.first_day), (2025, 12, 29));
    }

    #[test]
    fn rejects_what_does_not_exist() {
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-00",
            "2026-1",
            "2026-W00",
            "2026-W5",
            "26-11",
            "2026/11",
            "2026-11-01",
            "0999-01",
            "2026-W1a",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Period::parse("2026-13").unwrap_err().to_string(),
            "--period: \"2026-13\" is not an existing calendar month (YYYY-MM, e.g. 2026-11) or ISO week (YYYY-Www, e.g. 2026-W47)"
        );
    }
}
