//! A period's orders: about 1.5 per distributor (many have none, a few have a dozen), mostly
//! round volumes, ~3% refunded, ~5% dated just outside the period.
//!
//! Generated in two passes over fixed chunks of distributors: the order count of every
//! distributor first (so each chunk knows the number of its first order), then the rows of each
//! chunk from the chunk's own random stream — in parallel, with the same bytes on any machine.

use super::ids::{self, Ids};
use super::network::Network;
use super::rng::{self, Stream};
use super::text::{push_date, push_units};
use engine::calendar::Period;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub const HEADER: &[u8] = b"order_id,distributor_id,date,pv,cv,status\n";

/// How many orders each distributor placed, and where each chunk's numbering starts.
pub struct OrderCounts {
    per_distributor: Vec<u8>,
    /// `first_number[c]`: the number of the first order of chunk `c` (orders count from 1).
    first_number: Vec<u64>,
    pub total: u64,
}

impl OrderCounts {
    /// `target_total`: scale every distributor's count so that the orders number about this
    /// many in all (a busier or a quieter company); `None` keeps the monthly model as it is.
    pub fn draw(network: &Network, seed: u64, target_total: Option<u64>) -> OrderCounts {
        let mut per_distributor = vec![0u8; network.len()];
        per_distributor
            .par_chunks_mut(rng::CHUNK_LEN)
            .enumerate()
            .for_each(|(chunk, counts)| {
                let mut rng = rng::stream(seed, Stream::OrderCounts, chunk as u64);
                let first = chunk * rng::CHUNK_LEN;
                for (offset, count) in counts.iter_mut().enumerate() {
                    *count = order_count(&mut rng, network.terminated[first + offset]);
                }
            });
        if let Some(target_total) = target_total {
            rescale(&mut per_distributor, seed, target_total);
        }
        let chunk_totals: Vec<u64> = per_distributor
            .par_chunks(rng::CHUNK_LEN)
            .map(|counts| counts.iter().map(|&count| u64::from(count)).sum())
            .collect();
        let mut first_number = Vec::with_capacity(chunk_totals.len());
        let mut next = 1u64;
        for chunk_total in chunk_totals {
            first_number.push(next);
            next += chunk_total;
        }
        OrderCounts {
            per_distributor,
            first_number,
            total: next - 1,
        }
    }
}

/// Multiplies every count by `target / total`, rounding up or down at random in proportion
/// (in 1/65,536ths), so the total lands within a fraction of a percent of the target while
/// who orders, and how unevenly, stays as drawn. A count stops at 255.
fn rescale(counts: &mut [u8], seed: u64, target: u64) {
    let total: u64 = counts.par_iter().map(|&count| u64::from(count)).sum();
    if total == 0 {
        return;
    }
    counts
        .par_chunks_mut(rng::CHUNK_LEN)
        .enumerate()
        .for_each(|(chunk, counts)| {
            let mut rng = rng::stream(seed, Stream::OrderScale, chunk as u64);
            for count in counts {
                let scaled = u128::from(*count) * u128::from(target) * 65_536 / u128::from(total)
                    + rng.gen_range(0..65_536u128);
                *count = (scaled >> 16).min(255) as u8;
            }
        });
}

/// Orders placed by one distributor in the month: 0 for 38%, 1 for 30%, 2 for 15%, 3-4 for 10%,
/// 5-12 for 7% (mean about 1.55); terminated distributors rarely order.
fn order_count(rng: &mut ChaCha8Rng, terminated: bool) -> u8 {
    let roll = rng.gen_range(0..100u32);
    if terminated {
        return u8::from(roll < 20);
    }
    match roll {
        0..38 => 0,
        38..68 => 1,
        68..83 => 2,
        83..93 => rng.gen_range(3..=4),
        _ => rng.gen_range(5..=12),
    }
}

/// PV and CV of the usual products, in 1/10,000, with their weights in percent; the remaining
/// 10% are arbitrary amounts with four decimals.
const PRODUCTS: [(u32, u64, u64); 11] = [
    (20, 500_000, 500_000),
    (22, 1_000_000, 1_000_000),
    (10, 1_205_000, 1_205_000),
    (8, 1_500_000, 1_650_000),
    (8, 2_000_000, 1_800_000),
    (6, 250_000, 250_000),
    (5, 750_000, 825_000),
    (4, 999_500, 999_500),
    (3, 3_333_333, 3_666_666),
    (2, 0, 350_000),
    (2, 400_000, 0),
];

fn volumes(rng: &mut ChaCha8Rng) -> (u64, u64) {
    let mut roll = rng.gen_range(0..100u32);
    for (weight, pv, cv) in PRODUCTS {
        if roll < weight {
            return (pv, cv);
        }
        roll -= weight;
    }
    let pv = rng.gen_range(1..=5_000_000u64);
    (pv, pv * rng.gen_range(80..=120u64) / 100)
}

