//! What the engine's integration tests share: random networks as files, and closing their
//! period in memory the way `upline commissions` does.

#![allow(dead_code)] // each test file uses its own part

use engine::calendar::Period;
use engine::input::{
    read_distributors_beside, read_orders, read_state, CarryState, Network, PlacementKind, Volumes,
};
use engine::output::{write_lines, write_state, write_summary};
use engine::plan::{read_plan, CompiledPlan, PlanFormat};
use engine::run::{run, RunInput, RunResult};
use std::collections::HashMap;

/// A small deterministic generator (SplitMix64), so a failing case is reproducible from its seed.
pub struct Random(engine::splitmix::SplitMix64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(engine::splitmix::SplitMix64(seed))
    }
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0.below(bound)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            items.swap(index, self.below(index as u64 + 1) as usize);
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Binary,
    Matrix,
    Unilevel,
}

/// Any kind of plan, for proptest.
pub fn kind_strategy() -> impl proptest::strategy::Strategy<Value = Kind> {
    use proptest::prelude::{prop_oneof, Just};
    prop_oneof![Just(Kind::Binary), Just(Kind::Matrix), Just(Kind::Unilevel)]
}

#[derive(Clone)]
pub struct Files {
    pub plan: String,
    pub distributors: Vec<String>,
    pub orders: Vec<String>,
    pub state: Vec<String>,
}

fn volume(random: &mut Random) -> String {
    match random.below(4) {
        0 => "0".into(),
        1 => format!("{}", random.below(300)),
        2 => format!("{}.{}", random.below(300), random.below(10)),
        _ => format!("{}.{:04}", random.below(300), random.below(10_000)),
    }
}

fn plan_text(kind: Kind, random: &mut Random) -> String {
    let compression = random.chance(50);
    let decimals = [2, 0, 3][random.below(3) as usize];
    // An amount may not have more digits than the currency.
    let silver = if decimals == 0 { "125" } else { "125.5" };
    let qualify = random.below(2);
    let placement_bonus = match kind {
        Kind::Binary => format!(
            r#""binary":{{"pct":0.1{},"unit":{},"cap":{},"carry_cap":{},"flush_inactive":{},"qualify":{{"left":{qualify},"right":{qualify}}}}},"#,
            random.below(10),
            [0, 10, 25][random.below(3) as usize],
            [1000, 15, 3][random.below(3) as usize],
            [100000, 150, 40][random.below(3) as usize],
            random.chance(50)
        ),
        Kind::Matrix => format!(
            r#""matrix":{{"width":3,"levels":[0.05,0.04,0.03],"compression":{compression}}},"#
        ),
        Kind::Unilevel => String::new(),
    };
    format!(
        r#"{{"name":"p","currency":"USD","currency_decimals":{},"activity":{{"min_pv":{}}},
        "ranks":[{{"name":"Member","unilevel_levels":{}}},
                 {{"name":"Bronze","min_pv":50,"min_gv":200,"max_leg_share":0.6,"unilevel_levels":3,"matching_generations":1}},
                 {{"name":"Silver","min_pv":50,"min_gv":500,"legs":{{"count":2,"min_rank":"Bronze"}}}}],
        "bonuses":{{{placement_bonus}
            "unilevel":{{"levels":[0.05,0.04,0.03,0.02,0.01],"compression":{compression}}},
            "matching":{{"generations":[0.2,0.1],"of":["unilevel","binary","matrix","fast_start"]}},
            "fast_start":{{"pct":0.15,"window_days":{}}},
            "rank_advancement":{{"Bronze":50,"Silver":{silver}}},
            "pool":{{"pct":0.03,"shares":{{"Bronze":1,"Silver":2.5}}}}}}}}"#,
        decimals,
        [0, 50, 100][random.below(3) as usize],
        random.below(4) + 1,
        random.below(40),
    )
}

pub fn random_files(seed: u64, count: usize, kind: Kind) -> Files {
    let mut random = Random::new(seed);
    let ids: Vec<String> = (0..count)
        .map(|index| format!("d{}x{index}", random.below(1000)))
        .collect();
    let width = match kind {
        Kind::Binary => 2,
        Kind::Matrix => 3,
        Kind::Unilevel => 0,
    };
    let mut taken: HashMap<(usize, u64), ()> = HashMap::new();
    let mut distributors = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let joined = format!(
            "2026-{:02}-{:02}",
            9 + random.below(3),
            1 + random.below(28)
        );
        let status = if random.chance(10) {
            "terminated"
        } else {
            "active"
        };
        if index == 0 {
            distributors.push(format!("{id},,,,{joined},{status}"));
            continue;
        }
        // Recent members recruit more: a heavy head of the sponsor tree.
        let sponsor = if random.chance(30) {
            random.below(index as u64)
        } else {
            index as u64 - 1 - random.below(index.min(4) as u64)
        } as usize;
        let (placement, leg) = if width == 0 {
            (String::new(), String::new())
        } else {
            // The first free slot found from a random node downward-ish: try random nodes.
            loop {
                let parent = random.below(index as u64) as usize;
                let slot = random.below(width) + 1;
                if taken.insert((parent, slot), ()).is_none() {
                    let leg = match kind {
                        Kind::Binary => {
                            if slot == 1 {
                                "L".to_string()
                            } else {
                                "R".to_string()
                            }
                        }
                        _ => slot.to_string(),
                    };
                    break (ids[parent].clone(), leg);
                }
            }
        };
        distributors.push(format!(
            "{id},{},{placement},{leg},{joined},{status}",
            ids[sponsor]
        ));
    }
    let mut orders = Vec::new();
    for number in 0..count * 3 / 2 {
        let date = match random.below(10) {
            0 => "2026-10-31".to_string(),
            1 => "2026-12-01".to_string(),
            _ => format!("2026-11-{:02}", 1 + random.below(30)),
        };
        let status = if random.chance(8) { "refunded" } else { "paid" };
        let who = &ids[random.below(count as u64) as usize];
        orders.push(format!(
            "o{number},{who},{date},{},{},{status}",
            volume(&mut random),
            volume(&mut random)
        ));
    }
    let mut state = Vec::new();
    for id in &ids {
        if random.chance(30) {
            let rank = ["Member", "Bronze", "Silver"][random.below(3) as usize];
            state.push(format!(
                "{id},{},{},{rank}",
                volume(&mut random),
                volume(&mut random)
            ));
        }
    }
    Files {
        plan: plan_text(kind, &mut random),
        distributors,
        orders,
        state,
    }
}

