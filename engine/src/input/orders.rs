//! `orders.csv` → each distributor's period volumes, aggregated as the rows stream by.

use super::lines::{
    check_id, fields, quoted, scan_rows, split_header, strip_cr, FirstErrors, RowError,
};
use super::{InputError, Network};
use crate::calendar::{parse_date, Period};
use crate::id_index::hash_id;
use crate::number::parse_volume;
use rayon::prelude::*;
use std::collections::HashMap;
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

#[derive(Default)]
struct Chunk {
    order_ids: Vec<(u64, u32)>,
    total_pv: i128,
    total_cv: i128,
}

pub fn read_orders(
    file: &str,
    bytes: &[u8],
    network: &Network,
    period: &Period,
    fast_start_window_days: Option<u32>,
) -> Result<Volumes, InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let count = network.len();
    let atomic_zeros = || {
        (0..count)
            .into_par_iter()
            .map(|_| AtomicI64::new(0))
            .collect::<Vec<_>>()
    };
    let (pv, cv) = (atomic_zeros(), atomic_zeros());
    let fast_start_cv = if fast_start_window_days.is_some() {
        atomic_zeros()
    } else {
        Vec::new()
    };
    let new_chunk = |capacity: usize| Chunk {
        order_ids: Vec::with_capacity(capacity),
        ..Chunk::default()
    };
    let (chunks, mut errors) = scan_rows(body, new_chunk, |line, text, chunk: &mut Chunk| {
        let [order_id, distributor_id, date, pv_cell, cv_cell, status] =
            fields::<6>(text).map_err(RowError::Syntax)?;
        check_id(order_id, "order_id").map_err(RowError::Syntax)?;
        check_id(distributor_id, "distributor_id").map_err(RowError::Syntax)?;
        let date = parse_date(date).ok_or_else(|| {
            RowError::Syntax(format!(
                "date {} is not a date of the form YYYY-MM-DD",
                quoted(date)
            ))
        })?;
        let order_pv = parse_volume(pv_cell).map_err(|error| {
            RowError::Syntax(format!("pv {} {}", quoted(pv_cell), error.describe()))
        })?;
        let order_cv = parse_volume(cv_cell).map_err(|error| {
            RowError::Syntax(format!("cv {} {}", quoted(cv_cell), error.describe()))
        })?;
        let paid = match status {
            b"paid" => true,
            b"refunded" => false,
            _ => {
                return Err(RowError::Syntax(format!(
                    "unknown status {}; use paid or refunded",
                    quoted(status)
                )))
            }
        };
        chunk.order_ids.push((hash_id(order_id), line));
        let Some(distributor) = network.lookup(distributor_id) else {
            return Err(RowError::Reference(format!(
                "unknown distributor id {}",
                quoted(distributor_id)
            )));
        };
        if paid && period.contains(date) {
            let at = distributor as usize;
            pv[at].fetch_add(order_pv, Ordering::Relaxed);
            cv[at].fetch_add(order_cv, Ordering::Relaxed);
            chunk.total_pv += i128::from(order_pv);
            chunk.total_cv += i128::from(order_cv);
            if let Some(window) = fast_start_window_days {
                let joined = network.joined_on[at];
                if joined <= date && i64::from(date) <= i64::from(joined) + i64::from(window) {
                    fast_start_cv[at].fetch_add(order_cv, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    });
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
        into_plain(fast_start_cv)
    } else {
        vec![0; count]
    };
    Ok(Volumes {
        pv: into_plain(pv),
        cv: into_plain(cv),
        fast_start_cv,
        total_pv: chunks.iter().map(|chunk| chunk.total_pv).sum(),
        total_cv: chunks.iter().map(|chunk| chunk.total_cv).sum(),
    })
}

/// Finds repeated order ids: equal hashes are candidates, confirmed on the ids' text.
fn note_duplicate_order_ids(body: &[u8], chunks: &[Chunk], errors: &mut FirstErrors) {
    let mut hashed: Vec<(u64, u32)> =
        Vec::with_capacity(chunks.iter().map(|chunk| chunk.order_ids.len()).sum());
    for chunk in chunks {
        hashed.extend_from_slice(&chunk.order_ids);
    }
    hashed.par_sort_unstable();
    let mut candidate_groups: Vec<&[(u64, u32)]> = Vec::new();
    let mut start = 0;
    while start < hashed.len() {
        let mut end = start + 1;
        while end < hashed.len() && hashed[end].0 == hashed[start].0 {
            end += 1;
        }
        if end - start > 1 {
            candidate_groups.push(&hashed[start..end]);
        }
        start = end;
    }
    if candidate_groups.is_empty() {
        return;
    }
    let wanted: HashMap<u32, ()> = candidate_groups
        .iter()
        .flat_map(|group| group.iter().map(|&(_, line)| (line, ())))
        .collect();
    let texts = order_ids_at_lines(body, &wanted);
    for group in candidate_groups {
        let mut by_text: HashMap<&[u8], Vec<u32>> = HashMap::new();
        for &(_, line) in group {
            by_text.entry(texts[&line]).or_default().push(line);
        }
        for (text, mut lines) in by_text {
            if lines.len() > 1 {
                lines.sort_unstable();
                errors.note_reference(
                    lines[1],
                    format!(
                        "duplicate order_id {} (first at line {})",
                        quoted(text),
                        lines[0]
                    ),
                );
            }
        }
    }
}

fn order_ids_at_lines<'a>(body: &'a [u8], wanted: &HashMap<u32, ()>) -> HashMap<u32, &'a [u8]> {
    body.split(|&byte| byte == b'\n')
        .zip(2u32..)
        .filter(|(_, line)| wanted.contains_key(line))
        .map(|(text, line)| {
            let text = strip_cr(text);
            (
                line,
                text.split(|&byte| byte == b',').next().unwrap_or_default(),
            )
        })
        .collect()
}
