//! Personal data placed by residence on the real Cassandra node: a deployment of two regions
//! (both on the node's one datacenter), a store serving `home`. A distributor residing in
//! `abroad` has their profile in the `abroad` keyspace and nowhere in `home`'s — every table of
//! the `home` keyspace is read whole to prove it — while the store reads them back whole.

use scylla::client::session::Session;
use scylla::value::Row;
use store::scylla::{testing, ScyllaConfig, ScyllaStore};
use store::{Distributor, DistributorStore, Profile};

const TENANT: &str = "residence";

/// A migrated deployment of two regions served from `home`, a session on it and the store.
async fn two_regions() -> (ScyllaConfig, Session, ScyllaStore) {
    let mut config = testing::config(&testing::unique_prefix("residence"), "home");
    config
        .datacenters
        .insert("abroad".into(), testing::DATACENTER.into());
    let session = testing::migrated(&config).await;
    let store = ScyllaStore::open(&config).await.expect("the store opens");
    (config, session, store)
}

fn resident(id: &str, node: u32, sponsor: Option<&str>, region: Option<&str>) -> Distributor {
    let mut distributor = store::conformance::distributor(id, node, sponsor);
    distributor.profile = Profile {
        name: Some(format!("Name of {id}")),
        email: Some(format!("{id}@example.test")),
        country: Some("DE".into()),
    };
    distributor.residence_region = region.map(str::to_owned);
    distributor
}

/// Every text value of every row of every table of `keyspace`, rendered.
async fn everything_in(session: &Session, keyspace: &str) -> String {
    let mut rendered = String::new();
    for table in testing::tables(session, keyspace).await {
        let rows = session
            .query_unpaged(format!("SELECT * FROM {keyspace}.{table}"), ())
            .await
            .unwrap()
            .into_rows_result()
            .unwrap();
        for row in rows.rows::<Row>().unwrap() {
            rendered.push_str(&format!("{table}: {:?}\n", row.unwrap().columns));
        }
    }
    rendered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_personal_data_is_kept_in_their_region_only() {
    let (config, session, store) = two_regions().await;
    let home = config.regional_keyspace("home");
    let abroad = config.regional_keyspace("abroad");

    let root = resident("root", 0, None, None);
    let local = resident("local", 1, Some("root"), Some("home"));
    let away = resident("away", 2, Some("root"), Some("abroad"));
    let enrolled = store
        .enroll(TENANT, vec![root.clone(), local.clone(), away.clone()])
        .await
        .unwrap();
    assert!(enrolled.iter().all(|outcome| matches!(outcome, Ok(true))));

    // Read back whole, one by one and all at once.
    assert_eq!(
        store.distributor(TENANT, "away").await.unwrap(),
        Some(away.clone())
    );
    assert_eq!(
        store.distributors(TENANT).await.unwrap(),
        vec![root.clone(), local.clone(), away.clone()]
    );
    // Enrolling the same again is a replay; with another profile, a conflict.
    let again = store.enroll(TENANT, vec![away.clone()]).await.unwrap();
    assert!(matches!(again[..], [Ok(false)]));
    let mut other = away.clone();
    other.profile.name = Some("Someone else".into());
    let refused = store.enroll(TENANT, vec![other]).await.unwrap();
    assert!(matches!(
        refused[..],
        [Err(store::StoreError::Conflict { .. })]
    ));

    // A changed profile is written where the distributor resides.
    let moved = Profile {
        email: Some("away-new@example.test".into()),
        ..away.profile.clone()
    };
    let changed = store
        .update_profile(TENANT, "away", moved.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.profile, moved);
    assert_eq!(
        store
            .distributor(TENANT, "away")
            .await
            .unwrap()
            .unwrap()
            .profile,
        moved
    );

    let at_home = everything_in(&session, &home).await;
    let in_abroad = everything_in(&session, &abroad).await;
    for personal in ["Name of away", "away@example.test", "away-new@example.test"] {
        assert!(
            !at_home.contains(personal),
            "{personal:?} is in {home}:\n{at_home}"
        );
    }
    assert!(in_abroad.contains("away-new@example.test"), "{in_abroad}");
    assert!(in_abroad.contains("Name of away"), "{in_abroad}");
    // The genealogy row of the resident abroad is at home, and so are the others' profiles.
    assert!(at_home.contains("\"away\""), "{at_home}");
    assert!(at_home.contains("local@example.test"), "{at_home}");
    assert!(!in_abroad.contains("local@example.test"), "{in_abroad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residence_outside_the_deployment_takes_no_profile() {
    let (_, _, store) = two_regions().await;
    assert_eq!(
        store.residence_regions(),
        Some(&["abroad".to_string(), "home".to_string()][..])
    );
    let root = resident("root", 0, None, Some("elsewhere"));
    let error = store.enroll(TENANT, vec![root]).await.unwrap_err();
    assert!(error.to_string().contains("\"elsewhere\""), "{error}");
    assert_eq!(store.distributors(TENANT).await.unwrap(), vec![]);

    // Without a profile it is a resident of another deployment, enrolled for a tenant at home
    // here through the enrollment service: the genealogy row is kept here, the profile never.
    let root = resident("root", 0, None, None);
    let mut remote = resident("remote", 1, Some("root"), Some("elsewhere"));
    remote.profile = Profile::default();
    let enrolled = store
        .enroll(TENANT, vec![root.clone(), remote.clone()])
        .await
        .unwrap();
    assert!(enrolled.iter().all(|outcome| matches!(outcome, Ok(true))));
    assert_eq!(
        store.distributor(TENANT, "remote").await.unwrap(),
        Some(remote.clone())
    );
    assert_eq!(
        store.distributors(TENANT).await.unwrap(),
        vec![root, remote.clone()]
    );
    // A replay is one; a profile for them is refused and changes nothing.
    let again = store.enroll(TENANT, vec![remote.clone()]).await.unwrap();
    assert!(matches!(again[..], [Ok(false)]));
    let refused = store
        .update_profile(
            TENANT,
            "remote",
            Profile {
                name: Some("Kept elsewhere".into()),
                ..Profile::default()
            },
        )
        .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("outside this deployment")),
        "{refused:?}"
    );
    assert_eq!(
        store.distributor(TENANT, "remote").await.unwrap(),
        Some(remote)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_load_places_each_profile_in_its_region() {
    let (config, session, store) = two_regions().await;
    let people: Vec<Distributor> = (0..300)
        .map(|node| {
            let id = format!("p{node:03}");
            let sponsor = (node > 0).then(|| format!("p{:03}", (node - 1) / 2));
            let region = if node % 3 == 0 { "abroad" } else { "home" };
            resident(&id, node, sponsor.as_deref(), Some(region))
        })
        .collect();
    store
        .load_distributors(TENANT, &people, &|_| {})
        .await
        .unwrap();
    assert_eq!(store.distributors(TENANT).await.unwrap(), people);
    let at_home = everything_in(&session, &config.regional_keyspace("home")).await;
    let in_abroad = everything_in(&session, &config.regional_keyspace("abroad")).await;
    for person in &people {
        let email = person.profile.email.as_deref().unwrap();
        let abroad = person.residence_region.as_deref() == Some("abroad");
        assert_eq!(in_abroad.contains(email), abroad, "{email}");
        assert_eq!(at_home.contains(email), !abroad, "{email}");
    }
}
