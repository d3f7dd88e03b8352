//! The command-line options that say where a region's event streams are: the NATS server and
//! the prefix of the stream names (`upline worker`, `upline dlq`).

use std::sync::Arc;
use worker::bus::jetstream::JetStreamBus;
use worker::dead_letters::DeadLetters;
use worker::streams::RegionStreams;

#[derive(clap::Args, Debug, Clone)]
pub struct NatsArgs {
    /// The region's NATS server (JetStream enabled), e.g. nats://127.0.0.1:4222, or its
    /// cluster's servers separated by commas.
    #[arg(long, value_name = "URL", env = "UPLINE_NATS")]
    pub nats: String,
    #[command(flatten)]
    pub prefix: StreamPrefixArgs,
}

/// The prefix of the stream names, shared by every command that names a region's streams.
#[derive(clap::Args, Debug, Clone)]
pub struct StreamPrefixArgs {
    /// Prepended to the names of the streams (`UPLINE_EVENTS_US_EAST`, `UPLINE_DLQ_US_EAST`):
    /// two installations sharing a NATS account keep apart by it.
    #[arg(
        long,
        value_name = "PREFIX",
        env = "UPLINE_STREAM_PREFIX",
        default_value = "UPLINE"
    )]
    pub stream_prefix: String,
}

impl StreamPrefixArgs {
    pub fn streams(&self, region: &str) -> RegionStreams {
        RegionStreams::new(&self.stream_prefix, region)
    }
}

impl NatsArgs {
    pub fn streams(&self, region: &str) -> RegionStreams {
        self.prefix.streams(region)
    }

    /// The region's events stream (created if missing).
    pub async fn events(&self, streams: &RegionStreams) -> Result<Arc<JetStreamBus>, String> {
        JetStreamBus::connect(&self.nats, streams.events())
            .await
            .map(Arc::new)
            .map_err(|error| format!("{error} (is NATS running at {}?)", self.nats))
    }

    /// The region's dead letters (the stream created if missing).
    pub async fn dead_letters(&self, streams: &RegionStreams) -> Result<DeadLetters, String> {
        let dead = JetStreamBus::connect(&self.nats, streams.dead_letters())
            .await
            .map_err(|error| format!("{error} (is NATS running at {}?)", self.nats))?;
        Ok(DeadLetters::new(
            Arc::new(dead),
            &streams.dead_letter_subject_prefix(),
        ))
    }
}
