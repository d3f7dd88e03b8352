//! Every folder under `../shared/fixtures/commissions/` is one run with byte-exact expected
//! outputs; `upline commissions` must reproduce each file. The folder is walked, so a new
//! fixture is picked up without a code change.

mod common;

use common::fixtures_root;
use std::path::{Path, PathBuf};

/// Every fixture folder (one with an `expected` folder), in name order.
fn fixture_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
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
    cases
}

#[test]
fn every_fixture_is_reproduced_byte_for_byte() {
    let cases = fixture_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let out = tempfile::tempdir().expect("temp dir");
        let period = std::fs::read_to_string(case.join("period")).expect("period file");
        let output =
            common::commissions_in_folder(case, &case.join("plan.json"), period.trim(), out.path());
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        match failed_run(&name, &output) {
            Some(failure) => failures.push(failure),
            None => failures.extend(differences(case, out.path(), &name)),
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures not reproduced:\n{}",
        failures.join("\n")
    );
}

/// A run that did not succeed, as one failure named by `label`.
fn failed_run(label: &str, output: &std::process::Output) -> Option<String> {
    (!output.status.success()).then(|| {
        format!(
            "{label}: exit {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// How each output file in `out` differs from the fixture's expected one, named by `label`.
fn differences(case: &Path, out: &Path, label: &str) -> Vec<String> {
    ["lines.csv", "summary.csv", "state.csv"]
        .into_iter()
        .filter_map(|file| {
            let expected = std::fs::read(case.join("expected").join(file)).expect("expected file");
            let actual = std::fs::read(out.join(file)).unwrap_or_default();
            (expected != actual)
                .then(|| format!("{label}: {file}: {}", first_difference(&expected, &actual)))
        })
        .collect()
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

/// The plan of `random-full-101`, written by hand in block-style YAML (comments, `.5`-style
/// numbers, flow maps): read with the YAML 1.2 core schema and exact decimals, it gives the
/// same bytes as the JSON plan.
const RANDOM_FULL_101_YAML: &str = "
# the plan of fixtures/commissions/random-full-101, in YAML
name: case101
currency: USD
currency_decimals: 2
activity: { min_pv: 100 }
ranks:
  - name: Member
  - { name: Bronze, min_pv: 100, min_gv: 300, max_leg_share: .6, unilevel_levels: 3, matching_generations: 1 }
  - name: Silver
    min_pv: 100
    min_gv: 1000
    max_leg_share: 0.50
    legs: { count: 2, min_rank: Bronze }
    unilevel_levels: 5
  - { name: Gold, min_pv: 150, min_gv: 3e3, max_leg_share: 0.4, legs: { count: 3, min_rank: Silver } }
bonuses:
  unilevel:
    levels: [0.05, 0.05, 0.04, 0.03, 0.02, 0.01]
    compression: false
  binary: { pct: 0.125, unit: 0, carry_cap: 300, flush_inactive: false, qualify: { left: 0, right: 1 } }
  matching: { generations: [0.2, 0.1, 0.05], of: [binary, unilevel] }
  fast_start: { pct: 0.2, window_days: 30 }
  rank_advancement: { Bronze: 50, Silver: 250.5, Gold: 1000 }
  pool: { pct: 0.02, shares: { Silver: 1, Gold: 3 } }
";

#[test]
fn a_yaml_plan_gives_the_same_outputs_as_its_json_twin() {
    let case = fixtures_root().join("random-full-101");
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml_plan = dir.path().join("plan.yaml");
    std::fs::write(&yaml_plan, RANDOM_FULL_101_YAML).unwrap();
    let period = std::fs::read_to_string(case.join("period")).unwrap();
    let out = dir.path().join("out");
    let output = common::commissions_in_folder(&case, &yaml_plan, period.trim(), &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in ["lines.csv", "summary.csv", "state.csv"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(case.join("expected").join(file)).unwrap(),
            "{file}"
        );
    }
}

/// §1: lines end with LF or CRLF, and the final newline may be missing. Every fixture's inputs,
/// rewritten each way, give the same bytes as the originals.
#[test]
fn crlf_line_ends_and_a_missing_final_newline_change_nothing() {
    type Rewrite = fn(&str) -> String;
    let rewrites: [(&str, Rewrite); 3] = [
        ("CRLF", |text| text.replace('\n', "\r\n")),
        ("no final newline", |text| {
            text.strip_suffix('\n').unwrap_or(text).to_string()
        }),
        ("CRLF, no final newline", |text| {
            text.strip_suffix('\n')
                .unwrap_or(text)
                .replace('\n', "\r\n")
        }),
    ];
    let cases = fixture_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let period = std::fs::read_to_string(case.join("period")).expect("period file");
        for (rewrite_name, rewrite) in rewrites {
            let dir = tempfile::tempdir().expect("temp dir");
            for file in ["distributors.csv", "orders.csv", "state.csv"] {
                if let Ok(text) = std::fs::read_to_string(case.join(file)) {
                    std::fs::write(dir.path().join(file), rewrite(&text)).unwrap();
                }
            }
            let out = dir.path().join("out");
            let output = common::commissions_in_folder(
                dir.path(),
                &case.join("plan.json"),
                period.trim(),
                &out,
            );
            let label = format!("{name} ({rewrite_name})");
            match failed_run(&label, &output) {
                Some(failure) => failures.push(failure),
                None => failures.extend(differences(case, &out, &label)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "rewritten fixtures not reproduced:\n{}",
        failures.join("\n")
    );
}

/// Inputs that are streams, not files: every fixture's inputs given as pipes, the way a shell
/// passes `--orders <(zcat orders.csv.gz)`, give the same bytes. A pipe reports no length and
/// cannot be mapped; it must be read to its end, not taken for an empty file.
#[test]
fn inputs_given_as_pipes_give_the_same_outputs() {
    let mut failures = Vec::new();
    for case in fixture_cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let period = std::fs::read_to_string(case.join("period")).expect("period file");
        let out = tempfile::tempdir().expect("temp dir");
        let mut script = String::from(
            "exec \"$UPLINE\" commissions --quiet --period \"$PERIOD\" --out \"$OUT\" \
             --plan <(cat \"$CASE/plan.json\") \
             --distributors <(cat \"$CASE/distributors.csv\") \
             --orders <(cat \"$CASE/orders.csv\")",
        );
        if case.join("state.csv").exists() {
            script.push_str(" --state <(cat \"$CASE/state.csv\")");
        }
        let output = std::process::Command::new("bash")
            .args(["-c", &script])
            .env("UPLINE", env!("CARGO_BIN_EXE_upline"))
            .env("PERIOD", period.trim())
            .env("OUT", out.path())
            .env("CASE", &case)
            .output()
            .expect("bash runs");
        let label = format!("{name} (pipes)");
        match failed_run(&label, &output) {
            Some(failure) => failures.push(failure),
            None => failures.extend(differences(&case, out.path(), &label)),
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures read from pipes not reproduced:\n{}",
        failures.join("\n")
    );
}

/// Standard input is a stream too (`--orders /dev/stdin`), and a problem in it is named by
/// that path: a pipe's base name (`63` for `/dev/fd/63`) would say nothing.
#[test]
fn orders_on_standard_input_are_read_and_named() {
    use std::io::Write;
    use std::process::Stdio;
    let case = fixtures_root().join("random-full-101");
    let period = std::fs::read_to_string(case.join("period")).unwrap();
    let run = |orders: &[u8], out: &Path| {
        let mut child = common::commissions_command(
            &case.join("plan.json"),
            &case.join("distributors.csv"),
            Path::new("/dev/stdin"),
            Some(&case.join("state.csv")),
            period.trim(),
            out,
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(orders).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };

    let out = tempfile::tempdir().unwrap();
    let orders = std::fs::read(case.join("orders.csv")).unwrap();
    let read = run(&orders, out.path());
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert_eq!(
        differences(&case, out.path(), "stdin"),
        Vec::<String>::new()
    );

    let refused_out = tempfile::tempdir().unwrap();
    let refused = run(
        b"order_id,distributor_id\n",
        &refused_out.path().join("out"),
    );
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.starts_with("/dev/stdin:1: "), "{message}");
    assert!(!refused_out.path().join("out").exists(), "nothing written");
}
