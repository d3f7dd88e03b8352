//! TLS client settings from PEM files — whom a process trusts as its servers and the
//! certificate it shows those that verify their clients — shared by the database connection
//! and the event bus's.
//!
//! The files are read and checked whole when the settings are made (every certificate parsed,
//! the authorities accepted as trust anchors, the key matched to its certificate), so a wrong
//! path is refused at start, naming the file, instead of surfacing as a connection that fails
//! or retries forever.

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use rustls::ClientConfig;
use rustls::RootCertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate (chain) and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate authorities that sign the servers' certificates (a PEM bundle).
    pub roots: Option<PathBuf>,
    /// Shown to servers that verify their clients (mutual TLS).
    pub client: Option<ClientCertificate>,
}

/// Which of the files a problem is in, for the caller to name by its own flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFile {
    Roots,
    Certificate,
    Key,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsProblem {
    pub file: TlsFile,
    pub path: PathBuf,
    pub reason: String,
}

impl TlsFiles {
    /// Whether any file was given.
    pub fn is_set(&self) -> bool {
        self.roots.is_some() || self.client.is_some()
    }

    /// A client configuration trusting the roots alone (none without them) and showing the
    /// client certificate when there is one. The cryptography is ring's, named here rather than
    /// taken from the process default, which the linked crates' features leave ambiguous.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsProblem> {
        let mut roots = RootCertStore::empty();
        if let Some(path) = &self.roots {
            for certificate in certificates(TlsFile::Roots, path)? {
                roots.add(certificate).map_err(|error| TlsProblem {
                    file: TlsFile::Roots,
                    path: path.clone(),
                    reason: format!("a certificate is not a usable authority: {error}"),
                })?;
            }
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots);
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let chain = certificates(TlsFile::Certificate, &client.certificate)?;
                let key_problem = |reason: String| TlsProblem {
                    file: TlsFile::Key,
                    path: client.key.clone(),
                    reason,
                };
                let key = PrivateKeyDer::from_pem_file(&client.key)
                    .map_err(|error| key_problem(pem_reason(error, "no PEM private key in it")))?;
                builder.with_client_auth_cert(chain, key).map_err(|error| {
                    key_problem(format!("the key does not go with the certificate: {error}"))
                })?
            }
        };
        Ok(Arc::new(config))
    }
}

const NO_CERTIFICATE: &str = "no PEM certificate in it";

/// The certificates of a PEM file; at least one.
fn certificates(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsProblem> {
    let problem = |reason: String| TlsProblem {
        file,
        path: path.to_path_buf(),
        reason,
    };
    let found = CertificateDer::pem_file_iter(path)
        .map_err(|error| problem(pem_reason(error, NO_CERTIFICATE)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| problem(pem_reason(error, NO_CERTIFICATE)))?;
    if found.is_empty() {
        return Err(problem(NO_CERTIFICATE.into()));
    }
    Ok(found)
}

fn pem_reason(error: pem::Error, when_missing: &str) -> String {
    match error {
        pem::Error::Io(io) => io.to_string(),
        pem::Error::NoItemsFound => when_missing.to_owned(),
        other => format!("not a readable PEM file: {other:?}"),
    }
}

/// Makes ring the process's default cryptography, for the crates that build their TLS
/// configurations from the default (the NATS client, the Kubernetes client): with both of
/// rustls's providers linked in, it cannot pick one by itself and would panic. Call it first
/// thing in `main`; a second call changes nothing.
pub fn use_ring_by_default() {
    let _already_set = rustls::crypto::ring::default_provider().install_default();
}
