//! Bringing tenants to life: compiling their plans, rebuilding their genealogy indexes and
//! starting their enrollment queues.

use crate::directory::{shape_of_plan, Directory};
use crate::enrollment::EnrollmentQueue;
use crate::error::{ApiError, ApiResult};
use crate::genealogy_index::PlacementShape;
use crate::state::{AppState, TenantRuntime};
use engine::plan::{read_plan, CompiledPlan, PlanFormat};
use std::sync::{Arc, RwLock};
use store::{GenealogyEntry, Store, Tenant};

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
    let plan = Arc::new(plan);
    let (enrollments, requests) = EnrollmentQueue::channel();
    let directory = Arc::new(RwLock::new(directory));
    EnrollmentQueue::start(
        store,
        tenant.clone(),
        plan.clone(),
        Arc::downgrade(&directory),
        requests,
    );
    Arc::new(TenantRuntime {
        tenant,
        plan,
        directory,
        enrollments,
        run_lifecycle: Arc::new(tokio::sync::Mutex::new(())),
    })
}

/// The tenant's runtime under a newer version of its plan (`tenant` holds it): the same index,
/// enrollment queue and run lifecycle as `current`, so that nothing queued is lost and a run
/// never interleaves with another under either version.
pub fn with_new_plan(current: &TenantRuntime, tenant: Tenant) -> ApiResult<Arc<TenantRuntime>> {
    let plan = compile_plan(&tenant.plan)?;
    check_plan_change(&current.plan, &plan)?;
    Ok(Arc::new(TenantRuntime {
        tenant,
        plan: Arc::new(plan),
        directory: current.directory.clone(),
        enrollments: current.enrollments.clone(),
        run_lifecycle: current.run_lifecycle.clone(),
    }))
}

/// `runtime`, or — when another process gave the tenant a newer plan version since this one
/// loaded it — its successor under that version, installed for every later request. Runs
/// start from it, so that a period is paid by the plan in force when it is closed, whichever
/// process closes it.
pub async fn with_current_plan(
    state: &AppState,
    runtime: Arc<TenantRuntime>,
) -> ApiResult<Arc<TenantRuntime>> {
    match state.store().tenant(&runtime.tenant.id).await? {
        Some(record) => take_up_plan(state, runtime, record),
        None => Ok(runtime),
    }
}

/// `runtime`, or its successor under the plan of `record` when that version is newer.
pub fn take_up_plan(
    state: &AppState,
    runtime: Arc<TenantRuntime>,
    record: Tenant,
) -> ApiResult<Arc<TenantRuntime>> {
    if record.plan_version <= runtime.tenant.plan_version {
        return Ok(runtime);
    }
    let successor = with_new_plan(&runtime, record.seen_from(state.region()))?;
    tracing::info!(tenant = %successor.tenant.id, plan_version = successor.tenant.plan_version, "plan version taken up");
    Ok(state.add_tenant_if_newer(successor))
}

/// Follows what other processes change in the tenant records: takes up, for every tenant
/// loaded here, the plan version the store holds now (runs take it up themselves; this keeps
/// the rest — rank progress, enrollment checks — current within `every`), and drops the
/// runtimes of tenants closed elsewhere.
pub fn follow_tenant_changes(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let records = match state.store().tenants().await {
                Ok(records) => records,
                Err(error) => {
                    tracing::warn!(%error, "reading the tenants' plan versions failed");
                    continue;
                }
            };
            let listed: std::collections::HashSet<String> =
                records.iter().map(|record| record.id.clone()).collect();
            for record in records {
                let Some(runtime) = state.tenant(&record.id) else {
                    continue; // loaded when first asked for
                };
                let id = record.id.clone();
                if let Err(error) = take_up_plan(&state, runtime, record) {
                    tracing::error!(tenant = %id, %error, "a newer plan version cannot be taken up");
                }
            }
            for id in state.loaded_tenants() {
                // Not listed: closed, or created since the listing (which the store says).
                if !listed.contains(&id) && matches!(state.store().tenant(&id).await, Ok(None)) {
                    tracing::info!(tenant = %id, "the tenant was closed; its runtime is dropped");
                    state.remove_tenant(&id);
                }
            }
        }
    });
}

