//! `distributors.csv` → the sponsor tree, the placement tree and each distributor's facts.

use super::lines::{check_id, fields, quoted, scan_rows, split_header, FirstErrors, RowError};
use super::InputError;
use crate::calendar::{parse_date, Day};
use crate::id_index::IdIndex;
use crate::tree::{Tree, Unreachable, NONE};
use rayon::prelude::*;

const HEADER: [&str; 6] = [
    "id",
    "sponsor_id",
    "placement_id",
    "leg",
    "joined_on",
    "status",
];

/// Which placement tree the plan reads, and so how `placement_id` and `leg` are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementKind {
    /// No binary or matrix bonus: the columns are ignored.
    Ignored,
    /// `leg` is `L` (slot 1) or `R` (slot 2).
    Binary,
    /// `leg` is a slot `1..=width`.
    Matrix { width: u8 },
}

/// The distributors of a run, indexed `0..n` in ascending byte order of their ids.
pub struct Network<'a> {
    pub ids: Vec<&'a [u8]>,
    pub index: IdIndex,
    pub sponsor: Tree,
    pub placement: Option<Placement>,
    pub joined_on: Vec<Day>,
    pub terminated: Vec<bool>,
}

impl Network<'_> {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The index of a distributor id.
    #[inline]
    pub fn lookup(&self, id: &[u8]) -> Option<u32> {
        self.index.get(&self.ids, id)
    }
}

/// The placement tree and each node's slot under its placement parent (binary: 1 = L, 2 = R).
pub struct Placement {
    pub tree: Tree,
    pub slot: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Row<'a> {
    id: &'a [u8],
    sponsor: &'a [u8],
    placement: &'a [u8],
    joined_on: Day,
    line: u32,
    slot: u8,
    terminated: bool,
}

pub fn read_distributors<'a>(
    file: &str,
    bytes: &'a [u8],
    kind: PlacementKind,
) -> Result<Network<'a>, InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let (chunks, errors) = scan_rows(
        body,
        Vec::with_capacity,
        |line, text, rows: &mut Vec<Row<'a>>| {
            rows.push(parse_row(line, text, kind).map_err(RowError::Syntax)?);
            Ok(())
        },
    );
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let mut rows: Vec<Row<'a>> = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for chunk in chunks {
        rows.extend(chunk);
    }
    if rows.len() >= NONE as usize {
        return Err(InputError::whole_file(
            file,
            format!("more than {} distributors", NONE - 1),
        ));
    }
    let rows = sort_by_id(rows);
    let mut errors = FirstErrors::default();
    note_duplicate_ids(&rows, &mut errors);
    let ids: Vec<&'a [u8]> = rows.par_iter().map(|row| row.id).collect();
    let index = IdIndex::build(&ids);
    let lookup = |id: &[u8]| index.get(&ids, id);
    let resolved: Vec<(u32, u32)> = rows
        .par_iter()
        .map(|row| {
            let sponsor = if row.sponsor.is_empty() {
                NONE
            } else {
                lookup(row.sponsor).unwrap_or(NONE - 1)
            };
            let placement = if row.placement.is_empty() {
                NONE
            } else {
                lookup(row.placement).unwrap_or(NONE - 1)
            };
            (sponsor, placement)
        })
        .collect();
    for (row, &(sponsor, placement)) in rows.iter().zip(&resolved) {
        if sponsor == NONE - 1 {
            errors.note_reference(
                row.line,
                format!("unknown sponsor_id {}", quoted(row.sponsor)),
            );
        }
        if placement == NONE - 1 {
            errors.note_reference(
                row.line,
                format!("unknown placement_id {}", quoted(row.placement)),
            );
        }
    }
    let mut roots: Vec<usize> = (0..rows.len())
        .filter(|&at| rows[at].sponsor.is_empty())
        .collect();
    roots.sort_by_key(|&at| rows[at].line);
    if let [first, second, ..] = roots[..] {
        errors.note_reference(
            rows[second].line,
            format!(
                "a second root: {} has an empty sponsor_id like {} (line {}); only the company's house account has no sponsor",
                quoted(rows[second].id),
                quoted(rows[first].id),
                rows[first].line
            ),
        );
    }
    if kind != PlacementKind::Ignored {
        note_taken_slots(&rows, &resolved, &ids, kind, &mut errors);
    }
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let Some(&root) = roots.first() else {
        return Err(InputError::whole_file(
            file,
            "no root: exactly one row needs an empty sponsor_id (the company's house account)"
                .into(),
        ));
    };
    let root = root as u32;
    let sponsor_parent: Vec<u32> = resolved.iter().map(|&(sponsor, _)| sponsor).collect();
    let sponsor = Tree::build(sponsor_parent, root).map_err(|unreached| {
        cycle_error(file, "sponsor", &rows, &unreached, |at| resolved[at].0)
    })?;
    let placement = if kind == PlacementKind::Ignored {
        None
    } else {
        let placement_parent: Vec<u32> = resolved.iter().map(|&(_, placement)| placement).collect();
        let tree = Tree::build(placement_parent, root).map_err(|unreached| {
            cycle_error(file, "placement", &rows, &unreached, |at| resolved[at].1)
        })?;
        Some(Placement {
            tree,
            slot: rows.iter().map(|row| row.slot).collect(),
        })
    };
    Ok(Network {
        ids,
        index,
        sponsor,
        placement,
        joined_on: rows.iter().map(|row| row.joined_on).collect(),
        terminated: rows.iter().map(|row| row.terminated).collect(),
    })
}

