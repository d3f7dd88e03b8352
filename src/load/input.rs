//! A tenant's files as the store's records: `plan.json`, `distributors.csv` and `orders.csv`
//! in the layout `upline commissions` reads (COMP_PLAN_SPEC.md §1), as `upline generate` and
//! `upline export` write them.
//!
//! The files are checked first by the engine's own readers, so a load refuses exactly what a
//! commission run would, with the file, the line and the problem, before anything is
//! written. The rows are then enrolled in an index of the plan's shape, as the API enrolls
//! them, which numbers the distributors and places those the file leaves to the plan.

use crate::input_files::InputFile;
use api::directory::{Directory, PlacementChoice};
use engine::calendar::{parse_date, Period};
use engine::input::{read_distributors, read_orders, PlacementKind, BYTE_ORDER_MARK};
use std::collections::HashMap;
use std::path::Path;
use store::{Distributor, DistributorStatus, Order, OrderStatus};

pub struct TenantFiles {
    pub plan: serde_json::Value,
    /// In enrollment order (sponsors and placement parents first), numbered by it.
    pub distributors: Vec<Distributor>,
    /// In file order.
    pub orders: Vec<Order>,
}

/// Any period: it decides only which volumes the engine's order reader sums, and the load
/// keeps every order whatever its date, so each period checks the rows alike.
const CHECKING_PERIOD: &str = "2000-01";

/// Reads and checks `plan.json`, `distributors.csv` and `orders.csv` in `dir`.
pub fn read(dir: &Path) -> Result<TenantFiles, String> {
    let plan_file = InputFile::open(&dir.join("plan.json"))?;
    // A byte-order mark before the JSON is ignored, as `upline commissions` ignores it.
    let plan_bytes = plan_file.bytes();
    let plan_bytes = plan_bytes
        .strip_prefix(BYTE_ORDER_MARK)
        .unwrap_or(plan_bytes);
    let plan: serde_json::Value =
        serde_json::from_slice(plan_bytes).map_err(|error| format!("plan.json: {error}"))?;
    let compiled =
        api::runtime::compile_plan(&plan).map_err(|error| format!("plan.json: {error}"))?;
    let distributors_file = InputFile::open(&dir.join("distributors.csv"))?;
    let orders_file = InputFile::open(&dir.join("orders.csv"))?;
    let network = read_distributors(
        distributors_file.name(),
        distributors_file.bytes(),
        PlacementKind::of_plan(&compiled),
    )
    .map_err(|error| error.to_string())?;
    let period = Period::parse(CHECKING_PERIOD).expect("a valid period");
    read_orders(
        orders_file.name(),
        orders_file.bytes(),
        network.directory(),
        &period,
        None,
    )
    .map_err(|error| error.to_string())?;
    drop(network);
    let distributors = enroll_all(&compiled, text(&distributors_file)?)?;
    let orders = orders_of(text(&orders_file)?)?;
    Ok(TenantFiles {
        plan,
        distributors,
        orders,
    })
}

fn text(file: &InputFile) -> Result<&str, String> {
    std::str::from_utf8(file.bytes())
        .map_err(|_| format!("{}: the file is not UTF-8 text", file.name()))
}

/// The API's rule for an id (at most 128 bytes, where a commission run takes longer ones): a
/// loaded distributor or order must be reachable through the API, and an order for a
/// distributor the API cannot name could never be placed.
fn check_api_id(file: &str, line: usize, column: &str, id: &str) -> Result<(), String> {
    api::orders::check_id(column, id)
        .map_err(|error| format!("{file}:{line}: {error} (the API's rule for ids)"))
}

/// The data rows of a checked CSV file, with their line numbers (the header is line 1).
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.is_empty())
        .map(|(at, line)| (at + 1, line.trim_end_matches('\r').split(',').collect()))
}

