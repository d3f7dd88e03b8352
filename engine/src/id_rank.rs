//! Ids numbered densely, and an index that finds an id's position by counting bits.
//!
//! Why: when a network's ids fill much of the space their characters allow (`d` and seven
//! digits: ten million possible, one to ten million used; numeric ids `1..n`), each id can be
//! numbered in that space exactly — a mixed-radix number over the byte values seen at each
//! position ([`IdCodec`]'s numbering) — and one bit per possible number marks the ids present.
//! An id's position in id order is then the count of marked bits below its own: no sort and no
//! hash table, and the bitmap is a few bytes per id, so lookups mostly hit the cache instead
//! of memory. Sparser ids (a hundredth of their space or less) keep the hashed codes.

use crate::id_code::{IdCodec, WIDTH};
use crate::id_index::prefetch;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The value of a byte never seen at a position.
const UNSEEN: u64 = u64::MAX;
/// Bits of space allowed per id: beyond this the bitmap outgrows the hashed index.
const SPACE_PER_ID: u64 = 64;

/// Each id's number in the space of all ids its positions' byte values can form, in id order.
#[derive(Debug, Clone)]
pub struct DenseCodec {
    /// `value[p][byte]`: the byte's number at position `p` times the weight of `p`, or
    /// [`UNSEEN`].
    value: Box<[[u64; 256]; WIDTH]>,
    longest: usize,
    space: u64,
}

impl DenseCodec {
    /// The dense numbering of the ids `codec` learnt, if their space holds at most
    /// [`SPACE_PER_ID`] numbers per id (`count` ids).
    pub fn of(codec: &IdCodec, count: usize) -> Option<DenseCodec> {
        let longest = codec.longest();
        let limit = (count as u64).max(1).saturating_mul(SPACE_PER_ID);
        let mut value = Box::new([[UNSEEN; 256]; WIDTH]);
        // The last position weighs 1; each earlier one weighs the product of those after it.
        let mut weight = 1u64;
        for position in (0..longest).rev() {
            for byte in 0..=255u8 {
                if let Some(rank) = codec.rank_of(position, byte) {
                    value[position][usize::from(byte)] = u64::from(rank) * weight;
                }
            }
            weight = weight.checked_mul(u64::from(codec.values_at(position)))?;
            if weight > limit {
                return None;
            }
        }
        Some(DenseCodec {
            value,
            longest,
            space: weight,
        })
    }

    /// How many numbers the space holds: every id's number is below it.
    pub fn space(&self) -> u64 {
        self.space
    }

    /// The number of `id`, or `None` when `id` cannot be one of the learnt ids.
    #[inline]
    pub fn encode(&self, id: &[u8]) -> Option<u64> {
        if id.len() > self.longest {
            return None;
        }
        let mut number = 0u64;
        let mut unseen = false;
        for (position, &byte) in id.iter().enumerate() {
            let value = self.value[position][usize::from(byte)];
            unseen |= value == UNSEEN;
            number = number.wrapping_add(value);
        }
        // Past its end an id holds 0 at each position, which may not have been seen there.
        for position in id.len()..self.longest {
            let value = self.value[position][0];
            unseen |= value == UNSEEN;
            number = number.wrapping_add(value);
        }
        (!unseen).then_some(number)
    }
}

/// One word of the bitmap and the count of marked bits in the words before it.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(16))]
struct RankWord {
    bits: u64,
    before: u32,
}

/// The set of numbers present, answering each one's position among them.
#[derive(Debug, Clone)]
pub struct RankIndex {
    words: Vec<RankWord>,
}

impl RankIndex {
    /// Marks every number of `numbers` (each below `space`); `None` if one repeats.
    pub fn build(space: u64, numbers: &[u64]) -> Option<RankIndex> {
        let marks: Vec<AtomicU64> = (0..space.div_ceil(64))
            .into_par_iter()
            .map(|_| AtomicU64::new(0))
            .collect();
        let repeated = AtomicBool::new(false);
        numbers
            .par_iter()
            .with_min_len(1 << 14)
            .for_each(|&number| {
                let bit = 1u64 << (number & 63);
                if marks[(number >> 6) as usize].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
                    repeated.store(true, Ordering::Relaxed);
                }
            });
        if repeated.into_inner() {
            return None;
        }
        let mut before = 0u32;
        let words = marks
            .into_iter()
            .map(|mark| {
                let bits = mark.into_inner();
                let word = RankWord { bits, before };
                before += bits.count_ones();
                word
            })
            .collect();
        Some(RankIndex { words })
    }

    /// Asks the CPU for the word of `number` ahead of [`RankIndex::position`].
    #[inline]
    pub fn prefetch(&self, number: u64) {
        if let Some(word) = self.words.get((number >> 6) as usize) {
            prefetch(word);
        }
    }

    /// How many present numbers are below `number`, if `number` is present.
    #[inline]
    pub fn position(&self, number: u64) -> Option<u32> {
        let word = self.words.get((number >> 6) as usize)?;
        let bit = 1u64 << (number & 63);
        (word.bits & bit != 0).then(|| word.before + (word.bits & (bit - 1)).count_ones())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(ids: &[Vec<u8>]) -> IdCodec {
        IdCodec::learn(ids.len(), |at| ids[at].as_slice(), 63).unwrap()
    }

    #[test]
    fn numbers_sort_as_ids_and_count_to_positions() {
        let mut ids: Vec<Vec<u8>> = (0..3000u32)
            .map(|n| format!("d{:04}", n * 7 % 10_000).into_bytes())
            .collect();
        ids.extend([b"d".to_vec(), b"d1".to_vec(), b"e5".to_vec()]);
        let codec = learn(&ids);
        let dense = DenseCodec::of(&codec, ids.len()).expect("dense enough");
        let numbers: Vec<u64> = ids.iter().map(|id| dense.encode(id).unwrap()).collect();
        assert!(numbers.iter().all(|&number| number < dense.space()));
        let index = RankIndex::build(dense.space(), &numbers).expect("distinct");
        let mut sorted = ids.clone();
        sorted.sort();
        for (position, id) in sorted.iter().enumerate() {
            let number = dense.encode(id).unwrap();
            assert_eq!(index.position(number), Some(position as u32), "{id:?}");
        }
        // An id whose bytes were all seen, but not together, has a number and no position;
        // unseen bytes or a longer id have no number.
        let absent = dense.encode(b"e1").expect("e and 1 were seen");
        assert_eq!(index.position(absent), None);
        assert_eq!(dense.encode(b"x1"), None);
        assert_eq!(dense.encode(b"d00000"), None);
    }

    #[test]
    fn repeats_and_sparse_spaces_are_refused() {
        let ids: Vec<Vec<u8>> = vec![b"a1".to_vec(), b"b2".to_vec()];
        let dense = DenseCodec::of(&learn(&ids), 2).unwrap();
        let number = dense.encode(b"a1").unwrap();
        assert!(RankIndex::build(dense.space(), &[number, number]).is_none());
        // Two ids of twelve characters each spread over 2^12 numbers per id: too sparse.
        let sparse: Vec<Vec<u8>> = vec![b"abcdefghijkl".to_vec(), b"bcdefghijklm".to_vec()];
        assert!(DenseCodec::of(&learn(&sparse), 2).is_none());
    }
}
