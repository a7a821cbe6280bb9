//! The compute routing state machine, exactly as the seed draws it: states S0-S7, terminals
//! T0-T9, predicates evaluated top to bottom, first true branch taken.
//!
//! Predicates are small expression trees, so the trace can print each one as the seed writes
//! it and record the values it read. Evaluation is three-valued: a workload may leave a
//! variable unknown, and that is fine as long as no predicate on the path depends on it
//! (`data_size_gb < 0.001 AND item_count < 1000` is false when data_size_gb is 28, whatever
//! item_count is). When the outcome does depend on an unknown value, routing stops with an
//! error naming it instead of guessing.
//!
//! Where this differs from the seed's text, the predicate carries the seed's wording and the
//! id of the resolution in docs/routing.md.

use std::fmt;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::error::RouteError;
use crate::format::significant;
use crate::inputs::{InputMap, InputValue};
use crate::prices::PriceTable;
use crate::workload::MlxCoverage;

/// A state or terminal of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    S0,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
    T0,
    T1,
    T2,
    T3,
    T4,
    T5,
    T6,
    T7,
    T8,
    T9,
}

impl Node {
    pub const STATES: [Node; 8] =
        [Node::S0, Node::S1, Node::S2, Node::S3, Node::S4, Node::S5, Node::S6, Node::S7];
    pub const TERMINALS: [Node; 10] = [
        Node::T0,
        Node::T1,
        Node::T2,
        Node::T3,
        Node::T4,
        Node::T5,
        Node::T6,
        Node::T7,
        Node::T8,
        Node::T9,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Node::S0 => "S0",
            Node::S1 => "S1",
            Node::S2 => "S2",
            Node::S3 => "S3",
            Node::S4 => "S4",
            Node::S5 => "S5",
            Node::S6 => "S6",
            Node::S7 => "S7",
            Node::T0 => "T0",
            Node::T1 => "T1",
            Node::T2 => "T2",
            Node::T3 => "T3",
            Node::T4 => "T4",
            Node::T5 => "T5",
            Node::T6 => "T6",
            Node::T7 => "T7",
            Node::T8 => "T8",
            Node::T9 => "T9",
        }
    }

    /// The seed's name (`ENTRY`, `LOCAL_MLX`, …).
    pub fn name(self) -> &'static str {
        match self {
            Node::S0 => "ENTRY",
            Node::S1 => "SEQUENTIAL_EVAL",
            Node::S2 => "CUDA_EVAL",
            Node::S3 => "MEMORY_EXCEEDED",
            Node::S4 => "CLOUD_CPU_EVAL",
            Node::S5 => "FLEET_EVAL",
            Node::S6 => "HYBRID_EVAL",
            Node::S7 => "FRAMEWORK_EVAL",
            Node::T0 => "CPU_INLINE",
            Node::T1 => "LOCAL_METAL",
            Node::T2 => "LOCAL_CPU_RUST",
            Node::T3 => "LAMBDA_H100",
            Node::T4 => "AWS_MULTI_NODE",
            Node::T5 => "DO_SINGLE",
            Node::T6 => "DO_FLEET",
            Node::T7 => "LOCAL_MLX",
            Node::T8 => "LOCAL_MPS",
            Node::T9 => "MLX_METAL_HYBRID",
        }
    }

    /// What the node means in fastpath's terms (the seed's terminals name Metal; fastpath's
    /// GPU kernels run through wgpu on Metal, Vulkan or DX12).
    pub fn meaning(self) -> &'static str {
        match self {
            Node::S0 => "entry",
            Node::S1 => "inherently serial: the GPU cannot help",
            Node::S2 => "needs NVIDIA hardware",
            Node::S3 => "data does not fit in 70% of local RAM",
            Node::S4 => "4-24 hours locally and parallel: maybe offload",
            Node::S5 => "over 24 hours locally, or many independent sequential items",
            Node::S6 => "does not fit the other categories",
            Node::S7 => "expressible in a framework: pick the fastest",
            Node::T0 => "run inline on the CPU: a GPU launch costs more than the work",
            Node::T1 => "fastpath's own GPU kernels, locally (wgpu: Metal, Vulkan, DX12)",
            Node::T2 => "fastpath's CPU kernels with rayon across items",
            Node::T3 => "Lambda Labs 8x H100 SXM5 instance",
            Node::T4 => "AWS multi-node GPU cluster (p5 with EFA)",
            Node::T5 => "one large-memory DigitalOcean droplet",
            Node::T6 => "a fleet of DigitalOcean droplets, one chunk each",
            Node::T7 => "MLX for the whole workload",
            Node::T8 => "PyTorch (MPS on Apple silicon) for ecosystem compatibility",
            Node::T9 => "MLX for the standard operations, fastpath's GPU kernels for the rest",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Node::T0
                | Node::T1
                | Node::T2
                | Node::T3
                | Node::T4
                | Node::T5
                | Node::T6
                | Node::T7
                | Node::T8
                | Node::T9
        )
    }

    /// The edges of the seed's state diagram (plus the `otherwise` branches docs/routing.md
    /// adds to S3 and S5, whose targets the diagram already has).
    pub fn successors(self) -> &'static [Node] {
        use Node::*;
        match self {
            S0 => &[T0, S1, S2, S3, S7, T1, S4, S5, S6],
            S1 => &[T2, S5],
            S2 => &[T3, T4],
            S3 => &[T1, S2, T5, S5],
            S4 => &[T6, T1],
            S5 => &[T6, T3],
            S6 => &[T1, T6],
            S7 => &[T8, T7, T9, T1],
            _ => &[],
        }
    }

    pub fn parse(text: &str) -> Option<Node> {
        Node::STATES
            .iter()
            .chain(Node::TERMINALS.iter())
            .copied()
            .find(|n| n.id().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, Copy)]
