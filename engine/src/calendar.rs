//! Dates as day numbers, and the periods a run closes (a calendar month or an ISO week).
//!
//! A date is an `i32` count of days since 1970-01-01 in the proleptic Gregorian calendar
//! (the civil-from-days arithmetic of Howard Hinnant's date algorithms), so comparisons
//! and window arithmetic (`joined_on + window_days`) are integer operations.

use std::fmt;

pub type Day = i32;

/// Parses `YYYY-MM-DD` (exactly ten bytes) into a day number, checking the day of month.
///
/// Every order and distributor row has a date, so the ten bytes are checked and read as two
/// words (dashes in place, digits everywhere else) rather than a byte at a time.
pub fn parse_date(text: &[u8]) -> Option<Day> {
    let text: &[u8; 10] = text.try_into().ok()?;
    // "YYYY-MM-" and "DD", little-endian: text[0] is the lowest byte.
    let head = u64::from_le_bytes(text[..8].try_into().expect("8 bytes"));
    let tail = u16::from_le_bytes([text[8], text[9]]);
    const DASH_BYTES: u64 = 0xff00_00ff_0000_0000;
    const DASHES: u64 = 0x2d00_002d_0000_0000;
    if head & DASH_BYTES != DASHES {
        return None;
    }
    // The dashes replaced by zeros, the day padded with zeros: all digits, or no date.
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let head = (head & !DASH_BYTES) | (ZEROS & DASH_BYTES);
    if !all_digits(head) || !all_digits(u64::from(tail) | (ZEROS << 16)) {
        return None;
    }
    let values = head - ZEROS;
    let digit = |at: u32| ((values >> (8 * at)) & 0xff) as i32;
    let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
    let month = digit(5) * 10 + digit(6);
    let day = i32::from(text[8] - b'0') * 10 + i32::from(text[9] - b'0');
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // Millions of dates per run fall in a few recent years: their months start on days
    // listed once, at compile time.
    let index = (year - TABLE_FIRST_YEAR) * 12 + month - 1;
    match MONTH_STARTS.get(index as usize) {
        Some(&start) if year >= TABLE_FIRST_YEAR => Some(start + day - 1),
        _ => Some(days_from_civil(year, month, day)),
    }
}

/// The first year of [`MONTH_STARTS`].
const TABLE_FIRST_YEAR: i32 = 1970;
/// The day number of the first of each month from January 1970 to December 2229.
const MONTH_STARTS: [Day; 260 * 12] = {
    let mut starts = [0; 260 * 12];
    let mut at = 0;
    while at < starts.len() {
        starts[at] = days_from_civil(TABLE_FIRST_YEAR + (at / 12) as i32, (at % 12) as i32 + 1, 1);
        at += 1;
    }
    starts
};

fn parse_digits(text: &[u8]) -> Option<i32> {
    text.iter().try_fold(0i32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i32::from(byte - b'0'))
    })
}

