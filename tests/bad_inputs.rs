//! One row per kind of bad input of COMP_PLAN_SPEC.md §1 and §2: `upline commissions` exits
//! 1, prints exactly one line naming the file, the line and the problem, and writes nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

const BINARY_PLAN: &str = r#"{"name":"t","currency":"USD","ranks":[{"name":"Member"},{"name":"Bronze","min_gv":100}],
 "bonuses":{"binary":{"pct":0.1},"unilevel":{"levels":[0.05]}}}"#;
const MATRIX_PLAN: &str = r#"{"name":"t","currency":"USD","ranks":[{"name":"Member"}],"bonuses":{"matrix":{"width":2,"levels":[0.05]}}}"#;
const UNILEVEL_PLAN: &str = r#"{"name":"t","currency":"USD","ranks":[{"name":"Member"}],"bonuses":{"unilevel":{"levels":[0.05]}}}"#;

const DISTRIBUTORS: &str = "id,sponsor_id,placement_id,leg,joined_on,status
co,,,,2024-01-01,active
a,co,co,L,2025-01-01,active
b,co,co,R,2025-01-01,active
c,a,a,L,2025-02-01,active
";
const ORDERS: &str = "order_id,distributor_id,date,pv,cv,status
o1,a,2026-11-02,100,100,paid
o2,b,2026-11-03,50.5,60,refunded
";
const STATE: &str = "id,carry_left,carry_right,highest_rank
a,10,0,Member
";

struct Case {
    name: &'static str,
    files: BTreeMap<&'static str, Vec<u8>>,
    period: &'static str,
    expected: &'static str,
}