enum Expr {
    Var(&'static str),
    Const(f64),
    /// `var * factor` (the 70% memory ceiling).
    Scaled(&'static str, f64),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Cond {
    Cmp(Expr, Op, Expr),
    Flag(&'static str),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    CoverageIs(MlxCoverage),
    Otherwise,
}

/// Three-valued truth: a predicate over an unknown value may still be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

struct Reader<'a> {
    env: &'a dyn Fn(&str) -> InputValue,
    seen: Vec<(String, InputValue)>,
}

impl Reader<'_> {
    fn read(&mut self, name: &str) -> InputValue {
        let value = (self.env)(name);
        if !self.seen.iter().any(|(n, _)| n == name) {
            self.seen.push((name.to_string(), value));
        }
        value
    }

    fn number(&mut self, e: Expr) -> Option<f64> {
        match e {
            Expr::Const(x) => Some(x),
            Expr::Var(v) => self.read(v).as_number(),
            Expr::Scaled(v, f) => self.read(v).as_number().map(|x| x * f),
        }
    }

    fn eval(&mut self, c: &Cond) -> Truth {
        match c {
            Cond::Otherwise => Truth::True,
            Cond::Cmp(a, op, b) => match (self.number(*a), self.number(*b)) {
                (Some(x), Some(y)) => {
                    let t = match op {
                        Op::Lt => x < y,
                        Op::Le => x <= y,
                        Op::Gt => x > y,
                        Op::Ge => x >= y,
                    };
                    if t { Truth::True } else { Truth::False }
                }
                _ => Truth::Unknown,
            },
            Cond::Flag(v) => match self.read(v).as_bool() {
                Some(true) => Truth::True,
                Some(false) => Truth::False,
                None => Truth::Unknown,
            },
            Cond::CoverageIs(c) => match self.read("mlx_coverage") {
                InputValue::Coverage(x) if x == *c => Truth::True,
                InputValue::Coverage(_) => Truth::False,
                _ => Truth::Unknown,
            },
            Cond::Not(inner) => match self.eval(inner) {
                Truth::True => Truth::False,
                Truth::False => Truth::True,
                Truth::Unknown => Truth::Unknown,
            },
            // Kleene logic, left to right, stopping at the first operand that decides.
            Cond::And(parts) => {
                let mut unknown = false;
                for p in parts {
                    match self.eval(p) {
                        Truth::False => return Truth::False,
                        Truth::Unknown => unknown = true,
                        Truth::True => {}
                    }
                }
                if unknown { Truth::Unknown } else { Truth::True }
            }
            Cond::Or(parts) => {
                let mut unknown = false;
                for p in parts {
                    match self.eval(p) {
                        Truth::True => return Truth::True,
                        Truth::Unknown => unknown = true,
                        Truth::False => {}
                    }
                }
                if unknown { Truth::Unknown } else { Truth::False }
            }
        }
    }
}

/// One branch of a state.
struct Predicate {
    text: &'static str,
    cond: Cond,
    target: Node,
    /// The seed's wording where ours differs.
    seed_text: Option<&'static str>,
    /// docs/routing.md resolution id.
    resolution: Option<&'static str>,
}

fn pred(text: &'static str, cond: Cond, target: Node) -> Predicate {
    Predicate { text, cond, target, seed_text: None, resolution: None }
}

fn changed(
    text: &'static str,
    cond: Cond,
    target: Node,
    seed_text: &'static str,
    resolution: &'static str,
) -> Predicate {
    Predicate { text, cond, target, seed_text: Some(seed_text), resolution: Some(resolution) }
}

use Cond::*;
use Expr::{Const, Scaled, Var};

fn flag(name: &'static str) -> Cond {
    Flag(name)
}
fn not(c: Cond) -> Cond {
    Not(Box::new(c))
}
fn cmp(var: &'static str, op: Op, x: f64) -> Cond {
    Cmp(Var(var), op, Const(x))
}

/// Multi-line seed wording of S1's nested branch, quoted in the trace.
const S1_SEED_PARALLEL: &str = "is_parallel at a HIGHER level (e.g., each seed is sequential internally but seeds are independent of each other) └─ item_count > 10_000_000";

fn predicates(state: Node) -> Vec<Predicate> {
    use Node::*;
    use Op::*;
    match state {
        S0 => vec![
            pred(
                "data_size_gb < 0.001 AND item_count < 1000",
                And(vec![cmp("data_size_gb", Lt, 0.001), cmp("item_count", Lt, 1000.0)]),
                T0,
            ),
            pred(
                "is_sequential AND NOT is_parallel",
                And(vec![flag("is_sequential"), not(flag("is_parallel"))]),
                S1,
            ),
            pred("requires_cuda", flag("requires_cuda"), S2),
            pred(
                "data_size_gb > machine_ram_gb * 0.70",
                Cmp(Var("data_size_gb"), Gt, Scaled("machine_ram_gb", 0.70)),
                S3,
            ),
            changed(
                "python_acceptable AND (needs_pytorch_eco OR (mlx_expressible AND NOT needs_custom_gpu) OR mlx_coverage = most)",
                And(vec![
                    flag("python_acceptable"),
                    Or(vec![
                        flag("needs_pytorch_eco"),
                        And(vec![flag("mlx_expressible"), not(flag("needs_custom_gpu"))]),
                        CoverageIs(MlxCoverage::Most),
                    ]),
                ]),
                S7,
                "mlx_expressible AND python_acceptable AND NOT needs_custom_gpu",
                "R1, R3",
            ),
            pred("local_time_hours <= 4.0", cmp("local_time_hours", Le, 4.0), T1),
            pred(
                "local_time_hours <= 24.0 AND is_parallel",
                And(vec![cmp("local_time_hours", Le, 24.0), flag("is_parallel")]),
                S4,
            ),
            pred(
                "local_time_hours > 24.0 AND is_parallel",
                And(vec![cmp("local_time_hours", Gt, 24.0), flag("is_parallel")]),
                S5,
            ),
            pred("otherwise", Otherwise, S6),
        ],
        S1 => vec![
            pred("local_time_hours <= 4.0", cmp("local_time_hours", Le, 4.0), T2),
            changed(
                "parallel_across_items AND item_count > 10_000_000",
                And(vec![flag("parallel_across_items"), cmp("item_count", Gt, 10_000_000.0)]),
                S5,
                S1_SEED_PARALLEL,
                "R2",
            ),
            changed(
                "parallel_across_items",
                flag("parallel_across_items"),
                T2,
                "is_parallel at a HIGHER level └─ otherwise",
                "R2",
            ),
            pred(
                "otherwise (local_time_hours > 4.0 AND no higher-level parallelism)",
                Otherwise,
                T2,
            ),
        ],
        S2 => vec![
            pred("data_size_gb <= 640", cmp("data_size_gb", Le, 640.0), T3),
            pred("data_size_gb > 640", cmp("data_size_gb", Gt, 640.0), T4),
        ],
        S3 => vec![
            pred("chunkable", flag("chunkable"), T1),
            pred("requires_cuda", flag("requires_cuda"), S2),
            pred(
                "is_parallel AND data_size_gb <= 128",
                And(vec![flag("is_parallel"), cmp("data_size_gb", Le, 128.0)]),
                T5,
            ),
            pred(
                "is_parallel AND data_size_gb > 128",
                And(vec![flag("is_parallel"), cmp("data_size_gb", Gt, 128.0)]),
                S5,
            ),
            changed(
                "otherwise",
                Otherwise,
                T5,
                "(no branch: the seed's S3 is not exhaustive)",
                "R5",
            ),
        ],
        S4 => vec![
            pred(
                "cloud_cost < 5.00 AND cloud_time < 2.0",
                And(vec![cmp("cloud_cost", Lt, 5.0), cmp("cloud_time", Lt, 2.0)]),
                T6,
            ),
            pred("otherwise", Otherwise, T1),
        ],
        S5 => vec![
            changed(
                "parallel_across_items AND NOT requires_cuda AND do_fleet_cost < 100.00",
                And(vec![
                    flag("parallel_across_items"),
                    not(flag("requires_cuda")),
                    cmp("do_fleet_cost", Lt, 100.0),
                ]),
                T6,
                "is_parallel AND NOT requires_cuda AND do_fleet_cost < 100.00",
                "R2",
            ),
            changed(
                "parallel_across_items AND requires_cuda",
                And(vec![flag("parallel_across_items"), flag("requires_cuda")]),
                T3,
                "is_parallel AND requires_cuda",
                "R2",
            ),
            pred("do_fleet_cost >= 100.00", cmp("do_fleet_cost", Ge, 100.0), T3),
            changed(
                "otherwise",
                Otherwise,
                T3,
                "(no branch: the seed's S5 is not exhaustive)",
                "R2",
            ),
        ],
        S6 => vec![
            pred(
                "data_size_gb <= machine_ram_gb * 0.70 AND local_time_hours <= 8.0",
                And(vec![
                    Cmp(Var("data_size_gb"), Le, Scaled("machine_ram_gb", 0.70)),
                    cmp("local_time_hours", Le, 8.0),
                ]),
                T1,
            ),
            pred("otherwise", Otherwise, T6),
        ],
        S7 => vec![
            pred("needs_pytorch_eco", flag("needs_pytorch_eco"), T8),
            changed(
                "mlx_expressible AND NOT needs_custom_gpu",
                And(vec![flag("mlx_expressible"), not(flag("needs_custom_gpu"))]),
                T7,
                "workload is pure MLX-expressible (all ops in MLX function table)",
                "R1",
            ),
            changed(
                "mlx_coverage = most",
                CoverageIs(MlxCoverage::Most),
                T9,
                "workload is MOSTLY MLX-expressible but has a few custom ops",
                "R1",
            ),
            pred("otherwise", Otherwise, T1),
        ],
        _ => Vec::new(),
    }
}

/// Values a predicate read, in the order it read them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenValues(pub Vec<(String, InputValue)>);

impl Serialize for SeenValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One evaluated predicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredicateEval {
    /// 1-based position within its state (the seed's top-to-bottom order).
    pub index: usize,
    pub text: String,
    pub result: bool,
    /// The values the predicate read, in order (unknown values are null).
    pub values: SeenValues,
    /// Where the branch leads.
    pub target: Node,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// A value a state computes before testing its predicates (S4's cloud_time, S5's fleet cost).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Computed {
    pub name: String,
    pub formula: String,
    pub value: Option<f64>,
}

/// One state on the path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateVisit {
    pub state: Node,
    pub name: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub computed: Vec<Computed>,
    /// Predicates evaluated, up to and including the first true one.
    pub predicates: Vec<PredicateEval>,
    pub next: Node,
}

