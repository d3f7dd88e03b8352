//! Profiling aid: `cargo run --release -p upline-engine --example close_timed -- DIR [RUNS]`
//! closes the period of a folder in fixture layout in-process and prints each step's seconds
//! (best of RUNS). Output goes to DIR/out-timed. The real command is `upline commissions`.
use engine::input::{read_distributors, read_orders, read_state, PlacementKind};
use engine::output::{write_lines, write_state, write_summary};
use engine::plan::{read_plan, CompiledPlan, PlanFormat};
use engine::run::{run, RunInput};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DIR"));
    let runs: usize = args.next().map_or(3, |text| text.parse().expect("RUNS"));
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    let plan_text = String::from_utf8(read("plan.json")).unwrap();
    let period_text = String::from_utf8(read("period")).unwrap();
    let period = engine::calendar::Period::parse(period_text.trim()).unwrap();
    let (distributors, orders, state) = (
        read("distributors.csv"),
        read("orders.csv"),
        read("state.csv"),
    );
    let plan = CompiledPlan::compile(&read_plan(&plan_text, PlanFormat::Json).unwrap()).unwrap();
    let kind = PlacementKind::of_plan(&plan);
    let window = plan.fast_start.as_ref().map(|f| f.window_days);
    let out = dir.join("out-timed");
    std::fs::create_dir_all(&out).unwrap();
    let mut best = vec![f64::MAX; 7];
    for _ in 0..runs {
        let mut times = Vec::new();
        let mut clock = Instant::now();
        let mut lap = |times: &mut Vec<f64>| {
            times.push(clock.elapsed().as_secs_f64());
            clock = Instant::now();
        };
        let network = read_distributors("distributors.csv", &distributors, kind).unwrap();
        lap(&mut times);
        let volumes = read_orders("orders.csv", &orders, &network, &period, window).unwrap();
        lap(&mut times);
        let carry = read_state("state.csv", &state, &network, &plan).unwrap();
        lap(&mut times);
        let input = RunInput {
            plan: &plan,
            network: &network,
            volumes: &volumes,
            state: &carry,
        };
        let result = run(&input).unwrap();
        lap(&mut times);
        type Writer = fn(
            &RunInput<'_>,
            &engine::run::RunResult,
            &mut std::fs::File,
            &(dyn Fn(u64) + Sync),
        ) -> std::io::Result<()>;
        let files: [(&str, Writer); 3] = [
            ("lines.csv", write_lines),
            ("summary.csv", write_summary),
            ("state.csv", write_state),
        ];
        for (name, write) in files {
            let mut file = std::fs::File::create(out.join(name)).unwrap();
            write(&input, &result, &mut file, &|_| {}).unwrap();
            lap(&mut times);
        }
        for (at, time) in times.iter().enumerate() {
            best[at] = best[at].min(*time);
        }
    }
    let names = [
        "distributors",
        "orders",
        "state",
        "compute",
        "lines",
        "summary",
        "state.csv",
    ];
    for (name, time) in names.iter().zip(&best) {
        println!("{name:>12} {time:.3}");
    }
    println!("{:>12} {:.3}", "sum", best.iter().sum::<f64>());
}
