//! The operator's errors. A reconcile that fails is tried again later (after a short delay)
//! and counted by kind and reason in the metrics.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the platform's API in region {region}: {message}")]
    Platform { region: String, message: String },
    #[error("{0}")]
    Waiting(String),
}

impl Error {
    /// A short, bounded label for the errors metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_)) => "api_status",
            Error::Kube(_) => "kube_client",
            Error::Platform { .. } => "platform_api",
            Error::Waiting(_) => "waiting",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
