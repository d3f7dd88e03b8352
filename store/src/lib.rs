//! # Upline's storage
//!
//! The traits by aggregate ([`TenantStore`], [`DistributorStore`], [`OrderStore`],
//! [`VolumeStore`], [`RunStore`], [`LedgerStore`], [`OutboxStore`]; together [`Store`]), the
//! embedded backend ([`embedded::EmbeddedStore`], the default: one data directory, redb, group
//! commit) and the [`conformance`] suite that every backend runs.
//!
//! The traits are shaped for ScyllaDB: each method is one atomic step on one partition (one
//! tenant's one entity with its outbox event), and every wider change is a sequence of
//! idempotent steps that a retry or a restart completes (see [`traits`]).
//!
//! This crate depends on no web framework and the traits on no backend.

pub mod conformance;
pub mod embedded;
pub mod error;
pub mod held_lease;
pub mod model;
pub mod periods;
pub mod scylla;
pub mod tls;
pub mod traits;
pub mod volume_events;

pub use error::{StoreError, StoreResult};
pub use model::*;
pub use traits::*;
