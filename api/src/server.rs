//! Running the service: open the store (embedded or ScyllaDB), recover, listen.

use crate::metrics::Metrics;
use crate::projector::{Deletion, Projector};
use crate::state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use store::embedded::EmbeddedStore;
use store::scylla::{ScyllaConfig, ScyllaStore};
use store::Store;

/// Which backend the service runs on.
#[derive(Clone, Debug)]
pub enum StoreChoice {
    /// One data directory (the default).
    Embedded(PathBuf),
    /// A ScyllaDB (or Cassandra) deployment, migrated beforehand with `upline migrate`.
    Scylla(ScyllaConfig),
}

/// Opens the chosen store.
pub async fn open_store(choice: &StoreChoice) -> Result<Arc<dyn Store>, String> {
    Ok(match choice {
        StoreChoice::Embedded(data_dir) => {
            Arc::new(EmbeddedStore::open(data_dir).map_err(|error| error.to_string())?)
        }
        StoreChoice::Scylla(config) => Arc::new(ScyllaStore::open(config).await?),
    })
}

/// How soon a plan version or a close another process made reaches this one (runs take a
/// plan version up at once): one read of the tenant records this often.
const TENANT_FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the store and brings every tenant back: the outbox is drained into the volumes
/// first, then each tenant's index is rebuilt. Returns the state, ready to serve.
pub async fn recover(choice: &StoreChoice, admin_token_sha256: String) -> Result<AppState, String> {
    recover_with(choice, admin_token_sha256, None, |_| Deletion::Applied).await
}

/// [`recover`], with another reader of the outbox started on the opened store before the
/// projector drains it: `other_reader` says which events the projector deletes — e.g. only
/// those the reader (a relay) has passed, or none.
/// `region` names the region this process serves (`--region`) before the tenants are loaded:
/// a tenant whose record names it as home is at home here.
pub async fn recover_with(
    choice: &StoreChoice,
    admin_token_sha256: String,
    region: Option<&str>,
    other_reader: impl FnOnce(Arc<dyn store::Store>) -> Deletion,
) -> Result<AppState, String> {
    let store = open_store(choice).await?;
    let deletion = other_reader(store.clone());
    let projector = Projector::deleting(store.clone(), deletion);
    projector.drain().await.map_err(|error| error.to_string())?;
    let state = AppState::new(store, admin_token_sha256, Metrics::new(), projector.clone());
    if let Some(region) = region {
        state.set_region(region);
    }
    crate::runtime::load_tenants(&state).await?;
    crate::runtime::follow_tenant_changes(state.clone(), TENANT_FOLLOW_INTERVAL);
    spawn_projector(projector, state.clone());
    Ok(state)
}

/// Runs the volume projector on a thread of its own: its folds and checkpoints are bursts of
/// CPU work (decoding thousands of events, sorting deltas by record) that would otherwise hold
/// up the request workers they share a runtime with. It stops with the runtime that started it.
fn spawn_projector(projector: Arc<Projector>, state: AppState) {
    let (keep_running, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _keep_running = keep_running;
        std::future::pending::<()>().await
    });
    std::thread::Builder::new()
        .name("upline-projector".into())
        .spawn(move || {
            lower_this_threads_priority();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime for the projector");
            runtime.block_on(async move {
                tokio::select! {
                    () = projector.run(state) => {}
                    _ = stopped => {}
                }
            });
        })
        .expect("a thread for the projector");
}

/// Serves until Ctrl-C or SIGTERM; `ready` is called with the bound address once listening.
/// On the way out the volume projector stores what it has folded, so the next start has no
/// events to replay (after a crash it replays them instead: nothing depends on this).
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    ready(address);
    axum::serve(listener, crate::app(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| error.to_string())?;
    state
        .projector()
        .sync()
        .await
        .map_err(|error| format!("storing the folded volumes on the way out: {error}"))?;
    let left = state
        .projector()
        .delete_passed_within(RELAY_GRACE)
        .await
        .map_err(|error| format!("deleting the applied events on the way out: {error}"))?;
    if left > 0 {
        tracing::warn!(
            events = left,
            "the relay has not published every event (is NATS down?); they stay in the outbox \
             and are published at the next start"
        );
    }
    // The next process (a rolling restart) writes orders at once instead of waiting for
    // this one's leases to lapse.
    state
        .store()
        .stop_writing_orders()
        .await
        .map_err(|error| format!("releasing the order-writer leases on the way out: {error}"))
}

/// How long a graceful stop waits for the NATS relay to publish what the projector stored.
const RELAY_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The projector's niceness: requests come first. Its work is bounded (a checkpoint is due
/// every 10 s, and a close that waits for it asks at once), so it cannot starve; on two cores
/// its bursts (a checkpoint sorts 200,000 deltas) otherwise took a core from the requests for a
/// tenth of a second every checkpoint — about the 1 % of requests the p99 is made of.
const PROJECTOR_NICENESS: i32 = 10;

fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // On Linux, niceness is per thread: PRIO_PROCESS with the thread id (0 = the caller).
        // Failing to lower it only costs latency, never correctness.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, PROJECTOR_NICENESS) };
    }
}

/// Resolves on Ctrl-C or SIGTERM (every long-running command stops the same way).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