impl StateVisit {
    /// The predicate that was taken.
    pub fn taken(&self) -> &PredicateEval {
        self.predicates.last().expect("a visit records at least the predicate it took")
    }
}

/// Walks the diagram from S0 and returns the path (S0 … terminal) and the trace.
pub fn walk(
    inputs: &InputMap,
    prices: &PriceTable,
) -> Result<(Vec<Node>, Vec<StateVisit>), RouteError> {
    let mut state = Node::S0;
    let mut path = vec![Node::S0];
    let mut trace = Vec::new();
    // The diagram is acyclic and at most four states deep; the bound only guards edits.
    for _ in 0..Node::STATES.len() {
        let computed = computed_values(state, inputs, prices);
        let env = |name: &str| {
            computed
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.value.map(InputValue::Number).unwrap_or(InputValue::Unknown))
                .unwrap_or_else(|| inputs.value(name))
        };
        let mut evaluated = Vec::new();
        let mut next = None;
        for (i, p) in predicates(state).into_iter().enumerate() {
            let mut reader = Reader { env: &env, seen: Vec::new() };
            let truth = reader.eval(&p.cond);
            if truth == Truth::Unknown {
                let missing: Vec<String> = reader
                    .seen
                    .iter()
                    .filter(|(_, v)| *v == InputValue::Unknown)
                    .map(|(n, _)| n.clone())
                    .collect();
                return Err(missing_input(state, p.text, &missing));
            }
            evaluated.push(PredicateEval {
                index: i + 1,
                text: p.text.to_string(),
                result: truth == Truth::True,
                values: SeenValues(reader.seen),
                target: p.target,
                seed_text: p.seed_text.map(str::to_string),
                resolution: p.resolution.map(str::to_string),
            });
            if truth == Truth::True {
                next = Some(p.target);
                break;
            }
        }
        let next =
            next.expect("every state ends with a branch that is always true or is exhaustive");
        trace.push(StateVisit { state, name: state.name(), computed, predicates: evaluated, next });
        path.push(next);
        if next.is_terminal() {
            return Ok((path, trace));
        }
        state = next;
    }
    unreachable!("the routing diagram has no cycles")
}

