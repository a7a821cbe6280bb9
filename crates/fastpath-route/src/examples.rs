//! The seed's eleven worked examples (plus Example 4's "Python not acceptable" variant), as
//! workloads with the machine and health-gate scenario each describes. `fastpath route
//! --examples` decides every one; the tests check each ends where the seed says, or where
//! docs/routing.md says it should instead.

use crate::decision::{Decision, decide};
use crate::error::RouteError;
use crate::gate::GateOutcome;
use crate::inputs::resolve;
use crate::machine::MachineProfile;
use crate::ops::{OperationSpec, ParamValue};
use crate::prices::PriceTable;
use crate::rates::RooflineRates;
use crate::state_machine::Node;
use crate::workload::{Variables, Workload};

/// One worked example.
#[derive(Debug, Clone)]
pub struct WorkedExample {
    /// "1" … "11", and "4b" for Example 4's variant.
    pub id: &'static str,
    pub title: &'static str,
    /// What the seed says happens, in its words.
    pub seed_says: &'static str,
    /// The path the seed gives (or implies).
    pub seed_path: Vec<Node>,
    pub workload: Workload,
    pub machine: MachineProfile,
    /// The health-gate scenario the example describes (its first probe).
    pub gate: GateOutcome,
    /// docs/routing.md resolutions that change or explain this example.
    pub deviations: Vec<&'static str>,
}

impl WorkedExample {
    /// Decides the example with the default rate source (roofline) and `prices`.
    pub fn decide(&self, prices: &PriceTable) -> Result<Decision, RouteError> {
        let inputs = resolve(&self.workload, &self.machine, &RooflineRates)?;
        decide(&inputs, prices, &self.gate)
    }
}

fn ops(
    name: &str,
    description: &str,
    operations: Vec<OperationSpec>,
    variables: Variables,
) -> Workload {
    Workload {
        name: Some(name.to_string()),
        description: Some(description.to_string()),
        variables,
        operations,
    }
}

fn no_gate() -> GateOutcome {
    GateOutcome::not_evaluated("the seed describes no health probe for this example")
}