pub fn csv(header: &str, rows: &[String]) -> Vec<u8> {
    let mut text = String::from(header);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

pub struct Outputs {
    pub lines: String,
    pub summary: String,
    pub state: String,
}

impl Files {
    /// The files as bytes, each under its header.
    pub fn bytes(&self) -> FileBytes {
        FileBytes {
            plan: self.plan.clone(),
            distributors: csv(DISTRIBUTORS_HEADER, &self.distributors),
            orders: csv(ORDERS_HEADER, &self.orders),
            state: csv(STATE_HEADER, &self.state),
        }
    }
}

pub const DISTRIBUTORS_HEADER: &str = "id,sponsor_id,placement_id,leg,joined_on,status";
pub const ORDERS_HEADER: &str = "order_id,distributor_id,date,pv,cv,status";
pub const STATE_HEADER: &str = "id,carry_left,carry_right,highest_rank";

/// A run's input files as they would be on disk (the plan as JSON text).
#[derive(Clone)]
pub struct FileBytes {
    pub plan: String,
    pub distributors: Vec<u8>,
    pub orders: Vec<u8>,
    pub state: Vec<u8>,
}

/// What a run reads from its files.
pub struct Loaded {
    pub plan: CompiledPlan,
    pub network: Network,
    pub volumes: Volumes,
    pub carry: CarryState,
}

impl Loaded {
    /// Reads the files of November 2026 as `upline commissions` does (orders and state beside
    /// the trees), or gives the first problem in the spec's order: plan, distributors, orders,
    /// state.
    pub fn read(files: &FileBytes) -> Result<Loaded, String> {
        let document = read_plan(&files.plan, PlanFormat::Json)
            .map_err(|error| format!("plan.json: {error}"))?;
        let plan =
            CompiledPlan::compile(&document).map_err(|error| format!("plan.json: {error}"))?;
        let kind = PlacementKind::of_plan(&plan);
        let period = Period::parse("2026-11").unwrap();
        let window = plan.fast_start.as_ref().map(|rules| rules.window_days);
        let (network, (volumes, carry)) =
            read_distributors_beside("distributors.csv", &files.distributors, kind, |directory| {
                (
                    read_orders("orders.csv", &files.orders, directory, &period, window),
                    read_state("state.csv", &files.state, directory, &plan),
                )
            })
            .map_err(|error| error.to_string())?;
        let volumes = volumes.map_err(|error| error.to_string())?;
        let carry = carry.map_err(|error| error.to_string())?;
        Ok(Loaded {
            plan,
            network,
            volumes,
            carry,
        })
    }

    pub fn input(&self) -> RunInput<'_> {
        RunInput {
            plan: &self.plan,
            network: &self.network,
            volumes: &self.volumes,
            state: &self.carry,
        }
    }
}

/// The three output files of a run.
pub fn outputs(input: &RunInput<'_>, result: &RunResult) -> Outputs {
    let text = |write: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut bytes = Vec::new();
        write(&mut bytes).expect("in-memory write");
        String::from_utf8(bytes).expect("UTF-8")
    };
    Outputs {
        lines: text(&|out| write_lines(input, result, out, &|_| {})),
        summary: text(&|out| write_summary(input, result, out, &|_| {})),
        state: text(&|out| write_state(input, result, out, &|_| {})),
    }
}

/// Closes the period of valid `files`, and lets `inspect` look at the run.
pub fn with_run<T>(
    files: &Files,
    inspect: impl FnOnce(&RunInput<'_>, &RunResult) -> T,
) -> (Outputs, T) {
    let loaded = Loaded::read(&files.bytes()).unwrap_or_else(|problem| panic!("{problem}"));
    let input = loaded.input();
    let result = run(&input).expect("run succeeds");
    (outputs(&input, &result), inspect(&input, &result))
}

/// Closes the period of any files: the outputs, or the first problem.
pub fn close(files: &FileBytes) -> Result<Outputs, String> {
    let loaded = Loaded::read(files)?;
    let input = loaded.input();
    let result = run(&input).map_err(|error| error.to_string())?;
    Ok(outputs(&input, &result))
}
