//! `upline serve`: the platform API on the embedded store or on ScyllaDB.

use crate::store_args::StoreArgs;
use api::projector::Deletion;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Serve the platform API (tenants, genealogy, orders, commission runs, wallets) on the embedded store or ScyllaDB",
    long_about = "Serve the platform API on the embedded store (the default: one data directory, durable \
        before every acknowledgement, group commit) or on ScyllaDB (--store scylla: the keyspaces of \
        --region, migrated beforehand with `upline migrate`).\n\n\
        On start it applies any order events left unapplied by a crash, rebuilds every tenant's genealogy index \
        and then listens. The platform admin token (for creating tenants and API keys) comes from \
        UPLINE_ADMIN_TOKEN or --admin-token-file; without either, one is generated and written to \
        DATA/admin-token. The API is documented at /openapi.json; /metrics serves Prometheus metrics.\n\n\
        It also closes the periods of the tenants created with a close schedule (`closes`: every month \
        or ISO week, some hours after it ended): closed, committed and posted, each under a lease in \
        the store, so that of several processes serving one store one closes each period, and a close \
        whose process died is carried on by another. A refund in a closed period restates it here, \
        under the same lease. --no-closes leaves both to `upline worker --closes` processes, which \
        restate from the refund events (durable consumer `restatements`), so that a restatement a \
        process left is carried on at once by another.\n\n\
        Logs go to standard error; set UPLINE_LOG (e.g. `info`, `upline_api=debug`) to choose how much."
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on: HOST:PORT, the host an IP address or a name (localhost:8080).
    #[arg(
        long,
        value_name = "ADDR",
        env = "UPLINE_LISTEN",
        default_value = "127.0.0.1:8080",
        value_parser = crate::listen_address::parse
    )]
    pub listen: SocketAddr,
    /// A file holding the platform admin token (one line). Overrides UPLINE_ADMIN_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Publish every event of the outbox to the region's JetStream stream at this NATS server
    /// (UPLINE_EVENTS_<REGION>, Nats-Msg-Id = the event id), for `upline worker` and the other
    /// regions, and answer the enrollments other regions' endpoints send for tenants at home in
    /// this region (on `upline.<region>.enroll`). Its genealogy indexes then also follow the
    /// enrollments other replicas of the region make (a consumer of its own on the stream).
    /// Without it, nothing leaves the process. A cluster's servers may be listed, separated
    /// by commas.
    #[arg(long, value_name = "URL", env = "UPLINE_NATS")]
    pub nats: Option<String>,
    #[command(flatten)]
    pub nats_access: crate::nats_args::NatsAccessArgs,
    #[command(flatten)]
    pub stream_prefix: crate::nats_args::StreamPrefixArgs,
    /// Take in these regions' events (comma-separated), from this region's inbound stream: the
    /// orders of distributors residing there, for tenants at home here, go to this region's
    /// volumes; the commissions tenants at home there paid distributors residing here go to
    /// their wallets here. Needs --nats.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        env = "UPLINE_INBOUND_FROM",
        requires = "nats"
    )]
    pub inbound_from: Vec<String>,
    /// Leave the tenants' scheduled closes and the restatements of refunds to other processes
    /// (`upline worker --closes`, over the same store and NATS).
    #[arg(long)]
    pub no_closes: bool,
    #[command(flatten)]
    pub closes: crate::closes::CloseArgs,
}

pub fn main(args: ServeArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Service);
    run_command("serve", serve(args))
}

/// Runs an async subcommand to its end: exit 0, or exit 1 with `upline NAME: message`.
pub fn run_command(
    name: &str,
    command: impl std::future::Future<Output = Result<(), String>>,
) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("upline {name}: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let choice = args.store.choice()?;
    args.nats_access.install()?;
    let token = admin_token(&args.store.data, args.admin_token_file.as_deref())?;
    let relay = match &args.nats {
        Some(url) => Some(outbox_relay(url, &args).await?),
        None => None,
    };
    let region = args.store.cluster.region.clone();
    let state = api::server::recover_with(
        &choice,
        sha256_hex(&token.secret),
        region.as_deref(),
        |store| {
            let Some((bus, config)) = relay else {
                return Deletion::Applied;
            };
            let relay = std::sync::Arc::new(worker::relay::Relay::new(store, bus, config));
            let relayed_through = relay.relayed_through();
            tokio::spawn(async move { relay.run().await });
            Deletion::AfterGate(relayed_through)
        },
    )
    .await?;
    if let Some(url) = &args.nats {
        connect_regions(url, &args, &state).await?;
    }
    args.closes.set_leases(&state);
    if args.no_closes {
        // `upline worker --closes` restates from the refund events.
        state.leave_restatements_to_workers();
    } else {
        api::runs::restatement::resume_unfinished(state.clone());
        args.closes.spawn(&state, crate::closes::Host::Serve);
    }
    api::server::serve(state, args.listen, |address| {
        eprintln!(
            "upline serve: listening on http://{address} ({})",
            args.store.describe()
        );
        if let Some(path) = &token.written_to {
            eprintln!(
                "upline serve: a new admin token was written to {}",
                path.display()
            );
        }
    })
    .await
}

