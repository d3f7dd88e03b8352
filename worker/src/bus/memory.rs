//! The in-process bus: the delivery contract of [`super`] without a server, for the embedded
//! mode. Events live in memory for the life of the process (the outbox, not the bus, is what
//! survives a restart there: the relay publishes again what was not acknowledged).

use super::subject;
use super::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long an id is remembered for deduplication (JetStream's default window).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Rings on every stored event and every nak, so waiting fetches look again.
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// Stream sequence `n` is `events[n - 1]`; None once removed.
    events: Vec<Option<Stored>>,
    /// Id → stream sequence, for the ids stored within the duplicate window.
    ids: HashMap<String, u64>,
    /// The same ids in the order stored, with the time: the oldest leave first.
    ids_by_age: VecDeque<(Instant, String)>,
    consumers: HashMap<String, ConsumerState>,
}

struct Stored {
    id: String,
    subject: String,
    headers: Vec<(String, String)>,
    payload: Bytes,
}

impl Stored {
    fn to_event(&self, stream_sequence: u64) -> StoredEvent {
        StoredEvent {
            stream_sequence,
            id: self.id.clone(),
            subject: self.subject.clone(),
            headers: self.headers.clone(),
            payload: self.payload.clone(),
        }
    }
}

struct ConsumerState {
    config: ConsumerConfig,
    /// The next stream sequence not delivered yet.
    next: u64,
    /// Delivered, not settled: stream sequence → (deliveries so far, redeliver at).
    pending: BTreeMap<u64, (u64, Instant)>,
    /// The same deadlines ordered by time, so a fetch finds the due ones without a scan.
    deadlines: BTreeSet<(Instant, u64)>,
    /// Every sequence below this is settled.
    floor: u64,
}

impl ConsumerState {
    fn advance_floor(&mut self) {
        self.floor = self
            .pending
            .keys()
            .next()
            .copied()
            .unwrap_or(self.next)
            .max(self.floor);
    }
}

