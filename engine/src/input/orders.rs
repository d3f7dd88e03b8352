//! `orders.csv` → each distributor's period volumes, aggregated as the rows stream by.

use super::lines::{
    check_id, fields, quoted, scan_rows, short_cell_word, split_header, strip_cr, FirstErrors,
    Malformed,
};
use super::{Directory, InputError};
use crate::calendar::{parse_date, Day, Period};
use crate::id_index::{hash_id, BATCH};
use crate::number::parse_volume;
use crate::radix::radix_sort;
use crate::tree::NONE;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

const HEADER: [&str; 6] = ["order_id", "distributor_id", "date", "pv", "cv", "status"];

/// Period volumes per distributor index, in 1/10,000 units. Only `paid` orders dated inside
/// the period count.
pub struct Volumes {
    pub pv: Vec<i64>,
    pub cv: Vec<i64>,
    /// CV of counting orders dated within the distributor's fast-start window
    /// (`joined_on ..= joined_on + window_days`); all zero without a fast-start bonus.
    pub fast_start_cv: Vec<i64>,
    /// Sum of `pv` over everyone (exact, for magnitude checks).
    pub total_pv: i128,
    pub total_cv: i128,
}

/// One order, checked, waiting for its distributor to be looked up with a batch of others.
struct Pending<'a> {
    distributor_id: &'a [u8],
    line: u32,
    date: Day,
    pv: i64,
    cv: i64,
    paid: bool,
}

/// What one parallel task collects from its part of the file.
struct Chunk<'a> {
    /// The chunk's order ids, if they ascend: then none repeats within the chunk.
    order_ids: AscendingRun<'a>,
    pending: Vec<Pending<'a>>,
    first_unknown: Option<(u32, String)>,
    total_pv: i128,
    total_cv: i128,
}

/// The per-distributor sums that orders add to, from many threads.
struct Sums<'r> {
    network: Directory<'r>,
    period: &'r Period,
    fast_start_window_days: Option<u32>,
    /// PV and CV side by side: an order's two additions share one cache miss.
    pv_cv: Vec<[AtomicI64; 2]>,
    fast_start_cv: Vec<AtomicI64>,
}

impl Sums<'_> {
    /// Looks the pending orders' distributors up together, then adds the counting ones.
    fn flush(&self, chunk: &mut Chunk<'_>) {
        let mut found = [0u32; BATCH];
        let mut wanted: [&[u8]; BATCH] = [&[]; BATCH];
        for (at, order) in chunk.pending.iter().enumerate() {
            wanted[at] = order.distributor_id;
        }
        let waiting = chunk.pending.len();
        self.network
            .index
            .get_batch(self.network.ids, &wanted[..waiting], NONE, &mut found);
        for (order, &distributor) in chunk.pending.iter().zip(&found[..waiting]) {
            if distributor == NONE {
                if chunk
                    .first_unknown
                    .as_ref()
                    .is_none_or(|(line, _)| order.line < *line)
                {
                    chunk.first_unknown = Some((
                        order.line,
                        format!("unknown distributor id {}", quoted(order.distributor_id)),
                    ));
                }
                continue;
            }
            if !(order.paid && self.period.contains(order.date)) {
                continue;
            }
            let at = distributor as usize;
            let [pv, cv] = &self.pv_cv[at];
            pv.fetch_add(order.pv, Ordering::Relaxed);
            cv.fetch_add(order.cv, Ordering::Relaxed);
            chunk.total_pv += i128::from(order.pv);
            chunk.total_cv += i128::from(order.cv);
            if let Some(window) = self.fast_start_window_days {
                let joined = self.network.joined_on[at];
                if joined <= order.date
                    && i64::from(order.date) <= i64::from(joined) + i64::from(window)
                {
                    self.fast_start_cv[at].fetch_add(order.cv, Ordering::Relaxed);
                }
            }
        }
        chunk.pending.clear();
    }
}

