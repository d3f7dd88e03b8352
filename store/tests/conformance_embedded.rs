//! The conformance suite on the embedded backend: one data directory per case.

use std::sync::Arc;
use store::embedded::EmbeddedStore;

async fn fresh_store() -> Arc<EmbeddedStore> {
    // The directory lives as long as the test process; each case gets its own.
    let directory = tempfile::tempdir().expect("a temporary directory").keep();
    Arc::new(EmbeddedStore::open(&directory).expect("the embedded store opens"))
}

store::conformance_suite!(fresh_store());
