//! The operator's process: `/metrics`, `/healthz` and `/readyz` from the start; the three
//! controllers only while this replica holds the leader Lease. Losing the Lease ends the
//! process (its pod restarts as a follower); a shutdown signal lets running reconciles finish,
//! gives the Lease up and ends cleanly.

use crate::context::Context;
use crate::crd::{RawCompensationPlan, Region, Tenant};
use crate::error::Error;
use crate::leader::LeaderElection;
use crate::metrics::Metrics;
use crate::platform::PlatformAccess;
use axum::routing::get;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct OperatorConfig {
    pub metrics_address: SocketAddr,
    pub lease_namespace: String,
    pub lease_name: String,
    /// This replica's name in the Lease (its pod's name).
    pub identity: String,
    pub lease_duration: Duration,
    /// Region name → base URL of its API, for an operator outside the cluster.
    pub region_apis: BTreeMap<String, String>,
    /// Watch only this namespace (all when None).
    pub watch_namespace: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot reach the Kubernetes API (set KUBECONFIG, or run in a pod): {0}")]
    Client(kube::Error),
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: SocketAddr,
        error: std::io::Error,
    },
    #[error("lost the leader Lease {0}; exiting so that this replica starts again as a follower")]
    LostLease(String),
}

/// Runs until `shutdown` resolves (Ok) or leadership is lost (Err).
pub async fn run(
    config: OperatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Client)?;
    let metrics = crate::metrics::global().clone();
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(config.metrics_address)
        .await
        .map_err(|error| RunError::Listen {
            address: config.metrics_address,
            error,
        })?;
    tokio::spawn(serve_http(listener, metrics.clone(), ready.clone()));

    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });
    let election = LeaderElection::new(
        Api::namespaced(client.clone(), &config.lease_namespace),
        &config.lease_name,
        &config.identity,
        config.lease_duration,
    );

    // Follow until leading (or told to stop).
    loop {
        match election.try_lead().await {
            Ok(true) => break,
            Ok(false) => ready.store(true, Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "cannot read the leader Lease"),
        }
        if wait_or_stop(&mut stop.clone(), election.renew_every).await {
            return Ok(());
        }
    }
    ready.store(true, Ordering::Relaxed);
    metrics.set_leader(true);
    tracing::info!(identity = %config.identity, lease = %config.lease_name, "leading: the controllers start");

    let context = Arc::new(Context::new(
        client.clone(),
        PlatformAccess::new(config.region_apis.clone()),
        config.watch_namespace.clone(),
        Some(config.identity.clone()),
    ));
    let (lost_sender, lost) = watch::channel(false);
    let controllers = tokio::spawn(run_controllers(
        client,
        config.watch_namespace.clone(),
        context,
        stop.clone(),
        lost.clone(),
    ));

    // Renew while leading; a renewal that fails for the Lease's whole duration loses it.
    let mut last_renewed = Instant::now();
    let mut stop_watch = stop.clone();
    let outcome = loop {
        if wait_or_stop(&mut stop_watch, election.renew_every).await {
            break Ok(());
        }
        match election.try_lead().await {
            Ok(true) => last_renewed = Instant::now(),
            Ok(false) => break Err(RunError::LostLease(config.lease_name.clone())),
            Err(error) => {
                tracing::warn!(%error, "cannot renew the leader Lease");
                if last_renewed.elapsed() >= config.lease_duration {
                    break Err(RunError::LostLease(config.lease_name.clone()));
                }
            }
        }
    };
    let _ = lost_sender.send(true);
    let _ = controllers.await;
    metrics.set_leader(false);
    if outcome.is_ok() {
        election.step_down().await;
    }
    outcome
}

/// Sleeps `period`; true when the stop signal came instead.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(period) => false,
        _ = stop.changed() => true,
    }
}

async fn until_true(mut receiver: watch::Receiver<bool>) {
    while !*receiver.borrow() {
        if receiver.changed().await.is_err() {
            return;
        }
    }
}

/// The API of kind K in the watched namespace, or in all.
pub fn watched<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

async fn run_controllers(
    client: Client,
    namespace: Option<String>,
    context: Arc<Context>,
    stop: watch::Receiver<bool>,
    lost: watch::Receiver<bool>,
) {
    let config = watcher::Config::default();
    let ending = || {
        let stop = stop.clone();
        let lost = lost.clone();
        async move {
            tokio::select! {
                _ = until_true(stop) => {},
                _ = until_true(lost) => {},
            }
        }
    };
    let regions = Controller::new(watched::<Region>(&client, &namespace), config.clone())
        .owns(watched::<Deployment>(&client, &namespace), config.clone())
        .owns(watched::<Service>(&client, &namespace), config.clone())
        .owns(watched::<ConfigMap>(&client, &namespace), config.clone())
        .owns(
            watched::<HorizontalPodAutoscaler>(&client, &namespace),
            config.clone(),
        )
        .owns(
            watched::<PodDisruptionBudget>(&client, &namespace),
            config.clone(),
        )
        .owns(watched::<Ingress>(&client, &namespace), config.clone())
        .graceful_shutdown_on(ending())
        .run(
            |region, context| instrumented("Region", crate::region::reconcile(region, context)),
            error_policy::<Region>,
            context.clone(),
        )
        .for_each(|_| async {});
    let tenant_controller = Controller::new(watched::<Tenant>(&client, &namespace), config.clone());
    let known_tenants = tenant_controller.store();
    let tenants = tenant_controller
        // A plan that becomes valid, or gets a new version, wakes the tenants paid by it.
        .watches(
            watched::<RawCompensationPlan>(&client, &namespace),
            config.clone(),
            move |plan: RawCompensationPlan| {
                known_tenants
                    .state()
                    .into_iter()
                    .filter(|tenant| {
                        tenant.namespace() == plan.namespace()
                            && tenant.spec.plan == plan.name_any()
                    })
                    .map(|tenant| ObjectRef::from_obj(tenant.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(ending())
        .run(
            |tenant, context| instrumented("Tenant", crate::tenant::reconcile(tenant, context)),
            error_policy::<Tenant>,
            context.clone(),
        )
        .for_each(|_| async {});
    let plans = Controller::new(
        watched::<RawCompensationPlan>(&client, &namespace),
        config.clone(),
    )
    .graceful_shutdown_on(ending())
    .run(
        |plan, context| instrumented("CompensationPlan", crate::plan::reconcile(plan, context)),
        error_policy::<RawCompensationPlan>,
        context,
    )
    .for_each(|_| async {});
    tokio::join!(regions, tenants, plans);
}

/// The kind's reconcile, timed and counted.
async fn instrumented<F>(kind: &'static str, reconcile: F) -> Result<Action, Error>
where
    F: Future<Output = Result<Action, Error>>,
{
    let started = Instant::now();
    let outcome = reconcile.await;
    // The context is not at hand here; the metrics are global to the process.
    crate::metrics::global().reconciled(
        kind,
        started.elapsed(),
        outcome.as_ref().err().map(Error::reason),
    );
    outcome
}

fn error_policy<K: Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &Error,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(kind = %K::kind(&()), name = ?object.meta().name, %error, "reconcile failed; trying again");
    Action::requeue(Duration::from_secs(10))
}

async fn serve_http(listener: tokio::net::TcpListener, metrics: Metrics, ready: Arc<AtomicBool>) {
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { metrics.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if ready.load(Ordering::Relaxed) {
                    (axum::http::StatusCode::OK, "ready")
                } else {
                    (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: the Kubernetes API has not answered yet",
                    )
                }
            }),
        );
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics endpoint stopped");
    }
}
