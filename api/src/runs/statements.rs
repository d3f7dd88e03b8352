//! A run's result as statements: the three output files of `upline commissions`, written by
//! the engine's own writers, cut into one statement per distributor.

use engine::input::{CarryState, Network, Volumes};
use engine::output::{write_lines, write_state, write_summary};
use engine::plan::CompiledPlan;
use engine::run::{Bonus, RunInput, RunResult};
use store::Statement;

/// Everything a run produced: its three files, plus its totals.
///
/// The files stay as the engine wrote them (a few hundred bytes per distributor) and are cut
/// into statements only as they are stored, a batch at a time: a million statements parsed
/// at once would take several times the files' memory.
pub struct Closed {
    pub files: RunFiles,
    pub distributors: u64,
    pub lines: u64,
    /// Total per bonus in minor units, in the order of [`Bonus::ALL`].
    pub totals: [i64; 7],
}

/// `lines.csv`, `summary.csv` and `state.csv`, each sorted by distributor id, with a header.
pub struct RunFiles {
    pub lines: Vec<u8>,
    pub summary: Vec<u8>,
    pub state: Vec<u8>,
}

impl RunFiles {
    /// The statements, one per distributor, in the files' order.
    pub fn statements(&self) -> Statements<'_> {
        Statements {
            lines: rows(&self.lines).peekable(),
            summary: rows(&self.summary),
            state: rows(&self.state),
        }
    }
}

pub fn close(
    plan: &CompiledPlan,
    network: &Network,
    volumes: &Volumes,
    state: &CarryState,
) -> Result<Closed, String> {
    let input = RunInput {
        plan,
        network,
        volumes,
        state,
    };
    let result: RunResult = engine::run::run(&input).map_err(|error| error.to_string())?;
    let no_progress = |_: u64| {};
    let mut files = RunFiles {
        lines: Vec::new(),
        summary: Vec::new(),
        state: Vec::new(),
    };
    let failed = |error: std::io::Error| error.to_string();
    write_lines(&input, &result, &mut files.lines, &no_progress).map_err(failed)?;
    write_summary(&input, &result, &mut files.summary, &no_progress).map_err(failed)?;
    write_state(&input, &result, &mut files.state, &no_progress).map_err(failed)?;
    let mut totals = [0i64; 7];
    for bonus in Bonus::ALL {
        totals[bonus as usize] = result.earned[bonus as usize].iter().sum();
    }
    Ok(Closed {
        files,
        distributors: network.len() as u64,
        lines: result.lines.len() as u64,
        totals,
    })
}

/// A file's rows after its header, without line ends (empty rows skipped).
struct Rows<'a> {
    rest: &'a [u8],
}

fn rows(file: &[u8]) -> Rows<'_> {
    let rest = match file.iter().position(|&byte| byte == b'\n') {
        Some(header_end) => &file[header_end + 1..],
        None => &[],
    };
    Rows { rest }
}

impl<'a> Iterator for Rows<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (row, rest) = match self.rest.iter().position(|&byte| byte == b'\n') {
                Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            if !row.is_empty() {
                return Some(row);
            }
        }
        None
    }
}

/// The three files cut into statements, in their order: a distributor's summary and state
/// rows (the same row of each file) and the lines of which they are the recipient (the next
/// rows of `lines.csv`, which is sorted the same way).
pub struct Statements<'a> {
    lines: std::iter::Peekable<Rows<'a>>,
    summary: Rows<'a>,
    state: Rows<'a>,
}

impl Iterator for Statements<'_> {
    type Item = Result<Statement, String>;

    fn next(&mut self) -> Option<Result<Statement, String>> {
        let (summary, state) = match (self.summary.next(), self.state.next()) {
            (Some(summary), Some(state)) => (summary, state),
            (None, None) => {
                return self.lines.next().map(|line| {
                    Err(format!(
                        "lines.csv names a recipient without a summary row: {}",
                        text(line)
                    ))
                })
            }
            _ => {
                return Some(Err(
                    "summary.csv and state.csv disagree on the distributors".into(),
                ))
            }
        };
        let id = first_cell(summary);
        if first_cell(state) != id {
            return Some(Err(format!(
                "summary.csv and state.csv disagree on the distributors: {} against {}",
                text(id),
                text(first_cell(state))
            )));
        }
        let mut lines = Vec::new();
        while let Some(line) = self.lines.next_if(|line| first_cell(line) == id) {
            lines.push(text(line));
        }
        Some(Ok(Statement {
            distributor_id: text(id),
            summary: text(summary),
            lines,
            state: text(state),
        }))
    }
}

fn first_cell(row: &[u8]) -> &[u8] {
    row.split(|&byte| byte == b',').next().unwrap_or_default()
}

fn text(row: &[u8]) -> String {
    String::from_utf8_lossy(row).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(lines: &[u8], summary: &[u8], state: &[u8]) -> RunFiles {
        RunFiles {
            lines: lines.to_vec(),
            summary: summary.to_vec(),
            state: state.to_vec(),
        }
    }

    #[test]
    fn files_are_cut_per_distributor() {
        let lines = b"recipient,bonus,source,level,base,rate,amount\na,unilevel,b,1,100.0000,0.05,5.00\na,unilevel,c,2,10.0000,0.05,0.50\nc,binary,c,0,1.0000,0.1,0.10\n";
        let summary = b"id,active\na,true\nb,false\nc,true\n";
        let state = b"id,carry_left,carry_right,highest_rank\na,0,0,M\nb,0,0,M\nc,1,0,M\n";
        let statements: Vec<Statement> = files(lines, summary, state)
            .statements()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0].distributor_id, "a");
        assert_eq!(statements[0].lines.len(), 2);
        assert_eq!(statements[0].summary, "a,true");
        assert!(statements[1].lines.is_empty());
        assert_eq!(statements[2].lines, ["c,binary,c,0,1.0000,0.1,0.10"]);
        assert_eq!(statements[2].state, "c,1,0,M");
    }

    #[test]
    fn files_that_disagree_are_refused() {
        let summary = b"id,active\na,true\nc,true\n";
        let state = b"id,carry_left,carry_right,highest_rank\na,0,0,M\nc,1,0,M\n";
        let errors = |lines: &[u8], summary: &[u8], state: &[u8]| -> Vec<String> {
            files(lines, summary, state)
                .statements()
                .filter_map(Result::err)
                .collect()
        };
        // A line whose recipient has no summary row.
        assert_eq!(
            errors(b"h\nb,x\n", summary, state),
            ["lines.csv names a recipient without a summary row: b,x"]
        );
        // A state row short, or for another distributor.
        assert_eq!(
            errors(b"h\n", summary, b"h\na,0,0,M\n"),
            ["summary.csv and state.csv disagree on the distributors"]
        );
        assert_eq!(
            errors(b"h\n", summary, b"h\na,0,0,M\nb,0,0,M\n"),
            ["summary.csv and state.csv disagree on the distributors: c against b"]
        );
        assert!(errors(b"h\n", summary, state).is_empty());
    }
}
