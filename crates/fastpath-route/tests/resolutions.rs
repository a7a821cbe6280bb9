//! One test (or more) per resolution in docs/routing.md: where the seed is ambiguous or
//! inconsistent, these pin down what fastpath does instead.

use fastpath_route::{
    GateOutcome, MachineProfile, MessageKind, MlxCoverage, Node, OperationSpec, ParamValue,
    PriceTable, RooflineRates, RouteError, Variables, Workload, decide, resolve, route,
    worked_examples,
};

fn m5() -> MachineProfile {
    MachineProfile::named("m5").unwrap()
}

fn pass() -> GateOutcome {
    GateOutcome::pass("test")
}

fn vars(v: Variables) -> Workload {
    Workload { variables: v, ..Workload::default() }
}

fn ops(list: Vec<OperationSpec>) -> Workload {
    Workload { operations: list, ..Workload::default() }
}

fn decide_seed(w: &Workload) -> fastpath_route::Decision {
    route(w, &m5(), &RooflineRates, &PriceTable::seed(), &pass()).unwrap()
}

fn taken(d: &fastpath_route::Decision, state: Node) -> usize {
    d.trace
        .iter()
        .find(|v| v.state == state)
        .unwrap_or_else(|| panic!("{state} not on {:?}", d.path))
        .taken()
        .index
}

// R1 — T9 is reachable: S0 enters S7 for "mostly MLX" workloads.
#[test]
fn r1_mostly_mlx_workload_reaches_t9_although_the_seeds_s0_test_excludes_it() {
    let w = ops(vec![
        OperationSpec::new("matmul", &[4096, 4096]),
        OperationSpec::new("compact", &[4096 * 4096]),
    ]);
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S7, Node::T9]);
    // The seed's own S0 predicate (mlx_expressible AND python_acceptable AND NOT needs_custom_gpu)
    // is false for every workload with a custom operation: T9 would be unreachable.
    assert_eq!(d.inputs.flag("needs_custom_gpu"), Some(true));
    assert_eq!(d.inputs.flag("mlx_expressible"), Some(false));
    assert!(d.trace[0].taken().resolution.as_deref().unwrap().contains("R1"));
}

#[test]
fn r1_stage_split_is_one_way_so_mlx_operations_after_a_custom_one_stay_custom() {
    // `sum` has an MLX equivalent, but it consumes the compaction's output, which lives with
    // fastpath's kernels: it runs there (like top-k in Example 9, R20).
    let w = ops(vec![
        OperationSpec::new("matmul", &[4096, 4096]),
        OperationSpec::new("compact", &[1 << 20]),
        OperationSpec::new("sum", &[1 << 20]),
    ]);
    let d = decide_seed(&w);
    assert_eq!(d.terminal, Node::T9);
    assert_eq!(d.plan.stages[0].operations, ["matmul"]);
    assert_eq!(d.plan.stages[1].operations, ["compact", "sum"]);
}

#[test]
fn r1_a_custom_first_operation_means_no_mlx_stage_and_no_t9() {
    let w = ops(vec![
        OperationSpec::new("histogram", &[1 << 20]),
        OperationSpec::new("matmul", &[4096, 4096]),
    ]);
    let d = decide_seed(&w);
    assert_eq!(
        d.inputs.value("mlx_coverage"),
        fastpath_route::InputValue::Coverage(MlxCoverage::None)
    );
    assert_eq!(d.path, [Node::S0, Node::T1]);
}

#[test]
fn r1_mostly_means_at_least_half_of_the_estimated_time() {
    // A tiny MLX stage in front of a big custom one is not "most".
    let w =
        ops(vec![OperationSpec::new("sum", &[1000]), OperationSpec::new("compact", &[1 << 26])]);
    let d = decide_seed(&w);
    assert_eq!(
        d.inputs.value("mlx_coverage"),
        fastpath_route::InputValue::Coverage(MlxCoverage::None)
    );
    assert_eq!(d.terminal, Node::T1);
    // Given explicitly, mlx_coverage overrides the derivation.
    let mut w = w;
    w.variables.mlx_coverage = Some(MlxCoverage::Most);
    assert_eq!(decide_seed(&w).terminal, Node::T9);
}

