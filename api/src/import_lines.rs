//! Cuts a bulk import's streamed body into lines, holding at most [`LINE_BYTES_MAX`] of a
//! line: a longer one is reported once and its bytes are dropped up to its end. Without the
//! bound, a body with no newline would be held whole, however large the client made it.

/// The longest line an import takes, without its line end. A CSV row of the longest ids
/// (128 bytes each) is under 500 bytes, and an NDJSON enrollment under a few kilobytes.
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// What the body held next.
#[derive(Debug, PartialEq, Eq)]
pub enum Cut {
    /// A whole line, without its `\n`.
    Line(Vec<u8>),
    /// A line longer than [`LINE_BYTES_MAX`]; its bytes are not kept.
    TooLong,
}

#[derive(Default)]
pub struct LineCutter {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Inside a line already reported as too long: bytes are dropped up to its end.
    dropping: bool,
}

impl LineCutter {
    /// Takes the next piece of the body, appending what it completes to `cuts`.
    pub fn feed(&mut self, mut chunk: &[u8], cuts: &mut Vec<Cut>) {
        while !chunk.is_empty() {
            let end = chunk.iter().position(|&byte| byte == b'\n');
            let (piece, rest) = match end {
                Some(end) => (&chunk[..end], &chunk[end + 1..]),
                None => (chunk, &chunk[chunk.len()..]),
            };
            if !self.dropping {
                if self.partial.len() + piece.len() > LINE_BYTES_MAX {
                    cuts.push(Cut::TooLong);
                    self.partial.clear();
                    self.dropping = true;
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            if end.is_some() {
                if !self.dropping {
                    cuts.push(Cut::Line(std::mem::take(&mut self.partial)));
                }
                self.dropping = false;
            }
            chunk = rest;
        }
    }

    /// The last line, when the body does not end with a newline.
    pub fn finish(self) -> Option<Cut> {
        (!self.dropping && !self.partial.is_empty()).then_some(Cut::Line(self.partial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(body: &[u8], chunk_size: usize) -> Vec<Cut> {
        let mut cutter = LineCutter::default();
        let mut cuts = Vec::new();
        for chunk in body.chunks(chunk_size) {
            cutter.feed(chunk, &mut cuts);
        }
        cuts.extend(cutter.finish());
        cuts
    }

    fn line(text: &str) -> Cut {
        Cut::Line(text.as_bytes().to_vec())
    }

    #[test]
    fn lines_are_the_same_however_the_body_is_cut() {
        let body = b"id,sponsor\n\na,b\r\nlast";
        let expected = vec![line("id,sponsor"), line(""), line("a,b\r"), line("last")];
        for chunk_size in 1..=body.len() {
            assert_eq!(cut(body, chunk_size), expected, "chunks of {chunk_size}");
        }
        assert_eq!(cut(b"a\n", 1), vec![line("a")], "no empty last line");
    }

    #[test]
    fn a_line_over_the_limit_is_reported_once_and_not_kept() {
        let longest = "x".repeat(LINE_BYTES_MAX);
        let body = format!("a\n{longest}\n{longest}y\nb\n{longest}zz");
        for chunk_size in [1, 7, 4096, 65_536, body.len()] {
            assert_eq!(
                cut(body.as_bytes(), chunk_size),
                vec![
                    line("a"),
                    line(&longest),
                    Cut::TooLong,
                    line("b"),
                    Cut::TooLong
                ],
                "chunks of {chunk_size}"
            );
        }
    }

    #[test]
    fn a_body_without_newlines_holds_no_more_than_one_line() {
        let mut cutter = LineCutter::default();
        let mut cuts = Vec::new();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            cutter.feed(&chunk, &mut cuts);
            assert!(cutter.partial.len() <= LINE_BYTES_MAX);
        }
        assert_eq!(cuts, vec![Cut::TooLong]);
        assert_eq!(cutter.finish(), None);
    }
}
