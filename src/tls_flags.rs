//! What the `--<service>-ca`, `--<service>-cert` and `--<service>-key` flags of each service
//! (`scylla`, `nats`) share: the files they name, and a problem in one of them told by its flag.

use std::path::PathBuf;
use store::tls::{ClientCertificate, TlsFile, TlsFiles, TlsProblem};

/// The three flags' files (the client certificate only with its key: clap requires both).
pub fn files(ca: &Option<PathBuf>, cert: &Option<PathBuf>, key: &Option<PathBuf>) -> TlsFiles {
    TlsFiles {
        roots: ca.clone(),
        client: cert
            .clone()
            .zip(key.clone())
            .map(|(certificate, key)| ClientCertificate { certificate, key }),
    }
}

/// `--nats-key /path/client.key: the key does not go with the certificate: …`
pub fn problem_message(service: &str, problem: &TlsProblem) -> String {
    let flag = match problem.file {
        TlsFile::Roots => "ca",
        TlsFile::Certificate => "cert",
        TlsFile::Key => "key",
    };
    format!(
        "--{service}-{flag} {}: {}",
        problem.path.display(),
        problem.reason
    )
}
