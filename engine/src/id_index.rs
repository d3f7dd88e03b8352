//! Distributor ids: an owned table in ascending byte order, and a hash index from id to
//! position in it.
//!
//! [`IdTable`] keeps every id in one byte arena (plus end offsets), so the input file can be
//! released once it is read and a sweep in id order reads memory in sequence. [`IdIndex`] is
//! a read-only open-addressing table of positions, built in parallel with compare-and-swap and
//! read lock-free from many threads: a lookup costs one probe and one comparison against the
//! table. Why not `HashMap<&[u8], u32>`: building it is single-threaded and it stores 24 bytes
//! per entry instead of 4 per slot.

use crate::id_code::{CodeIndex, IdCodec};
use crate::id_rank::{DenseCodec, RankIndex};
use rayon::prelude::*;
use std::hash::Hasher;
use std::ops::Index;
use std::sync::atomic::{AtomicU32, Ordering};

const EMPTY: u32 = u32::MAX;

/// Ids in ascending byte order.
#[derive(Debug, Clone, Default)]
pub struct IdTable {
    bytes: Vec<u8>,
    /// `ends[i]` is where id `i` ends in `bytes`; it starts where id `i - 1` ends. Empty when
    /// every id has `width` bytes: id `i` is then at `i * width`, found without a lookup.
    ends: Vec<u64>,
    width: usize,
    count: usize,
}

