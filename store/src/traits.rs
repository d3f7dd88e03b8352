//! The storage traits, one per aggregate.
//!
//! Every method is one atomic step on one partition — one tenant's one entity, together with
//! the outbox event that describes the change — as ScyllaDB can do it (a lightweight transaction
//! or a single-partition batch). Anything wider is a sequence of such steps, each idempotent, so
//! that a retry or a restart completes it: a period's volumes are applied from order events keyed
//! by `(order_id, kind)`, statements are written in idempotent chunks, ledger transfers are keyed
//! by ids derived from what caused them. A backend may be stronger (the embedded one commits a
//! whole batch at once); nothing above these traits relies on it.

use crate::error::StoreResult;
use crate::model::*;
use async_trait::async_trait;
use std::time::Duration;

/// Tenants and their API keys. Partitions: the tenant; the key's hash.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the tenant; `Conflict` when the id exists.
    async fn create_tenant(&self, tenant: Tenant) -> StoreResult<()>;
    /// The tenant, unless there is none or it was closed.
    async fn tenant(&self, tenant_id: &str) -> StoreResult<Option<Tenant>>;
    /// Every tenant not closed.
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Makes `plan` the tenant's plan, as version `replaces + 1`, when its plan version is
    /// still `replaces` (a compare-and-set: of two changes based on one version, one wins).
    /// Version `replaces` stays readable through `tenant_plan`: the runs it paid name it.
    /// False when the version moved on, or there is no such tenant.
    async fn replace_plan(
        &self,
        tenant_id: &str,
        replaces: u32,
        plan: serde_json::Value,
    ) -> StoreResult<bool>;
    /// The plan document of one version of the tenant's plan, the current one included.
    async fn tenant_plan(
        &self,
        tenant_id: &str,
        version: u32,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Closes the tenant for good: from then on it is neither read (`tenant` is None) nor
    /// listed, its id is not given again, and every API key of it is revoked. What it held
    /// stays stored (the payments it made are records to keep). Completes a close that was
    /// interrupted; false when there is no such tenant, open or closed.
    async fn close_tenant(&self, tenant_id: &str, closed_at_ms: i64) -> StoreResult<bool>;
    /// Stores a new key; `Conflict` when its hash or id exists.
    async fn create_api_key(&self, key: ApiKey) -> StoreResult<()>;
    async fn api_key_by_hash(&self, secret_sha256: &str) -> StoreResult<Option<ApiKey>>;
    /// Revokes the tenant's key; false when the tenant has no such key.
    async fn revoke_api_key(&self, tenant_id: &str, key_id: &str) -> StoreResult<bool>;
}

