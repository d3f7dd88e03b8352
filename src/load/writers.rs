//! Where a load writes: the embedded store through its storage traits (one transaction per
//! chunk, the orders' volumes in the same transaction), or ScyllaDB as batched upserts (see
//! `store::scylla::ScyllaStore::load_distributors`), one table after the other so that each
//! table's rate is measured on its own.

use super::input::TenantFiles;
use api::server::StoreChoice;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::scylla::ScyllaStore;
use store::{Distributor, NewOrder, Order, PeriodVolume, Store, Tenant, TenantStore};

/// Distributors stored per transaction on the embedded store.
const DISTRIBUTORS_PER_WRITE: usize = 250_000;
/// Orders imported per transaction on the embedded store.
const ORDERS_PER_IMPORT: usize = 200_000;

/// One table's share of a load.
pub struct TableFigures {
    pub table: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
}

pub enum Writer {
    Embedded(Arc<dyn Store>),
    Scylla(Box<ScyllaStore>),
}

pub type Volumes = BTreeMap<String, Vec<(String, PeriodVolume)>>;

impl Writer {
    pub async fn open(choice: &StoreChoice) -> Result<Writer, String> {
        Ok(match choice {
            StoreChoice::Embedded(_) => Writer::Embedded(api::server::open_store(choice).await?),
            StoreChoice::Scylla(config) => {
                Writer::Scylla(Box::new(ScyllaStore::open(config).await?))
            }
        })
    }

    fn tenants(&self) -> &dyn TenantStore {
        match self {
            Writer::Embedded(store) => &**store,
            Writer::Scylla(store) => &**store,
        }
    }

    pub async fn tenant_exists(&self, tenant_id: &str) -> Result<bool, String> {
        let tenant = self.tenants().tenant(tenant_id).await;
        Ok(tenant.map_err(|error| error.to_string())?.is_some())
    }

    pub async fn create_tenant(&self, tenant: Tenant) -> Result<(), String> {
        self.tenants()
            .create_tenant(tenant)
            .await
            .map_err(|error| error.to_string())
    }

    /// Writes everything but the tenant row.
    pub async fn write(
        &self,
        tenant_id: &str,
        files: &TenantFiles,
        volumes: &Volumes,
    ) -> Result<Vec<TableFigures>, String> {
        match self {
            Writer::Embedded(store) => write_embedded(&**store, tenant_id, files).await,
            Writer::Scylla(store) => write_scylla(store, tenant_id, files, volumes).await,
        }
    }
}

/// The key an imported order is recorded under.
fn idempotency_key(order: &Order) -> String {
    format!("load-{}", order.order_id)
}

async fn write_embedded(
    store: &dyn Store,
    tenant_id: &str,
    files: &TenantFiles,
) -> Result<Vec<TableFigures>, String> {
    let failed = |error: store::StoreError| error.to_string();
    let mut distributors: Vec<&Distributor> = files.distributors.iter().collect();
    // Key order: each transaction then writes one contiguous range of the B-tree, which
    // copies the pages a transaction touches.
    distributors.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let table = Table::start("distributors", distributors.len());
    for chunk in distributors.chunks(DISTRIBUTORS_PER_WRITE) {
        let records: Vec<Distributor> = chunk.iter().map(|&record| record.clone()).collect();
        let outcomes = store.enroll(tenant_id, records).await.map_err(failed)?;
        if let Some(Err(error)) = outcomes.into_iter().find(Result::is_err) {
            return Err(error.to_string());
        }
        table.bar.inc(chunk.len() as u64);
    }
    let mut figures = vec![table.finish()];
    let table = Table::start("orders+volumes", files.orders.len());
    for chunk in files.orders.chunks(ORDERS_PER_IMPORT) {
        let mut orders = Vec::with_capacity(chunk.len());
        let mut deltas = Vec::with_capacity(chunk.len());
        for order in chunk {
            if order.status == store::OrderStatus::Paid {
                deltas.push(super::volumes::paid(order)?);
            }
            orders.push(NewOrder {
                idempotency_key: idempotency_key(order),
                request_sha256: order.order_id.clone(),
                order: order.clone(),
            });
        }
        store
            .import_orders(tenant_id, orders, deltas)
            .await
            .map_err(failed)?;
        table.bar.inc(chunk.len() as u64);
    }
    figures.push(table.finish());
    Ok(figures)
}

async fn write_scylla(
    store: &ScyllaStore,
    tenant_id: &str,
    files: &TenantFiles,
    volumes: &Volumes,
) -> Result<Vec<TableFigures>, String> {
    let failed = |error: store::StoreError| error.to_string();
    let table = Table::start("distributors", files.distributors.len());
    store
        .load_distributors(tenant_id, &files.distributors, &|rows| table.bar.inc(rows))
        .await
        .map_err(failed)?;
    let mut figures = vec![table.finish()];
    let table = Table::start("orders", files.orders.len());
    store
        .load_orders(tenant_id, &files.orders, idempotency_key, &|rows| {
            table.bar.inc(rows)
        })
        .await
        .map_err(failed)?;
    figures.push(table.finish());
    let records: usize = volumes.values().map(Vec::len).sum();
    let table = Table::start("period_volumes", records);
    for (period, period_volumes) in volumes {
        store
            .load_volumes(tenant_id, period, period_volumes, &|rows| {
                table.bar.inc(rows)
            })
            .await
            .map_err(failed)?;
    }
    figures.push(table.finish());
    Ok(figures)
}

/// A table being written: its progress bar and its clock.
struct Table {
    name: &'static str,
    rows: u64,
    bar: ProgressBar,
    started: Instant,
}

impl Table {
    fn start(name: &'static str, rows: usize) -> Table {
        let bar = ProgressBar::new(rows as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name);
        Table {
            name,
            rows: rows as u64,
            bar,
            started: Instant::now(),
        }
    }

    fn finish(self) -> TableFigures {
        self.bar.finish();
        TableFigures {
            table: self.name,
            rows: self.rows,
            elapsed: self.started.elapsed(),
        }
    }
}
