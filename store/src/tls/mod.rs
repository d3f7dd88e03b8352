//! TLS client settings from PEM files — whom a process trusts as its servers and the
//! certificate it shows those that verify their clients — shared by the database connection
//! and the event bus's.
//!
//! The files are read and checked whole when the settings are made (every certificate parsed,
//! the authorities accepted as trust anchors, the key matched to its certificate), so a wrong
//! path is refused at start, naming the file, instead of surfacing as a connection that fails
//! or retries forever. After that they are read again for every new connection
//! ([`renewal`]): certificates renewed in place (cert-manager rewriting a mounted Secret) are
//! used without restarting the process.

mod renewal;

use renewal::{Renewing, Unusable};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
pub use rustls::ClientConfig;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
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
    /// client certificate when there is one, both as their files hold them when a connection
    /// is opened. The cryptography is ring's, named here rather than taken from the process
    /// default, which the linked crates' features leave ambiguous.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsProblem> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = match &self.roots {
            Some(path) => {
                let authorities = Renewing::load(
                    vec![(TlsFile::Roots, path.clone())],
                    provider.clone(),
                    authorities_verifier,
                )?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(RenewedAuthorities(authorities)))
            }
            None => builder.with_root_certificates(RootCertStore::empty()),
        };
        let mut config = match &self.client {
            None => builder.with_no_client_auth(),
            Some(client) => {
                let certificate = Renewing::load(
                    vec![
                        (TlsFile::Certificate, client.certificate.clone()),
                        (TlsFile::Key, client.key.clone()),
                    ],
                    provider,
                    certified_key,
                )?;
                builder.with_client_cert_resolver(Arc::new(RenewedCertificate(certificate)))
            }
        };
        // A resumed session skips both the server's certificate and the client's, so a
        // reconnection would go on with what was agreed before a renewal (or a revocation).
        // Connections to these services are long-lived: the full handshake costs nothing
        // worth saving.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(config))
    }
}

/// The servers' verifier trusting the authorities of a PEM bundle.
fn authorities_verifier(
    contents: &[Vec<u8>],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, Unusable> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(TlsFile::Roots, &contents[0])? {
        roots.add(certificate).map_err(|error| Unusable {
            file: TlsFile::Roots,
            reason: format!("a certificate is not a usable authority: {error}"),
        })?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|error| Unusable {
            file: TlsFile::Roots,
            reason: format!("not usable as authorities: {error}"),
        })
}

/// The certificate chain of the first file with the private key of the second, which must
/// go with it.
fn certified_key(
    contents: &[Vec<u8>],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<CertifiedKey>, Unusable> {
    let chain = certificates(TlsFile::Certificate, &contents[0])?;
    let key_problem = |reason: String| Unusable {
        file: TlsFile::Key,
        reason,
    };
    let key = PrivateKeyDer::from_pem_slice(&contents[1])
        .map_err(|error| key_problem(pem_reason(error, "no PEM private key in it")))?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|error| key_problem(format!("the key does not go with the certificate: {error}")))
}

const NO_CERTIFICATE: &str = "no PEM certificate in it";

/// The certificates of a PEM file's contents; at least one.
fn certificates(file: TlsFile, contents: &[u8]) -> Result<Vec<CertificateDer<'static>>, Unusable> {
    let problem = |reason: String| Unusable { file, reason };
    let found = CertificateDer::pem_slice_iter(contents)
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

/// The client certificate as its files hold it now.
#[derive(Debug)]
struct RenewedCertificate(Renewing<Arc<CertifiedKey>>);

impl ResolvesClientCert for RenewedCertificate {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The servers' certificates checked against the authorities as their file holds them now.
#[derive(Debug)]
struct RenewedAuthorities(Renewing<Arc<WebPkiServerVerifier>>);

impl ServerCertVerifier for RenewedAuthorities {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.current().verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .unchanged()
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .unchanged()
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.unchanged().supported_verify_schemes()
    }
}

/// Makes ring the process's default cryptography, for the crates that build their TLS
/// configurations from the default (the NATS client, the Kubernetes client): with both of
/// rustls's providers linked in, it cannot pick one by itself and would panic. Call it first
/// thing in `main`; a second call changes nothing.
pub fn use_ring_by_default() {
    let _already_set = rustls::crypto::ring::default_provider().install_default();
}
