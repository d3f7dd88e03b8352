//! Random damage to valid files — bytes replaced, inserted or deleted, lines repeated or
//! dropped — never crashes a run. The files either still close, or are refused with one line
//! that names the file and, when it has one, a line of that file (COMP_PLAN_SPEC.md §1). The
//! problem is never blamed on a file that comes before every damaged one: those files are
//! unchanged and valid, and a file is checked without looking at the ones after it.

mod common;

use common::{close, kind_strategy, random_files, FileBytes};
use proptest::prelude::*;

/// The files in the order they are checked.
const FILES: [&str; 4] = ["plan.json", "distributors.csv", "orders.csv", "state.csv"];

/// Bytes that mean something to the parsers, and some that mean nothing (NUL, bytes that are
/// not UTF-8).
const BYTES: &[u8] = b"0123456789.,-+eE\r\n\"' \tdxLR\0\xff\xc3:{}[]";

#[derive(Clone, Debug)]
enum Damage {
    Replace { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    RepeatLine { at: usize },
    DropLine { at: usize },
}

fn damage_strategy() -> impl Strategy<Value = (usize, Damage)> {
    let byte = prop::sample::select(BYTES);
    let damage = prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Damage::Replace { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Damage::Insert { at, byte }),
        any::<usize>().prop_map(|at| Damage::Delete { at }),
        any::<usize>().prop_map(|at| Damage::RepeatLine { at }),
        any::<usize>().prop_map(|at| Damage::DropLine { at }),
    ];
    // The plan is damaged less often than the CSV files: most of its damage is a JSON error.
    (prop::sample::select(vec![0, 1, 1, 2, 2, 3, 3]), damage)
}

impl Damage {
    fn apply(&self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let len = bytes.len();
        match *self {
            Damage::Replace { at, byte } => bytes[at % len] = byte,
            Damage::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
            Damage::Delete { at } => {
                bytes.remove(at % len);
            }
            Damage::RepeatLine { at } => {
                let (start, end) = line_around(bytes, at % len);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
            Damage::DropLine { at } => {
                let (start, end) = line_around(bytes, at % len);
                bytes.drain(start..end);
            }
        }
    }
}

/// The bounds of the line holding byte `at`, its newline included.
fn line_around(bytes: &[u8], at: usize) -> (usize, usize) {
    let start = bytes[..at]
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let end = bytes[at..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |newline| at + newline + 1);
    (start, end)
}

fn file_mut(files: &mut FileBytes, file: usize) -> &mut Vec<u8> {
    match file {
        1 => &mut files.distributors,
        2 => &mut files.orders,
        _ => &mut files.state,
    }
}

fn lines_in(files: &FileBytes, file: usize) -> usize {
    let bytes = match file {
        0 => files.plan.as_bytes(),
        1 => &files.distributors,
        2 => &files.orders,
        _ => &files.state,
    };
    bytes.iter().filter(|&&byte| byte == b'\n').count() + 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn damaged_files_close_or_are_refused_with_their_file_and_line(
        seed in any::<u64>(),
        count in 1usize..40,
        kind in kind_strategy(),
        damages in prop::collection::vec(damage_strategy(), 1..4),
    ) {
        let mut files = random_files(seed, count, kind).bytes();
        for (file, damage) in &damages {
            if *file == 0 {
                let mut plan = files.plan.clone().into_bytes();
                damage.apply(&mut plan);
                // A plan that is not UTF-8 is refused before it is parsed (the CLI's check).
                let Ok(plan) = String::from_utf8(plan) else { continue };
                files.plan = plan;
            } else {
                damage.apply(file_mut(&mut files, *file));
            }
        }
        let first_damaged = damages.iter().map(|(file, _)| *file).min().unwrap();
        let Err(problem) = close(&files) else { return Ok(()) };
        prop_assert!(!problem.contains('\n'), "more than one line: {problem:?}");
        let named = FILES.iter().position(|name| problem.starts_with(&format!("{name}:")));
        prop_assert!(named.is_some(), "no file named: {problem:?}");
        let named = named.unwrap();
        prop_assert!(
            named >= first_damaged,
            "{problem:?} blames {} but only {} and later files were damaged",
            FILES[named],
            FILES[first_damaged]
        );
        let after_name = &problem[FILES[named].len() + 1..];
        if let Some((number, _)) = after_name.split_once(": ") {
            if let Ok(line) = number.parse::<usize>() {
                prop_assert!(
                    (1..=lines_in(&files, named)).contains(&line),
                    "{problem:?}: the file has {} lines",
                    lines_in(&files, named)
                );
            }
        }
    }
}
