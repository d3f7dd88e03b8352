//! Bad input far into a large file: files of over 1 MiB are cut into pieces parsed on both
//! cores, and ids are placed and looked up in tasks of 65,536. A problem must still be reported
//! at its own line (the header is line 1), and of several problems the earliest in the file,
//! whichever piece or task found it (COMP_PLAN_SPEC.md §1).

mod common;

use common::{csv, Loaded, DISTRIBUTORS_HEADER};
use engine::id_index::IdLookup;
use engine::input::{read_distributors, PlacementKind};

/// Rows per file: each file is well over 1 MiB.
const COUNT: usize = 120_000;

const PLAN: &str = r#"{"name":"p","currency":"USD","currency_decimals":2,"activity":{"min_pv":50},
    "ranks":[{"name":"Member"},{"name":"Bronze","min_pv":50,"min_gv":200}],
    "bonuses":{"unilevel":{"levels":[0.05,0.04],"compression":true}}}"#;

/// How the files name distributors: each naming takes its own path through the index.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Naming {
    /// `member-0` … `member-119999`: ids that fill their space, numbered by counting.
    Dense,
    /// Eight hex digits scattered over 2^32: short ids kept as hashed codes.
    Sparse,
    /// Over 16 bytes: ids kept as their bytes.
    Long,
}

impl Naming {
    const ALL: [Naming; 3] = [Naming::Dense, Naming::Sparse, Naming::Long];

    fn id(self, member: usize) -> String {
        match self {
            Naming::Dense => format!("member-{member}"),
            // Multiplying by an odd number is a bijection of u32: the ids stay distinct.
            Naming::Sparse => format!("s{:08x}", (member as u32).wrapping_mul(0x9E37_79B1)),
            Naming::Long => format!("company-wide-member-{member}"),
        }
    }
}

/// Valid files: a sponsor tree in which member `i` is sponsored by `i / 3`, an order for
/// everyone and a state row for everyone. Row `r` of a file is member `r`'s, on line `r + 2`.
struct Files {
    naming: Naming,
    rows: common::Files,
}

impl Files {
    fn valid(naming: Naming) -> Files {
        let distributors = (0..COUNT)
            .map(|member| {
                let sponsor = if member == 0 {
                    String::new()
                } else {
                    naming.id(member / 3)
                };
                distributor_row(&naming.id(member), &sponsor, "2026-01-15", "active")
            })
            .collect();
        let orders = (0..COUNT)
            .map(|member| order_row(&format!("order-{member}"), &naming.id(member), "90"))
            .collect();
        let state = (0..COUNT)
            .map(|member| state_row(&naming.id(member), "Member"))
            .collect();
        Files {
            naming,
            rows: common::Files {
                plan: PLAN.into(),
                distributors,
                orders,
                state,
            },
        }
    }

    fn id(&self, member: usize) -> String {
        self.naming.id(member)
    }

    /// The first problem reported when the files are read as `upline commissions` reads them
    /// (distributors, then orders and state beside the trees), or `None` when they are valid.
    fn first_problem(&self) -> Option<String> {
        let bytes = self.rows.bytes();
        assert!(
            [&bytes.distributors, &bytes.orders, &bytes.state]
                .iter()
                .all(|bytes| bytes.len() > 1 << 20),
            "every file is large enough to be cut into pieces"
        );
        Loaded::read(&bytes).err()
    }
}

fn distributor_row(id: &str, sponsor: &str, joined_on: &str, status: &str) -> String {
    format!("{id},{sponsor},,,{joined_on},{status}")
}

fn order_row(order_id: &str, distributor: &str, cv: &str) -> String {
    format!("{order_id},{distributor},2026-11-05,100.5,{cv},paid")
}

fn state_row(id: &str, rank: &str) -> String {
    format!("{id},0,0,{rank}")
}

/// The line of row `row` of a file.
fn line(row: usize) -> usize {
    row + 2
}

/// Runs `case` on valid files of every naming, changed by `change`, and asserts the problem.
fn for_every_naming(
    change: impl Fn(&mut Files),
    file: &str,
    expected_line: usize,
    expected: impl Fn(&Files) -> String,
) {
    for naming in Naming::ALL {
        let mut files = Files::valid(naming);
        change(&mut files);
        let problem = files
            .first_problem()
            .unwrap_or_else(|| panic!("{naming:?}: the files are accepted"));
        let prefix = format!("{file}:{expected_line}: ");
        let expected = expected(&files);
        assert!(
            problem.starts_with(&prefix) && problem.contains(&expected),
            "{naming:?}: expected `{prefix}…{expected}…`, got `{problem}`"
        );
    }
}

