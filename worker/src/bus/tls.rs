//! Whom this process trusts as its NATS servers, and the certificate it shows them where they
//! ask for one (TLS and mutual TLS). Like the identity, one setting per process: set once at
//! start from the command line, applied to every connection the process opens.
//!
//! The files are read and checked when set — every certificate parsed, the roots accepted as
//! trust anchors, the key matched to its certificate — because the client reads them only when
//! it connects, and a connection that retries in the background would retry a wrong path
//! forever instead of saying so.

use async_nats::rustls::pki_types::pem::PemObject;
use async_nats::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use async_nats::rustls::{ClientConfig, RootCertStore};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The certificate (chain) and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// The certificate authorities that sign the servers' certificates (a PEM bundle). Given,
    /// they replace the system's roots and a server that offers no TLS is refused.
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

impl NatsTls {
    /// Whether any TLS setting was given (otherwise the URL's scheme and the server decide).
    pub fn is_set(&self) -> bool {
        self.roots.is_some() || self.client.is_some()
    }

    /// Reads every file and checks it holds what it should.
    pub fn check(&self) -> Result<(), TlsProblem> {
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
        if let Some(client) = &self.client {
            let chain = certificates(TlsFile::Certificate, &client.certificate)?;
            let key = PrivateKeyDer::from_pem_file(&client.key).map_err(|error| TlsProblem {
                file: TlsFile::Key,
                path: client.key.clone(),
                reason: pem_reason(error, "no PEM private key"),
            })?;
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .map_err(|error| TlsProblem {
                    file: TlsFile::Key,
                    path: client.key.clone(),
                    reason: format!("the key does not go with the certificate: {error}"),
                })?;
        }
        Ok(())
    }
}

/// The certificates of a PEM file; at least one.
fn certificates(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsProblem> {
    let problem = |reason: String| TlsProblem {
        file,
        path: path.to_path_buf(),
        reason,
    };
    let found = CertificateDer::pem_file_iter(path)
        .map_err(|error| problem(pem_reason(error, "")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| problem(pem_reason(error, "")))?;
    if found.is_empty() {
        return Err(problem("no PEM certificate in it".into()));
    }
    Ok(found)
}

fn pem_reason(error: async_nats::rustls::pki_types::pem::Error, when_missing: &str) -> String {
    use async_nats::rustls::pki_types::pem::Error;
    match error {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound if !when_missing.is_empty() => when_missing.to_owned(),
        other => format!("not a readable PEM file: {other:?}"),
    }
}

static TLS: OnceLock<NatsTls> = OnceLock::new();

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetTlsError {
    /// A file does not hold what it should; nothing was set.
    File(TlsProblem),
    /// Another setting was made the process's before.
    SetAlready,
}

/// Checks the files and makes the setting the process's.
pub fn set_tls(tls: NatsTls) -> Result<(), SetTlsError> {
    tls.check().map_err(SetTlsError::File)?;
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
