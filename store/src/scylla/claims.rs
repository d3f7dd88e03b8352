//! Order-id claims grouped by partition: one lightweight transaction for all the claims waiting
//! on one partition of `orders`.
//!
//! Every order id is claimed with `INSERT … IF NOT EXISTS`, a Paxos round on the partition
//! `(tenant_id, bucket)`. Two rounds on one partition at once contend: the later ballot
//! preempts the earlier, which backs off and starts again, so under load a node spends its
//! time on rounds that are thrown away. Here a partition has at most one round of this process
//! out at a time; the claims that arrive meanwhile wait, and the next round takes all of them
//! as one conditional batch (a batch's conditions may name several rows of one partition).
//! Batches grow by themselves with the load: the busier a partition, the more claims wait for
//! its round.
//!
//! A conditional batch applies whole or not at all. When it does not, the node returns the
//! rows that made a condition false (the order ids already taken): those claims are answered
//! "not applied", the others go into the next round. An order id appears at most once in a
//! round (two claims of one id in one batch would both pass their condition, which is read
//! before the batch); the second waits for the next round and finds the first's row. When the
//! node cannot tell whether a batch applied (a timeout), every claim of it gets that error,
//! exactly as a single statement's claim would, and each request doubts its own event.
//!
//! Rounds run on tasks of their own, so a request that goes away (a client that hangs up)
//! does not stop the claims of others waiting on the same round.

use super::cql::{self, corrupt};
use crate::error::{StoreError, StoreResult};
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlDate, CqlValue, Row};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Claims in one round at most: a batch stays a few kilobytes, far below the node's limit.
const CLAIMS_PER_ROUND: usize = 32;

/// The values of one claim, in the order of the claim statement's bind markers
/// (`tenant_id, bucket, order_id, distributor_id, order_date, pv, cv, status, created_at_ms,
/// idempotency_key, imported, event_sequence`).
pub(super) struct ClaimRow {
    pub tenant_id: String,
    pub bucket: i16,
    pub order_id: String,
    pub distributor_id: String,
    pub date: CqlDate,
    pub pv: i64,
    pub cv: i64,
    pub status: &'static str,
    pub created_at_ms: i64,
    pub idempotency_key: String,
    pub imported: bool,
    pub event_sequence: Option<i64>,
}

type ClaimValues<'r> = (
    &'r str,
    i16,
    &'r str,
    &'r str,
    CqlDate,
    i64,
    i64,
    &'r str,
    i64,
    &'r str,
    bool,
    Option<i64>,
);

impl ClaimRow {
    fn values(&self) -> ClaimValues<'_> {
        (
            &self.tenant_id,
            self.bucket,
            &self.order_id,
            &self.distributor_id,
            self.date,
            self.pv,
            self.cv,
            self.status,
            self.created_at_ms,
            &self.idempotency_key,
            self.imported,
            self.event_sequence,
        )
    }
}

/// A claim waiting for its partition's round, and where its answer goes.
struct Waiting {
    row: ClaimRow,
    answer: oneshot::Sender<StoreResult<bool>>,
}

type Partition = (String, i16);

/// The claims of this process, queued per partition.
pub(super) struct OrderClaims {
    session: Arc<Session>,
    claim: PreparedStatement,
    /// A partition is present while a task runs its rounds; its claims wait in the vector.
    queues: Mutex<HashMap<Partition, Vec<Waiting>>>,
    /// Rounds sent so far (the tests compare them with the claims made).
    rounds: AtomicU64,
}

impl OrderClaims {
    /// `claim`: the conditional insert of one order row (see [`ClaimRow`]).
    pub(super) fn new(session: Arc<Session>, claim: PreparedStatement) -> Arc<OrderClaims> {
        Arc::new(OrderClaims {
            session,
            claim,
            queues: Mutex::new(HashMap::new()),
            rounds: AtomicU64::new(0),
        })
    }