fn missing_input(state: Node, predicate: &str, missing: &[String]) -> RouteError {
    let hint = |name: &str| match name {
        "item_count" => "item_count (or operations)",
        "data_size_gb" => "data_size_gb (or operations with shapes)",
        "machine_ram_gb" => "machine_ram_gb (or --machine with a profile)",
        "local_time_hours" | "cloud_cost" | "cloud_time" | "do_fleet_cost" => {
            "local_time_hours, or item_count and local_rate, or operations"
        }
        _ => "it",
    };
    let mut hints: Vec<&str> = missing.iter().map(|m| hint(m)).collect();
    hints.dedup();
    RouteError::MissingInput {
        state: format!("{} {}", state.id(), state.name()),
        predicate: predicate.to_string(),
        missing: if missing.len() == 1 {
            format!("{} is", missing[0])
        } else {
            format!("{} are", missing.join(" and "))
        },
        hint: hints.join("; "),
    }
}

/// S4 and S5 compute the fleet's time and cost before testing their predicates, with the
/// fleet size and droplet price of the price table (the seed's 15 and $0.17 with
/// `--prices seed`). The seed writes S5's time as item_count / (local_rate * 15) / 3600,
/// which equals local_time_hours / 15.
fn computed_values(state: Node, inputs: &InputMap, prices: &PriceTable) -> Vec<Computed> {
    let fleet = prices.do_fleet.droplets as f64;
    let price = prices.do_fleet.usd_per_hour;
    let local = inputs.number("local_time_hours");
    let (n, p) = (fleet.to_string(), significant(price, 5));
    match state {
        Node::S4 => vec![
            Computed {
                name: "cloud_time".into(),
                formula: format!("local_time_hours / {n}"),
                value: local.map(|t| t / fleet),
            },
            Computed {
                name: "cloud_cost".into(),
                formula: format!("{n} * {p} * local_time_hours / {n}  (= {p} * local_time_hours)"),
                value: local.map(|t| fleet * price * t / fleet),
            },
        ],
        Node::S5 => vec![
            Computed {
                name: "do_fleet_time".into(),
                formula: format!(
                    "item_count / (local_rate * {n}) / 3600  (= local_time_hours / {n})"
                ),
                value: local.map(|t| t / fleet),
            },
            Computed {
                name: "do_fleet_cost".into(),
                formula: format!("do_fleet_time * {n} * {p}"),
                value: local.map(|t| t / fleet * fleet * price),
            },
        ],
        _ => Vec::new(),
    }
}

