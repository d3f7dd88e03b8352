//! `upline bench events`: the event pipeline's figures — the outbox relay publishing to the bus
//! and the volume worker applying the events — on the embedded store or ScyllaDB, over the
//! in-process bus or NATS JetStream.
//!
//! Two phases, each on a tenant of its own:
//! 1. **Throughput.** `--events` orders are written to the outbox first (not measured), then the
//!    relay and the worker start together; the figure is events per second from their start to
//!    the worker's last application (relay → worker, sustained over the whole backlog).
//! 2. **Latency.** With both running, orders are written at `--rate` per second while a probe
//!    writes an order of its own every 20 ms and polls its distributor's period volume until the
//!    order shows: the latency is from the store's acknowledgement of the order (what the API
//!    answers on) to the volume that includes it.
//!
//! **Across regions** (`--home-nats`): the orders are taken in the residence region (eu-west):
//! its relay publishes to eu-west's events stream on `--nats`; the home region's inbound stream
//! on `--home-nats` (us-east) sources it over the servers' leaf link, and the worker applies it
//! to the home region's store (a second fresh embedded store). The latency then runs from
//! eu-west's acknowledgement to the volume visible in us-east. `scripts/bench-regions.sh` starts
//! the three servers (us-east, a link, eu-west) and runs it.

use crate::store_args::StoreArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{NewOrder, Order, OrderStatus, Store};
use worker::bus::jetstream::{JetStreamBus, StreamSpec};
use worker::bus::memory::MemoryBus;
use worker::bus::{ConsumerConfig, EventBus};
use worker::dead_letters::DeadLetters;
use worker::relay::{Relay, RelayConfig};
use worker::streams::RegionStreams;
use worker::volumes::VolumeWorker;

/// The regions of `--home-nats`: the servers' JetStream domains must carry these names, since
/// the home region's inbound stream sources `$JS.eu-west.API`.
const RESIDENCE_REGION: &str = "eu-west";
const HOME_REGION: &str = "us-east";

#[derive(clap::Args, Debug)]
pub struct EventsBench {
    /// Orders in the outbox when the throughput phase starts.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub events: usize,
    /// The bus: NATS JetStream at this URL (a stream of the run's own, deleted after), or the
    /// in-process bus when absent.
    #[arg(long, value_name = "URL", env = "UPLINE_NATS")]
    pub nats: Option<String>,
    /// Measure across regions: --nats is the residence region's server (JetStream domain
    /// `eu-west`), this is the home region's (domain `us-east`), linked by leaf nodes; the
    /// worker consumes the home region's inbound stream and applies to a home store of its own.
    #[arg(long, value_name = "URL", requires = "nats")]
    pub home_nats: Option<String>,
    /// How the bench reaches the servers (credentials, TLS), as `upline worker` does: a
    /// deployment's settings measure what its workers get.
    #[command(flatten)]
    pub nats_access: crate::nats_args::NatsAccessArgs,
    /// Orders per second written during the latency phase.
    #[arg(long, value_name = "R", default_value_t = 1000)]
    pub rate: u64,
    /// Seconds the latency phase lasts.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub latency_seconds: u64,
    /// Orders written at once while filling the outbox.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub concurrency: usize,
    /// The store (on `embedded`, a fresh temporary directory instead of --data).
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn main(bench: EventsBench) -> std::process::ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    crate::serve::run_command("bench events", run(bench))
}

