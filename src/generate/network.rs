//! The sponsor tree: who enrolled whom, when, and who is terminated.
//!
//! Distributor `i` is the `i`-th to join; its sponsor always joined earlier (`sponsor[i] < i`),
//! and index 0 is the root, the company's house account. Ids, row order and the files are
//! derived from these indexes elsewhere.

use super::rng::{self, Stream};
use engine::calendar::Period;
use rand::Rng;
use rayon::prelude::*;

/// No sponsor (the root).
pub const NO_SPONSOR: u32 = u32::MAX;

/// The shape of the sponsor tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Heavy-tailed recruiting (preferential attachment): most distributors sponsor nobody or a
    /// few, a handful sponsor thousands.
    Random,
    /// Everyone is sponsored by the previous distributor: one line N-1 deep.
    Chain,
    /// Everyone is sponsored by the root.
    Star,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Random => "random",
            Shape::Chain => "chain",
            Shape::Star => "star",
        }
    }
}

/// Share (in percent) of new distributors who pick their sponsor in proportion to the
/// sponsor's recruits so far (preferential attachment); the others pick a uniformly random
/// earlier distributor. 55% gives a recruit-count tail of exponent about 2.8.
const PREFERENTIAL_PERCENT: u32 = 55;
/// Share of terminated distributors, in 1/1000 (the root never is).
const TERMINATED_PER_MILLE: u32 = 50;
/// How far back the network goes before the period starts.
const HISTORY_DAYS: u64 = 730;
/// Share of distributors who joined during the period, in percent.
const JOINED_IN_PERIOD_PERCENT: u64 = 8;

/// The genealogy of a generated network, indexed by join order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// `sponsor[i] < i`, or [`NO_SPONSOR`] for the root (index 0).
    pub sponsor: Vec<u32>,
    /// Day joined (days since 1970-01-01), non-decreasing with the index.
    pub joined: Vec<i32>,
    pub terminated: Vec<bool>,
}

impl Network {
    pub fn len(&self) -> usize {
        self.sponsor.len()
    }