#[test]
fn the_valid_files_are_read_each_naming_through_its_own_index() {
    for naming in Naming::ALL {
        let files = Files::valid(naming);
        assert_eq!(files.first_problem(), None, "{naming:?}");
        let bytes = csv(DISTRIBUTORS_HEADER, &files.rows.distributors);
        let network = read_distributors("distributors.csv", &bytes, PlacementKind::Ignored)
            .expect("valid distributors");
        let index = match network.index {
            IdLookup::Dense { .. } => Naming::Dense,
            IdLookup::Coded { .. } => Naming::Sparse,
            IdLookup::Hashed(_) => Naming::Long,
        };
        assert_eq!(index, naming, "the index the ids were placed in");
    }
}

#[test]
fn a_malformed_distributor_row_deep_in_the_file_is_reported_at_its_line() {
    // Two problems in later pieces of the file: the earlier is reported.
    for_every_naming(
        |files| {
            files.rows.distributors[110_000] = distributor_row(
                &files.id(110_000),
                &files.id(36_666),
                "2026-13-01",
                "active",
            );
            files.rows.distributors[97_531] = distributor_row(
                &files.id(97_531),
                &files.id(32_510),
                "2026-01-15",
                "dormant",
            );
        },
        "distributors.csv",
        line(97_531),
        |_| "dormant".into(),
    );
}

#[test]
fn a_repeated_distributor_id_is_reported_at_its_second_line() {
    for_every_naming(
        |files| {
            files.rows.distributors[101_000] =
                distributor_row(&files.id(7), &files.id(33_666), "2026-01-15", "active");
        },
        "distributors.csv",
        line(101_000),
        |files| files.id(7),
    );
}

#[test]
fn an_unknown_sponsor_deep_in_the_file_is_reported_at_its_line() {
    for_every_naming(
        |files| {
            files.rows.distributors[119_999] =
                distributor_row(&files.id(119_999), "nobody-2", "2026-01-15", "active");
            files.rows.distributors[88_888] =
                distributor_row(&files.id(88_888), "nobody-1", "2026-01-15", "active");
        },
        "distributors.csv",
        line(88_888),
        |_| "nobody-1".into(),
    );
}

#[test]
fn a_malformed_order_deep_in_the_file_is_reported_at_its_line() {
    for_every_naming(
        |files| {
            files.rows.orders[115_000] = order_row("order-115000", &files.id(115_000), "-3");
            files.rows.orders[100_123] = order_row("order-100123", &files.id(100_123), "9x0");
        },
        "orders.csv",
        line(100_123),
        |_| "9x0".into(),
    );
}

#[test]
fn an_order_of_an_unknown_distributor_is_reported_at_its_line() {
    for_every_naming(
        |files| files.rows.orders[93_000] = order_row("order-93000", "stranger", "90"),
        "orders.csv",
        line(93_000),
        |_| "stranger".into(),
    );
}

#[test]
fn a_repeated_order_id_is_reported_at_its_second_line() {
    for_every_naming(
        |files| files.rows.orders[104_321] = order_row("order-12", &files.id(104_321), "90"),
        "orders.csv",
        line(104_321),
        |_| "order-12".into(),
    );
}

#[test]
fn a_state_row_of_an_unknown_id_is_reported_at_its_line() {
    for_every_naming(
        |files| files.rows.state[99_000] = state_row("stranger", "Member"),
        "state.csv",
        line(99_000),
        |_| "stranger".into(),
    );
}

#[test]
fn a_repeated_state_row_is_reported_at_its_second_line() {
    for_every_naming(
        |files| files.rows.state[111_111] = state_row(&files.id(5), "Member"),
        "state.csv",
        line(111_111),
        |files| files.id(5),
    );
}

#[test]
fn an_unknown_rank_in_the_state_is_reported_at_its_line() {
    for_every_naming(
        |files| files.rows.state[118_000] = state_row(&files.id(118_000), "Gold"),
        "state.csv",
        line(118_000),
        |_| "Gold".into(),
    );
}

#[test]
fn a_second_root_deep_in_the_file_is_reported_at_its_line() {
    for_every_naming(
        |files| {
            files.rows.distributors[102_400] =
                distributor_row(&files.id(102_400), "", "2026-01-15", "active");
        },
        "distributors.csv",
        line(102_400),
        |_| "root".into(),
    );
}

#[test]
fn a_cycle_deep_in_the_file_is_reported_at_one_of_its_members() {
    for naming in Naming::ALL {
        let mut files = Files::valid(naming);
        // Member 90,001 is sponsored by 30,000: sponsoring 30,000 by it closes a cycle.
        files.rows.distributors[30_000] =
            distributor_row(&files.id(30_000), &files.id(90_001), "2026-01-15", "active");
        let problem = files.first_problem().expect("the files are refused");
        let members = [line(30_000), line(90_001)].map(|line| format!("distributors.csv:{line}: "));
        assert!(
            members.iter().any(|prefix| problem.starts_with(prefix)) && problem.contains("cycle"),
            "{naming:?}: expected a cycle at line {} or {}, got `{problem}`",
            line(30_000),
            line(90_001)
        );
    }
}
