//! Splitting a CSV file into numbered rows and fields, in parallel, without allocating per row.
//!
//! The format is the spec's plain CSV: no quoting, the exact header, LF or CRLF line ends,
//! no blank lines except one final empty line.

use super::InputError;
use rayon::prelude::*;

/// Chunks per worker thread: enough to balance uneven rows, few enough to stay cheap.
const CHUNKS_PER_THREAD: usize = 8;
/// Files smaller than this are parsed on one thread.
const PARALLEL_THRESHOLD_BYTES: usize = 1 << 20;

/// U+FEFF encoded in UTF-8: a signature some programs put before the first byte of text.
pub const BYTE_ORDER_MARK: &[u8] = "\u{feff}".as_bytes();

/// Checks the header line against `expected` (its fields in order) and returns the body.
pub fn split_header<'a>(
    file: &str,
    bytes: &'a [u8],
    expected: &[&str],
) -> Result<&'a [u8], InputError> {
    let (header, body) = match bytes.iter().position(|&byte| byte == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &bytes[bytes.len()..]),
    };
    let header = strip_cr(header);
    let error = |message: String| Err(InputError::at(file, 1, message));
    if header.starts_with(BYTE_ORDER_MARK) {
        return error(format!(
            "the file starts with a byte-order mark (U+FEFF, which Excel's \"CSV UTF-8\" \
             writes); save it as plain UTF-8 without one, the header first: {:?}",
            expected.join(",")
        ));
    }
    let found: Vec<&[u8]> = if header.is_empty() {
        Vec::new()
    } else {
        header.split(|&byte| byte == b',').collect()
    };
    for (index, name) in expected.iter().enumerate() {
        match found.get(index) {
            None => {
                return error(format!(
                    "missing column {name:?}; the header must be {:?}",
                    expected.join(",")
                ))
            }
            Some(actual) if *actual != name.as_bytes() => {
                return error(format!(
                    "column {} is {:?}, expected {name:?}; the header must be {:?}",
                    index + 1,
                    String::from_utf8_lossy(actual),
                    expected.join(",")
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.get(expected.len()) {
        return error(format!(
            "extra column {:?}; the header must be {:?}",
            String::from_utf8_lossy(extra),
            expected.join(",")
        ));
    }
    Ok(body)
}

#[inline]
pub fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

/// Splits `line` into exactly `N` comma-separated fields.
///
/// Commas are found sixteen bytes at a time (SSE2 on x86-64, part of its baseline): every
/// row of every input file passes here, and a byte-by-byte split was a twentieth of a run.
#[inline]
pub fn fields<const N: usize>(line: &[u8]) -> Result<[&[u8]; N], String> {
    let mut out: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    let mut start = 0;
    /// Ends the field before the comma at `at`; false when that makes more than `N`.
    #[inline(always)]
    fn found_comma<'a, const N: usize>(
        line: &'a [u8],
        at: usize,
        start: &mut usize,
        out: &mut [&'a [u8]; N],
        count: &mut usize,
    ) -> bool {
        if *count + 1 >= N {
            return false;
        }
        out[*count] = &line[*start..at];
        *count += 1;
        *start = at + 1;
        true
    }
    let mut offset = 0;
    #[cfg(target_arch = "x86_64")]
    while offset + 16 <= line.len() {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is always present on x86-64; the 16 bytes read lie inside `line`.
        let mut commas = unsafe {
            let block = _mm_loadu_si128(line.as_ptr().add(offset).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(b',' as i8))) as u32
        };
        while commas != 0 {
            let at = offset + commas.trailing_zeros() as usize;
            if !found_comma(line, at, &mut start, &mut out, &mut count) {
                return Err(too_many_fields::<N>(line));
            }
            commas &= commas - 1;
        }
        offset += 16;
    }
    // The last few bytes: one more block ending at the line's end, its already-seen bytes
    // masked off, instead of a byte at a time.
    #[cfg(target_arch = "x86_64")]
    if offset < line.len() && line.len() >= 16 {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let block_start = line.len() - 16;
        // SAFETY: SSE2 is always present on x86-64; the 16 bytes read lie inside `line`.
        let mut commas = unsafe {
            let block = _mm_loadu_si128(line.as_ptr().add(block_start).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(b',' as i8))) as u32
        };
        commas &= u32::MAX << (offset - block_start);
        while commas != 0 {
            let at = block_start + commas.trailing_zeros() as usize;
            if !found_comma(line, at, &mut start, &mut out, &mut count) {
                return Err(too_many_fields::<N>(line));
            }
            commas &= commas - 1;
        }
        offset = line.len();
    }
    for at in offset..line.len() {
        if line[at] == b',' && !found_comma(line, at, &mut start, &mut out, &mut count) {
            return Err(too_many_fields::<N>(line));
        }
    }
    out[count] = &line[start..];
    count += 1;
    if count != N {
        return Err(format!("expected {N} fields, found {count}"));
    }
    Ok(out)
}

#[cold]
fn too_many_fields<const N: usize>(line: &[u8]) -> String {
    let found = line.split(|&byte| byte == b',').count();
    format!("expected {N} fields, found {found}")
}

/// A malformed row: scanning of its chunk stops there. (References between rows are checked
/// after the scan, by the reader of each file.)
pub struct Malformed(pub String);

/// First errors found, by kind, as (line, message).
#[derive(Default)]
pub struct FirstErrors {
    pub syntax: Option<(u32, String)>,
    pub reference: Option<(u32, String)>,
}

impl FirstErrors {
    fn merge(self, other: FirstErrors) -> FirstErrors {
        let earliest = |a: Option<(u32, String)>, b: Option<(u32, String)>| match (a, b) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        FirstErrors {
            syntax: earliest(self.syntax, other.syntax),
            reference: earliest(self.reference, other.reference),
        }
    }

    /// Syntax errors come first (the rows pass), then references (the cross-row pass).
    pub fn into_error(self, file: &str) -> Option<InputError> {
        self.syntax
            .or(self.reference)
            .map(|(line, message)| InputError::at(file, line, message))
    }

    pub fn note_reference(&mut self, line: u32, message: String) {
        if self
            .reference
            .as_ref()
            .is_none_or(|(first, _)| line < *first)
        {
            self.reference = Some((line, message));
        }
    }
}

/// Calls `visit(line_number, line, sink)` for every row of `body` (the header is line 1),
/// in parallel chunks, each with its own sink made by `new_sink(rows in the chunk)`. Returns
/// the sinks in file order and the first errors. Blank lines are errors, except one final
/// empty line.
pub fn scan_rows<'a, S, New, Visit>(
    body: &'a [u8],
    new_sink: New,
    visit: Visit,
) -> (Vec<S>, FirstErrors)
where
    S: Send,
    New: Fn(usize) -> S + Sync,
    Visit: Fn(u32, &'a [u8], &mut S) -> Result<(), Malformed> + Sync,
{
    let chunks = Chunks::of(body);
    let sinks = chunks.rows.iter().map(|&rows| new_sink(rows)).collect();
    chunks.scan(sinks, visit)
}

/// Parses every row of `body` into one vector in file order. Each parallel chunk writes its
/// rows straight into its own part of the vector, which is allocated once at its exact size:
/// no per-chunk vectors that grow and are then copied together (on a million rows those
/// copies and their fresh pages cost more than the parsing).
pub fn collect_rows<'a, T, Parse>(body: &'a [u8], parse: Parse) -> (Vec<T>, FirstErrors)
where
    T: Copy + Send,
    Parse: Fn(u32, &'a [u8]) -> Result<T, Malformed> + Sync,
{
    let chunks = Chunks::of(body);
    let total: usize = chunks.rows.iter().sum();
    let mut rows: Vec<T> = Vec::with_capacity(total);
    let mut spare = rows.spare_capacity_mut();
    let mut parts = Vec::with_capacity(chunks.rows.len());
    for &count in &chunks.rows {
        let (part, rest) = spare.split_at_mut(count);
        parts.push(Filling { part, filled: 0 });
        spare = rest;
    }
    let (parts, errors) = chunks.scan(parts, |line, text, filling: &mut Filling<'_, T>| {
        let row = parse(line, text)?;
        filling.part[filling.filled].write(row);
        filling.filled += 1;
        Ok(())
    });
    // A chunk stops at its first syntax error, leaving the rest of its part unwritten; the
    // vector is then returned empty (its rows are `Copy`, so nothing needs dropping).
    let complete = parts
        .iter()
        .all(|filling| filling.filled == filling.part.len());
    drop(parts);
    if complete {
        // SAFETY: every part was written in full, and the parts tile the first `total`
        // elements of the spare capacity.
        unsafe { rows.set_len(total) };
    }
    (rows, errors)
}

/// One chunk's share of [`collect_rows`]' vector and how much of it is written.
struct Filling<'v, T> {
    part: &'v mut [std::mem::MaybeUninit<T>],
    filled: usize,
}

