//! The dead-letter stream: events a consumer gave up on, kept with the reason until an operator
//! replays them (`upline dlq list|replay`).
//!
//! A consumer buries a delivery here before it gives it up on the events stream, so an event is
//! always in one of the two. Replaying publishes the event again on its original subject, with
//! its original headers and a new id (the old one is in the events stream's duplicate window),
//! and removes it from the dead letters once the events stream acknowledged it. An event that
//! came from another region (its `Upline-Region` is not this one) was given up by a consumer of
//! the inbound stream, which takes only what it sources: it is replayed onto the inbound
//! stream's own subjects instead (`{inbound prefix}.{original subject}`).

use crate::bus::{BusError, BusResult, Delivery, EventBus, OutgoingEvent, StoredEvent};
use std::sync::Arc;

/// Headers a dead letter carries besides the event's own.
pub mod headers {
    pub const SUBJECT: &str = "Upline-Dead-Subject";
    pub const ID: &str = "Upline-Dead-Id";
    pub const CONSUMER: &str = "Upline-Dead-Consumer";
    pub const REASON: &str = "Upline-Dead-Reason";
    pub const STREAM_SEQUENCE: &str = "Upline-Dead-Stream-Sequence";
}

/// One dead letter, as `upline dlq list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its position in the dead-letter stream (what `replay` names).
    pub sequence: u64,
    pub consumer: String,
    pub event_id: String,
    pub subject: String,
    pub reason: String,
    /// The region whose outbox the event comes from (the relay's `Upline-Region`).
    pub region: Option<String>,
    pub payload: bytes::Bytes,
}

/// Where replayed letters go.
pub struct ReplayTargets<'a> {
    /// This region: letters of its own events go back on its events stream.
    pub region: &'a str,
    pub events: &'a dyn EventBus,
    /// The inbound stream and its subject prefix, for letters of other regions' events.
    pub inbound: Option<(&'a dyn EventBus, &'a str)>,
}

pub struct DeadLetters {
    dead: Arc<dyn EventBus>,
    subject_prefix: String,
}

/// Headers of the event itself: the bus's own (`Nats-*`) and the dead-letter ones are not.
fn event_headers(headers: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    headers.iter().filter(|(name, _)| {
        let name = name.to_ascii_lowercase();
        !name.starts_with("nats-") && !name.starts_with("upline-dead-")
    })
}

impl DeadLetters {
    /// `dead` is the dead-letter stream; letters go on `{subject_prefix}.{consumer}`.
    pub fn new(dead: Arc<dyn EventBus>, subject_prefix: &str) -> DeadLetters {
        DeadLetters {
            dead,
            subject_prefix: subject_prefix.to_owned(),
        }
    }

    /// Keeps the delivery with the reason. Idempotent: burying it again (after a crash before
    /// the consumer gave it up) stores it once.
    pub async fn bury(&self, delivery: &Delivery, consumer: &str, reason: &str) -> BusResult<()> {
        let mut headers: Vec<(String, String)> =
            event_headers(&delivery.headers).cloned().collect();
        headers.extend([
            (headers::SUBJECT.to_owned(), delivery.subject.clone()),
            (headers::ID.to_owned(), delivery.id.clone()),
            (headers::CONSUMER.to_owned(), consumer.to_owned()),
            (
                headers::REASON.to_owned(),
                reason.replace(['\r', '\n'], " "),
            ),
            (
                headers::STREAM_SEQUENCE.to_owned(),
                delivery.stream_sequence.to_string(),
            ),
        ]);
        let letter = OutgoingEvent {
            id: format!("{consumer}:{}", delivery.id),
            subject: format!("{}.{consumer}", self.subject_prefix),
            headers,
            payload: delivery.payload.clone(),
        };
        let outcome = self.dead.publish(&[letter], None, 1).await;
        match outcome.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Buries the delivery with the reason and gives it up on its bus (never delivered again).
    pub async fn give_up(
        &self,
        delivery: &Delivery,
        consumer: &str,
        reason: &str,
    ) -> BusResult<()> {
        self.bury(delivery, consumer, reason).await?;
        delivery.term().await
    }

    /// Every dead letter, oldest first.
    pub async fn list(&self) -> BusResult<Vec<DeadLetter>> {
        let (first, last) = self.dead.bounds().await?;
        let mut letters = Vec::new();
        if last == 0 {
            return Ok(letters);
        }
        for sequence in first..=last {
            if let Some(event) = self.dead.event(sequence).await? {
                letters.push(letter_of(event));
            }
        }
        Ok(letters)
    }

    /// Publishes the dead letter at `sequence` again on `events` and removes it; returns the
    /// letter, or None when there is no such letter.
    pub async fn replay(
        &self,
        sequence: u64,
        events: &dyn EventBus,
    ) -> BusResult<Option<DeadLetter>> {
        let Some(event) = self.dead.event(sequence).await? else {
            return Ok(None);
        };
        self.replay_onto(event, events, None).await.map(Some)
    }

    /// Publishes the dead letter at `sequence` again where it came from — this region's
    /// events stream, or the inbound stream for another region's event — and removes it.
    pub async fn replay_to(
        &self,
        sequence: u64,
        targets: &ReplayTargets<'_>,
    ) -> BusResult<Option<DeadLetter>> {
        let Some(event) = self.dead.event(sequence).await? else {
            return Ok(None);
        };
        let origin = event.header(crate::bus::headers::REGION).map(str::to_owned);
        let replayed = match origin {
            Some(origin) if origin != targets.region => {
                let Some((inbound, prefix)) = targets.inbound else {
                    return Err(BusError::Refused(format!(
                        "dead letter {sequence} is an event of region {origin}, taken in through \
                         the inbound stream, which the replay was not given"
                    )));
                };
                self.replay_onto(event, inbound, Some(prefix)).await
            }
            _ => self.replay_onto(event, targets.events, None).await,
        };
        replayed.map(Some)
    }

    /// Publishes the stored letter on `bus`, its subject under `subject_prefix` when given,
    /// then removes it from the dead letters.
    async fn replay_onto(
        &self,
        event: StoredEvent,
        bus: &dyn EventBus,
        subject_prefix: Option<&str>,
    ) -> BusResult<DeadLetter> {
        let sequence = event.stream_sequence;
        let letter = letter_of(event.clone());
        let again = OutgoingEvent {
            id: format!("{}:replay:{sequence}", letter.event_id),
            subject: match subject_prefix {
                Some(prefix) => format!("{prefix}.{}", letter.subject),
                None => letter.subject.clone(),
            },
            headers: event_headers(&event.headers).cloned().collect(),
            payload: event.payload,
        };
        let outcome = bus.publish(&[again], None, 1).await;
        if let Some(error) = outcome.error {
            return Err(error);
        }
        self.dead.remove(sequence).await?;
        Ok(letter)
    }
}

fn letter_of(event: StoredEvent) -> DeadLetter {
    let header = |name: &str| event.header(name).unwrap_or_default().to_owned();
    DeadLetter {
        sequence: event.stream_sequence,
        consumer: header(headers::CONSUMER),
        event_id: header(headers::ID),
        subject: header(headers::SUBJECT),
        reason: header(headers::REASON),
        region: event.header(crate::bus::headers::REGION).map(str::to_owned),
        payload: event.payload.clone(),
    }
}
