//! `upline demo`: a demo tenant with a generated network, a month of orders and a closed
//! period, served on the embedded store.

use crate::generate::{self, GenerateArgs, PlanKind, Shape};
use crate::serve::{admin_token, sha256_hex};
use api::state::AppState;
use indicatif::ProgressBar;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use store::{ApiKey, RunStatus};

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo";

#[derive(clap::Args, Debug)]
#[command(
    about = "Create a demo tenant (a generated network, a month of orders, the period closed) and serve it",
    long_about = "Create a demo tenant and serve it: generates a network of --distributors (one million by default) \
        with `upline generate`'s model and the full plan, loads it and a month of orders into the embedded store \
        in --data, closes the period (preview, then commit) and serves the API on --listen, printing the URLs, \
        the tenant's API key and the admin token.\n\n\
        Run it again on the same --data to serve the existing demo at once (a new API key is printed)."
)]
pub struct DemoArgs {
    /// The data directory (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        env = "UPLINE_DATA",
        default_value = "upline-demo"
    )]
    pub data: PathBuf,
    /// The address to listen on: HOST:PORT, the host an IP address or a name (localhost:8080).
    #[arg(
        long,
        value_name = "ADDR",
        env = "UPLINE_LISTEN",
        default_value = "127.0.0.1:8080",
        value_parser = crate::listen_address::parse
    )]
    pub listen: SocketAddr,
    /// Distributors in the generated network.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub distributors: u64,
    /// Seed of the generator.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// The month of orders, closed by the demo.
    #[arg(long, value_name = "PERIOD", default_value = "2026-11")]
    pub period: String,
    /// Set everything up, print it, and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

pub fn main(args: DemoArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Service);
    crate::serve::run_command("demo", demo(args))
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let started = Instant::now();
    let token = admin_token(&args.data, None)?;
    let state = api::server::recover(
        &api::server::StoreChoice::Embedded(args.data.clone()),
        sha256_hex(&token.secret),
    )
    .await?;
    if state.tenant(DEMO_TENANT).is_none() {
        let input = args.data.join("demo-input");
        let phase = Instant::now();
        generate_input(&args, &input)?;
        eprintln!(
            "upline demo: network generated in {:.1} s",
            phase.elapsed().as_secs_f64()
        );
        load(&state, &input, &args.period).await?;
    } else {
        eprintln!(
            "upline demo: serving the existing demo tenant in {}",
            args.data.display()
        );
    }
    let key = new_key(&state).await?;
    let ready = started.elapsed();
    let print = |address: SocketAddr| {
        println!("Upline demo ready in {:.1} s", ready.as_secs_f64());
        println!("  API:          http://{address}/v1   (OpenAPI: http://{address}/openapi.json)");
        println!("  metrics:      http://{address}/metrics");
        println!("  tenant:       {DEMO_TENANT}");
        println!("  API key:      {key}");
        println!("  admin token:  {}", token.secret);
        println!("  try:          curl -H 'Authorization: Bearer {key}' http://{address}/v1/runs");
    };
    if args.no_serve {
        print(args.listen);
        return Ok(());
    }
    api::server::serve(state, args.listen, print).await
}

fn generate_input(args: &DemoArgs, input: &Path) -> Result<(), String> {
    let generate_args = GenerateArgs {
        distributors: args.distributors,
        seed: args.seed,
        shape: Shape::Random,
        plan: PlanKind::Full,
        period: args.period.clone(),
        orders: None,
        out: input.to_path_buf(),
    };
    generate::run(&generate_args)
        .map(|_| ())
        .map_err(|error| format!("generating the demo network: {error:#}"))
}

/// Loads the generated files as `upline load` does, then serves the new tenant from them.
async fn load(state: &AppState, input: &Path, period: &str) -> Result<(), String> {
    let writer = crate::load::Writer::Embedded(state.store().clone());
    let phase = Instant::now();
    let files = crate::load::Checked::read(input)?;
    let (tenant, _) = crate::load::load_tenant(&writer, DEMO_TENANT, "Demo Company", files).await?;
    eprintln!(
        "upline demo: distributors and orders loaded in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    let runtime = api::runtime::runtime_for_new_tenant(state.store().clone(), tenant)
        .map_err(|error| error.to_string())?;
    api::runtime::rebuild_directory(&**state.store(), &runtime).await?;
    let runtime = state.add_tenant(runtime);
    let phase = Instant::now();
    close_period(state, &runtime, period).await?;
    eprintln!(
        "upline demo: period closed in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Closes the period: a preview, then a commit.
async fn close_period(
    state: &AppState,
    tenant: &std::sync::Arc<api::state::TenantRuntime>,
    period: &str,
) -> Result<(), String> {
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    let run = api::runs::lifecycle::start_preview(state, tenant, period)
        .await
        .map_err(|error| error.to_string())?;
    let run = loop {
        let current = api::runs::lifecycle::find_run(state, DEMO_TENANT, &run.run_id)
            .await
            .map_err(|error| error.to_string())?;
        if current.status != RunStatus::Running {
            break current;
        }
        let stage = state
            .runs()
            .get(DEMO_TENANT, &run.run_id)
            .unwrap_or_default();
        spinner.set_message(format!("closing {period}: {stage}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    spinner.finish_and_clear();
    if run.status != RunStatus::Preview {
        return Err(format!(
            "closing {period} failed: {}",
            run.error.unwrap_or_default()
        ));
    }
    api::runs::lifecycle::commit(state, tenant, &run.run_id)
        .await
        .map_err(|error| error.to_string())?;
    eprintln!(
        "upline demo: period {period} closed by run {} ({} lines)",
        run.run_id, run.lines
    );
    Ok(())
}

/// A fresh API key for the demo tenant (keys are shown once, so every start makes one).
async fn new_key(state: &AppState) -> Result<String, String> {
    let (key_id, key) = api::auth::new_api_key();
    let api_key = ApiKey {
        key_id,
        tenant_id: DEMO_TENANT.into(),
        secret_sha256: api::auth::sha256_hex(key.as_bytes()),
        created_at_ms: api::state::now_ms(),
        revoked: false,
    };
    state
        .store()
        .create_api_key(api_key)
        .await
        .map_err(|error| error.to_string())?;
    Ok(key)
}
