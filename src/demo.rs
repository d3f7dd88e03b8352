//! `upline demo`: a demo tenant with a generated network, a month of orders and a closed
//! period, served on the embedded store.

use crate::generate::{self, GenerateArgs, PlanKind, Shape};
use crate::serve::{admin_token, init_logging, sha256_hex};
use api::directory::PlacementChoice;
use api::state::AppState;
use indicatif::{ProgressBar, ProgressStyle};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use store::{
    ApiKey, Distributor, DistributorStatus, NewOrder, Order, OrderStatus, RunStatus, Tenant,
    VolumeDelta, VolumeEventKind,
};

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo";
/// Distributors stored per call while loading.
const DISTRIBUTORS_PER_WRITE: usize = 250_000;
/// Orders imported per call.
const ORDERS_PER_IMPORT: usize = 200_000;

#[derive(clap::Args, Debug)]
#[command(
    about = "Create a demo tenant (a generated network, a month of orders, the period closed) and serve it",
    long_about = "Create a demo tenant and serve it: generates a network of --distributors (one million by default) \
        with `upline generate`'s model and the full plan, loads it and a month of orders into the embedded store \
        in --data, closes the period (preview, then commit) and serves the API on --listen, printing the URLs, \
        the tenant's API key and the admin token.\n\n\
        Run it again on the same --data to serve the existing demo at once (a new API key is printed)."
)]
pub struct DemoArgs {
    /// The data directory (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        env = "UPLINE_DATA",
        default_value = "upline-demo"
    )]
    pub data: PathBuf,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        env = "UPLINE_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// Distributors in the generated network.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub distributors: u64,
    /// Seed of the generator.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The month of orders, closed by the demo.
    #[arg(long, value_name = "PERIOD", default_value = "2026-11")]
    pub period: String,
    /// Set everything up, print it, and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

pub fn main(args: DemoArgs) -> ExitCode {
    init_logging();
    crate::serve::run_command("demo", demo(args))
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let started = Instant::now();
    let token = admin_token(&args.data, None)?;
    let state = api::server::recover(
        &api::server::StoreChoice::Embedded(args.data.clone()),
        sha256_hex(&token.secret),
    )
    .await?;
    if state.tenant(DEMO_TENANT).is_none() {
        let input = args.data.join("demo-input");
        let phase = Instant::now();
        generate_input(&args, &input)?;
        eprintln!(
            "upline demo: network generated in {:.1} s",
            phase.elapsed().as_secs_f64()
        );
        load(&state, &input, &args.period).await?;
    } else {
        eprintln!(
            "upline demo: serving the existing demo tenant in {}",
            args.data.display()
        );
    }
    let key = new_key(&state).await?;
    let ready = started.elapsed();
    let print = |address: SocketAddr| {
        println!("Upline demo ready in {:.1} s", ready.as_secs_f64());
        println!("  API:          http://{address}/v1   (OpenAPI: http://{address}/openapi.json)");
        println!("  metrics:      http://{address}/metrics");
        println!("  tenant:       {DEMO_TENANT}");
        println!("  API key:      {key}");
        println!("  admin token:  {}", token.secret);
        println!("  try:          curl -H 'Authorization: Bearer {key}' http://{address}/v1/runs");
    };
    if args.no_serve {
        print(args.listen);
        return Ok(());
    }
    api::server::serve(state, args.listen, print).await
}

fn generate_input(args: &DemoArgs, input: &Path) -> Result<(), String> {
    let generate_args = GenerateArgs {
        distributors: args.distributors,
        seed: args.seed,
        shape: Shape::Random,
        plan: PlanKind::Full,
        period: args.period.clone(),
        out: input.to_path_buf(),
    };
    generate::run(&generate_args)
        .map(|_| ())
        .map_err(|error| format!("generating the demo network: {error:#}"))
}

fn bar(label: &'static str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label);
    bar
}

