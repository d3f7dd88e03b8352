//! The names of a region's streams and subjects on NATS, in one place: the relay, the workers,
//! `upline dlq` and the region configuration all derive them from the region's name.

use crate::bus::jetstream::{SourceSpec, StreamSpec};
use std::time::Duration;

/// A region's stream names and subject prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionStreams {
    pub region: String,
    /// Prepended to stream names (`UPLINE` in production; tests use their own to stay apart).
    pub prefix: String,
}

impl RegionStreams {
    pub fn new(prefix: &str, region: &str) -> RegionStreams {
        RegionStreams {
            region: region.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    fn token(&self) -> String {
        self.region.to_uppercase().replace(['-', '.'], "_")
    }

    /// The region's events, as its relay publishes them: `{prefix}_EVENTS_{REGION}`.
    pub fn events(&self) -> StreamSpec {
        StreamSpec {
            name: format!("{}_EVENTS_{}", self.prefix, self.token()),
            subjects: vec![format!("{}.>", self.events_subject_prefix())],
            duplicate_window: Duration::from_secs(120),
            sources: Vec::new(),
        }
    }

    /// Events are published on `{this}.{tenant}.{kind}`.
    pub fn events_subject_prefix(&self) -> String {
        format!("{}.{}.events", self.prefix.to_lowercase(), self.region)
    }

    /// The events of other regions that this region takes in (`{prefix}_INBOUND_{REGION}`):
    /// a stream of the home region sourcing each listed region's events stream from that
    /// region's JetStream domain. Only what the relays publish crosses: pseudonymous ids and
    /// volumes, never personal data. Its own subjects (`{this}.inbound.>`) take the dead
    /// letters of its consumers when an operator replays them (`upline dlq replay`).
    pub fn inbound(&self, from_regions: &[&str]) -> StreamSpec {
        StreamSpec {
            name: format!("{}_INBOUND_{}", self.prefix, self.token()),
            subjects: vec![format!("{}.>", self.inbound_subject_prefix())],
            duplicate_window: Duration::from_secs(120),
            sources: from_regions
                .iter()
                .map(|region| SourceSpec {
                    stream: RegionStreams::new(&self.prefix, region).events().name,
                    domain: (*region).to_owned(),
                })
                .collect(),
        }
    }

    /// A replayed inbound event goes on `{this}.{its original subject}`.
    pub fn inbound_subject_prefix(&self) -> String {
        format!("{}.{}.inbound", self.prefix.to_lowercase(), self.region)
    }

    /// The region's enrollment service: endpoints of other regions ask here to place a
    /// distributor residing with them in the genealogy of a tenant at home here.
    pub fn enroll_subject(&self) -> String {
        format!("{}.{}.enroll", self.prefix.to_lowercase(), self.region)
    }

    /// Events a consumer of the region could not process: `{prefix}_DLQ_{REGION}`.
    pub fn dead_letters(&self) -> StreamSpec {
        StreamSpec {
            name: format!("{}_DLQ_{}", self.prefix, self.token()),
            subjects: vec![format!("{}.>", self.dead_letter_subject_prefix())],
            duplicate_window: Duration::from_secs(120),
            sources: Vec::new(),
        }
    }

    /// Dead letters are published on `{this}.{consumer}`.
    pub fn dead_letter_subject_prefix(&self) -> String {
        format!("{}.{}.dlq", self.prefix.to_lowercase(), self.region)
    }
}
