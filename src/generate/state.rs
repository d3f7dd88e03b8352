//! The previous period's state (`state.csv`): a row for about 30% of the distributors, with
//! binary carries and the highest rank reached so far.
//!
//! The rows, carries and ranks are drawn the same way for every plan; a plan without `binary`
//! gets zero carries, and the `unilevel` plan (one rank) gets `Member` everywhere.

use super::ids::Ids;
use super::rng::{self, Stream};
use super::text::push_units;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub const HEADER: &[u8] = b"id,carry_left,carry_right,highest_rank\n";

/// How the state's columns are adapted to the plan.
#[derive(Clone, Copy, Debug)]
pub struct StateStyle {
    /// Whether the plan has a binary bonus (otherwise carries are written as 0).
    pub carries: bool,
    /// The plan's rank names, ascending.
    pub ranks: &'static [&'static str],
}

/// Percent of distributors with a state row.
const ROW_PERCENT: u32 = 30;

/// Highest rank reached so far: cumulative percent thresholds for ranks 0.. (Member 62%,
/// Bronze 20%, Silver 11%, Gold 5%, Platinum 2%).
const RANK_THRESHOLDS: [u32; 5] = [62, 82, 93, 98, 100];

fn carry(rng: &mut ChaCha8Rng) -> u64 {
    const USUAL: [u64; 6] = [250_000, 500_000, 1_000_000, 1_205_000, 2_500_000, 3_000_000];
    match rng.gen_range(0..100u32) {
        0..50 => 0,
        50..70 => USUAL[rng.gen_range(0..USUAL.len())],
        70..90 => rng.gen_range(1..=100u64) * 250_000,
        _ => rng.gen_range(1..=50_000_000u64),
    }
}

/// Appends the state rows of distributors `start..end` (chunk `chunk`).
pub fn write_chunk(
    out: &mut Vec<u8>,
    chunk: u64,
    start: usize,
    end: usize,
    seed: u64,
    ids: &Ids,
    style: StateStyle,
) {
    let mut rng = rng::stream(seed, Stream::State, chunk);
    for i in start..end {
        if rng.gen_range(0..100u32) >= ROW_PERCENT {
            continue;
        }
        let left = carry(&mut rng);
        let right = carry(&mut rng);
        let roll = rng.gen_range(0..100u32);
        let rank = RANK_THRESHOLDS
            .iter()
            .position(|&t| roll < t)
            .unwrap_or(0)
            .min(style.ranks.len() - 1);
        ids.push_distributor(out, i as u32);
        out.push(b',');
        push_units(out, if style.carries { left } else { 0 });
        out.push(b',');
        push_units(out, if style.carries { right } else { 0 });
        out.push(b',');
        out.extend_from_slice(style.ranks[rank].as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANKS: &[&str] = &["Member", "Bronze", "Silver", "Gold", "Platinum"];

    fn state(style: StateStyle) -> String {
        let ids = Ids::new(100_000, 5);
        let mut out = Vec::new();
        for (chunk, start, end) in rng::chunks(100_000) {
            write_chunk(&mut out, chunk, start, end, 5, &ids, style);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_rows_whatever_the_plan() {
        let binary = state(StateStyle {
            carries: true,
            ranks: RANKS,
        });
        let matrix = state(StateStyle {
            carries: false,
            ranks: RANKS,
        });
        let unilevel = state(StateStyle {
            carries: false,
            ranks: &["Member"],
        });
        let ids = |text: &str| {
            text.lines()
                .map(|l| l.split(',').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&binary), ids(&matrix));
        assert_eq!(ids(&binary), ids(&unilevel));
        let rows = binary.lines().count();
        assert!((27_000..33_000).contains(&rows), "{rows} rows");
        assert!(binary.lines().any(|l| l.ends_with(",Platinum")));
        assert!(binary.lines().any(|l| !l.contains(",0,0,")));
        assert!(matrix.lines().all(|l| l.contains(",0,0,")));
        assert!(unilevel.lines().all(|l| l.ends_with(",0,0,Member")));
    }
}
