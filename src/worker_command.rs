//! `upline worker`: a region's event processing — the outbox relay (the store's outbox to the
//! region's JetStream stream) and the volume worker (order events to period volumes) — until
//! Ctrl-C or SIGTERM.

use crate::nats_args::NatsArgs;
use crate::store_args::StoreArgs;
use api::projector::Deletion;
use std::sync::Arc;
use std::time::Duration;
use worker::bus::{ConsumerConfig, EventBus};
use worker::relay::{Relay, RelayConfig};
use worker::volumes::{VolumeWorker, CONSUMER_NAME};

/// How often the worker reports what it did.
const STATUS_EVERY: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
#[command(
    about = "Run a region's event processing: the outbox relay, the volume and payout workers and, with --closes, the scheduled closes and restatements",
    long_about = "Run a region's event processing until Ctrl-C or SIGTERM.\n\n\
The relay publishes the store's outbox to the region's JetStream stream (UPLINE_EVENTS_<REGION>) \
in order, with Nats-Msg-Id = the event id, and deletes what JetStream acknowledged; it survives \
restarts and NATS outages (events wait in the outbox). The volume worker consumes the stream \
(durable consumer `volumes`) and applies order events to period volumes, each once; events it \
cannot apply go to the dead letters (see `upline dlq`).\n\n\
Where `upline serve --nats` runs, it relays its own outbox: run the workers with --no-relay. \
A relaying worker deletes what it relayed, so it needs a store that no `upline serve` serves.\n\n\
In a tenant's home region, --inbound-from eu-west,ap-southeast also applies the orders of \
distributors residing in those regions: the region's inbound stream (UPLINE_INBOUND_<REGION>) \
sources their events streams through their JetStream domains; a second volume worker (durable \
consumer `volumes` on it) applies their orders for the tenants at home here, and a payout worker \
(durable consumer `payouts`) settles into wallets here what tenants at home there paid \
distributors residing here.\n\n\
With --closes it also closes the periods of the tenants created with a close schedule (every month \
or ISO week, some hours after it ended): closed, committed and posted under a lease per period; \
and it restates closed periods for refunds (durable consumer `restatements` of the stream's \
order.refunded events), under the same lease: run `upline serve --no-closes` beside it.\n\n\
Logs go to standard error (UPLINE_LOG, default info), among them when the NATS connection is \
lost, why connecting again fails and when it is back."
)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Run only the volume worker (another process relays the outbox).
    #[arg(long)]
    pub no_relay: bool,
    /// Regions whose events this home region takes in (comma-separated): their NATS servers
    /// are JetStream domains of those names, reachable over leaf nodes.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        env = "UPLINE_INBOUND_FROM"
    )]
    pub inbound_from: Vec<String>,
    /// Also close the periods of the tenants with a close schedule, each under a lease in the
    /// store (any number of processes may: one closes each period, and a close whose process
    /// died is carried on by another from the step it reached). The process then folds the
    /// outbox into the volumes too, so that a close counts every acknowledged order.
    #[arg(long)]
    pub closes: bool,
    #[command(flatten)]
    pub close_timing: crate::closes::CloseArgs,
}

pub fn main(args: WorkerArgs) -> std::process::ExitCode {
    // Without it the warnings of the relay, the consumers, the closes and the NATS
    // connections went nowhere.
    crate::logging::install(crate::logging::Verbosity::Service);
    crate::serve::run_command("worker", run(args))
}

