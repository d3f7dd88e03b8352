//! Exact numbers: parsing, rounding and formatting of fixed-point decimals.
//!
//! Volumes (PV, CV, GV, carries) are `i64` counts of 1/10,000 — the four fractional digits the
//! input syntax allows — so sums over millions of rows stay exact and fast. Money amounts are
//! `i64` counts of the plan's smallest currency unit (`10^-currency_decimals`). Rates keep their
//! own scale ([`Rate`]). A product is formed in `i128` and rounded once, half to even, at the
//! place the spec names. No binary floating point is involved anywhere.

use std::fmt;
use std::mem::MaybeUninit;

/// Fractional digits of every volume (`pv`, `cv`, carries, `base`).
pub const VOLUME_SCALE: u32 = 4;
/// 10^[`VOLUME_SCALE`].
pub const VOLUME_ONE: i64 = 10_000;
/// The most fractional digits a rate may carry; keeps `rate × volume` inside `i128`.
pub const RATE_SCALE_MAX: u32 = 18;

/// Powers of ten that fit an `i128`.
pub fn pow10(exponent: u32) -> i128 {
    10i128.pow(exponent)
}

/// Divides `value` by `10^digits`, rounding half to even.
pub fn div_pow10_half_even(value: i128, digits: u32) -> i128 {
    if digits == 0 {
        return value;
    }
    let divisor = pow10(digits);
    let quotient = value.div_euclid(divisor);
    let remainder = value.rem_euclid(divisor);
    let twice = remainder * 2;
    if twice > divisor || (twice == divisor && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

/// Powers of ten that fit an `i64`, by exponent.
const POW10_I64: [i64; 19] = {
    let mut table = [1i64; 19];
    let mut index = 1;
    while index < 19 {
        table[index] = table[index - 1] * 10;
        index += 1;
    }
    table
};

/// [`div_pow10_half_even`] for `i64` values and at most 18 digits.
#[inline]
pub fn div_pow10_half_even_i64(value: i64, digits: u32) -> i64 {
    // The usual digit counts get a constant divisor (a multiplication, not a division):
    // this runs once per commission line.
    match digits {
        0 => value,
        1 => divide_half_even(value, 10),
        2 => divide_half_even(value, 100),
        3 => divide_half_even(value, 1_000),
        4 => divide_half_even(value, 10_000),
        5 => divide_half_even(value, 100_000),
        6 => divide_half_even(value, 1_000_000),
        _ => divide_half_even(value, POW10_I64[digits as usize]),
    }
}

#[inline(always)]
fn divide_half_even(value: i64, divisor: i64) -> i64 {
    let quotient = value.div_euclid(divisor);
    let remainder = value.rem_euclid(divisor);
    let twice = remainder * 2;
    if twice > divisor || (twice == divisor && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

/// Divides `value` by `10^digits`, rounding toward negative infinity.
pub fn div_pow10_floor(value: i128, digits: u32) -> i128 {
    value.div_euclid(pow10(digits))
}

/// Re-expresses `value` (with `from` fractional digits) with `to` fractional digits,
/// rounding half to even when digits are dropped.
pub fn rescale_half_even(value: i128, from: u32, to: u32) -> i128 {
    if to >= from {
        value * pow10(to - from)
    } else {
        div_pow10_half_even(value, from - to)
    }
}

/// A non-negative or negative exact decimal as `mantissa × 10^-scale`, the form every plan
/// number takes after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fixed {
    pub mantissa: i128,
    pub scale: u32,
}

impl Fixed {
    pub const ZERO: Fixed = Fixed {
        mantissa: 0,
        scale: 0,
    };

    /// Drops trailing fractional zeros (`0.10` → `0.1`) so scales stay as small as possible.
    pub fn normalized(self) -> Fixed {
        let mut fixed = self;
        while fixed.scale > 0 && fixed.mantissa % 10 == 0 {
            fixed.mantissa /= 10;
            fixed.scale -= 1;
        }
        fixed
    }

    /// The value with exactly `scale` fractional digits, or `None` when digits would be lost
    /// or the result does not fit.
    pub fn exact_at_scale(self, scale: u32) -> Option<i128> {
        let normalized = self.normalized();
        if normalized.scale > scale {
            return None;
        }
        normalized
            .mantissa
            .checked_mul(pow10(scale - normalized.scale))
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    pub fn cmp_value(self, other: Fixed) -> std::cmp::Ordering {
        let scale = self.scale.max(other.scale);
        let left = self.mantissa * pow10(scale - self.scale);
        let right = other.mantissa * pow10(scale - other.scale);
        left.cmp(&right)
    }

    /// Parses a decimal written as `-?[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one
    /// digit (the JSON and YAML 1.2 core number syntaxes), exactly.
    pub fn parse(text: &str) -> Option<Fixed> {
        let (mantissa_text, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, unsigned) = match mantissa_text.as_bytes().first()? {
            b'-' => (true, &mantissa_text[1..]),
            b'+' => (false, &mantissa_text[1..]),
            _ => (false, mantissa_text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut mantissa: i128 = 0;
        for byte in whole.bytes().chain(fraction.bytes()) {
            if !byte.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(byte - b'0'))?;
        }
        let mut scale = i64::try_from(fraction.len()).ok()? - i64::from(exponent);
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        let scale = u32::try_from(scale).ok()?;
        if scale > 36 {
            return None;
        }
        let fixed = Fixed {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        };
        Some(fixed.normalized())
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::new();
        write_plain(&mut text, self.mantissa, self.scale);
        formatter.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

/// A rate (`levels`, `pct`, `generations`, …): `mantissa × 10^-scale`, between 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub mantissa: i64,
    pub scale: u32,
}

impl Rate {
    pub const ONE: Rate = Rate {
        mantissa: 1,
        scale: 0,
    };

    /// `round_half_even(rate × volume)` in units of `10^-decimals` (volume in 1/10,000).
    #[inline]
    pub fn apply_half_even(self, volume: i64, decimals: u32) -> i64 {
        let digits = self.scale + VOLUME_SCALE;
        // Fast path: the exact product fits in i64 and digits are dropped, as for every
        // realistic rate and volume; 128-bit division is several times slower.
        if let Some(exact) = self.mantissa.checked_mul(volume) {
            if digits >= decimals && digits - decimals <= 18 {
                return div_pow10_half_even_i64(exact, digits - decimals);
            }
        }
        let exact = i128::from(self.mantissa) * i128::from(volume);
        rescale_half_even(exact, digits, decimals) as i64
    }

    /// `rate × volume` exactly, with `scale + 4` fractional digits.
    pub fn times_volume_exact(self, volume: i128) -> Fixed {
        Fixed {
            mantissa: i128::from(self.mantissa) * volume,
            scale: self.scale + VOLUME_SCALE,
        }
    }
}

/// Why a number in a CSV cell was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeSyntaxError {
    Empty,
    Negative,
    Malformed,
    TooManyDecimals,
    TooLarge,
}

impl VolumeSyntaxError {
    pub fn describe(self) -> &'static str {
        match self {
            VolumeSyntaxError::Empty => "is empty; write a number such as 0 or 12.5",
            VolumeSyntaxError::Negative => "is negative; volumes are never below 0",
            VolumeSyntaxError::Malformed => "is not a number of the form 123 or 123.4567",
            VolumeSyntaxError::TooManyDecimals => "has more than 4 fractional digits",
            VolumeSyntaxError::TooLarge => "is larger than 99999999999999.9999",
        }
    }
}

/// The largest volume a cell may hold (10^14 − 10^-4). Every total the engine forms over
/// a network stays far inside `i64` (see `run::check_magnitudes`).
pub const VOLUME_CELL_MAX: i64 = 100_000_000_000_000 * VOLUME_ONE - 1;

/// Parses a CSV volume `[0-9]+(\.[0-9]{1,4})?` into 1/10,000 units without allocating.
#[inline]
pub fn parse_volume(cell: &[u8]) -> Result<i64, VolumeSyntaxError> {
    if cell.is_empty() {
        return Err(VolumeSyntaxError::Empty);
    }
    if cell[0] == b'-' {
        return Err(VolumeSyntaxError::Negative);
    }
    let mut whole: i64 = 0;
    let mut index = 0;
    while index < cell.len() && cell[index].is_ascii_digit() {
        whole = whole * 10 + i64::from(cell[index] - b'0');
        // Leading zeros (`007`) keep `whole` small, so they never count as "too large".
        if whole >= 100_000_000_000_000 {
            return Err(VolumeSyntaxError::TooLarge);
        }
        index += 1;
    }
    if index == 0 {
        return Err(VolumeSyntaxError::Malformed);
    }
    let mut fraction: i64 = 0;
    let mut fraction_digits = 0usize;
    if index < cell.len() {
        if cell[index] != b'.' {
            return Err(VolumeSyntaxError::Malformed);
        }
        index += 1;
        let start = index;
        while index < cell.len() {
            let byte = cell[index];
            if !byte.is_ascii_digit() {
                return Err(VolumeSyntaxError::Malformed);
            }
            if index - start >= 4 {
                return Err(VolumeSyntaxError::TooManyDecimals);
            }
            fraction = fraction * 10 + i64::from(byte - b'0');
            index += 1;
        }
        fraction_digits = index - start;
        if fraction_digits == 0 {
            return Err(VolumeSyntaxError::Malformed);
        }
    }
    let scale_up = [10_000, 1_000, 100, 10, 1][fraction_digits];
    Ok(whole * VOLUME_ONE + fraction * scale_up)
}

/// Appends `mantissa × 10^-scale` with exactly `scale` fractional digits (no point when 0).
#[inline]
pub fn write_fixed(out: &mut Vec<u8>, mantissa: i128, scale: u32) {
    let negative = mantissa < 0;
    let magnitude = mantissa.unsigned_abs();
    if negative {
        out.push(b'-');
    }
    if scale == 0 {
        write_u128(out, magnitude);
        return;
    }
    let divisor = 10u128.pow(scale);
    write_u128(out, magnitude / divisor);
    out.push(b'.');
    write_fraction(out, magnitude % divisor, scale);
}

/// Appends exactly `digits` digits of `fraction` (< 10^digits), zero-padded on the left.
#[inline]
fn write_fraction(out: &mut Vec<u8>, mut fraction: u128, digits: u32) {
    let mut buffer = [b'0'; 40];
    let digits = digits as usize;
    for at in (0..digits).rev() {
        buffer[at] = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&buffer[..digits]);
}

/// Appends a volume (1/10,000 units) with exactly four fractional digits.
#[inline]
pub fn write_volume(out: &mut Vec<u8>, volume: i64) {
    // A volume is an amount with four decimals.
    write_amount(out, volume, VOLUME_SCALE);
}

/// Appends an amount in units of `10^-decimals` with exactly `decimals` fractional digits.
#[inline]
pub fn write_amount(out: &mut Vec<u8>, amount: i64, decimals: u32) {
    if decimals == 0 {
        return write_i64(out, amount);
    }
    if amount < 0 {
        out.push(b'-');
    }
    let magnitude = amount.unsigned_abs();
    let divisor = POW10_I64[decimals as usize] as u64;
    write_u64(out, magnitude / divisor);
    out.push(b'.');
    write_fraction(out, u128::from(magnitude % divisor), decimals);
}

/// Appends a decimal without trailing fractional zeros and without exponent (`0.05`, `1`).
pub fn write_plain(out: &mut Vec<u8>, mantissa: i128, scale: u32) {
    let fixed = Fixed { mantissa, scale }.normalized();
    write_fixed(out, fixed.mantissa, fixed.scale);
}

#[inline]
pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(out, value.unsigned_abs());
}

#[inline]
pub fn write_u64(out: &mut Vec<u8>, value: u64) {
    let mut buffer = [0u8; 20];
    let at = format_u64(&mut buffer, value);
    out.extend_from_slice(&buffer[at..]);
}

/// Writes `value`'s digits at the end of `buffer` and returns where they start. Two digits
/// per division, from a table: the classic itoa technique.
#[inline]
pub fn format_u64(buffer: &mut [u8; 20], value: u64) -> usize {
    // SAFETY: as in `format_amount`: a `MaybeUninit` view that only initialized bytes are
    // written through.
    let view = unsafe {
        std::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast::<MaybeUninit<u8>>(), buffer.len())
    };
    write_digits_before(view, view.len(), value)
}

/// "00", "01", … "99": two digits per division, the classic itoa technique.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Formats an amount (units of `10^-decimals`, `decimals <= 18`) right-aligned in `buffer`
/// with exactly `decimals` fractional digits; returns where the text starts.
#[inline]
pub fn format_amount(buffer: &mut [u8; 42], amount: i64, decimals: u32) -> usize {
    let start = buffer.len() - amount_text_length(amount, decimals);
    let text = &mut buffer[start..];
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and only initialized bytes are
    // written through the view, so `buffer` stays initialized.
    let view = unsafe {
        std::slice::from_raw_parts_mut(text.as_mut_ptr().cast::<MaybeUninit<u8>>(), text.len())
    };
    write_amount_exact(view, amount, decimals);
    start
}

/// The length of an amount's text (units of `10^-decimals`, `decimals <= 18`): sign, whole
/// digits, and a point with `decimals` digits.
#[inline]
pub fn amount_text_length(amount: i64, decimals: u32) -> usize {
    let magnitude = amount.unsigned_abs();
    // Constant divisors for the usual decimals compile to multiplications.
    let whole = match decimals {
        2 => magnitude / 100,
        4 => magnitude / 10_000,
        0 => magnitude,
        _ => magnitude / POW10_I64[decimals as usize] as u64,
    };
    let whole_digits = whole.checked_ilog10().unwrap_or(0) as usize + 1;
    let point_and_fraction = if decimals == 0 {
        0
    } else {
        decimals as usize + 1
    };
    usize::from(amount < 0) + whole_digits + point_and_fraction
}

/// Writes an amount's text into `out`, which must be exactly [`amount_text_length`] long.
///
/// Output files are mostly zeros and amounts of 2 or 4 decimals (cents, volumes), so those
/// get their own paths: a zero is copied whole, and a known number of decimals divides by a
/// constant, which compiles to a multiplication instead of a 40-cycle division.
#[inline]
pub fn write_amount_exact(out: &mut [MaybeUninit<u8>], amount: i64, decimals: u32) {
    const ZEROS: &[u8; 20] = b"0.000000000000000000";
    if amount == 0 {
        for (place, &byte) in out.iter_mut().zip(ZEROS.iter()) {
            place.write(byte);
        }
        return;
    }
    match decimals {
        2 => write_with_decimals::<2>(out, amount),
        4 => write_with_decimals::<4>(out, amount),
        0 => write_with_decimals::<0>(out, amount),
        _ => write_any_decimals(out, amount, decimals),
    }
}

/// [`write_amount_exact`] for a number of decimals known at compile time.
#[inline(always)]
pub(crate) fn write_with_decimals<const DECIMALS: u32>(out: &mut [MaybeUninit<u8>], amount: i64) {
    let magnitude = amount.unsigned_abs();
    let divisor = 10u64.pow(DECIMALS);
    let mut at = out.len();
    if DECIMALS > 0 {
        let mut fraction = magnitude % divisor;
        for _ in 0..DECIMALS / 2 {
            let pair = (fraction % 100) as usize * 2;
            fraction /= 100;
            at -= 2;
            write_pair(out, at, pair);
        }
        if DECIMALS % 2 == 1 {
            at -= 1;
            out[at].write(b'0' + fraction as u8);
        }
        at -= 1;
        out[at].write(b'.');
    }
    let start = write_digits_before(out, at, magnitude / divisor);
    if amount < 0 {
        out[start - 1].write(b'-');
    }
}

fn write_any_decimals(out: &mut [MaybeUninit<u8>], amount: i64, decimals: u32) {
    let magnitude = amount.unsigned_abs();
    let divisor = POW10_I64[decimals as usize] as u64;
    let mut at = out.len();
    if decimals > 0 {
        let mut fraction = magnitude % divisor;
        for _ in 0..decimals {
            at -= 1;
            out[at].write(b'0' + (fraction % 10) as u8);
            fraction /= 10;
        }
        at -= 1;
        out[at].write(b'.');
    }
    let start = write_digits_before(out, at, magnitude / divisor);
    if amount < 0 {
        out[start - 1].write(b'-');
    }
}

/// Writes `value`'s digits so that they end just before `end`; returns where they start.
#[inline(always)]
fn write_digits_before(out: &mut [MaybeUninit<u8>], end: usize, mut value: u64) -> usize {
    let mut at = end;
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        at -= 2;
        write_pair(out, at, pair);
    }
    if value >= 10 {
        at -= 2;
        write_pair(out, at, value as usize * 2);
    } else {
        at -= 1;
        out[at].write(b'0' + value as u8);
    }
    at
}

/// Writes the two digits at `DIGIT_PAIRS[pair..pair + 2]` at `out[at..at + 2]`.
#[inline(always)]
fn write_pair(out: &mut [MaybeUninit<u8>], at: usize, pair: usize) {
    out[at].write(DIGIT_PAIRS[pair]);
    out[at + 1].write(DIGIT_PAIRS[pair + 1]);
}

fn write_u128(out: &mut Vec<u8>, value: u128) {
    if let Ok(small) = u64::try_from(value) {
        return write_u64(out, small);
    }
    let mut buffer = [0u8; 40];
    let mut at = buffer.len();
    let mut rest = value;
    loop {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&buffer[at..]);
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
    fn half_even_rounds_ties_to_the_even_neighbour() {
        assert_eq!(div_pow10_half_even(25, 1), 2);
        assert_eq!(div_pow10_half_even(35, 1), 4);
        assert_eq!(div_pow10_half_even(26, 1), 3);
        assert_eq!(div_pow10_half_even(-25, 1), -2);
        assert_eq!(div_pow10_half_even(-26, 1), -3);
        assert_eq!(div_pow10_half_even(5, 1), 0);
    }

    #[test]
    fn volumes_parse_exactly() {
        assert_eq!(parse_volume(b"0"), Ok(0));
        assert_eq!(parse_volume(b"12.5"), Ok(125_000));
        assert_eq!(parse_volume(b"333.3333"), Ok(3_333_333));
        assert_eq!(parse_volume(b"007"), Ok(70_000));
        assert_eq!(
            parse_volume(b"1.23456"),
            Err(VolumeSyntaxError::TooManyDecimals)
        );
        assert_eq!(parse_volume(b"-1"), Err(VolumeSyntaxError::Negative));
        assert_eq!(parse_volume(b"1."), Err(VolumeSyntaxError::Malformed));
        assert_eq!(parse_volume(b".5"), Err(VolumeSyntaxError::Malformed));
        assert_eq!(parse_volume(b"1e3"), Err(VolumeSyntaxError::Malformed));
        assert_eq!(parse_volume(b""), Err(VolumeSyntaxError::Empty));
        assert_eq!(
            parse_volume(b"123456789012345"),
            Err(VolumeSyntaxError::TooLarge)
        );
    }

    #[test]
    fn numbers_format_with_the_named_digits() {
        assert_eq!(text(|o| write_volume(o, 3_333_333)), "333.3333");
        assert_eq!(text(|o| write_volume(o, 0)), "0.0000");
        assert_eq!(text(|o| write_amount(o, 1079, 0)), "1079");
        assert_eq!(text(|o| write_amount(o, 5, 2)), "0.05");
        assert_eq!(text(|o| write_amount(o, 10793, 2)), "107.93");
        assert_eq!(text(|o| write_plain(o, 10, 2)), "0.1");
        assert_eq!(text(|o| write_plain(o, 1, 0)), "1");
        assert_eq!(text(|o| write_plain(o, 1_666_666_667, 10)), "0.1666666667");
    }

    /// The fast formatter (zero and constant-divisor paths) agrees with the plain writer,
    /// which builds the text from integer division and `write_fraction`, on every scale.
    #[test]
    fn the_fast_amount_formatter_agrees_with_the_plain_writer() {
        let check = |amount: i64, decimals: u32| {
            let mut buffer = [0u8; 42];
            let at = format_amount(&mut buffer, amount, decimals);
            assert_eq!(
                std::str::from_utf8(&buffer[at..]).unwrap(),
                text(|o| write_amount(o, amount, decimals)),
                "{amount} at {decimals} decimals"
            );
        };
        let mut random = crate::splitmix::SplitMix64(0x5eed);
        for decimals in 0..=18 {
            for amount in [
                0,
                1,
                -1,
                9,
                10,
                99,
                100,
                -100,
                12_345,
                i64::MAX,
                i64::MIN,
                i64::MIN + 1,
            ] {
                check(amount, decimals);
            }
            for _ in 0..2_000 {
                // Magnitudes of every length, up to 18 digits, with both signs.
                let bound = 10i64.pow(random.below(19) as u32);
                let magnitude = random.below(bound as u64) as i64;
                check(magnitude, decimals);
                check(-magnitude, decimals);
            }
        }
    }

    /// The `i64` division, with its constant-divisor cases, agrees with the general `i128`
    /// one, ties and negative values included.
    #[test]
    fn the_i64_half_even_division_agrees_with_the_i128_one() {
        let mut random = crate::splitmix::SplitMix64(0xd1);
        for digits in 0..=18u32 {
            let unit = 10i64.pow(digits);
            for _ in 0..2_000 {
                let quotient = random.below(1 << 40) as i64 - (1 << 39);
                let remainder = match random.below(3) {
                    0 => unit / 2,
                    1 => 0,
                    _ => random.below(unit as u64) as i64,
                };
                for value in [
                    quotient.saturating_mul(unit).saturating_add(remainder),
                    remainder,
                    -remainder,
                ] {
                    assert_eq!(
                        i128::from(div_pow10_half_even_i64(value, digits)),
                        div_pow10_half_even(i128::from(value), digits),
                        "{value} / 10^{digits}"
                    );
                }
            }
        }
    }

    #[test]
    fn plan_numbers_parse_exactly() {
        assert_eq!(
            Fixed::parse("0.10"),
            Some(Fixed {
                mantissa: 1,
                scale: 1
            })
        );
        assert_eq!(
            Fixed::parse("250.5"),
            Some(Fixed {
                mantissa: 2505,
                scale: 1
            })
        );
        assert_eq!(
            Fixed::parse("1e3"),
            Some(Fixed {
                mantissa: 1000,
                scale: 0
            })
        );
        assert_eq!(
            Fixed::parse("5E-2"),
            Some(Fixed {
                mantissa: 5,
                scale: 2
            })
        );
        assert_eq!(
            Fixed::parse("-0.5"),
            Some(Fixed {
                mantissa: -5,
                scale: 1
            })
        );
        assert_eq!(
            Fixed::parse(".5"),
            Some(Fixed {
                mantissa: 5,
                scale: 1
            })
        );
        assert_eq!(Fixed::parse("."), None);
        assert_eq!(Fixed::parse(".inf"), None);
        assert_eq!(Fixed::parse("1x"), None);
    }

    #[test]
    fn rates_apply_with_half_even() {
        let rate = Rate {
            mantissa: 1,
            scale: 3,
        }; // 0.001
        assert_eq!(rate.apply_half_even(700 * VOLUME_ONE, 0), 1); // 0.7 → 1
        assert_eq!(rate.apply_half_even(500 * VOLUME_ONE, 0), 0); // 0.5 → 0
        assert_eq!(rate.apply_half_even(1500 * VOLUME_ONE, 0), 2); // 1.5 → 2
        let five_percent = Rate {
            mantissa: 5,
            scale: 2,
        };
        assert_eq!(five_percent.apply_half_even(1_772_700, 2), 886); // 177.27 × 0.05 = 8.8635
    }
}
