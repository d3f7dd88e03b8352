//! Bringing tenants to life: compiling their plans, rebuilding their genealogy indexes and
//! starting their enrollment queues.

use crate::directory::Directory;
use crate::enrollment::EnrollmentQueue;
use crate::error::{ApiError, ApiResult};
use crate::genealogy_index::PlacementShape;
use crate::state::{AppState, TenantRuntime};
use engine::plan::{read_plan, CompiledPlan, PlanFormat};
use std::sync::{Arc, RwLock};
use store::{Store, Tenant};

/// Compiles a tenant's plan; a bad plan is refused naming the field (`plan.bonuses.binary.pct`).
pub fn compile_plan(plan: &serde_json::Value) -> ApiResult<CompiledPlan> {
    let invalid = |error: engine::plan::PlanError| {
        let field = if error.path.is_empty() {
            "plan".to_owned()
        } else {
            format!("plan.{}", error.path)
        };
        ApiError::invalid(field, error.message)
    };
    let document = read_plan(&plan.to_string(), PlanFormat::Json).map_err(invalid)?;
    CompiledPlan::compile(&document).map_err(invalid)
}

/// A tenant's runtime over `directory`, with its enrollment queue running.
pub fn start_tenant(
    store: Arc<dyn Store>,
    tenant: Tenant,
    plan: CompiledPlan,
    directory: Directory,
) -> Arc<TenantRuntime> {
    let (enrollments, requests) = EnrollmentQueue::channel();
    let runtime = Arc::new(TenantRuntime {
        tenant,
        plan,
        directory: RwLock::new(directory),
        enrollments,
        run_lifecycle: tokio::sync::Mutex::new(()),
    });
    EnrollmentQueue::start(store, Arc::downgrade(&runtime), requests);
    runtime
}

/// The runtime of a tenant that has no distributors yet.
pub fn runtime_for_new_tenant(
    store: Arc<dyn Store>,
    tenant: Tenant,
) -> ApiResult<Arc<TenantRuntime>> {
    let plan = compile_plan(&tenant.plan)?;
    let directory = match tenant.home_region {
        Some(_) => Directory::residents(),
        None => Directory::for_plan(&plan),
    };
    Ok(start_tenant(store, tenant, plan, directory))
}

/// A tenant's index as the store holds it: its enrollments replayed in order and, for binary
/// plans, its lifetime PV read from the monthly volumes.
pub async fn directory_from_store(
    store: &dyn Store,
    tenant_id: &str,
    plan: &CompiledPlan,
) -> Result<Directory, String> {
    let distributors = store
        .distributors(tenant_id)
        .await
        .map_err(|error| error.to_string())?;
    let mut directory = Directory::for_plan(plan);
    directory.tree_mut().defer_sponsor_index();
    for distributor in &distributors {
        directory.replay(distributor)?;
    }
    directory.tree_mut().build_deferred()?;
    if matches!(directory.shape(), PlacementShape::Binary) {
        for period in store
            .volume_periods(tenant_id)
            .await
            .map_err(|error| error.to_string())?
        {
            if period.contains('W') {
                continue; // the weeks hold the months' volume again
            }
            let volumes = store
                .period_volumes(tenant_id, &period)
                .await
                .map_err(|error| error.to_string())?;
            for (distributor_id, volume) in volumes {
                if let Some(node) = directory.node(&distributor_id) {
                    directory.tree_mut().add_lifetime_pv(node, volume.pv);
                }
            }
        }
    }
    Ok(directory)
}

/// The index of a tenant at home elsewhere: the residents the store keeps.
async fn residents_from_store(store: &dyn Store, tenant_id: &str) -> Result<Directory, String> {
    let mut directory = Directory::residents();
    for distributor in store
        .distributors(tenant_id)
        .await
        .map_err(|error| error.to_string())?
    {
        directory.replay_resident(&distributor)?;
    }
    Ok(directory)
}

/// Replaces a tenant's index with the store's view (after a failed write).
pub async fn rebuild_directory(store: &dyn Store, tenant: &TenantRuntime) -> Result<(), String> {
    let directory = match tenant.tenant.home_region {
        Some(_) => residents_from_store(store, &tenant.tenant.id).await?,
        None => directory_from_store(store, &tenant.tenant.id, &tenant.plan).await?,
    };
    *tenant.directory.write().expect("directory lock") = directory;
    Ok(())
}

/// Loads every stored tenant. Runs after the projector has drained the outbox, so the volumes
/// hold every acknowledged order exactly once.
pub async fn load_tenants(state: &AppState) -> Result<(), String> {
    let store = state.store();
    for tenant in store.tenants().await.map_err(|error| error.to_string())? {
        load(state, tenant).await?;
    }
    Ok(())
}

/// The tenant's runtime: the one loaded, or — for a tenant another process created since this
/// one started — built from the store now. None when the store has no such tenant.
pub async fn tenant_runtime(
    state: &AppState,
    tenant_id: &str,
) -> Result<Option<Arc<TenantRuntime>>, String> {
    if let Some(runtime) = state.tenant(tenant_id) {
        return Ok(Some(runtime));
    }
    match state
        .store()
        .tenant(tenant_id)
        .await
        .map_err(|error| error.to_string())?
    {
        Some(tenant) => load(state, tenant).await.map(Some),
        None => Ok(None),
    }
}

async fn load(state: &AppState, tenant: Tenant) -> Result<Arc<TenantRuntime>, String> {
    let store = state.store();
    let tenant = tenant.seen_from(state.region());
    let id = tenant.id.clone();
    let plan = compile_plan(&tenant.plan).map_err(|error| format!("tenant {id:?}: {error}"))?;
    let directory = match tenant.home_region {
        Some(_) => residents_from_store(&**store, &id).await,
        None => directory_from_store(&**store, &id, &plan).await,
    }
    .map_err(|error| format!("tenant {id:?}: {error}"))?;
    Ok(state.add_tenant_if_absent(start_tenant(store.clone(), tenant, plan, directory)))
}
