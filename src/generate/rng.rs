//! Independent, reproducible random streams. Every piece of the output draws from its own
//! ChaCha8 stream keyed by `(seed, stream, chunk)`, so parallel chunks give the same bytes
//! whatever the thread count, and the sponsor tree, orders and state do not depend on the plan
//! (the placement has its own stream).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Distributors per parallel chunk. Fixed: changing it changes the output.
pub const CHUNK_LEN: usize = 1 << 16;

/// What a random stream is used for.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Sponsors = 1,
    Status = 2,
    RowOrder = 3,
    Placement = 4,
    OrderCounts = 5,
    Orders = 6,
    State = 7,
    OrderScale = 8,
}

/// The random stream `stream` of chunk `chunk` for `seed`.
pub fn stream(seed: u64, stream: Stream, chunk: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(stream as u64).to_le_bytes());
    key[16..24].copy_from_slice(&chunk.to_le_bytes());
    key[24..].copy_from_slice(b"upline-g");
    ChaCha8Rng::from_seed(key)
}

/// The chunks of `0..len`: `(chunk index, first index, end index)`.
pub fn chunks(len: usize) -> impl Iterator<Item = (u64, usize, usize)> + Clone {
    (0..len.div_ceil(CHUNK_LEN))
        .map(move |c| (c as u64, c * CHUNK_LEN, ((c + 1) * CHUNK_LEN).min(len)))
}
