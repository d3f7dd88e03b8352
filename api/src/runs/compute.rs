//! Computing a run in the background: gather the inputs, run the engine, store the statements.

use super::inputs::{self, DistributorsCsv};
use super::pages::StatementPages;
use super::statements::{close, Closed};
use crate::state::{AppState, TenantRuntime};
use engine::calendar::Period;
use engine::run::Bonus;
use std::sync::Arc;
use store::{PeriodVolume, Run, RunStatus, Statement, Store};

/// Statements stored per call (bounds one write batch).
const STATEMENTS_PER_WRITE: usize = 20_000;

/// The runs whose result stands for their period: committed or posted, not superseded.
pub fn is_effective(run: &Run) -> bool {
    matches!(run.status, RunStatus::Committed | RunStatus::Posted)
}

/// The state the period starts from: `state.csv` of the effective run of the latest earlier
/// period, if any, gathered from its statements a page at a time.
pub async fn previous_state(
    store: &Arc<dyn Store>,
    tenant_id: &str,
    period: &Period,
) -> Result<Option<Vec<u8>>, String> {
    let runs = store
        .runs(tenant_id)
        .await
        .map_err(|error| error.to_string())?;
    let previous = runs
        .iter()
        .filter(|run| is_effective(run))
        .filter_map(|run| Period::parse(&run.period).ok().map(|parsed| (parsed, run)))
        .filter(|(parsed, _)| parsed.last < period.first)
        .max_by_key(|(parsed, _)| parsed.last);
    let Some((_, run)) = previous else {
        return Ok(None);
    };
    let mut pages = StatementPages::new(store.clone(), tenant_id, &run.run_id);
    let mut state = inputs::StateCsv::default();
    loop {
        let page = pages.next_page().await.map_err(|error| error.to_string())?;
        if page.is_empty() {
            return Ok(Some(state.into_bytes()));
        }
        state.extend(&page);
    }
}

/// Computes `run` (status `Running`, already stored) and stores its statements; the run ends
/// `Preview` or `Failed`. Returns the final record.
pub async fn compute(state: &AppState, tenant: &Arc<TenantRuntime>, mut run: Run) -> Run {
    let tenant_id = tenant.tenant.id.clone();
    let outcome = compute_statements(state, tenant, &run).await;
    let finished = match outcome {
        Ok(closed) => {
            run.status = RunStatus::Preview;
            run.lines = closed.lines;
            run.totals = Bonus::ALL
                .iter()
                .map(|bonus| {
                    (
                        bonus.name().to_owned(),
                        crate::money::amount_text(
                            closed.totals[*bonus as usize],
                            tenant.plan.decimals,
                        ),
                    )
                })
                .collect();
            store_statements(state, &tenant_id, &run.run_id, &closed)
                .await
                .map(|stored| run.distributors = stored)
        }
        Err(error) => Err(error),
    };
    if let Err(error) = finished {
        run.status = RunStatus::Failed;
        run.error = Some(error);
    }
    let label = if run.status == RunStatus::Failed {
        "failed"
    } else {
        "computed"
    };
    state.metrics().runs.with_label_values(&[label]).inc();
    crate::failpoint::crash_at("close-statements-stored");
    if let Err(error) = state
        .store()
        .update_run(&tenant_id, RunStatus::Running, run.clone())
        .await
    {
        tracing::error!(%error, run = %run.run_id, "storing the run's outcome failed");
    }
    state.runs().clear(&tenant_id, &run.run_id);
    run
}

async fn compute_statements(
    state: &AppState,
    tenant: &Arc<TenantRuntime>,
    run: &Run,
) -> Result<Closed, String> {
    let store = state.store();
    let tenant_id = &tenant.tenant.id;
    let progress = |stage: &str| state.runs().set(tenant_id, &run.run_id, stage);
    let period = Period::parse(&run.period).map_err(|error| error.to_string())?;
    progress("waiting for every acknowledged order to reach the volumes");
    state
        .projector()
        .sync()
        .await
        .map_err(|error| error.to_string())?;
    progress("reading the genealogy and the volumes");
    let plan = crate::runtime::plan_of_version(state, tenant, run.plan_version).await?;
    let snapshot = read_snapshot(&**store, tenant_id, &run.period, plan.binary.is_some()).await?;
    let previous = previous_state(store, tenant_id, &period).await?;
    progress("computing");
    tokio::task::spawn_blocking(move || {
        let plan = &*plan;
        let network = inputs::network(plan, &snapshot.distributors.into_bytes())?;
        let volumes = inputs::volumes(plan, &network, &period, &snapshot.volumes)?;
        let carry = inputs::carry_state(plan, &network, previous.as_deref())?;
        close(plan, &network, &volumes, &carry)
    })
    .await
    .map_err(|error| error.to_string())?
}

/// Stores the statements cut from the run's files, a batch at a time; returns how many.
async fn store_statements(
    state: &AppState,
    tenant_id: &str,
    run_id: &str,
    closed: &Closed,
) -> Result<u64, String> {
    let total = closed.distributors;
    let mut stored = 0;
    let mut statements = closed.files.statements().peekable();
    while statements.peek().is_some() {
        let batch = statements
            .by_ref()
            .take(STATEMENTS_PER_WRITE)
            .collect::<Result<Vec<Statement>, String>>()?;
        stored += batch.len() as u64;
        state
            .store()
            .put_statements(tenant_id, run_id, batch)
            .await
            .map_err(|error| error.to_string())?;
        state.runs().set(
            tenant_id,
            run_id,
            format!("storing statements: {stored} of {total}"),
        );
    }
    Ok(stored)
}

/// What a close reads of its tenant.
pub struct Snapshot {
    /// `distributors.csv` of the whole genealogy.
    pub distributors: DistributorsCsv,
    /// The period's volumes, per distributor.
    pub volumes: Vec<(String, PeriodVolume)>,
}

/// Reads the genealogy and the period's volumes at once (each is many bucket reads; together
/// they keep the cluster busier). `binary`: the plan has a binary bonus (legs are `L`/`R`).
pub async fn read_snapshot(
    store: &dyn Store,
    tenant_id: &str,
    period: &str,
    binary: bool,
) -> Result<Snapshot, String> {
    let (distributors, volumes) =
        tokio::try_join!(read_genealogy(store, tenant_id, binary), async {
            store
                .period_volumes(tenant_id, period)
                .await
                .map_err(|error| error.to_string())
        })?;
    Ok(Snapshot {
        distributors,
        volumes,
    })
}

/// `distributors.csv` of the tenant's genealogy, read a page at a time: only the text is
/// kept, never every distributor's record (nor anyone's profile).
pub async fn read_genealogy(
    store: &dyn Store,
    tenant_id: &str,
    binary: bool,
) -> Result<DistributorsCsv, String> {
    let mut csv = DistributorsCsv::new(binary);
    crate::runtime::each_genealogy_page(store, tenant_id, |page| csv.extend(&page)).await?;
    Ok(csv)
}