impl IdTable {
    /// Copies `count` ids, the i-th given by `id(i)`, into one arena (in parallel).
    pub fn collect<'a>(count: usize, id: impl Fn(usize) -> &'a [u8] + Sync) -> IdTable {
        IdTable::build(
            count,
            |at| id(at).len(),
            |at, place| place.copy_from_slice(id(at)),
        )
    }

    /// The table of ids given as [`short_key`]s, without reading the ids themselves: for
    /// ids in a file, in an order unrelated to the file's, that spares a cache miss per id.
    pub fn from_short_keys(count: usize, key: impl Fn(usize) -> u128 + Sync) -> IdTable {
        IdTable::build(
            count,
            |at| short_key_length(key(at)),
            |at, place| place.copy_from_slice(&key(at).to_be_bytes()[..place.len()]),
        )
    }

    /// `count` ids of `width` bytes each, the i-th written by `write(i, place)` (in parallel).
    pub fn fixed_width(
        count: usize,
        width: usize,
        write: impl Fn(usize, &mut [u8]) + Sync,
    ) -> IdTable {
        let mut bytes = vec![0u8; count * width];
        if width > 0 {
            bytes
                .par_chunks_mut(width)
                .with_min_len(4096)
                .enumerate()
                .for_each(|(at, place)| write(at, place));
        }
        IdTable {
            bytes,
            ends: Vec::new(),
            width,
            count,
        }
    }

    /// The table of `count` ids of `width` bytes each, laid out in `bytes` in order.
    pub fn of_fixed_width(bytes: Vec<u8>, width: usize, count: usize) -> IdTable {
        assert_eq!(bytes.len(), width * count, "ids of {width} bytes");
        IdTable {
            bytes,
            ends: Vec::new(),
            width,
            count,
        }
    }

    /// Lays out `count` ids of lengths `length(i)` in one arena, each written by
    /// `write(i, place)` (in parallel).
    fn build(
        count: usize,
        length: impl Fn(usize) -> usize + Sync,
        write: impl Fn(usize, &mut [u8]) + Sync,
    ) -> IdTable {
        let lengths: Vec<u64> = (0..count)
            .into_par_iter()
            .map(|at| length(at) as u64)
            .collect();
        let mut ends = Vec::with_capacity(count);
        let mut total = 0u64;
        for length in lengths {
            total += length;
            ends.push(total);
        }
        let mut bytes = vec![0u8; total as usize];
        // Fill the arena in parallel, one run of consecutive ids per task.
        const IDS_PER_TASK: usize = 1 << 16;
        let mut pieces: Vec<(usize, &mut [u8])> = Vec::with_capacity(count / IDS_PER_TASK + 1);
        let mut rest: &mut [u8] = &mut bytes;
        let mut start = 0u64;
        for first in (0..count).step_by(IDS_PER_TASK) {
            let last = (first + IDS_PER_TASK).min(count) - 1;
            let (piece, tail) = rest.split_at_mut((ends[last] - start) as usize);
            pieces.push((first, piece));
            rest = tail;
            start = ends[last];
        }
        pieces.into_par_iter().for_each(|(first, piece)| {
            let mut at = 0;
            let mut previous_end = if first == 0 { 0 } else { ends[first - 1] };
            let last = (first + IDS_PER_TASK).min(count);
            for (index, &end) in (first..last).zip(&ends[first..last]) {
                let length = (end - previous_end) as usize;
                write(index, &mut piece[at..at + length]);
                at += length;
                previous_end = end;
            }
        });
        IdTable {
            bytes,
            ends,
            width: 0,
            count,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[inline]
    pub fn get(&self, at: usize) -> &[u8] {
        let (start, end) = self.bounds(at);
        &self.bytes[start..end]
    }

    #[inline]
    fn bounds(&self, at: usize) -> (usize, usize) {
        if self.ends.is_empty() {
            (at * self.width, (at + 1) * self.width)
        } else {
            let start = if at == 0 {
                0
            } else {
                self.ends[at - 1] as usize
            };
            (start, self.ends[at] as usize)
        }
    }
}

impl IdTable {
    /// The first of two steps that fetch id `at` ahead of use without waiting: its bounds.
    #[inline]
    pub fn prefetch_bounds(&self, at: usize) {
        if !self.ends.is_empty() {
            prefetch(&self.ends[at.saturating_sub(1)]);
            prefetch(&self.ends[at]);
        }
    }

    /// The second step, once the bounds are likely cached: the id's bytes.
    #[inline]
    pub fn prefetch_bytes(&self, at: usize) {
        let (start, _) = self.bounds(at);
        if let Some(first_byte) = self.bytes.get(start) {
            prefetch(first_byte);
        }
    }

    /// Asks the CPU to fetch the memory of id `at` ahead of use.
    #[inline]
    fn prefetch(&self, at: usize) {
        self.prefetch_bounds(at);
        self.prefetch_bytes(at);
    }
}

/// An id of at most 16 bytes, none of them zero, as one number: its bytes big-endian, padded
/// with zeros. Such keys compare exactly as the ids do (a shorter id that is a prefix of a
/// longer one is padded with zeros, which sort first), and the id can be read back from the
/// key. `None` for any other id.
#[inline]
pub fn short_key(id: &[u8]) -> Option<u128> {
    if id.len() > 16 || id.contains(&0) {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..id.len()].copy_from_slice(id);
    Some(u128::from_be_bytes(bytes))
}

/// The length of the id a [`short_key`] stands for.
#[inline]
fn short_key_length(key: u128) -> usize {
    16 - (key.trailing_zeros() / 8) as usize
}

/// Ids looked up together by [`IdIndex::get_batch`].
pub const BATCH: usize = 16;

/// A hint to load the cache line holding `value`; no effect on other architectures.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            value as *const T as *const i8,
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

impl Index<usize> for IdTable {
    type Output = [u8];

    #[inline]
    fn index(&self, at: usize) -> &[u8] {
        self.get(at)
    }
}

pub struct IdIndex {
    slots: Vec<u32>,
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

/// Byte equality without a libc call for ids of up to 16 bytes (almost all of them): two
/// overlapping 8-byte loads per side.
#[inline]
fn same_bytes(left: &[u8], right: &[u8]) -> bool {
    let length = left.len();
    if length != right.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    match length {
        8..=16 => {
            word(left, 0) == word(right, 0) && word(left, length - 8) == word(right, length - 8)
        }
        0..=7 => left.iter().zip(right).all(|(a, b)| a == b),
        _ => left == right,
    }
}

/// Ids to positions by whichever index suits the ids: codes when every id has one
/// ([`crate::id_code`]), their bytes otherwise.
pub enum IdLookup {
    /// Ids that fill much of their space: positions counted in a bitmap ([`crate::id_rank`]).
    Dense {
        codec: DenseCodec,
        index: RankIndex,
    },
    Coded {
        codec: IdCodec,
        index: CodeIndex,
    },
    Hashed(IdIndex),
}

impl IdLookup {
    /// The position of `id` in `table`.
    #[inline]
    pub fn get(&self, table: &IdTable, id: &[u8]) -> Option<u32> {
        match self {
            IdLookup::Dense { codec, index } => index.position(codec.encode(id)?),
            IdLookup::Coded { codec, index } => {
                let code = codec.encode(id)?;
                index.find_from(code, index.home(code))
            }
            IdLookup::Hashed(index) => index.get(table, id),
        }
    }

    /// Looks up at most [`BATCH`] ids at once, writing each one's position, or `missing`,
    /// into `found`; their cache misses overlap.
    pub fn get_batch(&self, table: &IdTable, ids: &[&[u8]], missing: u32, found: &mut [u32]) {
        match self {
            IdLookup::Dense { codec, index } => {
                let mut wanted = [u64::MAX; BATCH];
                for (at, id) in ids.iter().enumerate() {
                    if let Some(number) = codec.encode(id) {
                        index.prefetch(number);
                        wanted[at] = number;
                    }
                }
                for (at, &number) in wanted[..ids.len()].iter().enumerate() {
                    found[at] = index.position(number).unwrap_or(missing);
                }
            }
            IdLookup::Coded { codec, index } => {
                let mut wanted = [(u64::MAX, 0usize); BATCH];
                for (at, id) in ids.iter().enumerate() {
                    if let Some(code) = codec.encode(id) {
                        wanted[at] = (code, index.home(code));
                    }
                }
                for (at, &(code, home)) in wanted[..ids.len()].iter().enumerate() {
                    found[at] = if code == u64::MAX {
                        missing
                    } else {
                        index.find_from(code, home).unwrap_or(missing)
                    };
                }
            }
            IdLookup::Hashed(index) => index.get_batch(table, ids, missing, found),
        }
    }

    /// The position of `id_of(item)` for every item (or `missing`), looked up in parallel
    /// groups of [`BATCH`] so that their cache misses overlap.
    pub fn get_all<'i, T: Sync>(
        &self,
        table: &IdTable,
        items: &[T],
        id_of: impl Fn(&T) -> &'i [u8] + Sync,
        missing: u32,
    ) -> Vec<u32> {
        let mut resolved = vec![missing; items.len()];
        resolved
            .par_chunks_mut(BATCH)
            .zip(items.par_chunks(BATCH))
            .with_min_len(256)
            .for_each(|(found, group)| {
                let mut wanted: [&[u8]; BATCH] = [&[]; BATCH];
                for (at, item) in group.iter().enumerate() {
                    wanted[at] = id_of(item);
                }
                self.get_batch(table, &wanted[..group.len()], missing, found);
            });
        resolved
    }
}

impl IdIndex {
    /// Indexes the (distinct) ids of `table` so that `get(table, table[i]) == Some(i)`.
    pub fn build(table: &IdTable) -> IdIndex {
        // Load at most 1/2: linear probing stays short.
        let capacity = (table.len() * 2).next_power_of_two().max(16);
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        let claimed: Vec<AtomicU32> = (0..capacity)
            .into_par_iter()
            .map(|_| AtomicU32::new(EMPTY))
            .collect();
        (0..table.len()).into_par_iter().for_each(|index| {
            let mut slot = home_slot(&table[index], shift);
            while claimed[slot]
                .compare_exchange(EMPTY, index as u32, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                slot = (slot + 1) & mask;
            }
        });
        let slots = claimed.into_iter().map(AtomicU32::into_inner).collect();
        IdIndex { slots, mask, shift }
    }

    /// Looks up a group of ids (at most [`BATCH`]) at once, writing each one's position, or
    /// `missing`, into `found`. The memory each lookup needs — its home slot, then the table
    /// entry the slot names, then that entry's bytes — is requested for the whole group before
    /// any of it is used, so the cache misses of different ids overlap instead of queueing.
    pub fn get_batch(&self, table: &IdTable, ids: &[&[u8]], missing: u32, found: &mut [u32]) {
        debug_assert!(ids.len() <= BATCH && found.len() >= ids.len());
        let mut homes = [0usize; BATCH];
        for (at, id) in ids.iter().enumerate() {
            homes[at] = home_slot(id, self.shift);
            prefetch(&self.slots[homes[at]]);
        }
        for &home in &homes[..ids.len()] {
            let candidate = self.slots[home];
            if candidate != EMPTY {
                table.prefetch(candidate as usize);
            }
        }
        for (at, id) in ids.iter().enumerate() {
            found[at] = self.probe_from(table, id, homes[at]).unwrap_or(missing);
        }
    }

    /// The position of `id` in the table the index was built from.
    #[inline]
    pub fn get(&self, table: &IdTable, id: &[u8]) -> Option<u32> {
        self.probe_from(table, id, home_slot(id, self.shift))
    }

    #[inline]
    fn probe_from(&self, table: &IdTable, id: &[u8], home: usize) -> Option<u32> {
        let mut slot = home;
        loop {
            let candidate = self.slots[slot];
            if candidate == EMPTY {
                return None;
            }
            if same_bytes(&table[candidate as usize], id) {
                return Some(candidate);
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
        owned.extend((0..1000).map(|i| format!("a-very-long-identifier-{i}")));
        owned.push("x".repeat(300));
        owned.sort();
        let table = IdTable::collect(owned.len(), |at| owned[at].as_bytes());
        assert_eq!(table.len(), owned.len());
        let index = IdIndex::build(&table);
        for (i, id) in owned.iter().enumerate() {
            assert_eq!(&table[i], id.as_bytes());
            assert_eq!(index.get(&table, id.as_bytes()), Some(i as u32));
        }
        assert_eq!(index.get(&table, b"d10000"), None);
        let short: Vec<&String> = owned.iter().filter(|id| id.len() <= 16).collect();
        let keyed = IdTable::from_short_keys(short.len(), |at| {
            short_key(short[at].as_bytes()).expect("a short id")
        });
        for (at, id) in short.iter().enumerate() {
            assert_eq!(&keyed[at], id.as_bytes());
        }
        assert_eq!(short_key(b"a\0b"), None);
        assert_eq!(short_key(&[b'x'; 17]), None);
        assert!(short_key(b"ab") < short_key(b"ab!") && short_key(b"ab!") < short_key(b"b"));
        assert_eq!(index.get(&table, b"a-very-long-identifier-1000"), None);
        assert_eq!(index.get(&table, "x".repeat(299).as_bytes()), None);
        assert_eq!(index.get(&table, b""), None);
        let probes: Vec<&[u8]> = vec![
            b"d5",
            b"nope",
            owned[7].as_bytes(),
            b"",
            owned.last().unwrap().as_bytes(),
        ];
        let mut found = [0u32; BATCH];
        index.get_batch(&table, &probes, u32::MAX, &mut found);
        assert_eq!(
            &found[..5],
            &[
                index.get(&table, b"d5").unwrap(),
                u32::MAX,
                7,
                u32::MAX,
                owned.len() as u32 - 1
            ]
        );
    }
}
