//! Property tests of a whole run on random networks: determinism, independence from row
//! order, consistency of the outputs, and the invariants of the bonuses, some against a
//! deliberately naive model (walking parents one step at a time).

mod common;

use common::{csv, kind_strategy, random_files, with_run, Files, Kind, Outputs, Random};
use engine::run::Bonus;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// The same files with every distributor id behind `prefix`, in each column that holds one.
fn with_prefixed_ids(files: &Files, prefix: &str) -> Files {
    with_renamed_ids(files, |id| format!("{prefix}{id}"))
}

/// The files with every distributor id replaced by `rename(id)`.
fn with_renamed_ids(files: &Files, rename: impl Fn(&str) -> String) -> Files {
    let rename_columns = |rows: &[String], columns: &[usize]| -> Vec<String> {
        rows.iter()
            .map(|row| rename_fields(row, columns, &rename))
            .collect()
    };
    Files {
        plan: files.plan.clone(),
        distributors: rename_columns(&files.distributors, &[0, 1, 2]),
        orders: rename_columns(&files.orders, &[1]),
        state: rename_columns(&files.state, &[0]),
    }
}

/// `row` with the non-empty fields at `columns` replaced by `rename(field)`.
fn rename_fields(row: &str, columns: &[usize], rename: &impl Fn(&str) -> String) -> String {
    let mut fields: Vec<String> = row.split(',').map(str::to_string).collect();
    for &column in columns {
        if !fields[column].is_empty() {
            fields[column] = rename(&fields[column]);
        }
    }
    fields.join(",")
}

/// The distributors' ids in byte order.
fn sorted_ids(files: &Files) -> Vec<&str> {
    let mut ids: Vec<&str> = files
        .distributors
        .iter()
        .map(|row| row.split(',').next().expect("an id"))
        .collect();
    ids.sort_unstable();
    ids
}

/// Each distributor id's place in id order.
fn places_in_id_order(files: &Files) -> BTreeMap<String, usize> {
    sorted_ids(files)
        .iter()
        .enumerate()
        .map(|(place, id)| (id.to_string(), place))
        .collect()
}

/// Parses an amount such as `12.34` or `-5` into integer units of its own decimals.
fn units(text: &str) -> i128 {
    text.replace('.', "").parse().expect("amount")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn same_inputs_give_identical_bytes(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        same_inputs_give_identical_bytes_on(&random_files(seed, count, kind))?;
    }

    #[test]
    fn shuffling_rows_changes_nothing(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy(), shuffle_seed in any::<u64>()) {
        shuffling_rows_changes_nothing_on(&random_files(seed, count, kind), shuffle_seed)?;
    }

    #[test]
    fn crlf_line_ends_change_nothing(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        crlf_line_ends_change_nothing_on(&random_files(seed, count, kind))?;
    }

    /// Short ids are indexed by their codes, ids over 16 bytes by their bytes: both give the
    /// same run.
    #[test]
    fn long_ids_close_like_short_ones(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        long_ids_close_like_short_ones_on(&random_files(seed, count, kind))?;
    }

    /// Ids that fill their space are placed by counting ([`engine::id_rank`]), sparse ones by
    /// sorting their codes ([`engine::id_code`]): both give the same run.
    #[test]
    fn dense_ids_close_like_sparse_ones(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        dense_ids_close_like_sparse_ones_on(&random_files(seed, count, kind))?;
    }

    #[test]
    fn outputs_are_sorted_and_complete(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        outputs_are_sorted_and_complete_on(&random_files(seed, count, kind))?;
    }

    #[test]
    fn lines_add_up_to_the_summary_totals(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        lines_add_up_to_the_summary_totals_on(&random_files(seed, count, kind))?;
    }

    #[test]
    fn only_active_distributors_are_paid_and_never_beyond_their_levels(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        only_active_paid_within_their_levels_on(&random_files(seed, count, kind))?;
    }

    #[test]
    fn binary_volume_is_conserved(seed in any::<u64>(), count in 1usize..70) {
        binary_volume_is_conserved_on(&random_files(seed, count, Kind::Binary))?;
    }

    #[test]
    fn unilevel_matches_a_naive_walk(seed in any::<u64>(), count in 1usize..70, kind in kind_strategy()) {
        unilevel_matches_a_naive_walk_on(&random_files(seed, count, kind))?;
    }
}

/// One property, checked on one set of files.
type Check<'a> = dyn Fn(&Files) -> Result<(), TestCaseError> + 'a;

