//! The inputs of a period close, gathered from the store in the formats of COMP_PLAN_SPEC.md:
//! the same bytes `upline export` writes, read by the same engine readers that
//! `upline commissions` uses — which is what makes an API run and a file run agree exactly.

use engine::calendar::{Day, Period};
use engine::input::{read_distributors, read_state, CarryState, Network, PlacementKind, Volumes};
use engine::plan::CompiledPlan;
use store::{Distributor, DistributorStatus, PeriodVolume, Statement};

pub const DISTRIBUTORS_HEADER: &str = "id,sponsor_id,placement_id,leg,joined_on,status\n";
pub const STATE_HEADER: &str = "id,carry_left,carry_right,highest_rank\n";

/// `distributors.csv` of the tenant's genealogy.
pub fn distributors_csv(distributors: &[Distributor], binary: bool) -> Vec<u8> {
    let mut csv = Vec::with_capacity(64 * distributors.len() + DISTRIBUTORS_HEADER.len());
    csv.extend_from_slice(DISTRIBUTORS_HEADER.as_bytes());
    for distributor in distributors {
        let (parent, leg) = match &distributor.placement {
            Some(placement) => (
                placement.parent_id.as_str(),
                match (binary, placement.slot) {
                    (true, 1) => "L".to_owned(),
                    (true, _) => "R".to_owned(),
                    (false, slot) => slot.to_string(),
                },
            ),
            None => ("", String::new()),
        };
        let status = match distributor.status {
            DistributorStatus::Active => "active",
            DistributorStatus::Terminated => "terminated",
        };
        let sponsor = distributor.sponsor_id.as_deref().unwrap_or("");
        csv.extend_from_slice(
            format!(
                "{},{sponsor},{parent},{leg},{},{status}\n",
                distributor.id, distributor.joined_on
            )
            .as_bytes(),
        );
    }
    csv
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
