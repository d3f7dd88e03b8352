//! The embedded tables. Keys are built by [`super::codec::key`] (tenant first).

use redb::TableDefinition;

type Bytes = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// tenant → Tenant
pub const TENANTS: Bytes = TableDefinition::new("tenants");
/// (tenant, plan version as 10 digits) → the plan document a newer version replaced
pub const TENANT_PLANS: Bytes = TableDefinition::new("tenant_plans");
/// tenant → when it was closed (ms)
pub const CLOSED_TENANTS: Bytes = TableDefinition::new("closed_tenants");
/// secret sha256 → ApiKey
pub const API_KEYS: Bytes = TableDefinition::new("api_keys");
/// (tenant, key id) → secret sha256
pub const API_KEY_IDS: Bytes = TableDefinition::new("api_key_ids");
/// (tenant, distributor id) → Distributor
pub const DISTRIBUTORS: Bytes = TableDefinition::new("distributors");
/// (tenant, order id) → Order
pub const ORDERS: Bytes = TableDefinition::new("orders");
/// (tenant, idempotency key) → IdempotencyRecord
pub const IDEMPOTENCY_KEYS: Bytes = TableDefinition::new("idempotency_keys");
/// (tenant, period, distributor) → PeriodVolume (with the highest event sequence applied)
pub const VOLUMES: Bytes = TableDefinition::new("volumes");
/// (tenant, run) → Run
pub const RUNS: Bytes = TableDefinition::new("runs");
/// (tenant, run, distributor) → Statement
pub const STATEMENTS: Bytes = TableDefinition::new("statements");
/// (tenant, transfer id) → Transfer
pub const TRANSFERS: Bytes = TableDefinition::new("transfers");
/// (tenant, account) → Account
pub const ACCOUNTS: Bytes = TableDefinition::new("accounts");
/// (tenant, account, 16 hex digits of the account's transfer count) → transfer id
pub const ACCOUNT_TRANSFERS: Bytes = TableDefinition::new("account_transfers");
/// job → its lease (holder, expiry)
pub const LEASES: Bytes = TableDefinition::new("leases");
/// sequence → OutboxEvent
pub const OUTBOX: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("outbox");
/// name → value
pub const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");

/// Every table, so that a new data directory creates them all at once (a read of a table that
/// was never written is then an empty table, not an error).
pub fn create_all(txn: &redb::WriteTransaction) -> Result<(), redb::TableError> {
    for table in [
        TENANTS,
        TENANT_PLANS,
        CLOSED_TENANTS,
        API_KEYS,
        API_KEY_IDS,
        DISTRIBUTORS,
        ORDERS,
        IDEMPOTENCY_KEYS,
        VOLUMES,
        RUNS,
        STATEMENTS,
        TRANSFERS,
        ACCOUNTS,
        ACCOUNT_TRANSFERS,
        LEASES,
    ] {
        txn.open_table(table)?;
    }
    txn.open_table(OUTBOX)?;
    txn.open_table(META)?;
    Ok(())
}
