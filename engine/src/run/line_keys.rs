//! A commission line packed into one `u64` whose numeric order is the order of `lines.csv`:
//! recipient, then bonus, then source, then level (indexes are id ranks, so integer order is
//! id order). Amounts are not stored: each is recomputed from its inputs when written,
//! which keeps tens of millions of lines in 8 bytes each.

/// The bonuses, in the order `lines.csv` lists them for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Bonus {
    Unilevel = 0,
    Matrix = 1,
    Binary = 2,
    Matching = 3,
    FastStart = 4,
    RankAdvancement = 5,
    Pool = 6,
}

impl Bonus {
    pub const ALL: [Bonus; 7] = [
        Bonus::Unilevel,
        Bonus::Matrix,
        Bonus::Binary,
        Bonus::Matching,
        Bonus::FastStart,
        Bonus::RankAdvancement,
        Bonus::Pool,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bonus::Unilevel => "unilevel",
            Bonus::Matrix => "matrix",
            Bonus::Binary => "binary",
            Bonus::Matching => "matching",
            Bonus::FastStart => "fast_start",
            Bonus::RankAdvancement => "rank_advancement",
            Bonus::Pool => "pool",
        }
    }

    fn from_bits(bits: u64) -> Bonus {
        Bonus::ALL[bits as usize]
    }
}

/// One line of `lines.csv` before its numbers are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineKey {
    pub recipient: u32,
    pub bonus: Bonus,
    pub source: u32,
    pub level: u32,
}

/// The bit layout for one run: widths fit the network size and the deepest level.
#[derive(Debug, Clone, Copy)]
pub struct LineKeys {
    node_bits: u32,
    level_bits: u32,
}

const BONUS_BITS: u32 = 3;

fn bits_for(max_value: u64) -> u32 {
    (64 - max_value.leading_zeros()).max(1)
}

impl LineKeys {
    /// `None` when the network is too large to pack (more than 2^28 distributors with
    /// 5-bit levels, for instance).
    pub fn new(node_count: usize, max_level: u32) -> Option<LineKeys> {
        let node_bits = bits_for(node_count.saturating_sub(1) as u64);
        let level_bits = bits_for(u64::from(max_level));
        (2 * node_bits + BONUS_BITS + level_bits <= 64).then_some(LineKeys {
            node_bits,
            level_bits,
        })
    }

    /// The bits a packed line uses, from the lowest.
    pub fn bits(&self) -> u32 {
        2 * self.node_bits + BONUS_BITS + self.level_bits
    }

    /// Where the recipient starts: the bits below it hold bonus, source and level.
    pub fn recipient_shift(&self) -> u32 {
        self.node_bits + BONUS_BITS + self.level_bits
    }

    /// Bits of the recipient (and of the source).
    pub fn node_bits(&self) -> u32 {
        self.node_bits
    }

    #[inline]
    pub fn pack(&self, recipient: u32, bonus: Bonus, source: u32, level: u32) -> u64 {
        let mut key = u64::from(recipient);
        key = (key << BONUS_BITS) | bonus as u64;
        key = (key << self.node_bits) | u64::from(source);
        (key << self.level_bits) | u64::from(level)
    }

    #[inline]
    pub fn unpack(&self, key: u64) -> LineKey {
        let level = (key & ((1 << self.level_bits) - 1)) as u32;
        let rest = key >> self.level_bits;
        let source = (rest & ((1 << self.node_bits) - 1)) as u32;
        let rest = rest >> self.node_bits;
        let bonus = Bonus::from_bits(rest & ((1 << BONUS_BITS) - 1));
        let recipient = (rest >> BONUS_BITS) as u32;
        LineKey {
            recipient,
            bonus,
            source,
            level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_orders_like_the_file() {
        let keys = LineKeys::new(10_000_000, 12).unwrap();
        let line = LineKey {
            recipient: 9_999_999,
            bonus: Bonus::Pool,
            source: 12,
            level: 12,
        };
        assert_eq!(
            keys.unpack(keys.pack(line.recipient, line.bonus, line.source, line.level)),
            line
        );
        assert!(keys.pack(1, Bonus::Pool, 0, 0) < keys.pack(2, Bonus::Unilevel, 0, 0));
        assert!(keys.pack(1, Bonus::Binary, 9, 9) < keys.pack(1, Bonus::Matching, 0, 1));
        assert!(keys.pack(1, Bonus::Unilevel, 3, 9) < keys.pack(1, Bonus::Unilevel, 4, 1));
        assert!(LineKeys::new(1 << 30, 31).is_none());
    }
}
