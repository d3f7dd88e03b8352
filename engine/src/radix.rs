//! Sorting packed `u64` keys by radix, and the helpers parallel layouts share.
//!
//! Ids, tree children, order-id hashes and commission lines are all numbers that use only
//! some of their 64 bits: a least-significant-digit radix sort over just those bits reads and
//! writes memory in sequence, a few passes, on both cores — cheaper than comparison sorts.

use rayon::prelude::*;

/// Bits that hold every value `0..=value`.
pub fn bits_to_hold(value: usize) -> u32 {
    usize::BITS - value.leading_zeros()
}

/// A pointer that several threads write through, each to its own elements.
pub(crate) struct DisjointWrites<T>(pub *mut T);
// SAFETY: users write disjoint elements only, within one scope that outlives the pointer.
unsafe impl<T> Sync for DisjointWrites<T> {}

/// Sorts `keys` ascending by bits `low..low + bits`, keeping the order of equal ones: a
/// parallel least-significant-digit radix sort. Keys built in row order with the row in
/// their low bits come out ordered by code, then row.
pub fn radix_sort(keys: &mut Vec<u64>, low: u32, bits: u32) {
    let passes = bits.div_ceil(11).max(1);
    let digit_bits = bits.div_ceil(passes);
    let buckets = 1usize << digit_bits;
    let tasks = (rayon::current_num_threads() * 4).min(keys.len() / 4096 + 1);
    let mut spare: Vec<u64> = Vec::with_capacity(keys.len());
    let mut shift = low;
    for _ in 0..passes {
        let digit = |key: u64| ((key >> shift) as usize) & (buckets - 1);
        let piece = keys.len().div_ceil(tasks);
        let counts: Vec<Vec<usize>> = keys
            .par_chunks(piece.max(1))
            .map(|chunk| {
                let mut count = vec![0usize; buckets];
                for &key in chunk {
                    count[digit(key)] += 1;
                }
                count
            })
            .collect();
        // Where each task writes each bucket: buckets in order, tasks in order within one.
        let mut starts: Vec<Vec<usize>> = vec![vec![0; buckets]; counts.len()];
        let mut next = 0;
        for bucket in 0..buckets {
            for (task, count) in counts.iter().enumerate() {
                starts[task][bucket] = next;
                next += count[bucket];
            }
        }
        let target = DisjointWrites(spare.as_mut_ptr());
        keys.par_chunks(piece.max(1))
            .zip(starts)
            .for_each(|(chunk, mut start)| {
                let target = &target;
                for &key in chunk {
                    let slot = &mut start[digit(key)];
                    // SAFETY: the slots of each (task, bucket) pair are disjoint and lie
                    // inside `0..keys.len()`, the spare vector's capacity.
                    unsafe { target.0.add(*slot).write(key) };
                    *slot += 1;
                }
            });
        // SAFETY: every slot `0..keys.len()` was written exactly once above.
        unsafe { spare.set_len(keys.len()) };
        std::mem::swap(keys, &mut spare);
        spare.clear();
        shift += digit_bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_stable_and_complete() {
        let mut keys: Vec<u64> = (0..100_000u64)
            .map(|row| ((row * 2_654_435_761) % 50_021) << 17 | row)
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        radix_sort(&mut keys, 17, 16);
        assert_eq!(keys, expected);
    }
}