/// The compiled plan of one version of the tenant's plan: the runtime's own, or another read
/// from the store (a restatement pays a period by the version its run was paid by; a run
/// started under a version another process replaced since finishes under it).
pub async fn plan_of_version(
    state: &AppState,
    runtime: &TenantRuntime,
    version: u32,
) -> Result<Arc<CompiledPlan>, String> {
    if version == runtime.tenant.plan_version {
        return Ok(runtime.plan.clone());
    }
    let id = &runtime.tenant.id;
    let document = state
        .store()
        .tenant_plan(id, version)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("tenant {id:?} has no plan version {version}"))?;
    compile_plan(&document)
        .map(Arc::new)
        .map_err(|error| format!("tenant {id:?}: plan version {version}: {error}"))
}

/// What a new version of a tenant's plan keeps: the placement of its genealogy (every stored
/// placement and the index follow it) and its currency (the wallets hold amounts in it).
pub fn check_plan_change(current: &CompiledPlan, new: &CompiledPlan) -> ApiResult<()> {
    let (was, is) = (shape_of_plan(current), shape_of_plan(new));
    if was != is {
        return Err(ApiError::invalid(
            "plan.bonuses",
            format!(
                "a new version keeps the genealogy's placement: {} (this one has {})",
                placement_name(was),
                placement_name(is)
            ),
        ));
    }
    if new.currency != current.currency {
        return Err(ApiError::invalid(
            "plan.currency",
            format!(
                "a new version keeps the currency the wallets hold: {}",
                current.currency
            ),
        ));
    }
    if new.decimals != current.decimals {
        return Err(ApiError::invalid(
            "plan.currency_decimals",
            format!(
                "a new version keeps the decimals the wallets hold: {}",
                current.decimals
            ),
        ));
    }
    Ok(())
}

fn placement_name(shape: PlacementShape) -> String {
    match shape {
        PlacementShape::None => "no placement tree (no binary or matrix bonus)".to_owned(),
        PlacementShape::Binary => "a binary tree".to_owned(),
        PlacementShape::Matrix { width } => format!("a matrix {width} wide"),
    }
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
    let distributors = genealogy_in_enrollment_order(store, tenant_id).await?;
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
    for distributor in genealogy_in_enrollment_order(store, tenant_id).await? {
        directory.replay_resident(&distributor)?;
    }
    Ok(directory)
}

/// Distributors asked of the store per page of the genealogy.
const GENEALOGY_PAGE: usize = 16_384;

/// Hands the tenant's genealogy to `visit` a page at a time, without the profiles: neither an
/// index nor a close has any use for them (and on ScyllaDB they would be read from every
/// residence region's keyspace). The pages come in the store's order.
pub async fn each_genealogy_page(
    store: &dyn Store,
    tenant_id: &str,
    mut visit: impl FnMut(Vec<GenealogyEntry>),
) -> Result<(), String> {
    let mut from = None;
    loop {
        let page = store
            .genealogy_page(tenant_id, from.as_deref(), GENEALOGY_PAGE)
            .await
            .map_err(|error| error.to_string())?;
        visit(page.entries);
        match page.next {
            Some(next) => from = Some(next),
            None => return Ok(()),
        }
    }
}

/// The tenant's genealogy in enrollment order (`node`), the order an index is replayed in.
async fn genealogy_in_enrollment_order(
    store: &dyn Store,
    tenant_id: &str,
) -> Result<Vec<GenealogyEntry>, String> {
    let mut entries = Vec::new();
    each_genealogy_page(store, tenant_id, |page| entries.extend(page)).await?;
    entries.sort_unstable_by_key(|entry| entry.node);
    Ok(entries)
}

/// Replaces a tenant's index with the store's view (after a failed write).
pub async fn rebuild_directory(store: &dyn Store, tenant: &TenantRuntime) -> Result<(), String> {
    rebuild_index(store, &tenant.tenant, &tenant.plan, &tenant.directory).await
}

/// Replaces `index`, the index of `tenant` under `plan`, with the store's view.
pub async fn rebuild_index(
    store: &dyn Store,
    tenant: &Tenant,
    plan: &CompiledPlan,
    index: &RwLock<Directory>,
) -> Result<(), String> {
    let directory = match tenant.home_region {
        Some(_) => residents_from_store(store, &tenant.id).await?,
        None => directory_from_store(store, &tenant.id, plan).await?,
    };
    *index.write().expect("directory lock") = directory;
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
