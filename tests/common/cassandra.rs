//! The one real Cassandra node of a test run and unique keyspace prefixes: the store's test
//! support (`store::scylla::testing`), shared with the store's and the API's tests.
#![allow(unused_imports)]

pub use store::scylla::testing::{node, unique_prefix, DATACENTER};