impl MemoryBus {
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// How many events the stream holds.
    pub fn len(&self) -> usize {
        self.shared.state.lock().expect("bus lock").events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn store(&self, event: &OutgoingEvent, chained_to: Option<&str>) -> BusResult<Receipt> {
        let mut state = self.shared.state.lock().expect("bus lock");
        let now = Instant::now();
        while let Some((stored_at, _)) = state.ids_by_age.front() {
            if now.duration_since(*stored_at) < DUPLICATE_WINDOW {
                break;
            }
            let (_, id) = state.ids_by_age.pop_front().expect("a front");
            state.ids.remove(&id);
        }
        if let Some(&stream_sequence) = state.ids.get(&event.id) {
            return Ok(Receipt {
                stream_sequence,
                duplicate: true,
            });
        }
        if let Some(expected) = chained_to {
            let actual = state
                .events
                .iter()
                .rev()
                .flatten()
                .next()
                .map(|last| last.id.as_str());
            if actual != Some(expected) {
                return Err(BusError::WrongLastEvent {
                    expected: expected.to_owned(),
                    actual: actual.unwrap_or_default().to_owned(),
                });
            }
        }
        state.events.push(Some(Stored {
            id: event.id.clone(),
            subject: event.subject.clone(),
            headers: event.headers.clone(),
            payload: event.payload.clone(),
        }));
        let stream_sequence = state.events.len() as u64;
        state.ids.insert(event.id.clone(), stream_sequence);
        state.ids_by_age.push_back((now, event.id.clone()));
        drop(state);
        self.shared.changed.notify_waiters();
        Ok(Receipt {
            stream_sequence,
            duplicate: false,
        })
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(
        &self,
        events: &[OutgoingEvent],
        chain_after: Option<&str>,
        _in_flight: usize,
    ) -> PublishOutcome {
        let mut receipts = Vec::with_capacity(events.len());
        let mut previous = chain_after;
        for event in events {
            match self.store(event, previous) {
                Ok(receipt) => receipts.push(receipt),
                Err(error) => {
                    return PublishOutcome {
                        receipts,
                        error: Some(error),
                    }
                }
            }
            previous = Some(&event.id);
        }
        PublishOutcome {
            receipts,
            error: None,
        }
    }

    async fn bounds(&self) -> BusResult<(u64, u64)> {
        let state = self.shared.state.lock().expect("bus lock");
        let held = |(at, slot): (usize, &Option<Stored>)| slot.as_ref().map(|_| at as u64 + 1);
        let first = state.events.iter().enumerate().find_map(held);
        let last = state.events.iter().enumerate().rev().find_map(held);
        Ok((first.unwrap_or(0), last.unwrap_or(0)))
    }

    async fn event(&self, stream_sequence: u64) -> BusResult<Option<StoredEvent>> {
        let state = self.shared.state.lock().expect("bus lock");
        Ok(stream_sequence
            .checked_sub(1)
            .and_then(|index| state.events.get(index as usize))
            .and_then(Option::as_ref)
            .map(|stored| stored.to_event(stream_sequence)))
    }

    async fn remove(&self, stream_sequence: u64) -> BusResult<bool> {
        let mut state = self.shared.state.lock().expect("bus lock");
        Ok(stream_sequence
            .checked_sub(1)
            .and_then(|index| state.events.get_mut(index as usize))
            .and_then(Option::take)
            .is_some())
    }

    async fn consumer(&self, config: ConsumerConfig) -> BusResult<Box<dyn Consumer>> {
        let mut state = self.shared.state.lock().expect("bus lock");
        state
            .consumers
            .entry(config.durable.clone())
            .or_insert_with(|| ConsumerState {
                config: config.clone(),
                next: 1,
                pending: BTreeMap::new(),
                deadlines: BTreeSet::new(),
                floor: 1,
            });
        Ok(Box::new(MemoryConsumer {
            bus: self.clone(),
            durable: config.durable,
        }))
    }
}

struct MemoryConsumer {
    bus: MemoryBus,
    durable: String,
}

impl MemoryConsumer {
    /// Takes what is due now: redeliveries first (in stream order), then new events.
    fn take_due(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let mut state = self.bus.shared.state.lock().expect("bus lock");
        let State {
            events, consumers, ..
        } = &mut *state;
        let consumer = consumers.get_mut(&self.durable).expect("consumer exists");
        let now = Instant::now();
        let mut taken = Vec::new();
        let mut next_due = None;
        while taken.len() < max {
            let Some(&(due, sequence)) = consumer.deadlines.first() else {
                break;
            };
            if due > now {
                next_due = Some(due);
                break;
            }
            consumer.deadlines.pop_first();
            let (delivered, redeliver_at) = consumer
                .pending
                .get_mut(&sequence)
                .expect("a deadline belongs to a pending delivery");
            *delivered += 1;
            *redeliver_at = now + consumer.config.ack_wait;
            consumer.deadlines.insert((*redeliver_at, sequence));
            taken.push((sequence, *delivered));
        }
        while taken.len() < max
            && consumer.pending.len() < consumer.config.max_ack_pending
            && (consumer.next as usize) <= events.len()
        {
            let sequence = consumer.next;
            consumer.next += 1;
            let wanted = events[sequence as usize - 1].as_ref().is_some_and(|event| {
                consumer
                    .config
                    .filter_subject
                    .as_deref()
                    .is_none_or(|pattern| subject::matches(pattern, &event.subject))
            });
            if wanted {
                let redeliver_at = now + consumer.config.ack_wait;
                consumer.pending.insert(sequence, (1, redeliver_at));
                consumer.deadlines.insert((redeliver_at, sequence));
                taken.push((sequence, 1));
            }
        }
        consumer.advance_floor();
        let deliveries = taken
            .into_iter()
            .filter_map(|(sequence, delivered)| {
                let event = events[sequence as usize - 1].as_ref()?;
                Some(Delivery {
                    id: event.id.clone(),
                    subject: event.subject.clone(),
                    headers: event.headers.clone(),
                    payload: event.payload.clone(),
                    stream_sequence: sequence,
                    delivered,
                    settler: Box::new(MemorySettler {
                        bus: self.bus.clone(),
                        durable: self.durable.clone(),
                        sequence,
                    }),
                })
            })
            .collect();
        (deliveries, next_due)
    }
}

#[async_trait]
impl Consumer for MemoryConsumer {
    async fn fetch(&self, max: usize, wait: Duration) -> BusResult<Vec<Delivery>> {
        let deadline = Instant::now() + wait;
        loop {
            // Register for the wake-up before looking, so an event stored in between rings it.
            let changed = self.bus.shared.changed.notified();
            let (deliveries, next_due) = self.take_due(max);
            if !deliveries.is_empty() || Instant::now() >= deadline {
                return Ok(deliveries);
            }
            let until = next_due.map_or(deadline, |due| due.min(deadline));
            let _ = tokio::time::timeout_at(until, changed).await;
        }
    }

    async fn ack_floor(&self) -> BusResult<u64> {
        let state = self.bus.shared.state.lock().expect("bus lock");
        Ok(state.consumers[&self.durable].floor - 1)
    }
}

struct MemorySettler {
    bus: MemoryBus,
    durable: String,
    sequence: u64,
}

#[async_trait]
impl Settler for MemorySettler {
    async fn settle(&self, how: Settle) -> BusResult<()> {
        let mut state = self.bus.shared.state.lock().expect("bus lock");
        let consumer = state
            .consumers
            .get_mut(&self.durable)
            .expect("consumer exists");
        match how {
            Settle::Ack | Settle::Term => {
                if let Some((_, redeliver_at)) = consumer.pending.remove(&self.sequence) {
                    consumer.deadlines.remove(&(redeliver_at, self.sequence));
                }
                consumer.advance_floor();
            }
            Settle::Nak(delay) => {
                if let Some((_, redeliver_at)) = consumer.pending.get_mut(&self.sequence) {
                    consumer.deadlines.remove(&(*redeliver_at, self.sequence));
                    *redeliver_at = Instant::now() + delay;
                    consumer.deadlines.insert((*redeliver_at, self.sequence));
                }
                drop(state);
                self.bus.shared.changed.notify_waiters();
            }
        }
        Ok(())
    }
}