/// `body` cut into pieces for parallel scanning, with each piece's first line number and
/// number of rows.
struct Chunks<'a> {
    pieces: Vec<&'a [u8]>,
    first_lines: Vec<u32>,
    rows: Vec<usize>,
}

impl<'a> Chunks<'a> {
    fn of(body: &'a [u8]) -> Chunks<'a> {
        let pieces = split_chunks(body);
        let rows: Vec<usize> = pieces
            .par_iter()
            .map(|piece| {
                let unterminated = !piece.is_empty() && piece[piece.len() - 1] != b'\n';
                count_newlines(piece) + usize::from(unterminated)
            })
            .collect();
        // Line numbers: the header is line 1, so the body's first row is line 2.
        let mut first_lines = Vec::with_capacity(pieces.len());
        let mut next_line = 2u64;
        for &count in &rows {
            first_lines.push(next_line.min(u64::from(u32::MAX)) as u32);
            next_line += count as u64;
        }
        Chunks {
            pieces,
            first_lines,
            rows,
        }
    }

    fn scan<S, Visit>(self, sinks: Vec<S>, visit: Visit) -> (Vec<S>, FirstErrors)
    where
        S: Send,
        Visit: Fn(u32, &'a [u8], &mut S) -> Result<(), Malformed> + Sync,
    {
        let results: Vec<(S, FirstErrors)> = self
            .pieces
            .into_par_iter()
            .zip(self.first_lines)
            .zip(sinks)
            .map(|((piece, first_line), mut sink)| {
                let errors = scan_piece(piece, first_line, &mut sink, &visit);
                (sink, errors)
            })
            .collect();
        let mut sinks = Vec::with_capacity(results.len());
        let mut errors = FirstErrors::default();
        for (sink, piece_errors) in results {
            sinks.push(sink);
            errors = errors.merge(piece_errors);
        }
        (sinks, errors)
    }
}

/// Visits the rows of one piece, stopping at its first syntax error.
fn scan_piece<'a, S>(
    piece: &'a [u8],
    first_line: u32,
    sink: &mut S,
    visit: &impl Fn(u32, &'a [u8], &mut S) -> Result<(), Malformed>,
) -> FirstErrors {
    let mut errors = FirstErrors::default();
    let mut line_number = first_line;
    let mut rest: &'a [u8] = piece;
    while !rest.is_empty() {
        let (line, after) = match find_newline(rest) {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = strip_cr(line);
        // The empty piece after a final newline is never visited, so any empty line seen
        // here is a blank line inside the file.
        if line.is_empty() {
            errors.syntax = Some((
                line_number,
                "blank line; remove it (only one final empty line is allowed)".into(),
            ));
            break;
        }
        if let Err(Malformed(message)) = visit(line_number, line, sink) {
            errors.syntax = Some((line_number, message));
            break;
        }
        rest = after;
        line_number += 1;
    }
    errors
}

/// The first newline in `bytes`: sixteen bytes at a time inline, since rows are a few dozen
/// bytes long and a library call per row cost more than the search.
#[inline]
fn find_newline(bytes: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let mut offset = 0;
        while offset + 16 <= bytes.len() {
            // SAFETY: SSE2 is always present on x86-64; the 16 bytes read lie inside `bytes`.
            let newlines = unsafe {
                let block = _mm_loadu_si128(bytes.as_ptr().add(offset).cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(b'\n' as i8))) as u32
            };
            if newlines != 0 {
                return Some(offset + newlines.trailing_zeros() as usize);
            }
            offset += 16;
        }
        memchr::memchr(b'\n', &bytes[offset..]).map(|at| offset + at)
    }
    #[cfg(not(target_arch = "x86_64"))]
    memchr::memchr(b'\n', bytes)
}

/// The newlines in `bytes`, counted 16 bytes at a time: every input byte passes here once
/// before the rows are parsed, and the plain filter-and-count was a twentieth of a run.
fn count_newlines(bytes: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_add_epi64, _mm_cmpeq_epi8, _mm_extract_epi16, _mm_loadu_si128, _mm_sad_epu8,
            _mm_set1_epi8, _mm_setzero_si128, _mm_sub_epi8,
        };
        /// Blocks added into bytewise counters before they could overflow.
        const BLOCKS_PER_ROUND: usize = 255;
        let blocks = bytes.len() / 16;
        let mut count = 0usize;
        let mut block = 0;
        while block < blocks {
            let round_end = (block + BLOCKS_PER_ROUND).min(blocks);
            // SAFETY: SSE2 is always present on x86-64; every 16 bytes read lie inside
            // `bytes` (block < blocks = len / 16).
            unsafe {
                let newline = _mm_set1_epi8(b'\n' as i8);
                // Each matching byte compares to -1; subtracting it adds one per lane.
                let mut lanes = _mm_setzero_si128();
                while block < round_end {
                    let chunk = _mm_loadu_si128(bytes.as_ptr().add(block * 16).cast());
                    lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(chunk, newline));
                    block += 1;
                }
                // Sum the sixteen byte lanes into two 64-bit halves.
                let halves = _mm_sad_epu8(lanes, _mm_setzero_si128());
                let total = _mm_add_epi64(halves, std::arch::x86_64::_mm_srli_si128(halves, 8));
                count += _mm_extract_epi16(total, 0) as u16 as usize;
            }
        }
        count
            + bytes[blocks * 16..]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count()
    }
    #[cfg(not(target_arch = "x86_64"))]
    bytes.iter().filter(|&&byte| byte == b'\n').count()
}

