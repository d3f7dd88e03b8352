//! `upline bench api`: an open-loop load generator against a running `upline serve`.
//!
//! Requests are scheduled at a fixed rate, independently of the answers, and each latency is
//! measured from its *scheduled* time — so a stalled server shows up as latency instead of
//! quietly lowering the offered load (no coordinated omission). In-flight requests are bounded
//! by the connections kept open; a request waiting for a free connection still counts its
//! wait. Requests go through a lean HTTP/1.1 client ([`crate::bench_http`]) so that the load
//! tool takes as little as it can of the CPU it shares with the server.

use rand::{Rng, SeedableRng};

/// What `--scenario` may name.
const SCENARIOS: [&str; 4] = ["orders", "enroll", "upline", "downline"];
use reqwest::Client;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct ApiBench {
    /// What to send: `orders` (POST /v1/orders, unique ids and Idempotency-Keys), `enroll`
    /// (POST /v1/distributors under random already-enrolled sponsors), `upline`
    /// (GET .../upline?levels=20) or `downline` (GET .../downline?depth=3&limit=50).
    #[arg(long, value_name = "SCENARIO")]
    pub scenario: String,
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// Requests per second offered (open loop).
    #[arg(long, value_name = "R", default_value_t = 1000)]
    pub rate: u64,
    /// Seconds measured.
    #[arg(long, value_name = "S", default_value_t = 20)]
    pub duration: u64,
    /// Seconds sent first and not measured.
    #[arg(long, value_name = "S", default_value_t = 3)]
    pub warmup: u64,
    /// Connections kept open, so requests in flight at most (each connection sends the next
    /// due request as soon as it is free).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_in_flight: usize,
    /// A tenant API key. Without it, a tenant is created with --admin-token (orders and enroll
    /// scenarios: with a network of --network distributors enrolled first, not measured).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The platform admin token, for creating the tenant.
    #[arg(long, value_name = "TOKEN", env = "UPLINE_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// distributors.csv whose ids the requests pick from (with --key).
    #[arg(long, value_name = "FILE")]
    pub distributors: Option<PathBuf>,
    /// Distributors enrolled before measuring, when the tool creates its own tenant.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub network: usize,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With `orders`: also measure how soon an acknowledged order shows in the volumes — a
    /// probe posts an order of its own every 20 ms (December, which the load leaves alone) and
    /// polls GET /v1/distributors/{id}/stats until its PV includes it.
    #[arg(long)]
    pub volume_probe: bool,
}

/// Latencies and outcomes of the measured window.
#[derive(Default)]
struct Record {
    latencies_us: Mutex<Vec<u64>>,
    ok: AtomicU64,
    failed: AtomicU64,
}

pub fn main(bench: ApiBench) -> std::process::ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    crate::serve::run_command("bench api", run(bench))
}

async fn run(bench: ApiBench) -> Result<(), String> {
    let client = Client::builder()
        .pool_max_idle_per_host(bench.max_in_flight)
        .build()
        .map_err(|e| e.to_string())?;
    if !SCENARIOS.contains(&bench.scenario.as_str()) {
        return Err(format!(
            "unknown --scenario {:?}: use one of {}",
            bench.scenario,
            SCENARIOS.join(", ")
        ));
    }
    if bench.volume_probe && bench.scenario != "orders" {
        return Err("--volume-probe goes with --scenario orders".into());
    }
    let target = Target::prepare(&client, &bench).await?;
    let target = Arc::new(target);
    let record = Arc::new(Record::default());
    let interval = Duration::from_nanos(1_000_000_000 / bench.rate.max(1));
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + Duration::from_secs(bench.warmup);
    let end = measure_from + Duration::from_secs(bench.duration);
    let schedule = Arc::new(Schedule {
        start,
        interval,
        measure_from,
        end,
        next_sequence: AtomicU64::new(0),
        seed: bench.seed,
    });
    // One task per connection: each takes the next scheduled request, waits for its time and
    // sends it. When every connection is busy, the next request is late, and its lateness is
    // part of its latency.
    let workers: Vec<_> = (0..bench.max_in_flight.max(1))
        .map(|_| {
            let (target, record, schedule) = (target.clone(), record.clone(), schedule.clone());
            tokio::spawn(async move { send_scheduled(&target, &record, &schedule).await })
        })
        .collect();
    let probe = bench.volume_probe.then(|| {
        let probe = crate::volume_probe::VolumeProbe {
            client: client.clone(),
            base_url: bench.base_url.trim_end_matches('/').to_owned(),
            key: target.key.clone(),
            distributor_id: target.ids[0].clone(),
            run_id: target.run_id.clone(),
        };
        tokio::spawn(async move { probe.run(measure_from, end).await })
    });
    for worker in workers {
        let _ = worker.await;
    }
    let waited = end.elapsed();
    report(&bench, &record, waited);
    if let Some(probe) = probe {
        let latencies = probe.await.map_err(|error| error.to_string())??;
        println!(
            "volume probe | acknowledged order → PV visible in GET …/stats, under {} orders/s | {}",
            bench.rate,
            crate::volume_probe::quantiles_line(&latencies)
        );
    }
    Ok(())
}

