//! The seed's eleven worked examples (and Example 4's variant), decided with `--prices seed`.
//! Each must end where the seed says, with the numbers the seed's formulas give — corrected
//! where the seed's arithmetic is wrong (docs/routing.md R6).

use fastpath_route::{
    Backend, Decision, GateDecision, MessageKind, Node, PriceTable, WorkedExample, is_valid_walk,
    worked_examples,
};

fn example(id: &str) -> (WorkedExample, Decision) {
    let ex = worked_examples()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no example {id}"));
    let d = ex.decide(&PriceTable::seed()).unwrap_or_else(|e| panic!("example {id}: {e}"));
    (ex, d)
}

fn tell_user(d: &Decision) -> Vec<&str> {
    d.messages.iter().filter(|m| m.kind == MessageKind::TellUser).map(|m| m.text.as_str()).collect()
}

#[test]
fn there_are_eleven_examples_plus_the_python_variant() {
    let ids: Vec<&str> = worked_examples().iter().map(|e| e.id).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "4b", "5", "6", "7", "8", "9", "10", "11"]);
}

#[test]
fn every_example_follows_the_seeds_path() {
    for ex in worked_examples() {
        let d = ex.decide(&PriceTable::seed()).unwrap();
        assert_eq!(d.path, ex.seed_path, "example {}", ex.id);
        assert!(is_valid_walk(&d.path), "example {}", ex.id);
        assert_eq!(d.prices.name, "seed");
    }
}

#[test]
fn example_1_matmul_exceeds_memory_and_streams_in_tiles() {
    let (_, d) = example("1");
    assert_eq!(d.inputs.number("data_size_gb"), Some(30.0), "3 * 50000^2 * 4 / 1e9");
    assert_eq!(d.terminal, Node::T1);
    let s0 = &d.trace[0];
    assert_eq!(s0.taken().text, "data_size_gb > machine_ram_gb * 0.70");
    let chunking = d.plan.chunking.as_ref().expect("S3 → T1 carries a chunked plan");
    assert_eq!(chunking.ceiling_gb, 24.0 * 0.70);
    assert!(chunking.chunk_gb <= chunking.ceiling_gb / 2.0);
    assert_eq!(chunking.chunks, 4);
    assert_eq!(d.plan.backend, Backend::Gpu);
    assert_eq!(d.plan.operations[0].kernels, ["MATMUL"]);
}

#[test]
fn example_2_fleet_with_corrected_arithmetic() {
    let (_, d) = example("2");
    let local = d.estimates.local.time_hours.unwrap();
    assert!((local - 4_294_967_296.0 / 3500.0 / 3600.0).abs() < 1e-9);
    assert!((local - 340.87).abs() < 0.01, "341 h locally, not the seed's ~22 h: {local}");
    let fleet = d.estimates.do_fleet.as_ref().unwrap();
    assert_eq!(fleet.droplets, 15);
    assert!((fleet.time_hours - 22.72).abs() < 0.01, "{}", fleet.time_hours);
    assert!(
        (fleet.cost_usd - 57.95).abs() < 0.01,
        "about $58, not the seed's ~$39: {}",
        fleet.cost_usd
    );
    let s5 = d.trace.iter().find(|v| v.state == Node::S5).unwrap();
    let cost = s5.computed.iter().find(|c| c.name == "do_fleet_cost").unwrap();
    assert!((cost.value.unwrap() - 57.95).abs() < 0.01);
    assert_eq!(
        tell_user(&d),
        [
            "Local estimate: 340.9h. Fleet of 15 droplets: ~22.7h, ~$58. Each droplet processes an independent chunk."
        ]
    );
    let summary = d.summary.as_ref().unwrap();
    assert_eq!(summary.cloud_cost, "$58");
}

#[test]
fn example_3_training_goes_to_lambda_at_the_seed_price() {
    let (_, d) = example("3");
    assert_eq!(d.terminal_name, "LAMBDA_H100");
    assert!(tell_user(&d)[0].contains("Lambda 8x H100: ~$23.92/h"), "{:?}", tell_user(&d));
    assert!(
        d.messages
            .iter()
            .any(|m| m.text.contains("ALWAYS TERMINATE WHEN DONE ($574/day if forgotten)"))
    );
    assert_eq!(d.estimates.lambda_8x_h100.usd_per_hour, 23.92);
    assert_eq!(
        d.estimates.lambda_8x_h100.time_hours, None,
        "no local estimate, so no invented GPU time"
    );
}