/// Networks of under 70 distributors never reach the engine's parallel paths: inputs of over
/// 1 MiB split across cores, ids placed in tasks of 65,536, output rows formatted in tasks of
/// 16,384 and written in batches of 131,072. Every property is checked once more, for every
/// kind of plan, on a network large enough for all of them.
#[test]
fn every_property_holds_where_the_parallel_paths_run() {
    const COUNT: usize = 150_000;
    for (seed, kind) in [(11, Kind::Binary), (12, Kind::Matrix), (13, Kind::Unilevel)] {
        let files = random_files(seed, COUNT, kind);
        assert!(
            csv("", &files.distributors).len() > 1 << 20 && csv("", &files.state).len() > 1 << 20,
            "the inputs are too small to be split across cores"
        );
        let checks: [(&str, &Check<'_>); 9] = [
            ("identical bytes", &same_inputs_give_identical_bytes_on),
            ("shuffled rows", &|files| {
                shuffling_rows_changes_nothing_on(files, seed)
            }),
            ("CRLF", &crlf_line_ends_change_nothing_on),
            ("long ids", &long_ids_close_like_short_ones_on),
            ("dense ids", &dense_ids_close_like_sparse_ones_on),
            ("sorted and complete", &outputs_are_sorted_and_complete_on),
            ("lines add up", &lines_add_up_to_the_summary_totals_on),
            (
                "active and levels",
                &only_active_paid_within_their_levels_on,
            ),
            ("naive unilevel", &unilevel_matches_a_naive_walk_on),
        ];
        for (name, check) in checks {
            if let Err(failure) = check(&files) {
                panic!("{kind:?}, {COUNT} distributors, {name}: {failure}");
            }
        }
        if let Kind::Binary = kind {
            if let Err(failure) = binary_volume_is_conserved_on(&files) {
                panic!("{kind:?}, {COUNT} distributors, binary volume: {failure}");
            }
        }
    }
}

/// Fails unless both runs wrote the same three files.
fn same_outputs(expected: &Outputs, actual: &Outputs) -> Result<(), TestCaseError> {
    prop_assert_eq!(&expected.lines, &actual.lines);
    prop_assert_eq!(&expected.summary, &actual.summary);
    prop_assert_eq!(&expected.state, &actual.state);
    Ok(())
}

fn same_inputs_give_identical_bytes_on(files: &Files) -> Result<(), TestCaseError> {
    let (first, _) = with_run(files, |_, _| ());
    let (second, _) = with_run(files, |_, _| ());
    same_outputs(&first, &second)
}

fn shuffling_rows_changes_nothing_on(
    files: &Files,
    shuffle_seed: u64,
) -> Result<(), TestCaseError> {
    let (expected, _) = with_run(files, |_, _| ());
    let mut random = Random::new(shuffle_seed);
    let mut shuffled = files.clone();
    random.shuffle(&mut shuffled.distributors);
    random.shuffle(&mut shuffled.orders);
    random.shuffle(&mut shuffled.state);
    let (actual, _) = with_run(&shuffled, |_, _| ());
    same_outputs(&expected, &actual)
}

/// Rows ending in CRLF (the headers keep LF: §1 allows either on every line) read as with LF.
fn crlf_line_ends_change_nothing_on(files: &Files) -> Result<(), TestCaseError> {
    let with_cr =
        |rows: &[String]| -> Vec<String> { rows.iter().map(|row| format!("{row}\r")).collect() };
    let crlf = Files {
        plan: files.plan.clone(),
        distributors: with_cr(&files.distributors),
        orders: with_cr(&files.orders),
        state: with_cr(&files.state),
    };
    let (expected, _) = with_run(files, |_, _| ());
    let (actual, _) = with_run(&crlf, |_, _| ());
    same_outputs(&expected, &actual)
}

fn long_ids_close_like_short_ones_on(files: &Files) -> Result<(), TestCaseError> {
    let prefix = "company-wide-member-";
    let (short, _) = with_run(files, |_, _| ());
    let (long, _) = with_run(&with_prefixed_ids(files, prefix), |_, _| ());
    let unprefixed = |text: &str| text.replace(prefix, "");
    prop_assert!(long
        .summary
        .lines()
        .nth(1)
        .is_some_and(|row| row.starts_with(prefix)));
    prop_assert_eq!(&short.lines, &unprefixed(&long.lines));
    prop_assert_eq!(&short.summary, &unprefixed(&long.summary));
    prop_assert_eq!(&short.state, &unprefixed(&long.state));
    Ok(())
}

fn dense_ids_close_like_sparse_ones_on(files: &Files) -> Result<(), TestCaseError> {
    let places = places_in_id_order(files);
    // Digits of one width fill their space; four letters after them make it 26^4 times
    // larger. One width (three digits at least) keeps both namings in the same order.
    let width = places.len().saturating_sub(1).to_string().len().max(3);
    let dense_name = |place: usize| format!("{place:0width$}");
    let sparse_name = |place: usize| {
        let letters: String = (0..4)
            .map(|at| char::from(b'a' + ((place * 7 + at * 11) % 26) as u8))
            .collect();
        format!("{place:0width$}{letters}")
    };
    let (dense, _) = with_run(
        &with_renamed_ids(files, |id| dense_name(places[id])),
        |_, _| (),
    );
    let (sparse, _) = with_run(
        &with_renamed_ids(files, |id| sparse_name(places[id])),
        |_, _| (),
    );
    let dense_back: BTreeMap<String, usize> = places
        .values()
        .map(|&place| (dense_name(place), place))
        .collect();
    let sparse_back: BTreeMap<String, usize> = places
        .values()
        .map(|&place| (sparse_name(place), place))
        .collect();
    let restore = |text: &str, columns: &[usize], back: &BTreeMap<String, usize>| -> String {
        text.lines()
            .enumerate()
            .map(|(at, row)| {
                let row = if at == 0 {
                    row.to_string()
                } else {
                    rename_fields(row, columns, &|name: &str| back[name].to_string())
                };
                row + "\n"
            })
            .collect()
    };
    let first_dense = format!("{},", dense_name(0));
    prop_assert!(dense
        .summary
        .lines()
        .nth(1)
        .is_some_and(|row| row.starts_with(&first_dense)));
    prop_assert_eq!(
        restore(&dense.lines, &[0, 2], &dense_back),
        restore(&sparse.lines, &[0, 2], &sparse_back)
    );
    prop_assert_eq!(
        restore(&dense.summary, &[0], &dense_back),
        restore(&sparse.summary, &[0], &sparse_back)
    );
    prop_assert_eq!(
        restore(&dense.state, &[0], &dense_back),
        restore(&sparse.state, &[0], &sparse_back)
    );
    Ok(())
}

/// §5's orders: `summary.csv` and `state.csv` hold every distributor once, by id (as bytes);
/// `lines.csv` is sorted by recipient, bonus (in the spec's order), source and level.
fn outputs_are_sorted_and_complete_on(files: &Files) -> Result<(), TestCaseError> {
    const BONUSES: [&str; 7] = [
        "unilevel",
        "matrix",
        "binary",
        "matching",
        "fast_start",
        "rank_advancement",
        "pool",
    ];
    let (outputs, _) = with_run(files, |_, _| ());
    let ids = sorted_ids(files);
    for (name, text) in [
        ("summary.csv", &outputs.summary),
        ("state.csv", &outputs.state),
    ] {
        let written: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|row| row.split(',').next().expect("an id"))
            .collect();
        prop_assert!(
            written == ids,
            "{} is not every id once, in byte order",
            name
        );
    }
    let keys: Vec<(&[u8], usize, &[u8], u32)> = outputs
        .lines
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let bonus = BONUSES
                .iter()
                .position(|&bonus| bonus == fields[1])
                .expect("a bonus of the spec");
            let level = fields[3].parse().expect("an integer level");
            (fields[0].as_bytes(), bonus, fields[2].as_bytes(), level)
        })
        .collect();
    if let Some(at) = keys.windows(2).position(|pair| pair[0] >= pair[1]) {
        prop_assert!(
            false,
            "lines.csv rows {} and {} are out of order or repeated",
            at + 2,
            at + 3
        );
    }
    Ok(())
}

