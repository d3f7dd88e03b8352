//! The CQL schema, as versioned migrations (see `docs/data-model.md` for why each table is
//! shaped as it is). Every statement is idempotent (`IF NOT EXISTS`), so a migration that
//! was interrupted half-way is simply run again; and each uses only CQL that both ScyllaDB
//! and Cassandra 5.0 accept: no counters, no materialized views, no secondary indexes, no
//! `ALLOW FILTERING`, no tablets options.
//!
//! `{global}` and `{regional}` stand for the keyspace names of a deployment.

/// Which keyspace a migration's statements are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Tenants, API keys and plans: replicated to every region's datacenter.
    Global,
    /// Personal data, orders, volumes, runs, the ledger and the outbox of the distributors
    /// residing in one region: replicated in that region's datacenter only.
    Regional,
}

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub scope: Scope,
    pub statements: &'static [&'static str],
}

/// All migrations, in order. Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenants, api keys and plans",
        scope: Scope::Global,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {global}.tenants (
                tenant_id text PRIMARY KEY,
                name text,
                plan_version int,
                home_region text,
                created_at_ms bigint)",
            // `tenants()` lists every tenant: one partition, bounded by the number of
            // companies on the platform (thousands), never by their distributors.
            "CREATE TABLE IF NOT EXISTS {global}.tenant_directory (
                directory text,
                tenant_id text,
                PRIMARY KEY ((directory), tenant_id))",
            "CREATE TABLE IF NOT EXISTS {global}.plans (
                tenant_id text,
                version int,
                document text,
                content_sha256 text,
                PRIMARY KEY ((tenant_id), version)) WITH CLUSTERING ORDER BY (version DESC)",
            "CREATE TABLE IF NOT EXISTS {global}.api_keys (
                secret_sha256 text PRIMARY KEY,
                key_id text,
                tenant_id text,
                created_at_ms bigint,
                revoked boolean)",
            "CREATE TABLE IF NOT EXISTS {global}.api_keys_by_tenant (
                tenant_id text,
                key_id text,
                secret_sha256 text,
                PRIMARY KEY ((tenant_id), key_id))",
        ],
    },
    Migration {
        version: 2,
        name: "distributors and the genealogy",
        scope: Scope::Regional,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {regional}.distributors (
                tenant_id text,
                distributor_id text,
                node int,
                sponsor_id text,
                placement_parent_id text,
                placement_slot tinyint,
                joined_on date,
                status text,
                name text,
                email text,
                country text,
                PRIMARY KEY ((tenant_id, distributor_id)))",
            // A tenant's distributors, listed bucket by bucket (bucket = a hash of the id):
            // one partition per bucket keeps each partition to a few hundred thousand rows
            // at ten million distributors.
            "CREATE TABLE IF NOT EXISTS {regional}.distributors_by_bucket (
                tenant_id text,
                bucket smallint,
                distributor_id text,
                sponsor_id text,
                node int,
                PRIMARY KEY ((tenant_id, bucket), distributor_id))",
            // A sponsor's frontline, bucketed too: a company account can recruit millions.
            "CREATE TABLE IF NOT EXISTS {regional}.frontline (
                tenant_id text,
                sponsor_id text,
                bucket smallint,
                distributor_id text,
                PRIMARY KEY ((tenant_id, sponsor_id, bucket), distributor_id))",
        ],
    },
    Migration {
        version: 3,
        name: "orders and period volumes",
        scope: Scope::Regional,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {regional}.orders (
                tenant_id text,
                order_id text,
                distributor_id text,
                order_date date,
                pv bigint,
                cv bigint,
                status text,
                created_at_ms bigint,
                PRIMARY KEY ((tenant_id, order_id)))",
            // A period's orders for a close, bucketed by a hash of the order id.
            "CREATE TABLE IF NOT EXISTS {regional}.orders_by_period (
                tenant_id text,
                period text,
                bucket smallint,
                order_id text,
                distributor_id text,
                order_date date,
                pv bigint,
                cv bigint,
                status text,
                PRIMARY KEY ((tenant_id, period, bucket), order_id))",
            // Idempotency keys of order requests, claimed with INSERT ... IF NOT EXISTS.
            "CREATE TABLE IF NOT EXISTS {regional}.order_requests (
                tenant_id text,
                idempotency_key text,
                request_sha256 text,
                order_id text,
                PRIMARY KEY ((tenant_id, idempotency_key)))",
            // Volumes per distributor and period; `applied_through` is the highest event
            // sequence folded in, so a replayed delta is recognised and skipped.
            "CREATE TABLE IF NOT EXISTS {regional}.period_volumes (
                tenant_id text,
                period text,
                bucket smallint,
                distributor_id text,
                pv bigint,
                cv bigint,
                cv_by_day frozen<list<tuple<int, bigint>>>,
                applied_through bigint,
                PRIMARY KEY ((tenant_id, period, bucket), distributor_id))",
            "CREATE TABLE IF NOT EXISTS {regional}.volume_periods (
                tenant_id text,
                period text,
                PRIMARY KEY ((tenant_id), period))",
        ],
    },
    Migration {
        version: 4,
        name: "commission runs and statements",
        scope: Scope::Regional,
        statements: &[
            "CREATE TABLE IF NOT EXISTS {regional}.runs (
                tenant_id text,
                run_id text,
                period text,
                plan_version int,
                status text,
                restates text,
                created_at_ms bigint,
                distributors bigint,
                lines bigint,
                totals frozen<list<tuple<text, text>>>,
                error text,
                PRIMARY KEY ((tenant_id), run_id))",
            "CREATE TABLE IF NOT EXISTS {regional}.statements (
                tenant_id text,
                run_id text,
                bucket smallint,
                distributor_id text,
                summary text,
                lines frozen<list<text>>,
                state text,
                PRIMARY KEY ((tenant_id, run_id, bucket), distributor_id))",
        ],
    },
    Migration {
        version: 5,
        name: "the ledger",
        scope: Scope::Regional,
        statements: &[
            // One partition per account: its entries (append-only, id = transfer id and
            // side) and, as static columns, the balance and a version. A leg is one
            // conditional batch on that single partition: insert the entry IF NOT EXISTS
            // and set balance and version IF version = the version read.
            "CREATE TABLE IF NOT EXISTS {regional}.account_entries (
                tenant_id text,
                account_id text,
                entry_id text,
                amount bigint,
                transfer_kind text,
                created_at_ms bigint,
                balance bigint STATIC,
                version bigint STATIC,
                entry_count bigint STATIC,
                PRIMARY KEY ((tenant_id, account_id), entry_id))",
            // The transfer itself, claimed first with INSERT ... IF NOT EXISTS: its id is the
            // caller's deterministic id, so a replay finds it and completes the missing leg.
            "CREATE TABLE IF NOT EXISTS {regional}.transfers (
                tenant_id text,
                transfer_id text,
                debit text,
                credit text,
                amount bigint,
                kind text,
                debit_must_stay_non_negative boolean,
                created_at_ms bigint,
                debited boolean,
                credited boolean,
                PRIMARY KEY ((tenant_id, transfer_id)))",
            "CREATE TABLE IF NOT EXISTS {regional}.accounts_by_tenant (
                tenant_id text,
                bucket smallint,
                account_id text,
                PRIMARY KEY ((tenant_id, bucket), account_id))",
        ],
    },
    Migration {
        version: 6,
        name: "the outbox",
        scope: Scope::Regional,
        statements: &[
            // Events in sequence order, 65,536 sequences per partition (`shard`), deleted
            // by range once relayed. Sequences come in blocks from `outbox_sequence`.
            "CREATE TABLE IF NOT EXISTS {regional}.outbox (
                shard bigint,
                sequence bigint,
                tenant_id text,
                kind text,
                payload text,
                PRIMARY KEY ((shard), sequence))",
            "CREATE TABLE IF NOT EXISTS {regional}.outbox_sequence (
                name text PRIMARY KEY,
                next bigint)",
        ],
    },
];