    /// Builds the network of `count >= 1` distributors; `progress` is called with the number of
    /// distributors done since the last call.
    pub fn build(
        count: u32,
        seed: u64,
        shape: Shape,
        period: &Period,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Network {
        assert!(count >= 1, "a network has at least its root");
        let n = count as usize;
        let sponsor = sponsors(n, seed, shape, progress);
        let joined = (0..n)
            .into_par_iter()
            .map(|i| join_day(i as u64, n as u64, period))
            .collect();
        let mut terminated = vec![false; n];
        terminated
            .par_chunks_mut(rng::CHUNK_LEN)
            .enumerate()
            .for_each(|(chunk, flags)| {
                let mut rng = rng::stream(seed, Stream::Status, chunk as u64);
                for flag in flags.iter_mut() {
                    *flag = rng.gen_range(0..1000) < TERMINATED_PER_MILLE;
                }
            });
        terminated[0] = false;
        Network {
            sponsor,
            joined,
            terminated,
        }
    }

    /// Depth of every distributor in the sponsor tree (the root has depth 0).
    pub fn depths(&self) -> Vec<u32> {
        let mut depth = vec![0u32; self.len()];
        for i in 1..self.len() {
            depth[i] = depth[self.sponsor[i] as usize] + 1;
        }
        depth
    }

    /// Number of distributors each one sponsored personally.
    pub fn recruit_counts(&self) -> Vec<u32> {
        let mut count = vec![0u32; self.len()];
        for &s in &self.sponsor[1..] {
            count[s as usize] += 1;
        }
        count
    }
}

fn sponsors(n: usize, seed: u64, shape: Shape, progress: &(dyn Fn(u64) + Sync)) -> Vec<u32> {
    let mut sponsor = Vec::with_capacity(n);
    sponsor.push(NO_SPONSOR);
    match shape {
        Shape::Chain => sponsor.extend(0..n as u32 - 1),
        Shape::Star => sponsor.extend(std::iter::repeat_n(0, n - 1)),
        Shape::Random => {
            let mut rng = rng::stream(seed, Stream::Sponsors, 0);
            for i in 1..n as u32 {
                // Copying the sponsor of a uniformly chosen earlier non-root distributor picks a
                // sponsor with probability proportional to its recruits so far.
                let s = if i >= 2 && rng.gen_range(0..100) < PREFERENTIAL_PERCENT {
                    sponsor[rng.gen_range(1..i) as usize]
                } else {
                    rng.gen_range(0..i)
                };
                sponsor.push(s);
                if (i as usize).is_multiple_of(rng::CHUNK_LEN) {
                    progress(rng::CHUNK_LEN as u64);
                }
            }
            progress(((n - 1) % rng::CHUNK_LEN) as u64 + 1);
            return sponsor;
        }
    }
    progress(n as u64);
    sponsor
}

/// The day distributor `i` of `n` joined: the first `n - n·8%` spread over the two years before
/// the period with a linearly growing join rate (`day ∝ sqrt(i)`, integer arithmetic only), the
/// rest spread over the period itself. Non-decreasing in `i`, so sponsors joined first.
fn join_day(i: u64, n: u64, period: &Period) -> i32 {
    let in_period = n * JOINED_IN_PERIOD_PERCENT / 100;
    let before = n - in_period;
    if i < before {
        let offset = (i * HISTORY_DAYS * HISTORY_DAYS / before).isqrt();
        period.first - HISTORY_DAYS as i32 + offset as i32
    } else {
        let offset = (i - before) * period.days() as u64 / in_period;
        period.first + offset as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        Period::parse("2026-11").unwrap()
    }

    fn build(n: u32, seed: u64, shape: Shape) -> Network {
        Network::build(n, seed, shape, &period(), &|_| {})
    }

    #[test]
    fn same_seed_same_network_other_seed_other_network() {
        let a = build(50_000, 7, Shape::Random);
        assert_eq!(a, build(50_000, 7, Shape::Random));
        assert_ne!(a.sponsor, build(50_000, 8, Shape::Random).sponsor);
    }

    #[test]
    fn every_non_root_has_an_earlier_sponsor() {
        for shape in [Shape::Random, Shape::Chain, Shape::Star] {
            let net = build(10_000, 3, shape);
            assert_eq!(net.sponsor[0], NO_SPONSOR);
            assert!(!net.terminated[0]);
            for i in 1..net.len() {
                assert!((net.sponsor[i] as usize) < i, "{shape:?}: {i}");
                assert!(net.joined[net.sponsor[i] as usize] <= net.joined[i]);
            }
        }
    }

    #[test]
    fn shapes() {
        let chain = build(1000, 1, Shape::Chain);
        assert_eq!(chain.depths()[999], 999);
        let star = build(1000, 1, Shape::Star);
        assert_eq!(star.recruit_counts()[0], 999);
        assert_eq!(*star.depths().iter().max().unwrap(), 1);
        let single = build(1, 1, Shape::Random);
        assert_eq!(single.sponsor, vec![NO_SPONSOR]);
    }

    #[test]
    fn random_recruiting_is_heavy_tailed() {
        let net = build(200_000, 11, Shape::Random);
        let counts = net.recruit_counts();
        let few = counts.iter().filter(|&&c| c <= 2).count();
        let max = *counts.iter().max().unwrap();
        assert!(
            few * 100 / counts.len() >= 75,
            "{few} of {} sponsor at most 2",
            counts.len()
        );
        assert!(max >= 300, "the biggest sponsor has only {max} recruits");
        let terminated = net.terminated.iter().filter(|&&t| t).count();
        assert!(
            (8_000..12_000).contains(&terminated),
            "{terminated} terminated"
        );
    }

    #[test]
    fn join_dates_span_two_years_and_the_period() {
        let p = period();
        let net = build(100_000, 5, Shape::Random);
        assert_eq!(net.joined[0], p.first - 730);
        assert_eq!(*net.joined.last().unwrap(), p.last);
        assert!(net.joined.windows(2).all(|w| w[0] <= w[1]));
        let inside = net.joined.iter().filter(|&&d| d >= p.first).count();
        assert_eq!(inside, 8_000);
    }
}
