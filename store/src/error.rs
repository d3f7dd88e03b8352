//! The store's one error type.

/// A store failure. `Conflict` is a rule of the data (the caller decides what it means to the
/// user); everything else is the backend's trouble and never shown to a client. `Unavailable`
/// says the backend could not answer now (a database down or overloaded): the request changed
/// nothing that a retry would not complete, and the client may try again later.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn conflict(what: impl Into<String>) -> Self {
        StoreError::Conflict { what: what.into() }
    }
}