fn parse_row(line: u32, text: &[u8], kind: PlacementKind) -> Result<Row<'_>, String> {
    let [id, sponsor, placement, leg, joined_on, status] = fields::<6>(text)?;
    check_id(id, "id")?;
    if !sponsor.is_empty() {
        check_id(sponsor, "sponsor_id")?;
    }
    let joined_on = parse_date(joined_on).ok_or_else(|| {
        format!(
            "joined_on {} is not a date of the form YYYY-MM-DD",
            quoted(joined_on)
        )
    })?;
    let terminated = match status {
        b"active" => false,
        b"terminated" => true,
        _ => {
            return Err(format!(
                "unknown status {}; use active or terminated",
                quoted(status)
            ))
        }
    };
    let (placement, slot) = match kind {
        PlacementKind::Ignored => (&b""[..], 0),
        _ if sponsor.is_empty() => {
            if !placement.is_empty() || !leg.is_empty() {
                return Err(
                    "the root has a placement; leave its placement_id and leg empty".into(),
                );
            }
            (placement, 0)
        }
        _ => {
            if placement.is_empty() {
                return Err("placement_id is empty; every distributor but the root needs a placement in a binary or matrix plan".into());
            }
            check_id(placement, "placement_id")?;
            (placement, parse_slot(leg, kind)?)
        }
    };
    Ok(Row {
        id,
        sponsor,
        placement,
        joined_on,
        line,
        slot,
        terminated,
    })
}

fn parse_slot(leg: &[u8], kind: PlacementKind) -> Result<u8, String> {
    match kind {
        PlacementKind::Binary => match leg {
            b"L" => Ok(1),
            b"R" => Ok(2),
            _ => Err(format!("leg {} must be L or R", quoted(leg))),
        },
        PlacementKind::Matrix { width } => {
            let slot = std::str::from_utf8(leg)
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
            match slot.and_then(|text| text.parse::<u32>().ok()) {
                Some(slot) if (1..=u32::from(width)).contains(&slot) => Ok(slot as u8),
                Some(slot) => Err(format!(
                    "slot {slot} is outside 1..{width} (the matrix width)"
                )),
                None => Err(format!(
                    "leg {} must be a matrix slot 1..{width}",
                    quoted(leg)
                )),
            }
        }
        PlacementKind::Ignored => Ok(0),
    }
}