async fn run(args: WorkerArgs) -> Result<(), String> {
    args.nats.access.install()?;
    let region = args.store.region_or_local();
    let streams = args.nats.streams(&region);
    let events = args.nats.events(&streams).await?;
    let relay_config = RelayConfig {
        // With the closes, the volume projector deletes what both it and the relay passed.
        delete_relayed: !args.closes,
        ..RelayConfig::new(&region, &streams.events_subject_prefix())
    };
    let (store, relay, closes) = if args.closes {
        let mut relay = None;
        let state = api::server::recover_with(
            &args.store.choice()?,
            String::new(),
            Some(&region),
            |store| {
                if args.no_relay {
                    // `upline serve` owns this outbox: its relay must see every event.
                    return Deletion::Never;
                }
                let relaying = Arc::new(Relay::new(store, events.clone(), relay_config.clone()));
                let gate = relaying.relayed_through();
                relay = Some(relaying);
                Deletion::AfterGate(gate)
            },
        )
        .await?;
        args.close_timing.set_leases(&state);
        api::runs::restatement::resume_unfinished(state.clone());
        let closes = args.close_timing.spawn(&state, crate::closes::Host::Worker);
        let events: Arc<dyn EventBus> = events.clone();
        let restatements = crate::closes::spawn_restatements(
            &state,
            &events,
            &streams.events_subject_prefix(),
            args.nats.dead_letters(&streams).await?,
        )
        .await?;
        (state.store().clone(), relay, Some((closes, restatements)))
    } else {
        let store = api::server::open_store(&args.store.choice()?).await?;
        let relay = (!args.no_relay)
            .then(|| Arc::new(Relay::new(store.clone(), events.clone(), relay_config)));
        (store, relay, None)
    };
    let dead_letters = args.nats.dead_letters(&streams).await?;
    let consumer = events
        .consumer(ConsumerConfig::new(CONSUMER_NAME))
        .await
        .map_err(|error| error.to_string())?;
    let volumes = Arc::new(VolumeWorker::new(store.clone(), consumer, dead_letters));
    let tenants_at_home = crate::inbound::TenantsAtHome::default();
    let inbound = match args.inbound_from.as_slice() {
        [] => None,
        regions => {
            tenants_at_home.refresh(&*store, &region).await?;
            let workers = crate::inbound::inbound_workers(
                &args.nats.nats,
                &region,
                &streams,
                regions,
                store.clone(),
                tenants_at_home.filter(),
            )
            .await?;
            Some((Arc::new(workers.volumes), Arc::new(workers.payouts)))
        }
    };
    eprintln!(
        "upline worker: region {region} | {} | stream {} on {}{}",
        args.store.describe(),
        streams.events().name,
        args.nats.nats,
        if relay.is_some() {
            " | relaying the outbox"
        } else {
            ""
        }
    );
    if closes.is_some() {
        eprintln!("upline worker: closing the periods of the tenants with a close schedule, restating closed periods for refunds (durable consumer `restatements`)");
    }
    if !args.inbound_from.is_empty() {
        eprintln!(
            "upline worker: taking in the events of {} (stream {})",
            args.inbound_from.join(", "),
            streams
                .inbound(
                    &args
                        .inbound_from
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                )
                .name
        );
    }
    let relay_task = relay
        .clone()
        .map(|relay| tokio::spawn(async move { relay.run().await }));
    let volumes_task = tokio::spawn({
        let volumes = volumes.clone();
        async move { volumes.run().await }
    });
    let inbound_tasks = inbound.clone().map(|(volumes, payouts)| {
        (
            tokio::spawn(async move { volumes.run().await }),
            tokio::spawn(async move { payouts.run().await }),
        )
    });
    let mut status = tokio::time::interval(STATUS_EVERY);
    status.tick().await;
    let shutdown = api::server::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = status.tick() => {
                let applied = volumes.progress().borrow().clone();
                let relayed = relay.as_ref().map(|relay| *relay.progress().borrow());
                eprintln!(
                    "upline worker: {}applied {} order events through stream position {} ({} dead-lettered, {} store failures)",
                    relayed.map_or(String::new(), |relayed| format!(
                        "relayed {} events through outbox sequence {} ({} failures) | ",
                        relayed.published, relayed.relayed_through, relayed.failures
                    )),
                    applied.applied,
                    applied.applied_through,
                    applied.poison.len(),
                    applied.failures,
                );
                if let Some((closes, restatements)) = &closes {
                    let closes = closes.borrow().clone();
                    eprintln!(
                        "upline worker: closes: {} periods closed here ({} failures, {} held by other processes)",
                        closes.closed, closes.failures, closes.held_elsewhere,
                    );
                    let restated = restatements.borrow().clone();
                    eprintln!(
                        "upline worker: restatements: {} periods restated here, {} refunds restated before, {} in periods not closed ({} failures, {} held by other processes, {} dead-lettered)",
                        restated.restated, restated.already_restated, restated.nothing_to_restate,
                        restated.failures, restated.held_elsewhere, restated.poison.len(),
                    );
                }
                if let Some((inbound, payouts)) = &inbound {
                    // A tenant created meanwhile is at home here or not: learn it.
                    if let Err(error) = tenants_at_home.refresh(&*store, &region).await {
                        eprintln!("upline worker: reading the tenants failed: {error}");
                    }
                    let settled = payouts.progress().borrow().clone();
                    eprintln!(
                        "upline worker: inbound: settled {} payouts here ({} seen before, {} dead-lettered, {} store failures)",
                        settled.posted, settled.already_posted, settled.poison.len(), settled.failures,
                    );
                    let applied = inbound.progress().borrow().clone();
                    eprintln!(
                        "upline worker: inbound: applied {} order events through stream position {} ({} dead-lettered, {} store failures)",
                        applied.applied, applied.applied_through, applied.poison.len(), applied.failures,
                    );
                }
            }
        }
    }
    if let Some(task) = relay_task {
        task.abort();
    }
    volumes_task.abort();
    if let Some((volumes, payouts)) = inbound_tasks {
        volumes.abort();
        payouts.abort();
    }
    eprintln!("upline worker: stopped");
    Ok(())
}
