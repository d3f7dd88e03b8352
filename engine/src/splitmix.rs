//! SplitMix64: a tiny deterministic generator for tests, benchmarks and load tools, where a
//! run must replay from its seed and statistical quality beyond "well mixed" does not matter.
//! (The network generator uses ChaCha for its realistic distributions.)

/// The generator's state: any seed is a good one.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 well-mixed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// SplitMix64's finaliser: every bit of `value` changes about half of the result's bits, so
/// `mix(seed ^ index)` gives independent-looking values for consecutive indexes.
pub fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_from_its_seed_and_spreads_bits() {
        let (mut a, mut b) = (SplitMix64(7), SplitMix64(7));
        let drawn: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(drawn, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(drawn[0], drawn[1]);
        assert!(SplitMix64(1).below(10) < 10);
        assert_eq!(SplitMix64(1).below(0), 0);
        assert!((mix(1) ^ mix(2)).count_ones() > 16, "neighbours stay apart");
    }
}
