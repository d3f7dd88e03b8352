//! A run's result as statements: the three output files of `upline commissions`, written by
//! the engine's own writers, cut into one statement per distributor.

use engine::input::{CarryState, Network, Volumes};
use engine::output::{write_lines, write_state, write_summary};
use engine::plan::CompiledPlan;
use engine::run::{Bonus, RunInput, RunResult};
use store::Statement;

/// Everything a run produced, per distributor, plus its totals.
pub struct Closed {
    pub statements: Vec<Statement>,
    pub lines: u64,
    /// Total per bonus in minor units, in the order of [`Bonus::ALL`].
    pub totals: [i64; 7],
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
    let mut lines = Vec::new();
    let mut summary = Vec::new();
    let mut next_state = Vec::new();
    let failed = |error: std::io::Error| error.to_string();
    write_lines(&input, &result, &mut lines, &no_progress).map_err(failed)?;
    write_summary(&input, &result, &mut summary, &no_progress).map_err(failed)?;
    write_state(&input, &result, &mut next_state, &no_progress).map_err(failed)?;
    let mut totals = [0i64; 7];
    for bonus in Bonus::ALL {
        totals[bonus as usize] = result.earned[bonus as usize].iter().sum();
    }
    Ok(Closed {
        statements: split(&lines, &summary, &next_state)?,
        lines: result.lines.len() as u64,
        totals,
    })
}

/// Cuts the three files (each sorted by distributor id, with a header) into statements.
pub fn split(lines: &[u8], summary: &[u8], state: &[u8]) -> Result<Vec<Statement>, String> {
    let rows = |bytes: &[u8]| -> Vec<String> {
        bytes
            .split(|&byte| byte == b'\n')
            .skip(1)
            .filter(|row| !row.is_empty())
            .map(|row| String::from_utf8_lossy(row).into_owned())
            .collect()
    };
    let first_cell = |row: &str| row.split(',').next().unwrap_or("").to_owned();
    let mut line_rows = rows(lines).into_iter().peekable();
    let state_rows = rows(state);
    let summary_rows = rows(summary);
    if state_rows.len() != summary_rows.len() {
        return Err("summary.csv and state.csv disagree on the distributors".into());
    }
    let mut statements = Vec::with_capacity(summary_rows.len());
    for (summary_row, state_row) in summary_rows.into_iter().zip(state_rows) {
        let id = first_cell(&summary_row);
        let mut own_lines = Vec::new();
        while line_rows.peek().is_some_and(|row| first_cell(row) == id) {
            own_lines.push(line_rows.next().expect("peeked"));
        }
        statements.push(Statement {
            distributor_id: id,
            summary: summary_row,
            lines: own_lines,
            state: state_row,
        });
    }
    if line_rows.next().is_some() {
        return Err("lines.csv names a recipient without a summary row".into());
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_cut_per_distributor() {
        let lines = b"recipient,bonus,source,level,base,rate,amount\na,unilevel,b,1,100.0000,0.05,5.00\na,unilevel,c,2,10.0000,0.05,0.50\nc,binary,c,0,1.0000,0.1,0.10\n";
        let summary = b"id,active\na,true\nb,false\nc,true\n";
        let state = b"id,carry_left,carry_right,highest_rank\na,0,0,M\nb,0,0,M\nc,1,0,M\n";
        let statements = split(lines, summary, state).unwrap();
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0].lines.len(), 2);
        assert!(statements[1].lines.is_empty());
        assert_eq!(statements[2].lines, ["c,binary,c,0,1.0000,0.1,0.10"]);
        assert_eq!(statements[2].state, "c,1,0,M");
        assert!(split(b"h\nz,x\n", summary, state).is_err());
    }
}
