//! Short ids as small, order-preserving numbers, and an index from those numbers to positions.
//!
//! Why: a run resolves millions of id references (sponsors, the orders' and the state's
//! distributors). Through [`crate::id_index::IdIndex`] each costs three dependent cache misses
//! — the slot, the id's bounds, its bytes — and sorting the ids compares 16-byte keys. Real
//! ids are short and drawn from few characters per position (`d0853521`, `100234`, `US-00042`):
//! numbering the byte values seen at each position and packing those numbers gives every id a
//! code of a few dozen bits that sorts exactly as the id does. A code sorts by radix in a few
//! sequential passes, and the index keeps codes in its slots, so a lookup is one cache miss.
//! Ids that do not fit (longer than 16 bytes, a zero byte, too many distinct characters) keep
//! the byte index.

use crate::id_index::prefetch;
use rayon::prelude::*;

/// Positions an id may have: ids are at most 16 bytes.
pub(crate) const WIDTH: usize = 16;
/// A byte value never seen at a position.
const ABSENT: u8 = u8::MAX;

/// The numbering of byte values per position. A position past an id's end holds the value 0,
/// which sorts before every byte (ids contain no zero byte), so shorter ids sort first as in
/// byte order.
#[derive(Debug, Clone)]
pub struct IdCodec {
    /// `rank[p][byte]`: the number of `byte` at position `p`, or [`ABSENT`].
    rank: Box<[[u8; 256]; WIDTH]>,
    /// `byte_of[p][rank]`: the inverse numbering, for decoding.
    byte_of: Box<[[u8; 256]; WIDTH]>,
    /// How many byte values are numbered at position `p`.
    values: [u16; WIDTH],
    /// Bits of position `p`'s number within a code, and where they start (from the low end).
    bits: [u8; WIDTH],
    shift: [u8; WIDTH],
    /// Total bits of a code.
    code_bits: u32,
    /// The longest id: a longer one cannot be in the set.
    longest: usize,
    /// Whether every id has `longest` bytes.
    same_length: bool,
}

