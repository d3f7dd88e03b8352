//! Every folder under `../shared/fixtures/commissions/` is one run with byte-exact expected
//! outputs; `upline commissions` must reproduce each file. The folder is walked, so a new
//! fixture is picked up without a code change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_root() -> PathBuf {
    let root = std::env::var_os("UPLINE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/commissions")
        });
    assert!(root.is_dir(), "the fixtures folder {} is missing: check out ../shared beside the repository or set UPLINE_FIXTURES", root.display());
    root
}

#[test]
fn every_fixture_is_reproduced_byte_for_byte() {
    let root = fixtures_root();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("readable fixtures folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("expected").is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 8,
        "expected at least the 8 shared fixtures, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let out = tempfile::tempdir().expect("temp dir");
        let period = std::fs::read_to_string(case.join("period")).expect("period file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_upline"));
        command
            .arg("commissions")
            .arg("--quiet")
            .arg("--plan")
            .arg(case.join("plan.json"))
            .arg("--distributors")
            .arg(case.join("distributors.csv"))
            .arg("--orders")
            .arg(case.join("orders.csv"))
            .arg("--period")
            .arg(period.trim())
            .arg("--out")
            .arg(out.path());
        if case.join("state.csv").exists() {
            command.arg("--state").arg(case.join("state.csv"));
        }
        let output = command.output().expect("upline runs");
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if !output.status.success() {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        for file in ["lines.csv", "summary.csv", "state.csv"] {
            let expected = std::fs::read(case.join("expected").join(file)).expect("expected file");
            let actual = std::fs::read(out.path().join(file)).unwrap_or_default();
            if expected != actual {
                failures.push(format!(
                    "{name}/{file}: {}",
                    first_difference(&expected, &actual)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures not reproduced:\n{}",
        failures.join("\n")
    );
}

fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    for (number, (want, got)) in expected.lines().zip(actual.lines()).enumerate() {
        if want != got {
            return format!("line {}: expected {want:?}, got {got:?}", number + 1);
        }
    }
    format!(
        "expected {} lines, got {}",
        expected.lines().count(),
        actual.lines().count()
    )
}
