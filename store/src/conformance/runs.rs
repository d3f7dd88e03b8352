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

pub async fn statements_are_read_page_by_page_in_byte_order(store: &dyn Store) {
    let t = unique_tenant("statement-pages");
    // Enough statements that every bucket of a bucketed backend holds more than a page asks
    // of it, with ids whose byte order differs from their character and case order.
    let ids: Vec<String> = (0..10_000)
        .map(|n| match n % 5 {
            0 => format!("d{n}"),
            1 => format!("D{n}"),
            2 => format!("é{n}"),
            3 => format!("日本{n}"),
            _ => format!("z€{n:05}"),
        })
        .collect();
    let statements: Vec<Statement> = ids
        .iter()
        .map(|id| Statement {
            distributor_id: id.clone(),
            summary: format!("{id},true,Member"),
            lines: vec![format!("{id},unilevel,x,1,1.0000,0.05,0.05")],
            state: format!("{id},0.0000,0.0000,Member"),
        })
        .collect();
    for chunk in statements.chunks(2_000) {
        store
            .put_statements(&t, "r1", chunk.to_vec())
            .await
            .unwrap();
    }
    let mut in_byte_order = statements.clone();
    in_byte_order
        .sort_unstable_by(|a, b| a.distributor_id.as_bytes().cmp(b.distributor_id.as_bytes()));
    assert_eq!(store.statements(&t, "r1").await.unwrap(), in_byte_order);
    for limit in [1, 100, 2_500, 50_000] {
        let mut read = Vec::new();
        let mut pages = 0;
        loop {
            let after = read
                .last()
                .map(|statement: &Statement| statement.distributor_id.clone());
            let page = store
                .statements_after(&t, "r1", after.as_deref(), limit)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            pages += 1;
            assert!(
                pages <= ids.len(),
                "limit {limit}: the pages do not move on"
            );
            read.extend(page);
        }
        assert!(
            read == in_byte_order,
            "limit {limit}: pages differ from the run"
        );
        if limit <= 100 {
            assert!(pages > 4, "limit {limit}: {pages} pages");
        }
    }
    assert_eq!(
        store.statements_after(&t, "r2", None, 10).await.unwrap(),
        Vec::new()
    );
}
