//! The real nats-servers the binary's event tests use: the shared server of the test run
//! (`UPLINE_NATS` when set, otherwise `tests/services/nats.sh`'s `shared`, built and started
//! if needed) and servers of a test's own for the outage tests.
#![allow(dead_code)]

#[path = "../services/nats_servers.rs"]
mod nats_servers;
pub use nats_servers::*;

/// The shared server's client URL. Panics with the script's output when it cannot be started:
/// a test that needs NATS never passes without it.
pub fn nats_url() -> String {
    shared_nats()
}

/// A server of the test's own, removed however the test ends.
pub struct OwnServer(pub String);

impl Drop for OwnServer {
    fn drop(&mut self) {
        remove_nats(&self.0);
    }
}