/// Cuts `body` into pieces that end just after a newline (the last may not).
fn split_chunks(body: &[u8]) -> Vec<&[u8]> {
    let pieces = if body.len() < PARALLEL_THRESHOLD_BYTES {
        1
    } else {
        rayon::current_num_threads() * CHUNKS_PER_THREAD
    };
    let target = body.len() / pieces + 1;
    let mut chunks = Vec::with_capacity(pieces);
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + target).min(body.len());
        while end < body.len() && body[end - 1] != b'\n' {
            end += 1;
        }
        chunks.push(&body[start..end]);
        start = end;
    }
    if chunks.is_empty() {
        chunks.push(body);
    }
    chunks
}

/// Checks an id cell: non-empty UTF-8 text (a string, not bytes: an id is written back into
/// the outputs and the API's JSON), no quote, no whitespace (Unicode's, so a no-break space
/// or a vertical tab too; commas cannot occur) and no control character (a NUL or an escape
/// in an id is a damaged file; the API refuses the same ids).
#[inline]
pub fn check_id(cell: &[u8], column: &str) -> Result<(), String> {
    if cell.is_empty() {
        return Err(format!("{column} is empty"));
    }
    if plainly_valid(cell) {
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(cell) else {
        return Err(format!(
            "{column} {:?} is not UTF-8 text; save the file as UTF-8",
            String::from_utf8_lossy(cell)
        ));
    };
    if text
        .chars()
        .any(|char| char == '"' || char == '\'' || char.is_whitespace() || char.is_control())
    {
        return Err(format!(
            "{column} {text:?} contains a quote, whitespace or a control character"
        ));
    }
    Ok(())
}

/// Whether an id of at most 8 bytes is ASCII with no byte below `!`, no DEL and no quote:
/// such an id passes [`check_id`] — tested on all its bytes at once. Others take the
/// character check.
#[inline]
fn plainly_valid(cell: &[u8]) -> bool {
    if cell.len() > 8 {
        return false;
    }
    // Padding with `a` adds no offending byte.
    let word = short_cell_word(cell, b'a');
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `word` is below `limit` (and below 0x80): its high bit after subtracting.
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    word & HIGH == 0
        && below(word, b'!') == 0
        && zero_byte(word ^ (ONES * u64::from(b'"'))) == 0
        && zero_byte(word ^ (ONES * u64::from(b'\''))) == 0
        && zero_byte(word ^ (ONES * 0x7F)) == 0
}

/// A byte repeated in each of a word's eight bytes.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The bytes of a cell of at most 8 bytes as a little-endian word, `pad` in each byte past
/// its end. Loaded without a library call: copying a cell of unknown length into a buffer
/// is a call to `memcpy`, and every id cell of every file passes here.
#[inline(always)]
pub fn short_cell_word(cell: &[u8], pad: u8) -> u64 {
    let length = cell.len();
    assert!(length <= 8, "a short cell has at most 8 bytes");
    let word = if length >= 4 {
        // Two loads that overlap when the cell is shorter than 8 bytes: the overlapping
        // bytes are the same, so OR-ing them changes nothing.
        let low = u32::from_le_bytes(cell[..4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(cell[length - 4..].try_into().expect("4 bytes"));
        u64::from(low) | u64::from(high) << ((length - 4) * 8)
    } else if length > 0 {
        // Bytes 0, length / 2 and length - 1 cover every byte of a 1-, 2- or 3-byte cell.
        u64::from(cell[0])
            | u64::from(cell[length / 2]) << (length / 2 * 8)
            | u64::from(cell[length - 1]) << ((length - 1) * 8)
    } else {
        0
    };
    let kept = if length == 8 {
        u64::MAX
    } else {
        (1u64 << (length * 8)) - 1
    };
    (word & kept) | ((ONES * u64::from(pad)) & !kept)
}

/// `"text"` for messages (lossy for non-UTF-8 bytes).
pub fn quoted(cell: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_every_comma_in_and_across_blocks() {
        for length in 0..40 {
            let cells: Vec<String> = (0..6)
                .map(|n| "x".repeat((length * (n + 1)) % 11))
                .collect();
            let line = cells.join(",");
            let split = fields::<6>(line.as_bytes()).unwrap();
            let expected: Vec<&[u8]> = cells.iter().map(|cell| cell.as_bytes()).collect();
            assert_eq!(&split[..], &expected[..], "{line:?}");
            assert_eq!(
                fields::<5>(line.as_bytes()).unwrap_err(),
                "expected 5 fields, found 6"
            );
            assert_eq!(
                fields::<7>(line.as_bytes()).unwrap_err(),
                "expected 7 fields, found 6"
            );
        }
        let long = format!("{},b", "a".repeat(40));
        assert_eq!(fields::<2>(long.as_bytes()).unwrap()[1], b"b");
    }

    #[test]
    fn newlines_are_found_in_and_across_blocks() {
        for length in 0..50 {
            for newline in 0..=length {
                let mut bytes = vec![b'x'; length];
                if newline < length {
                    bytes[newline] = b'\n';
                    if newline + 3 < length {
                        bytes[newline + 3] = b'\n';
                    }
                }
                let expected = (newline < length).then_some(newline);
                assert_eq!(find_newline(&bytes), expected, "{length} {newline}");
            }
        }
    }

    #[test]
    fn newlines_are_counted_in_blocks_rounds_and_tails() {
        // Lengths around a block, and beyond one round of 255 blocks of counters.
        for length in [0, 1, 15, 16, 17, 31, 32, 4079, 4080, 4081, 9000, 70_000] {
            for every in [1, 2, 3, 40] {
                let bytes: Vec<u8> = (0..length)
                    .map(|at| if at % every == 0 { b'\n' } else { b'x' })
                    .collect();
                let expected = bytes.iter().filter(|&&byte| byte == b'\n').count();
                assert_eq!(count_newlines(&bytes), expected, "{length} {every}");
            }
        }
    }

    #[test]
    fn short_cells_load_as_padded_words() {
        let text = b"abcdefgh";
        for length in 0..=8 {
            for pad in [0u8, b'a', 0xff] {
                let mut bytes = [pad; 8];
                bytes[..length].copy_from_slice(&text[..length]);
                assert_eq!(
                    short_cell_word(&text[..length], pad),
                    u64::from_le_bytes(bytes),
                    "{length} {pad}"
                );
            }
        }
    }

    #[test]
    fn ids_with_quotes_or_whitespace_are_refused_at_any_length() {
        for id in [
            "d1",
            "d0853521",
            "ö-ü",
            "a!#",
            "d08535210000000000",
            "Zoë-Ångström-01",
        ] {
            assert!(check_id(id.as_bytes(), "id").is_ok(), "{id}");
        }
        for bad in [
            "d 1",
            "d\t1",
            "\"d1",
            "d'1",
            "d0853521 ",
            "d085352100000\"00000",
            "\r",
            "d\u{b}1",
            "d\u{a0}1",
            "member\u{3000}000000001",
            "d\u{0}1",
            "\u{1b}[31m",
            "d\u{7f}",
            "company-wide-member\u{85}1",
        ] {
            assert!(check_id(bad.as_bytes(), "id").is_err(), "{bad:?}");
        }
        assert!(check_id(b"", "id").is_err());
    }

    #[test]
    fn ids_that_are_not_utf8_are_refused_at_any_length() {
        for bad in [
            &b"d\xff"[..],
            b"d08\xc3",
            b"\xe9t\xe9",
            b"d0853521\xff",
            b"company-wide-member-\xc3\x28",
        ] {
            let problem = check_id(bad, "id").expect_err("refused");
            assert!(problem.contains("not UTF-8"), "{problem}");
        }
    }
}
