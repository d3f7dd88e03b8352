//! `upline generate` end to end: the built binary writes the fixture layout, byte for byte the
//! same on every run, with the sponsor tree and orders independent of the plan, and
//! `upline commissions` closes the generated period.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

const PLANS: [&str; 4] = ["full", "unilevel", "binary", "matrix"];
const SHAPES: [&str; 3] = ["random", "chain", "star"];
const COUNT: usize = 2000;

fn upline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upline"))
        .args(args)
        .output()
        .expect("the upline binary runs")
}

fn generate(dir: &Path, plan: &str, shape: &str, seed: &str) {
    let count = COUNT.to_string();
    let out = dir.to_str().unwrap();
    let output = upline(&[
        "generate",
        "--distributors",
        &count,
        "--seed",
        seed,
        "--plan",
        plan,
        "--shape",
        shape,
        "--out",
        out,
    ]);
    assert!(
        output.status.success(),
        "generate {plan} {shape} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// The rows of a CSV file after checking its header and line ends.
fn rows(dir: &Path, name: &str, header: &str) -> Vec<Vec<String>> {
    let text = read(dir, name);
    assert!(!text.contains('\r'), "{name}: CR in a line end");
    assert!(text.ends_with('\n'), "{name}: no final line end");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{name}: header");
    let columns = header.split(',').count();
    lines
        .map(|line| {
            let fields: Vec<String> = line.split(',').map(str::to_string).collect();
            assert_eq!(fields.len(), columns, "{name}: {line}");
            fields
        })
        .collect()
}

fn is_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && (!text.contains('.')
            || (1..=4).contains(&fraction.len()) && fraction.bytes().all(|b| b.is_ascii_digit()))
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && text
            .bytes()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

const DISTRIBUTORS: &str = "id,sponsor_id,placement_id,leg,joined_on,status";
const ORDERS: &str = "order_id,distributor_id,date,pv,cv,status";
const STATE: &str = "id,carry_left,carry_right,highest_rank";

fn check_files(dir: &Path, plan: &str, shape: &str) {
    assert_eq!(read(dir, "period"), "2026-11\n");
    let plan_json: serde_json::Value =
        serde_json::from_str(&read(dir, "plan.json")).expect("plan.json is JSON");
    assert_eq!(plan_json["name"], format!("generated-{plan}"));

    let distributors = rows(dir, "distributors.csv", DISTRIBUTORS);
    assert_eq!(distributors.len(), COUNT, "{plan} {shape}");
    let ids: HashSet<&str> = distributors.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), COUNT, "ids are unique");
    let roots: Vec<_> = distributors.iter().filter(|r| r[1].is_empty()).collect();
    assert_eq!(roots.len(), 1, "exactly one root");
    let placed = matches!(plan, "full" | "binary" | "matrix");
    let mut slots = HashSet::new();
    for row in &distributors {
        assert!(row[0].starts_with('d') && row[0].len() >= 8, "{row:?}");
        assert!(
            row[1].is_empty() || ids.contains(row[1].as_str()),
            "unknown sponsor: {row:?}"
        );
        assert!(is_date(&row[4]), "{row:?}");
        assert!(row[5] == "active" || row[5] == "terminated", "{row:?}");
        if placed && !row[1].is_empty() {
            assert!(ids.contains(row[2].as_str()), "unknown placement: {row:?}");
            let legs: &[&str] = if plan == "matrix" {
                &["1", "2", "3"]
            } else {
                &["L", "R"]
            };
            assert!(legs.contains(&row[3].as_str()), "{row:?}");
            assert!(
                slots.insert((row[2].clone(), row[3].clone())),
                "two children in one slot: {row:?}"
            );
        } else {
            assert!(row[2].is_empty() && row[3].is_empty(), "{plan}: {row:?}");
        }
    }
    let sponsor_of: HashMap<&str, &str> = distributors
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    match shape {
        "star" => assert!(distributors
            .iter()
            .all(|r| r[1].is_empty() || r[1] == roots[0][0])),
        "chain" => {
            // Walking up from some distributor reaches every one of them.
            let children: HashSet<&str> = sponsor_of.values().copied().collect();
            let leaf = distributors
                .iter()
                .find(|r| !children.contains(r[0].as_str()))
                .unwrap();
            let (mut node, mut depth) = (leaf[0].as_str(), 0);
            while !sponsor_of[node].is_empty() {
                node = sponsor_of[node];
                depth += 1;
            }
            assert_eq!(depth, COUNT - 1);
        }
        _ => {}
    }

    let orders = rows(dir, "orders.csv", ORDERS);
    assert!(
        (COUNT..COUNT * 2).contains(&orders.len()),
        "{} orders",
        orders.len()
    );
    let order_ids: HashSet<&str> = orders.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(order_ids.len(), orders.len(), "order ids are unique");
    for row in &orders {
        assert!(ids.contains(row[1].as_str()), "{row:?}");
        assert!(
            is_date(&row[2]) && is_decimal(&row[3]) && is_decimal(&row[4]),
            "{row:?}"
        );
        assert!(row[5] == "paid" || row[5] == "refunded", "{row:?}");
    }

    let state = rows(dir, "state.csv", STATE);
    assert!(
        (COUNT / 5..COUNT * 2 / 5).contains(&state.len()),
        "{} state rows",
        state.len()
    );
    let ranks: Vec<&str> = plan_json["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut seen = HashSet::new();
    for row in &state {
        assert!(
            ids.contains(row[0].as_str()) && seen.insert(row[0].clone()),
            "{row:?}"
        );
        assert!(is_decimal(&row[1]) && is_decimal(&row[2]), "{row:?}");
        assert!(ranks.contains(&row[3].as_str()), "{row:?}");
        if !matches!(plan, "full" | "binary") {
            assert_eq!((row[1].as_str(), row[2].as_str()), ("0", "0"));
        }
    }
}

#[test]
fn every_plan_and_shape_writes_the_fixture_layout() {
    let tmp = tempfile::tempdir().unwrap();
    for plan in PLANS {
        for shape in SHAPES {
            let dir = tmp.path().join(format!("{plan}-{shape}"));
            generate(&dir, plan, shape, "7");
            check_files(&dir, plan, shape);
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "distributors.csv",
                    "orders.csv",
                    "period",
                    "plan.json",
                    "state.csv"
                ]
            );
        }
    }
}

