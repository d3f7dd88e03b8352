//! For tests: the one real Cassandra node of a test run (`tests/services/cassandra.sh` at the
//! workspace root), keyspace prefixes that keep tests apart on it, and a migrated deployment.

use super::{connect, migrate, ScyllaConfig};
use crate::model::{NewOrder, Order, OrderStatus};
use scylla::client::session::Session;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The datacenter name of the test node.
pub const DATACENTER: &str = "datacenter1";

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/services/cassandra.sh"
);

/// `host:port` of the node: `UPLINE_CASSANDRA` when the run started one (scripts/test-all.sh
/// does), otherwise started here through the script. A node that cannot be started fails the
/// test loudly; it never passes without one.
pub fn node() -> &'static str {
    static NODE: OnceLock<String> = OnceLock::new();
    NODE.get_or_init(|| {
        if let Ok(node) = std::env::var("UPLINE_CASSANDRA") {
            if !node.is_empty() {
                return node;
            }
        }
        cassandra_script("start", &[])
    })
}

/// Runs `cassandra.sh COMMAND` with `environment` (which node, how it is shaped); returns the
/// `host:port` it prints, if any. Fails the test loudly when the script fails.
fn cassandra_script(command: &str, environment: &[(&str, &std::ffi::OsStr)]) -> String {
    let output = Command::new("bash")
        .arg(SCRIPT)
        .arg(command)
        .envs(environment.iter().copied())
        .output()
        .expect("bash runs tests/services/cassandra.sh");
    assert!(
        output.status.success(),
        "cassandra.sh {command} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("UPLINE_CASSANDRA="))
        .unwrap_or_default()
        .to_string()
}

/// A node of a test's own, in a directory of its own (a test that stops it, or one shaped
/// differently: `UPLINE_CASSANDRA_AUTH=1`), stopped however the test ends.
pub struct OwnNode {
    directory: std::path::PathBuf,
    shape: Vec<(String, String)>,
}

impl OwnNode {
    pub fn new(directory: &std::path::Path, shape: &[(&str, &str)]) -> OwnNode {
        OwnNode {
            directory: directory.to_path_buf(),
            shape: shape
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    /// `cassandra.sh COMMAND` on this node (`start`, `stop`, `resume`); returns its address.
    pub fn run(&self, command: &str) -> String {
        let mut environment: Vec<(&str, &std::ffi::OsStr)> =
            vec![("UPLINE_CASSANDRA_NODE", self.directory.as_os_str())];
        for (name, value) in &self.shape {
            environment.push((name, std::ffi::OsStr::new(value)));
        }
        cassandra_script(command, &environment)
    }
}

impl Drop for OwnNode {
    fn drop(&mut self) {
        self.run("stop");
    }
}

/// A keyspace prefix no other test (or earlier run) uses.
pub fn unique_prefix(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "t{}_{}_{:x}_{label}_",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A one-region deployment on the test node under `prefix`.
pub fn config(prefix: &str, region: &str) -> ScyllaConfig {
    ScyllaConfig {
        nodes: vec![node().to_string()],
        region: region.into(),
        datacenters: [(region.to_string(), DATACENTER.to_string())].into(),
        replication_factor: 1,
        keyspace_prefix: prefix.into(),
        credentials: None,
        tls: None,
    }
}

/// Connects to `config`'s node and migrates its keyspaces; the session stays open for the
/// test's own queries.
pub async fn migrated(config: &ScyllaConfig) -> Session {
    let session = connect(config).await.expect("the test node answers");
    migrate(&session, config)
        .await
        .expect("the schema migrates");
    session
}

/// The names of the tables of `keyspace`, as the node's schema lists them.
pub async fn tables(session: &Session, keyspace: &str) -> Vec<String> {
    session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
            (keyspace,),
        )
        .await
        .expect("the schema tables answer")
        .into_rows_result()
        .expect("table names come as rows")
        .rows::<(String,)>()
        .expect("table names are text")
        .map(|row| row.expect("a table name").0)
        .collect()
}

/// The deployment this test process shares (one keyspace prefix, migrated once; cases keep
/// apart by tenant). Migrated on a thread of its own: each test has its own runtime, and a
/// session lives only as long as the runtime it was made on.
pub fn shared_deployment() -> &'static ScyllaConfig {
    static SHARED: OnceLock<ScyllaConfig> = OnceLock::new();
    SHARED.get_or_init(|| {
        let config = config(&unique_prefix("shared"), "test");
        let migrating = config.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to migrate on");
            runtime.block_on(async {
                let session = connect(&migrating).await.expect("the test node answers");
                migrate(&session, &migrating)
                    .await
                    .expect("the schema migrates");
            })
        })
        .join()
        .expect("migrating the test deployment");
        config
    })
}

/// A request for a paid order of 1 PV and 10 CV by `d1`, under the idempotency key `key`.
pub fn order_request(order_id: &str, key: &str) -> NewOrder {
    NewOrder {
        idempotency_key: key.to_owned(),
        request_sha256: format!("sha-{key}-{order_id}"),
        order: Order {
            order_id: order_id.to_owned(),
            distributor_id: "d1".into(),
            date: "2026-11-05".into(),
            pv: 10_000,
            cv: 100_000,
            status: OrderStatus::Paid,
            created_at_ms: 1,
        },
    }
}
