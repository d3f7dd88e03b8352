//! The operator's Prometheus metrics: reconciles and their durations and errors by kind, and
//! whether this replica leads. Labels are bounded: kinds, results and error reasons.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    durations: HistogramVec,
    errors: IntCounterVec,
    leader: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "upline_operator_reconciles_total",
                "Reconciles by kind and result (ok, error).",
            ),
            &["kind", "result"],
        )
        .expect("metric");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "upline_operator_reconcile_duration_seconds",
                "How long a reconcile took, by kind.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["kind"],
        )
        .expect("metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "upline_operator_reconcile_errors_total",
                "Failed reconciles by kind and reason.",
            ),
            &["kind", "reason"],
        )
        .expect("metric");
        let leader = IntGauge::new(
            "upline_operator_leader",
            "1 while this replica holds the leader Lease.",
        )
        .expect("metric");
        registry
            .register(Box::new(reconciles.clone()))
            .expect("register");
        registry
            .register(Box::new(durations.clone()))
            .expect("register");
        registry
            .register(Box::new(errors.clone()))
            .expect("register");
        registry
            .register(Box::new(leader.clone()))
            .expect("register");
        Metrics {
            registry,
            reconciles,
            durations,
            errors,
            leader,
        }
    }

    pub fn reconciled(&self, kind: &str, took: Duration, error_reason: Option<&str>) {
        self.durations
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
        let result = if error_reason.is_some() {
            "error"
        } else {
            "ok"
        };
        self.reconciles.with_label_values(&[kind, result]).inc();
        if let Some(reason) = error_reason {
            self.errors.with_label_values(&[kind, reason]).inc();
        }
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
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

/// The process's metrics (one registry, whichever task counts).
pub fn global() -> &'static Metrics {
    static METRICS: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