fn lines_add_up_to_the_summary_totals_on(files: &Files) -> Result<(), TestCaseError> {
    let (outputs, _) = with_run(files, |_, _| ());
    let mut from_lines: BTreeMap<String, i128> = BTreeMap::new();
    for line in outputs.lines.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        *from_lines.entry(fields[0].to_string()).or_default() += units(fields[6]);
    }
    for row in outputs.summary.lines().skip(1) {
        let fields: Vec<&str> = row.split(',').collect();
        let per_bonus: i128 = fields[7..14].iter().map(|amount| units(amount)).sum();
        let total = units(fields[14]);
        prop_assert_eq!(per_bonus, total, "row {}", row);
        prop_assert_eq!(
            from_lines.get(fields[0]).copied().unwrap_or(0),
            total,
            "distributor {}",
            fields[0]
        );
    }
    Ok(())
}

fn only_active_paid_within_their_levels_on(files: &Files) -> Result<(), TestCaseError> {
    let (_, violations) = with_run(files, |input, result| {
        let mut violations = Vec::new();
        for &key in &result.lines {
            let line = result.keys.unpack(key);
            let recipient = line.recipient as usize;
            let rank = &input.plan.ranks[usize::from(result.rank[recipient])];
            if !result.active[recipient] {
                violations.push(format!("inactive recipient paid: {line:?}"));
            }
            let limit = match line.bonus {
                Bonus::Unilevel | Bonus::Matrix => rank.unilevel_levels,
                Bonus::Matching => rank.matching_generations,
                _ => u32::MAX,
            };
            if line.level > limit {
                violations.push(format!(
                    "paid beyond the rank's levels: {line:?} (limit {limit})"
                ));
            }
        }
        violations
    });
    prop_assert!(violations.is_empty(), "{:?}", violations);
    Ok(())
}

