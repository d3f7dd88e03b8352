//! Following the region's enrollments in this process's genealogy indexes: the worker crate's
//! follower (consumer, order, retries) over the API crate's indexes.

use api::genealogy_follower::{follow_enrollment, Followed};
use api::state::AppState;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use worker::bus::{ConsumerConfig, EventBus};
use worker::dead_letters::DeadLetters;
use worker::genealogy::{consumer_name, Enrolled, GenealogyFollower, GenealogyIndexes};
use worker::streams::RegionStreams;

/// A process's consumer is removed this long after the process stopped fetching (it ended).
const CONSUMER_LEFT_BEHIND_FOR: Duration = Duration::from_secs(3600);

struct Indexes {
    state: AppState,
}

#[async_trait]
impl GenealogyIndexes for Indexes {
    async fn enrolled(
        &self,
        tenant_id: &str,
        id: &str,
        catch_up: bool,
    ) -> Result<Enrolled, String> {
        Ok(
            match follow_enrollment(&self.state, tenant_id, id, catch_up).await? {
                Followed::Applied => Enrolled::Applied,
                Followed::Known => Enrolled::Known,
                Followed::Ahead => Enrolled::Ahead,
                Followed::NotHere => Enrolled::NotHere,
            },
        )
    }
}

/// Starts following the enrollments on `events` (the region's stream) with a consumer of
/// this process's own; runs until the runtime stops.
pub async fn spawn_follower(
    state: &AppState,
    events: Arc<dyn EventBus>,
    streams: &RegionStreams,
    dead_letters: DeadLetters,
) -> Result<(), String> {
    let consumer = events
        .consumer(ConsumerConfig {
            filter_subject: Some(format!(
                "{}.*.distributor.enrolled",
                streams.events_subject_prefix()
            )),
            inactive_threshold: Some(CONSUMER_LEFT_BEHIND_FOR),
            ..ConsumerConfig::new(consumer_name(&store::held_lease::holder_name()))
        })
        .await
        .map_err(|error| error.to_string())?;
    let follower = GenealogyFollower::new(
        Arc::new(Indexes {
            state: state.clone(),
        }),
        consumer,
        dead_letters,
    );
    tokio::spawn(async move { follower.run().await });
    Ok(())
}
