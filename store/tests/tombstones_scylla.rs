//! A distributor's genealogy row and profile hold no tombstones, on the real Cassandra node: a
//! column a distributor has no value for (no sponsor, no placement, no residence region, no
//! email) is left unset when the row is first written, never written as null — CQL stores a
//! null as a tombstone, which every later read of the bucket steps over (a 1M tenant loaded
//! with nulls read three tombstones per row, and the node warned on every bucket a close
//! read). A change that empties a field does write its null: that is how it is emptied.

use scylla::client::session::Session;
use scylla::statement::unprepared::Statement;
use store::scylla::{connect, testing, ScyllaStore};
use store::{Distributor, DistributorStatus, DistributorStore, Placement, Profile};

fn distributor(id: &str, node: u32, sponsor: Option<&str>, placed: bool) -> Distributor {
    Distributor {
        id: id.into(),
        node,
        sponsor_id: sponsor.map(str::to_owned),
        placement: placed.then(|| Placement {
            parent_id: "root".into(),
            slot: 1,
        }),
        joined_on: "2026-11-02".into(),
        status: DistributorStatus::Active,
        profile: Profile::default(),
        residence_region: None,
    }
}

/// The live rows and tombstone cells the node read for `tenant`'s rows of `table` (bucketed
/// as `distributors` and `profiles` are), summed over the buckets of `ids`, from the traces
/// of a traced read of each bucket.
async fn rows_and_tombstones(
    session: &Session,
    table: &str,
    tenant: &str,
    ids: &[&str],
) -> (u64, u64) {
    let keyspace = testing::shared_deployment().regional_keyspace("test");
    let mut buckets: Vec<i16> = ids.iter().map(|id| store::scylla::bucket_of(id)).collect();
    buckets.sort_unstable();
    buckets.dedup();
    let (mut live, mut tombstones) = (0, 0);
    for bucket in buckets {
        let mut read = Statement::new(format!(
            "SELECT * FROM {keyspace}.{table} WHERE tenant_id = ? AND bucket = ?"
        ));
        read.set_tracing(true);
        let result = session
            .query_unpaged(read, (tenant, bucket))
            .await
            .expect("the bucket reads");
        let tracing_id = result.tracing_id().expect("the read was traced");
        // The node writes a trace's events after the read answers: the session may be there
        // before the event with the counts is. Read it again a while before giving up.
        let mut counts: Vec<(u64, u64)> = Vec::new();
        for _ in 0..100 {
            let trace = session
                .get_tracing_info(&tracing_id)
                .await
                .expect("the trace is kept");
            counts = trace
                .events
                .iter()
                .filter_map(|event| event.activity.as_deref())
                .filter_map(read_counts)
                .collect();
            if !counts.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            !counts.is_empty(),
            "no read counts in the trace of bucket {bucket} after 10 s"
        );
        for (rows, cells) in counts {
            live += rows;
            tombstones += cells;
        }
    }
    (live, tombstones)
}

/// "Read 3 live rows and 0 tombstone cells" (Cassandra's trace of a read).
fn read_counts(activity: &str) -> Option<(u64, u64)> {
    let rest = activity.strip_prefix("Read ")?;
    let (live, rest) = rest.split_once(" live rows and ")?;
    let (cells, _) = rest.split_once(" tombstone cells")?;
    Some((live.trim().parse().ok()?, cells.trim().parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_and_loaded_rows_hold_no_tombstones() {
    let deployment = testing::shared_deployment();
    let store = ScyllaStore::open(deployment)
        .await
        .expect("the store opens on the test node");
    let session = connect(deployment).await.expect("the test node answers");

    let enrolled = store::conformance::unique_tenant("tombstones-enrolled");
    let mut named = distributor("d2", 2, Some("root"), true);
    named.profile.name = Some("Ada".into());
    let people = [
        distributor("root", 0, None, false),
        distributor("d1", 1, Some("root"), false),
        named,
    ];
    let outcomes = store.enroll(&enrolled, people.to_vec()).await.unwrap();
    assert!(outcomes.iter().all(|outcome| matches!(outcome, Ok(true))));
    let ids = ["root", "d1", "d2"];
    for table in ["distributors", "profiles"] {
        let (live, tombstones) = rows_and_tombstones(&session, table, &enrolled, &ids).await;
        assert!(
            live >= 3,
            "the enrolled {table} rows were not read ({live})"
        );
        assert_eq!(tombstones, 0, "enrolled {table} rows hold tombstones");
    }
    for person in &people {
        let read = store.distributor(&enrolled, &person.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(person), "unset reads back as absent");
    }
    // Emptying a field is a change: its null is the one tombstone.
    store
        .update_profile(&enrolled, "d2", Profile::default())
        .await
        .unwrap();
    let (_, tombstones) = rows_and_tombstones(&session, "profiles", &enrolled, &["d2"]).await;
    assert_eq!(
        tombstones, 3,
        "an emptied profile writes its three fields as null"
    );

    let loaded = store::conformance::unique_tenant("tombstones-loaded");
    let people = [
        distributor("root", 0, None, false),
        distributor("l1", 1, Some("root"), false),
        distributor("l2", 2, Some("root"), true),
    ];
    store
        .load_distributors(&loaded, &people, &|_| {})
        .await
        .unwrap();
    let ids = ["root", "l1", "l2"];
    for table in ["distributors", "profiles"] {
        let (live, tombstones) = rows_and_tombstones(&session, table, &loaded, &ids).await;
        assert!(live >= 3, "the loaded {table} rows were not read ({live})");
        assert_eq!(tombstones, 0, "loaded {table} rows hold tombstones");
    }

    // Unset is not null for the reader: the rows read back as written.
    let mut read = store.distributors(&loaded).await.unwrap();
    read.sort_by_key(|distributor| distributor.node);
    assert_eq!(read, people);
}