// R2 — "parallel at a higher level" is its own variable, parallel_across_items.
#[test]
fn r2_sequential_items_that_are_independent_go_through_s1_to_the_fleet() {
    let w = vars(Variables {
        is_sequential: Some(true),
        is_parallel: Some(false),
        parallel_across_items: Some(true),
        item_count: Some(50_000_000.0),
        local_rate: Some(1000.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S1, Node::S5, Node::T6]);
    // With the seed's literal S5 test (is_parallel, false here) no S5 branch would be true.
    let s5 = d.trace.iter().find(|v| v.state == Node::S5).unwrap();
    assert_eq!(
        s5.taken().seed_text.as_deref(),
        Some("is_parallel AND NOT requires_cuda AND do_fleet_cost < 100.00")
    );
}

#[test]
fn r2_sequential_work_without_independent_items_stays_on_the_cpu_with_a_warning() {
    let w = vars(Variables {
        is_sequential: Some(true),
        is_parallel: Some(false),
        item_count: Some(36_000_000.0),
        local_rate: Some(1000.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S1, Node::T2]);
    assert_eq!(taken(&d, Node::S1), 4);
    assert!(
        d.messages
            .iter()
            .any(|m| m.kind == MessageKind::Warning && m.text.contains("no cloud shortcut exists"))
    );
    assert!(d.summary.as_ref().unwrap().cloud_estimate.starts_with("none"));
}

#[test]
fn r2_few_independent_sequential_items_stay_local() {
    let w = vars(Variables {
        is_sequential: Some(true),
        is_parallel: Some(false),
        parallel_across_items: Some(true),
        item_count: Some(5_000_000.0),
        local_rate: Some(100.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S1, Node::T2]);
    assert_eq!(taken(&d, Node::S1), 3);
}

#[test]
fn r2_independent_items_cannot_be_dependent_across_machines() {
    let w = vars(Variables {
        is_parallel: Some(true),
        parallel_across_items: Some(false),
        data_size_gb: Some(1.0),
        ..Variables::default()
    });
    let err = resolve(&w, &m5(), &RooflineRates).unwrap_err();
    assert!(matches!(err, RouteError::Inconsistent(_)), "{err}");
}

// R3 — a workload that needs the PyTorch ecosystem enters S7 even when MLX cannot express it.
#[test]
fn r3_pytorch_ecosystem_reaches_t8_without_mlx() {
    let w = vars(Variables {
        needs_pytorch_eco: Some(true),
        mlx_expressible: Some(false),
        data_size_gb: Some(4.0),
        item_count: Some(100_000.0),
        local_rate: Some(100.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S7, Node::T8]);
}

// R4 — S3's requires_cuda branch is unreachable: S0 tests requires_cuda first.
#[test]
fn r4_cuda_with_data_beyond_memory_goes_to_s2_not_s3() {
    let w = vars(Variables {
        requires_cuda: Some(true),
        data_size_gb: Some(1000.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S2, Node::T4]);
}

// R5 — S3 has no branch for work that is neither chunkable, CUDA nor parallel: one big droplet.
#[test]
fn r5_unchunkable_serial_data_beyond_memory_goes_to_one_droplet() {
    let base = Variables {
        is_sequential: Some(false),
        is_parallel: Some(false),
        chunkable: Some(false),
        item_count: Some(1e9),
        local_rate: Some(1e6),
        ..Variables::default()
    };
    let d = decide_seed(&vars(Variables { data_size_gb: Some(40.0), ..base.clone() }));
    assert_eq!(d.path, [Node::S0, Node::S3, Node::T5]);
    assert_eq!(taken(&d, Node::S3), 5);
    assert_eq!(d.estimates.do_single.as_ref().unwrap().droplet, "m6-16vcpu-128gb");

    let d = decide_seed(&vars(Variables { data_size_gb: Some(500.0), ..base }));
    assert_eq!(d.terminal, Node::T5);
    assert!(d.messages.iter().any(
        |m| m.kind == MessageKind::Warning && m.text.contains("No droplet in the price table")
    ));
}

// R6 — Example 2's arithmetic: 341 h locally, 22.7 h on 15 droplets, about $58.
#[test]
fn r6_example_2_numbers_follow_the_seeds_formulas() {
    let ex = worked_examples().into_iter().find(|e| e.id == "2").unwrap();
    let d = ex.decide(&PriceTable::seed()).unwrap();
    let local = 4_294_967_296.0 / 3500.0 / 3600.0;
    let fleet_time = 4_294_967_296.0 / (3500.0 * 15.0) / 3600.0;
    let fleet_cost = fleet_time * 15.0 * 0.17;
    assert_eq!(d.estimates.local.time_hours, Some(local));
    let fleet = d.estimates.do_fleet.unwrap();
    assert!((fleet.time_hours - fleet_time).abs() < 1e-9);
    assert!((fleet.cost_usd - fleet_cost).abs() < 1e-9);
    assert_eq!(format!("{local:.0} {fleet_time:.1} {fleet_cost:.0}"), "341 22.7 58");
}

// R7 — Example 6's FFT goes to MLX when Python is acceptable (as Example 7 shows).
#[test]
fn r7_example_6_reaches_t1_only_without_python() {
    let ex = worked_examples().into_iter().find(|e| e.id == "6").unwrap();
    assert_eq!(ex.workload.variables.python_acceptable, Some(false));
    let mut w = ex.workload.clone();
    w.variables.python_acceptable = Some(true);
    let d = route(&w, &ex.machine, &RooflineRates, &PriceTable::seed(), &ex.gate).unwrap();
    assert_eq!(d.path, [Node::S0, Node::S7, Node::T7]);
}

// R8 — the battery-duration warning needs more than 0.5 h; Example 6 runs 0.3 h.
#[test]
fn r8_example_6_passes_its_time_to_the_gate_and_gets_no_duration_warning() {
    let ex = worked_examples().into_iter().find(|e| e.id == "6").unwrap();
    let inputs = resolve(&ex.workload, &ex.machine, &RooflineRates).unwrap();
    let query = inputs.gate_query();
    assert_eq!(query.local_time_hours, Some(0.3));
    assert!(query.local_time_hours.unwrap() <= 0.5, "the seed's rule is local_time_hours > 0.5");
    assert!(ex.gate.messages.iter().all(|m| !m.contains("on battery.")), "{:?}", ex.gate.messages);
}

// R9 — examples without numbers: nothing is invented for Example 3.
#[test]
fn r9_example_3_reports_unknown_times_and_the_hourly_price() {
    let ex = worked_examples().into_iter().find(|e| e.id == "3").unwrap();
    let d = ex.decide(&PriceTable::seed()).unwrap();
    assert_eq!(d.estimates.local.time_hours, None);
    let s = d.summary.unwrap();
    assert!(s.local_estimate.starts_with("unknown"));
    assert_eq!(s.cloud_cost, "$23.92/h (total unknown)");
}

// R10 — machine profiles use Apple's figures where the seed's differ.
#[test]
fn r10_profiles_use_published_bandwidth() {
    assert_eq!(MachineProfile::named("m5").unwrap().memory_bandwidth_gbps, 153.0);
    assert_eq!(MachineProfile::named("m3-max-36").unwrap().memory_bandwidth_gbps, 300.0);
    assert_eq!(MachineProfile::named("m3-max").unwrap().memory_bandwidth_gbps, 400.0);
    assert_eq!(MachineProfile::named("m2-air").unwrap().memory_bandwidth_gbps, 100.0);
}

// R11 — the default price table is current and dated; `seed` reproduces the seed.
#[test]
fn r11_current_prices_are_the_default_and_named_with_their_date() {
    let ex = worked_examples().into_iter().find(|e| e.id == "3").unwrap();
    let d = ex.decide(&PriceTable::current()).unwrap();
    assert_eq!(d.estimates.lambda_8x_h100.usd_per_hour, 31.92);
    assert!(d.messages.iter().any(|m| m.text.contains("$766/day if forgotten")));
    assert!(d.messages.iter().any(|m| m.text.contains("price table current (2026-11-09)")));
    assert_eq!((d.prices.name.as_str(), d.prices.as_of.as_str()), ("current", "2026-11-09"));
}

// R12 — with the seed's (or current) prices S4 always offloads; another table can keep it local.
#[test]
fn r12_s4_offloads_with_seed_prices_and_stays_local_when_the_fleet_is_dear() {
    let w = vars(Variables {
        item_count: Some(10.0 * 3600.0),
        local_rate: Some(1.0),
        data_size_gb: Some(1.0),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.path, [Node::S0, Node::S4, Node::T6]);

    let mut dear = PriceTable::seed();
    dear.name = "dear".into();
    dear.do_fleet.usd_per_hour = 1.0;
    let d = route(&w, &m5(), &RooflineRates, &dear, &pass()).unwrap();
    assert_eq!(d.path, [Node::S0, Node::S4, Node::T1]);
    assert!(d.messages.iter().any(|m| {
        m.text.starts_with("Cloud is an option: a fleet of 15 droplets would take ~0.7h")
    }));
}

// R13 — T5 explains the 70% ceiling instead of claiming the data exceeds RAM.
#[test]
fn r13_t5_message_names_the_ceiling() {
    let w = vars(Variables {
        data_size_gb: Some(20.0),
        is_parallel: Some(true),
        chunkable: Some(false),
        item_count: Some(1e6),
        local_rate: Some(1e3),
        ..Variables::default()
    });
    let d = decide_seed(&w);
    assert_eq!(d.terminal, Node::T5);
    let text = &d.messages.iter().find(|m| m.kind == MessageKind::TellUser).unwrap().text;
    assert!(
        text.starts_with("Data (20 GB) exceeds local RAM (16.8 of 24 GB usable: the 70% ceiling)"),
        "{text}"
    );
    assert!(text.contains("m6-4vcpu-32gb, 32 GB, ~$0.27/h"), "{text}");
}

// R14 — gpu_time scales the local estimate by the roofline ratio of 8 H100s to this machine.
#[test]
fn r14_gpu_time_is_the_local_time_scaled_by_the_hardware_ratio() {
    let w = ops(vec![OperationSpec::new("sum", &[1 << 30])]);
    let inputs = resolve(&w, &m5(), &RooflineRates).unwrap();
    let d = decide(&inputs, &PriceTable::seed(), &pass()).unwrap();
    let g = &d.estimates.lambda_8x_h100;
    // A reduction is bandwidth-bound on both: 8 x 3350 GB/s against 153 GB/s.
    assert!((g.speedup_vs_local - 8.0 * 3350.0 / 153.0).abs() < 1e-9, "{}", g.speedup_vs_local);
    assert!(
        (g.time_hours.unwrap() * g.speedup_vs_local - d.estimates.local.time_hours.unwrap()).abs()
            < 1e-15
    );
    // T4 splits data over ceil(data / 640) nodes.
    let big = vars(Variables {
        requires_cuda: Some(true),
        data_size_gb: Some(1500.0),
        ..Variables::default()
    });
    let d = decide_seed(&big);
    assert_eq!(d.estimates.aws_p5.nodes, 3);
    assert_eq!(d.estimates.aws_p5.usd_per_hour, 3.0 * 98.0);
}

// R15 — T7 tells the user nothing (seed) but still carries the three-part summary.
#[test]
fn r15_t7_has_no_tell_user_sentence_but_a_summary() {
    let d = decide_seed(&ops(vec![OperationSpec::new("sort", &[10_000_000])]));
    assert_eq!(d.terminal, Node::T7);
    assert!(d.messages.iter().all(|m| m.kind != MessageKind::TellUser));
    let s = d.summary.unwrap();
    assert!(s.local_estimate.contains("m5"));
    assert!(s.cloud_estimate.contains("Lambda 8x H100"));
}

// R16 — T8 names PyTorch's real MPS fallback switch.
#[test]
fn r16_t8_note_names_pytorch_enable_mps_fallback() {
    let ex = worked_examples().into_iter().find(|e| e.id == "10").unwrap();
    let d = ex.decide(&PriceTable::seed()).unwrap();
    assert!(d.messages.iter().any(|m| m.text.contains("PYTORCH_ENABLE_MPS_FALLBACK=1")));
    assert!(d.messages.iter().all(|m| !m.text.contains("PYTORCH_MPS_FALLBACK_POLICY")));
}

// R17 — data_size_gb of an operation list is the peak working set, item_count the largest op.
#[test]
fn r17_working_set_is_the_peak_not_the_sum() {
    let n = 1u64 << 27; // 512 MiB of f32 per array
    let w = ops(vec![
        OperationSpec::new("exp", &[n]),
        OperationSpec::new("add", &[n]),
        OperationSpec::new("sum", &[n / 2]),
    ]);
    let r = resolve(&w, &m5(), &RooflineRates).unwrap();
    let add = 3.0 * n as f64 * 4.0 / 1e9;
    assert!((r.inputs.number("data_size_gb").unwrap() - add).abs() < 1e-12);
    assert_eq!(r.inputs.number("item_count"), Some(n as f64));
}

// R18 — unknown values are fine until a predicate on the path needs them.
#[test]
fn r18_missing_values_stop_routing_only_when_needed() {
    let err = route(
        &vars(Variables { data_size_gb: Some(2.0), ..Variables::default() }),
        &m5(),
        &RooflineRates,
        &PriceTable::seed(),
        &pass(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "cannot decide at S0 ENTRY (local_time_hours <= 4.0): local_time_hours is unknown; give local_time_hours, or item_count and local_rate, or operations"
    );
    // data_size_gb = 28 decides the first predicate whatever item_count is.
    let d = decide_seed(&vars(Variables {
        requires_cuda: Some(true),
        data_size_gb: Some(28.0),
        ..Variables::default()
    }));
    assert_eq!(d.trace[0].predicates[0].values.0.len(), 1);
}

// R19 — the gate runs after the workload is resolved (it needs its size and time) and before S0.
#[test]
fn r19_block_stops_routing_with_the_gates_message() {
    let w = ops(vec![OperationSpec::new("sum", &[1 << 20])]);
    let inputs = resolve(&w, &m5(), &RooflineRates).unwrap();
    assert!(inputs.gate_query().data_size_gb.is_some());
    let gate = GateOutcome::block(
        vec!["System memory is critical — 9.1 GB used by Xcode.".into()],
        "snapshot",
    );
    let err = decide(&inputs, &PriceTable::seed(), &gate).unwrap_err();
    assert_eq!(
        err.to_string(),
        "blocked by the health gate: System memory is critical — 9.1 GB used by Xcode."
    );
}

// R20 — Example 9's top-k runs on fastpath's kernels although MLX has mx.topk.
#[test]
fn r20_top_k_after_compaction_is_custom() {
    let w = ops(vec![
        OperationSpec::new("matmul", &[64, 768, 100_000]),
        OperationSpec::new("filter_threshold", &[6_400_000]),
        OperationSpec::new("top_k", &[6_400_000]).with_param("k", ParamValue::Number(10.0)),
    ]);
    let d = decide_seed(&w);
    assert!(d.plan.operations[2].mlx.available, "MLX has top-k");
    assert_eq!(d.plan.stages[1].operations, ["filter_threshold", "top_k"]);
}

// R21 — the seed's terminal names stay (the JSON contract); T1 means fastpath's wgpu kernels.
#[test]
fn r21_terminal_names_are_the_seeds_and_t1_is_wgpu() {
    assert_eq!(Node::T1.name(), "LOCAL_METAL");
    assert_eq!(Node::T9.name(), "MLX_METAL_HYBRID");
    assert!(Node::T1.meaning().contains("wgpu"));
    let d = decide_seed(&ops(vec![OperationSpec::new("histogram", &[1 << 20])]));
    assert_eq!((d.terminal, d.terminal_name), (Node::T1, "LOCAL_METAL"));
}

// R22 — RAM in 2^30-byte GB (Apple, fastpath-health), data sizes in 10^9-byte GB (Example 1).
#[test]
fn r22_ram_and_data_use_the_seeds_units() {
    assert_eq!(fastpath_route::RAM_BYTES_PER_GB, 1024.0 * 1024.0 * 1024.0);
    let d = decide_seed(&ops(vec![OperationSpec::new("matmul", &[50_000, 50_000])]));
    assert_eq!(d.inputs.number("data_size_gb"), Some(3.0 * 50_000f64 * 50_000.0 * 4.0 / 1e9));
    if cfg!(target_os = "linux") {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let bytes = fastpath_route::parse_meminfo_total_bytes(&meminfo).unwrap();
        let detected = MachineProfile::detect(None).ram_gb.unwrap();
        // A cgroup limit may lower it, never raise it.
        assert!(
            detected > 0.0 && detected <= bytes / fastpath_route::RAM_BYTES_PER_GB + 1e-9,
            "{detected}"
        );
    }
}
