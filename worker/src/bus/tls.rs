//! Whom this process trusts as its NATS servers, and the certificate it shows them where they
//! ask for one (TLS and mutual TLS). Like the identity, one setting per process: set once at
//! start from the command line, applied to every connection the process opens. The files are
//! checked when set ([`store::tls`]): the client reads them only when it connects, and a
//! connection that retries in the background would retry a wrong path forever.

use std::sync::OnceLock;
pub use store::tls::{ClientCertificate, TlsFile, TlsFiles, TlsProblem};

static TLS: OnceLock<TlsFiles> = OnceLock::new();

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetTlsError {
    /// A file does not hold what it should; nothing was set.
    File(TlsProblem),
    /// Another setting was made the process's before.
    SetAlready,
}

/// Checks the files and makes the setting the process's. Given roots replace the system's, and
/// a server that offers no TLS is then refused.
pub fn set_tls(tls: TlsFiles) -> Result<(), SetTlsError> {
    tls.client_config().map_err(SetTlsError::File)?;
    let set = TLS.get_or_init(|| tls.clone());
    if *set == tls {
        Ok(())
    } else {
        Err(SetTlsError::SetAlready)
    }
}

/// The options with the process's TLS setting applied.
pub(crate) fn apply(mut options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
    let Some(tls) = TLS.get().filter(|tls| tls.is_set()) else {
        return options;
    };
    if let Some(roots) = &tls.roots {
        options = options.add_root_certificates(roots.clone());
    }
    if let Some(client) = &tls.client {
        options = options.add_client_certificate(client.certificate.clone(), client.key.clone());
    }
    options.require_tls(true)
}
