//! `distributors.csv` → the sponsor tree, the placement tree and each distributor's facts.

use super::lines::{check_id, collect_rows, fields, quoted, split_header, FirstErrors, Malformed};
use super::InputError;
use crate::calendar::{parse_date, Day};
use crate::id_code::{CodeIndex, IdCodec};
use crate::id_index::{short_key, IdIndex, IdLookup, IdTable};
use crate::id_rank::{DenseCodec, RankIndex};
use crate::radix::{radix_sort, DisjointWrites};
use crate::short_copy::copy_short;
use crate::tree::{Tree, Unreachable, NONE};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

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

impl PlacementKind {
    /// The placement tree a plan's bonuses read.
    pub fn of_plan(plan: &crate::plan::CompiledPlan) -> PlacementKind {
        match (&plan.binary, &plan.matrix) {
            (Some(_), _) => PlacementKind::Binary,
            (_, Some(_)) => PlacementKind::Matrix {
                width: plan.matrix_width as u8,
            },
            _ => PlacementKind::Ignored,
        }
    }
}

/// The distributors of a run, indexed `0..n` in ascending byte order of their ids.
pub struct Network {
    pub ids: IdTable,
    pub index: IdLookup,
    pub sponsor: Tree,
    pub placement: Option<Placement>,
    pub joined_on: Vec<Day>,
    pub terminated: Vec<bool>,
}

impl Network {
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

    /// The lookups orders and state make into this network.
    pub fn directory(&self) -> Directory<'_> {
        Directory {
            ids: &self.ids,
            index: &self.index,
            joined_on: &self.joined_on,
        }
    }
}

/// What reading orders and the state needs of the distributors: their ids, the index to them
/// and when each joined — all known before the trees are built, so those files can be read
/// while the trees are ([`read_distributors_beside`]).
#[derive(Clone, Copy)]
pub struct Directory<'n> {
    pub ids: &'n IdTable,
    pub index: &'n IdLookup,
    pub joined_on: &'n [Day],
}

impl Directory<'_> {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The placement tree and each node's slot under its placement parent (binary: 1 = L, 2 = R).
pub struct Placement {
    pub tree: Tree,
    pub slot: Vec<u8>,
}

/// One row of the file, in file order: where its id cells lie and its facts. 24 bytes
/// instead of the 56 of three slices — a million rows are fresh memory, read in several
/// passes.
#[derive(Clone, Copy)]
struct Row {
    /// Where the row starts in the body. Its first cell is the id, then come the sponsor id
    /// and the placement id, each after a comma.
    start: u64,
    id_length: u16,
    sponsor_length: u16,
    placement_length: u16,
    slot: u8,
    terminated: bool,
    joined_on: Day,
}

/// The rows of the file and the body their cells lie in.
struct Rows<'a> {
    body: &'a [u8],
    all: Vec<Row>,
}

impl<'a> Rows<'a> {
    #[inline]
    fn cell(&self, start: u64, length: u16) -> &'a [u8] {
        &self.body[start as usize..start as usize + usize::from(length)]
    }

    #[inline]
    fn id(&self, row: &Row) -> &'a [u8] {
        self.cell(row.start, row.id_length)
    }

    #[inline]
    fn sponsor(&self, row: &Row) -> &'a [u8] {
        self.cell(row.start + u64::from(row.id_length) + 1, row.sponsor_length)
    }

    /// Empty for the root and when the plan reads no placement tree.
    #[inline]
    fn placement(&self, row: &Row) -> &'a [u8] {
        let start = row.start + u64::from(row.id_length) + u64::from(row.sponsor_length) + 2;
        self.cell(start, row.placement_length)
    }

    #[inline]
    fn reference(&self, row: &Row, column: Reference) -> &'a [u8] {
        match column {
            Reference::Sponsor => self.sponsor(row),
            Reference::Placement => self.placement(row),
        }
    }

    /// The id of the row at `at` (in file order).
    #[inline]
    fn id_at(&self, at: usize) -> &'a [u8] {
        self.id(&self.all[at])
    }

    fn len(&self) -> usize {
        self.all.len()
    }
}

/// The columns of a row that name another distributor.
#[derive(Clone, Copy)]
enum Reference {
    Sponsor,
    Placement,
}

