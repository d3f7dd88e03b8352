//! The end-to-end latency of an order through the HTTP API: from the API's acknowledgement of
//! an order to its PV visible in the distributor's stats (`GET …/stats`), in the same region.
//!
//! Runs beside `upline bench api --scenario orders`: every 20 ms it posts an order of its own
//! and polls the stats until the order shows. Its orders are dated in a month the load does not
//! touch (December), so the probed distributor's December PV moves only with the probe's own
//! orders: after the n-th probe order it is exactly n.

use reqwest::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The month the probe's orders fall in.
const PROBE_PERIOD: &str = "2026-12";
/// The pause between one probe order becoming visible and the next.
const PROBE_PAUSE: Duration = Duration::from_millis(20);
/// A probe order not visible after this is a failure of the server, not a slow figure.
const VISIBLE_WITHIN_MAX: Duration = Duration::from_secs(30);

pub struct VolumeProbe {
    pub client: Client,
    pub base_url: String,
    pub key: String,
    pub distributor_id: String,
    pub run_id: String,
}

impl VolumeProbe {
    /// Probes from `from` until `until`; returns the latencies of the probes acknowledged in
    /// that window.
    pub async fn run(&self, from: Instant, until: Instant) -> Result<Vec<Duration>, String> {
        tokio::time::sleep_until(from.into()).await;
        let mut latencies = Vec::new();
        let mut placed = 0i64;
        while Instant::now() < until {
            self.post_order(placed).await?;
            let acknowledged = Instant::now();
            placed += 1;
            while self.december_pv().await? < placed {
                if acknowledged.elapsed() > VISIBLE_WITHIN_MAX {
                    return Err(format!(
                        "probe order {placed} was not visible in the stats within {} s",
                        VISIBLE_WITHIN_MAX.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            latencies.push(acknowledged.elapsed());
            tokio::time::sleep(PROBE_PAUSE).await;
        }
        Ok(latencies)
    }

    async fn post_order(&self, number: i64) -> Result<(), String> {
        let order_id = format!("probe-{}-{number}", self.run_id);
        let response = self
            .client
            .post(format!("{}/v1/orders", self.base_url))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", &order_id)
            .json(&json!({
                "order_id": order_id,
                "distributor_id": self.distributor_id,
                "date": format!("{PROBE_PERIOD}-03"),
                "pv": "1",
                "cv": "0",
            }))
            .send()
            .await
            .map_err(|error| format!("probe order: {error}"))?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!("probe order answered {}", response.status()));
        }
        Ok(())
    }

    /// The probed distributor's December PV in whole units.
    async fn december_pv(&self) -> Result<i64, String> {
        let stats: Value = self
            .client
            .get(format!(
                "{}/v1/distributors/{}/stats?period={PROBE_PERIOD}",
                self.base_url, self.distributor_id
            ))
            .bearer_auth(&self.key)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .map_err(|error| format!("probe stats: {error}"))?
            .json()
            .await
            .map_err(|error| format!("probe stats: {error}"))?;
        let pv = stats["pv"].as_str().ok_or("probe stats: no pv")?;
        let whole = pv.split('.').next().unwrap_or(pv);
        whole
            .parse()
            .map_err(|_| format!("probe stats: pv {pv:?} is not a number"))
    }
}

/// `p50 … max` of the latencies, in milliseconds.
pub fn quantiles_line(latencies: &[Duration]) -> String {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let at = |quantile: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index].as_secs_f64() * 1000.0
    };
    format!(
        "{} probes | ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
        sorted.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}