/// Whether every byte of `word` is an ASCII digit. A byte below `0` sets its top bit when
/// `0` is subtracted, one above `9` when 0x46 is added (0x3a + 0x46 = 0x80), a non-ASCII byte
/// has it already; digits cause no borrow or carry, so the lowest bad byte always shows.
#[inline]
fn all_digits(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let below = word.wrapping_sub(ONES * u64::from(b'0'));
    let above = word.wrapping_add(ONES * (0x80 - u64::from(b'9') - 1));
    (word | below | above) & (ONES * 0x80) == 0
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Day number of a civil date (valid month and day).
pub const fn days_from_civil(year: i32, month: i32, day: i32) -> Day {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a day number.
pub fn civil_from_days(days: Day) -> (i32, i32, i32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_date(days: Day) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// ISO weekday, Monday = 1 … Sunday = 7.
fn iso_weekday(days: Day) -> i32 {
    // 1970-01-01 was a Thursday (4).
    (days + 3).rem_euclid(7) + 1
}

/// Day number of the Monday of ISO week 1 of `year` (the week holding January 4th).
fn iso_week_one_monday(year: i32) -> Day {
    let january_fourth = days_from_civil(year, 1, 4);
    january_fourth - (iso_weekday(january_fourth) - 1)
}

/// Number of ISO weeks (52 or 53) in `year`.
pub fn iso_weeks_in_year(year: i32) -> i32 {
    (iso_week_one_monday(year + 1) - iso_week_one_monday(year)) / 7
}

/// A closed period: the days from `first` to `last`, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub first: Day,
    pub last: Day,
    kind: PeriodKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PeriodKind {
    Month { year: i32, month: i32 },
    IsoWeek { year: i32, week: i32 },
}

/// Why a period text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{0:?} is not a period; write a month as YYYY-MM (2026-11) or an ISO week as YYYY-Www (2026-W47)")]
    Malformed(String),
    #[error("{text:?} does not exist: {year} has {weeks} ISO weeks")]
    NoSuchWeek { text: String, year: i32, weeks: i32 },
    #[error("{0:?} does not exist: months run from 01 to 12")]
    NoSuchMonth(String),
}

impl Period {
    /// Parses `YYYY-MM` or `YYYY-Www`.
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bytes = text.as_bytes();
        let malformed = || PeriodError::Malformed(text.to_string());
        let year = parse_digits(bytes.get(0..4).ok_or_else(malformed)?).ok_or_else(malformed)?;
        if bytes.get(4) != Some(&b'-') {
            return Err(malformed());
        }
        match &bytes[5..] {
            [b'W', week @ ..] if week.len() == 2 => {
                let week = parse_digits(week).ok_or_else(malformed)?;
                let weeks = iso_weeks_in_year(year);
                if week < 1 || week > weeks {
                    return Err(PeriodError::NoSuchWeek {
                        text: text.to_string(),
                        year,
                        weeks,
                    });
                }
                let first = iso_week_one_monday(year) + (week - 1) * 7;
                Ok(Period {
                    first,
                    last: first + 6,
                    kind: PeriodKind::IsoWeek { year, week },
                })
            }
            month if month.len() == 2 => {
                let month = parse_digits(month).ok_or_else(malformed)?;
                if !(1..=12).contains(&month) {
                    return Err(PeriodError::NoSuchMonth(text.to_string()));
                }
                let first = days_from_civil(year, month, 1);
                let last = first + days_in_month(year, month) - 1;
                Ok(Period {
                    first,
                    last,
                    kind: PeriodKind::Month { year, month },
                })
            }
            _ => Err(malformed()),
        }
    }

    /// Number of days in the period.
    pub fn days(&self) -> i32 {
        self.last - self.first + 1
    }

    pub fn contains(&self, day: Day) -> bool {
        self.first <= day && day <= self.last
    }
}

impl fmt::Display for Period {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Month { year, month } => write!(formatter, "{year:04}-{month:02}"),
            PeriodKind::IsoWeek { year, week } => write!(formatter, "{year:04}-W{week:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time reading that [`parse_date`] must agree with.
    fn parse_date_plainly(text: &[u8]) -> Option<Day> {
        let digits = parse_digits;
        if text.len() != 10 || text[4] != b'-' || text[7] != b'-' {
            return None;
        }
        let (year, month, day) = (
            digits(&text[0..4])?,
            digits(&text[5..7])?,
            digits(&text[8..10])?,
        );
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(days_from_civil(year, month, day))
    }

    #[test]
    fn dates_read_as_words_agree_with_reading_a_byte_at_a_time() {
        let odd_bytes = [b'/', b'0' - 1, b'9' + 1, b' ', b'-', 0x80, 0xff, 0, b'a'];
        let mut checked = 0;
        for year in [
            0, 1, 999, 1899, 1969, 1970, 1999, 2000, 2024, 2026, 2100, 2229, 2230, 9999,
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let bytes = text.as_bytes();
                    assert_eq!(parse_date(bytes), parse_date_plainly(bytes), "{text}");
                    // Every byte replaced in turn by bytes near the digits and the dash.
                    for at in 0..10 {
                        for &odd in &odd_bytes {
                            let mut changed = bytes.to_vec();
                            changed[at] = odd;
                            assert_eq!(
                                parse_date(&changed),
                                parse_date_plainly(&changed),
                                "{changed:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000);
        for bad in [&b""[..], b"2026-11-0", b"2026-11-011", b"2026-11-01\n"] {
            assert_eq!(parse_date(bad), None);
        }
    }

    #[test]
    fn dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(
            format_date(parse_date(b"2024-02-29").unwrap()),
            "2024-02-29"
        );
        assert_eq!(parse_date(b"2025-02-29"), None);
        assert_eq!(parse_date(b"2026-13-01"), None);
        assert_eq!(parse_date(b"2026-1-01"), None);
        assert_eq!(parse_date(b"2026-11-31"), None);
        // Inside and outside the table of month starts, every day agrees with the formula.
        for days in (-1_000..100_000).step_by(7) {
            let text = format_date(days);
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                parse_date(text.as_bytes()),
                Some(days_from_civil(y, m, d)),
                "{text}"
            );
        }
    }

    #[test]
    fn months_and_iso_weeks() {
        let month = Period::parse("2026-11").unwrap();
        assert_eq!(format_date(month.first), "2026-11-01");
        assert_eq!(format_date(month.last), "2026-11-30");
        let week = Period::parse("2026-W47").unwrap();
        assert_eq!(format_date(week.first), "2026-11-16");
        assert_eq!(format_date(week.last), "2026-11-22");
        // 2020 had 53 ISO weeks; week 1 of 2021 starts on 2021-01-04.
        assert_eq!(
            format_date(Period::parse("2020-W53").unwrap().first),
            "2020-12-28"
        );
        assert_eq!(
            format_date(Period::parse("2021-W01").unwrap().first),
            "2021-01-04"
        );
        assert!(matches!(
            Period::parse("2025-W53"),
            Err(PeriodError::NoSuchWeek { weeks: 52, .. })
        ));
        assert!(matches!(
            Period::parse("2026-00"),
            Err(PeriodError::NoSuchMonth(_))
        ));
        assert!(matches!(
            Period::parse("2026/11"),
            Err(PeriodError::Malformed(_))
        ));
        assert!(matches!(
            Period::parse("2026-W7"),
            Err(PeriodError::Malformed(_))
        ));
        assert_eq!(Period::parse("2026-W47").unwrap().to_string(), "2026-W47");
    }
}
