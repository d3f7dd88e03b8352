//! Looking distributors up by id: a read-only open-addressing hash table of indexes into a
//! sorted id list, built in parallel, read lock-free from many threads.
//!
//! Each 16-byte slot holds the index, the id's length and its first 11 bytes, so a lookup of
//! a short id (the common case) touches one cache line and never the id list; longer ids
//! compare their tail against the list. Why not `HashMap<&[u8], u32>`: building it is
//! single-threaded and every probe chases a pointer to the key.

use rayon::prelude::*;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU32, Ordering};

const EMPTY: u32 = u32::MAX;
const INLINE_BYTES: usize = 11;

#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Slot {
    index: u32,
    length: u8,
    head: [u8; INLINE_BYTES],
}

impl Slot {
    const EMPTY: Slot = Slot {
        index: EMPTY,
        length: 0,
        head: [0; INLINE_BYTES],
    };

    #[inline]
    fn for_id(index: u32, id: &[u8]) -> Slot {
        // A byte loop, not `copy_from_slice`: a variable-length copy becomes a libc call.
        let mut head = [0u8; INLINE_BYTES];
        for (at, &byte) in id.iter().take(INLINE_BYTES).enumerate() {
            head[at] = byte;
        }
        Slot {
            index,
            length: id.len().min(255) as u8,
            head,
        }
    }
}

pub struct IdIndex {
    slots: Vec<Slot>,
    mask: usize,
    shift: u32,
}

/// A 64-bit hash of an id (FxHash, fixed seed: the same on every run).
#[inline]
pub fn hash_id(id: &[u8]) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(id);
    hasher.finish()
}

/// The first slot to probe: the top bits of the hash after a Fibonacci multiply, because
/// FxHash's low bits are weak for ids that differ only in their last bytes.
#[inline]
fn home_slot(id: &[u8], shift: u32) -> usize {
    (hash_id(id).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

impl IdIndex {
    /// Indexes `ids` (which must be distinct) so that `get(ids, ids[i]) == Some(i)`.
    pub fn build(ids: &[&[u8]]) -> IdIndex {
        // Load at most 3/4: linear probing stays short.
        let capacity = (ids.len() * 4 / 3 + 1).next_power_of_two().max(16);
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        let claimed: Vec<AtomicU32> = (0..capacity)
            .into_par_iter()
            .map(|_| AtomicU32::new(EMPTY))
            .collect();
        ids.par_iter().enumerate().for_each(|(index, id)| {
            let mut slot = home_slot(id, shift);
            while claimed[slot]
                .compare_exchange(EMPTY, index as u32, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                slot = (slot + 1) & mask;
            }
        });
        let slots = claimed
            .into_par_iter()
            .map(|claim| match claim.into_inner() {
                EMPTY => Slot::EMPTY,
                index => Slot::for_id(index, ids[index as usize]),
            })
            .collect();
        IdIndex { slots, mask, shift }
    }

    /// The index of `id` in the list the table was built from.
    #[inline]
    pub fn get(&self, ids: &[&[u8]], id: &[u8]) -> Option<u32> {
        let probe = Slot::for_id(0, id);
        let mut slot = home_slot(id, self.shift);
        loop {
            let candidate = &self.slots[slot];
            if candidate.index == EMPTY {
                return None;
            }
            if candidate.length == probe.length
                && candidate.head == probe.head
                && (id.len() <= INLINE_BYTES || ids[candidate.index as usize] == id)
            {
                return Some(candidate.index);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_nothing_else() {
        let mut owned: Vec<String> = (0..10_000).map(|i| format!("d{i}")).collect();
        // Long ids that share their first 11 bytes exercise the tail comparison.
        owned.extend((0..1000).map(|i| format!("a-very-long-identifier-{i}")));
        owned.push("x".repeat(300));
        let ids: Vec<&[u8]> = owned.iter().map(|id| id.as_bytes()).collect();
        let index = IdIndex::build(&ids);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&ids, id), Some(i as u32));
        }
        assert_eq!(index.get(&ids, b"d10000"), None);
        assert_eq!(index.get(&ids, b"a-very-long-identifier-1000"), None);
        assert_eq!(index.get(&ids, "x".repeat(299).as_bytes()), None);
        assert_eq!(index.get(&ids, "x".repeat(301).as_bytes()), None);
        assert_eq!(index.get(&ids, b""), None);
    }
}