async fn run(bench: EventsBench) -> Result<(), String> {
    bench.nats_access.install()?;
    // The embedded store is a fresh temporary directory: the bench writes many orders.
    let scratch = tempfile::tempdir().map_err(|error| error.to_string())?;
    let choice = match bench.store.store {
        crate::store_args::StoreKind::Embedded => {
            api::server::StoreChoice::Embedded(scratch.path().to_owned())
        }
        crate::store_args::StoreKind::Scylla => bench.store.choice()?,
    };
    let store = api::server::open_store(&choice).await?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|error| error.to_string())?
        .as_millis();
    let pipeline = Pipeline::connect(&bench, run_id).await?;
    let home_store = match &bench.home_nats {
        Some(_) => {
            let home = scratch.path().join("home-region");
            api::server::open_store(&api::server::StoreChoice::Embedded(home)).await?
        }
        None => store.clone(),
    };
    let store_name = match choice {
        api::server::StoreChoice::Embedded(_) => "embedded (a fresh temporary directory)".into(),
        api::server::StoreChoice::Scylla(_) => bench.store.describe(),
    };
    eprintln!(
        "upline bench events: store {store_name} | bus {}",
        pipeline.describe
    );

    let tenant = format!("bench-{run_id}");
    let filled = fill_outbox(&*store, &tenant, bench.events, bench.concurrency).await?;
    println!(
        "outbox filled: {} orders in {:.1} s ({:.0} orders/s, not part of the figure)",
        bench.events,
        filled.as_secs_f64(),
        bench.events as f64 / filled.as_secs_f64()
    );

    let relay = Arc::new(Relay::new(
        store.clone(),
        pipeline.publish.clone(),
        pipeline.relay_config.clone(),
    ));
    let consumer = pipeline
        .consume
        .consumer(ConsumerConfig::new("volumes"))
        .await
        .map_err(|error| error.to_string())?;
    // Nothing the bench writes is poison: its dead letters stay in process.
    let dead_letters = DeadLetters::new(Arc::new(MemoryBus::new()), "bench.dlq");
    let worker = Arc::new(VolumeWorker::new(
        home_store.clone(),
        consumer,
        dead_letters,
    ));
    let mut relayed = relay.progress();
    let mut applied = worker.progress();
    let started = Instant::now();
    let relay_task = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run().await }
    });
    let worker_task = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    let bar = ProgressBar::new(bench.events as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} events applied {per_sec}")
            .expect("valid template"),
    );
    bar.set_message("relay → worker");
    let target = bench.events as u64;
    let relay_done = tokio::spawn(async move {
        let _ = relayed
            .wait_for(|progress| progress.published >= target)
            .await;
        started.elapsed()
    });
    loop {
        let done = applied.borrow().applied;
        bar.set_position(done);
        if done >= target {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), applied.changed()).await;
    }
    let end_to_end = started.elapsed();
    bar.finish_and_clear();
    let relay_time = relay_done.await.map_err(|error| error.to_string())?;
    println!(
        "throughput | {} events | relay {:.0} events/s ({:.2} s) | relay → worker {:.0} events/s ({:.2} s)",
        bench.events,
        bench.events as f64 / relay_time.as_secs_f64(),
        relay_time.as_secs_f64(),
        bench.events as f64 / end_to_end.as_secs_f64(),
        end_to_end.as_secs_f64(),
    );

    let latencies = measure_latency(
        store.clone(),
        home_store,
        run_id,
        bench.rate,
        bench.latency_seconds,
    )
    .await?;
    println!("{}", latency_line(bench.rate, &latencies));
    relay_task.abort();
    worker_task.abort();
    for stream in pipeline.streams {
        stream
            .delete_stream()
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// Where the relay publishes and the worker consumes, and the streams of the run's own.
struct Pipeline {
    publish: Arc<dyn EventBus>,
    consume: Arc<dyn EventBus>,
    relay_config: RelayConfig,
    /// Deleted after the run.
    streams: Vec<Arc<JetStreamBus>>,
    describe: String,
}

impl Pipeline {
    async fn connect(bench: &EventsBench, run_id: u128) -> Result<Pipeline, String> {
        let prefix = format!("UPLINE_BENCH_{run_id}");
        let connect = |url: &str, spec: StreamSpec| {
            let url = url.to_owned();
            async move {
                JetStreamBus::connect(&url, spec)
                    .await
                    .map(Arc::new)
                    .map_err(|error| {
                        let shown = worker::bus::diagnosis::without_credentials(&url);
                        format!("{error} (is NATS running at {shown}?)")
                    })
            }
        };
        match (&bench.nats, &bench.home_nats) {
            (Some(residence_url), Some(home_url)) => {
                let residence = RegionStreams::new(&prefix, RESIDENCE_REGION);
                let home = RegionStreams::new(&prefix, HOME_REGION);
                let publish = connect(residence_url, residence.events()).await?;
                let consume = connect(home_url, home.inbound(&[RESIDENCE_REGION])).await?;
                Ok(Pipeline {
                    publish: publish.clone(),
                    consume: consume.clone(),
                    relay_config: RelayConfig::new(
                        RESIDENCE_REGION,
                        &residence.events_subject_prefix(),
                    ),
                    streams: vec![consume, publish],
                    describe: format!(
                        "NATS JetStream across regions ({RESIDENCE_REGION} at {residence_url} → \
                         {HOME_REGION} at {home_url})"
                    ),
                })
            }
            (Some(url), None) => {
                let bus = connect(
                    url,
                    StreamSpec {
                        name: prefix.clone(),
                        subjects: vec![format!("{prefix}.>")],
                        duplicate_window: Duration::from_secs(120),
                        sources: Vec::new(),
                    },
                )
                .await?;
                Ok(Pipeline {
                    publish: bus.clone(),
                    consume: bus.clone(),
                    relay_config: RelayConfig::new("bench", &prefix),
                    streams: vec![bus],
                    describe: "NATS JetStream".into(),
                })
            }
            _ => {
                let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
                Ok(Pipeline {
                    publish: bus.clone(),
                    consume: bus,
                    relay_config: RelayConfig::new("bench", "bench"),
                    streams: Vec::new(),
                    describe: "in process".into(),
                })
            }
        }
    }
}

fn bench_order(tenant_scope: &str, at: usize, distributor: String, date: &str) -> NewOrder {
    NewOrder {
        idempotency_key: format!("{tenant_scope}-k{at}"),
        request_sha256: format!("b{at}"),
        order: Order {
            order_id: format!("{tenant_scope}-o{at}"),
            distributor_id: distributor,
            date: date.to_owned(),
            pv: 10_000 + (at % 7) as i64 * 10_000,
            cv: 20_000,
            status: OrderStatus::Paid,
            created_at_ms: at as i64,
        },
    }
}

/// Writes `count` orders (over 10,000 distributors and two months), `concurrency` at a time.
async fn fill_outbox(
    store: &dyn Store,
    tenant: &str,
    count: usize,
    concurrency: usize,
) -> Result<Duration, String> {
    use futures_util::StreamExt as _;
    let bar = ProgressBar::new(count as u64);
    bar.set_style(
        ProgressStyle::with_template("filling the outbox {bar:40} {pos}/{len} {per_sec}")
            .expect("valid template"),
    );
    let started = Instant::now();
    let mut writes = futures_util::stream::iter(0..count)
        .map(|at| {
            let date = if at % 2 == 0 {
                "2026-11-05"
            } else {
                "2026-10-20"
            };
            store.create_order(
                tenant,
                bench_order(tenant, at, format!("d{}", at % 10_000), date),
            )
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(outcome) = writes.next().await {
        outcome.map_err(|error| error.to_string())?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(started.elapsed())
}

/// Runs the latency phase: orders written to `store`, volumes read from `home_store`; returns
/// the probe latencies.
async fn measure_latency(
    store: Arc<dyn Store>,
    home_store: Arc<dyn Store>,
    run_id: u128,
    rate: u64,
    seconds: u64,
) -> Result<Vec<Duration>, String> {
    let load_tenant = format!("bench-load-{run_id}");
    let probe_tenant = format!("bench-probe-{run_id}");
    let load = tokio::spawn({
        let store = store.clone();
        async move {
            let started = Instant::now();
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            let mut at = 0usize;
            while started.elapsed() < Duration::from_secs(seconds) {
                let due = started + interval * at as u32;
                tokio::time::sleep_until(due.into()).await;
                let store = store.clone();
                let order =
                    bench_order(&load_tenant, at, format!("d{}", at % 10_000), "2026-11-06");
                let tenant = load_tenant.clone();
                tokio::spawn(async move { store.create_order(&tenant, order).await });
                at += 1;
            }
        }
    });
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut probe = 0usize;
    let mut expected_pv = 0i64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let order = bench_order(&probe_tenant, probe, "probe".into(), "2026-11-07");
        expected_pv += order.order.pv;
        store
            .create_order(&probe_tenant, order)
            .await
            .map_err(|error| error.to_string())?;
        let acknowledged = Instant::now();
        loop {
            let volumes = home_store
                .period_volumes(&probe_tenant, "2026-11")
                .await
                .map_err(|error| error.to_string())?;
            if volumes.iter().any(|(_, volume)| volume.pv == expected_pv) {
                break;
            }
            if acknowledged.elapsed() > Duration::from_secs(30) {
                return Err("a probe order did not show in the volumes within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(acknowledged.elapsed());
        probe += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    load.await.map_err(|error| error.to_string())?;
    Ok(latencies)
}

fn latency_line(rate: u64, latencies: &[Duration]) -> String {
    format!(
        "latency | acknowledged order → volume visible, under {rate} orders/s | {}",
        crate::volume_probe::quantiles_line(latencies)
    )
}