#[test]
fn example_4_sum_goes_to_mlx_and_to_the_gpu_without_python() {
    let (_, d) = example("4");
    assert_eq!(d.terminal, Node::T7);
    let code = &d.plan.framework_code.as_ref().unwrap().code;
    assert!(code.contains("mx.sum(x)"), "{code}");
    assert!((d.inputs.number("data_size_gb").unwrap() - 0.002).abs() < 1e-5);

    let (_, d) = example("4b");
    assert_eq!(d.path, [Node::S0, Node::T1]);
    assert_eq!(d.plan.operations[0].kernels, ["REDUCE_SUM"]);
}

#[test]
fn example_5_tiny_sigmoid_runs_inline_and_tells_nothing() {
    let (_, d) = example("5");
    assert_eq!(d.terminal, Node::T0);
    assert!(d.messages.is_empty(), "T0: tell user nothing, {:?}", d.messages);
    assert!(d.summary.is_none());
    assert_eq!(d.plan.backend, Backend::CpuInline);
}

#[test]
fn example_6_battery_gate_warns_once_and_routes_to_the_gpu() {
    let (_, d) = example("6");
    assert_eq!(d.gate.decision, GateDecision::Warn);
    let gate: Vec<&str> = d
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Gate)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(gate.len(), 1, "0.3 h is under the 0.5 h battery rule (R8): {gate:?}");
    assert!(gate[0].contains("mild thermal throttle (78%)"));
    assert_eq!(d.terminal, Node::T1);
}

#[test]
fn examples_7_and_8_fft_and_sort_go_to_mlx() {
    for (id, call) in [("7", "mx.fft.rfft(x)"), ("8", "mx.sort(x)")] {
        let (_, d) = example(id);
        assert_eq!(d.terminal_name, "LOCAL_MLX", "example {id}");
        assert!(d.plan.framework_code.as_ref().unwrap().code.contains(call), "example {id}");
    }
}

#[test]
fn example_9_splits_into_mlx_matmul_and_custom_compaction_and_top_k() {
    let (_, d) = example("9");
    assert_eq!(d.terminal, Node::T9);
    assert_eq!(d.plan.backend, Backend::MlxThenGpu);
    let stages = &d.plan.stages;
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].runner, "MLX");
    assert_eq!(stages[0].operations, ["matmul"]);
    assert_eq!(stages[1].runner, "fastpath GPU kernels");
    assert_eq!(stages[1].operations, ["filter_threshold", "top_k"]);
    assert!(
        stages[1].details[0].ends_with("MAP_COMPARE -> COMPACT_MASK"),
        "{:?}",
        stages[1].details
    );
    assert!(stages[1].details[1].ends_with("TOPK_SELECT"));
    assert_eq!(
        tell_user(&d),
        [
            "Splitting workload: MLX handles matmul, custom GPU kernels handle filter_threshold, top_k."
        ]
    );
}

#[test]
fn example_10_hugging_face_goes_to_pytorch() {
    let (_, d) = example("10");
    assert_eq!(d.terminal_name, "LOCAL_MPS");
    assert!(
        tell_user(&d)[0]
            .starts_with("Using PyTorch+MPS for ecosystem compatibility. ~2.2x slower than MLX")
    );
}

#[test]
fn example_11_memory_pressure_warning_is_carried_and_the_simulation_stays_local() {
    let (_, d) = example("11");
    assert_eq!(d.path, [Node::S0, Node::T1]);
    assert!(
        d.messages
            .iter()
            .any(|m| m.kind == MessageKind::Gate && m.text.contains("Google Chrome (6.2 GB)"))
    );
    // 14 GB fits under the 70% ceiling of 24 GB.
    let s0 = &d.trace[0];
    assert!(!s0.predicates[3].result, "{}", s0.predicates[3].text);
    assert_eq!(d.plan.operations[0].kernels, ["SIM_HEAT_EQUATION"]);
}
