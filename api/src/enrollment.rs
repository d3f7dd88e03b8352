//! The enrollment queue of one tenant.
//!
//! Enrollments must become durable in the order the index numbers them: a recruit stored
//! without its sponsor could not be replayed. So one task per tenant takes every waiting
//! request, checks and places them in order in the index, stores the whole batch in one call,
//! and only then answers them and takes the next batch. Batching keeps the rate high (one
//! durable write for many enrollments); the single task keeps the order.

use crate::directory::Directory;
use crate::directory::PlacementChoice;
use crate::error::{ApiError, ApiResult};
use engine::plan::CompiledPlan;
use std::sync::{Arc, RwLock, Weak};
use store::{Distributor, Profile, Store, Tenant};
use tokio::sync::{mpsc, oneshot};

/// The most enrollments stored in one call.
const BATCH_MAX: usize = 2048;
/// Requests waiting before senders wait too.
const QUEUE_MAX: usize = 16_384;

/// One enrollment, checked for syntax, not yet against the genealogy.
pub struct EnrollmentRequest {
    pub id: String,
    pub sponsor_id: Option<String>,
    pub placement: PlacementChoice,
    pub joined_on: engine::calendar::Day,
    pub profile: Profile,
    pub residence_region: Option<String>,
    /// For a tenant at home in another region: where the home region placed the distributor
    /// (the sponsor and the placement the record keeps; the index here only lists residents).
    pub placed_at_home: Option<(Option<String>, Option<store::Placement>)>,
}

type Reply = oneshot::Sender<ApiResult<Distributor>>;

#[derive(Clone)]
pub struct EnrollmentQueue {
    requests: mpsc::Sender<(EnrollmentRequest, Reply)>,
}

impl EnrollmentQueue {
    /// Starts the tenant's enrollment task. It holds the index weakly and ends with it (when
    /// the last runtime sharing it goes). `tenant` and `plan` name the tenant and the index's
    /// shape, which no plan version changes.
    pub fn start(
        store: Arc<dyn Store>,
        tenant: Tenant,
        plan: Arc<CompiledPlan>,
        directory: Weak<RwLock<Directory>>,
        requests_receiver: mpsc::Receiver<(EnrollmentRequest, Reply)>,
    ) {
        let indexed = Indexed {
            tenant,
            plan,
            directory,
        };
        tokio::spawn(run(store, indexed, requests_receiver));
    }

    pub fn channel() -> (EnrollmentQueue, mpsc::Receiver<(EnrollmentRequest, Reply)>) {
        let (requests, receiver) = mpsc::channel(QUEUE_MAX);
        (EnrollmentQueue { requests }, receiver)
    }

    /// Enrolls one distributor; answers once it is durable.
    pub async fn enroll(&self, request: EnrollmentRequest) -> ApiResult<Distributor> {
        let answer = self.submit(request).await?;
        answer.await
    }

    /// Queues an enrollment behind every one queued before it; the returned future answers
    /// once it is durable. Lets one caller queue many in order without waiting for each.
    pub async fn submit(
        &self,
        request: EnrollmentRequest,
    ) -> ApiResult<impl std::future::Future<Output = ApiResult<Distributor>>> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((request, reply))
            .await
            .map_err(|_| ApiError::Internal("the enrollment queue has stopped".into()))?;
        Ok(async move {
            answer
                .await
                .map_err(|_| ApiError::Internal("the enrollment queue dropped a request".into()))?
        })
    }
}

/// What the enrollment task works on.
struct Indexed {
    tenant: Tenant,
    plan: Arc<CompiledPlan>,
    directory: Weak<RwLock<Directory>>,
}

async fn run(
    store: Arc<dyn Store>,
    indexed: Indexed,
    mut requests: mpsc::Receiver<(EnrollmentRequest, Reply)>,
) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while requests.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let Some(directory) = indexed.directory.upgrade() else {
            return;
        };
        enroll_batch(&*store, &indexed, &directory, batch.drain(..)).await;
    }
}

async fn enroll_batch(
    store: &dyn Store,
    indexed: &Indexed,
    index: &RwLock<Directory>,
    batch: impl Iterator<Item = (EnrollmentRequest, Reply)>,
) {
    let tenant = &indexed.tenant;
    let mut accepted: Vec<(Distributor, Reply)> = Vec::new();
    {
        let mut directory = index.write().expect("directory lock");
        for (request, reply) in batch {
            let placed = directory.enroll(
                &request.id,
                request.sponsor_id.as_deref(),
                request.placement,
                request.joined_on,
                request.residence_region.as_deref(),
            );
            match placed {
                Ok(mut distributor) => {
                    distributor.profile = request.profile;
                    if let Some((sponsor_id, placement)) = request.placed_at_home {
                        distributor.sponsor_id = sponsor_id;
                        distributor.placement = placement;
                    }
                    accepted.push((distributor, reply));
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
    if accepted.is_empty() {
        return;
    }
    let records: Vec<Distributor> = accepted
        .iter()
        .map(|(distributor, _)| distributor.clone())
        .collect();
    match store.enroll(&tenant.id, records).await {
        Ok(outcomes) if outcomes.iter().all(Result::is_ok) => {
            index.write().expect("directory lock").mark_durable();
            for (distributor, reply) in accepted {
                let _ = reply.send(Ok(distributor));
            }
        }
        failed => {
            // The index got ahead of the store: rebuild it from what is durable.
            let message = match &failed {
                Ok(outcomes) => format!("{:?}", outcomes.iter().find(|outcome| outcome.is_err())),
                Err(error) => error.to_string(),
            };
            tracing::error!(tenant = %tenant.id, %message, "enrollment batch failed; rebuilding the index");
            if let Err(error) =
                crate::runtime::rebuild_index(store, tenant, &indexed.plan, index).await
            {
                tracing::error!(tenant = %tenant.id, %error, "rebuilding the index failed");
            }
            for (_, reply) in accepted {
                let _ = reply.send(Err(ApiError::Internal(message.clone())));
            }
        }
    }
}
