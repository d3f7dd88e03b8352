//! The payout worker on both buses: the postings a home region (us-east) owes to wallets in this
//! region (eu-west) land in them once each — whatever the order, however often they come — and
//! what concerns other regions or the home's own wallets moves nothing here.

mod support;

use std::sync::Arc;
use store::{LedgerStore, Transfer, TransferKind};
use worker::bus::{headers, ConsumerConfig, OutgoingEvent};
use worker::dead_letters::DeadLetters;
use worker::payouts::{PayoutWorker, CONSUMER_NAME};

fn transfer(id: &str, debit: &str, credit: &str, amount: i64) -> Transfer {
    Transfer {
        id: id.into(),
        debit: debit.into(),
        credit: credit.into(),
        amount,
        kind: TransferKind::Commission,
        debit_must_stay_non_negative: false,
        created_at_ms: 1,
    }
}

/// `transfer.posted` as us-east's relay publishes it, under a message id of its own (a
/// republished copy has a new one, so the bus keeps both).
fn posted(prefix: &str, message_id: &str, payload: Vec<u8>) -> OutgoingEvent {
    OutgoingEvent {
        id: message_id.into(),
        subject: format!("{prefix}.acme.transfer.posted"),
        headers: vec![
            (headers::KIND.into(), "transfer.posted".into()),
            (headers::TENANT.into(), "acme".into()),
            (headers::REGION.into(), "us-east".into()),
            (headers::OUTBOX_SEQUENCE.into(), "1".into()),
        ],
        payload: payload.into(),
    }
}

async fn settles_each_posting_once(buses: support::Buses) {
    let support::Buses {
        events,
        prefix,
        dead,
        dead_prefix,
    } = buses;
    let (prefix, dead_prefix) = (prefix.as_str(), dead_prefix.as_str());
    let system = "system:commissions:3";
    let paid_a = transfer(
        "run1/a/unilevel/x/1",
        system,
        "remote:eu-west:wallet:a",
        500,
    );
    let paid_b = transfer(
        "run1/b/unilevel/y/1",
        system,
        "remote:eu-west:wallet:b",
        300,
    );
    let clawed_a = transfer(
        "run2/adjust/a/unilevel/x/1",
        "remote:eu-west:wallet:a",
        system,
        200,
    );
    let home_wallet = transfer("run1/h/unilevel/z/1", system, "wallet:h", 700);
    let elsewhere = transfer(
        "run1/c/unilevel/w/1",
        system,
        "remote:ap-southeast:wallet:c",
        900,
    );
    let json = |transfer: &Transfer| serde_json::to_vec(transfer).unwrap();
    // Out of order (the clawback first), then copies of two of them and a poison event.
    let sequence = [
        ("m1", json(&clawed_a)),
        ("m2", json(&paid_a)),
        ("m3", json(&home_wallet)),
        ("m4", json(&paid_b)),
        ("m5", json(&elsewhere)),
        ("m6", json(&paid_a)),
        ("m7", json(&clawed_a)),
        ("m8", br#"{"id": 7}"#.to_vec()),
    ];
    let outgoing: Vec<OutgoingEvent> = sequence
        .into_iter()
        .map(|(id, payload)| posted(prefix, id, payload))
        .collect();
    assert!(events.publish(&outgoing, None, 8).await.error.is_none());

    let (store, _directory) = support::embedded_store();
    let worker = Arc::new(PayoutWorker::new(
        store.clone(),
        events
            .consumer(ConsumerConfig::new(CONSUMER_NAME))
            .await
            .unwrap(),
        DeadLetters::new(dead, dead_prefix),
        "eu-west",
    ));
    let mut progress = worker.progress();
    let task = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    support::until("every posting is settled", &mut progress, |progress| {
        progress.posted + progress.already_posted == 5 && progress.poison.len() == 1
    })
    .await;
    task.abort();
    let done = progress.borrow().clone();
    assert_eq!((done.posted, done.already_posted), (3, 2), "{done:?}");
    assert!(done.poison[0].1.contains("not a transfer"), "{done:?}");

    let balance = |account: &'static str| {
        let store = store.clone();
        async move { store.account("acme", account).await.unwrap().balance }
    };
    assert_eq!(balance("wallet:a").await, 300);
    assert_eq!(balance("wallet:b").await, 300);
    assert_eq!(balance("home:us-east:payouts").await, -600);
    for untouched in ["wallet:h", "wallet:c"] {
        assert_eq!(balance(untouched).await, 0, "{untouched}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_each_posting_once_in_process() {
    settles_each_posting_once(support::Buses::in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_each_posting_once_on_jetstream() {
    settles_each_posting_once(support::Buses::on_jetstream("payouts").await).await;
}