#[test]
fn two_runs_are_byte_identical_and_seeds_differ() {
    let tmp = tempfile::tempdir().unwrap();
    for plan in PLANS {
        let (a, b, c) = (
            tmp.path().join(format!("{plan}-a")),
            tmp.path().join(format!("{plan}-b")),
            tmp.path().join(format!("{plan}-c")),
        );
        generate(&a, plan, "random", "11");
        generate(&b, plan, "random", "11");
        generate(&c, plan, "random", "12");
        for name in [
            "distributors.csv",
            "orders.csv",
            "state.csv",
            "plan.json",
            "period",
        ] {
            assert_eq!(
                read(&a, name),
                read(&b, name),
                "{plan}: {name} differs between two runs"
            );
        }
        assert_ne!(read(&a, "orders.csv"), read(&c, "orders.csv"));
        assert_ne!(read(&a, "distributors.csv"), read(&c, "distributors.csv"));
    }
}

#[test]
fn plans_share_the_sponsor_tree_orders_and_state_rows() {
    let tmp = tempfile::tempdir().unwrap();
    for shape in SHAPES {
        let dirs: Vec<_> = PLANS
            .iter()
            .map(|plan| {
                let dir = tmp.path().join(format!("{plan}-{shape}"));
                generate(&dir, plan, shape, "3");
                dir
            })
            .collect();
        let sponsors = |dir: &Path| -> Vec<(String, String, String, String)> {
            rows(dir, "distributors.csv", DISTRIBUTORS)
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone(), r[4].clone(), r[5].clone()))
                .collect()
        };
        let state_ids = |dir: &Path| -> Vec<String> {
            rows(dir, "state.csv", STATE)
                .into_iter()
                .map(|r| r[0].clone())
                .collect()
        };
        for dir in &dirs[1..] {
            assert_eq!(
                sponsors(&dirs[0]),
                sponsors(dir),
                "{shape}: sponsor columns differ"
            );
            assert_eq!(
                read(&dirs[0], "orders.csv"),
                read(dir, "orders.csv"),
                "{shape}: orders differ"
            );
            assert_eq!(
                state_ids(&dirs[0]),
                state_ids(dir),
                "{shape}: state rows differ"
            );
        }
        // full and binary share the placement and the carries too.
        assert_eq!(
            read(&dirs[0], "distributors.csv"),
            read(&dirs[2], "distributors.csv")
        );
        assert_eq!(read(&dirs[0], "state.csv"), read(&dirs[2], "state.csv"));
    }
}