/// All worked examples, in the seed's order.
pub fn worked_examples() -> Vec<WorkedExample> {
    use Node::*;
    let m5 = MachineProfile::seed_target();
    vec![
        WorkedExample {
            id: "1",
            title: "matmul 50,000 x 50,000 float32",
            seed_says: "data_size_gb = 3 * 50000^2 * 4 / 1e9 = ~30 GB (A + B + C); M5 24 GB: 30 > 16.8 → S3; chunkable (tiled matmul) → T1 LOCAL_METAL with chunked tiling plan",
            seed_path: vec![S0, S3, T1],
            workload: ops("matmul 50,000 x 50,000 float32", "one square f32 GEMM", vec![OperationSpec::new("matmul", &[50_000, 50_000])], Variables::default()),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "2",
            title: "scan 4.3 billion seeds, PBKDF2 (sequential per seed, parallel across seeds)",
            seed_says: "item_count = 4,294,967,296; sequential per seed, seeds independent, > 10M → S5; do_fleet_cost = ~$39 < $100 → T6 DO_FLEET: \"~22h locally on CPU. 15 DO droplets: ~1.5h, ~$39.\"",
            seed_path: vec![S0, S1, S5, T6],
            workload: ops(
                "PBKDF2 over 4.3 billion seeds",
                "sequential per seed (PBKDF2 iterations), independent across seeds, 3,500 seeds/s locally",
                vec![],
                Variables {
                    item_count: Some(4_294_967_296.0),
                    local_rate: Some(3500.0),
                    is_sequential: Some(true),
                    is_parallel: Some(false),
                    parallel_across_items: Some(true),
                    requires_cuda: Some(false),
                    ..Variables::default()
                },
            ),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec!["R2", "R6"],
        },
        WorkedExample {
            id: "3",
            title: "train a 7B parameter model",
            seed_says: "requires_cuda = true (cuDNN, mixed precision) → S2; data_size_gb = ~28 GB <= 640 → T3 LAMBDA_H100: \"Training 7B on local Metal is not practical. Lambda 8x H100: ~$23.92/hr.\"",
            seed_path: vec![S0, S2, T3],
            workload: ops(
                "train a 7B parameter model",
                "params + gradients + optimizer state in FP16; the seed gives no item count or rate, so times stay unknown",
                vec![],
                Variables { requires_cuda: Some(true), data_size_gb: Some(28.0), ..Variables::default() },
            ),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec!["R9"],
        },
        WorkedExample {
            id: "4",
            title: "reduce_sum over 500,000 floats",
            seed_says: "data_size_gb = 0.002; not tiny, not sequential, no CUDA, fits; mlx_expressible (mx.sum), Python acceptable → S0 → S7 → T7 LOCAL_MLX",
            seed_path: vec![S0, S7, T7],
            workload: ops("reduce_sum over 500,000 floats", "one sum", vec![OperationSpec::new("sum", &[500_000])], Variables::default()),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "4b",
            title: "reduce_sum over 500,000 floats, Python not acceptable",
            seed_says: "If Python is NOT acceptable (e.g., compiled binary): S0 → T1 LOCAL_METAL",
            seed_path: vec![S0, T1],
            workload: ops(
                "reduce_sum over 500,000 floats (compiled binary)",
                "one sum, delivered as a compiled binary",
                vec![OperationSpec::new("sum", &[500_000])],
                Variables { python_acceptable: Some(false), ..Variables::default() },
            ),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "5",
            title: "elementwise sigmoid over 200 floats",
            seed_says: "item_count = 200 < 1000, data_size_gb ≈ 0 → T0 CPU_INLINE: don't even dispatch a GPU kernel",
            seed_path: vec![S0, T0],
            workload: ops("sigmoid over 200 floats", "one tiny map", vec![OperationSpec::new("sigmoid", &[200])], Variables::default()),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "6",
            title: "large FFT on a warm laptop running on battery",
            seed_says: "gate: cpu_speed_limit 78 < 90 on battery → WARN (mild throttle); local_time_hours = 0.3 on battery → WARN \"will run 0.3h on battery\"; user plugs in, re-probe passes → S0 → T1 LOCAL_METAL",
            seed_path: vec![S0, T1],
            workload: ops(
                "large FFT (2^24 points) on battery",
                "an 18-minute FFT job; delivered as a compiled binary so that it takes the seed's T1 (R7)",
                vec![OperationSpec::new("fft", &[1 << 24])],
                Variables { local_time_hours: Some(0.3), python_acceptable: Some(false), ..Variables::default() },
            ),
            machine: m5.clone(),
            gate: GateOutcome::warn(
                vec!["Running on battery with mild thermal throttle (78%). Plug in for sustained performance — battery mode caps power delivery.".into()],
                "seed scenario: cpu_speed_limit = 78, power_source = battery, mem_pressure = normal (first probe; after plugging in, the re-probe passes)",
            ),
            deviations: vec!["R7", "R8"],
        },
        WorkedExample {
            id: "7",
            title: "FFT on 1M-point signal (non-ML, but MLX is fastest)",
            seed_says: "mlx_expressible (mx.fft.fft), Python acceptable, no custom GPU → S0 → S7 → T7 LOCAL_MLX",
            seed_path: vec![S0, S7, T7],
            workload: ops("FFT on a 1M-point signal", "one real-input FFT", vec![OperationSpec::new("fft", &[1_000_000])], Variables::default()),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "8",
            title: "sort 10M floats (non-ML, but MLX handles it)",
            seed_says: "mlx_expressible (mx.sort) → S0 → S7 → T7 LOCAL_MLX",
            seed_path: vec![S0, S7, T7],
            workload: ops("sort 10M floats", "one ascending sort", vec![OperationSpec::new("sort", &[10_000_000])], Variables::default()),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec![],
        },
        WorkedExample {
            id: "9",
            title: "vector search with custom filtering pipeline",
            seed_says: "matmul + threshold filter + stream compaction + top-k; needs_custom_gpu → does NOT enter S7 → T1; \"Or better: split it — S0 → S7 for the matmul portion → T9 MLX_METAL_HYBRID\" (MLX: matmul; custom: compact + top-k)",
            seed_path: vec![S0, S7, T9],
            workload: ops(
                "vector search with custom filtering pipeline",
                "64 queries x 1M keys of dimension 768: scores by matmul, threshold filter with stream compaction, top-100",
                vec![
                    OperationSpec::new("matmul", &[64, 768, 1_000_000]).with_label("scores = query @ keys.T"),
                    OperationSpec::new("filter_threshold", &[64_000_000]).with_param("threshold", ParamValue::Number(0.5)),
                    OperationSpec::new("top_k", &[64_000_000]).with_param("k", ParamValue::Number(100.0)),
                ],
                Variables::default(),
            ),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec!["R1"],
        },
        WorkedExample {
            id: "10",
            title: "fine-tune a HuggingFace model on local data",
            seed_says: "needs_pytorch_eco (HuggingFace transformers), mlx_expressible in theory → S0 → S7 → T8 LOCAL_MPS",
            seed_path: vec![S0, S7, T8],
            workload: ops(
                "fine-tune a HuggingFace model",
                "illustrative sizes (the seed states none): 340M parameters with Adam state in fp32 (~5.4 GB), 100,000 examples x 3 epochs at 50 examples/s",
                vec![],
                Variables {
                    needs_pytorch_eco: Some(true),
                    mlx_expressible: Some(true),
                    data_size_gb: Some(5.4),
                    item_count: Some(300_000.0),
                    local_rate: Some(50.0),
                    ..Variables::default()
                },
            ),
            machine: m5.clone(),
            gate: no_gate(),
            deviations: vec!["R9"],
        },
        WorkedExample {
            id: "11",
            title: "simulation on a machine with memory pressure",
            seed_says: "gate: mem_pressure = warn AND 14 > 45/100 * 24 * 0.5 = 5.4 → WARN (consider closing Google Chrome, 6.2 GB); user closes Chrome, re-probe passes; data_size_gb 14 fits in the 70% ceiling (16.8) → S0 → T1 LOCAL_METAL",
            seed_path: vec![S0, T1],
            workload: ops(
                "heat-equation simulation, 14 GB",
                "1000 explicit steps on a 40,000 x 40,000 grid; the seed's 14 GB working set given explicitly",
                vec![OperationSpec::new("heat_equation", &[40_000, 40_000]).with_repeat(1000)],
                Variables { data_size_gb: Some(14.0), ..Variables::default() },
            ),
            machine: m5,
            gate: GateOutcome::warn(
                vec!["Memory pressure is elevated. This workload may cause swapping and degrade the entire system. Consider closing Google Chrome (6.2 GB) first.".into()],
                "seed scenario: mem_pressure = warn, mem_available_pct = 45, top process Google Chrome at 6.2 GB (first probe; after closing Chrome the re-probe passes)",
            ),
            deviations: vec![],
        },
    ]
}
