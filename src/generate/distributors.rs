//! `distributors.csv`: one row per distributor in a shuffled order — neither sorted by id nor
//! parents first — so a reader cannot depend on the order.

use super::ids::Ids;
use super::network::{Network, NO_SPONSOR};
use super::rng::{self, Stream};
use super::text::push_date;
use engine::placement::PlacementTree;
use rand::Rng;

pub const HEADER: &[u8] = b"id,sponsor_id,placement_id,leg,joined_on,status\n";

/// The order rows are written in: row `k` holds distributor `order[k]`.
pub struct RowOrder {
    order: Vec<u32>,
}

impl RowOrder {
    /// A uniformly random permutation (Fisher–Yates on the row-order stream).
    pub fn shuffled(len: usize, seed: u64) -> RowOrder {
        let mut order: Vec<u32> = (0..len as u32).collect();
        let mut rng = rng::stream(seed, Stream::RowOrder, 0);
        for k in (1..len).rev() {
            let j = rng.gen_range(0..=k as u32) as usize;
            order.swap(k, j);
        }
        RowOrder { order }
    }
}

/// What every chunk of rows reads.
pub struct Context<'a> {
    pub network: &'a Network,
    /// The placement tree (node id = distributor index) for binary and matrix plans.
    pub tree: Option<&'a PlacementTree>,
    pub ids: Ids,
    pub rows: &'a RowOrder,
}

/// Appends rows `start..end`.
pub fn write_rows(out: &mut Vec<u8>, start: usize, end: usize, context: &Context) {
    let ids = &context.ids;
    for &i in &context.rows.order[start..end] {
        ids.push_distributor(out, i);
        out.push(b',');
        let sponsor = context.network.sponsor[i as usize];
        if sponsor != NO_SPONSOR {
            ids.push_distributor(out, sponsor);
        }
        out.push(b',');
        if let Some(position) = context.tree.and_then(|tree| tree.position_of(i)) {
            ids.push_distributor(out, position.parent);
            out.push(b',');
            match (context.tree.map(PlacementTree::width), position.slot) {
                (Some(2), 1) => out.push(b'L'),
                (Some(2), _) => out.push(b'R'),
                (_, slot) => super::text::push_u64(out, u64::from(slot)),
            }
        } else {
            out.push(b',');
        }
        out.push(b',');
        push_date(out, context.network.joined[i as usize]);
        out.extend_from_slice(if context.network.terminated[i as usize] {
            b",terminated\n"
        } else {
            b",active\n"
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_order_is_a_permutation() {
        let rows = RowOrder::shuffled(100_000, 3);
        let mut sorted = rows.order.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(k, &i)| k as u32 == i));
        assert_ne!(rows.order, sorted);
        assert_eq!(RowOrder::shuffled(100_000, 3).order, rows.order);
        assert_eq!(RowOrder::shuffled(1, 3).order, vec![0]);
    }
}