#[test]
fn bad_flags_exit_1_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--distributors", "0", "--seed", "1"],
            "--distributors: must be at least 1\n",
        ),
        (
            &[
                "--distributors",
                "10",
                "--seed",
                "1",
                "--period",
                "2025-W53",
            ],
            "--period: \"2025-W53\" does not exist: 2025 has 52 ISO weeks\n",
        ),
        (
            &["--distributors", "10", "--seed", "1", "--period", "2026-13"],
            "--period: \"2026-13\" does not exist: months run from 01 to 12\n",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["generate", "--out", out];
        args.extend_from_slice(flags);
        let output = upline(&args);
        assert_eq!(output.status.code(), Some(1), "{flags:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), message);
        assert!(!Path::new(out).exists(), "nothing is written on bad flags");
    }
}

#[test]
fn help_explains_every_flag() {
    let output = upline(&["generate", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--distributors",
        "--seed",
        "--shape",
        "--plan",
        "--period",
        "--out",
        "[default: random]",
        "[default: full]",
        "[default: 2026-11]",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn iso_week_periods_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("week");
    let output = upline(&[
        "generate",
        "--distributors",
        "500",
        "--seed",
        "1",
        "--period",
        "2026-W47",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(read(&dir, "period"), "2026-W47\n");
    let orders = rows(&dir, "orders.csv", ORDERS);
    let inside = orders
        .iter()
        .filter(|r| ("2026-11-16".."2026-11-23").contains(&r[2].as_str()))
        .count();
    assert!(
        inside * 10 >= orders.len() * 9,
        "{inside} of {} orders inside the week",
        orders.len()
    );
}

#[test]
fn generated_network_closes_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    for plan in PLANS {
        for shape in SHAPES {
            let dir = tmp.path().join(format!("{plan}-{shape}"));
            generate(&dir, plan, shape, "21");
            let out = dir.join("out");
            let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
            let period = read(&dir, "period");
            let output = upline(&[
                "commissions",
                "--plan",
                &file("plan.json"),
                "--distributors",
                &file("distributors.csv"),
                "--orders",
                &file("orders.csv"),
                "--state",
                &file("state.csv"),
                "--period",
                period.trim_end(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(
                output.status.success(),
                "commissions on {plan} {shape} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            for name in ["lines.csv", "summary.csv", "state.csv"] {
                assert!(out.join(name).is_file(), "{plan} {shape}: no {name}");
            }
        }
    }
}

#[test]
fn an_out_path_that_is_a_file_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = tmp.path().join("taken");
    std::fs::write(&taken, "a file, not a folder").unwrap();
    let output = upline(&[
        "generate",
        "--distributors",
        "10",
        "--seed",
        "1",
        "--out",
        taken.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "--out: {} is a file; give a folder (it is created if missing)\n",
            taken.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&taken).unwrap(),
        "a file, not a folder"
    );
}