fn case(name: &'static str, expected: &'static str, edits: &[(&'static str, &str)]) -> Case {
    let mut files = BTreeMap::from([
        ("plan.json", BINARY_PLAN.into()),
        ("distributors.csv", DISTRIBUTORS.into()),
        ("orders.csv", ORDERS.into()),
        ("state.csv", STATE.into()),
    ]);
    for (file, content) in edits {
        files.insert(file, content.as_bytes().to_vec());
    }
    Case {
        name,
        files,
        period: "2026-11",
        expected,
    }
}

fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the base file");
    text.replacen(from, to, 1)
}

fn cases() -> Vec<Case> {
    let d = DISTRIBUTORS;
    let o = ORDERS;
    let s = STATE;
    let mut cases = vec![
        // Plan (checked first).
        case("plan rate above 1", "plan.json: bonuses.binary.pct: must be between 0 and 1 (found 1.5)",
            &[("plan.json", &replace(BINARY_PLAN, "\"pct\":0.1", "\"pct\":1.5")), ("distributors.csv", "broken")]),
        case("plan with binary and matrix", "plan.json: bonuses: a plan may not have both binary and matrix",
            &[("plan.json", &replace(BINARY_PLAN, "\"unilevel\"", "\"matrix\":{\"width\":2,\"levels\":[0.1]},\"unilevel\""))]),
        case("plan with an unknown rank name", "plan.json: bonuses.rank_advancement.Gold: unknown rank name \"Gold\"; the plan's ranks are Member, Bronze",
            &[("plan.json", &replace(BINARY_PLAN, "\"binary\"", "\"rank_advancement\":{\"Gold\":5},\"binary\""))]),
        case("plan that is not JSON", "plan.json: not valid JSON: EOF while parsing an object at line 1 column 1", &[("plan.json", "{")]),
        // distributors.csv: columns.
        case("missing column", "distributors.csv:1: missing column \"status\"; the header must be \"id,sponsor_id,placement_id,leg,joined_on,status\"",
            &[("distributors.csv", &replace(d, ",status\n", "\n"))]),
        case("extra column", "distributors.csv:1: extra column \"region\"; the header must be \"id,sponsor_id,placement_id,leg,joined_on,status\"",
            &[("distributors.csv", &replace(d, ",status\n", ",status,region\n"))]),
        case("misnamed column", "distributors.csv:1: column 3 is \"placement\", expected \"placement_id\"; the header must be \"id,sponsor_id,placement_id,leg,joined_on,status\"",
            &[("distributors.csv", &replace(d, "placement_id", "placement"))]),
        case("wrong number of fields", "distributors.csv:3: expected 6 fields, found 5", &[("distributors.csv", &replace(d, "a,co,co,L,", "a,co,L,"))]),
        case("blank line", "distributors.csv:4: blank line; remove it (only one final empty line is allowed)",
            &[("distributors.csv", &replace(d, "b,co,co,R", "\nb,co,co,R"))]),
        // distributors.csv: rows.
        case("malformed date", "distributors.csv:4: joined_on \"2025-02-30\" is not a date of the form YYYY-MM-DD",
            &[("distributors.csv", &replace(d, "b,co,co,R,2025-01-01", "b,co,co,R,2025-02-30"))]),
        case("unknown distributor status", "distributors.csv:5: unknown status \"paused\"; use active or terminated",
            &[("distributors.csv", &replace(d, "2025-02-01,active", "2025-02-01,paused"))]),
        case("root with a placement", "distributors.csv:2: the root has a placement; leave its placement_id and leg empty",
            &[("distributors.csv", &replace(d, "co,,,,", "co,,a,L,"))]),
        case("binary leg other than L or R", "distributors.csv:5: leg \"X\" must be L or R", &[("distributors.csv", &replace(d, "c,a,a,L", "c,a,a,X"))]),
        case("matrix slot outside the width", "distributors.csv:5: slot 3 is outside 1..2 (the matrix width)",
            &[("plan.json", MATRIX_PLAN), ("distributors.csv", &replace(&replace(&replace(d, "co,co,L", "co,co,1"), "co,co,R", "co,co,2"), "a,a,L", "a,a,3"))]),
        case("id with whitespace", "distributors.csv:5: id \"c d\" contains a quote, whitespace or a control character", &[("distributors.csv", &replace(d, "c,a,a,L", "c d,a,a,L"))]),
        // distributors.csv: references between rows.
        case("duplicate id", "distributors.csv:6: duplicate id \"a\" (first at line 3)", &[("distributors.csv", &format!("{d}a,co,c,L,2025-01-01,active\n"))]),
        case("unknown sponsor", "distributors.csv:5: unknown sponsor_id \"zz\"", &[("distributors.csv", &replace(d, "c,a,a,L", "c,zz,a,L"))]),
        case("unknown placement", "distributors.csv:5: unknown placement_id \"zz\"", &[("distributors.csv", &replace(d, "c,a,a,L", "c,a,zz,L"))]),
        case("two roots", "distributors.csv:6: a second root: \"x\" has an empty sponsor_id like \"co\" (line 2); only the company's house account has no sponsor",
            &[("plan.json", UNILEVEL_PLAN), ("distributors.csv", &format!("{d}x,,,,2025-01-01,active\n"))]),
        case("second child on a binary leg", "distributors.csv:6: leg L of \"a\" is already taken by \"c\" (line 5)",
            &[("distributors.csv", &format!("{d}e,a,a,L,2025-03-01,active\n"))]),
        case("second child on a matrix slot", "distributors.csv:6: slot 1 of \"a\" is already taken by \"c\" (line 5)",
            &[("plan.json", MATRIX_PLAN), ("distributors.csv", &format!("{}e,a,a,1,2025-03-01,active\n", replace(&replace(&replace(d, "co,co,L", "co,co,1"), "co,co,R", "co,co,2"), "a,a,L", "a,a,1")))]),
        // distributors.csv: the tree as a whole.
        case("no root", "distributors.csv: no root: exactly one row needs an empty sponsor_id (the company's house account)",
            &[("plan.json", UNILEVEL_PLAN), ("distributors.csv", &replace(d, "co,,,,", "co,c,,,"))]),
        case("sponsor cycle", "distributors.csv:3: sponsor cycle: \"a\" → \"b\" → \"a\" (each sponsor_id points to the next, so none of them reaches the root)",
            &[("distributors.csv", &replace(&replace(d, "a,co,co,L", "a,b,co,L"), "b,co,co,R", "b,a,co,R"))]),
        case("placement cycle", "distributors.csv:3: placement cycle: \"a\" → \"c\" → \"a\" (each placement_id points to the next, so none of them reaches the root)",
            &[("distributors.csv", &replace(&replace(d, "a,co,co,L", "a,co,c,R"), "b,co,co,R", "b,co,co,L"))]),
        // orders.csv.
        case("unknown order distributor", "orders.csv:3: unknown distributor id \"d99\"", &[("orders.csv", &replace(o, "o2,b,", "o2,d99,"))]),
        case("duplicate order id", "orders.csv:4: duplicate order_id \"o1\" (first at line 2)", &[("orders.csv", &format!("{o}o1,c,2026-11-04,1,1,paid\n"))]),
        case("negative volume", "orders.csv:2: pv \"-100\" is negative; volumes are never below 0", &[("orders.csv", &replace(o, "2026-11-02,100", "2026-11-02,-100"))]),
        case("malformed volume", "orders.csv:3: cv \"6O\" is not a number of the form 123 or 123.4567", &[("orders.csv", &replace(o, ",60,", ",6O,"))]),
        case("too many decimals", "orders.csv:3: pv \"50.12345\" has more than 4 fractional digits", &[("orders.csv", &replace(o, "50.5", "50.12345"))]),
        case("unknown order status", "orders.csv:3: unknown status \"cancelled\"; use paid or refunded", &[("orders.csv", &replace(o, "refunded", "cancelled"))]),
        case("malformed order date", "orders.csv:2: date \"2026-11-2\" is not a date of the form YYYY-MM-DD", &[("orders.csv", &replace(o, "2026-11-02", "2026-11-2"))]),
        // state.csv.
        case("state for an unknown id", "state.csv:3: unknown distributor id \"zz\" (not in the distributors file)", &[("state.csv", &format!("{s}zz,0,0,Member\n"))]),
        case("second state row for one id", "state.csv:3: a second row for id \"a\" (first at line 2)", &[("state.csv", &format!("{s}a,0,0,Member\n"))]),
        case("unknown rank name in state", "state.csv:2: unknown rank name \"Diamond\"; the plan's ranks are Member, Bronze", &[("state.csv", &replace(s, "Member", "Diamond"))]),
        case("malformed carry", "state.csv:2: carry_left \"1e3\" is not a number of the form 123 or 123.4567", &[("state.csv", &replace(s, "a,10,", "a,1e3,"))]),
        // Files are checked in the order plan, distributors, orders, state.
        case("distributors before orders", "distributors.csv:5: unknown sponsor_id \"zz\"",
            &[("distributors.csv", &replace(d, "c,a,a,L", "c,zz,a,L")), ("orders.csv", "garbage")]),
        // Within a file the row pass comes before the cross-row pass.
        case("row errors before reference errors", "distributors.csv:6: unknown status \"paused\"; use active or terminated",
            &[("distributors.csv", &format!("{}e,c,c,L,2025-01-01,paused\n", replace(d, "c,a,a,L", "c,zz,a,L")))]),
    ];
    let mut week = case(
        "a week that does not exist",
        "--period: \"2025-W53\" does not exist: 2025 has 52 ISO weeks",
        &[],
    );
    week.period = "2025-W53";
    cases.push(week);
    // Bytes that are not UTF-8 (an export in Latin-1: `é` as the single byte 0xE9).
    let mut latin1 = case(
        "id that is not UTF-8",
        "distributors.csv:5: id \"c\u{fffd}\" is not UTF-8 text; save the file as UTF-8",
        &[],
    );
    let mut bytes = replace(d, "c,a,a,L", "c\u{1},a,a,L").into_bytes();
    bytes
        .iter_mut()
        .filter(|byte| **byte == 1)
        .for_each(|byte| *byte = 0xE9);
    latin1.files.insert("distributors.csv", bytes);
    cases.push(latin1);
    let mut with_bom = case(
        "a byte-order mark before the header",
        "orders.csv:1: the file starts with a byte-order mark (U+FEFF, which Excel's \"CSV UTF-8\" writes); save it as plain UTF-8 without one, the header first: \"order_id,distributor_id,date,pv,cv,status\"",
        &[],
    );
    with_bom
        .files
        .insert("orders.csv", format!("\u{feff}{o}").into_bytes());
    cases.push(with_bom);
    cases
}

#[test]
fn every_bad_input_is_one_line_exit_one_and_nothing_written() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, content) in &case.files {
            std::fs::write(dir.path().join(name), content).expect("write input");
        }
        let out = dir.path().join("out");
        let output = run(dir.path(), case.period, &out);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.code() != Some(1) {
            failures.push(format!(
                "{}: exit {:?}, stderr {stderr:?}",
                case.name,
                output.status.code()
            ));
        } else if stderr != format!("{}\n", case.expected) {
            failures.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}",
                case.name,
                case.expected,
                stderr.trim_end()
            ));
        } else if out.exists() {
            failures.push(format!("{}: the output directory was created", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad-input cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_base_case_of_the_table_is_valid() {
    // Guards the table: every row differs from a run that succeeds only by its one edit.
    let dir = tempfile::tempdir().expect("temp dir");
    let base = case("base", "", &[]);
    for (name, content) in &base.files {
        std::fs::write(dir.path().join(name), content).expect("write input");
    }
    let out = dir.path().join("out");
    let output = run(dir.path(), "2026-11", &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.join("lines.csv").exists()
            && out.join("summary.csv").exists()
            && out.join("state.csv").exists()
    );
}

fn run(dir: &Path, period: &str, out: &Path) -> std::process::Output {
    common::commissions(
        &dir.join("plan.json"),
        &dir.join("distributors.csv"),
        &dir.join("orders.csv"),
        Some(&dir.join("state.csv")),
        period,
        out,
    )
}

#[test]
fn an_output_path_that_is_a_file_is_one_line_and_exit_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = case("base", "", &[]);
    for (name, content) in &base.files {
        std::fs::write(dir.path().join(name), content).expect("write input");
    }
    let out = dir.path().join("taken");
    std::fs::write(&out, "a file, not a directory").expect("write the obstacle");
    let output = run(dir.path(), "2026-11", &out);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.trim_end()
            == format!(
                "--out: {} is a file; give a folder (it is created if missing)",
                out.display()
            ),
        "{stderr}"
    );
}

#[test]
fn an_output_folder_holding_the_state_input_is_refused_and_left_alone() {
    // --out is the folder of the inputs: the next state.csv would replace the previous one,
    // and closing the period again would read it as the previous state.
    let dir = tempfile::tempdir().expect("temp dir");
    let base = case("base", "", &[]);
    for (name, content) in &base.files {
        std::fs::write(dir.path().join(name), content).expect("write input");
    }
    let before: Vec<(String, Vec<u8>)> = common::folder_contents(dir.path());
    let output = run(dir.path(), "2026-11", dir.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "--out: writing state.csv in {0} would replace the --state file {0}/state.csv, which this run reads; give another --out folder",
            dir.path().display()
        )
    );
    assert_eq!(
        common::folder_contents(dir.path()),
        before,
        "the folder changed"
    );
}