/// Distributors. Partition: (tenant, distributor id).
#[async_trait]
pub trait DistributorStore: Send + Sync {
    /// Inserts each distributor that does not exist yet, with a `distributor.enrolled` event.
    /// One outcome per input, in order: `Ok(true)` stored, `Ok(false)` the same record was
    /// there already (a retry), `Err(Conflict)` another record holds the id.
    async fn enroll(
        &self,
        tenant_id: &str,
        distributors: Vec<Distributor>,
    ) -> StoreResult<Vec<StoreResult<bool>>>;
    async fn distributor(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Distributor>>;
    /// Replaces the profile; `None` when there is no such distributor.
    async fn update_profile(
        &self,
        tenant_id: &str,
        id: &str,
        profile: Profile,
    ) -> StoreResult<Option<Distributor>>;
    /// Marks the distributor terminated (idempotent); `None` when there is no such distributor.
    async fn terminate(&self, tenant_id: &str, id: &str) -> StoreResult<Option<Distributor>>;
    /// Every distributor of the tenant with their profile, in enrollment order (`node`), all
    /// at once: for tests and small tenants. The serving paths read the genealogy in pages
    /// ([`genealogy_page`](Self::genealogy_page)) and erase profiles in pages
    /// ([`erase_profiles`](Self::erase_profiles)).
    async fn distributors(&self, tenant_id: &str) -> StoreResult<Vec<Distributor>>;
    /// The tenant's genealogy a page at a time, without the profiles: what a period close
    /// reads, without holding every record at once (or reading every region's profiles).
    /// Start with `from` None and pass each page's `next` back until it is None. A page holds
    /// about `limit` distributors (a store may return more, or fewer at the end), in an order
    /// of the store's choosing; every distributor enrolled before the first page is in
    /// exactly one page.
    async fn genealogy_page(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<GenealogyPage>;
    /// Erases the personal data of a page of the tenant's distributors: every profile of the
    /// page that holds any becomes empty, each with the `distributor.updated` event an
    /// [`update_profile`](Self::update_profile) would write. Pages as in
    /// [`genealogy_page`](Self::genealogy_page): start with `from` None and pass each `next`
    /// back until it is None; `limit` bounds the distributors a page looks at (a store may
    /// look at a few more). Erasing again erases nothing: a page's `erased` counts only the
    /// profiles it emptied.
    async fn erase_profiles(
        &self,
        tenant_id: &str,
        from: Option<&str>,
        limit: usize,
    ) -> StoreResult<ErasedPage>;
    /// The regions a distributor may reside in (their profile is kept in that region's
    /// keyspace); None when the backend has no regions (the embedded store keeps everything
    /// in one place, and records the residence region as given).
    fn residence_regions(&self) -> Option<&[String]> {
        None
    }
    /// The region this store serves: its keyspace holds the orders it takes, so it takes
    /// orders only of the distributors residing there. None when the backend has no regions.
    fn serving_region(&self) -> Option<&str> {
        None
    }
}

/// Orders and their idempotency keys. Partitions: (tenant, order id) and (tenant, key).
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Creates the order with an `order.created` event, unless its key or its id was used.
    async fn create_order(&self, tenant_id: &str, order: NewOrder) -> StoreResult<OrderOutcome>;
    /// Marks a paid order refunded, with an `order.refunded` event.
    async fn refund_order(&self, tenant_id: &str, order_id: &str) -> StoreResult<RefundOutcome>;
    /// A bulk import of order history: creates every order whose key and id are unused, with
    /// the volume deltas of the created ones applied in the same step instead of through events.
    /// Returns how many orders were created. A backend without multi-partition batches performs
    /// it as `create_order` then `apply_volumes` per order, both idempotent, so a retry completes it.
    async fn import_orders(
        &self,
        tenant_id: &str,
        orders: Vec<NewOrder>,
        deltas: Vec<VolumeDelta>,
    ) -> StoreResult<u64>;
    async fn order(&self, tenant_id: &str, order_id: &str) -> StoreResult<Option<Order>>;
    /// Every order of the tenant (export and audits only: a period close reads volumes).
    async fn orders(&self, tenant_id: &str) -> StoreResult<Vec<Order>>;
    /// This process writes no more orders (it is shutting down): a backend whose order
    /// writers hold leases lets the next process take them at once. The embedded store has
    /// one process by construction.
    async fn stop_writing_orders(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Period volumes, maintained from order events. Partition: (tenant, period, distributor).
#[async_trait]
pub trait VolumeStore: Send + Sync {
    /// Applies each delta to each of its periods. Every record (tenant, period, distributor)
    /// remembers the highest event sequence applied to it (`PeriodVolume::applied_through`) and
    /// skips deltas at or below it, so a replay of events in sequence order — a redelivery, or
    /// the events of a checkpoint interrupted by a crash — applies each event once. Callers give
    /// each record's deltas in increasing sequence across calls (the volume projector follows
    /// the outbox, so it does); one call may hold a record's deltas in any order. One atomic
    /// step per record: a backend may apply a call's records separately. Returns how many
    /// (delta, period) pairs changed.
    async fn apply_volumes(&self, tenant_id: &str, deltas: Vec<VolumeDelta>) -> StoreResult<u64>;
    /// The counting volumes of every distributor with any in the period.
    async fn period_volumes(
        &self,
        tenant_id: &str,
        period: &str,
    ) -> StoreResult<Vec<(String, PeriodVolume)>>;
    /// The periods (months and weeks) that have volumes.
    async fn volume_periods(&self, tenant_id: &str) -> StoreResult<Vec<String>>;
}

/// Commission runs and their statements. Partitions: (tenant, run); (tenant, run, distributor).
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Creates the run; `Conflict` when the id exists.
    async fn create_run(&self, tenant_id: &str, run: Run) -> StoreResult<()>;
    /// Replaces the run if its stored status is `expected` (compare-and-set); returns whether it did.
    async fn update_run(&self, tenant_id: &str, expected: RunStatus, run: Run)
        -> StoreResult<bool>;
    async fn run(&self, tenant_id: &str, run_id: &str) -> StoreResult<Option<Run>>;
    async fn runs(&self, tenant_id: &str) -> StoreResult<Vec<Run>>;
    /// Writes statements (idempotent: the same statement written twice is one).
    async fn put_statements(
        &self,
        tenant_id: &str,
        run_id: &str,
        statements: Vec<Statement>,
    ) -> StoreResult<()>;
    async fn statement(
        &self,
        tenant_id: &str,
        run_id: &str,
        distributor_id: &str,
    ) -> StoreResult<Option<Statement>>;
    /// Every statement of the run, sorted by distributor id.
    async fn statements(&self, tenant_id: &str, run_id: &str) -> StoreResult<Vec<Statement>>;
    /// The run's statements whose distributor ids come after `after` (from the first when
    /// `None`), in byte order of the ids: about `limit` of them, never none while any are
    /// left — an empty page is the end. For reading a whole run without holding it.
    async fn statements_after(
        &self,
        tenant_id: &str,
        run_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Statement>>;
}

/// The double-entry ledger. Partitions: (tenant, transfer id); (tenant, account).
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Posts each transfer once (keyed by id), each with a `transfer.posted` event. One outcome
    /// per input, in order.
    async fn post_transfers(
        &self,
        tenant_id: &str,
        transfers: Vec<Transfer>,
    ) -> StoreResult<Vec<TransferOutcome>>;
    /// The account (a zero balance when it never moved).
    async fn account(&self, tenant_id: &str, account_id: &str) -> StoreResult<Account>;
    /// Every account that ever moved.
    async fn accounts(&self, tenant_id: &str) -> StoreResult<Vec<Account>>;
    /// The account's transfers, newest first, at most `limit`.
    async fn account_transfers(
        &self,
        tenant_id: &str,
        account_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Transfer>>;
    async fn transfer(&self, tenant_id: &str, transfer_id: &str) -> StoreResult<Option<Transfer>>;
}

/// The outbox: events written with the changes they describe, until the relay acknowledges them.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Pending events with a sequence above `after`, in order, at most `limit`.
    async fn pending_events(&self, after: u64, limit: usize) -> StoreResult<Vec<OutboxEvent>>;
    /// Removes delivered events (idempotent).
    async fn acknowledge_events(&self, sequences: Vec<u64>) -> StoreResult<()>;
}

/// Job leases: a job that one process must do alone at a time (a tenant's scheduled close of
/// a period) is done under a lease of its name. A lease lapses `valid_for` after the renewal
/// that set it, counted by the store's clock, so a holder that dies hands its job on.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease of `job` for `holder`, or renews it when `holder` has it, for
    /// `valid_for` (whole seconds, at least one); false while another holder's lease runs.
    /// A holder counts its lease valid for `valid_for` from when it *sent* the request.
    async fn hold_lease(&self, job: &str, holder: &str, valid_for: Duration) -> StoreResult<bool>;
    /// Gives the lease of `job` up, if `holder` has it.
    async fn release_lease(&self, job: &str, holder: &str) -> StoreResult<()>;
}

/// Everything a backend provides.
pub trait Store:
    TenantStore
    + DistributorStore
    + OrderStore
    + VolumeStore
    + RunStore
    + LedgerStore
    + OutboxStore
    + LeaseStore
{
}

impl<T> Store for T where
    T: TenantStore
        + DistributorStore
        + OrderStore
        + VolumeStore
        + RunStore
        + LedgerStore
        + OutboxStore
        + LeaseStore
{
}

/// A lease's length as the store keeps it: whole seconds, rounded up (the store must keep a
/// lease at least as long as its holder counts on it), at least one.
pub fn lease_seconds(valid_for: Duration) -> u32 {
    let seconds = valid_for.as_secs() + u64::from(valid_for.subsec_nanos() > 0);
    seconds.clamp(1, u64::from(u32::MAX)) as u32
}
