//! The service's state: one `Clone` struct shared by every handler.

use crate::directory::Directory;
use crate::import_progress::ImportProgress;
use crate::key_cache::KeyCache;
use crate::metrics::Metrics;
use crate::projector::Projector;
use crate::runs::progress::RunProgress;
use engine::plan::CompiledPlan;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use store::{Store, Tenant};

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// SHA-256 of the platform admin token (the token itself is not kept).
    admin_token_sha256: String,
    tenants: RwLock<HashMap<String, Arc<TenantRuntime>>>,
    metrics: Metrics,
    projector: Arc<Projector>,
    runs: RunProgress,
    api_keys: KeyCache,
    imports: ImportProgress,
    /// The region this process serves (`--region`), when it has one.
    region: OnceLock<String>,
    /// How this process reaches the home regions of the tenants at home elsewhere.
    home_link: OnceLock<Arc<dyn crate::residence::HomeLink>>,
    /// How this process holds a period's lease to close or restate it.
    period_leases: OnceLock<PeriodLeases>,
    /// Whether a refund taken here restates its closed periods in this process (otherwise
    /// `upline worker --closes` does, from the refund events).
    restates_refunds: std::sync::atomic::AtomicBool,
}

/// How this process holds the lease of a period (`store::held_lease::period_job`) while it
/// closes or restates the period.
#[derive(Clone, Debug)]
pub struct PeriodLeases {
    /// This process, as holder.
    pub holder: String,
    /// The lease's length: another process carries the job on this long after the holder's
    /// last renewal at the latest.
    pub valid_for: std::time::Duration,
}

impl Default for PeriodLeases {
    fn default() -> PeriodLeases {
        PeriodLeases {
            holder: store::held_lease::holder_name(),
            valid_for: std::time::Duration::from_secs(30),
        }
    }
}

/// One tenant, live: one version of its plan compiled and its genealogy index in memory.
///
/// A new plan version makes a new runtime that shares the index, the enrollment queue and the
/// run lifecycle with the one it replaces (`runtime::with_new_plan`): a request that started
/// under the old version finishes under it, and nothing it queued is lost.
pub struct TenantRuntime {
    /// The tenant's record, with the plan version this runtime pays by.
    pub tenant: Tenant,
    pub plan: Arc<CompiledPlan>,
    /// The genealogy index; writers hold it only to check and reserve an enrollment.
    pub directory: Arc<RwLock<Directory>>,
    /// Where enrollments wait to be placed and stored in order.
    pub enrollments: crate::enrollment::EnrollmentQueue,
    /// Held while a run changes status or a restatement runs, so those steps never interleave.
    pub run_lifecycle: Arc<tokio::sync::Mutex<()>>,
}

impl TenantRuntime {
    /// Refuses what only the tenant's home region does (genealogy reads, runs, imports) when
    /// the tenant is at home in another region.
    pub fn check_at_home(&self) -> crate::error::ApiResult<()> {
        match &self.tenant.home_region {
            Some(home) => Err(crate::error::ApiError::HomeElsewhere {
                tenant_id: self.tenant.id.clone(),
                region: home.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        admin_token_sha256: String,
        metrics: Metrics,
        projector: Arc<Projector>,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                admin_token_sha256,
                tenants: RwLock::new(HashMap::new()),
                metrics,
                projector,
                runs: RunProgress::default(),
                api_keys: KeyCache::default(),
                imports: ImportProgress::default(),
                region: OnceLock::new(),
                home_link: OnceLock::new(),
                period_leases: OnceLock::new(),
                restates_refunds: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Names the region this process serves (once, before serving).
    pub fn set_region(&self, region: &str) {
        let _ = self.inner.region.set(region.to_owned());
    }

    /// The region this process serves: the store's, or the one set at start.
    pub fn region(&self) -> Option<&str> {
        self.inner
            .store
            .serving_region()
            .or(self.inner.region.get().map(String::as_str))
    }

    /// Connects this process to the home regions of tenants at home elsewhere (once, before
    /// serving).
    pub fn set_home_link(&self, link: Arc<dyn crate::residence::HomeLink>) {
        let _ = self.inner.home_link.set(link);
    }

    pub fn home_link(&self) -> Option<&Arc<dyn crate::residence::HomeLink>> {
        self.inner.home_link.get()
    }

    /// Sets how this process holds period leases (once, before serving).
    pub fn set_period_leases(&self, leases: PeriodLeases) {
        let _ = self.inner.period_leases.set(leases);
    }

    pub fn period_leases(&self) -> &PeriodLeases {
        self.inner.period_leases.get_or_init(PeriodLeases::default)
    }

    /// Leaves the restatements of refunds to `upline worker --closes` (before serving).
    pub fn leave_restatements_to_workers(&self) {
        self.inner
            .restates_refunds
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a refund taken here restates its closed periods in this process.
    pub fn restates_refunds(&self) -> bool {
        self.inner
            .restates_refunds
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn admin_token_sha256(&self) -> &str {
        &self.inner.admin_token_sha256
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn projector(&self) -> &Arc<Projector> {
        &self.inner.projector
    }

    pub fn runs(&self) -> &RunProgress {
        &self.inner.runs
    }

    /// Bulk imports running or recently ended.
    pub fn imports(&self) -> &ImportProgress {
        &self.inner.imports
    }

    /// API keys resolved recently.
    pub fn api_keys(&self) -> &KeyCache {
        &self.inner.api_keys
    }

    pub fn tenant(&self, tenant_id: &str) -> Option<Arc<TenantRuntime>> {
        self.inner
            .tenants
            .read()
            .expect("tenant map lock")
            .get(tenant_id)
            .cloned()
    }

    /// Adds the runtime unless the tenant has one already (two requests loaded it at once);
    /// returns the one in use.
    pub fn add_tenant_if_absent(&self, runtime: Arc<TenantRuntime>) -> Arc<TenantRuntime> {
        let mut tenants = self.inner.tenants.write().expect("tenant map lock");
        tenants
            .entry(runtime.tenant.id.clone())
            .or_insert(runtime)
            .clone()
    }

    /// Installs the runtime of a newer plan version, unless the one in use is as new already;
    /// returns the one in use.
    pub fn add_tenant_if_newer(&self, runtime: Arc<TenantRuntime>) -> Arc<TenantRuntime> {
        let mut tenants = self.inner.tenants.write().expect("tenant map lock");
        let entry = tenants
            .entry(runtime.tenant.id.clone())
            .or_insert_with(|| runtime.clone());
        if entry.tenant.plan_version < runtime.tenant.plan_version {
            *entry = runtime;
        }
        entry.clone()
    }

    /// Drops the tenant's runtime (the tenant was closed): requests already holding it finish.
    pub fn remove_tenant(&self, tenant_id: &str) {
        self.inner
            .tenants
            .write()
            .expect("tenant map lock")
            .remove(tenant_id);
    }

    /// The ids of the tenants loaded here.
    pub fn loaded_tenants(&self) -> Vec<String> {
        let tenants = self.inner.tenants.read().expect("tenant map lock");
        tenants.keys().cloned().collect()
    }

    pub fn add_tenant(&self, runtime: Arc<TenantRuntime>) -> Arc<TenantRuntime> {
        let mut tenants = self.inner.tenants.write().expect("tenant map lock");
        tenants.insert(runtime.tenant.id.clone(), runtime.clone());
        runtime
    }
}

/// Milliseconds since the Unix epoch: the API's only clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
