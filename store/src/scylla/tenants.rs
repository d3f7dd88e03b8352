//! Tenants and API keys, in the global keyspace.

use super::cql::{self, prepare};
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{ApiKey, Tenant};
use crate::traits::TenantStore;
use async_trait::async_trait;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

/// The one partition of `tenant_directory`.
const DIRECTORY: &str = "all";

pub(super) struct TenantStatements {
    insert_tenant: PreparedStatement,
    select_tenant: PreparedStatement,
    list_directory: PreparedStatement,
    insert_directory: PreparedStatement,
    keep_replaced_plan: PreparedStatement,
    close_tenant: PreparedStatement,
    select_closed: PreparedStatement,
    remove_from_directory: PreparedStatement,
    list_key_ids: PreparedStatement,
    replace_plan: PreparedStatement,
    select_replaced_plan: PreparedStatement,
    claim_key_id: PreparedStatement,
    release_key_id: PreparedStatement,
    insert_key: PreparedStatement,
    select_key: PreparedStatement,
    select_key_id: PreparedStatement,
    revoke_key: PreparedStatement,
}

type TenantRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<i64>,
    Option<String>,
    Option<String>,
);
type KeyRow = (
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Option<bool>,
);

impl TenantStatements {
    pub(super) async fn prepare(session: &Session, global: &str) -> Result<Self, String> {
        Ok(TenantStatements {
            insert_tenant: prepare(
                session,
                format!(
                    "INSERT INTO {global}.tenants (tenant_id, name, plan, plan_version, created_at_ms, \
                     home_region, closes) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            select_tenant: prepare(
                session,
                format!(
                    "SELECT tenant_id, name, plan, plan_version, created_at_ms, home_region, closes FROM {global}.tenants \
                     WHERE tenant_id = ?"
                ),
                true,
            )
            .await?,
            list_directory: prepare(
                session,
                format!("SELECT tenant_id FROM {global}.tenant_directory WHERE directory = ?"),
                true,
            )
            .await?,
            insert_directory: prepare(
                session,
                format!("INSERT INTO {global}.tenant_directory (directory, tenant_id) VALUES (?, ?)"),
                true,
            )
            .await?,
            close_tenant: prepare(
                session,
                format!(
                    "INSERT INTO {global}.closed_tenants (tenant_id, closed_at_ms) VALUES (?, ?) \
                     IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            select_closed: prepare(
                session,
                format!("SELECT closed_at_ms FROM {global}.closed_tenants WHERE tenant_id = ?"),
                true,
            )
            .await?,
            remove_from_directory: prepare(
                session,
                format!(
                    "DELETE FROM {global}.tenant_directory WHERE directory = ? AND tenant_id = ?"
                ),
                true,
            )
            .await?,
            list_key_ids: prepare(
                session,
                format!(
                    "SELECT secret_sha256 FROM {global}.api_keys_by_tenant WHERE tenant_id = ?"
                ),
                true,
            )
            .await?,
            keep_replaced_plan: prepare(
                session,
                format!(
                    "INSERT INTO {global}.tenant_plans (tenant_id, version, plan) VALUES (?, ?, ?)"
                ),
                true,
            )
            .await?,
            replace_plan: prepare(
                session,
                format!(
                    "UPDATE {global}.tenants SET plan = ?, plan_version = ? WHERE tenant_id = ? \
                     IF plan_version = ?"
                ),
                false,
            )
            .await?,
            select_replaced_plan: prepare(
                session,
                format!(
                    "SELECT plan FROM {global}.tenant_plans WHERE tenant_id = ? AND version = ?"
                ),
                true,
            )
            .await?,
            claim_key_id: prepare(
                session,
                format!(
                    "INSERT INTO {global}.api_keys_by_tenant (tenant_id, key_id, secret_sha256) \
                     VALUES (?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            release_key_id: prepare(
                session,
                format!(
                    "DELETE FROM {global}.api_keys_by_tenant WHERE tenant_id = ? AND key_id = ? \
                     IF secret_sha256 = ?"
                ),
                false,
            )
            .await?,
            insert_key: prepare(
                session,
                format!(
                    "INSERT INTO {global}.api_keys (secret_sha256, key_id, tenant_id, created_at_ms, revoked) \
                     VALUES (?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            select_key: prepare(
                session,
                format!(
                    "SELECT key_id, tenant_id, secret_sha256, created_at_ms, revoked FROM {global}.api_keys \
                     WHERE secret_sha256 = ?"
                ),
                true,
            )
            .await?,
            select_key_id: prepare(
                session,
                format!(
                    "SELECT secret_sha256 FROM {global}.api_keys_by_tenant WHERE tenant_id = ? AND key_id = ?"
                ),
                true,
            )
            .await?,
            revoke_key: prepare(
                session,
                format!("UPDATE {global}.api_keys SET revoked = true WHERE secret_sha256 = ? IF EXISTS"),
                false,
            )
            .await?,
        })
    }
}

impl ScyllaStore {
    /// The tenant's row, whether or not the tenant was closed.
    async fn tenant_open_or_closed(&self, tenant_id: &str) -> StoreResult<Option<Tenant>> {
        let row: Option<TenantRow> =
            cql::maybe_row(&self.session, &self.tenants.select_tenant, (tenant_id,)).await?;
        row.map(tenant_from).transpose()
    }
}

fn tenant_from(row: TenantRow) -> StoreResult<Tenant> {
    let (id, name, plan, plan_version, created_at_ms, home_region, closes) = row;
    let plan = serde_json::from_str(plan.as_deref().unwrap_or("null"))
        .map_err(|error| StoreError::Corrupt(format!("tenant {id}: plan: {error}")))?;
    let closes = closes
        .map(|closes| serde_json::from_str(&closes))
        .transpose()
        .map_err(|error| StoreError::Corrupt(format!("tenant {id}: closes: {error}")))?;
    Ok(Tenant {
        id,
        name: name.unwrap_or_default(),
        plan,
        plan_version: plan_version.unwrap_or(1) as u32,
        created_at_ms: created_at_ms.unwrap_or(0),
        home_region,
        closes,
    })
}

#[async_trait]
impl TenantStore for ScyllaStore {
    async fn create_tenant(&self, tenant: Tenant) -> StoreResult<()> {
        let statements = &self.tenants;
        // Listed first: a crash after this leaves a directory entry without a tenant, which
        // `tenants()` skips; the other way round would leave a tenant nobody lists.
        cql::execute(
            &self.session,
            &statements.insert_directory,
            (DIRECTORY, &tenant.id),
        )
        .await?;
        let plan = serde_json::to_string(&tenant.plan).expect("plans serialize");
        let closes = tenant
            .closes
            .map(|closes| serde_json::to_string(&closes).expect("schedules serialize"));
        let created = cql::conditional(
            &self.session,
            &statements.insert_tenant,
            (
                &tenant.id,
                &tenant.name,
                plan,
                tenant.plan_version as i32,
                tenant.created_at_ms,
                &tenant.home_region,
                closes,
            ),
        )
        .await?;
        if created {
            Ok(())
        } else {
            Err(StoreError::conflict(format!("tenant {}", tenant.id)))
        }
    }

    async fn tenant(&self, tenant_id: &str) -> StoreResult<Option<Tenant>> {
        let Some(tenant) = self.tenant_open_or_closed(tenant_id).await? else {
            return Ok(None);
        };
        let closed: Option<(Option<i64>,)> =
            cql::maybe_row(&self.session, &self.tenants.select_closed, (tenant_id,)).await?;
        Ok(closed.is_none().then_some(tenant))
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        let ids: Vec<(String,)> =
            cql::all_rows(&self.session, &self.tenants.list_directory, (DIRECTORY,)).await?;
        let mut tenants = Vec::with_capacity(ids.len());
        for (id,) in ids {
            if let Some(tenant) = self.tenant(&id).await? {
                tenants.push(tenant);
            }
        }
        Ok(tenants)
    }

    async fn replace_plan(
        &self,
        tenant_id: &str,
        replaces: u32,
        plan: serde_json::Value,
    ) -> StoreResult<bool> {
        let statements = &self.tenants;
        let Some(tenant) = self.tenant(tenant_id).await? else {
            return Ok(false);
        };
        if tenant.plan_version != replaces {
            return Ok(false);
        }
        // Kept first: a crash between the two leaves a copy of the current version (written
        // again, identical, by a retry), never a replaced version nobody can read.
        let replaced = serde_json::to_string(&tenant.plan).expect("plans serialize");
        cql::execute(
            &self.session,
            &statements.keep_replaced_plan,
            (tenant_id, replaces as i32, replaced),
        )
        .await?;
        let plan = serde_json::to_string(&plan).expect("plans serialize");
        cql::conditional(
            &self.session,
            &statements.replace_plan,
            (plan, (replaces + 1) as i32, tenant_id, replaces as i32),
        )
        .await
    }

    async fn tenant_plan(
        &self,
        tenant_id: &str,
        version: u32,
    ) -> StoreResult<Option<serde_json::Value>> {
        match self.tenant(tenant_id).await? {
            Some(tenant) if tenant.plan_version == version => Ok(Some(tenant.plan)),
            Some(_) => {
                let row: Option<(Option<String>,)> = cql::maybe_row(
                    &self.session,
                    &self.tenants.select_replaced_plan,
                    (tenant_id, version as i32),
                )
                .await?;
                row.and_then(|(plan,)| plan)
                    .map(|plan| {
                        serde_json::from_str(&plan).map_err(|error| {
                            StoreError::Corrupt(format!(
                                "tenant {tenant_id}: plan version {version}: {error}"
                            ))
                        })
                    })
                    .transpose()
            }
            None => Ok(None),
        }
    }

    async fn close_tenant(&self, tenant_id: &str, closed_at_ms: i64) -> StoreResult<bool> {
        let statements = &self.tenants;
        if self.tenant_open_or_closed(tenant_id).await?.is_none() {
            return Ok(false);
        }
        // Closed first: from then on nothing serves the tenant, whatever step a crash stops.
        cql::conditional(
            &self.session,
            &statements.close_tenant,
            (tenant_id, closed_at_ms),
        )
        .await?;
        let hashes: Vec<(String,)> =
            cql::all_rows(&self.session, &statements.list_key_ids, (tenant_id,)).await?;
        for (hash,) in hashes {
            cql::conditional(&self.session, &statements.revoke_key, (hash,)).await?;
        }
        cql::execute(
            &self.session,
            &statements.remove_from_directory,
            (DIRECTORY, tenant_id),
        )
        .await?;
        Ok(true)
    }

    async fn create_api_key(&self, key: ApiKey) -> StoreResult<()> {
        let statements = &self.tenants;
        let id_claimed = cql::conditional(
            &self.session,
            &statements.claim_key_id,
            (&key.tenant_id, &key.key_id, &key.secret_sha256),
        )
        .await?;
        if !id_claimed {
            return Err(StoreError::conflict(format!("API key {}", key.key_id)));
        }
        let stored = cql::conditional(
            &self.session,
            &statements.insert_key,
            (
                &key.secret_sha256,
                &key.key_id,
                &key.tenant_id,
                key.created_at_ms,
                key.revoked,
            ),
        )
        .await?;
        if stored {
            return Ok(());
        }
        // The hash belongs to another key: give the id back.
        cql::conditional(
            &self.session,
            &statements.release_key_id,
            (&key.tenant_id, &key.key_id, &key.secret_sha256),
        )
        .await?;
        Err(StoreError::conflict(format!("API key {}", key.key_id)))
    }

    async fn api_key_by_hash(&self, secret_sha256: &str) -> StoreResult<Option<ApiKey>> {
        let row: Option<KeyRow> =
            cql::maybe_row(&self.session, &self.tenants.select_key, (secret_sha256,)).await?;
        Ok(row.map(
            |(key_id, tenant_id, secret_sha256, created_at_ms, revoked)| ApiKey {
                key_id: key_id.unwrap_or_default(),
                tenant_id: tenant_id.unwrap_or_default(),
                secret_sha256,
                created_at_ms: created_at_ms.unwrap_or(0),
                revoked: revoked.unwrap_or(false),
            },
        ))
    }

    async fn revoke_api_key(&self, tenant_id: &str, key_id: &str) -> StoreResult<bool> {
        let found: Option<(Option<String>,)> = cql::maybe_row(
            &self.session,
            &self.tenants.select_key_id,
            (tenant_id, key_id),
        )
        .await?;
        let Some((Some(secret_sha256),)) = found else {
            return Ok(false);
        };
        cql::conditional(&self.session, &self.tenants.revoke_key, (secret_sha256,)).await
    }
}