/// Enrolls every row, each after its sponsor and placement parent, into an index of the
/// plan's shape; the records come back in enrollment order.
fn enroll_all(plan: &engine::plan::CompiledPlan, text: &str) -> Result<Vec<Distributor>, String> {
    let rows: Vec<(usize, Vec<&str>)> = rows(text).collect();
    // In file order, so that the first line at fault is the one reported.
    for (line, row) in &rows {
        check_api_id("distributors.csv", *line, "id", row[0])?;
    }
    let mut directory = Directory::for_plan(plan);
    let mut records = Vec::with_capacity(rows.len());
    for at in enrollment_order(&rows)? {
        let (line, row) = &rows[at];
        let at_line = |message: String| format!("distributors.csv:{line}: {message}");
        let placement = match (row[2], row[3]) {
            ("", _) => PlacementChoice::Default,
            (parent, "L") => PlacementChoice::At {
                parent_id: parent.into(),
                slot: 1,
            },
            (parent, "R") => PlacementChoice::At {
                parent_id: parent.into(),
                slot: 2,
            },
            (parent, slot) => PlacementChoice::At {
                parent_id: parent.into(),
                slot: slot
                    .parse()
                    .map_err(|_| at_line(format!("leg {slot:?} is not L, R or a slot number")))?,
            },
        };
        let joined = parse_date(row[4].as_bytes())
            .ok_or_else(|| at_line(format!("joined_on {:?} is not YYYY-MM-DD", row[4])))?;
        let sponsor = (!row[1].is_empty()).then_some(row[1]);
        let mut record = directory
            .enroll(row[0], sponsor, placement, joined, None)
            .map_err(|error| at_line(error.to_string()))?;
        if row[5] == "terminated" {
            record.status = DistributorStatus::Terminated;
        }
        records.push(record);
    }
    Ok(records)
}

/// Row positions in an order where every row comes after its sponsor and its placement
/// parent, the root first. (The engine's reader has checked that the references resolve and
/// that the trees have no cycle.)
fn enrollment_order(rows: &[(usize, Vec<&str>)]) -> Result<Vec<usize>, String> {
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(at, (_, row))| (row[0], at))
        .collect();
    let mut waiting = vec![0u8; rows.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut ready = Vec::new();
    for (at, (line, row)) in rows.iter().enumerate() {
        let mut parents: Vec<&str> = [row[1], row[2]]
            .into_iter()
            .filter(|parent| !parent.is_empty())
            .collect();
        parents.dedup();
        for parent in parents {
            let parent_at = *index.get(parent).ok_or_else(|| {
                format!("distributors.csv:{line}: unknown distributor {parent:?}")
            })?;
            dependents[parent_at].push(at);
            waiting[at] += 1;
        }
        if waiting[at] == 0 {
            ready.push(at);
        }
    }
    let mut order = Vec::with_capacity(rows.len());
    while let Some(at) = ready.pop() {
        order.push(at);
        for &dependent in &dependents[at] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }
    if order.len() != rows.len() {
        return Err("distributors.csv: the genealogy has a cycle".into());
    }
    // The root must come first: it is the one row without a sponsor.
    order.sort_by_key(|&at| !rows[at].1[1].is_empty());
    Ok(order)
}

/// The orders, created (for the record) at midnight UTC of their date: a load run twice
/// writes the same rows.
fn orders_of(text: &str) -> Result<Vec<Order>, String> {
    rows(text)
        .map(|(line, row)| {
            check_api_id("orders.csv", line, "order_id", row[0])?;
            let at_line = |message: String| format!("orders.csv:{line}: {message}");
            let volume = |cell: &str| {
                engine::number::parse_volume(cell.as_bytes())
                    .map_err(|error| at_line(format!("{cell:?} {}", error.describe())))
            };
            let day = parse_date(row[2].as_bytes())
                .ok_or_else(|| at_line(format!("date {:?} is not YYYY-MM-DD", row[2])))?;
            Ok(Order {
                order_id: row[0].to_owned(),
                distributor_id: row[1].to_owned(),
                date: row[2].to_owned(),
                pv: volume(row[3])?,
                cv: volume(row[4])?,
                status: if row[5] == "paid" {
                    OrderStatus::Paid
                } else {
                    OrderStatus::Refunded
                },
                created_at_ms: i64::from(day) * 86_400_000,
            })
        })
        .collect()
}
