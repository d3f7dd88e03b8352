//! Why a node refused this process's TLS, in the handshake's own words. The driver reports a
//! refused client certificate only when the server's alert outruns its first request: under
//! TLS 1.3 the client finishes its side of the handshake first, sends its request, and the
//! server's alert then often arrives behind a reset that discards it, leaving "connection
//! broken". This probe shakes hands and only listens, so nothing it sent is left unread on the
//! server and its alert comes through.

use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// How long each step waits: a server that accepted the client says nothing until asked.
const PATIENCE: Duration = Duration::from_secs(3);

/// The CQL port, for nodes given without one.
const CQL_PORT: u16 = 9042;

/// The first reason one of `nodes` gives for refusing a TLS session under `tls`, prefixed
/// with the node; None when every node accepts or cannot be reached at all (which the
/// driver's own error already says).
pub(super) async fn tls_refusal(
    nodes: &[String],
    tls: &Arc<rustls::ClientConfig>,
) -> Option<String> {
    for node in nodes {
        if let Some(reason) = node_refusal(node, tls).await {
            return Some(format!("TLS with {node}: {reason}"));
        }
    }
    None
}

async fn node_refusal(node: &str, tls: &Arc<rustls::ClientConfig>) -> Option<String> {
    let address = match tokio::net::lookup_host(node).await {
        Ok(mut addresses) => addresses.next(),
        Err(_) => tokio::net::lookup_host((node, CQL_PORT)).await.ok()?.next(),
    }?;
    let stream = timeout(PATIENCE, TcpStream::connect(address))
        .await
        .ok()?
        .ok()?;
    // The driver names nodes by their addresses, so their certificates are checked for them.
    let name = ServerName::IpAddress(address.ip().into());
    let mut session = match timeout(
        PATIENCE,
        TlsConnector::from(tls.clone()).connect(name, stream),
    )
    .await
    {
        Err(_) => return Some(format!("no TLS handshake within {} s", PATIENCE.as_secs())),
        Ok(Err(error)) => return Some(handshake_failure(&error)),
        Ok(Ok(session)) => session,
    };
    let mut first_byte = [0u8; 1];
    match timeout(PATIENCE, session.read(&mut first_byte)).await {
        Ok(Err(error)) => Some(error.to_string()),
        Ok(Ok(0)) => Some("the node closed the connection after the handshake".into()),
        // Silence (or a byte, which CQL never sends unasked): the session was accepted.
        Ok(Ok(_)) | Err(_) => None,
    }
}

/// The handshake's error, with what it means where rustls's words do not say it: a node that
/// is not listening for TLS answers the greeting with a plain CQL frame.
fn handshake_failure(error: &std::io::Error) -> String {
    let reason = error.to_string();
    if reason.contains("InvalidContentType") {
        format!("{reason}: the node answered without TLS (it has no client_encryption_options, or this is not its TLS port); connect without --scylla-ca")
    } else {
        reason
    }
}
