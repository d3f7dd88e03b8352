//! The genealogy follower: keeps this process's genealogy indexes current with the
//! enrollments the other processes of the region make, from `distributor.enrolled` events.
//!
//! Every process that serves genealogy reads (each `upline serve` replica) follows with a
//! consumer of its own, so each sees every enrollment. An enrollment already in the index (this
//! process made it, or a copy came again) is acknowledged without effect; one whose sponsor or
//! placement parent is not in the index yet — delivered out of order — is handed back for a
//! while, and if it is still ahead then, the index catches up from the store.

use crate::bus::{headers, BusResult, Consumer, Delivery};
use crate::dead_letters::DeadLetters;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Deliveries fetched at once.
const FETCH_MAX: usize = 1024;
/// How long a fetch waits for a delivery.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// The delay before an enrollment ahead of the index is delivered again.
const AHEAD_DELAY: Duration = Duration::from_millis(100);
/// From this delivery on, an enrollment still ahead makes the index catch up from the store.
const CATCH_UP_FROM_DELIVERY: u64 = 4;
/// The delay before a delivery that failed (the store) comes again.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The consumer's name (per process: see [`consumer_name`]) on dead letters.
pub const CONSUMER_NAME: &str = "genealogy";

/// A process's consumer: its own, so that every process sees every enrollment.
pub fn consumer_name(process: &str) -> String {
    let safe: String = process
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{CONSUMER_NAME}-{safe}")
}

/// What an index did with one enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolled {
    /// Added to the index.
    Applied,
    /// Already there.
    Known,
    /// Its sponsor or placement parent is not in the index.
    Ahead,
    /// This process keeps no index of the tenant.
    NotHere,
}

/// The genealogy indexes of this process.
#[async_trait]
pub trait GenealogyIndexes: Send + Sync {
    /// Takes the enrollment of `id` into the tenant's index. With `catch_up`, an index that
    /// misses its sponsor or placement parent reads the store's genealogy (and then knows it).
    async fn enrolled(&self, tenant_id: &str, id: &str, catch_up: bool)
        -> Result<Enrolled, String>;
}

/// What the follower has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FollowProgress {
    pub applied: u64,
    /// Enrollments the index knew (its own, copies).
    pub known: u64,
    /// Deliveries handed back because they were ahead of the index.
    pub ahead: u64,
    /// Events given up as poison, with the reason.
    pub poison: Vec<(String, String)>,
    pub failures: u64,
}

pub struct GenealogyFollower {
    indexes: Arc<dyn GenealogyIndexes>,
    consumer: Box<dyn Consumer>,
    dead_letters: DeadLetters,
    progress: watch::Sender<FollowProgress>,
}

#[derive(serde::Deserialize)]
struct Enrollment {
    id: String,
}

impl GenealogyFollower {
    pub fn new(
        indexes: Arc<dyn GenealogyIndexes>,
        consumer: Box<dyn Consumer>,
        dead_letters: DeadLetters,
    ) -> GenealogyFollower {
        GenealogyFollower {
            indexes,
            consumer,
            dead_letters,
            progress: watch::Sender::new(FollowProgress::default()),
        }
    }

    pub fn progress(&self) -> watch::Receiver<FollowProgress> {
        self.progress.subscribe()
    }

    /// Follows until the task is dropped.
    pub async fn run(&self) {
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "genealogy follower: the bus failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }

    async fn round(&self) -> BusResult<()> {
        for delivery in self.consumer.fetch(FETCH_MAX, FETCH_WAIT).await? {
            self.take(&delivery).await?;
        }
        Ok(())
    }

    /// Settles one delivery; deliveries are taken in the order fetched, so first deliveries
    /// (in stream order) find their predecessors applied.
    async fn take(&self, delivery: &Delivery) -> BusResult<()> {
        if delivery.header(headers::KIND) != Some("distributor.enrolled") {
            return delivery.ack().await;
        }
        let parsed = delivery
            .header(headers::TENANT)
            .ok_or_else(|| "no tenant header".to_owned())
            .and_then(|tenant| {
                serde_json::from_slice::<Enrollment>(&delivery.payload)
                    .map(|enrollment| (tenant.to_owned(), enrollment))
                    .map_err(|error| format!("not an enrollment: {error}"))
            });
        let (tenant, enrollment) = match parsed {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.dead_letters
                    .give_up(delivery, CONSUMER_NAME, &reason)
                    .await?;
                self.progress
                    .send_modify(|progress| progress.poison.push((delivery.id.clone(), reason)));
                return Ok(());
            }
        };
        let catch_up = delivery.delivered >= CATCH_UP_FROM_DELIVERY;
        match self
            .indexes
            .enrolled(&tenant, &enrollment.id, catch_up)
            .await
        {
            Ok(Enrolled::Applied) => {
                self.progress.send_modify(|progress| progress.applied += 1);
                delivery.ack().await
            }
            Ok(Enrolled::Known | Enrolled::NotHere) => {
                self.progress.send_modify(|progress| progress.known += 1);
                delivery.ack().await
            }
            Ok(Enrolled::Ahead) => {
                self.progress.send_modify(|progress| progress.ahead += 1);
                delivery.nak(AHEAD_DELAY).await
            }
            Err(error) => {
                tracing::warn!(%tenant, id = %enrollment.id, %error, "following an enrollment failed");
                self.progress.send_modify(|progress| progress.failures += 1);
                delivery.nak(RETRY_DELAY).await
            }
        }
    }
}