pub fn read_orders(
    file: &str,
    bytes: &[u8],
    network: Directory<'_>,
    period: &Period,
    fast_start_window_days: Option<u32>,
) -> Result<Volumes, InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let count = network.len();
    let atomic_zeros = |count: usize| {
        (0..count)
            .into_par_iter()
            .map(|_| AtomicI64::new(0))
            .collect::<Vec<_>>()
    };
    let sums = Sums {
        network,
        period,
        fast_start_window_days,
        pv_cv: (0..count)
            .into_par_iter()
            .map(|_| [AtomicI64::new(0), AtomicI64::new(0)])
            .collect(),
        fast_start_cv: atomic_zeros(if fast_start_window_days.is_some() {
            count
        } else {
            0
        }),
    };
    let new_chunk = |_rows: usize| Chunk {
        order_ids: AscendingRun::default(),
        pending: Vec::with_capacity(BATCH),
        first_unknown: None,
        total_pv: 0,
        total_cv: 0,
    };
    let (mut chunks, mut errors) = scan_rows(body, new_chunk, |line, text, chunk: &mut Chunk| {
        let [order_id, distributor_id, date, pv_cell, cv_cell, status] =
            fields::<6>(text).map_err(Malformed)?;
        check_id(order_id, "order_id").map_err(Malformed)?;
        check_id(distributor_id, "distributor_id").map_err(Malformed)?;
        let date = parse_date(date).ok_or_else(|| {
            Malformed(format!(
                "date {} is not a date of the form YYYY-MM-DD",
                quoted(date)
            ))
        })?;
        let pv = parse_volume(pv_cell)
            .map_err(|error| Malformed(format!("pv {} {}", quoted(pv_cell), error.describe())))?;
        let cv = parse_volume(cv_cell)
            .map_err(|error| Malformed(format!("cv {} {}", quoted(cv_cell), error.describe())))?;
        let paid = match status {
            b"paid" => true,
            b"refunded" => false,
            _ => {
                return Err(Malformed(format!(
                    "unknown status {}; use paid or refunded",
                    quoted(status)
                )))
            }
        };
        chunk.order_ids.extend(order_id);
        chunk.pending.push(Pending {
            distributor_id,
            line,
            date,
            pv,
            cv,
            paid,
        });
        if chunk.pending.len() == BATCH {
            sums.flush(chunk);
        }
        Ok(())
    });
    chunks.par_iter_mut().for_each(|chunk| sums.flush(chunk));
    for chunk in &mut chunks {
        if let Some((line, message)) = chunk.first_unknown.take() {
            errors.note_reference(line, message);
        }
    }
    if errors.syntax.is_none() {
        note_duplicate_order_ids(body, &chunks, &mut errors);
    }
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let into_plain = |values: Vec<AtomicI64>| {
        values
            .into_iter()
            .map(AtomicI64::into_inner)
            .collect::<Vec<i64>>()
    };
    let fast_start_cv = if fast_start_window_days.is_some() {
        into_plain(sums.fast_start_cv)
    } else {
        vec![0; count]
    };
    // Both sums of a distributor in one visit.
    let (pv, cv) = sums
        .pv_cv
        .par_iter()
        .map(|[pv, cv]| (pv.load(Ordering::Relaxed), cv.load(Ordering::Relaxed)))
        .unzip();
    Ok(Volumes {
        pv,
        cv,
        fast_start_cv,
        total_pv: chunks.iter().map(|chunk| chunk.total_pv).sum(),
        total_cv: chunks.iter().map(|chunk| chunk.total_cv).sum(),
    })
}

/// Order ids in the order an order system numbers them: shorter before longer, then by
/// bytes (`o9` before `o10`). Exported orders usually come this way; then ids are distinct
/// without being stored or sorted.
#[derive(Default)]
struct AscendingRun<'a> {
    first: Option<&'a [u8]>,
    last: &'a [u8],
    broken: bool,
}

impl<'a> AscendingRun<'a> {
    #[inline]
    fn extend(&mut self, id: &'a [u8]) {
        if self.broken {
            return;
        }
        if self.first.is_none() {
            self.first = Some(id);
        } else if !numbered_before(self.last, id) {
            self.broken = true;
        }
        self.last = id;
    }
}

/// An order id's place in numbering order: length first, then bytes.
#[inline]
fn numbering_key(id: &[u8]) -> (usize, &[u8]) {
    (id.len(), id)
}

#[inline]
fn numbered_before(left: &[u8], right: &[u8]) -> bool {
    // Ids of up to 8 bytes (`o1234567`) compare as big-endian words, without a call to
    // `memcmp`: equal lengths pad both alike.
    if left.len() == right.len() && left.len() <= 8 {
        return short_cell_word(left, 0).swap_bytes() < short_cell_word(right, 0).swap_bytes();
    }
    numbering_key(left) < numbering_key(right)
}

/// The order id of a row: its first field.
fn order_id_of(row: &[u8]) -> &[u8] {
    row.split(|&byte| byte == b',').next().unwrap_or_default()
}