/// The longest id cell a row may have: rows keep cell lengths in 16 bits.
const LONGEST_ID: usize = u16::MAX as usize;

/// An id cell's length, refused beyond [`LONGEST_ID`] bytes.
fn cell_length(cell: &[u8], column: &str) -> Result<u16, String> {
    u16::try_from(cell.len()).map_err(|_| {
        format!(
            "{column} is {} bytes long; ids may have at most {LONGEST_ID} bytes",
            cell.len()
        )
    })
}

/// The line of the row at `at`: rows are kept in file order, one per line, after the header.
#[inline]
fn line_of(at: usize) -> u32 {
    at as u32 + 2
}

/// An unresolved reference: the sponsor or placement id of a row that is not in the file.
const UNKNOWN: u32 = NONE - 1;

pub fn read_distributors(
    file: &str,
    bytes: &[u8],
    kind: PlacementKind,
) -> Result<Network, InputError> {
    read_distributors_beside(file, bytes, kind, |_| ()).map(|(network, ())| network)
}

/// [`read_distributors`], running `beside(directory)` side by side with the building of the
/// trees once the ids are known and distinct: the trees' sequential steps leave a core idle
/// that reading the orders fills. `beside` does not run when the file fails before that; its
/// result is dropped when the file fails after (the distributors' error comes first).
pub fn read_distributors_beside<R: Send>(
    file: &str,
    bytes: &[u8],
    kind: PlacementKind,
    beside: impl FnOnce(Directory<'_>) -> R + Send,
) -> Result<(Network, R), InputError> {
    let body = split_header(file, bytes, &HEADER)?;
    let (all, errors) = collect_rows(body, |_, text| {
        parse_row(body, text, kind).map_err(Malformed)
    });
    let rows = Rows { body, all };
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    // Rows stay in file order (so line order) throughout; `sorted[i]` is the row of the i-th id.
    if rows.len() >= UNKNOWN as usize {
        return Err(InputError::whole_file(
            file,
            format!("more than {} distributors", UNKNOWN - 1),
        ));
    }
    let (sorted, ids, index) = sort_by_id(&rows);
    let mut errors = FirstErrors::default();
    // A dense index is only ever built over distinct ids.
    if !matches!(index, IdLookup::Dense { .. }) {
        note_duplicate_ids(&ids, &sorted, &mut errors);
    }
    if errors.reference.is_some() {
        // A repeated id: the rest of the reference pass may find a problem on an earlier
        // line, which is the one to report.
        let failed = build_trees(file, &rows, &sorted, &ids, &index, kind, errors);
        return Err(failed
            .err()
            .expect("a noted problem fails the reference pass"));
    }
    // Both facts of a row in one visit: the rows are read in id order, a cache miss each.
    let (joined_on, terminated): (Vec<Day>, Vec<bool>) = sorted
        .par_iter()
        .map(|&row| {
            let row = &rows.all[row as usize];
            (row.joined_on, row.terminated)
        })
        .unzip();
    let directory = Directory {
        ids: &ids,
        index: &index,
        joined_on: &joined_on,
    };
    let (trees, beside_result) = rayon::join(
        || build_trees(file, &rows, &sorted, &ids, &index, kind, errors),
        || beside(directory),
    );
    let (sponsor, placement) = trees?;
    Ok((
        Network {
            ids,
            index,
            sponsor,
            placement,
            joined_on,
            terminated,
        },
        beside_result,
    ))
}

/// References, roots and slots checked (adding to the problems already noted of the
/// reference pass), then the sponsor tree and (for binary and matrix plans) the placement tree.
fn build_trees(
    file: &str,
    rows: &Rows<'_>,
    sorted: &[u32],
    ids: &IdTable,
    index: &IdLookup,
    kind: PlacementKind,
    mut errors: FirstErrors,
) -> Result<(Tree, Option<Placement>), InputError> {
    // Resolved in file order, so the referenced ids are read in sequence; an empty reference
    // (the root's) is no reference at all.
    let resolve_column = |column: Reference| -> Vec<u32> {
        let mut resolved =
            index.get_all(ids, &rows.all, |row| rows.reference(row, column), UNKNOWN);
        resolved
            .par_iter_mut()
            .zip(rows.all.par_iter())
            .filter(|(_, row)| rows.reference(row, column).is_empty())
            .for_each(|(found, _)| *found = NONE);
        resolved
    };
    let sponsor_of_row = resolve_column(Reference::Sponsor);
    // Without a placement tree there is nothing to resolve (and nothing reads the column).
    let placement_of_row = if kind == PlacementKind::Ignored {
        Vec::new()
    } else {
        resolve_column(Reference::Placement)
    };
    if let Some(at) = sponsor_of_row
        .iter()
        .position(|&sponsor| sponsor == UNKNOWN)
    {
        errors.note_reference(
            line_of(at),
            format!("unknown sponsor_id {}", quoted(rows.sponsor(&rows.all[at]))),
        );
    }
    if let Some(at) = placement_of_row
        .iter()
        .position(|&placement| placement == UNKNOWN)
    {
        errors.note_reference(
            line_of(at),
            format!(
                "unknown placement_id {}",
                quoted(rows.placement(&rows.all[at]))
            ),
        );
    }
    let roots: Vec<usize> = rows
        .all
        .par_iter()
        .enumerate()
        .filter(|(_, row)| row.sponsor_length == 0)
        .map(|(at, _)| at)
        .collect();
    if let [first, second, ..] = roots[..] {
        errors.note_reference(
            line_of(second),
            format!(
                "a second root: {} has an empty sponsor_id like {} (line {}); only the company's house account has no sponsor",
                quoted(rows.id_at(second)),
                quoted(rows.id_at(first)),
                line_of(first)
            ),
        );
    }
    if kind != PlacementKind::Ignored {
        note_taken_slots(rows, &placement_of_row, ids, kind, &mut errors);
    }
    if let Some(error) = errors.into_error(file) {
        return Err(error);
    }
    let Some(&root_row) = roots.first() else {
        return Err(InputError::whole_file(
            file,
            "no root: exactly one row needs an empty sponsor_id (the company's house account)"
                .into(),
        ));
    };
    let root = sorted
        .par_iter()
        .position_any(|&row| row as usize == root_row)
        .expect("the root is a row") as u32;
    // Parents by id position; a cycle is described from the same arrays, by row.
    let by_id = |of_row: &[u32]| -> Vec<u32> {
        sorted.par_iter().map(|&row| of_row[row as usize]).collect()
    };
    let sponsor = Tree::build(by_id(&sponsor_of_row), root).map_err(|unreached| {
        cycle_error(file, "sponsor", rows, sorted, &unreached, |at| {
            sponsor_of_row[sorted[at] as usize]
        })
    })?;
    let placement = if kind == PlacementKind::Ignored {
        None
    } else {
        let tree = Tree::build(by_id(&placement_of_row), root).map_err(|unreached| {
            cycle_error(file, "placement", rows, sorted, &unreached, |at| {
                placement_of_row[sorted[at] as usize]
            })
        })?;
        Some(Placement {
            tree,
            slot: sorted
                .par_iter()
                .map(|&row| rows.all[row as usize].slot)
                .collect(),
        })
    };
    Ok((sponsor, placement))
}

/// A row of `body`, whose line is `text`.
fn parse_row(body: &[u8], text: &[u8], kind: PlacementKind) -> Result<Row, String> {
    let [id, sponsor, placement, leg, joined_on, status] = fields::<6>(text)?;
    check_id(id, "id")?;
    let id_length = cell_length(id, "id")?;
    if !sponsor.is_empty() {
        check_id(sponsor, "sponsor_id")?;
    }
    let sponsor_length = cell_length(sponsor, "sponsor_id")?;
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
        // The line lies inside the body, so the difference is its offset.
        start: (text.as_ptr() as usize - body.as_ptr() as usize) as u64,
        id_length,
        sponsor_length,
        placement_length: cell_length(placement, "placement_id")?,
        slot,
        terminated,
        joined_on,
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

/// The rows in ascending id order, as row positions, the table of ids in that order, and
/// the index from id to position.
///
/// Ids that all have codes ([`IdCodec`]) are sorted as `code, row` numbers by radix and
/// indexed by code; any other set of ids goes through [`sort_by_bytes`] and the byte index.
/// Repeated ids stay adjacent, in file order, for [`note_duplicate_ids`].
fn sort_by_id(rows: &Rows<'_>) -> (Vec<u32>, IdTable, IdLookup) {
    let row_bits = CodeIndex::position_bits(rows.len());
    // A code shares a 64-bit number with its row; the top bit stays clear for the index.
    let Some(codec) = IdCodec::learn(rows.len(), |at| rows.id_at(at), 63 - row_bits) else {
        let (sorted, ids) = sort_by_bytes(rows);
        let index = IdIndex::build(&ids);
        return (sorted, ids, IdLookup::Hashed(index));
    };
    if let Some(sorted) = place_densely(rows, &codec) {
        return sorted;
    }
    let mut keys: Vec<u64> = rows
        .all
        .par_iter()
        .enumerate()
        .map(|(at, row)| {
            let code = codec.encode(rows.id(row)).expect("every id was learnt");
            code << row_bits | at as u64
        })
        .collect();
    radix_sort(&mut keys, row_bits, codec.code_bits());
    let row_mask = (1u64 << row_bits) - 1;
    let sorted: Vec<u32> = keys
        .par_iter()
        .map(|&key| (key & row_mask) as u32)
        .collect();
    let codes: Vec<u64> = keys.into_par_iter().map(|key| key >> row_bits).collect();
    let ids = match codec.common_length() {
        Some(width) => IdTable::fixed_width(codes.len(), width, |at, place| {
            place.copy_from_slice(&codec.decode_short_key(codes[at]).to_be_bytes()[..width]);
        }),
        None => IdTable::from_short_keys(codes.len(), |at| codec.decode_short_key(codes[at])),
    };
    let index = CodeIndex::build(&codes);
    (sorted, ids, IdLookup::Coded { codec, index })
}

/// [`sort_by_id`] for ids that fill much of their space ([`crate::id_rank`]): each row's
/// position is counted, not sorted for, and each row is written straight to its place. `None`
/// when the ids are too sparse, or one repeats (the sort then finds it for the message).
fn place_densely(rows: &Rows<'_>, codec: &IdCodec) -> Option<(Vec<u32>, IdTable, IdLookup)> {
    let dense = DenseCodec::of(codec, rows.len())?;
    let numbers: Vec<u64> = rows
        .all
        .par_iter()
        .map(|row| dense.encode(rows.id(row)).expect("every id was learnt"))
        .collect();
    let index = RankIndex::build(dense.space(), &numbers)?;
    // Ids of one width are copied to their places here; others are gathered afterwards.
    let width = codec.common_length().unwrap_or(0);
    let mut sorted = vec![0u32; rows.len()];
    let mut id_bytes = vec![0u8; rows.len() * width];
    let sorted_out = DisjointWrites(sorted.as_mut_ptr());
    let bytes_out = DisjointWrites(id_bytes.as_mut_ptr());
    numbers
        .par_iter()
        .enumerate()
        .with_min_len(1 << 12)
        .for_each(|(row, &number)| {
            let (sorted_out, bytes_out) = (&sorted_out, &bytes_out);
            let at = index.position(number).expect("every number was marked") as usize;
            // SAFETY: numbers are distinct, so positions are: each is written once, and
            // positions lie below the row count, so inside `sorted`.
            unsafe { sorted_out.0.add(at).write(row as u32) };
            if width > 0 {
                let id = rows.id_at(row);
                debug_assert_eq!(id.len(), width);
                // SAFETY: with a common width every id has `width` bytes, and `id_bytes`
                // holds `width` bytes for each position.
                unsafe { copy_short(id, bytes_out.0.add(at * width)) };
            }
        });
    let ids = if width > 0 {
        IdTable::of_fixed_width(id_bytes, width, rows.len())
    } else {
        IdTable::collect(rows.len(), |at| rows.id_at(sorted[at] as usize))
    };
    Some((
        sorted,
        ids,
        IdLookup::Dense {
            codec: dense,
            index,
        },
    ))
}

/// [`sort_by_id`] for ids without codes.
///
/// The sort moves 32-byte entries — an id's [`short_key`], or for a longer id its first 16
/// bytes, and the row — and compares whole ids only when the keys are equal (a repeated id,
/// or long ids sharing 16 bytes). When every id is short, the table is made from the sorted
/// keys alone; reading the ids from the file in id order would cost a cache miss each.
fn sort_by_bytes(rows: &Rows<'_>) -> (Vec<u32>, IdTable) {
    #[inline]
    fn prefix(id: &[u8]) -> u128 {
        let mut bytes = [0u8; 16];
        for (at, &byte) in id.iter().take(16).enumerate() {
            bytes[at] = byte;
        }
        u128::from_be_bytes(bytes)
    }
    let all_short = AtomicBool::new(true);
    let mut keys: Vec<(u128, u32)> = rows
        .all
        .par_iter()
        .enumerate()
        .map(|(at, row)| {
            let id = rows.id(row);
            let key = short_key(id).unwrap_or_else(|| {
                all_short.store(false, Ordering::Relaxed);
                prefix(id)
            });
            (key, at as u32)
        })
        .collect();
    keys.par_sort_unstable_by(|left, right| {
        left.0.cmp(&right.0).then_with(|| {
            rows.id_at(left.1 as usize)
                .cmp(rows.id_at(right.1 as usize))
        })
    });
    let sorted: Vec<u32> = keys.par_iter().map(|&(_, at)| at).collect();
    let ids = if all_short.into_inner() {
        IdTable::from_short_keys(keys.len(), |at| keys[at].0)
    } else {
        IdTable::collect(rows.len(), |at| rows.id_at(sorted[at] as usize))
    };
    (sorted, ids)
}

/// Reports a repeated id at its second occurrence in the file.
fn note_duplicate_ids(ids: &IdTable, sorted: &[u32], errors: &mut FirstErrors) {
    let mut start = 0;
    while start < ids.len() {
        let mut end = start + 1;
        while end < ids.len() && ids[end] == ids[start] {
            end += 1;
        }
        if end - start > 1 {
            let mut lines: Vec<u32> = sorted[start..end]
                .iter()
                .map(|&row| line_of(row as usize))
                .collect();
            lines.sort_unstable();
            errors.note_reference(
                lines[1],
                format!(
                    "duplicate id {} (first at line {})",
                    quoted(&ids[start]),
                    lines[0]
                ),
            );
        }
        start = end;
    }
}

/// Reports a second child on one binary leg or matrix slot, at its later line.
fn note_taken_slots(
    rows: &Rows<'_>,
    placement_of_row: &[u32],
    ids: &IdTable,
    kind: PlacementKind,
    errors: &mut FirstErrors,
) {
    let mut placed: Vec<(u64, u32)> = placement_of_row
        .par_iter()
        .enumerate()
        .filter(|(_, &parent)| parent < UNKNOWN)
        .map(|(at, &parent)| {
            (
                (u64::from(parent) << 8) | u64::from(rows.all[at].slot),
                at as u32,
            )
        })
        .collect();
    // Rows are in line order, so after a stable sort the first of equal keys came first.
    placed.par_sort_by_key(|entry| entry.0);
    for pair in placed.windows(2) {
        let (first, second) = (pair[0], pair[1]);
        if first.0 == second.0 {
            let parent = &ids[(second.0 >> 8) as usize];
            let position = match kind {
                PlacementKind::Binary => {
                    format!("leg {}", if second.0 & 0xff == 1 { "L" } else { "R" })
                }
                _ => format!("slot {}", second.0 & 0xff),
            };
            let (first_at, second_at) = (first.1 as usize, second.1 as usize);
            errors.note_reference(
                line_of(second_at),
                format!(
                    "{position} of {} is already taken by {} (line {})",
                    quoted(parent),
                    quoted(rows.id_at(first_at)),
                    line_of(first_at)
                ),
            );
        }
    }
}

/// Names one cycle among the unreached nodes (id positions), at the line of its earliest
/// member.
fn cycle_error(
    file: &str,
    tree: &str,
    rows: &Rows<'_>,
    sorted: &[u32],
    unreached: &Unreachable,
    parent_of: impl Fn(usize) -> u32,
) -> InputError {
    let id_of = |node: u32| rows.id_at(sorted[node as usize] as usize);
    let line_of_node = |node: u32| line_of(sorted[node as usize] as usize);
    let start = unreached
        .0
        .iter()
        .copied()
        .min_by_key(|&node| line_of_node(node))
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
        .min_by_key(|&&member| line_of_node(member))
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
        .map(|&member| quoted(id_of(member)))
        .collect();
    if members.len() > 5 {
        shown.push(format!("… ({} members)", members.len()));
    }
    shown.push(quoted(id_of(first)));
    let column = if tree == "sponsor" {
        "sponsor_id"
    } else {
        "placement_id"
    };
    InputError::at(
        file,
        line_of_node(first),
        format!(
            "{tree} cycle: {} (each {column} points to the next, so none of them reaches the root)",
            shown.join(" → ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id,sponsor_id,placement_id,leg,joined_on,status\n";

    fn error_of(rows: &str) -> String {
        let text = format!("{HEAD}{rows}");
        match read_distributors("distributors.csv", text.as_bytes(), PlacementKind::Ignored) {
            Ok(_) => panic!("accepted: {rows}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_earliest_reference_problem_is_reported_whatever_its_kind() {
        // An unknown sponsor on line 3, a repeated id on line 5: line 3 comes first.
        assert_eq!(
            error_of(
                "a,,,,2026-01-01,active\n\
                 b,zz,,,2026-01-01,active\n\
                 c,a,,,2026-01-01,active\n\
                 c,a,,,2026-01-01,active\n"
            ),
            "distributors.csv:3: unknown sponsor_id \"zz\""
        );
        // Alone, the repeated id is reported at its second line.
        assert_eq!(
            error_of(
                "a,,,,2026-01-01,active\n\
                 c,a,,,2026-01-01,active\n\
                 c,a,,,2026-01-01,active\n"
            ),
            "distributors.csv:4: duplicate id \"c\" (first at line 3)"
        );
    }

    #[test]
    fn dense_ids_of_several_widths_are_placed_and_found() {
        // 1 to 300 fill their space but have one, two or three digits: placed by counting,
        // with no common width to copy them by.
        let mut text = String::from(HEAD);
        for id in (1..=300).rev() {
            let sponsor = if id == 1 {
                String::new()
            } else {
                (id / 2).to_string()
            };
            text.push_str(&format!("{id},{sponsor},,,2026-01-01,active\n"));
        }
        let network =
            read_distributors("distributors.csv", text.as_bytes(), PlacementKind::Ignored).unwrap();
        for id in 1..=300 {
            let name = id.to_string();
            let node = network.lookup(name.as_bytes()).expect("every id is found");
            assert_eq!(network.ids[node as usize], *name.as_bytes());
            if id > 1 {
                let parent = network.sponsor.parent[node as usize];
                assert_eq!(
                    network.ids[parent as usize],
                    *(id / 2).to_string().as_bytes()
                );
            }
        }
    }

    #[test]
    fn ids_longer_than_a_row_keeps_are_refused_with_their_length() {
        let long = "x".repeat(LONGEST_ID + 1);
        assert_eq!(
            error_of(&format!(
                "a,,,,2026-01-01,active\n{long},a,,,2026-01-01,active\n"
            )),
            format!("distributors.csv:3: id is 65536 bytes long; ids may have at most 65535 bytes")
        );
        assert_eq!(
            error_of(&format!("a,,,,2026-01-01,active\nb,{long},,,2026-01-01,active\n")),
            format!(
                "distributors.csv:3: sponsor_id is 65536 bytes long; ids may have at most 65535 bytes"
            )
        );
        // The longest allowed id is read, and found as a sponsor.
        let longest = "y".repeat(LONGEST_ID);
        let text = format!(
            "{HEAD}a,,,,2026-01-01,active\n{longest},a,,,2026-01-01,active\nb,{longest},,,2026-01-01,active\n"
        );
        let network =
            read_distributors("distributors.csv", text.as_bytes(), PlacementKind::Ignored).unwrap();
        let child = network.lookup(b"b").unwrap();
        let parent = network.sponsor.parent[child as usize];
        assert_eq!(network.ids[parent as usize], *longest.as_bytes());
    }
}