fn binary_volume_is_conserved_on(files: &Files) -> Result<(), TestCaseError> {
    let (_, problems) = with_run(files, |input, result| {
        let binary = result.binary.as_ref().expect("a binary plan");
        let rules = input.plan.binary.as_ref().unwrap();
        let placement = input.network.placement.as_ref().unwrap();
        // Naive model: each node's PV climbs to every placement ancestor's side.
        let n = input.network.len();
        let mut placed = vec![(0i64, 0i64); n];
        for node in 0..n {
            let mut child = node as u32;
            let mut parent = placement.tree.parent[node];
            while parent != u32::MAX {
                let side = &mut placed[parent as usize];
                if placement.slot[child as usize] == 1 {
                    side.0 += input.volumes.pv[node]
                } else {
                    side.1 += input.volumes.pv[node]
                }
                child = parent;
                parent = placement.tree.parent[parent as usize];
            }
        }
        let mut problems = Vec::new();
        // `at` indexes a dozen parallel arrays at once.
        #[allow(clippy::needless_range_loop)]
        for at in 0..n {
            let left_in = input.state.carry_left[at] + placed[at].0;
            let right_in = input.state.carry_right[at] + placed[at].1;
            let paired = binary.paired[at];
            let (out_left, out_right) = (binary.carry_left_out[at], binary.carry_right_out[at]);
            let flushed_left = left_in - paired - out_left;
            let flushed_right = right_in - paired - out_right;
            let capped = rules.carry_cap.is_some() || (rules.flush_inactive && !result.active[at]);
            if binary.left[at] != left_in || binary.right[at] != right_in {
                problems.push(format!(
                    "{at}: leg volumes {}/{} but the model says {left_in}/{right_in}",
                    binary.left[at], binary.right[at]
                ));
            }
            if paired < 0
                || paired > left_in.min(right_in)
                || flushed_left < 0
                || flushed_right < 0
                || (!capped && (flushed_left != 0 || flushed_right != 0))
            {
                problems.push(format!("{at}: in {left_in}/{right_in} = paired {paired} + out {out_left}/{out_right} + flushed {flushed_left}/{flushed_right}"));
            }
        }
        problems
    });
    prop_assert!(problems.is_empty(), "{:?}", problems);
    Ok(())
}

fn unilevel_matches_a_naive_walk_on(files: &Files) -> Result<(), TestCaseError> {
    let (_, (engine_lines, model_lines)) = with_run(files, |input, result| {
        let plan = input.plan;
        let levels = plan.unilevel.as_ref().unwrap();
        let mut model = Vec::new();
        for source in 0..input.network.len() {
            let cv = input.volumes.cv[source];
            if cv == 0 {
                continue;
            }
            let mut level = 0usize;
            let mut ancestor = input.network.sponsor.parent[source];
            while ancestor != u32::MAX && level < levels.rates.len() {
                let active = result.active[ancestor as usize];
                if active || !levels.compression {
                    level += 1;
                    let limit =
                        plan.ranks[usize::from(result.rank[ancestor as usize])].unilevel_levels;
                    let amount = levels.rates[level - 1].apply_half_even(cv, plan.decimals);
                    if active && level as u32 <= limit && amount > 0 {
                        model.push((ancestor, source as u32, level as u32));
                    }
                }
                ancestor = input.network.sponsor.parent[ancestor as usize];
            }
        }
        model.sort();
        let mut engine_lines: Vec<(u32, u32, u32)> = result
            .lines
            .iter()
            .map(|&key| result.keys.unpack(key))
            .filter(|line| line.bonus == Bonus::Unilevel)
            .map(|line| (line.recipient, line.source, line.level))
            .collect();
        engine_lines.sort();
        (engine_lines, model)
    });
    prop_assert_eq!(engine_lines, model_lines);
    Ok(())
}
