//! Runs and statements.

use super::unique_tenant;
use crate::error::StoreError;
use crate::model::*;
use crate::traits::Store;

fn run(id: &str, status: RunStatus) -> Run {
    Run {
        run_id: id.into(),
        period: "2026-11".into(),
        plan_version: 1,
        status,
        restates: None,
        created_at_ms: 1,
        distributors: 0,
        lines: 0,
        totals: Vec::new(),
        error: None,
    }
}

pub async fn runs_change_only_from_the_expected_status(store: &dyn Store) {
    let t = unique_tenant("runs");
    store
        .create_run(&t, run("r1", RunStatus::Running))
        .await
        .unwrap();
    let twice = store.create_run(&t, run("r1", RunStatus::Running)).await;
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );
    assert!(store
        .update_run(&t, RunStatus::Running, run("r1", RunStatus::Preview))
        .await
        .unwrap());
    assert!(!store
        .update_run(&t, RunStatus::Running, run("r1", RunStatus::Failed))
        .await
        .unwrap());
    assert_eq!(
        store.run(&t, "r1").await.unwrap().unwrap().status,
        RunStatus::Preview
    );
    assert!(!store
        .update_run(&t, RunStatus::Preview, run("r2", RunStatus::Committed))
        .await
        .unwrap());
    assert_eq!(store.runs(&t).await.unwrap().len(), 1);
}

pub async fn statements_are_sorted_and_idempotent(store: &dyn Store) {
    let t = unique_tenant("statements");
    let statement = |id: &str| Statement {
        distributor_id: id.into(),
        summary: format!("{id},true,Member"),
        lines: vec![format!("{id},unilevel,x,1,1.0000,0.05,0.05")],
        state: format!("{id},0.0000,0.0000,Member"),
    };
    let batch = vec![statement("b"), statement("a"), statement("B")];
    store.put_statements(&t, "r1", batch.clone()).await.unwrap();
    store.put_statements(&t, "r1", batch).await.unwrap();
    let ids: Vec<_> = store
        .statements(&t, "r1")
        .await
        .unwrap()
        .into_iter()
        .map(|statement| statement.distributor_id)
        .collect();
    assert_eq!(ids, ["B", "a", "b"], "byte order");
    assert_eq!(
        store.statement(&t, "r1", "a").await.unwrap(),
        Some(statement("a"))
    );
    assert_eq!(store.statement(&t, "r2", "a").await.unwrap(), None);
}
