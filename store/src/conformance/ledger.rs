//! The ledger.

use super::unique_tenant;
use crate::model::*;
use crate::traits::Store;

fn transfer(id: &str, debit: &str, credit: &str, amount: i64, guarded: bool) -> Transfer {
    Transfer {
        id: id.into(),
        debit: debit.into(),
        credit: credit.into(),
        amount,
        kind: if guarded {
            TransferKind::Withdrawal
        } else {
            TransferKind::Commission
        },
        debit_must_stay_non_negative: guarded,
        created_at_ms: 1,
    }
}

async fn balance(store: &dyn Store, t: &str, account: &str) -> i64 {
    store.account(t, account).await.unwrap().balance
}

async fn sum_of_balances(store: &dyn Store, t: &str) -> i128 {
    let accounts = store.accounts(t).await.unwrap();
    accounts.iter().map(|account| account.balance as i128).sum()
}

pub async fn transfers_post_once(store: &dyn Store) {
    let t = unique_tenant("post");
    let pay = transfer("run1/d1/1", "system:commissions", "wallet:d1", 1234, false);
    assert_eq!(
        store.post_transfers(&t, vec![pay.clone()]).await.unwrap(),
        vec![TransferOutcome::Posted]
    );
    let mut retry = pay.clone();
    retry.created_at_ms = 2;
    assert_eq!(
        store.post_transfers(&t, vec![retry]).await.unwrap(),
        vec![TransferOutcome::AlreadyPosted]
    );
    let other = transfer("run1/d1/1", "system:commissions", "wallet:d1", 999, false);
    assert_eq!(
        store.post_transfers(&t, vec![other]).await.unwrap(),
        vec![TransferOutcome::IdTakenByAnotherTransfer]
    );
    assert_eq!(balance(store, &t, "wallet:d1").await, 1234);
    assert_eq!(balance(store, &t, "system:commissions").await, -1234);
    assert_eq!(store.transfer(&t, "run1/d1/1").await.unwrap(), Some(pay));
}

pub async fn transfer_rules_are_checked_in_order(store: &dyn Store) {
    let t = unique_tenant("rules");
    let outcomes = store
        .post_transfers(
            &t,
            vec![
                transfer("zero", "a", "b", 0, false),
                transfer("same", "a", "a", 5, false),
                // Both rules broken: the amount is checked first.
                transfer("both", "a", "a", -1, false),
                transfer("short", "a", "b", 5, true),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            TransferOutcome::AmountMustBePositive,
            TransferOutcome::AccountsMustBeDifferent,
            TransferOutcome::AmountMustBePositive,
            TransferOutcome::InsufficientFunds { balance: 0 },
        ]
    );
    assert!(
        store.accounts(&t).await.unwrap().is_empty(),
        "a refused transfer moved money"
    );
    assert_eq!(store.transfer(&t, "short").await.unwrap(), None);
}

pub async fn a_guarded_debit_never_goes_below_zero(store: &dyn Store) {
    let t = unique_tenant("guarded");
    store
        .post_transfers(
            &t,
            vec![transfer(
                "earn",
                "system:commissions",
                "wallet:d1",
                100,
                false,
            )],
        )
        .await
        .unwrap();
    let outcomes = store
        .post_transfers(
            &t,
            vec![
                transfer("w1", "wallet:d1", "system:payouts", 60, true),
                transfer("w2", "wallet:d1", "system:payouts", 60, true),
                transfer("w3", "wallet:d1", "system:payouts", 40, true),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            TransferOutcome::Posted,
            TransferOutcome::InsufficientFunds { balance: 40 },
            TransferOutcome::Posted
        ]
    );
    // A clawback may take the wallet negative; then no withdrawal passes.
    store
        .post_transfers(
            &t,
            vec![transfer(
                "claw",
                "wallet:d1",
                "system:commissions",
                30,
                false,
            )],
        )
        .await
        .unwrap();
    assert_eq!(balance(store, &t, "wallet:d1").await, -30);
    let blocked = store
        .post_transfers(
            &t,
            vec![transfer("w4", "wallet:d1", "system:payouts", 1, true)],
        )
        .await
        .unwrap();
    assert_eq!(
        blocked,
        vec![TransferOutcome::InsufficientFunds { balance: -30 }]
    );
    assert_eq!(sum_of_balances(store, &t).await, 0);
}

pub async fn concurrent_withdrawals_never_overdraw(store: &dyn Store) {
    let t = unique_tenant("concurrent");
    store
        .post_transfers(
            &t,
            vec![transfer(
                "earn",
                "system:commissions",
                "wallet:d1",
                1000,
                false,
            )],
        )
        .await
        .unwrap();
    // 100 withdrawals of 30 race for 1000: exactly 33 may pass.
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|n| {
                let t = t.clone();
                scope.spawn(move || {
                    // Timers on: a network backend times its requests out.
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let withdrawal =
                        transfer(&format!("w{n}"), "wallet:d1", "system:payouts", 30, true);
                    runtime
                        .block_on(store.post_transfers(&t, vec![withdrawal]))
                        .unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect::<Vec<_>>()
    });
    let posted = outcomes
        .iter()
        .filter(|outcome| **outcome == TransferOutcome::Posted)
        .count();
    assert_eq!(posted, 33, "{outcomes:?}");
    assert_eq!(balance(store, &t, "wallet:d1").await, 10);
    assert_eq!(sum_of_balances(store, &t).await, 0);
}

pub async fn balances_always_sum_to_zero(store: &dyn Store) {
    let t = unique_tenant("sum");
    let mut transfers = Vec::new();
    for n in 0..40 {
        let (debit, credit) = (
            format!("system:commissions:{}", n % 4),
            format!("wallet:d{}", n % 7),
        );
        transfers.push(transfer(
            &format!("t{n}"),
            &debit,
            &credit,
            1 + n * 13,
            false,
        ));
        transfers.push(transfer(
            &format!("w{n}"),
            &credit,
            "system:payouts",
            5 + n,
            true,
        ));
    }
    for chunk in transfers.chunks(9) {
        store.post_transfers(&t, chunk.to_vec()).await.unwrap();
        assert_eq!(sum_of_balances(store, &t).await, 0);
    }
    for account in store.accounts(&t).await.unwrap() {
        if account.id.starts_with("wallet:") {
            assert!(account.balance >= 0, "{account:?}");
        }
    }
}

pub async fn account_transfers_come_newest_first(store: &dyn Store) {
    let t = unique_tenant("history");
    for n in 0..5 {
        store
            .post_transfers(
                &t,
                vec![transfer(&format!("t{n}"), "system", "wallet:d1", 1, false)],
            )
            .await
            .unwrap();
    }
    let history: Vec<_> = store
        .account_transfers(&t, "wallet:d1", 3)
        .await
        .unwrap()
        .into_iter()
        .map(|transfer| transfer.id)
        .collect();
    assert_eq!(history, ["t4", "t3", "t2"]);
    assert_eq!(store.account(&t, "wallet:d1").await.unwrap().transfers, 5);
    assert_eq!(
        store.account(&t, "wallet:none").await.unwrap(),
        Account {
            id: "wallet:none".into(),
            balance: 0,
            transfers: 0
        }
    );
}