/// When each request is due.
struct Schedule {
    start: Instant,
    interval: Duration,
    measure_from: Instant,
    end: Instant,
    next_sequence: AtomicU64,
    seed: u64,
}

/// One connection's loop: the next due request, until the schedule ends.
async fn send_scheduled(target: &Target, record: &Record, schedule: &Schedule) {
    let mut connection: Option<crate::bench_http::Connection> = None;
    loop {
        let sequence = schedule.next_sequence.fetch_add(1, Ordering::Relaxed);
        let scheduled = schedule.start + schedule.interval * sequence as u32;
        if scheduled >= schedule.end {
            return;
        }
        tokio::time::sleep_until(scheduled.into()).await;
        if connection.is_none() {
            connection = crate::bench_http::Connection::open(&target.host).await.ok();
        }
        let ok = match connection.as_mut() {
            Some(open) => match target
                .send(open, sequence, pick(schedule.seed, sequence))
                .await
            {
                Ok(ok) => ok,
                Err(_) => {
                    connection = None;
                    false
                }
            },
            None => false,
        };
        if scheduled >= schedule.measure_from {
            let latency = scheduled.elapsed().as_micros() as u64;
            record.latencies_us.lock().unwrap().push(latency);
            let counter = if ok { &record.ok } else { &record.failed };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The random choice of request `sequence`: the same seed picks the same ids.
fn pick(seed: u64, sequence: u64) -> u64 {
    engine::splitmix::mix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ sequence)
}

fn report(bench: &ApiBench, record: &Record, drain: Duration) {
    let mut latencies = record.latencies_us.lock().unwrap().clone();
    latencies.sort_unstable();
    let at = |quantile: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index =
            ((latencies.len() as f64 * quantile).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1000.0
    };
    let ok = record.ok.load(Ordering::Relaxed);
    let failed = record.failed.load(Ordering::Relaxed);
    println!(
        "scenario {} | offered {} req/s for {} s (open loop, {} in flight max) | ok {} failed {} | served {:.0}/s | latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} | drained in {:.1} s",
        bench.scenario,
        bench.rate,
        bench.duration,
        bench.max_in_flight,
        ok,
        failed,
        served_per_second(ok, bench.duration, drain),
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        at(1.0),
        drain.as_secs_f64()
    );
}

/// What the server kept up with: the measured window's acknowledged requests over the time
/// their answers took, the window and the drain after it (a server that keeps up drains in
/// no time and serves the offered rate; one that falls behind serves less, however many it
/// acknowledges in the end).
fn served_per_second(ok: u64, window_seconds: u64, drain: Duration) -> f64 {
    let seconds = window_seconds as f64 + drain.as_secs_f64();
    if seconds > 0.0 {
        ok as f64 / seconds
    } else {
        0.0
    }
}

/// What the scenario sends, with what it needs.
struct Target {
    scenario: String,
    /// `host:port` of the server.
    host: String,
    /// `Bearer <key>`.
    authorization: String,
    key: String,
    ids: Vec<String>,
    /// Enroll: the ids acknowledged so far (sponsors for the next ones).
    enrolled: Mutex<Vec<String>>,
    run_id: String,
}

impl Target {
    async fn prepare(client: &Client, bench: &ApiBench) -> Result<Target, String> {
        let run_id = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        );
        let base = bench.base_url.trim_end_matches('/').to_owned();
        let (key, ids) = match (&bench.key, &bench.admin_token) {
            (Some(key), _) => {
                let path = bench
                    .distributors
                    .as_ref()
                    .ok_or("--distributors is needed with --key")?;
                let csv = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                (
                    key.clone(),
                    csv.lines()
                        .skip(1)
                        .filter_map(|line| line.split(',').next())
                        .map(str::to_owned)
                        .collect(),
                )
            }
            (None, Some(admin)) => own_tenant(client, &base, admin, &run_id, bench.network).await?,
            (None, None) => return Err("give --key (and --distributors) or --admin-token".into()),
        };
        if ids.is_empty() {
            return Err("no distributor ids to pick from".into());
        }
        let host = base
            .strip_prefix("http://")
            .ok_or("--base-url must start with http:// (the load tool speaks plain HTTP/1.1)")?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Target {
            scenario: bench.scenario.clone(),
            host,
            authorization: format!("Bearer {key}"),
            key,
            enrolled: Mutex::new(ids.clone()),
            ids,
            run_id,
        })
    }

    /// Sends request `sequence`; `Ok(false)` is an answer that is not a success, `Err` a
    /// broken connection.
    async fn send(
        &self,
        connection: &mut crate::bench_http::Connection,
        sequence: u64,
        pick: u64,
    ) -> std::io::Result<bool> {
        let id = &self.ids[(pick % self.ids.len() as u64) as usize];
        let authorization = ("Authorization", self.authorization.as_str());
        match self.scenario.as_str() {
            "orders" => {
                let order_id = format!("load-{}-{sequence}", self.run_id);
                let body = json!({ "order_id": order_id, "distributor_id": id, "date": "2026-11-05", "pv": "25.5", "cv": "20" });
                let headers = [authorization, ("Idempotency-Key", order_id.as_str())];
                let body = serde_json::to_vec(&body).expect("a JSON body");
                let answer = connection
                    .send("POST", "/v1/orders", &headers, Some(&body))
                    .await?;
                Ok(answer.status == 201)
            }
            "enroll" => {
                let sponsor = {
                    let enrolled = self.enrolled.lock().unwrap();
                    enrolled[(pick % enrolled.len() as u64) as usize].clone()
                };
                let new_id = format!("load-{}-{sequence}", self.run_id);
                let body = json!({ "id": new_id, "sponsor_id": sponsor });
                let body = serde_json::to_vec(&body).expect("a JSON body");
                let answer = connection
                    .send("POST", "/v1/distributors", &[authorization], Some(&body))
                    .await?;
                let created = answer.status == 201;
                if created {
                    self.enrolled.lock().unwrap().push(new_id);
                }
                Ok(created)
            }
            read => {
                let query = match read {
                    "upline" => "upline?levels=20",
                    _ => "downline?depth=3&limit=50",
                };
                let path = format!("/v1/distributors/{id}/{query}");
                let answer = connection
                    .send("GET", &path, &[authorization], None)
                    .await?;
                Ok(answer.status == 200)
            }
        }
    }
}