impl IdCodec {
    /// A codec for the `count` ids `id(0..count)`, if each is at most 16 bytes without a zero byte and the
    /// codes take at most `max_bits` bits.
    pub fn learn<'a>(
        count: usize,
        id: impl Fn(usize) -> &'a [u8] + Sync,
        max_bits: u32,
    ) -> Option<IdCodec> {
        // Which byte values occur at each position (256-bit sets), and the shortest and
        // longest id; `None` for an unfit id. Each task fills one set in place.
        type Seen = ([[u64; 4]; WIDTH], usize, usize);
        const IDS_PER_TASK: usize = 1 << 16;
        let (mut seen, shortest, longest) = (0..count.div_ceil(IDS_PER_TASK))
            .into_par_iter()
            .map(|task| -> Option<Seen> {
                let mut seen = [[0u64; 4]; WIDTH];
                let (mut shortest, mut longest) = (usize::MAX, 0);
                for at in task * IDS_PER_TASK..((task + 1) * IDS_PER_TASK).min(count) {
                    let id = id(at);
                    if id.len() > WIDTH || id.contains(&0) {
                        return None;
                    }
                    for (position, &byte) in id.iter().enumerate() {
                        seen[position][usize::from(byte >> 6)] |= 1 << (byte & 63);
                    }
                    shortest = shortest.min(id.len());
                    longest = longest.max(id.len());
                }
                Some((seen, shortest, longest))
            })
            .try_reduce(
                || ([[0u64; 4]; WIDTH], usize::MAX, 0),
                |(mut seen, shortest, longest), (other, other_shortest, other_longest)| {
                    for (seen, other) in seen.iter_mut().zip(&other) {
                        for (seen, other) in seen.iter_mut().zip(other) {
                            *seen |= other;
                        }
                    }
                    Some((
                        seen,
                        shortest.min(other_shortest),
                        longest.max(other_longest),
                    ))
                },
            )?;
        // Past the end of an id its position holds 0: where some id has ended already.
        for ended in &mut seen[shortest.min(WIDTH)..] {
            ended[0] |= 1;
        }
        let mut rank = Box::new([[ABSENT; 256]; WIDTH]);
        let mut byte_of = Box::new([[0u8; 256]; WIDTH]);
        let mut bits = [0u8; WIDTH];
        let mut values_at = [0u16; WIDTH];
        for position in 0..WIDTH {
            let mut values = 0usize;
            for byte in 0..=255u8 {
                if seen[position][usize::from(byte >> 6)] & (1 << (byte & 63)) != 0 {
                    // 255 values at most get a number: ABSENT must stay free. A position with
                    // all 256 is impossible (0 and 255 other bytes) only past 255 values.
                    if values == usize::from(ABSENT) {
                        return None;
                    }
                    rank[position][usize::from(byte)] = values as u8;
                    byte_of[position][values] = byte;
                    values += 1;
                }
            }
            // A position where every id has the same byte needs no bits.
            bits[position] = bits_for(values);
            values_at[position] = values as u16;
        }
        let mut shift = [0u8; WIDTH];
        let mut code_bits = 0u32;
        for position in (0..WIDTH).rev() {
            shift[position] = code_bits as u8;
            code_bits += u32::from(bits[position]);
        }
        (code_bits <= max_bits).then_some(IdCodec {
            rank,
            byte_of,
            values: values_at,
            bits,
            shift,
            code_bits,
            longest,
            same_length: shortest == longest,
        })
    }

    /// The length of every id, when they all have one.
    pub fn common_length(&self) -> Option<usize> {
        self.same_length.then_some(self.longest)
    }

    /// The longest id learnt.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// How many byte values are numbered at `position` (at least 1 within the longest id).
    pub fn values_at(&self, position: usize) -> u16 {
        self.values[position]
    }

    /// The number of the byte value `byte` at `position`, if it was seen there.
    #[inline]
    pub fn rank_of(&self, position: usize, byte: u8) -> Option<u8> {
        let rank = self.rank[position][usize::from(byte)];
        (rank != ABSENT).then_some(rank)
    }

    /// Bits of every code.
    pub fn code_bits(&self) -> u32 {
        self.code_bits
    }

    /// The code of `id`, or `None` when `id` cannot be one of the learnt ids.
    #[inline]
    pub fn encode(&self, id: &[u8]) -> Option<u64> {
        if id.len() > self.longest {
            return None;
        }
        let mut code = 0u64;
        // Past the longest id every position holds 0, numbered 0: nothing to add.
        for position in 0..self.longest {
            let byte = id.get(position).copied().unwrap_or(0);
            let rank = self.rank[position][usize::from(byte)];
            if rank == ABSENT {
                return None;
            }
            code |= u64::from(rank) << self.shift[position];
        }
        Some(code)
    }

    /// The id of `code` as its [`crate::id_index::short_key`].
    #[inline]
    pub fn decode_short_key(&self, code: u64) -> u128 {
        let mut bytes = [0u8; WIDTH];
        for (position, byte) in bytes.iter_mut().enumerate() {
            let mask = (1u64 << self.bits[position]) - 1;
            let rank = (code >> self.shift[position]) & mask;
            *byte = self.byte_of[position][rank as usize];
        }
        u128::from_be_bytes(bytes)
    }
}

/// Bits that number `values` distinct values (0 for one).
fn bits_for(values: usize) -> u8 {
    (usize::BITS - values.saturating_sub(1).leading_zeros()) as u8
}

const EMPTY: u64 = u64::MAX;

/// Codes to positions: an open-addressing table whose slots hold `code << position_bits |
/// position`, so one slot read both confirms the code and gives the position.
#[derive(Debug, Clone)]
pub struct CodeIndex {
    slots: Vec<u64>,
    mask: usize,
    shift: u32,
    position_bits: u32,
}

impl CodeIndex {
    /// Bits a table of `count` positions needs beside each code.
    pub fn position_bits(count: usize) -> u32 {
        crate::radix::bits_to_hold(count)
    }

