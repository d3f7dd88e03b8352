//! Scheduled closes survive the death of the process closing: four tenants with a monthly
//! close schedule, and four `upline worker --closes` processes on the test Cassandra, each
//! ended (as by `kill -9`) at a different step of a close — after storing the statements,
//! after computing, after committing, half way through posting. A fifth worker takes each
//! close over once the dead one's lease lapsed and finishes it. Every tenant then has exactly
//! one run in force, posted, with the statements and the ledger (every account's balance and
//! number of transfers) of an uninterrupted close of the same data: a control tenant with the
//! same genealogy and orders, closed through the API in one go.

mod common;

use common::cassandra::{migrated_prefix, store_arguments};
use common::nats::{nats_url, unique};
use common::serve::{start_with, ServeProcess};
use common::worker::{wait_for, Worker};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use store::{LedgerStore, RunStatus, RunStore};

const DISTRIBUTORS: usize = 30;
/// The steps a worker is ended at, one tenant each (the tenants sort in this order, and a
/// worker closes them in that order, skipping those whose lease a dead worker still holds).
const CRASHES: [(&str, &str); 4] = [
    ("t1", "close-statements-stored"),
    ("t2", "close-computed"),
    ("t3", "close-committed"),
    ("t4", "close-partly-posted"),
];
/// The crashing workers' lease: long enough that each leaves its tenant to the next one's
/// successor, not to the next crashing worker.
const CRASHING_LEASE_SECONDS: &str = "45";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_whose_worker_dies_at_any_step_is_finished_by_another_exactly() {
    let prefix = migrated_prefix("closes", "us-east");
    let store_arguments = store_arguments(&prefix, "us-east");
    let work = tempfile::tempdir().unwrap();
    let period = previous_month();

    // The same genealogy and orders in five tenants; the control closes through the API.
    let mut serve_arguments = store_arguments.clone();
    serve_arguments.push("--no-closes".into());
    let server = start_with(&work.path().join("serve"), &serve_arguments);
    let control_key = server.tenant_with(tenant_body("control", false)).await;
    fill(&server, &control_key, &period).await;
    for (tenant, _) in CRASHES {
        let key = server.tenant_with(tenant_body(tenant, true)).await;
        fill(&server, &key, &period).await;
    }
    let control_run_id = server.pay_period(&control_key, &period).await["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.stop();

    // Four workers, each ended at its step of a close.
    let streams = unique("C");
    let worker_arguments = |lease: &str| {
        let mut arguments = store_arguments.clone();
        arguments.extend(
            [
                "--nats",
                &nats_url(),
                "--stream-prefix",
                &streams,
                "--no-relay",
                "--closes",
                "--close-scan",
                "1",
                "--close-lease",
                lease,
            ]
            .map(str::to_owned),
        );
        arguments
    };
    for (tenant, failpoint) in CRASHES {
        let mut crashing = Worker::start(
            &work.path().join("worker"),
            &worker_arguments(CRASHING_LEASE_SECONDS),
            Some(failpoint),
        );
        let status = crashing.wait(Duration::from_secs(120));
        assert_eq!(
            status.and_then(|status| status.code()),
            Some(137),
            "the worker ended at {failpoint}:\n{}",
            crashing.said()
        );
        wait_for(Duration::from_secs(5), || {
            crashing.said().contains("failpoint")
        })
        .await;
        let said = crashing.said();
        assert!(
            said.contains(&format!("closing {period} of tenant {tenant}\n"))
                && said.contains(&format!("failpoint {failpoint}")),
            "the worker ended at {failpoint} while closing {tenant}:\n{said}"
        );
    }

    // Another worker takes each close over once its lease lapsed.
    let mut finisher = Worker::start(&work.path().join("worker"), &worker_arguments("5"), None);
    let finished = wait_for(Duration::from_secs(180), || {
        let said = finisher.said();
        CRASHES
            .iter()
            .all(|(tenant, _)| said.contains(&format!("closed {period} of tenant {tenant}:")))
    })
    .await;
    unsafe { libc::kill(finisher.child.id() as i32, libc::SIGTERM) };
    assert!(finisher.child.wait().unwrap().success());
    assert!(
        finished,
        "the closes were not finished:\n{}",
        finisher.said()
    );

    // Exactly the control's result, once.
    let store =
        store::scylla::ScyllaStore::open(&store::scylla::testing::config(&prefix, "us-east"))
            .await
            .unwrap();
    let control_statements = store.statements("control", &control_run_id).await.unwrap();
    assert_eq!(control_statements.len(), DISTRIBUTORS);
    assert!(control_statements
        .iter()
        .any(|statement| !statement.lines.is_empty()));
    let control_ledger = ledger(&store, "control").await;
    for (tenant, failpoint) in CRASHES {
        let runs = store.runs(tenant).await.unwrap();
        // The dead worker's run was carried on, not left behind beside a new one.
        assert_eq!(runs.len(), 1, "{tenant} ({failpoint}): {runs:?}");
        let in_force: Vec<_> = runs
            .iter()
            .filter(|run| matches!(run.status, RunStatus::Committed | RunStatus::Posted))
            .collect();
        assert_eq!(in_force.len(), 1, "{tenant} ({failpoint}): {runs:?}");
        let run = in_force[0];
        assert_eq!(
            (run.period.as_str(), run.status),
            (period.as_str(), RunStatus::Posted),
            "{tenant} ({failpoint})"
        );
        assert_eq!(
            store.statements(tenant, &run.run_id).await.unwrap(),
            control_statements,
            "{tenant} ({failpoint}): the statements"
        );
        assert_eq!(
            ledger(&store, tenant).await,
            control_ledger,
            "{tenant} ({failpoint}): every account's balance and transfers"
        );
    }
}

/// Every account of the tenant: (balance, number of transfers).
async fn ledger(store: &store::scylla::ScyllaStore, tenant: &str) -> BTreeMap<String, (i64, u64)> {
    store
        .accounts(tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|account| (account.id, (account.balance, account.transfers)))
        .collect()
}

fn tenant_body(id: &str, scheduled: bool) -> Value {
    let mut body = json!({
        "id": id,
        "name": id,
        "plan": {
            "name": "failover", "currency": "USD",
            "activity": { "min_pv": 50 },
            "bonuses": { "unilevel": { "levels": [0.10, 0.05, 0.03] }, "fast_start": { "pct": 0.2, "window_days": 60 } },
            "ranks": [{ "name": "Member" }, { "name": "Bronze", "min_pv": 60, "min_gv": 400 }]
        }
    });
    if scheduled {
        body["closes"] = json!({ "every": "month", "after_hours": 0 });
    }
    body
}

/// Enrolls the same genealogy in the tenant and takes the same orders, dated in `period`.
async fn fill(server: &ServeProcess, key: &str, period: &str) {
    server
        .enroll_tree(key, DISTRIBUTORS, 3, &format!("{period}-02"))
        .await;
    for n in 0..DISTRIBUTORS * 2 {
        let distributor = format!("d{}", (n * 7) % DISTRIBUTORS);
        let day = 1 + n % 28;
        let pv = 20 + (n * 13) % 90;
        let status = server
            .post_order(
                key,
                &format!("o{n}"),
                &distributor,
                &format!("{period}-{day:02}"),
                &pv.to_string(),
                &format!("{pv}.25"),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED);
    }
}

/// Last calendar month (its close is due at once with `after_hours: 0`).
fn previous_month() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let today = (now / 86_400) as i32;
    let (year, month, _) = engine::calendar::civil_from_days(today);
    let (year, month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    format!("{year:04}-{month:02}")
}
