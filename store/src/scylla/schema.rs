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

/// Partitions listed bucket by bucket (distributors, orders, volumes, statements, accounts)
/// have this many buckets per tenant: at ten million distributors a bucket holds about
/// 40,000 rows, and a listing reads the buckets in parallel.
pub const BUCKETS: i16 = 256;

/// All migrations, in order. Never edit one that has shipped: add a new one. (None has
/// shipped yet: until the first release the data model is still being shaped.)
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenants and api keys",
        scope: Scope::Global,
        statements: &[
            // The plan document travels with the tenant row: a tenant and its plan version
            // are created, read and (later) replaced together.
            "CREATE TABLE IF NOT EXISTS {global}.tenants (
                tenant_id text PRIMARY KEY,
                name text,
                plan text,
                plan_version int,
                created_at_ms bigint,
                home_region text,
                closes text)",
            // `tenants()` lists every tenant: one partition, bounded by the number of
            // companies on the platform (thousands), never by their distributors.
            "CREATE TABLE IF NOT EXISTS {global}.tenant_directory (
                directory text,
                tenant_id text,
                PRIMARY KEY ((directory), tenant_id))",
            "CREATE TABLE IF NOT EXISTS {global}.api_keys (
                secret_sha256 text PRIMARY KEY,
                key_id text,
                tenant_id text,
                created_at_ms bigint,
                revoked boolean)",
            // Claimed first (IF NOT EXISTS): a key id is unique within its tenant.
            "CREATE TABLE IF NOT EXISTS {global}.api_keys_by_tenant (
                tenant_id text,
                key_id text,
                secret_sha256 text,
                PRIMARY KEY ((tenant_id), key_id))",
        ],
    },
    Migration {
        version: 2,
        name: "distributors",
        scope: Scope::Regional,
        statements: &[
            // The genealogy: pseudonymous ids only. Bucketed by a hash of the id: a point
            // read computes the bucket, a listing (the genealogy index, a period snapshot)
            // reads the buckets. `event_sequence` is the outbox sequence of the
            // `distributor.enrolled` event, written before the row is claimed: the event is
            // real exactly when the row holds its sequence. `residence_region` names the
            // keyspace that holds the distributor's profile.
            "CREATE TABLE IF NOT EXISTS {regional}.distributors (
                tenant_id text,
                bucket smallint,
                distributor_id text,
                node int,
                sponsor_id text,
                placement_parent_id text,
                placement_slot tinyint,
                joined_on date,
                status text,
                residence_region text,
                event_sequence bigint,
                PRIMARY KEY ((tenant_id, bucket), distributor_id))",
            // Personal data, in the keyspace of the region the distributor resides in (which
            // may not be the one of their genealogy row). Written with the event sequence of
            // the change as the write timestamp, so the latest change wins whatever order the
            // writes land in.
            "CREATE TABLE IF NOT EXISTS {regional}.profiles (
                tenant_id text,
                bucket smallint,
                distributor_id text,
                name text,
                email text,
                country text,
                PRIMARY KEY ((tenant_id, bucket), distributor_id))",
        ],
    },
    Migration {
        version: 3,
        name: "orders and period volumes",
        scope: Scope::Regional,
        statements: &[
            // Claimed with INSERT ... IF NOT EXISTS; `idempotency_key` is the request that
            // created it. The event sequences work as for distributors, one for the creation
            // and one for the refund; an imported order has none (`imported`).
            "CREATE TABLE IF NOT EXISTS {regional}.orders (
                tenant_id text,
                bucket smallint,
                order_id text,
                distributor_id text,
                order_date date,
                pv bigint,
                cv bigint,
                status text,
                created_at_ms bigint,
                idempotency_key text,
                imported boolean,
                event_sequence bigint,
                refund_event_sequence bigint,
                PRIMARY KEY ((tenant_id, bucket), order_id))",
            // Idempotency keys of order requests: read, and written when new, under a lock of
            // the region's one writer process (the order id is what the LWT claims).
            "CREATE TABLE IF NOT EXISTS {regional}.order_requests (
                tenant_id text,
                idempotency_key text,
                request_sha256 text,
                order_id text,
                PRIMARY KEY ((tenant_id, idempotency_key)))",
            // Volumes per distributor and period, a close's snapshot. `applied_through` is
            // the highest event sequence folded in, so a replayed delta is recognised and
            // skipped; `imported` holds the ids of bulk-imported orders folded in (a few per
            // distributor and period), which do the same for imports. Every change is a
            // compare-and-set on `revision`.
            "CREATE TABLE IF NOT EXISTS {regional}.period_volumes (
                tenant_id text,
                period text,
                bucket smallint,
                distributor_id text,
                pv bigint,
                cv bigint,
                cv_by_day frozen<list<tuple<int, bigint>>>,
                applied_through bigint,
                imported frozen<set<text>>,
                revision bigint,
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
            // The transfer, claimed first with INSERT ... IF NOT EXISTS under the caller's
            // deterministic id (`state` pending), then its two legs, then `state` posted. A
            // replay finds the claim and completes whatever leg is missing.
            "CREATE TABLE IF NOT EXISTS {regional}.transfers (
                tenant_id text,
                transfer_id text,
                debit text,
                credit text,
                amount bigint,
                kind text,
                debit_must_stay_non_negative boolean,
                created_at_ms bigint,
                state text,
                event_sequence bigint,
                PRIMARY KEY ((tenant_id, transfer_id)))",
            // One partition per account. Its balance and version (the number of legs) are
            // static columns; each leg is one conditional batch on this partition alone: a
            // marker row (kind 0, key = transfer id and side) that makes the leg happen
            // once, a history row (kind 1, key = the zero-padded position) that lists the
            // account's transfers newest first, and the new balance and version IF the
            // version is still the one read.
            "CREATE TABLE IF NOT EXISTS {regional}.account_entries (
                tenant_id text,
                account_id text,
                kind tinyint,
                entry_key text,
                transfer_id text,
                amount bigint,
                balance bigint STATIC,
                version bigint STATIC,
                PRIMARY KEY ((tenant_id, account_id), kind, entry_key))",
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
            // (by range where consecutive) once relayed. Sequences come in blocks claimed
            // from `outbox_sequence` with a lightweight transaction; its `floor` row is the
            // lowest shard that may still hold events, so a reader skips the drained ones.
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
    Migration {
        version: 7,
        name: "order-writer and job leases",
        scope: Scope::Regional,
        statements: &[
            // One row per tenant: the one process that may write the tenant's orders in
            // this region, and a counter its renewals move on (see `lease`). Changed only by
            // lightweight transactions, a few per minute.
            "CREATE TABLE IF NOT EXISTS {regional}.order_writers (
                tenant_id text PRIMARY KEY,
                holder text,
                renewal bigint)",
            // One row per job a process must do alone (a tenant's scheduled close of a
            // period): its holder, written with a TTL that each renewal restarts (see
            // `job_leases`). A handful of lightweight transactions per job.
            "CREATE TABLE IF NOT EXISTS {regional}.job_leases (
                job text PRIMARY KEY,
                holder text)",
        ],
    },
    Migration {
        version: 8,
        name: "replaced plan versions and closed tenants",
        scope: Scope::Global,
        statements: &[
            // A closed tenant: read with its row (`tenant` answers None), written before its
            // keys are revoked and its directory entry goes, so an interrupted close is
            // finished by doing it again.
            "CREATE TABLE IF NOT EXISTS {global}.closed_tenants (
                tenant_id text PRIMARY KEY,
                closed_at_ms bigint)",
            // A tenant's plan versions that a newer one replaced (the current one is in the
            // tenant's row): written once each, before the row moves on, and read when a run
            // of an older version is restated.
            "CREATE TABLE IF NOT EXISTS {global}.tenant_plans (
                tenant_id text,
                version int,
                plan text,
                PRIMARY KEY ((tenant_id), version))",
        ],
    },
];