#[test]
fn missing_files_are_reported_in_the_order_plan_distributors_orders_state() {
    // The files are opened side by side; whichever is missing first in this order is named.
    let base = case("base", "", &[]);
    let order = ["plan.json", "distributors.csv", "orders.csv", "state.csv"];
    for (at, first_missing) in order.iter().enumerate() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, content) in &base.files {
            // The files before `first_missing` exist; it and every later one are missing.
            if order[..at].contains(name) {
                std::fs::write(dir.path().join(name), content).expect("write input");
            }
        }
        let out = dir.path().join("out");
        let output = run(dir.path(), "2026-11", &out);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("{first_missing}: cannot read ")),
            "{first_missing}: {stderr}"
        );
        assert!(!out.exists(), "nothing is written");
    }
}

#[test]
fn an_input_path_that_is_a_folder_is_one_line_saying_so() {
    let base = case("base", "", &[]);
    for input in ["plan.json", "distributors.csv", "orders.csv", "state.csv"] {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, content) in &base.files {
            if *name != input {
                std::fs::write(dir.path().join(name), content).expect("write input");
            }
        }
        let folder = dir.path().join(input);
        std::fs::create_dir(&folder).expect("a folder in the file's place");
        let out = dir.path().join("out");
        let output = run(dir.path(), "2026-11", &out);
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end(),
            format!(
                "{input}: {} is a folder; give the path of the file in it",
                folder.display()
            )
        );
        assert!(!out.exists(), "nothing is written");
    }
}
