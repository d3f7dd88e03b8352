//! The event bus: the relay publishes outbox events to it, workers consume them.
//!
//! Two implementations keep one delivery contract, so a test of the contract runs on both:
//! [`jetstream::JetStreamBus`] (NATS JetStream, the deployed shape) and [`memory::MemoryBus`]
//! (in-process, for `upline serve` and `upline demo` with no external service).
//!
//! The contract:
//! - **One ordered stream.** [`EventBus::publish`] appends events in the order given. An event
//!   can be chained to the one before it (`Nats-Expected-Last-Msg-Id`): the bus refuses it unless
//!   that event is the last one stored, so a lost publish can never let a later event overtake
//!   it. The stored events of one call are therefore always a prefix of the call's events.
//! - **Deduplication by id.** An event whose id was stored before (within the duplicate window)
//!   is acknowledged as a duplicate and not stored again (`Nats-Msg-Id`).
//! - **At-least-once delivery to durable consumers.** A consumer, by name, keeps its position
//!   across restarts. Each delivery is acknowledged ([`Delivery::ack`]), handed back for a later
//!   redelivery ([`Delivery::nak`]) or given up ([`Delivery::term`]); one neither acknowledged
//!   nor given up within the ack wait is delivered again. First deliveries come in stream order;
//!   redeliveries may come after later events, so consumers must tolerate both duplicates and
//!   events out of order.

pub(crate) mod connection_log;
pub mod diagnosis;
pub mod identity;
pub mod jetstream;
pub mod memory;
pub mod subject;
pub mod tls;

use async_trait::async_trait;
use bytes::Bytes;
use std::time::Duration;

/// Headers the relay sets on every event.
pub mod headers {
    /// The outbox sequence of the event in the region that wrote it.
    pub const OUTBOX_SEQUENCE: &str = "Upline-Outbox-Sequence";
    /// The tenant the event belongs to.
    pub const TENANT: &str = "Upline-Tenant";
    /// The event kind (`order.created`, ...).
    pub const KIND: &str = "Upline-Kind";
    /// The region whose outbox the event comes from.
    pub const REGION: &str = "Upline-Region";
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus cannot be reached or did not answer in time: retry later.
    #[error("the event bus is unavailable: {0}")]
    Unavailable(String),
    /// A chained event's predecessor is not the last stored event: an earlier publish was
    /// lost, so publish again from the first event not acknowledged.
    #[error(
        "the stream's last event is {actual:?}, not {expected:?} (an earlier publish was lost)"
    )]
    WrongLastEvent { expected: String, actual: String },
    /// A request the bus refused for good (configuration, permissions, limits).
    #[error("the event bus refused the request: {0}")]
    Refused(String),
}

pub type BusResult<T> = Result<T, BusError>;

/// An event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// Deduplication id (`Nats-Msg-Id`).
    pub id: String,
    pub subject: String,
    /// Header name and value pairs.
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

/// What the bus answered for one stored (or deduplicated) event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The event's position in the stream (the original one for a duplicate).
    pub stream_sequence: u64,
    pub duplicate: bool,
}

/// How one publish call ended: receipts for the acknowledged prefix of the events, in order,
/// and the error that stopped it, if any.
#[derive(Debug)]
pub struct PublishOutcome {
    pub receipts: Vec<Receipt>,
    pub error: Option<BusError>,
}

/// An event as the stream holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub stream_sequence: u64,
    pub id: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl StoredEvent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A durable consumer's settings.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// The durable name: consumers of the same name share one position.
    pub durable: String,
    /// Only subjects matching this NATS pattern (`*` one token, `>` the rest); None for all.
    pub filter_subject: Option<String>,
    /// A delivery neither acknowledged nor given up within this is delivered again.
    pub ack_wait: Duration,
    /// Deliveries outstanding at once.
    pub max_ack_pending: usize,
    /// A consumer nobody fetched from for this long is removed (a process's own consumer,
    /// left behind when the process ended); None: kept.
    pub inactive_threshold: Option<Duration>,
}

impl ConsumerConfig {
    pub fn new(durable: impl Into<String>) -> ConsumerConfig {
        ConsumerConfig {
            durable: durable.into(),
            filter_subject: None,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            inactive_threshold: None,
        }
    }
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Appends the events in order with at most `in_flight` awaiting their acknowledgement.
    /// Each event but the first is chained to the one before it; the first is chained to
    /// `chain_after` when given. Stops at the first event not acknowledged.
    async fn publish(
        &self,
        events: &[OutgoingEvent],
        chain_after: Option<&str>,
        in_flight: usize,
    ) -> PublishOutcome;
    /// The last stored event; None when the stream is empty.
    async fn last_event(&self) -> BusResult<Option<StoredEvent>> {
        let (_, last) = self.bounds().await?;
        self.event(last).await
    }
    /// The first and last stream sequences held (both 0 when the stream never held one).
    async fn bounds(&self) -> BusResult<(u64, u64)>;
    /// The event at that position; None when there is none (never stored, or removed).
    async fn event(&self, stream_sequence: u64) -> BusResult<Option<StoredEvent>>;
    /// Removes the event at that position; false when there was none.
    async fn remove(&self, stream_sequence: u64) -> BusResult<bool>;
    /// The durable consumer of that name, created if missing.
    async fn consumer(&self, config: ConsumerConfig) -> BusResult<Box<dyn Consumer>>;
}

#[async_trait]
pub trait Consumer: Send + Sync {
    /// Up to `max` deliveries; waits at most `wait` when there is none.
    async fn fetch(&self, max: usize, wait: Duration) -> BusResult<Vec<Delivery>>;
    /// The stream sequence below which every event was acknowledged or given up.
    async fn ack_floor(&self) -> BusResult<u64>;
}

/// How a consumer settles one delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    Ack,
    /// Deliver again after the delay.
    Nak(Duration),
    /// Never deliver again (given up: the consumer dead-lettered it).
    Term,
}

/// Settles a delivery on the bus that delivered it.
#[async_trait]
pub trait Settler: Send + Sync {
    async fn settle(&self, how: Settle) -> BusResult<()>;
}

/// One delivery of one event.
pub struct Delivery {
    pub id: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
    pub stream_sequence: u64,
    /// 1 on the first delivery.
    pub delivered: u64,
    settler: Box<dyn Settler>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The tenant and the outbox sequence of the event (its headers), or what is missing.
    pub fn origin(&self) -> Result<(&str, u64), &'static str> {
        let tenant_id = self
            .header(headers::TENANT)
            .ok_or("no Upline-Tenant header")?;
        let sequence = self
            .header(headers::OUTBOX_SEQUENCE)
            .and_then(|value| value.parse().ok())
            .ok_or("no numeric Upline-Outbox-Sequence header")?;
        Ok((tenant_id, sequence))
    }

    pub async fn ack(&self) -> BusResult<()> {
        self.settler.settle(Settle::Ack).await
    }

    pub async fn nak(&self, delay: Duration) -> BusResult<()> {
        self.settler.settle(Settle::Nak(delay)).await
    }

    pub async fn term(&self) -> BusResult<()> {
        self.settler.settle(Settle::Term).await
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Delivery")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish()
    }
}
