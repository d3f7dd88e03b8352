//! The inputs of a period close, gathered from the store in the formats of COMP_PLAN_SPEC.md:
//! the same bytes `upline export` writes, read by the same engine readers that
//! `upline commissions` uses — which is what makes an API run and a file run agree exactly.

use engine::calendar::{Day, Period};
use engine::input::{read_distributors, read_state, CarryState, Network, PlacementKind, Volumes};
use engine::plan::CompiledPlan;
use store::{DistributorStatus, GenealogyEntry, PeriodVolume, Statement};

pub const DISTRIBUTORS_HEADER: &str = "id,sponsor_id,placement_id,leg,joined_on,status\n";
pub const STATE_HEADER: &str = "id,carry_left,carry_right,highest_rank\n";

/// `distributors.csv` of a tenant's genealogy, gathered a page at a time (in the store's page
/// order: the engine reads the rows in any order).
pub struct DistributorsCsv {
    csv: Vec<u8>,
    binary: bool,
    rows: usize,
}

impl DistributorsCsv {
    /// The header alone. `binary`: legs are written `L`/`R`, else as the matrix slot.
    pub fn new(binary: bool) -> DistributorsCsv {
        DistributorsCsv {
            csv: Vec::from(DISTRIBUTORS_HEADER.as_bytes()),
            binary,
            rows: 0,
        }
    }

    pub fn extend(&mut self, entries: &[GenealogyEntry]) {
        use std::io::Write as _;
        let csv = &mut self.csv;
        for entry in entries {
            csv.extend_from_slice(entry.id.as_bytes());
            csv.push(b',');
            csv.extend_from_slice(entry.sponsor_id.as_deref().unwrap_or("").as_bytes());
            csv.push(b',');
            if let Some(placement) = &entry.placement {
                csv.extend_from_slice(placement.parent_id.as_bytes());
                csv.push(b',');
                match (self.binary, placement.slot) {
                    (true, 1) => csv.push(b'L'),
                    (true, _) => csv.push(b'R'),
                    // Writing into a vector cannot fail.
                    (false, slot) => {
                        let _ = write!(csv, "{slot}");
                    }
                }
            } else {
                csv.push(b',');
            }
            csv.push(b',');
            csv.extend_from_slice(entry.joined_on.as_bytes());
            let status: &[u8] = match entry.status {
                DistributorStatus::Active => b",active\n",
                DistributorStatus::Terminated => b",terminated\n",
            };
            csv.extend_from_slice(status);
        }
        self.rows += entries.len();
    }

    /// The distributors gathered so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.csv
    }
}

/// `state.csv` of a run, gathered from its statements in id order (a page at a time).
pub struct StateCsv {
    csv: Vec<u8>,
}

impl Default for StateCsv {
    /// The header alone: a run without statements.
    fn default() -> StateCsv {
        StateCsv {
            csv: Vec::from(STATE_HEADER.as_bytes()),
        }
    }
}

impl StateCsv {
    pub fn extend(&mut self, statements: &[Statement]) {
        for statement in statements {
            self.csv.extend_from_slice(statement.state.as_bytes());
            self.csv.push(b'\n');
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.csv
    }
}

/// The network, read and checked by the engine.
pub fn network(plan: &CompiledPlan, distributors_csv: &[u8]) -> Result<Network, String> {
    read_distributors(
        "distributors.csv",
        distributors_csv,
        PlacementKind::of_plan(plan),
    )
    .map_err(|error| error.to_string())
}

/// The carry state, read and checked by the engine.
pub fn carry_state(
    plan: &CompiledPlan,
    network: &Network,
    state_csv: Option<&[u8]>,
) -> Result<CarryState, String> {
    match state_csv {
        Some(bytes) => read_state("state.csv", bytes, network.directory(), plan)
            .map_err(|error| error.to_string()),
        None => Ok(CarryState::empty(network.len())),
    }
}

/// The engine's volumes from the maintained period volumes: PV and CV as they are, fast-start
/// CV as the sum of the days inside each distributor's window (`joined_on ..= joined_on + window`).
pub fn volumes(
    plan: &CompiledPlan,
    network: &Network,
    period: &Period,
    period_volumes: &[(String, PeriodVolume)],
) -> Result<Volumes, String> {
    let count = network.len();
    let window = plan
        .fast_start
        .as_ref()
        .map(|fast_start| fast_start.window_days as Day);
    let mut volumes = Volumes {
        pv: vec![0; count],
        cv: vec![0; count],
        fast_start_cv: vec![0; if window.is_some() { count } else { 0 }],
        total_pv: 0,
        total_cv: 0,
    };
    for (id, volume) in period_volumes {
        let node = network
            .lookup(id.as_bytes())
            .ok_or_else(|| format!("volumes name an unknown distributor {id:?}"))?
            as usize;
        volumes.pv[node] = volume.pv;
        volumes.cv[node] = volume.cv;
        volumes.total_pv += i128::from(volume.pv);
        volumes.total_cv += i128::from(volume.cv);
        if let Some(window) = window {
            let joined = network.joined_on[node];
            volumes.fast_start_cv[node] = volume
                .cv_by_day
                .iter()
                .filter(|(day, _)| {
                    period.contains(*day) && (joined..=joined + window).contains(day)
                })
                .map(|(_, cv)| cv)
                .sum();
        }
    }
    Ok(volumes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Placement;

    fn entry(id: &str, sponsor: Option<&str>, placement: Option<(&str, u8)>) -> GenealogyEntry {
        GenealogyEntry {
            id: id.into(),
            node: 0,
            sponsor_id: sponsor.map(str::to_owned),
            placement: placement.map(|(parent, slot)| Placement {
                parent_id: parent.into(),
                slot,
            }),
            joined_on: "2026-11-03".into(),
            status: DistributorStatus::Active,
            residence_region: None,
        }
    }

    #[test]
    fn rows_carry_the_sponsor_the_placement_and_the_status() {
        let mut terminated = entry("c", Some("a"), Some(("b", 2)));
        terminated.status = DistributorStatus::Terminated;
        let page = [
            entry("a", None, None),
            entry("b", Some("a"), Some(("a", 1))),
            terminated,
        ];
        let text = |binary| {
            let mut csv = DistributorsCsv::new(binary);
            csv.extend(&page[..1]);
            csv.extend(&page[1..]);
            assert_eq!(csv.rows(), 3);
            String::from_utf8(csv.into_bytes()).unwrap()
        };
        assert_eq!(
            text(true),
            "id,sponsor_id,placement_id,leg,joined_on,status\n\
             a,,,,2026-11-03,active\n\
             b,a,a,L,2026-11-03,active\n\
             c,a,b,R,2026-11-03,terminated\n"
        );
        assert_eq!(
            text(false),
            "id,sponsor_id,placement_id,leg,joined_on,status\n\
             a,,,,2026-11-03,active\n\
             b,a,a,1,2026-11-03,active\n\
             c,a,b,2,2026-11-03,terminated\n"
        );
    }
}
