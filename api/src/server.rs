//! Running the service on the embedded store: open, recover, listen.

use crate::metrics::Metrics;
use crate::projector::Projector;
use crate::state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use store::embedded::EmbeddedStore;
use store::Store;

/// Opens the store and brings every tenant back: the outbox is drained into the volumes
/// first, then each tenant's index is rebuilt. Returns the state, ready to serve.
pub async fn recover(
    data_dir: &std::path::Path,
    admin_token_sha256: String,
) -> Result<AppState, String> {
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(data_dir).map_err(|error| error.to_string())?);
    let projector = Projector::new(store.clone());
    projector.drain().await.map_err(|error| error.to_string())?;
    let state = AppState::new(store, admin_token_sha256, Metrics::new(), projector.clone());
    crate::runtime::load_tenants(&state).await?;
    tokio::spawn(projector.run(state.clone()));
    Ok(state)
}

/// Serves until Ctrl-C or SIGTERM; `ready` is called with the bound address once listening.
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
    axum::serve(listener, crate::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

async fn shutdown_signal() {
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
