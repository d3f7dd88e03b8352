//! `upline export`: a tenant's period as the files of COMP_PLAN_SPEC.md, so that
//! `upline commissions` on them reproduces the API's statements exactly.

use api::runs::compute::{previous_state, read_genealogy};
use api::runs::inputs::StateCsv;
use engine::calendar::Period;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use store::embedded::{EmbeddedStore, DATABASE_FILE};
use store::{OrderStatus, Store};

#[derive(clap::Args, Debug)]
#[command(
    about = "Write a tenant's period as plain files (distributors.csv, orders.csv, state.csv, plan.json, period)",
    long_about = "Write the inputs of one tenant's period close in the formats of COMP_PLAN_SPEC.md: \
        distributors.csv (the genealogy), orders.csv (every order dated in the period, refunded ones marked), \
        state.csv (the carries of the latest committed run of an earlier period), plan.json and period. \
        `upline commissions` on these files gives exactly the statements the API computes for that period.\n\n\
        Reads the data directory directly: stop `upline serve` on it first (the store allows one process)."
)]
pub struct ExportArgs {
    /// The data directory of `upline serve`.
    #[arg(
        long,
        value_name = "DIR",
        env = "UPLINE_DATA",
        default_value = "upline-data"
    )]
    pub data: PathBuf,
    /// The tenant id.
    #[arg(long, value_name = "T")]
    pub tenant: String,
    /// The period: a month `YYYY-MM` or an ISO week `YYYY-Www`.
    #[arg(long, value_name = "P")]
    pub period: String,
    /// Where to write the files (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn main(args: ExportArgs) -> ExitCode {
    crate::logging::install(crate::logging::Verbosity::Command);
    crate::serve::run_command("export", async {
        eprintln!("{}", export(&args).await?);
        Ok(())
    })
}

async fn export(args: &ExportArgs) -> Result<String, String> {
    let period = Period::parse(&args.period).map_err(|error| format!("--period: {error}"))?;
    // Opening creates a store where there is none: a mistyped --data would leave an empty
    // store behind and answer "no tenant", as if the tenant were missing.
    if !args.data.join(DATABASE_FILE).is_file() {
        return Err(format!(
            "--data: {} holds no store ({DATABASE_FILE} is missing); give the --data of `upline serve`",
            args.data.display()
        ));
    }
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&args.data).map_err(|error| {
        format!(
            "{error} (is `upline serve` running on {}? stop it first)",
            args.data.display()
        )
    })?);
    let failed = |error: store::StoreError| error.to_string();
    let tenant = store
        .tenant(&args.tenant)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            format!(
                "--tenant: no tenant {:?} in {}",
                args.tenant,
                args.data.display()
            )
        })?;
    let plan = api::runtime::compile_plan(&tenant.plan).map_err(|error| error.to_string())?;
    let distributors = read_genealogy(&*store, &tenant.id, plan.binary.is_some()).await?;
    let exported_distributors = distributors.rows();
    let orders = store.orders(&tenant.id).await.map_err(failed)?;
    let previous = previous_state(&store, &tenant.id, &period).await?;
    crate::folders::create("--out", &args.out)?;
    let mut orders_csv = String::from("order_id,distributor_id,date,pv,cv,status\n");
    let mut exported_orders = 0;
    for order in &orders {
        let in_period = engine::calendar::parse_date(order.date.as_bytes())
            .is_some_and(|day| period.contains(day));
        if !in_period {
            continue;
        }
        let status = match order.status {
            OrderStatus::Paid => "paid",
            OrderStatus::Refunded => "refunded",
        };
        let (pv, cv) = (
            api::money::volume_text(order.pv),
            api::money::volume_text(order.cv),
        );
        let _ = writeln!(
            orders_csv,
            "{},{},{},{pv},{cv},{status}",
            order.order_id, order.distributor_id, order.date
        );
        exported_orders += 1;
    }
    let plan_json =
        serde_json::to_string_pretty(&tenant.plan).map_err(|error| error.to_string())?;
    let files: [(&str, Vec<u8>); 5] = [
        ("distributors.csv", distributors.into_bytes()),
        ("orders.csv", orders_csv.into_bytes()),
        (
            "state.csv",
            previous.unwrap_or_else(|| StateCsv::default().into_bytes()),
        ),
        ("plan.json", format!("{plan_json}\n").into_bytes()),
        ("period", format!("{}\n", args.period).into_bytes()),
    ];
    for (name, bytes) in files {
        write(&args.out.join(name), &bytes)?;
    }
    Ok(format!(
        "upline export: tenant {}, period {}: {} distributors, {exported_orders} orders → {}",
        tenant.id,
        args.period,
        exported_distributors,
        args.out.display()
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|error| format!("cannot write {}: {error}", path.display()))
}
