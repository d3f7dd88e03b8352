//! Exact numbers at the API's edge: decimal strings in, decimal strings out, integers inside.

use crate::error::{ApiError, ApiResult};
use engine::number::{format_amount, parse_volume, Fixed, VOLUME_SCALE};

/// A volume (PV, CV): `[0-9]+(\.[0-9]{1,4})?`, as in orders.csv; in 1/10,000.
pub fn parse_volume_field(field: &str, text: &str) -> ApiResult<i64> {
    parse_volume(text.as_bytes()).map_err(|error| ApiError::invalid(field, error.describe()))
}

/// A volume with exactly 4 fractional digits.
pub fn volume_text(volume: i64) -> String {
    amount_text(volume, VOLUME_SCALE)
}

/// An amount of the currency, positive, with at most `decimals` fractional digits; in minor units.
pub fn parse_amount_field(field: &str, text: &str, decimals: u32) -> ApiResult<i64> {
    let invalid = || {
        ApiError::invalid(
            field,
            format!("must be a positive decimal with at most {decimals} fractional digits"),
        )
    };
    let valid_syntax = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.');
    let fixed = Fixed::parse(text)
        .filter(|_| valid_syntax)
        .ok_or_else(invalid)?;
    let minor = fixed.exact_at_scale(decimals).ok_or_else(invalid)?;
    i64::try_from(minor)
        .ok()
        .filter(|&minor| minor > 0)
        .ok_or_else(invalid)
}

/// An amount in minor units as a plain decimal with exactly `decimals` fractional digits.
pub fn amount_text(amount: i64, decimals: u32) -> String {
    let mut buffer = [0u8; 42];
    let start = format_amount(&mut buffer, amount, decimals);
    String::from_utf8_lossy(&buffer[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_or_refused() {
        assert_eq!(parse_amount_field("amount", "12.5", 2).unwrap(), 1250);
        assert_eq!(parse_amount_field("amount", "0.01", 2).unwrap(), 1);
        for bad in ["0", "0.00", "-1", "1.234", "1e3", "", "abc", " 1"] {
            assert!(
                parse_amount_field("amount", bad, 2).is_err(),
                "{bad:?} passed"
            );
        }
        assert_eq!(amount_text(-1250, 2), "-12.50");
        assert_eq!(amount_text(7, 0), "7");
        assert_eq!(volume_text(255_000), "25.5000");
        assert_eq!(parse_volume_field("pv", "25.5").unwrap(), 255_000);
        assert!(parse_volume_field("pv", "-1").is_err());
    }
}
