//! What the end-to-end tests share: running `upline commissions` the way a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared fixtures' folder: `UPLINE_FIXTURES`, or `../shared/fixtures/commissions` beside
/// the checkout.
#[allow(dead_code)]
pub fn fixtures_root() -> PathBuf {
    let root = std::env::var_os("UPLINE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/commissions")
        });
    assert!(root.is_dir(), "the fixtures folder {} is missing: check out ../shared beside the repository or set UPLINE_FIXTURES", root.display());
    root
}

/// Runs `upline commissions --quiet` with the given files for `period`, writing into `out`.
#[allow(dead_code)]
pub fn commissions(
    plan: &Path,
    distributors: &Path,
    orders: &Path,
    state: Option<&Path>,
    period: &str,
    out: &Path,
) -> Output {
    commissions_command(plan, distributors, orders, state, period, out)
        .output()
        .expect("upline runs")
}

/// The command [`commissions`] runs, for a test that sets up the process itself.
#[allow(dead_code)]
pub fn commissions_command(
    plan: &Path,
    distributors: &Path,
    orders: &Path,
    state: Option<&Path>,
    period: &str,
    out: &Path,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
    command
        .args(["commissions", "--quiet", "--period", period])
        .arg("--plan")
        .arg(plan)
        .arg("--distributors")
        .arg(distributors)
        .arg("--orders")
        .arg(orders)
        .arg("--out")
        .arg(out);
    if let Some(state) = state {
        command.arg("--state").arg(state);
    }
    command
}

/// The same for a folder in fixture layout (`state.csv` when present), with `plan` as the plan.
#[allow(dead_code)] // not every test file uses both helpers
pub fn commissions_in_folder(folder: &Path, plan: &Path, period: &str, out: &Path) -> Output {
    let state = folder.join("state.csv");
    commissions(
        plan,
        &folder.join("distributors.csv"),
        &folder.join("orders.csv"),
        state.exists().then_some(state.as_path()),
        period,
        out,
    )
}

#[allow(dead_code)]
pub mod cassandra;
pub mod event_stream;
pub mod kube;
pub mod nats;
pub mod process;
pub mod serve;
pub mod worker;

/// A folder's files by name, with their bytes: what a failed run must leave as it was.
#[allow(dead_code)]
pub fn folder_contents(folder: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}
