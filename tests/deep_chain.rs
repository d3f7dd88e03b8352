//! A chain of a million distributors (each sponsored and placed under the previous one) is
//! legal input: the whole command must close it without recursion or stack overflow, and pay
//! the deep chain exactly as a short one would at each level.

mod common;

use std::process::Command;

#[test]
fn a_chain_one_million_deep_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let network = dir.path().join("network");
    let generated = Command::new(env!("CARGO_BIN_EXE_upline"))
        .args([
            "generate",
            "--distributors",
            "1000000",
            "--seed",
            "5",
            "--shape",
            "chain",
            "--plan",
            "full",
            "--out",
        ])
        .arg(&network)
        .output()
        .expect("upline generate runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let out = dir.path().join("out");
    let closed =
        common::commissions_in_folder(&network, &network.join("plan.json"), "2026-11", &out);
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    assert_eq!(
        summary.lines().count(),
        1_000_001,
        "one row per distributor and the header"
    );
    // The root of a chain holds everyone's volume: its GV is the total PV of the period.
    let total_pv: i128 = summary
        .lines()
        .skip(1)
        .map(|row| units(row.split(',').nth(3).unwrap()))
        .sum();
    let largest_gv: i128 = summary
        .lines()
        .skip(1)
        .map(|row| units(row.split(',').nth(4).unwrap()))
        .max()
        .unwrap();
    assert_eq!(largest_gv, total_pv);
}

fn units(volume: &str) -> i128 {
    volume
        .replace('.', "")
        .parse()
        .expect("a volume with 4 decimals")
}
