//! Writing numbers, ids and dates into byte buffers without allocating: the generator formats
//! tens of millions of rows, so every field is appended digit by digit.

use engine::calendar;

/// Appends the decimal digits of `value` (the engine's formatter).
pub use engine::number::write_u64 as push_u64;

/// Appends `value` left-padded with zeros to at least `width` digits.
pub fn push_u64_padded(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    while rest > 0 || digits.len() - start < width.min(20) {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[start..]);
}

/// Fixed-point volumes and amounts: units of 1/10,000.
pub const UNITS_PER_ONE: u64 = 10_000;

/// Appends a volume in 1/10,000 units as a plain decimal with at most 4 fractional digits and
/// no trailing zeros (`50`, `120.5`, `333.3333`) — the syntax `[0-9]+(\.[0-9]{1,4})?` of
/// COMP_PLAN_SPEC.md §1.
pub fn push_units(out: &mut Vec<u8>, units: u64) {
    push_u64(out, units / UNITS_PER_ONE);
    let mut fraction = units % UNITS_PER_ONE;
    if fraction == 0 {
        return;
    }
    let mut digits = 4;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    out.push(b'.');
    push_u64_padded(out, fraction, digits);
}

/// Appends a day (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn push_date(out: &mut Vec<u8>, day: i32) {
    let (year, month, day_of_month) = calendar::civil_from_days(day);
    push_u64_padded(out, year as u64, 4);
    out.push(b'-');
    push_u64_padded(out, month as u64, 2);
    out.push(b'-');
    push_u64_padded(out, day_of_month as u64, 2);
}

/// Appends `value` with thousands separators, for humans (`10,000,000`).
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count for humans (`1.5 GB`, `312.0 MB`, `857 B`), decimal units.
pub fn bytes(size: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1_000_000_000), ("MB", 1_000_000), ("kB", 1_000)];
    for (name, scale) in UNITS {
        if size >= scale {
            let tenths = size * 10 / scale;
            return format!("{}.{} {name}", tenths / 10, tenths % 10);
        }
    }
    format!("{size} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(text(|o| push_u64(o, 0)), "0");
        assert_eq!(text(|o| push_u64(o, 1234567890)), "1234567890");
        assert_eq!(text(|o| push_u64(o, u64::MAX)), u64::MAX.to_string());
        assert_eq!(text(|o| push_u64_padded(o, 42, 7)), "0000042");
        assert_eq!(text(|o| push_u64_padded(o, 0, 3)), "000");
        assert_eq!(text(|o| push_u64_padded(o, 12345678, 7)), "12345678");
    }

    #[test]
    fn units_are_plain_decimals_with_at_most_four_fraction_digits() {
        let cases = [
            (0, "0"),
            (500_000, "50"),
            (1_205_000, "120.5"),
            (3_333_333, "333.3333"),
            (1, "0.0001"),
            (999_500, "99.95"),
            (100_010, "10.001"),
        ];
        for (units, expected) in cases {
            assert_eq!(text(|o| push_units(o, units)), expected);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(text(|o| push_date(o, 0)), "1970-01-01");
        let day = calendar::days_from_civil(2026, 11, 30);
        assert_eq!(text(|o| push_date(o, day)), "2026-11-30");
        let day = calendar::days_from_civil(2024, 2, 29);
        assert_eq!(text(|o| push_date(o, day)), "2024-02-29");
    }

    #[test]
    fn human_numbers() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(10_000_000), "10,000,000");
        assert_eq!(bytes(857), "857 B");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(bytes(312_049_999), "312.0 MB");
    }
}