/// What a region's server does with the other regions, over NATS: answers the enrollments
/// their endpoints send for tenants at home here, sends its own for tenants at home there, and
/// (with --inbound-from) applies the orders taken there.
async fn connect_regions(
    url: &str,
    args: &ServeArgs,
    state: &api::state::AppState,
) -> Result<(), String> {
    let region = args.store.region_or_local();
    let streams = args.stream_prefix.streams(&region);
    let service = crate::nats_args::or_nats_trouble(
        worker::requests::RequestService::subscribe(url, &streams.enroll_subject()).await,
        url,
    )
    .await?;
    spawn_enrollment_service(service, state.clone());
    let link =
        crate::home_link::NatsHomeLink::connect(url, &args.stream_prefix.stream_prefix).await?;
    state.set_home_link(std::sync::Arc::new(link));
    let nats = crate::nats_args::NatsArgs {
        nats: url.to_owned(),
        access: args.nats_access.clone(),
        prefix: args.stream_prefix.clone(),
    };
    crate::genealogy_follow::spawn_follower(
        state,
        nats.events(&streams).await?,
        &streams,
        nats.dead_letters(&streams).await?,
    )
    .await?;
    if !args.inbound_from.is_empty() {
        let tenants = state.clone();
        let at_home_here: worker::volumes::TenantFilter = std::sync::Arc::new(move |id: &str| {
            tenants
                .tenant(id)
                .is_some_and(|tenant| tenant.tenant.home_region.is_none())
        });
        let inbound = crate::inbound::inbound_workers(
            url,
            &region,
            &streams,
            &args.inbound_from,
            state.store().clone(),
            at_home_here,
        )
        .await?;
        tokio::spawn(async move { inbound.volumes.run().await });
        tokio::spawn(async move { inbound.payouts.run().await });
    }
    Ok(())
}

/// Answers the enrollments that endpoints of other regions send for tenants at home here
/// (`api::remote_enrollment`), until the process ends.
fn spawn_enrollment_service(
    service: worker::requests::RequestService,
    state: api::state::AppState,
) {
    tokio::spawn(service.run(move |request: worker::requests::Payload| {
        let state = state.clone();
        async move { api::remote_enrollment::answer(&state, &request).await }
    }));
}

/// The region's events stream and the relay's settings: inside `serve` the relay leaves the
/// deleting to the volume projector, which waits until the relay has passed an event.
async fn outbox_relay(
    url: &str,
    args: &ServeArgs,
) -> Result<
    (
        std::sync::Arc<dyn worker::bus::EventBus>,
        worker::relay::RelayConfig,
    ),
    String,
> {
    let region = args.store.region_or_local();
    let streams = args.stream_prefix.streams(&region);
    let bus = crate::nats_args::or_nats_trouble(
        worker::bus::jetstream::JetStreamBus::connect(url, streams.events()).await,
        url,
    )
    .await?;
    let config = worker::relay::RelayConfig {
        delete_relayed: false,
        ..worker::relay::RelayConfig::new(&region, &streams.events_subject_prefix())
    };
    Ok((std::sync::Arc::new(bus), config))
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The admin token and, when it was generated now, where it was written.
pub struct AdminToken {
    pub secret: String,
    pub written_to: Option<PathBuf>,
}

/// The token from the file, the environment, DATA/admin-token, or a new one written there.
pub fn admin_token(data: &Path, file: Option<&Path>) -> Result<AdminToken, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|error| {
                format!(
                    "cannot read the admin token from {}: {error}",
                    path.display()
                )
            })
    };
    if let Some(path) = file {
        return Ok(AdminToken {
            secret: read(path)?,
            written_to: None,
        });
    }
    if let Ok(secret) = std::env::var("UPLINE_ADMIN_TOKEN") {
        if !secret.trim().is_empty() {
            return Ok(AdminToken {
                secret: secret.trim().to_owned(),
                written_to: None,
            });
        }
    }
    let path = data.join("admin-token");
    if path.exists() {
        return Ok(AdminToken {
            secret: read(&path)?,
            written_to: None,
        });
    }
    crate::folders::create("--data", data)?;
    let mut random = [0u8; 24];
    let mut urandom = std::fs::File::open("/dev/urandom").map_err(|error| error.to_string())?;
    std::io::Read::read_exact(&mut urandom, &mut random).map_err(|error| error.to_string())?;
    let secret = format!("upa_{}", hex::encode(random));
    write_private(&path, &secret)?;
    Ok(AdminToken {
        secret,
        written_to: Some(path),
    })
}

fn write_private(path: &Path, secret: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    writeln!(file, "{secret}").map_err(|error| error.to_string())
}