    /// Indexes `codes[i] → i` (codes distinct, each fitting the table beside a position).
    pub fn build(codes: &[u64]) -> CodeIndex {
        use std::sync::atomic::{AtomicU64, Ordering};
        let capacity = (codes.len() * 2).next_power_of_two().max(16);
        let shift = 64 - capacity.trailing_zeros();
        let position_bits = Self::position_bits(codes.len());
        let claimed: Vec<AtomicU64> = (0..capacity)
            .into_par_iter()
            .map(|_| AtomicU64::new(EMPTY))
            .collect();
        codes.par_iter().enumerate().for_each(|(position, &code)| {
            let entry = code << position_bits | position as u64;
            let mut slot = home(code, shift);
            while claimed[slot]
                .compare_exchange(EMPTY, entry, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                slot = (slot + 1) & (capacity - 1);
            }
        });
        CodeIndex {
            slots: claimed.into_iter().map(AtomicU64::into_inner).collect(),
            mask: capacity - 1,
            shift,
            position_bits,
        }
    }

    /// Where `code` starts its probe; fetching that slot early hides the miss.
    #[inline]
    pub fn home(&self, code: u64) -> usize {
        let slot = home(code, self.shift);
        prefetch(&self.slots[slot]);
        slot
    }

    /// The position of `code`, probing from its `home` slot.
    #[inline]
    pub fn find_from(&self, code: u64, home: usize) -> Option<u32> {
        let mut slot = home;
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY {
                return None;
            }
            if entry >> self.position_bits == code {
                return Some((entry & ((1 << self.position_bits) - 1)) as u32);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

/// Home slot: the top bits after a Fibonacci multiply, so codes differing in low bits spread.
#[inline]
fn home(code: u64, shift: u32) -> usize {
    (code.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_index::short_key;

    #[test]
    fn codes_sort_as_ids_and_decode_back() {
        let mut ids: Vec<Vec<u8>> = (0..5000u32)
            .map(|n| format!("d{:07}", n * 7919 % 100_000).into_bytes())
            .collect();
        ids.extend([
            b"d".to_vec(),
            b"d1".to_vec(),
            b"e".to_vec(),
            b"d0000000x".to_vec(),
        ]);
        let codec = IdCodec::learn(ids.len(), |at| ids[at].as_slice(), 63).unwrap();
        let mut by_code: Vec<&Vec<u8>> = ids.iter().collect();
        by_code.sort_by_key(|id| codec.encode(id).unwrap());
        let mut by_bytes: Vec<&Vec<u8>> = ids.iter().collect();
        by_bytes.sort();
        assert_eq!(by_code, by_bytes);
        for id in &ids {
            let code = codec.encode(id).unwrap();
            assert_eq!(codec.decode_short_key(code), short_key(id).unwrap());
        }
        // Unseen characters, longer ids: no code.
        assert_eq!(codec.encode(b"q0000001"), None);
        assert_eq!(codec.encode(b"d0000000xx"), None);
        assert_eq!(codec.common_length(), None);
        let fixed = IdCodec::learn(5000, |at| ids[at].as_slice(), 63).unwrap();
        assert_eq!(fixed.common_length(), Some(8));
        assert_eq!(fixed.encode(b"d"), None);
        assert!(IdCodec::learn(1, |_| b"a\0", 63).is_none());
        assert!(IdCodec::learn(1, |_| b"0123456789abcdefg", 63).is_none());
        assert!(IdCodec::learn(ids.len(), |at| ids[at].as_slice(), 8).is_none());
    }

    #[test]
    fn the_index_finds_each_code_and_nothing_else() {
        let codes: Vec<u64> = (0..10_000u64).map(|n| n * 3 + 1).collect();
        let index = CodeIndex::build(&codes);
        for (position, &code) in codes.iter().enumerate() {
            assert_eq!(
                index.find_from(code, index.home(code)),
                Some(position as u32)
            );
        }
        assert_eq!(index.find_from(2, index.home(2)), None);
    }
}
