//! Properties of the state machine over generated workloads: every workload reaches exactly
//! one terminal along a valid walk of the diagram, the trace agrees with the path, estimates
//! are finite and non-negative, and the branches docs/routing.md calls unreachable are never
//! taken.

use fastpath_route::{
    Decision, GateOutcome, MachineProfile, MlxCoverage, Node, OperationSpec, ParamValue,
    PriceTable, RooflineRates, RouteError, Variables, Workload, is_valid_walk,
    ops::{Family, catalog},
    route,
};
use proptest::prelude::*;

fn machines() -> impl Strategy<Value = MachineProfile> {
    prop::sample::select(MachineProfile::names()).prop_map(|n| MachineProfile::named(n).unwrap())
}

fn opt_bool() -> impl Strategy<Value = Option<bool>> {
    prop_oneof![Just(None), Just(Some(false)), Just(Some(true))]
}

/// Log-uniform positive numbers over many orders of magnitude.
fn magnitude(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.log10()..hi.log10()).prop_map(|e| 10f64.powf(e))
}

/// Variables-only workloads that give every number the state machine can need.
fn variable_workloads() -> impl Strategy<Value = Workload> {
    (
        (
            // Up to the accepted bounds: the smallest rate and the largest counts keep every
            // derived number finite.
            magnitude(1e-7, 1e9),
            magnitude(1.0, 1e18),
            magnitude(1e-9, 1e18),
            prop::option::of(magnitude(4.0, 512.0)),
        ),
        (opt_bool(), opt_bool(), opt_bool(), opt_bool(), opt_bool(), opt_bool()),
        (
            opt_bool(),
            opt_bool(),
            opt_bool(),
            prop::option::of(prop::sample::select(vec![
                MlxCoverage::All,
                MlxCoverage::Most,
                MlxCoverage::None,
            ])),
        ),
    )
        .prop_map(
            |(
                (data, items, rate, ram),
                (cuda, seq, par, mlx, eco, custom),
                (python, chunk, across, coverage),
            )| Workload {
                name: Some("generated".into()),
                description: None,
                variables: Variables {
                    machine_ram_gb: ram,
                    data_size_gb: Some(data),
                    item_count: Some(items.round()),
                    flops_per_item: None,
                    local_rate: Some(rate),
                    local_time_hours: None,
                    requires_cuda: cuda,
                    is_sequential: seq,
                    is_parallel: par,
                    mlx_expressible: mlx,
                    needs_pytorch_eco: eco,
                    needs_custom_gpu: custom,
                    python_acceptable: python,
                    chunkable: chunk,
                    parallel_across_items: across,
                    mlx_coverage: coverage,
                },
                operations: vec![],
            },
        )
}

/// A valid operation of any kind from the catalog, at a random size.
fn operation() -> impl Strategy<Value = OperationSpec> {
    (0..catalog().len(), magnitude(1.0, 5e4), magnitude(1.0, 300.0), 1u64..4, prop::bool::ANY)
        .prop_map(|(i, a, b, repeat, f16)| {
            let def = &catalog()[i];
            let (a, b) = (a.round() as u64, b.round() as u64);
            let shape: Vec<u64> = match def.family {
                Family::Matmul => vec![a, b, a],
                Family::BatchedMatmul => vec![2, b, b, b],
                Family::Attention => vec![1, 2, a.min(4096), 64],
                Family::NBody => vec![a.min(20_000)],
                Family::Sparse if def.name == "triangular_solve" => vec![a],
                Family::Matvec
                | Family::Outer
                | Family::Transpose2d
                | Family::Repack
                | Family::CrossCorrelation
                | Family::CovMatrix
                | Family::Dot
                | Family::Sparse
                | Family::Grid { .. } => vec![a, b],
                _ => vec![a * b],
            };
            let mut spec = OperationSpec::new(def.name, &shape).with_repeat(repeat);
            if f16 {
                spec = spec.with_dtype(fastpath_route::Dtype::F16);
            }
            for p in def.params {
                if matches!(p.default, fastpath_route::ops::ParamDefault::Required) {
                    let value = match p.name {
                        "k" => 1.0,
                        "p" => 90.0,
                        "kernel_size" => 1.0,
                        "density" => 0.02,
                        other => panic!("no generated value for {other}"),
                    };
                    spec.params.insert(p.name.to_string(), ParamValue::Number(value));
                }
            }
            spec
        })
}

fn operation_workloads() -> impl Strategy<Value = Workload> {
    (prop::collection::vec(operation(), 1..6), opt_bool(), opt_bool()).prop_map(
        |(operations, python, eco)| Workload {
            name: Some("generated ops".into()),
            description: None,
            variables: Variables {
                python_acceptable: python,
                needs_pytorch_eco: eco,
                ..Variables::default()
            },
            operations,
        },
    )
}

