//! The bus on NATS JetStream: one stream per region, durable pull consumers.

use super::*;
use async_nats::jetstream::{self, consumer, context, stream, AckKind};
use async_nats::HeaderMap;
use futures_util::StreamExt as _;
use std::collections::VecDeque;
use tokio::sync::Mutex;

/// How the stream is named and what it holds.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    /// e.g. `UPLINE_EVENTS_US_EAST`; tests prefix it to stay apart on a shared server.
    pub name: String,
    /// The subjects it captures, e.g. `upline.us-east.>`.
    pub subjects: Vec<String>,
    /// Ids remembered for deduplication: a relay republishing after a failure or a restart
    /// within it stores nothing twice (beyond it, consumers skip what they applied).
    pub duplicate_window: Duration,
    /// Streams of other regions whose events this stream takes in (JetStream sourcing, over
    /// the leaf node or gateway links between the regions' servers). A stream with sources
    /// captures no subjects of its own.
    pub sources: Vec<SourceSpec>,
}

/// A stream of another JetStream domain (region) to take events from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    pub stream: String,
    /// The JetStream domain the stream lives in (the region's name).
    pub domain: String,
}

/// How long a publish or an API request waits for the server's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Publishes awaiting their acknowledgement on one connection at most.
const ACKS_IN_FLIGHT_MAX: usize = 8192;

pub struct JetStreamBus {
    context: jetstream::Context,
    spec: StreamSpec,
    /// The stream, created (if missing) once at connect.
    stream: stream::Stream,
}

fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

/// `nats://a:4222,nats://b:4222`: a cluster's servers (as a Region's ConfigMap lists them),
/// any of which the client may use.
pub fn server_list(urls: &str) -> Vec<&str> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .collect()
}

impl JetStreamBus {
    /// Connects (retrying in the background while the server is away) and creates the stream
    /// if it does not exist.
    pub async fn connect(url: &str, spec: StreamSpec) -> BusResult<JetStreamBus> {
        let client = super::connection_log::long_lived_options(url)
            .connection_timeout(REQUEST_TIMEOUT)
            .connect(server_list(url))
            .await
            .map_err(unavailable)?;
        let context = context::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .max_ack_inflight(ACKS_IN_FLIGHT_MAX)
            .backpressure_on_inflight(true)
            .build(client);
        let stream = create_stream(&context, &spec).await?;
        Ok(JetStreamBus {
            context,
            spec,
            stream,
        })
    }

