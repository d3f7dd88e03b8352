//! Tenants, API keys and distributors.

use super::{distributor, tenant, unique_tenant};
use crate::error::StoreError;
use crate::model::*;
use crate::traits::Store;

pub async fn tenants_are_created_once_and_read_back(store: &dyn Store) {
    let id = unique_tenant("tenants");
    store.create_tenant(tenant(&id)).await.unwrap();
    assert_eq!(store.tenant(&id).await.unwrap(), Some(tenant(&id)));
    let again = store.create_tenant(tenant(&id)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    assert!(store
        .tenants()
        .await
        .unwrap()
        .iter()
        .any(|found| found.id == id));
    assert_eq!(store.tenant(&format!("{id}-missing")).await.unwrap(), None);
    let residing = Tenant {
        home_region: Some("us-east".into()),
        closes: Some(CloseSchedule {
            every: PeriodKind::Week,
            after_hours: 36,
        }),
        ..tenant(&unique_tenant("tenants-residing"))
    };
    store.create_tenant(residing.clone()).await.unwrap();
    assert_eq!(store.tenant(&residing.id).await.unwrap(), Some(residing));
}

pub async fn a_plan_is_replaced_once_per_version_and_old_versions_stay_readable(store: &dyn Store) {
    let id = unique_tenant("plans");
    let first = tenant(&id);
    store.create_tenant(first.clone()).await.unwrap();
    let second = serde_json::json!({ "currency": "EUR", "changed": 2 });
    let third = serde_json::json!({ "currency": "EUR", "changed": 3 });

    assert!(store.replace_plan(&id, 1, second.clone()).await.unwrap());
    // Another change based on version 1 lost the race: nothing changes.
    assert!(!store.replace_plan(&id, 1, third.clone()).await.unwrap());
    let stored = store.tenant(&id).await.unwrap().unwrap();
    assert_eq!((stored.plan_version, &stored.plan), (2, &second));
    assert_eq!(
        Tenant {
            plan: first.plan.clone(),
            plan_version: 1,
            ..stored
        },
        first,
        "only the plan and its version change"
    );

    assert!(store.replace_plan(&id, 2, third.clone()).await.unwrap());
    for (version, plan) in [(1, &first.plan), (2, &second), (3, &third)] {
        assert_eq!(
            store.tenant_plan(&id, version).await.unwrap().as_ref(),
            Some(plan),
            "version {version}"
        );
    }
    assert_eq!(store.tenant_plan(&id, 4).await.unwrap(), None);
    assert_eq!(
        store
            .tenant_plan(&format!("{id}-missing"), 1)
            .await
            .unwrap(),
        None
    );
    assert!(!store
        .replace_plan(&format!("{id}-missing"), 1, third)
        .await
        .unwrap());
}

pub async fn api_keys_are_found_by_hash_and_revoked_only_by_their_tenant(store: &dyn Store) {
    let (a, b) = (unique_tenant("keys-a"), unique_tenant("keys-b"));
    let key = ApiKey {
        key_id: "k1".into(),
        tenant_id: a.clone(),
        secret_sha256: format!("hash-of-{a}"),
        created_at_ms: 1,
        revoked: false,
    };
    store.create_api_key(key.clone()).await.unwrap();
    assert_eq!(
        store.api_key_by_hash(&key.secret_sha256).await.unwrap(),
        Some(key.clone())
    );
    let duplicate = store.create_api_key(key.clone()).await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
    assert!(
        !store.revoke_api_key(&b, "k1").await.unwrap(),
        "tenant b revoked a's key"
    );
    assert!(
        !store
            .api_key_by_hash(&key.secret_sha256)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(store.revoke_api_key(&a, "k1").await.unwrap());
    assert!(
        store
            .api_key_by_hash(&key.secret_sha256)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

pub async fn a_closed_tenant_is_gone_with_its_keys_and_its_id_stays_taken(store: &dyn Store) {
    let (closing, staying) = (unique_tenant("closing"), unique_tenant("staying"));
    let key_of = |tenant: &str, key_id: &str| ApiKey {
        key_id: key_id.into(),
        tenant_id: tenant.to_owned(),
        secret_sha256: format!("hash-of-{tenant}-{key_id}"),
        created_at_ms: 1,
        revoked: false,
    };
    for id in [&closing, &staying] {
        store.create_tenant(tenant(id)).await.unwrap();
    }
    let keys = [
        key_of(&closing, "k1"),
        key_of(&closing, "k2"),
        key_of(&staying, "k1"),
    ];
    for key in &keys {
        store.create_api_key(key.clone()).await.unwrap();
    }
    store
        .enroll(&closing, vec![distributor("root", 0, None)])
        .await
        .unwrap();

    assert!(store.close_tenant(&closing, 5).await.unwrap());
    assert_eq!(store.tenant(&closing).await.unwrap(), None);
    let listed: Vec<String> = store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|tenant| tenant.id)
        .collect();
    assert!(!listed.contains(&closing), "{listed:?}");
    assert!(listed.contains(&staying), "{listed:?}");
    for key in &keys {
        let stored = store
            .api_key_by_hash(&key.secret_sha256)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.revoked,
            key.tenant_id == closing,
            "key {} of {}",
            key.key_id,
            key.tenant_id
        );
    }
    assert!(!store
        .replace_plan(&closing, 1, serde_json::json!({}))
        .await
        .unwrap());
    // Its id is not given again; its records stay.
    let again = store.create_tenant(tenant(&closing)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    assert_eq!(store.distributors(&closing).await.unwrap().len(), 1);
    // Closing again finishes nothing more; an unknown tenant is not closed.
    assert!(store.close_tenant(&closing, 6).await.unwrap());
    assert!(!store
        .close_tenant(&format!("{closing}-missing"), 6)
        .await
        .unwrap());
}

pub async fn enrollment_is_idempotent_and_ids_are_unique(store: &dyn Store) {
    let t = unique_tenant("enroll");
    let root = distributor("root", 0, None);
    let first = store.enroll(&t, vec![root.clone()]).await.unwrap();
    assert!(matches!(first.as_slice(), [Ok(true)]), "{first:?}");
    let retry = store.enroll(&t, vec![root.clone()]).await.unwrap();
    assert!(matches!(retry.as_slice(), [Ok(false)]), "{retry:?}");
    let other = distributor("root", 7, Some("x"));
    let both = store
        .enroll(&t, vec![other, distributor("d1", 1, Some("root"))])
        .await
        .unwrap();
    assert!(
        matches!(
            both.as_slice(),
            [Err(StoreError::Conflict { .. }), Ok(true)]
        ),
        "{both:?}"
    );
    assert_eq!(store.distributor(&t, "root").await.unwrap(), Some(root));
}

pub async fn distributors_come_back_in_enrollment_order(store: &dyn Store) {
    let t = unique_tenant("order");
    // Ids sort the other way round from their enrollment.
    let records: Vec<_> = (0..50u32)
        .map(|node| {
            distributor(
                &format!("z{:03}", 100 - node),
                node,
                (node > 0).then_some("z100"),
            )
        })
        .collect();
    for chunk in records.chunks(7) {
        store.enroll(&t, chunk.to_vec()).await.unwrap();
    }
    assert_eq!(store.distributors(&t).await.unwrap(), records);
}

pub async fn the_genealogy_comes_in_pages_each_distributor_once(store: &dyn Store) {
    let t = unique_tenant("genealogy-pages");
    let mut records: Vec<_> = (0..60u32)
        .map(|node| {
            let mut record = distributor(
                &format!("g{:03}", 100 - node),
                node,
                (node > 0).then_some("g100"),
            );
            if node % 3 == 1 {
                record.placement = Some(Placement {
                    parent_id: "g100".into(),
                    slot: (node % 2 + 1) as u8,
                });
                record.joined_on = "2026-10-17".into();
            }
            record.profile.name = Some(format!("Person {node}"));
            record
        })
        .collect();
    for chunk in records.chunks(9) {
        store.enroll(&t, chunk.to_vec()).await.unwrap();
    }
    store.terminate(&t, "g090").await.unwrap();
    records[10].status = DistributorStatus::Terminated;
    // Another tenant's genealogy stays out of this one's pages.
    let other = unique_tenant("genealogy-pages-other");
    store
        .enroll(&other, vec![distributor("g050x", 0, None)])
        .await
        .unwrap();

    let limit = 7;
    let mut pages = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let page = store
            .genealogy_page(&t, from.as_deref(), limit)
            .await
            .unwrap();
        assert!(pages.len() <= records.len(), "the pages never end");
        let last = page.next.is_none();
        if !last {
            assert!(
                page.entries.len() >= limit,
                "a page short of its limit before the end"
            );
        }
        from = page.next;
        pages.push(page.entries);
        if last {
            break;
        }
    }
    assert!(
        pages.len() > 1,
        "60 distributors in pages of about 7 came in one page"
    );
    let mut read: Vec<GenealogyEntry> = pages.into_iter().flatten().collect();
    read.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected: Vec<GenealogyEntry> = records.into_iter().map(GenealogyEntry::from).collect();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(read, expected);

    let empty = store
        .genealogy_page(&unique_tenant("genealogy-none"), None, limit)
        .await
        .unwrap();
    assert!(
        empty.entries.is_empty() && empty.next.is_none(),
        "{empty:?}"
    );
}

pub async fn profiles_are_erased_a_page_at_a_time_each_once(store: &dyn Store) {
    let t = unique_tenant("erasure");
    // 50 distributors, two of every three with some personal data.
    let records: Vec<_> = (0..50u32)
        .map(|node| {
            let mut record = distributor(&format!("e{node:02}"), node, (node > 0).then_some("e00"));
            match node % 3 {
                0 => record.profile.name = Some(format!("Person {node}")),
                1 => record.profile.country = Some("DE".into()),
                _ => {}
            }
            record
        })
        .collect();
    for chunk in records.chunks(10) {
        store.enroll(&t, chunk.to_vec()).await.unwrap();
    }
    let holding = records
        .iter()
        .filter(|record| record.profile != Profile::default())
        .count() as u64;
    // Another tenant's personal data stays.
    let other = unique_tenant("erasure-other");
    let mut kept = distributor("e00", 0, None);
    kept.profile.email = Some("kept@example.com".into());
    store.enroll(&other, vec![kept.clone()]).await.unwrap();

    let erase_all = || async {
        let (mut erased, mut pages) = (0, 0);
        let mut from: Option<String> = None;
        loop {
            let page = store.erase_profiles(&t, from.as_deref(), 6).await.unwrap();
            erased += page.erased;
            pages += 1;
            assert!(pages <= 1_000, "the erasure pages never end");
            match page.next {
                Some(next) => from = Some(next),
                None => return (erased, pages),
            }
        }
    };
    let (erased, pages) = erase_all().await;
    assert_eq!(erased, holding);
    assert!(
        pages > 1,
        "50 distributors in pages of about 6 erased in one page"
    );
    for record in &records {
        let read = store.distributor(&t, &record.id).await.unwrap().unwrap();
        let expected = Distributor {
            profile: Profile::default(),
            ..record.clone()
        };
        assert_eq!(read, expected, "only the profile changes");
    }
    assert_eq!(store.distributor(&other, "e00").await.unwrap(), Some(kept));
    // Each erased profile made its event, as a profile update does.
    let updated: Vec<String> = store
        .pending_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.tenant_id == t && event.kind == "distributor.updated")
        .map(|event| event.payload["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(updated.len() as u64, holding, "{updated:?}");
    // A second erasure finds nothing left.
    assert_eq!(erase_all().await.0, 0);
}

pub async fn profiles_and_terminations_change_one_distributor(store: &dyn Store) {
    let t = unique_tenant("profile");
    store
        .enroll(
            &t,
            vec![
                distributor("root", 0, None),
                distributor("d1", 1, Some("root")),
            ],
        )
        .await
        .unwrap();
    let profile = Profile {
        name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        country: Some("GB".into()),
    };
    let updated = store
        .update_profile(&t, "d1", profile.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.profile, profile);
    let terminated = store.terminate(&t, "d1").await.unwrap().unwrap();
    assert_eq!(terminated.status, DistributorStatus::Terminated);
    assert_eq!(
        store.terminate(&t, "d1").await.unwrap().unwrap(),
        terminated
    );
    assert_eq!(
        store.distributor(&t, "root").await.unwrap().unwrap(),
        distributor("root", 0, None)
    );
    assert_eq!(store.terminate(&t, "nobody").await.unwrap(), None);
    assert_eq!(
        store
            .update_profile(&t, "nobody", Profile::default())
            .await
            .unwrap(),
        None
    );
}

pub async fn tenants_never_see_each_other(store: &dyn Store) {
    let (a, b) = (unique_tenant("iso-a"), unique_tenant("iso-b"));
    store
        .enroll(&a, vec![distributor("root", 0, None)])
        .await
        .unwrap();
    assert_eq!(store.distributor(&b, "root").await.unwrap(), None);
    assert!(store.distributors(&b).await.unwrap().is_empty());
    assert_eq!(store.terminate(&b, "root").await.unwrap(), None);
    let mut in_b = distributor("root", 0, None);
    in_b.joined_on = "2026-01-01".into();
    let stored = store.enroll(&b, vec![in_b.clone()]).await.unwrap();
    assert!(
        matches!(stored.as_slice(), [Ok(true)]),
        "the same id in another tenant: {stored:?}"
    );
    assert_eq!(
        store
            .distributor(&a, "root")
            .await
            .unwrap()
            .unwrap()
            .joined_on,
        "2026-11-01"
    );
    assert_eq!(store.distributor(&b, "root").await.unwrap(), Some(in_b));
}
