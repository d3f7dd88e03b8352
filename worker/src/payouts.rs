//! The payout worker: commissions paid by a tenant's home region to distributors residing in
//! this region, settled into their wallets here.
//!
//! The home region posts such a line to `remote:<this region>:wallet:<id>` (what it owes this
//! region for that wallet) instead of the wallet itself, which it does not keep. The posting
//! comes here as a `transfer.posted` event on this region's inbound stream; the worker posts
//! its mirror in this region's ledger — from `home:<home region>:payouts` to the wallet (the
//! other way for a clawback) — under the id `<home region>:<transfer id>`. The ledger posts an
//! id once, so a duplicate or a redelivery moves nothing, and transfers are independent of
//! each other, so their order does not matter.

use crate::bus::{headers, BusResult, Consumer, Delivery};
use crate::dead_letters::DeadLetters;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{LedgerStore, Transfer, TransferOutcome};
use tokio::sync::watch;

/// Deliveries fetched at once.
const FETCH_MAX: usize = 1024;
/// How long a fetch waits for a delivery.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// The delay before deliveries that failed on the store come again.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// The consumer's durable name (and its name on dead letters).
pub const CONSUMER_NAME: &str = "payouts";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PayoutProgress {
    /// Transfers posted here.
    pub posted: u64,
    /// Transfers found posted before (duplicates, redeliveries).
    pub already_posted: u64,
    /// Events given up as poison, with the reason.
    pub poison: Vec<(String, String)>,
    /// Store failures (the deliveries came again later).
    pub failures: u64,
}

pub struct PayoutWorker {
    ledger: Arc<dyn LedgerStore>,
    consumer: Box<dyn Consumer>,
    dead_letters: DeadLetters,
    /// This region: the transfers owed to it are settled here.
    region: String,
    progress: watch::Sender<PayoutProgress>,
}

/// The mirror of a home region's transfer in this region's ledger, if the transfer owes this
/// region for a wallet (or claws back from one).
pub fn settlement(transfer: &Transfer, here: &str, home: &str) -> Option<Transfer> {
    let owed = format!("remote:{here}:");
    let from_home = format!("home:{home}:payouts");
    let (debit, credit) = match (
        transfer.debit.strip_prefix(&owed),
        transfer.credit.strip_prefix(&owed),
    ) {
        (None, Some(wallet)) => (from_home, wallet.to_owned()),
        (Some(wallet), None) => (wallet.to_owned(), from_home),
        _ => return None,
    };
    Some(Transfer {
        id: format!("{home}:{}", transfer.id),
        debit,
        credit,
        amount: transfer.amount,
        kind: transfer.kind,
        debit_must_stay_non_negative: false,
        created_at_ms: transfer.created_at_ms,
    })
}

impl PayoutWorker {
    pub fn new(
        ledger: Arc<dyn LedgerStore>,
        consumer: Box<dyn Consumer>,
        dead_letters: DeadLetters,
        region: &str,
    ) -> PayoutWorker {
        PayoutWorker {
            ledger,
            consumer,
            dead_letters,
            region: region.to_owned(),
            progress: watch::Sender::new(PayoutProgress::default()),
        }
    }

    pub fn progress(&self) -> watch::Receiver<PayoutProgress> {
        self.progress.subscribe()
    }

    /// Settles transfers until the task is dropped.
    pub async fn run(&self) {
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "payout worker: the bus failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }

    async fn round(&self) -> BusResult<()> {
        let deliveries = self.consumer.fetch(FETCH_MAX, FETCH_WAIT).await?;
        // Per tenant, the settlements and the index of the delivery each came from.
        let mut by_tenant: BTreeMap<String, Vec<(usize, Transfer)>> = BTreeMap::new();
        let mut settled_without_posting = Vec::new();
        for (index, delivery) in deliveries.iter().enumerate() {
            match self.settlement_of(delivery) {
                Ok(Some((tenant, transfer))) => {
                    by_tenant.entry(tenant).or_default().push((index, transfer))
                }
                Ok(None) => settled_without_posting.push(index),
                Err(reason) => {
                    self.dead_letters
                        .give_up(delivery, CONSUMER_NAME, &reason)
                        .await?;
                    self.progress.send_modify(|progress| {
                        progress.poison.push((delivery.id.clone(), reason))
                    });
                }
            }
        }
        for index in settled_without_posting {
            deliveries[index].ack().await?;
        }
        for (tenant, transfers) in by_tenant {
            let (indexes, transfers): (Vec<usize>, Vec<Transfer>) = transfers.into_iter().unzip();
            match self.ledger.post_transfers(&tenant, transfers).await {
                Ok(outcomes) => {
                    for (index, outcome) in indexes.into_iter().zip(outcomes) {
                        self.settled(&deliveries[index], outcome).await?;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "payout worker: posting failed; redelivering");
                    self.progress.send_modify(|progress| progress.failures += 1);
                    for index in indexes {
                        deliveries[index].nak(RETRY_DELAY).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The tenant and the settlement an event asks for: None when it asks for none (another
    /// kind, or a transfer that does not concern this region); an error (the reason it is
    /// poison) when it cannot be read.
    fn settlement_of(&self, delivery: &Delivery) -> Result<Option<(String, Transfer)>, String> {
        if delivery.header(headers::KIND) != Some("transfer.posted") {
            return Ok(None);
        }
        let tenant = delivery
            .header(headers::TENANT)
            .ok_or("no Upline-Tenant header")?;
        let home = delivery
            .header(headers::REGION)
            .ok_or("no Upline-Region header")?;
        let transfer: Transfer = serde_json::from_slice(&delivery.payload)
            .map_err(|error| format!("the payload is not a transfer: {error}"))?;
        Ok(settlement(&transfer, &self.region, home).map(|settled| (tenant.to_owned(), settled)))
    }

    async fn settled(&self, delivery: &Delivery, outcome: TransferOutcome) -> BusResult<()> {
        match outcome {
            TransferOutcome::Posted => {
                self.progress.send_modify(|progress| progress.posted += 1);
                delivery.ack().await
            }
            TransferOutcome::AlreadyPosted => {
                self.progress
                    .send_modify(|progress| progress.already_posted += 1);
                delivery.ack().await
            }
            refused => {
                let reason = format!("the ledger refused the settlement: {refused:?}");
                self.dead_letters
                    .give_up(delivery, CONSUMER_NAME, &reason)
                    .await?;
                self.progress
                    .send_modify(|progress| progress.poison.push((delivery.id.clone(), reason)));
                Ok(())
            }
        }
    }
}
