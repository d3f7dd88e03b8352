//! The double-entry ledger.
//!
//! A transfer is claimed under its deterministic id (`transfers`, IF NOT EXISTS), then each
//! leg is one conditional batch on the account's own partition: a marker row that makes the
//! leg happen once, a history row, and the new balance and version IF the version is still
//! the one read. A guarded debit checks the balance it read, and the compare-and-set makes
//! that check hold at the moment of the write: two withdrawals never both pass on the same
//! money. A retry of an interrupted transfer finds its claim and completes the missing leg.

use super::cql::{self, bucket, prepare, to_bigint};
use super::outbox::Ticket;
use super::ScyllaStore;
use crate::error::{StoreError, StoreResult};
use crate::model::{Account, NewEvent, Transfer, TransferKind, TransferOutcome};
use crate::traits::LedgerStore;
use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use std::time::Duration;

pub(super) struct LedgerStatements {
    claim: PreparedStatement,
    reclaim: PreparedStatement,
    select_transfer: PreparedStatement,
    mark_posted: PreparedStatement,
    mark_refused: PreparedStatement,
    select_account: PreparedStatement,
    select_marker: PreparedStatement,
    history: PreparedStatement,
    list_accounts: PreparedStatement,
    insert_directory: PreparedStatement,
    /// The conditional batch of one leg: marker, history row, balance and version.
    leg: Batch,
}

/// Attempts of one leg before giving up (each failed attempt lost a race to another leg).
const LEG_ATTEMPTS_MAX: u32 = 400;
/// Accounts read at once when listing.
const ACCOUNTS_IN_FLIGHT: usize = 32;

const TRANSFER_COLUMNS: &str =
    "transfer_id, debit, credit, amount, kind, debit_must_stay_non_negative, created_at_ms, state, event_sequence";

type TransferRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// A transfer as stored, with its state (`pending`, `posted` or `refused`).
pub(super) struct StoredTransfer {
    pub transfer: Transfer,
    pub state: String,
    pub event_sequence: Option<i64>,
}

