//! Distributor and order ids. Distributor `i` gets `d` followed by an affine scramble of `i`
//! over `10^digits` (at least 7 digits): a bijection, so ids are unique; they look random, are
//! 8 bytes long up to 10 million distributors, and their first 8 bytes differ for all of them
//! (the engine sorts ids by an 8-byte prefix).

use super::text::{push_u64, push_u64_padded};

/// Odd and not a multiple of 5, hence coprime with every power of 10.
const MULTIPLIER: u64 = 3_141_593;

/// The id scheme of one generated network.
#[derive(Clone, Copy, Debug)]
pub struct Ids {
    digits: usize,
    modulus: u64,
    offset: u64,
}

impl Ids {
    pub fn new(count: u64, seed: u64) -> Ids {
        let mut digits = 7;
        let mut modulus = 10_000_000u64;
        while modulus < count {
            digits += 1;
            modulus *= 10;
        }
        Ids {
            digits,
            modulus,
            offset: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % modulus,
        }
    }

    /// The number in distributor `index`'s id.
    pub fn number(&self, index: u32) -> u64 {
        ((index as u64 % self.modulus) * (MULTIPLIER % self.modulus) + self.offset) % self.modulus
    }

    /// Appends distributor `index`'s id.
    pub fn push_distributor(&self, out: &mut Vec<u8>, index: u32) {
        out.push(b'd');
        push_u64_padded(out, self.number(index), self.digits);
    }
}

/// Appends the id of the `number`-th order (1-based).
pub fn push_order(out: &mut Vec<u8>, number: u64) {
    out.push(b'o');
    push_u64(out, number);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_short() {
        let ids = Ids::new(2_000_000, 42);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in 0..2_000_000 {
            out.clear();
            ids.push_distributor(&mut out, i);
            assert_eq!(out.len(), 8);
            assert!(
                seen.insert(out.clone()),
                "duplicate id {}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    #[test]
    fn ids_grow_a_digit_past_ten_million() {
        let ids = Ids::new(10_000_001, 1);
        let mut out = Vec::new();
        ids.push_distributor(&mut out, 3);
        assert_eq!(out.len(), 9);
        assert_ne!(Ids::new(100, 1).number(0), Ids::new(100, 2).number(0));
    }
}