fn prices() -> impl Strategy<Value = PriceTable> {
    prop_oneof![Just(PriceTable::seed()), Just(PriceTable::current())]
}

/// Checks every structural property of a decision.
fn check(d: &Decision) -> Result<(), TestCaseError> {
    let terminals: Vec<&Node> = d.path.iter().filter(|n| n.is_terminal()).collect();
    prop_assert_eq!(terminals.len(), 1, "exactly one terminal: {:?}", d.path);
    prop_assert_eq!(*terminals[0], d.terminal);
    prop_assert!(is_valid_walk(&d.path), "not a walk of the diagram: {:?}", d.path);
    prop_assert_eq!(d.trace.len() + 1, d.path.len());
    for (visit, pair) in d.trace.iter().zip(d.path.windows(2)) {
        prop_assert_eq!(visit.state, pair[0]);
        prop_assert_eq!(visit.next, pair[1]);
        let (taken, before) = visit.predicates.split_last().unwrap();
        prop_assert!(taken.result && taken.target == visit.next);
        prop_assert!(before.iter().all(|p| !p.result), "first true wins");
        for (i, p) in visit.predicates.iter().enumerate() {
            prop_assert_eq!(p.index, i + 1);
        }
    }
    for (name, value) in d.estimates.numbers() {
        prop_assert!(value.is_finite() && value >= 0.0, "{} = {}", name, value);
    }
    for visit in &d.trace {
        for c in &visit.computed {
            if let Some(v) = c.value {
                prop_assert!(v.is_finite() && v >= 0.0, "{} = {}", c.name, v);
            }
        }
    }
    // Branches docs/routing.md shows to be unreachable (R1, R2, R4).
    let taken = |state: Node| d.trace.iter().find(|v| v.state == state).map(|v| v.taken().index);
    prop_assert_ne!(taken(Node::S7), Some(4), "S7 otherwise is unreachable after R1");
    prop_assert_ne!(taken(Node::S5), Some(4), "S5 otherwise is unreachable after R2");
    prop_assert_ne!(taken(Node::S3), Some(2), "S3's requires_cuda branch is unreachable (R4)");
    if matches!(
        d.terminal,
        Node::T2 | Node::T3 | Node::T4 | Node::T5 | Node::T6 | Node::T7 | Node::T8 | Node::T9
    ) {
        prop_assert!(d.summary.is_some(), "T2-T9 tell local, cloud and cost");
    }
    if d.terminal == Node::T0 {
        prop_assert!(d.messages.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn variable_workloads_reach_exactly_one_terminal(w in variable_workloads(), m in machines(), p in prices()) {
        match route(&w, &m, &RooflineRates, &p, &GateOutcome::pass("test")) {
            Ok(d) => check(&d)?,
            // Contradictory flags are rejected up front (R1, R2); nothing else may fail when
            // every number is given.
            Err(RouteError::Inconsistent(_)) => {}
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }

    #[test]
    fn operation_workloads_reach_exactly_one_terminal(w in operation_workloads(), m in machines(), p in prices()) {
        let d = route(&w, &m, &RooflineRates, &p, &GateOutcome::pass("test"));
        prop_assert!(d.is_ok(), "{:?}", d.err());
        let d = d.unwrap();
        check(&d)?;
        // Local terminals carry what an executor needs.
        prop_assert_eq!(d.plan.operations.len(), w.operations.len());
        prop_assert!(d.plan.operations.iter().all(|o| !o.kernels.is_empty()));
        if d.terminal == Node::T9 {
            prop_assert_eq!(d.plan.stages.len(), 2);
            prop_assert!(!d.plan.stages[0].operations.is_empty() && !d.plan.stages[1].operations.is_empty());
        }
    }

    #[test]
    fn s4_always_offloads_with_the_shipped_prices(hours in 4.0001f64..24.0, p in prices()) {
        // R12: cloud_cost = price x hours <= $4.08 and cloud_time = hours / 15 < 2 h.
        let w = Workload {
            variables: Variables { item_count: Some((hours * 3600.0).round()), local_rate: Some(1.0), data_size_gb: Some(1.0), ..Variables::default() },
            ..Workload::default()
        };
        let d = route(&w, &MachineProfile::named("m5").unwrap(), &RooflineRates, &p, &GateOutcome::pass("test")).unwrap();
        prop_assert_eq!(d.path, vec![Node::S0, Node::S4, Node::T6]);
    }
}