/// Creates a tenant with a key and enrolls `network` distributors (not measured).
async fn own_tenant(
    client: &Client,
    base: &str,
    admin: &str,
    run_id: &str,
    network: usize,
) -> Result<(String, Vec<String>), String> {
    let tenant = format!("load-{run_id}");
    let plan: Value = serde_json::from_str(r#"{"name":"load","currency":"USD","ranks":[{"name":"Member"}],"bonuses":{"unilevel":{"levels":[0.05,0.03]}}}"#).unwrap();
    let post = |path: String, token: String, body: Value| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let value: Value = response.json().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(value)
            } else {
                Err(format!("{path}: {status} {value}"))
            }
        }
    };
    post(
        "/v1/tenants".into(),
        admin.into(),
        json!({ "id": tenant, "name": "Load test", "plan": plan }),
    )
    .await?;
    let key = post(
        format!("/v1/tenants/{tenant}/api-keys"),
        admin.into(),
        json!({}),
    )
    .await?;
    let key = key["key"]
        .as_str()
        .ok_or("no key in the answer")?
        .to_owned();
    post(
        "/v1/distributors".into(),
        key.clone(),
        json!({ "id": "root" }),
    )
    .await?;
    let mut ids = vec!["root".to_owned()];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for n in 1..network {
        let sponsor = ids[rng.gen_range(0..ids.len())].clone();
        let id = format!("n{n}");
        post(
            "/v1/distributors".into(),
            key.clone(),
            json!({ "id": id, "sponsor_id": sponsor }),
        )
        .await?;
        ids.push(id);
    }
    Ok((key, ids))
}

#[cfg(test)]
mod tests {
    use super::served_per_second;
    use std::time::Duration;

    #[test]
    fn the_served_rate_counts_the_drain_after_the_window() {
        assert_eq!(served_per_second(45_000, 15, Duration::ZERO), 3_000.0);
        assert_eq!(
            served_per_second(45_000, 15, Duration::from_secs(15)),
            1_500.0
        );
        assert_eq!(served_per_second(0, 0, Duration::ZERO), 0.0);
    }
}