/// True when `path` starts at S0, follows edges of the diagram, visits no node twice and ends
/// at a terminal.
pub fn is_valid_walk(path: &[Node]) -> bool {
    let Some((&last, _)) = path.split_last() else { return false };
    if path.first() != Some(&Node::S0) || !last.is_terminal() {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    path.iter().all(|n| seen.insert(*n))
        && path.windows(2).all(|w| w[0].successors().contains(&w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_predicate_target_is_an_edge_of_the_diagram() {
        for state in Node::STATES {
            for p in predicates(state) {
                assert!(
                    state.successors().contains(&p.target),
                    "{state} -> {} is not in the diagram",
                    p.target
                );
            }
            let last = predicates(state).pop().unwrap();
            let exhaustive_by_construction = matches!(state, Node::S2);
            assert!(
                matches!(last.cond, Otherwise) || exhaustive_by_construction,
                "{state} must end in otherwise"
            );
        }
    }

    #[test]
    fn valid_walks_are_recognised() {
        use Node::*;
        assert!(is_valid_walk(&[S0, S7, T9]));
        assert!(is_valid_walk(&[S0, S1, S5, T6]));
        assert!(!is_valid_walk(&[S0, S2, T6]));
        assert!(!is_valid_walk(&[S1, T2]));
        assert!(!is_valid_walk(&[S0, S7]));
    }
}