    /// Claims the row's order id; true when this claim made the row.
    pub(super) async fn claim(self: &Arc<Self>, row: ClaimRow) -> StoreResult<bool> {
        let (answer, answered) = oneshot::channel();
        let partition = (row.tenant_id.clone(), row.bucket);
        let start_rounds = {
            let mut queues = self.queues.lock().expect("claim queues lock");
            match queues.get_mut(&partition) {
                Some(waiting) => {
                    waiting.push(Waiting { row, answer });
                    false
                }
                None => {
                    queues.insert(partition.clone(), vec![Waiting { row, answer }]);
                    true
                }
            }
        };
        if start_rounds {
            let claims = Arc::clone(self);
            tokio::spawn(async move { claims.run_rounds(partition).await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the claim's round ended without an answer".into(),
            ))
        })
    }

    /// Runs rounds on a partition until nobody waits on it.
    async fn run_rounds(&self, partition: Partition) {
        while let Some(round) = self.next_round(&partition) {
            self.run_round(&partition, round).await;
        }
    }

    /// The claims of the next round (distinct order ids, oldest first), or None when the
    /// queue is empty — then the partition is removed, under the same lock that adds to it.
    fn next_round(&self, partition: &Partition) -> Option<Vec<Waiting>> {
        let mut queues = self.queues.lock().expect("claim queues lock");
        let waiting = queues.get_mut(partition)?;
        if waiting.is_empty() {
            queues.remove(partition);
            return None;
        }
        let mut ids = HashSet::new();
        let mut round = Vec::new();
        let mut later = Vec::new();
        for claim in waiting.drain(..) {
            if round.len() < CLAIMS_PER_ROUND && ids.insert(claim.row.order_id.clone()) {
                round.push(claim);
            } else {
                later.push(claim);
            }
        }
        *waiting = later;
        Some(round)
    }

    /// One conditional batch; claims whose order id was taken are answered, the others go
    /// back to the front of the queue.
    async fn run_round(&self, partition: &Partition, round: Vec<Waiting>) {
        let taken = match self.send(&round).await {
            Ok(Outcome::Applied) => {
                for claim in round {
                    let _ = claim.answer.send(Ok(true));
                }
                return;
            }
            Ok(Outcome::Taken(taken)) => taken,
            Err(error) => {
                for claim in round {
                    let _ = claim.answer.send(Err(error.clone()));
                }
                return;
            }
        };
        let mut again = Vec::new();
        for claim in round {
            if taken.contains(claim.row.order_id.as_str()) {
                let _ = claim.answer.send(Ok(false));
            } else {
                again.push(claim);
            }
        }
        if again.is_empty() {
            return;
        }
        let mut queues = self.queues.lock().expect("claim queues lock");
        let waiting = queues
            .get_mut(partition)
            .expect("a partition stays queued while its rounds run");
        again.append(waiting);
        *waiting = again;
    }

    /// Rounds sent to the node so far.
    #[cfg(test)]
    pub(super) fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    async fn send(&self, round: &[Waiting]) -> StoreResult<Outcome> {
        self.rounds.fetch_add(1, Ordering::Relaxed);
        let what = self.claim.get_statement();
        let result = if let [single] = round {
            self.session
                .execute_unpaged(&self.claim, single.row.values())
                .await
        } else {
            let mut batch = Batch::new(BatchType::Logged);
            for _ in round {
                batch.append_statement(self.claim.clone());
            }
            let values: Vec<ClaimValues<'_>> =
                round.iter().map(|claim| claim.row.values()).collect();
            self.session.batch(&batch, values).await
        }
        .map_err(|error| cql::execution_error(&self.claim, error))?;
        let rows = result
            .into_rows_result()
            .map_err(|error| corrupt(what, error))?;
        let order_id_column = rows
            .column_specs()
            .iter()
            .position(|column| column.name() == "order_id");
        let mut applied = false;
        let mut taken = HashSet::new();
        for row in rows.rows::<Row>().map_err(|error| corrupt(what, error))? {
            let row = row.map_err(|error| corrupt(what, error))?;
            if let Some(Some(CqlValue::Boolean(true))) = row.columns.first() {
                applied = true;
            }
            if let Some(Some(CqlValue::Text(order_id))) =
                order_id_column.and_then(|column| row.columns.get(column))
            {
                taken.insert(order_id.clone());
            }
        }
        if applied {
            return Ok(Outcome::Applied);
        }
        if taken.is_empty() {
            return Err(corrupt(
                what,
                "a claim that did not apply named no order id that is taken",
            ));
        }
        Ok(Outcome::Taken(taken))
    }
}