impl LedgerStatements {
    pub(super) async fn prepare(session: &Session, regional: &str) -> Result<Self, String> {
        let marker = prepare(
            session,
            format!(
                "INSERT INTO {regional}.account_entries (tenant_id, account_id, kind, entry_key, transfer_id, amount) \
                 VALUES (?, ?, 0, ?, ?, ?)"
            ),
            false,
        )
        .await?;
        let history_row = prepare(
            session,
            format!(
                "INSERT INTO {regional}.account_entries (tenant_id, account_id, kind, entry_key, transfer_id, amount) \
                 VALUES (?, ?, 1, ?, ?, ?)"
            ),
            false,
        )
        .await?;
        let balance = prepare(
            session,
            format!(
                "UPDATE {regional}.account_entries SET balance = ?, version = ? \
                 WHERE tenant_id = ? AND account_id = ? IF version = ?"
            ),
            false,
        )
        .await?;
        let mut leg = Batch::new(BatchType::Unlogged);
        leg.append_statement(marker);
        leg.append_statement(history_row);
        leg.append_statement(balance);
        leg.set_is_idempotent(false);
        Ok(LedgerStatements {
            claim: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.transfers (tenant_id, {TRANSFER_COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            reclaim: prepare(
                session,
                format!(
                    "UPDATE {regional}.transfers SET state = 'pending', event_sequence = ?, created_at_ms = ? \
                     WHERE tenant_id = ? AND transfer_id = ? IF state = 'refused'"
                ),
                false,
            )
            .await?,
            select_transfer: prepare(
                session,
                format!(
                    "SELECT {TRANSFER_COLUMNS} FROM {regional}.transfers WHERE tenant_id = ? AND transfer_id = ?"
                ),
                true,
            )
            .await?,
            mark_posted: prepare(
                session,
                format!(
                    "UPDATE {regional}.transfers SET state = 'posted' WHERE tenant_id = ? AND transfer_id = ?"
                ),
                true,
            )
            .await?,
            mark_refused: prepare(
                session,
                format!(
                    "UPDATE {regional}.transfers SET state = 'refused' WHERE tenant_id = ? AND transfer_id = ? \
                     IF state = 'pending' AND event_sequence = ?"
                ),
                false,
            )
            .await?,
            select_account: prepare(
                session,
                format!(
                    "SELECT balance, version FROM {regional}.account_entries \
                     WHERE tenant_id = ? AND account_id = ? LIMIT 1"
                ),
                true,
            )
            .await?,
            select_marker: prepare(
                session,
                format!(
                    "SELECT transfer_id FROM {regional}.account_entries \
                     WHERE tenant_id = ? AND account_id = ? AND kind = 0 AND entry_key = ?"
                ),
                true,
            )
            .await?,
            history: prepare(
                session,
                format!(
                    "SELECT transfer_id FROM {regional}.account_entries \
                     WHERE tenant_id = ? AND account_id = ? AND kind = 1 \
                     ORDER BY kind DESC, entry_key DESC LIMIT ?"
                ),
                true,
            )
            .await?,
            list_accounts: prepare(
                session,
                format!("SELECT account_id FROM {regional}.accounts_by_tenant WHERE tenant_id = ? AND bucket = ?"),
                true,
            )
            .await?,
            insert_directory: prepare(
                session,
                format!(
                    "INSERT INTO {regional}.accounts_by_tenant (tenant_id, bucket, account_id) VALUES (?, ?, ?)"
                ),
                true,
            )
            .await?,
            leg,
        })
    }
}

fn transfer_from(row: TransferRow) -> StoreResult<StoredTransfer> {
    let (id, debit, credit, amount, kind, guarded, created_at_ms, state, event_sequence) = row;
    let kind = match kind.as_deref() {
        Some("commission") => TransferKind::Commission,
        Some("adjustment") => TransferKind::Adjustment,
        Some("withdrawal") => TransferKind::Withdrawal,
        other => {
            return Err(StoreError::Corrupt(format!(
                "transfer {id}: kind {other:?}"
            )))
        }
    };
    Ok(StoredTransfer {
        transfer: Transfer {
            id,
            debit: debit.unwrap_or_default(),
            credit: credit.unwrap_or_default(),
            amount: amount.unwrap_or(0),
            kind,
            debit_must_stay_non_negative: guarded.unwrap_or(false),
            created_at_ms: created_at_ms.unwrap_or(0),
        },
        state: state.unwrap_or_default(),
        event_sequence,
    })
}

/// Which side of a transfer a leg is.
#[derive(Clone, Copy)]
enum Side {
    Debit,
    Credit,
}

enum Leg {
    Done,
    Short { balance: i64 },
}

/// How the claim of a transfer id went.
enum Claim {
    /// This call holds the transfer (new, or refused before and tried again).
    Ours,
    /// An earlier attempt holds it, pending (with its event's sequence): complete its legs.
    Unfinished(i64),
    Finished(TransferOutcome),
}

/// A short pause that grows with the attempt and varies between callers, so that legs racing
/// for one account spread out instead of colliding again.
async fn back_off(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let ceiling_ms = u64::from(attempt.min(20)) * 5 + 1;
    tokio::time::sleep(Duration::from_millis(u64::from(nanos) % ceiling_ms)).await;
}

impl ScyllaStore {
    pub(super) async fn read_transfer(
        &self,
        tenant_id: &str,
        transfer_id: &str,
    ) -> StoreResult<Option<StoredTransfer>> {
        self.read_transfer_at(tenant_id, transfer_id, false).await
    }

    /// `serial`: a final answer (see `cql::serial_if`).
    pub(super) async fn read_transfer_at(
        &self,
        tenant_id: &str,
        transfer_id: &str,
        serial: bool,
    ) -> StoreResult<Option<StoredTransfer>> {
        let row: Option<TransferRow> = cql::maybe_row(
            &self.session,
            &cql::serial_if(&self.ledger.select_transfer, serial),
            (tenant_id, transfer_id),
        )
        .await?;
        row.map(transfer_from).transpose()
    }

    async fn claim_transfer(
        &self,
        tenant_id: &str,
        transfer: &Transfer,
        sequence: u64,
    ) -> StoreResult<Claim> {
        let statements = &self.ledger;
        loop {
            let claimed = cql::conditional(
                &self.session,
                &statements.claim,
                (
                    tenant_id,
                    &transfer.id,
                    &transfer.debit,
                    &transfer.credit,
                    transfer.amount,
                    transfer.kind.as_str(),
                    transfer.debit_must_stay_non_negative,
                    transfer.created_at_ms,
                    to_bigint(sequence),
                ),
            )
            .await?;
            if claimed {
                return Ok(Claim::Ours);
            }
            let Some(stored) = self.read_transfer(tenant_id, &transfer.id).await? else {
                continue;
            };
            let same = Transfer {
                created_at_ms: stored.transfer.created_at_ms,
                ..transfer.clone()
            } == stored.transfer;
            if !same {
                return Ok(Claim::Finished(TransferOutcome::IdTakenByAnotherTransfer));
            }
            match stored.state.as_str() {
                "posted" => return Ok(Claim::Finished(TransferOutcome::AlreadyPosted)),
                "pending" => return Ok(Claim::Unfinished(stored.event_sequence.unwrap_or(0))),
                _refused => {
                    let reclaimed = cql::conditional(
                        &self.session,
                        &statements.reclaim,
                        (
                            to_bigint(sequence),
                            transfer.created_at_ms,
                            tenant_id,
                            &transfer.id,
                        ),
                    )
                    .await?;
                    if reclaimed {
                        return Ok(Claim::Ours);
                    }
                }
            }
        }
    }

    /// Applies one leg once; a guarded debit stops short of overdrawing.
    async fn leg(&self, tenant_id: &str, transfer: &Transfer, side: Side) -> StoreResult<Leg> {
        let statements = &self.ledger;
        let (account, signed, side_name) = match side {
            Side::Debit => (&transfer.debit, -transfer.amount, "debit"),
            Side::Credit => (&transfer.credit, transfer.amount, "credit"),
        };
        let guarded = matches!(side, Side::Debit) && transfer.debit_must_stay_non_negative;
        let marker_key = format!("{}/{side_name}", transfer.id);
        for attempt in 0..LEG_ATTEMPTS_MAX {
            let marker: Option<(Option<String>,)> = cql::maybe_row(
                &self.session,
                &statements.select_marker,
                (tenant_id, account, &marker_key),
            )
            .await?;
            if marker.is_some() {
                return Ok(Leg::Done);
            }
            let (balance, version) = self.account_state(tenant_id, account).await?;
            if guarded && balance.unwrap_or(0) < transfer.amount {
                return Ok(Leg::Short {
                    balance: balance.unwrap_or(0),
                });
            }
            cql::execute(
                &self.session,
                &statements.insert_directory,
                (tenant_id, bucket(account), account),
            )
            .await?;
            let next_version = version.unwrap_or(0) + 1;
            let values = (
                (tenant_id, account, &marker_key, &transfer.id, signed),
                (
                    tenant_id,
                    account,
                    format!("{next_version:020}"),
                    &transfer.id,
                    signed,
                ),
                (
                    balance.unwrap_or(0) + signed,
                    next_version,
                    tenant_id,
                    account,
                    version,
                ),
            );
            match self.session.batch(&statements.leg, values).await {
                Ok(result) => {
                    if cql::applied(result, "the leg of a transfer")? {
                        return Ok(Leg::Done);
                    }
                }
                // The outcome is unknown (a timeout under contention): the marker read of
                // the next attempt tells.
                Err(error) => {
                    tracing::debug!(%error, "a ledger leg's outcome is unknown; reading it back")
                }
            }
            back_off(attempt).await;
        }
        Err(StoreError::Unavailable(format!(
            "account {account:?} is too contended to post transfer {:?}; retry",
            transfer.id
        )))
    }

    async fn account_state(
        &self,
        tenant_id: &str,
        account: &str,
    ) -> StoreResult<(Option<i64>, Option<i64>)> {
        let row: Option<(Option<i64>, Option<i64>)> = cql::maybe_row(
            &self.session,
            &self.ledger.select_account,
            (tenant_id, account),
        )
        .await?;
        Ok(row.unwrap_or((None, None)))
    }

    async fn post_one(&self, tenant_id: &str, transfer: &Transfer) -> StoreResult<TransferOutcome> {
        if transfer.amount <= 0 {
            return Ok(TransferOutcome::AmountMustBePositive);
        }
        if transfer.debit == transfer.credit {
            return Ok(TransferOutcome::AccountsMustBeDifferent);
        }
        let event = NewEvent {
            kind: "transfer.posted",
            payload: serde_json::to_value(transfer).expect("transfers serialize"),
        };
        // The event is written first and stays invisible while the ticket is held: until both
        // legs are done, or it is deleted because the transfer did not happen.
        let ticket = self.outbox.ticket(&self.session).await?;
        self.outbox
            .write_or_doubt(&self.session, &ticket, tenant_id, &event)
            .await?;
        let outcome = self.post_claimed(tenant_id, transfer, &ticket).await;
        match &outcome {
            Ok(TransferOutcome::Posted) => {}
            Ok(_) => self.outbox.delete_or_doubt(&self.session, &ticket).await,
            Err(_) => self.outbox.doubt(ticket.sequence),
        }
        ticket.settle();
        outcome
    }

    async fn post_claimed(
        &self,
        tenant_id: &str,
        transfer: &Transfer,
        ticket: &Ticket<'_>,
    ) -> StoreResult<TransferOutcome> {
        let (finished_by_us, claimed_with) = match self
            .claim_transfer(tenant_id, transfer, ticket.sequence)
            .await?
        {
            Claim::Finished(outcome) => return Ok(outcome),
            Claim::Ours => (true, to_bigint(ticket.sequence)),
            Claim::Unfinished(sequence) => (false, sequence),
        };
        if let Leg::Short { balance } = self.leg(tenant_id, transfer, Side::Debit).await? {
            cql::conditional(
                &self.session,
                &self.ledger.mark_refused,
                (tenant_id, &transfer.id, claimed_with),
            )
            .await?;
            return Ok(TransferOutcome::InsufficientFunds { balance });
        }
        self.leg(tenant_id, transfer, Side::Credit).await?;
        cql::execute(
            &self.session,
            &self.ledger.mark_posted,
            (tenant_id, &transfer.id),
        )
        .await?;
        Ok(if finished_by_us {
            TransferOutcome::Posted
        } else {
            TransferOutcome::AlreadyPosted
        })
    }
}

#[async_trait]
impl LedgerStore for ScyllaStore {
    async fn post_transfers(
        &self,
        tenant_id: &str,
        transfers: Vec<Transfer>,
    ) -> StoreResult<Vec<TransferOutcome>> {
        // In order: a later transfer of the call may spend what an earlier one credited.
        let mut outcomes = Vec::with_capacity(transfers.len());
        for transfer in &transfers {
            outcomes.push(self.post_one(tenant_id, transfer).await?);
        }
        Ok(outcomes)
    }

    async fn account(&self, tenant_id: &str, account_id: &str) -> StoreResult<Account> {
        let (balance, version) = self.account_state(tenant_id, account_id).await?;
        Ok(Account {
            id: account_id.to_owned(),
            balance: balance.unwrap_or(0),
            transfers: version.unwrap_or(0) as u64,
        })
    }

    async fn accounts(&self, tenant_id: &str) -> StoreResult<Vec<Account>> {
        let ids: Vec<(String,)> =
            cql::all_buckets(&self.session, &self.ledger.list_accounts, |bucket| {
                (tenant_id, bucket)
            })
            .await?;
        let mut accounts: Vec<Account> = futures_util::stream::iter(ids)
            .map(|(id,)| async move { self.account(tenant_id, &id).await })
            .buffer_unordered(ACCOUNTS_IN_FLIGHT)
            .try_collect()
            .await?;
        // Listed before their first leg: an account whose leg never happened never moved.
        accounts.retain(|account| account.transfers > 0);
        accounts.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(accounts)
    }

    async fn account_transfers(
        &self,
        tenant_id: &str,
        account_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Transfer>> {
        let limit = limit.min(i32::MAX as usize) as i32;
        let ids: Vec<(Option<String>,)> = cql::all_rows(
            &self.session,
            &self.ledger.history,
            (tenant_id, account_id, limit),
        )
        .await?;
        let mut transfers = Vec::with_capacity(ids.len());
        for (id,) in ids {
            let Some(id) = id else { continue };
            if let Some(stored) = self.read_transfer(tenant_id, &id).await? {
                transfers.push(stored.transfer);
            }
        }
        Ok(transfers)
    }

    async fn transfer(&self, tenant_id: &str, transfer_id: &str) -> StoreResult<Option<Transfer>> {
        Ok(self
            .read_transfer(tenant_id, transfer_id)
            .await?
            .filter(|stored| stored.state == "posted")
            .map(|stored| stored.transfer))
    }
}