/// Loads the generated files into the store through the same paths the API uses.
async fn load(state: &AppState, input: &Path, period: &str) -> Result<(), String> {
    let read = |name: &str| {
        std::fs::read_to_string(input.join(name)).map_err(|error| format!("{name}: {error}"))
    };
    let plan: serde_json::Value =
        serde_json::from_str(&read("plan.json")?).map_err(|error| error.to_string())?;
    let tenant = Tenant {
        id: DEMO_TENANT.into(),
        name: "Demo Company".into(),
        plan,
        plan_version: 1,
        created_at_ms: api::state::now_ms(),
    };
    let runtime = api::runtime::runtime_for_new_tenant(state.store().clone(), tenant.clone())
        .map_err(|error| error.to_string())?;
    state
        .store()
        .create_tenant(tenant)
        .await
        .map_err(|error| error.to_string())?;
    let runtime = state.add_tenant(runtime);
    let phase = Instant::now();
    load_distributors(state, &runtime, &read("distributors.csv")?).await?;
    eprintln!(
        "upline demo: distributors loaded in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    let phase = Instant::now();
    load_orders(state, &read("orders.csv")?).await?;
    eprintln!(
        "upline demo: orders loaded and applied in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    let phase = Instant::now();
    close_period(state, &runtime, period).await?;
    eprintln!(
        "upline demo: period closed in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Enrolls the generated genealogy, sponsors and placement parents before their recruits.
async fn load_distributors(
    state: &AppState,
    tenant: &api::state::TenantRuntime,
    csv: &str,
) -> Result<(), String> {
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    let order = enrollment_order(&rows)?;
    let bar = bar("distributors", rows.len() as u64);
    let mut records: Vec<Distributor> = Vec::with_capacity(rows.len());
    {
        let mut directory = tenant.directory.write().expect("directory lock");
        for &index in &order {
            let row = &rows[index];
            let placement = match (row[2], row[3]) {
                ("", _) => PlacementChoice::Default,
                (parent, "L") => PlacementChoice::At {
                    parent_id: parent.into(),
                    slot: 1,
                },
                (parent, "R") => PlacementChoice::At {
                    parent_id: parent.into(),
                    slot: 2,
                },
                (parent, slot) => PlacementChoice::At {
                    parent_id: parent.into(),
                    slot: slot
                        .parse()
                        .map_err(|_| format!("distributors.csv: bad leg {slot:?}"))?,
                },
            };
            let joined = engine::calendar::parse_date(row[4].as_bytes())
                .ok_or("distributors.csv: bad date")?;
            let sponsor = (!row[1].is_empty()).then_some(row[1]);
            let mut record = directory
                .enroll(row[0], sponsor, placement, joined)
                .map_err(|error| error.to_string())?;
            if row[5] == "terminated" {
                record.status = DistributorStatus::Terminated;
            }
            records.push(record);
        }
    }
    // Key order: each batch then writes one contiguous range of the B-tree, which copies the
    // pages a transaction touches.
    records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<Distributor> = records.by_ref().take(DISTRIBUTORS_PER_WRITE).collect();
        let stored = chunk.len() as u64;
        let outcomes = state
            .store()
            .enroll(DEMO_TENANT, chunk)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(Err(error)) = outcomes.into_iter().find(Result::is_err) {
            return Err(error.to_string());
        }
        bar.inc(stored);
    }
    tenant
        .directory
        .write()
        .expect("directory lock")
        .mark_durable();
    bar.finish();
    Ok(())
}

/// Row indexes in an order where every row comes after its sponsor and its placement parent.
fn enrollment_order(rows: &[Vec<&str>]) -> Result<Vec<usize>, String> {
    let index: std::collections::HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(at, row)| (row[0], at))
        .collect();
    let mut waiting = vec![0u8; rows.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut ready = Vec::new();
    for (at, row) in rows.iter().enumerate() {
        let parents = [row[1], row[2]];
        let mut distinct: Vec<&str> = parents
            .into_iter()
            .filter(|parent| !parent.is_empty())
            .collect();
        distinct.dedup();
        for parent in distinct {
            let parent_at = *index
                .get(parent)
                .ok_or_else(|| format!("distributors.csv: unknown distributor {parent:?}"))?;
            dependents[parent_at].push(at);
            waiting[at] += 1;
        }
        if waiting[at] == 0 {
            ready.push(at);
        }
    }
    let mut order = Vec::with_capacity(rows.len());
    while let Some(at) = ready.pop() {
        order.push(at);
        for &dependent in &dependents[at] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }
    // The root must come first: pop() took the roots last pushed; put it in front.
    order.sort_by_key(|&at| (!rows[at][1].is_empty()) as u8);
    if order.len() != rows.len() {
        return Err("distributors.csv: the genealogy has a cycle".into());
    }
    Ok(order)
}

/// Imports the month of orders: each stored with its idempotency key, the paid ones' volumes
/// applied in the same step (refunded ones count nowhere).
async fn load_orders(state: &AppState, csv: &str) -> Result<(), String> {
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect())
        .collect();
    let bar = bar("orders", rows.len() as u64);
    let now = api::state::now_ms();
    for chunk in rows.chunks(ORDERS_PER_IMPORT) {
        let mut orders = Vec::with_capacity(chunk.len());
        let mut deltas = Vec::with_capacity(chunk.len());
        for row in chunk {
            let volume = |text: &str| {
                engine::number::parse_volume(text.as_bytes())
                    .map_err(|error| format!("orders.csv: {}", error.describe()))
            };
            let (pv, cv) = (volume(row[3])?, volume(row[4])?);
            let day =
                engine::calendar::parse_date(row[2].as_bytes()).ok_or("orders.csv: bad date")?;
            let paid = row[5] == "paid";
            if paid {
                deltas.push(VolumeDelta {
                    sequence: 0,
                    order_id: row[0].to_owned(),
                    kind: VolumeEventKind::Paid,
                    distributor_id: row[1].to_owned(),
                    periods: api::periods::periods_of(day),
                    day,
                    pv,
                    cv,
                });
            }
            orders.push(NewOrder {
                idempotency_key: format!("demo-{}", row[0]),
                request_sha256: row[0].to_owned(),
                order: Order {
                    order_id: row[0].to_owned(),
                    distributor_id: row[1].to_owned(),
                    date: row[2].to_owned(),
                    pv,
                    cv,
                    status: if paid {
                        OrderStatus::Paid
                    } else {
                        OrderStatus::Refunded
                    },
                    created_at_ms: now,
                },
            });
        }
        state
            .store()
            .import_orders(DEMO_TENANT, orders, deltas)
            .await
            .map_err(|error| error.to_string())?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    Ok(())
}

/// Closes the period: a preview, then a commit.
async fn close_period(
    state: &AppState,
    tenant: &std::sync::Arc<api::state::TenantRuntime>,
    period: &str,
) -> Result<(), String> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    let run = api::runs::lifecycle::start_preview(state, tenant, period)
        .await
        .map_err(|error| error.to_string())?;
    let run = loop {
        let current = api::runs::lifecycle::find_run(state, DEMO_TENANT, &run.run_id)
            .await
            .map_err(|error| error.to_string())?;
        if current.status != RunStatus::Running {
            break current;
        }
        let stage = state
            .runs()
            .get(DEMO_TENANT, &run.run_id)
            .unwrap_or_default();
        spinner.set_message(format!("closing {period}: {stage}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    spinner.finish_and_clear();
    if run.status != RunStatus::Preview {
        return Err(format!(
            "closing {period} failed: {}",
            run.error.unwrap_or_default()
        ));
    }
    api::runs::lifecycle::commit(state, tenant, &run.run_id)
        .await
        .map_err(|error| error.to_string())?;
    eprintln!(
        "upline demo: period {period} closed by run {} ({} lines)",
        run.run_id, run.lines
    );
    Ok(())
}

/// A fresh API key for the demo tenant (keys are shown once, so every start makes one).
async fn new_key(state: &AppState) -> Result<String, String> {
    let (key_id, key) = api::auth::new_api_key();
    let api_key = ApiKey {
        key_id,
        tenant_id: DEMO_TENANT.into(),
        secret_sha256: api::auth::sha256_hex(key.as_bytes()),
        created_at_ms: api::state::now_ms(),
        revoked: false,
    };
    state
        .store()
        .create_api_key(api_key)
        .await
        .map_err(|error| error.to_string())?;
    Ok(key)
}