/// Order dates: 2.5% in the four weeks before the period, 2.5% in the four weeks after, the rest
/// inside it — for distributors who joined during the period, mostly on or after joining.
fn order_day(rng: &mut ChaCha8Rng, joined: i32, period: &Period) -> i32 {
    match rng.gen_range(0..1000u32) {
        0..25 => period.first - rng.gen_range(1..=28),
        25..50 => period.last + rng.gen_range(1..=28),
        _ => {
            let after_joining = joined > period.first && rng.gen_range(0..100u32) < 95;
            let first = if after_joining {
                joined.min(period.last)
            } else {
                period.first
            };
            rng.gen_range(first..=period.last)
        }
    }
}

/// Appends the order rows of the distributors `start..end` (chunk `chunk`).
pub fn write_chunk(out: &mut Vec<u8>, chunk: u64, start: usize, end: usize, context: &Context) {
    let mut rng = rng::stream(context.seed, Stream::Orders, chunk);
    let mut number = context.counts.first_number[chunk as usize];
    for i in start..end {
        for _ in 0..context.counts.per_distributor[i] {
            let day = order_day(&mut rng, context.network.joined[i], context.period);
            let (pv, cv) = volumes(&mut rng);
            let refunded = rng.gen_range(0..1000u32) < 30;
            ids::push_order(out, number);
            out.push(b',');
            context.ids.push_distributor(out, i as u32);
            out.push(b',');
            push_date(out, day);
            out.push(b',');
            push_units(out, pv);
            out.push(b',');
            push_units(out, cv);
            out.extend_from_slice(if refunded { b",refunded\n" } else { b",paid\n" });
            number += 1;
        }
    }
}

/// What every chunk of orders reads.
pub struct Context<'a> {
    pub network: &'a Network,
    pub counts: &'a OrderCounts,
    pub ids: Ids,
    pub period: &'a Period,
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::network::Shape;

    fn orders(n: u32, seed: u64) -> (String, u64) {
        let period = Period::parse("2026-11").unwrap();
        let network = Network::build(n, seed, Shape::Random, &period, &|_| {});
        let counts = OrderCounts::draw(&network, seed, None);
        let context = Context {
            network: &network,
            counts: &counts,
            ids: Ids::new(n as u64, seed),
            period: &period,
            seed,
        };
        let mut out = Vec::new();
        for (chunk, start, end) in rng::chunks(network.len()) {
            write_chunk(&mut out, chunk, start, end, &context);
        }
        (String::from_utf8(out).unwrap(), counts.total)
    }

    #[test]
    fn a_target_total_scales_the_counts_and_keeps_who_orders() {
        let period = Period::parse("2026-11").unwrap();
        let network = Network::build(100_000, 3, Shape::Random, &period, &|_| {});
        let drawn = OrderCounts::draw(&network, 3, None);
        let scaled = OrderCounts::draw(&network, 3, Some(300_000));
        let off = scaled.total.abs_diff(300_000) as f64 / 300_000.0;
        assert!(
            off < 0.005,
            "{} orders for a target of 300,000",
            scaled.total
        );
        for (before, after) in drawn.per_distributor.iter().zip(&scaled.per_distributor) {
            assert_eq!(*before == 0, *after == 0, "{before} orders became {after}");
        }
        assert_eq!(
            OrderCounts::draw(&network, 3, Some(300_000)).total,
            scaled.total
        );
    }

    #[test]
    fn orders_are_numbered_and_realistic() {
        let (text, total) = orders(200_000, 4);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len() as u64, total);
        let per_distributor = total as f64 / 200_000.0;
        assert!(
            (1.3..1.7).contains(&per_distributor),
            "{per_distributor} orders per distributor"
        );
        let refunded = rows.iter().filter(|r| r.ends_with(",refunded")).count();
        assert!(
            (rows.len() / 50..rows.len() / 25).contains(&refunded),
            "{refunded} refunded"
        );
        let outside = rows
            .iter()
            .filter(|r| !r.split(',').nth(2).unwrap().starts_with("2026-11"))
            .count();
        assert!(
            (rows.len() / 30..rows.len() / 15).contains(&outside),
            "{outside} outside the period"
        );
        for (k, row) in rows.iter().enumerate() {
            let fields: Vec<&str> = row.split(',').collect();
            assert_eq!(fields.len(), 6);
            assert_eq!(fields[0], format!("o{}", k + 1));
        }
    }

    #[test]
    fn orders_are_deterministic() {
        assert_eq!(orders(70_000, 2), orders(70_000, 2));
        assert_ne!(orders(70_000, 2), orders(70_000, 3));
    }
}
