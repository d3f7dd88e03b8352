//! The home region's intake of other regions' events: a volume worker on the region's inbound
//! stream (`{prefix}_INBOUND_{REGION}`, sourcing the listed regions' events streams through
//! their JetStream domains), applying the orders taken where distributors reside to this
//! region's store. Their volume records are apart from this region's own — a distributor's
//! orders are taken only where they reside — so each record still sees one outbox's sequences,
//! in order. Used by `upline worker --inbound-from` and `upline serve --inbound-from`.

use std::sync::Arc;
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{ConsumerConfig, EventBus};
use worker::dead_letters::DeadLetters;
use worker::streams::RegionStreams;
use worker::volumes::{VolumeWorker, CONSUMER_NAME};

pub async fn inbound_volume_worker(
    url: &str,
    streams: &RegionStreams,
    from_regions: &[String],
    store: Arc<dyn store::Store>,
) -> Result<VolumeWorker, String> {
    let regions: Vec<&str> = from_regions.iter().map(String::as_str).collect();
    let inbound = JetStreamBus::connect(url, streams.inbound(&regions))
        .await
        .map_err(|error| {
            format!(
                "{error} (the inbound stream sources {} through their JetStream domains; is NATS running at {url}?)",
                from_regions.join(", ")
            )
        })?;
    let consumer = inbound
        .consumer(ConsumerConfig::new(CONSUMER_NAME))
        .await
        .map_err(|error| error.to_string())?;
    let dead = JetStreamBus::connect(url, streams.dead_letters())
        .await
        .map_err(|error| error.to_string())?;
    let dead_letters = DeadLetters::new(Arc::new(dead), &streams.dead_letter_subject_prefix());
    Ok(VolumeWorker::new(store, consumer, dead_letters))
}
