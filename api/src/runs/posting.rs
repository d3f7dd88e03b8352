//! Turning statements into ledger transfers.
//!
//! A commission line becomes one transfer from a system account to the recipient's wallet,
//! with an id derived from the run and the line (`<run>/<recipient>/<bonus>/<source>/<level>`):
//! posting a run twice, or resuming a post that stopped half way, moves every cent once.
//! The system side is spread over [`SYSTEM_SHARDS`] accounts so that no single row is hot.

use super::pages::StatementPages;
use crate::error::{ApiError, ApiResult};
use crate::state::{now_ms, AppState, TenantRuntime};
use std::collections::BTreeMap;
use store::{Statement, Transfer, TransferKind, TransferOutcome};

/// How many system accounts carry the company side of commissions.
pub const SYSTEM_SHARDS: u64 = 16;
/// Transfers posted per call.
pub const TRANSFERS_PER_POST: usize = 10_000;

/// The wallet account of a distributor.
pub fn wallet_account(distributor_id: &str) -> String {
    format!("wallet:{distributor_id}")
}

/// What this region owes another for the wallet it keeps of a distributor residing there:
/// commissions are posted here, and settled into the wallet there when the posting arrives
/// as an event (`worker::payouts`).
pub fn remote_wallet_account(region: &str, distributor_id: &str) -> String {
    format!("remote:{region}:{}", wallet_account(distributor_id))
}

/// Where a recipient's commissions go: their wallet, or — when they reside in another region
/// than this one — the account owed to that region for it.
pub fn payee_account(state: &AppState, tenant: &TenantRuntime, recipient: &str) -> String {
    let directory = tenant.directory.read().expect("directory lock");
    let residence = directory
        .node(recipient)
        .and_then(|node| directory.residence(node));
    match (residence, state.region()) {
        (Some(residence), Some(here)) if residence != here => {
            remote_wallet_account(residence, recipient)
        }
        _ => wallet_account(recipient),
    }
}

/// The system account that pays `recipient` (FNV-1a of the id picks the shard).
pub fn commissions_account(recipient: &str) -> String {
    let hash = recipient
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("system:commissions:{}", hash % SYSTEM_SHARDS)
}

/// The line identity (`recipient/bonus/source/level`) and amount (minor units) of every line.
pub fn line_amounts(statements: &[Statement]) -> Result<BTreeMap<String, (String, i64)>, String> {
    let mut amounts = BTreeMap::new();
    for statement in statements {
        for line in &statement.lines {
            let cells: Vec<&str> = line.split(',').collect();
            let [recipient, bonus, source, level, _base, _rate, amount] = cells[..] else {
                return Err(format!("a stored line has {} cells: {line:?}", cells.len()));
            };
            let minor: i64 = amount
                .replace('.', "")
                .parse()
                .map_err(|_| format!("a stored line has a bad amount: {line:?}"))?;
            amounts.insert(
                format!("{recipient}/{bonus}/{source}/{level}"),
                (recipient.to_owned(), minor),
            );
        }
    }
    Ok(amounts)
}

/// The transfer moving `amount` (signed: negative claws back) for one line, between the
/// recipient's system account and `payee` (their wallet, see [`payee_account`]).
pub fn line_transfer(
    id: String,
    recipient: &str,
    payee: String,
    amount: i64,
    kind: TransferKind,
    now_ms: i64,
) -> Transfer {
    let (wallet, system) = (payee, commissions_account(recipient));
    let (debit, credit) = if amount >= 0 {
        (system, wallet)
    } else {
        (wallet, system)
    };
    Transfer {
        id,
        debit,
        credit,
        amount: amount.abs(),
        kind,
        debit_must_stay_non_negative: false,
        created_at_ms: now_ms,
    }
}

/// The transfers that post a run, one per line of its statements, in batches: the
/// statements are read a page at a time, so posting holds a page and a batch however large
/// the run.
pub struct RunTransfers<'s> {
    state: &'s AppState,
    tenant: &'s TenantRuntime,
    pages: StatementPages,
    run_id: String,
    batch: usize,
    waiting: Vec<Transfer>,
    /// When the post started: the time of every transfer it makes.
    now_ms: i64,
}

impl<'s> RunTransfers<'s> {
    /// Batches of at most `batch` transfers (at least one).
    pub fn new(
        state: &'s AppState,
        tenant: &'s TenantRuntime,
        run_id: &str,
        batch: usize,
    ) -> RunTransfers<'s> {
        RunTransfers {
            state,
            tenant,
            pages: StatementPages::new(state.store().clone(), &tenant.tenant.id, run_id),
            run_id: run_id.to_owned(),
            batch: batch.max(1),
            waiting: Vec::new(),
            now_ms: now_ms(),
        }
    }

    /// The next batch; `None` once every line has been given.
    pub async fn next_batch(&mut self) -> ApiResult<Option<Vec<Transfer>>> {
        while self.waiting.len() < self.batch {
            let page = self.pages.next_page().await?;
            if page.is_empty() {
                break;
            }
            let lines = line_amounts(&page).map_err(ApiError::Internal)?;
            self.waiting
                .extend(lines.iter().map(|(key, (recipient, amount))| {
                    line_transfer(
                        format!("{}/{key}", self.run_id),
                        recipient,
                        payee_account(self.state, self.tenant, recipient),
                        *amount,
                        TransferKind::Commission,
                        self.now_ms,
                    )
                }));
        }
        if self.waiting.is_empty() {
            return Ok(None);
        }
        let rest = self.waiting.split_off(self.batch.min(self.waiting.len()));
        Ok(Some(std::mem::replace(&mut self.waiting, rest)))
    }
}

/// Posts transfers in chunks; every outcome must be `Posted` or `AlreadyPosted`.
pub async fn post_all(
    state: &AppState,
    tenant_id: &str,
    transfers: Vec<Transfer>,
) -> ApiResult<u64> {
    let mut posted = 0;
    let mut transfers = transfers.into_iter().peekable();
    while transfers.peek().is_some() {
        let chunk: Vec<Transfer> = transfers.by_ref().take(TRANSFERS_PER_POST).collect();
        let kinds: Vec<TransferKind> = chunk.iter().map(|transfer| transfer.kind).collect();
        let outcomes = state.store().post_transfers(tenant_id, chunk).await?;
        for (outcome, kind) in outcomes.iter().zip(kinds) {
            match outcome {
                TransferOutcome::Posted => {
                    posted += 1;
                    state
                        .metrics()
                        .transfers
                        .with_label_values(&[kind.as_str()])
                        .inc();
                }
                TransferOutcome::AlreadyPosted => {}
                other => {
                    return Err(ApiError::Internal(format!(
                        "a run transfer was refused: {other:?}"
                    )))
                }
            }
        }
    }
    Ok(posted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_bounded() {
        assert_eq!(commissions_account("d1"), commissions_account("d1"));
        let shards: std::collections::BTreeSet<_> = (0..1000)
            .map(|n| commissions_account(&format!("d{n}")))
            .collect();
        assert_eq!(shards.len() as u64, SYSTEM_SHARDS);
    }

    #[test]
    fn negative_amounts_claw_back_from_the_wallet() {
        let back = line_transfer(
            "t".into(),
            "d1",
            wallet_account("d1"),
            -250,
            TransferKind::Adjustment,
            0,
        );
        assert_eq!((back.debit.as_str(), back.amount), ("wallet:d1", 250));
        assert!(back.credit.starts_with("system:commissions:"));
    }
}