    /// Deletes the stream and everything in it (benchmarks clean up after themselves).
    pub async fn delete_stream(&self) -> BusResult<()> {
        self.context
            .delete_stream(&self.spec.name)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn message(
        event: &OutgoingEvent,
        chained_to: Option<&str>,
    ) -> jetstream::message::PublishMessage {
        let mut headers = HeaderMap::new();
        for (name, value) in &event.headers {
            headers.insert(name.as_str(), value.as_str());
        }
        let mut message = jetstream::message::PublishMessage::build()
            .payload(event.payload.clone())
            .headers(headers)
            .message_id(&event.id);
        if let Some(previous) = chained_to {
            message = message.expected_last_message_id(previous);
        }
        message
    }
}

/// The stream of `spec`, created if it does not exist.
async fn create_stream(
    context: &jetstream::Context,
    spec: &StreamSpec,
) -> BusResult<stream::Stream> {
    context
        .get_or_create_stream(stream::Config {
            name: spec.name.clone(),
            subjects: spec.subjects.clone(),
            duplicate_window: spec.duplicate_window,
            storage: stream::StorageType::File,
            sources: (!spec.sources.is_empty()).then(|| {
                spec.sources
                    .iter()
                    .map(|source| stream::Source {
                        name: source.stream.clone(),
                        // The domain's JetStream API, as the server reaches it over the
                        // links between the regions.
                        external: Some(stream::External {
                            api_prefix: format!("$JS.{}.API", source.domain),
                            delivery_prefix: None,
                        }),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        })
        .await
        .map_err(unavailable)
}

fn publish_error(error: context::PublishError, expected: &str) -> BusError {
    match error.kind() {
        context::PublishErrorKind::WrongLastMessageId => BusError::WrongLastEvent {
            expected: expected.to_owned(),
            actual: error.to_string(),
        },
        context::PublishErrorKind::StreamNotFound => BusError::Refused(error.to_string()),
        _ => unavailable(error),
    }
}

#[async_trait]
impl EventBus for JetStreamBus {
    async fn publish(
        &self,
        events: &[OutgoingEvent],
        chain_after: Option<&str>,
        in_flight: usize,
    ) -> PublishOutcome {
        let mut receipts = Vec::with_capacity(events.len());
        let mut awaiting = VecDeque::new();
        let mut sent = 0;
        // Send ahead up to `in_flight`, collect acknowledgements in order; the first failure
        // ends the call (chaining makes everything after it fail or be a duplicate anyway).
        while receipts.len() < events.len() {
            while sent < events.len() && awaiting.len() < in_flight.max(1) {
                let chained_to = if sent == 0 {
                    chain_after
                } else {
                    Some(events[sent - 1].id.as_str())
                };
                let event = &events[sent];
                match self
                    .context
                    .send_publish(event.subject.clone(), Self::message(event, chained_to))
                    .await
                {
                    Ok(acknowledgement) => awaiting.push_back(acknowledgement),
                    Err(error) => {
                        if awaiting.is_empty() {
                            let expected = chained_to.unwrap_or_default();
                            return PublishOutcome {
                                receipts,
                                error: Some(publish_error(error, expected)),
                            };
                        }
                        break;
                    }
                }
                sent += 1;
            }
            let Some(acknowledgement) = awaiting.pop_front() else {
                break;
            };
            let index = receipts.len();
            match acknowledgement.await {
                Ok(ack) => receipts.push(Receipt {
                    stream_sequence: ack.sequence,
                    duplicate: ack.duplicate,
                }),
                Err(error) => {
                    let expected = if index == 0 {
                        chain_after.unwrap_or_default()
                    } else {
                        events[index - 1].id.as_str()
                    };
                    return PublishOutcome {
                        receipts,
                        error: Some(publish_error(error, expected)),
                    };
                }
            }
        }
        PublishOutcome {
            receipts,
            error: None,
        }
    }

    async fn bounds(&self) -> BusResult<(u64, u64)> {
        let mut stream = self.stream.clone();
        let state = &stream.info().await.map_err(unavailable)?.state;
        if state.messages == 0 {
            return Ok((0, 0));
        }
        Ok((state.first_sequence, state.last_sequence))
    }

    async fn event(&self, stream_sequence: u64) -> BusResult<Option<StoredEvent>> {
        if stream_sequence == 0 {
            return Ok(None);
        }
        let stream = &self.stream;
        let message = match stream.get_raw_message(stream_sequence).await {
            Ok(message) => message,
            Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                return Ok(None)
            }
            Err(error) => return Err(unavailable(error)),
        };
        let headers = header_pairs(&message.headers);
        Ok(Some(StoredEvent {
            stream_sequence,
            id: message_id(&headers),
            subject: message.subject.to_string(),
            headers,
            payload: message.payload,
        }))
    }

    async fn remove(&self, stream_sequence: u64) -> BusResult<bool> {
        let stream = &self.stream;
        match stream.delete_message(stream_sequence).await {
            Ok(deleted) => Ok(deleted),
            Err(error) if self.event(stream_sequence).await?.is_none() => {
                tracing::debug!(%error, stream_sequence, "removing an event that is gone");
                Ok(false)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn consumer(&self, config: ConsumerConfig) -> BusResult<Box<dyn Consumer>> {
        let stream = &self.stream;
        let consumer = stream
            .get_or_create_consumer(
                &config.durable,
                consumer::pull::Config {
                    durable_name: Some(config.durable.clone()),
                    filter_subject: config.filter_subject.clone().unwrap_or_default(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_ack_pending: config.max_ack_pending as i64,
                    deliver_policy: consumer::DeliverPolicy::All,
                    inactive_threshold: config.inactive_threshold.unwrap_or_default(),
                    ..Default::default()
                },
            )
            .await
            .map_err(unavailable)?;
        Ok(Box::new(JetStreamConsumer {
            consumer: Mutex::new(consumer),
        }))
    }
}

/// Header name and value pairs, every value of a repeated header.
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// The `Nats-Msg-Id` among the headers (empty without one).
fn message_id(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Nats-Msg-Id"))
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

struct JetStreamConsumer {
    consumer: Mutex<consumer::PullConsumer>,
}

#[async_trait]
impl Consumer for JetStreamConsumer {
    async fn fetch(&self, max: usize, wait: Duration) -> BusResult<Vec<Delivery>> {
        let consumer = self.consumer.lock().await.clone();
        let mut batch = consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(unavailable)?;
        let mut deliveries = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(unavailable)?;
            let info = message.info().map_err(unavailable)?;
            let (stream_sequence, delivered) = (info.stream_sequence, info.delivered.max(1) as u64);
            let headers = message
                .headers
                .as_ref()
                .map(header_pairs)
                .unwrap_or_default();
            let id = message_id(&headers);
            deliveries.push(Delivery {
                id,
                subject: message.subject.to_string(),
                headers,
                payload: message.payload.clone(),
                stream_sequence,
                delivered,
                settler: Box::new(JetStreamSettler { message }),
            });
        }
        Ok(deliveries)
    }

    async fn ack_floor(&self) -> BusResult<u64> {
        let mut consumer = self.consumer.lock().await;
        let info = consumer.info().await.map_err(unavailable)?;
        Ok(info.ack_floor.stream_sequence)
    }
}

struct JetStreamSettler {
    message: jetstream::Message,
}

#[async_trait]
impl Settler for JetStreamSettler {
    async fn settle(&self, how: Settle) -> BusResult<()> {
        let kind = match how {
            Settle::Ack => AckKind::Ack,
            Settle::Nak(delay) => AckKind::Nak(Some(delay)),
            Settle::Term => AckKind::Term,
        };
        self.message.ack_with(kind).await.map_err(unavailable)
    }
}
