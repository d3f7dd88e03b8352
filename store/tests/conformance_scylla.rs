//! The conformance suite on the ScyllaDB backend, against the real Cassandra node of the test
//! run: one migrated keyspace pair for the process, the cases apart by tenant.

use std::sync::Arc;
use store::scylla::{testing, ScyllaStore};

async fn store_on_the_test_node() -> Arc<ScyllaStore> {
    let deployment = testing::shared_deployment();
    Arc::new(
        ScyllaStore::open(deployment)
            .await
            .expect("the store opens on the test node"),
    )
}

store::conformance_suite!(store_on_the_test_node());
