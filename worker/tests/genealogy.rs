//! The genealogy follower takes each enrollment into the index once, a sponsor before those it
//! sponsored, whatever the bus does: redeliveries, deliveries out of order, events published
//! twice, and a poison event among them.

mod support;

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use worker::bus::{headers, ConsumerConfig, OutgoingEvent};
use worker::dead_letters::DeadLetters;
use worker::genealogy::{Enrolled, GenealogyFollower, GenealogyIndexes};

const ENROLLMENTS: usize = 300;

/// The sponsor of enrollment `n` (0 is the root): every third is sponsored by the one just
/// before it, so many enrollments depend on the one delivered last.
fn sponsor_of(n: usize) -> Option<String> {
    match n {
        0 => None,
        n if n % 3 == 0 => Some(format!("d{}", n - 1)),
        n => Some(format!("d{}", n / 4)),
    }
}

/// An index that, like the API's, takes an enrollment only once its sponsor is in it, and on
/// a catch-up takes the whole stored genealogy.
#[derive(Default)]
struct Index {
    order: Mutex<BTreeMap<String, Vec<String>>>,
    caught_up: Mutex<u64>,
}

#[async_trait]
impl GenealogyIndexes for Index {
    async fn enrolled(
        &self,
        tenant_id: &str,
        id: &str,
        catch_up: bool,
    ) -> Result<Enrolled, String> {
        if tenant_id == "elsewhere" {
            return Ok(Enrolled::NotHere);
        }
        let mut order = self.order.lock().unwrap();
        let index = order.entry(tenant_id.to_owned()).or_default();
        if index.iter().any(|known| known == id) {
            return Ok(Enrolled::Known);
        }
        let n: usize = id[1..].parse().map_err(|_| format!("bad id {id}"))?;
        let sponsor_known = sponsor_of(n).is_none_or(|sponsor| index.contains(&sponsor));
        if sponsor_known {
            index.push(id.to_owned());
            return Ok(Enrolled::Applied);
        }
        if !catch_up {
            return Ok(Enrolled::Ahead);
        }
        // The store holds every enrollment (all were made before their events went out).
        *index = (0..ENROLLMENTS).map(|m| format!("d{m}")).collect();
        *self.caught_up.lock().unwrap() += 1;
        Ok(Enrolled::Known)
    }
}

fn enrollment(prefix: &str, id: &str, tenant: &str, n: usize) -> OutgoingEvent {
    let payload =
        serde_json::json!({ "id": format!("d{n}"), "node": n, "sponsor_id": sponsor_of(n) });
    OutgoingEvent {
        id: id.to_owned(),
        subject: format!("{prefix}.{tenant}.distributor.enrolled"),
        headers: vec![
            (headers::KIND.into(), "distributor.enrolled".into()),
            (headers::TENANT.into(), tenant.into()),
            (headers::OUTBOX_SEQUENCE.into(), n.to_string()),
        ],
        payload: serde_json::to_vec(&payload).unwrap().into(),
    }
}

async fn takes_each_enrollment_once_in_sponsor_order(buses: support::Buses) {
    let support::Buses {
        events: bus,
        prefix,
        dead,
        dead_prefix,
    } = buses;
    let (prefix, dead_prefix) = (prefix.as_str(), dead_prefix.as_str());
    let mut events: Vec<OutgoingEvent> = (0..ENROLLMENTS)
        .map(|n| enrollment(prefix, &format!("us-east:{n}"), "acme", n))
        .collect();
    // Copies under new ids (a relay that restarted after the duplicate window), a tenant kept
    // elsewhere, an order event (not for this consumer) and a poison enrollment.
    events.extend(
        (0..ENROLLMENTS)
            .step_by(7)
            .map(|n| enrollment(prefix, &format!("copy:{n}"), "acme", n)),
    );
    events.push(enrollment(prefix, "elsewhere:1", "elsewhere", 0));
    events.push(OutgoingEvent {
        id: "order".into(),
        subject: format!("{prefix}.acme.order.created"),
        headers: vec![
            (headers::KIND.into(), "order.created".into()),
            (headers::TENANT.into(), "acme".into()),
        ],
        payload: b"{}".to_vec().into(),
    });
    events.push(OutgoingEvent {
        payload: br#"{"not": "an enrollment"}"#.to_vec().into(),
        ..enrollment(prefix, "poison", "acme", 1)
    });
    let total = events.len();
    let outcome = bus.publish(&events, None, 64).await;
    assert!(outcome.error.is_none(), "{outcome:?}");

    let consumer = bus
        .consumer(ConsumerConfig {
            ack_wait: Duration::from_millis(700),
            ..ConsumerConfig::new("genealogy-test-process")
        })
        .await
        .unwrap();
    let index = Arc::new(Index::default());
    let follower = Arc::new(GenealogyFollower::new(
        index.clone(),
        Box::new(support::Disorderly::new(consumer)),
        DeadLetters::new(dead.clone(), dead_prefix),
    ));
    let mut progress = follower.progress();
    let task = tokio::spawn({
        let follower = follower.clone();
        async move { follower.run().await }
    });
    support::until(
        "the follower takes every enrollment",
        &mut progress,
        |progress| {
            progress.applied + progress.known + progress.poison.len() as u64 == total as u64 - 1
        },
    )
    .await;
    task.abort();

    let done = progress.borrow().clone();
    assert!(
        done.ahead > 0,
        "the disorder never reached the follower: {done:?}"
    );
    let order = index.order.lock().unwrap().get("acme").cloned().unwrap();
    assert_eq!(order.len(), ENROLLMENTS, "each enrollment once: {order:?}");
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(at, id)| (id.as_str(), at))
        .collect();
    for n in 0..ENROLLMENTS {
        let at = position[format!("d{n}").as_str()];
        if let Some(sponsor) = sponsor_of(n) {
            assert!(
                position[sponsor.as_str()] < at,
                "d{n} came before its sponsor {sponsor}"
            );
        }
    }
    // Every enrollment was applied once or brought in by a catch-up; the others were known.
    assert!(done.applied as usize <= ENROLLMENTS, "{done:?}");
    if *index.caught_up.lock().unwrap() == 0 {
        assert_eq!(done.applied as usize, ENROLLMENTS, "{done:?}");
    }
    assert_eq!(done.poison.len(), 1, "{done:?}");
    let letters = DeadLetters::new(dead, dead_prefix).list().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        (letters[0].event_id.as_str(), letters[0].consumer.as_str()),
        ("poison", "genealogy")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_each_enrollment_once_in_sponsor_order_in_process() {
    takes_each_enrollment_once_in_sponsor_order(support::Buses::in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_each_enrollment_once_in_sponsor_order_on_jetstream() {
    takes_each_enrollment_once_in_sponsor_order(support::Buses::on_jetstream("genealogy").await)
        .await;
}
