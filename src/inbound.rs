//! A region's intake of other regions' events, from its inbound stream
//! (`{prefix}_INBOUND_{REGION}`, sourcing the listed regions' events streams through their
//! JetStream domains):
//! - **volumes**: the orders taken where distributors reside, applied to this region's volumes
//!   for the tenants at home here (another region's own tenants' orders are not ours). Their
//!   volume records are apart from this region's own — a distributor's orders are taken only
//!   where they reside — so each record still sees one outbox's sequences, in order;
//! - **payouts**: what tenants at home elsewhere paid distributors residing here, settled into
//!   their wallets (`worker::payouts`).
//!
//! Used by `upline worker --inbound-from` and `upline serve --inbound-from`.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use worker::bus::jetstream::JetStreamBus;
use worker::bus::{ConsumerConfig, EventBus};
use worker::dead_letters::DeadLetters;
use worker::payouts::PayoutWorker;
use worker::streams::RegionStreams;
use worker::volumes::{TenantFilter, VolumeWorker};

pub struct InboundWorkers {
    pub volumes: VolumeWorker,
    pub payouts: PayoutWorker,
}

pub async fn inbound_workers(
    url: &str,
    region: &str,
    streams: &RegionStreams,
    from_regions: &[String],
    store: Arc<dyn store::Store>,
    at_home_here: TenantFilter,
) -> Result<InboundWorkers, String> {
    let regions: Vec<&str> = from_regions.iter().map(String::as_str).collect();
    let inbound = JetStreamBus::connect(url, streams.inbound(&regions))
        .await
        .map_err(|error| {
            format!(
                "{error} (the inbound stream sources {} through their JetStream domains; is NATS running at {}?)",
                from_regions.join(", "),
                worker::bus::diagnosis::without_credentials(url)
            )
        })?;
    let consumer = |name: &'static str| {
        let inbound = &inbound;
        async move {
            inbound
                .consumer(ConsumerConfig::new(name))
                .await
                .map_err(|error| error.to_string())
        }
    };
    let dead = Arc::new(
        JetStreamBus::connect(url, streams.dead_letters())
            .await
            .map_err(|error| error.to_string())?,
    );
    let dead_letters = || DeadLetters::new(dead.clone(), &streams.dead_letter_subject_prefix());
    Ok(InboundWorkers {
        volumes: VolumeWorker::new(
            store.clone(),
            consumer(worker::volumes::CONSUMER_NAME).await?,
            dead_letters(),
        )
        .only_tenants(at_home_here),
        payouts: PayoutWorker::new(
            store,
            consumer(worker::payouts::CONSUMER_NAME).await?,
            dead_letters(),
            region,
        ),
    })
}

/// The tenants at home in this region, as a process without the API's state knows them: read
/// from the store at start and again on [`TenantsAtHome::refresh`].
#[derive(Clone, Default)]
pub struct TenantsAtHome {
    ids: Arc<RwLock<HashSet<String>>>,
}

impl TenantsAtHome {
    /// Reads the tenants at home in `region` from the store.
    pub async fn refresh(&self, store: &dyn store::Store, region: &str) -> Result<(), String> {
        let tenants = store.tenants().await.map_err(|error| error.to_string())?;
        let ids = tenants
            .into_iter()
            .filter(|tenant| tenant.is_at_home_in(Some(region)))
            .map(|tenant| tenant.id)
            .collect();
        *self.ids.write().expect("tenants lock") = ids;
        Ok(())
    }

    pub fn filter(&self) -> TenantFilter {
        let ids = self.ids.clone();
        Arc::new(move |tenant: &str| ids.read().expect("tenants lock").contains(tenant))
    }
}
