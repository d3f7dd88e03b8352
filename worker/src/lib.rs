//! # Upline's workers
//!
//! Heavy work leaves the request path through the event bus: the [`relay`] publishes the
//! store's outbox to the [`bus`] (NATS JetStream, or in process in embedded mode), and
//! consumers such as the [`volumes`] worker apply the events, each effect idempotent.

pub mod bus;
pub mod closes;
pub mod dead_letters;
pub mod genealogy;
pub mod payouts;
pub mod relay;
pub mod requests;
pub mod restatements;
pub mod streams;
pub mod volumes;
