//! Prometheus metrics. Labels are bounded: routes are the matched patterns (never raw paths),
//! statuses are HTTP codes, outcomes are fixed words; tenants and ids never become labels.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::time::Instant;

/// The service's metrics and their registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub request_duration: HistogramVec,
    pub orders: IntCounterVec,
    pub enrollments: IntCounterVec,
    pub runs: IntCounterVec,
    pub transfers: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "upline_http_request_duration_seconds",
                "HTTP request latency by route and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("a valid histogram");
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label]).expect("a valid counter")
        };
        let orders = counter(
            "upline_orders_total",
            "Order requests by outcome",
            "outcome",
        );
        let enrollments = counter(
            "upline_enrollments_total",
            "Enrollments by outcome",
            "outcome",
        );
        let runs = counter(
            "upline_commission_runs_total",
            "Commission runs by final status",
            "status",
        );
        let transfers = counter(
            "upline_ledger_transfers_total",
            "Ledger transfers posted, by kind",
            "kind",
        );
        for collector in [&orders, &enrollments, &runs, &transfers] {
            registry
                .register(Box::new(collector.clone()))
                .expect("unique metric names");
        }
        registry
            .register(Box::new(request_duration.clone()))
            .expect("unique metric names");
        Metrics {
            registry,
            request_duration,
            orders,
            enrollments,
            runs,
            transfers,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("metrics encode");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Middleware: observes every request's latency under its matched route.
pub async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics
        .request_duration
        .with_label_values(&[&method, &route, response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn metrics_page(State(state): State<crate::state::AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics().render(),
    )
}