/// Sorts rows by id bytes. The sort moves 12-byte keys — an 8-byte big-endian prefix that
/// settles most comparisons, and the row's position — and the rows are gathered once after.
fn sort_by_id<'a>(rows: Vec<Row<'a>>) -> Vec<Row<'a>> {
    #[inline]
    fn prefix(id: &[u8]) -> u64 {
        match id.get(..8) {
            Some(head) => u64::from_be_bytes(head.try_into().expect("8 bytes")),
            None => {
                let mut bytes = [0u8; 8];
                bytes[..id.len()].copy_from_slice(id);
                u64::from_be_bytes(bytes)
            }
        }
    }
    let mut keys: Vec<(u64, u32)> = rows
        .par_iter()
        .enumerate()
        .map(|(at, row)| (prefix(row.id), at as u32))
        .collect();
    keys.par_sort_unstable_by(|left, right| {
        left.0
            .cmp(&right.0)
            .then_with(|| rows[left.1 as usize].id.cmp(rows[right.1 as usize].id))
    });
    keys.par_iter().map(|&(_, at)| rows[at as usize]).collect()
}

/// Reports a repeated id at its second occurrence in the file.
fn note_duplicate_ids(rows: &[Row<'_>], errors: &mut FirstErrors) {
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && rows[end].id == rows[start].id {
            end += 1;
        }
        if end - start > 1 {
            let mut lines: Vec<u32> = rows[start..end].iter().map(|row| row.line).collect();
            lines.sort_unstable();
            errors.note_reference(
                lines[1],
                format!(
                    "duplicate id {} (first at line {})",
                    quoted(rows[start].id),
                    lines[0]
                ),
            );
        }
        start = end;
    }
}

/// Reports a second child on one binary leg or matrix slot, at its later line.
fn note_taken_slots(
    rows: &[Row<'_>],
    resolved: &[(u32, u32)],
    ids: &[&[u8]],
    kind: PlacementKind,
    errors: &mut FirstErrors,
) {
    let mut placed: Vec<(u64, u32, u32)> = resolved
        .iter()
        .enumerate()
        .filter(|(_, &(_, parent))| parent < NONE - 1)
        .map(|(at, &(_, parent))| {
            (
                (u64::from(parent) << 8) | u64::from(rows[at].slot),
                rows[at].line,
                at as u32,
            )
        })
        .collect();
    placed.par_sort_unstable();
    for pair in placed.windows(2) {
        let (first, second) = (pair[0], pair[1]);
        if first.0 == second.0 {
            let parent = ids[(second.0 >> 8) as usize];
            let position = match kind {
                PlacementKind::Binary => {
                    format!("leg {}", if second.0 & 0xff == 1 { "L" } else { "R" })
                }
                _ => format!("slot {}", second.0 & 0xff),
            };
            errors.note_reference(
                second.1,
                format!(
                    "{position} of {} is already taken by {} (line {})",
                    quoted(parent),
                    quoted(rows[first.2 as usize].id),
                    first.1
                ),
            );
        }
    }
}

/// Names one cycle among the unreached nodes, at the line of its earliest member.
fn cycle_error(
    file: &str,
    tree: &str,
    rows: &[Row<'_>],
    unreached: &Unreachable,
    parent_of: impl Fn(usize) -> u32,
) -> InputError {
    let start = unreached
        .0
        .iter()
        .copied()
        .min_by_key(|&node| rows[node as usize].line)
        .expect("a cycle has members");
    // Walk up until a node repeats: that node lies on the cycle.
    let mut seen = std::collections::HashSet::new();
    let mut node = start;
    while seen.insert(node) {
        node = parent_of(node as usize);
    }
    let mut members = vec![node];
    let mut next = parent_of(node as usize);
    while next != node {
        members.push(next);
        next = parent_of(next as usize);
    }
    let first = *members
        .iter()
        .min_by_key(|&&member| rows[member as usize].line)
        .expect("non-empty");
    let rotate = members
        .iter()
        .position(|&member| member == first)
        .expect("present");
    members.rotate_left(rotate);
    // Members list child → parent; show the chain as the file states it, a few names at most.
    let mut shown: Vec<String> = members
        .iter()
        .take(5)
        .map(|&member| quoted(rows[member as usize].id))
        .collect();
    if members.len() > 5 {
        shown.push(format!("… ({} members)", members.len()));
    }
    shown.push(quoted(rows[first as usize].id));
    let column = if tree == "sponsor" {
        "sponsor_id"
    } else {
        "placement_id"
    };
    InputError::at(
        file,
        rows[first as usize].line,
        format!(
            "{tree} cycle: {} (each {column} points to the next, so none of them reaches the root)",
            shown.join(" → ")
        ),
    )
}