/// What the node answered to a round.
enum Outcome {
    Applied,
    /// Not applied: these order ids are taken.
    Taken(HashSet<String>),
}

#[cfg(test)]
mod tests {
    //! On the real test node: claims made at once on one partition share rounds, and each
    //! order id goes to exactly one of them.
    use super::super::cql::bucket;
    use super::super::{testing, ScyllaStore};
    use crate::model::NewOrder;
    use testing::order_request as new_order;

    /// `count` order ids that all fall in one partition (bucket) of `orders`.
    fn ids_of_one_bucket(count: usize) -> Vec<String> {
        (0..)
            .map(|n| format!("o-{n}"))
            .filter(|id| bucket(id) == 7)
            .take(count)
            .collect()
    }

    async fn store() -> (ScyllaStore, String) {
        let store = ScyllaStore::open(testing::shared_deployment())
            .await
            .expect("the store opens on the test node");
        (store, testing::unique_prefix("claims"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claims_at_once_share_rounds_and_each_order_id_goes_to_one_of_them() {
        let (store, tenant) = store().await;
        let ids = ids_of_one_bucket(48);
        // Every id twice at once, under two keys: one of the two must get it.
        let requests: Vec<NewOrder> = ids
            .iter()
            .flat_map(|id| {
                [
                    new_order(id, &format!("a-{id}")),
                    new_order(id, &format!("b-{id}")),
                ]
            })
            .collect();
        let outcomes = futures_util::future::join_all(
            requests
                .iter()
                .map(|request| store.claim_order(&tenant, request, Some(1))),
        )
        .await;
        for id in &ids {
            let winners: Vec<&NewOrder> = requests
                .iter()
                .zip(&outcomes)
                .filter(|(request, _)| &request.order.order_id == id)
                .filter(|(_, outcome)| *outcome.as_ref().expect("a claim answers") == true)
                .map(|(request, _)| request)
                .collect();
            assert_eq!(
                winners.len(),
                1,
                "order id {id} claimed {} times",
                winners.len()
            );
            let stored = store
                .read_order(&tenant, id)
                .await
                .unwrap()
                .expect("a claimed order is stored");
            assert_eq!(
                stored.idempotency_key, winners[0].idempotency_key,
                "order id {id}"
            );
        }
        let rounds = store.claims.rounds();
        assert!(
            rounds <= (requests.len() / 4) as u64,
            "{} claims on one partition took {rounds} rounds: they were not grouped",
            requests.len()
        );
    }

    #[tokio::test]
    async fn a_round_with_taken_order_ids_answers_those_and_claims_the_rest() {
        let (store, tenant) = store().await;
        let ids = ids_of_one_bucket(8);
        for id in ids.iter().step_by(2) {
            assert!(store
                .claim_order(&tenant, &new_order(id, "first"), Some(1))
                .await
                .unwrap());
        }
        let requests: Vec<NewOrder> = ids.iter().map(|id| new_order(id, "second")).collect();
        let outcomes = futures_util::future::join_all(
            requests
                .iter()
                .map(|request| store.claim_order(&tenant, request, Some(2))),
        )
        .await;
        let claimed: Vec<bool> = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap())
            .collect();
        let expected: Vec<bool> = (0..ids.len()).map(|index| index % 2 == 1).collect();
        assert_eq!(claimed, expected, "only the ids nobody held are claimed");
        for (index, id) in ids.iter().enumerate() {
            let stored = store.read_order(&tenant, id).await.unwrap().unwrap();
            let holder = if index % 2 == 0 { "first" } else { "second" };
            assert_eq!(stored.idempotency_key, holder, "order id {id}");
        }
    }
}
