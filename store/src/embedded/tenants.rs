//! Tenants and API keys.

use super::codec::{key, prefix_range};
use super::tables::{API_KEYS, API_KEY_IDS, CLOSED_TENANTS, TENANTS, TENANT_PLANS};
use super::{backend, get_in, put_in, EmbeddedStore};
use crate::error::{StoreError, StoreResult};
use crate::model::{ApiKey, Tenant};
use crate::traits::TenantStore;
use async_trait::async_trait;
use redb::{ReadableDatabase as _, ReadableTable as _};

#[async_trait]
impl TenantStore for EmbeddedStore {
    async fn create_tenant(&self, tenant: Tenant) -> StoreResult<()> {
        self.writer
            .write(move |context| {
                let tenant_key = key(&[&tenant.id]);
                if get_in::<Tenant>(context, TENANTS, &tenant_key)?.is_some() {
                    return Err(StoreError::conflict(format!("tenant {:?}", tenant.id)));
                }
                put_in(context, TENANTS, &tenant_key, &tenant)
            })
            .await
    }

    async fn tenant(&self, tenant_id: &str) -> StoreResult<Option<Tenant>> {
        let tenant_key = key(&[tenant_id]);
        if self.get::<i64>(CLOSED_TENANTS, &tenant_key)?.is_some() {
            return Ok(None);
        }
        self.get(TENANTS, &tenant_key)
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        let (start, end) = (Vec::new(), vec![0xff]);
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(TENANTS).map_err(backend)?;
        let closed = txn.open_table(CLOSED_TENANTS).map_err(backend)?;
        let mut tenants = Vec::new();
        for entry in table
            .range(start.as_slice()..end.as_slice())
            .map_err(backend)?
        {
            let (tenant_key, value) = entry.map_err(backend)?;
            if closed.get(tenant_key.value()).map_err(backend)?.is_none() {
                tenants.push(super::codec::decode(value.value())?);
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
        let tenant_key = key(&[tenant_id]);
        let version_key = plan_version_key(tenant_id, replaces);
        self.writer
            .write(move |context| {
                let Some(mut tenant) = get_in::<Tenant>(context, TENANTS, &tenant_key)? else {
                    return Ok(false);
                };
                let closed = get_in::<i64>(context, CLOSED_TENANTS, &tenant_key)?.is_some();
                if closed || tenant.plan_version != replaces {
                    return Ok(false);
                }
                let replaced = std::mem::replace(&mut tenant.plan, plan);
                tenant.plan_version = replaces + 1;
                put_in(context, TENANT_PLANS, &version_key, &replaced)?;
                put_in(context, TENANTS, &tenant_key, &tenant)?;
                Ok(true)
            })
            .await
    }

    async fn tenant_plan(
        &self,
        tenant_id: &str,
        version: u32,
    ) -> StoreResult<Option<serde_json::Value>> {
        match self.tenant(tenant_id).await? {
            Some(tenant) if tenant.plan_version == version => Ok(Some(tenant.plan)),
            Some(_) => self.get(TENANT_PLANS, &plan_version_key(tenant_id, version)),
            None => Ok(None),
        }
    }

    async fn close_tenant(&self, tenant_id: &str, closed_at_ms: i64) -> StoreResult<bool> {
        let tenant_key = key(&[tenant_id]);
        let (start, end) = prefix_range(&[tenant_id]);
        self.writer
            .write(move |context| {
                if get_in::<Tenant>(context, TENANTS, &tenant_key)?.is_none() {
                    return Ok(false);
                }
                let mut hashes = Vec::new();
                for entry in context
                    .table(API_KEY_IDS)?
                    .range(start.as_slice()..end.as_slice())
                    .map_err(backend)?
                {
                    let (_, hash) = entry.map_err(backend)?;
                    hashes.push(super::codec::decode::<String>(hash.value())?);
                }
                for hash in hashes {
                    let hash_key = key(&[&hash]);
                    if let Some(mut api_key) = get_in::<ApiKey>(context, API_KEYS, &hash_key)? {
                        api_key.revoked = true;
                        put_in(context, API_KEYS, &hash_key, &api_key)?;
                    }
                }
                if get_in::<i64>(context, CLOSED_TENANTS, &tenant_key)?.is_none() {
                    put_in(context, CLOSED_TENANTS, &tenant_key, &closed_at_ms)?;
                }
                Ok(true)
            })
            .await
    }

    async fn create_api_key(&self, api_key: ApiKey) -> StoreResult<()> {
        self.writer
            .write(move |context| {
                let hash_key = key(&[&api_key.secret_sha256]);
                let id_key = key(&[&api_key.tenant_id, &api_key.key_id]);
                if get_in::<ApiKey>(context, API_KEYS, &hash_key)?.is_some()
                    || get_in::<String>(context, API_KEY_IDS, &id_key)?.is_some()
                {
                    return Err(StoreError::conflict(format!(
                        "api key {:?}",
                        api_key.key_id
                    )));
                }
                put_in(context, API_KEY_IDS, &id_key, &api_key.secret_sha256)?;
                put_in(context, API_KEYS, &hash_key, &api_key)
            })
            .await
    }

    async fn api_key_by_hash(&self, secret_sha256: &str) -> StoreResult<Option<ApiKey>> {
        self.get(API_KEYS, &key(&[secret_sha256]))
    }

    async fn revoke_api_key(&self, tenant_id: &str, key_id: &str) -> StoreResult<bool> {
        let id_key = key(&[tenant_id, key_id]);
        self.writer
            .write(move |context| {
                let Some(hash) = get_in::<String>(context, API_KEY_IDS, &id_key)? else {
                    return Ok(false);
                };
                let hash_key = key(&[&hash]);
                let Some(mut api_key) = get_in::<ApiKey>(context, API_KEYS, &hash_key)? else {
                    return Ok(false);
                };
                api_key.revoked = true;
                put_in(context, API_KEYS, &hash_key, &api_key)?;
                Ok(true)
            })
            .await
    }
}

/// Zero-padded, so that a tenant's versions sort in order.
fn plan_version_key(tenant_id: &str, version: u32) -> Vec<u8> {
    key(&[tenant_id, &format!("{version:010}")])
}
