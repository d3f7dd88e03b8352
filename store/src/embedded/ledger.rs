//! The double-entry ledger.

use super::codec::key;
use super::tables::{ACCOUNTS, ACCOUNT_TRANSFERS, TRANSFERS};
use super::writer::WriteContext;
use super::{backend, codec, get_in, put_in, EmbeddedStore};
use crate::error::StoreResult;
use crate::model::{Account, NewEvent, Transfer, TransferOutcome};
use crate::traits::LedgerStore;
use async_trait::async_trait;
use redb::ReadableDatabase as _;

#[async_trait]
impl LedgerStore for EmbeddedStore {
    async fn post_transfers(
        &self,
        tenant_id: &str,
        transfers: Vec<Transfer>,
    ) -> StoreResult<Vec<TransferOutcome>> {
        let tenant_id = tenant_id.to_owned();
        self.writer
            .write(move |context| {
                let mut outcomes = Vec::with_capacity(transfers.len());
                for transfer in transfers {
                    let outcome = post_one(context, &tenant_id, &transfer)?;
                    if outcome == TransferOutcome::Posted {
                        context.emit(
                            &tenant_id,
                            NewEvent {
                                kind: "transfer.posted",
                                payload: serde_json::to_value(&transfer)
                                    .expect("transfers serialize"),
                            },
                        )?;
                    }
                    outcomes.push(outcome);
                }
                Ok(outcomes)
            })
            .await
    }

    async fn account(&self, tenant_id: &str, account_id: &str) -> StoreResult<Account> {
        let account = self.get(ACCOUNTS, &key(&[tenant_id, account_id]))?;
        Ok(account.unwrap_or_else(|| Account {
            id: account_id.to_owned(),
            ..Account::default()
        }))
    }

    async fn accounts(&self, tenant_id: &str) -> StoreResult<Vec<Account>> {
        Ok(self
            .scan(ACCOUNTS, &[tenant_id])
            .await?
            .into_iter()
            .map(|(_, account)| account)
            .collect())
    }

    async fn account_transfers(
        &self,
        tenant_id: &str,
        account_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Transfer>> {
        let txn = self.db.begin_read().map_err(backend)?;
        let index = txn.open_table(ACCOUNT_TRANSFERS).map_err(backend)?;
        let transfers = txn.open_table(TRANSFERS).map_err(backend)?;
        let (start, end) = codec::prefix_range(&[tenant_id, account_id]);
        let mut found = Vec::new();
        for entry in index
            .range(start.as_slice()..end.as_slice())
            .map_err(backend)?
            .rev()
            .take(limit)
        {
            let (_, transfer_id) = entry.map_err(backend)?;
            let transfer_id: String = codec::decode(transfer_id.value())?;
            if let Some(transfer) = transfers
                .get(key(&[tenant_id, &transfer_id]).as_slice())
                .map_err(backend)?
            {
                found.push(codec::decode(transfer.value())?);
            }
        }
        Ok(found)
    }

    async fn transfer(&self, tenant_id: &str, transfer_id: &str) -> StoreResult<Option<Transfer>> {
        self.get(TRANSFERS, &key(&[tenant_id, transfer_id]))
    }
}

/// Checks one transfer against the rules, in their order, and moves the money when all hold.
fn post_one(
    context: &mut WriteContext<'_>,
    tenant_id: &str,
    transfer: &Transfer,
) -> StoreResult<TransferOutcome> {
    if transfer.amount <= 0 {
        return Ok(TransferOutcome::AmountMustBePositive);
    }
    if transfer.debit == transfer.credit {
        return Ok(TransferOutcome::AccountsMustBeDifferent);
    }
    let transfer_key = key(&[tenant_id, &transfer.id]);
    if let Some(posted) = get_in::<Transfer>(context, TRANSFERS, &transfer_key)? {
        let same = Transfer {
            created_at_ms: posted.created_at_ms,
            ..transfer.clone()
        } == posted;
        return Ok(if same {
            TransferOutcome::AlreadyPosted
        } else {
            TransferOutcome::IdTakenByAnotherTransfer
        });
    }
    let debit_key = key(&[tenant_id, &transfer.debit]);
    let credit_key = key(&[tenant_id, &transfer.credit]);
    let mut debit = account_in(context, &debit_key, &transfer.debit)?;
    if transfer.debit_must_stay_non_negative && debit.balance < transfer.amount {
        return Ok(TransferOutcome::InsufficientFunds {
            balance: debit.balance,
        });
    }
    let mut credit = account_in(context, &credit_key, &transfer.credit)?;
    debit.balance -= transfer.amount;
    credit.balance += transfer.amount;
    for (account_key, account) in [(&debit_key, &mut debit), (&credit_key, &mut credit)] {
        let index_key = key(&[
            tenant_id,
            &account.id,
            &format!("{:016x}", account.transfers),
        ]);
        put_in(context, ACCOUNT_TRANSFERS, &index_key, &transfer.id)?;
        account.transfers += 1;
        put_in(context, ACCOUNTS, account_key, account)?;
    }
    put_in(context, TRANSFERS, &transfer_key, transfer)?;
    Ok(TransferOutcome::Posted)
}

fn account_in(
    context: &mut WriteContext<'_>,
    account_key: &[u8],
    id: &str,
) -> StoreResult<Account> {
    Ok(
        get_in(context, ACCOUNTS, account_key)?.unwrap_or_else(|| Account {
            id: id.to_owned(),
            ..Account::default()
        }),
    )
}