/// Whether the runs prove every id distinct: each ascends, and they do not overlap.
fn runs_are_distinct(runs: &[&AscendingRun<'_>]) -> bool {
    let mut ranges = Vec::with_capacity(runs.len());
    for run in runs {
        if run.broken {
            return false;
        }
        if let Some(first) = run.first {
            ranges.push((first, run.last));
        }
    }
    ranges.sort_unstable_by_key(|&(first, _)| numbering_key(first));
    ranges
        .windows(2)
        .all(|pair| numbered_before(pair[0].1, pair[1].0))
}

/// Finds repeated order ids, unless the chunks' ascending runs already rule them out. The
/// order ids' 64-bit hashes are sorted to see whether any two are equal; only then (a
/// repeat, or very rarely a collision) is the file read again for the ids with those hashes,
/// which are compared on their text.
fn note_duplicate_order_ids(body: &[u8], chunks: &[Chunk], errors: &mut FirstErrors) {
    let runs: Vec<&AscendingRun> = chunks.iter().map(|chunk| &chunk.order_ids).collect();
    if runs_are_distinct(&runs) {
        return;
    }
    let (hashes_by_chunk, _) = scan_rows(
        body,
        Vec::with_capacity,
        |_, text, hashes: &mut Vec<u64>| {
            hashes.push(hash_id(order_id_of(text)));
            Ok(())
        },
    );
    let hashes: Vec<u64> = hashes_by_chunk.concat();
    let repeated: HashSet<u64> = repeated_values(hashes).into_iter().collect();
    if repeated.is_empty() {
        return;
    }
    let mut lines_by_id: HashMap<&[u8], Vec<u32>> = HashMap::new();
    for (text, line) in body.split(|&byte| byte == b'\n').zip(2u32..) {
        let order_id = order_id_of(strip_cr(text));
        if repeated.contains(&hash_id(order_id)) {
            lines_by_id.entry(order_id).or_default().push(line);
        }
    }
    for (order_id, lines) in lines_by_id {
        // Lines were collected in file order.
        if let [first, second, ..] = lines[..] {
            errors.note_reference(
                second,
                format!(
                    "duplicate order_id {} (first at line {first})",
                    quoted(order_id)
                ),
            );
        }
    }
}

/// The values that occur more than once in `values`. One radix pass groups them by their top
/// bits; each group then fits in cache and is sorted on its own, in parallel — cheaper than
/// sorting the whole vector.
fn repeated_values(mut values: Vec<u64>) -> Vec<u64> {
    const GROUP_BITS: u32 = 12;
    radix_sort(&mut values, 64 - GROUP_BITS, GROUP_BITS);
    let mut groups: Vec<&mut [u64]> = Vec::new();
    let mut rest: &mut [u64] = &mut values;
    while let Some(&first) = rest.first() {
        let top = first >> (64 - GROUP_BITS);
        let length = rest.partition_point(|&value| value >> (64 - GROUP_BITS) == top);
        let (group, tail) = rest.split_at_mut(length);
        groups.push(group);
        rest = tail;
    }
    groups
        .into_par_iter()
        .flat_map_iter(|group| {
            group.sort_unstable();
            group
                .windows(2)
                .filter(|pair| pair[0] == pair[1])
                .map(|pair| pair[0])
                .collect::<Vec<u64>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_values_are_found_once_per_pair() {
        let mut values: Vec<u64> = (0..200_000u64)
            .map(|n| n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        values.push(values[17]);
        values.push(values[199_999]);
        let mut found = super::repeated_values(values.clone());
        found.sort_unstable();
        let mut expected = vec![values[17], values[199_999]];
        expected.sort_unstable();
        assert_eq!(found, expected);
        assert!(super::repeated_values(Vec::new()).is_empty());
    }

    fn run_of<'a>(ids: &[&'a str]) -> super::AscendingRun<'a> {
        let mut run = super::AscendingRun::default();
        for id in ids {
            run.extend(id.as_bytes());
        }
        run
    }

    #[test]
    fn ascending_runs_rule_out_repeats_only_when_they_do_not_overlap() {
        let first = run_of(&["o1", "o2", "o9"]);
        let second = run_of(&["o10", "o11", "o100"]);
        let empty = run_of(&[]);
        assert!(super::runs_are_distinct(&[&second, &empty, &first]));
        // An id of the first run inside the second's range, a repeat within a run, a
        // descent: each leaves the question to the hashes.
        let overlapping = run_of(&["o5", "o6"]);
        assert!(!super::runs_are_distinct(&[&first, &overlapping]));
        let touching = run_of(&["o9", "o12"]);
        assert!(!super::runs_are_distinct(&[&first, &touching]));
        assert!(!super::runs_are_distinct(&[&run_of(&["o1", "o1"])]));
        assert!(!super::runs_are_distinct(&[&run_of(&["o2", "o1"])]));
        assert!(super::runs_are_distinct(&[&run_of(&["a", "b", "aa"])]));
    }

    #[test]
    fn numbering_order_is_length_then_bytes_for_short_and_long_ids() {
        let ids = [
            "a",
            "b",
            "o1",
            "o9",
            "oA",
            "x0",
            "o10",
            "o1234567",
            "o1234568",
            "p0000000",
            "o12345678",
            "o12345679",
            "o22345678",
            "o123456789012",
        ];
        for left in ids {
            for right in ids {
                let expected = (left.len(), left) < (right.len(), right);
                assert_eq!(
                    super::numbered_before(left.as_bytes(), right.as_bytes()),
                    expected,
                    "{left} {right}"
                );
            }
        }
    }
}
