//! The operation table: every operation name the router understands, its shape rule, cost
//! family, parameters, and whether MLX and PyTorch have it.
//!
//! Names and aliases follow `spec/operation-routing.md` (one row per operation; `|` aliases),
//! plus direct names for the catalog kernels no routing row selects (`exp` → MAP_EXP, `sum` →
//! REDUCE_SUM, …, as that document suggests) and the seed's words (`nbody`, `stencil`,
//! `compaction`, `threshold_filter`, `gemm`).
//!
//! MLX coverage follows the seed's "When MLX is NOT the right tool" list and the research notes
//! (`research/mlx_frameworks.md` §1.6): MLX refuses data-dependent output shapes (compaction,
//! histogram), has no sparse arrays, stencils/PDE, N-body or custom sort comparators; the seed
//! also routes Monte Carlo and RK4 integrators to custom kernels. Everything else listed has an
//! `mx.*` equivalent (sometimes a short composition of standard ops, shown as the code).

use std::collections::BTreeMap;

use crate::error::RouteError;
use crate::format::plain_number;

use super::{FrameworkSupport, MAX_ELEMENTS, OpContext, ParamValue};

/// How an operation reads its shape and what its cost looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// Elementwise over n elements: `inputs` arrays in, one array out (a u32 mask when `mask_out`).
    Map {
        inputs: u8,
        mask_out: bool,
    },
    /// n elements (of `inputs` arrays) reduced to a scalar.
    Reduce {
        inputs: u8,
    },
    /// n elements into 256 bins.
    Histogram,
    /// Prefix sum over n elements.
    Scan,
    /// Stream compaction of n elements (`compare_first`: build the mask from a threshold first).
    Compact {
        compare_first: bool,
    },
    Sort,
    TopK,
    /// Median / percentile by selection.
    Select,
    /// mean, var, min, max, argmin, argmax and histogram of one array, launched together.
    DescribeStats,
    /// Row-wise over `[rows, len]` (softmax, norms); a 1-D shape is one row.
    Rows,
    /// Losses: `[n]` predictions and targets, or `[N, C]` logits for cross-entropy.
    Loss {
        class_logits: bool,
    },
    /// Optimizer step over n parameters reading `read` and writing `write` arrays.
    Optimizer {
        read: u8,
        write: u8,
    },
    GradClip,
    /// Correlation / covariance: two vectors `[n]`, or with the boolean parameter named here
    /// set, a `[samples, features]` matrix.
    PairStatistic {
        matrix_param: &'static str,
    },
    /// `[samples, features]` → features x features.
    CovMatrix,
    /// `[M, K, N]` (A is MxK, B is KxN) or `[N, N]` for two square matrices.
    Matmul,
    /// `[batch, M, K, N]`.
    BatchedMatmul,
    /// `[M, N]` matrix times an N-vector.
    Matvec,
    /// `[n, m]` outer product.
    Outer,
    /// `[batch, d]` row-wise dot products (cosine when flops say so).
    Dot,
    /// `[rows, cols]`.
    Transpose2d,
    /// `[n, k]` array of structures ↔ structure of arrays.
    Repack,
    Fft {
        kind: FftKind,
    },
    /// `[n]` signal, `kernel_size` taps.
    Conv1d,
    Autocorrelation,
    /// `[nx, ny]`: the two signal lengths.
    CrossCorrelation,
    /// `[rows, cols]` sparse matrix with `density`.
    Sparse,
    /// Grid time stepping: `[H, W]` or `[D, H, W]` cells, `buffers` grids live.
    Grid {
        buffers: u8,
        only_2d: bool,
    },
    /// `[n, dim]` states.
    Ode,
    /// `[N]` bodies (all-pairs forces plus the Verlet update).
    NBody,
    /// `[n]` Velocity Verlet update given accelerations.
    Verlet,
    /// `[samples]` with `dims` dimensions.
    MonteCarlo,
    /// `[n]` generated values of `out_bytes` each.
    Prng {
        out_bytes: u8,
    },
    /// `[batch, heads, seq, dim]`; `[heads, seq, dim]` and `[seq, dim]` mean batch/heads of 1.
    Attention,
    /// `[batch, heads, seq, dim]` or any shape whose last dimension is the head dimension.
    Rope,
    Quantize {
        dequantize: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FftKind {
    Forward,
    Inverse,
    Power,
    Convolution,
}

/// Whether a framework has an operation.
#[derive(Debug, Clone, Copy)]
pub enum Support {
    /// Python expression; `{name}` is replaced by the parameter's value.
    Has(&'static str),
    /// Why not.
    Lacks(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Bool,
    Number { min: f64, max: f64, integer: bool },
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub enum ParamDefault {
    /// The workload must give it.
    Required,
    /// Absent unless given; whoever executes decides (e.g. histogram range from the data).
    Optional,
    Bool(bool),
    Number(f64),
    Choice(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: ParamDefault,
    /// Shown in plans because it changes kernel choice, cost or framework support.
    pub routing: bool,
}

/// One operation of the table.
#[derive(Debug, Clone, Copy)]
pub struct OpDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    pub family: Family,
    /// Flops per element of the main operand (per output element for matmul-like families,
    /// where the family computes flops itself and this is ignored).
    pub flops_per_element: f64,
    pub params: &'static [ParamDef],
    pub mlx: Support,
    pub pytorch: Support,
    /// Streams in passes without random access over all the data (the seed's S3 "chunkable").
    pub chunkable: bool,
}

const NUM: ParamKind = ParamKind::Number { min: f64::MIN, max: f64::MAX, integer: false };
const POSITIVE: ParamKind =
    ParamKind::Number { min: f64::MIN_POSITIVE, max: f64::MAX, integer: false };
const NON_NEGATIVE: ParamKind = ParamKind::Number { min: 0.0, max: f64::MAX, integer: false };
const COUNT: ParamKind = ParamKind::Number { min: 1.0, max: MAX_ELEMENTS as f64, integer: true };
const UINT: ParamKind = ParamKind::Number { min: 0.0, max: MAX_ELEMENTS as f64, integer: true };
const FRACTION: ParamKind = ParamKind::Number { min: f64::MIN_POSITIVE, max: 1.0, integer: false };
const COMPARISONS: &[&str] = &["gt", "ge", "lt", "le", "eq", "ne"];
const REDUCTIONS: &[&str] = &["mean", "sum"];

const fn p(name: &'static str, kind: ParamKind, default: ParamDefault) -> ParamDef {
    ParamDef { name, kind, default, routing: false }
}
const fn routing(name: &'static str, kind: ParamKind, default: ParamDefault) -> ParamDef {
    ParamDef { name, kind, default, routing: true }
}

#[allow(clippy::too_many_arguments)]
const fn op(
    name: &'static str,
    aliases: &'static [&'static str],
    family: Family,
    flops_per_element: f64,
    params: &'static [ParamDef],
    mlx: Support,
    pytorch: Support,
    chunkable: bool,
    summary: &'static str,
) -> OpDef {
    OpDef { name, aliases, summary, family, flops_per_element, params, mlx, pytorch, chunkable }
}

use Family::*;
use Support::{Has, Lacks};

const MAP1: Family = Map { inputs: 1, mask_out: false };
const MAP2: Family = Map { inputs: 2, mask_out: false };
const REDUCE1: Family = Reduce { inputs: 1 };
const REDUCE2: Family = Reduce { inputs: 2 };

const NO_COMPACTION: &str =
    "output length depends on the data; MLX refuses data-dependent shapes (ml-explore/mlx#927)";
const NO_STENCIL: &str =
    "stencil/PDE time stepping is not in MLX (the seed routes it to custom GPU kernels)";
const NO_SPARSE: &str = "MLX has no sparse (CSR) arrays";

/// One `op(...)` per operation: name, aliases, family, flops per element, parameters, MLX,
/// PyTorch, chunkable, summary (see [`op`]).
static CATALOG: &[OpDef] = &[
    // ── 1. Vectors and reductions ───────────────────────────────────────────────────────────
    op(
        "sum",
        &["reduce_sum"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.sum(x)"),
        Has("torch.sum(x)"),
        true,
        "sum of all elements",
    ),
    op(
        "mean",
        &["reduce_mean", "average"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.mean(x)"),
        Has("torch.mean(x)"),
        true,
        "arithmetic mean",
    ),
    op(
        "min",
        &["reduce_min"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.min(x)"),
        Has("torch.min(x)"),
        true,
        "smallest element",
    ),
    op(
        "max",
        &["reduce_max"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.max(x)"),
        Has("torch.max(x)"),
        true,
        "largest element",
    ),
    op(
        "vector_norm",
        &["l2", "l2_norm", "norm"],
        REDUCE1,
        2.0,
        &[],
        Has("mx.linalg.norm(x)"),
        Has("torch.linalg.vector_norm(x)"),
        true,
        "Euclidean norm",
    ),
    op(
        "sum_of_squares",
        &["square_sum"],
        REDUCE1,
        2.0,
        &[],
        Has("mx.sum(mx.square(x))"),
        Has("torch.sum(x * x)"),
        true,
        "fused square + sum",
    ),
    op(
        "abs_sum",
        &["l1"],
        REDUCE1,
        2.0,
        &[],
        Has("mx.sum(mx.abs(x))"),
        Has("torch.sum(torch.abs(x))"),
        true,
        "fused abs + sum",
    ),
    op(
        "masked_sum",
        &[],
        REDUCE2,
        2.0,
        &[],
        Has("mx.sum(mx.where(b > 0, a, 0))"),
        Has("torch.sum(torch.where(b > 0, a, 0))"),
        true,
        "sum of elements whose mask is set",
    ),
    op(
        "threshold_count",
        &["count_above"],
        REDUCE1,
        2.0,
        &[p("threshold", NUM, ParamDefault::Number(0.0))],
        Has("mx.sum(x > {threshold})"),
        Has("torch.sum(x > {threshold})"),
        true,
        "count of elements above a threshold",
    ),
    op(
        "cosine_similarity",
        &[],
        Dot,
        6.0,
        &[],
        Has("mx.sum(a * b, axis=-1) / (mx.linalg.norm(a, axis=-1) * mx.linalg.norm(b, axis=-1))"),
        Has("torch.nn.functional.cosine_similarity(a, b, dim=-1)"),
        true,
        "row-wise cosine similarity of [batch, d] pairs",
    ),
    op(
        "filter_threshold",
        &["threshold_filter", "filter"],
        Compact { compare_first: true },
        2.0,
        &[
            p("threshold", NUM, ParamDefault::Number(0.0)),
            p("op", ParamKind::Choice(COMPARISONS), ParamDefault::Choice("gt")),
        ],
        Lacks(NO_COMPACTION),
        Has("torch.masked_select(x, x > {threshold})"),
        true,
        "keep the elements passing a threshold (compare, then stream-compact)",
    ),
    op(
        "prefix_sum",
        &["exclusive_scan", "scan_exclusive", "scan"],
        Scan,
        1.0,
        &[],
        Has("mx.cumsum(x, inclusive=False)"),
        Has("torch.cumsum(x, dim=0) - x"),
        true,
        "exclusive prefix sum",
    ),
    op(
        "inclusive_scan",
        &["cumsum", "scan_inclusive"],
        Scan,
        1.0,
        &[],
        Has("mx.cumsum(x)"),
        Has("torch.cumsum(x, dim=0)"),
        true,
        "inclusive prefix sum",
    ),
    op(
        "compact",
        &["compaction", "stream_compaction", "compact_mask"],
        Compact { compare_first: false },
        1.0,
        &[],
        Lacks(NO_COMPACTION),
        Has("torch.masked_select(a, b > 0)"),
        true,
        "keep the elements whose mask is set, in order",
    ),
    op(
        "compact_if",
        &[],
        Compact { compare_first: true },
        2.0,
        &[
            p("threshold", NUM, ParamDefault::Number(0.0)),
            p("op", ParamKind::Choice(COMPARISONS), ParamDefault::Choice("gt")),
        ],
        Lacks(NO_COMPACTION),
        Has("torch.masked_select(x, x > {threshold})"),
        true,
        "compaction with the predicate fused in",
    ),
    // ── 2. Statistics ───────────────────────────────────────────────────────────────────────
    op(
        "histogram",
        &["hist", "bincount"],
        Histogram,
        3.0,
        &[p("min_val", NUM, ParamDefault::Optional), p("max_val", NUM, ParamDefault::Optional)],
        Lacks("no histogram/bincount in MLX: data-dependent bins (ml-explore/mlx#1433)"),
        Has("torch.histc(x, bins=256)"),
        true,
        "256-bin histogram",
    ),
    op(
        "variance",
        &["var", "reduce_var"],
        REDUCE1,
        4.0,
        &[p("ddof", UINT, ParamDefault::Number(0.0))],
        Has("mx.var(x, ddof={ddof})"),
        Has("torch.var(x, correction={ddof})"),
        true,
        "variance (Welford)",
    ),
    op(
        "standard_deviation",
        &["stddev", "std", "reduce_stddev"],
        REDUCE1,
        4.0,
        &[p("ddof", UINT, ParamDefault::Number(0.0))],
        Has("mx.std(x, ddof={ddof})"),
        Has("torch.std(x, correction={ddof})"),
        true,
        "standard deviation (Welford + sqrt)",
    ),
    op(
        "argmax",
        &["reduce_argmax"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.argmax(x)"),
        Has("torch.argmax(x)"),
        true,
        "index of the largest element",
    ),
    op(
        "argmin",
        &["reduce_argmin"],
        REDUCE1,
        1.0,
        &[],
        Has("mx.argmin(x)"),
        Has("torch.argmin(x)"),
        true,
        "index of the smallest element",
    ),
    op(
        "describe_stats",
        &["describe"],
        DescribeStats,
        10.0,
        &[],
        Lacks("includes a histogram, which MLX does not have"),
        Has(
            "(torch.mean(x), torch.var(x), torch.min(x), torch.max(x), torch.argmin(x), torch.argmax(x), torch.histc(x, bins=256))",
        ),
        true,
        "mean, variance, min, max, argmin, argmax and histogram at once",
    ),
    // ── 3. Correlation and covariance ───────────────────────────────────────────────────────
    op(
        "correlation",
        &["pearson"],
        PairStatistic { matrix_param: "pairwise" },
        6.0,
        &[routing("pairwise", ParamKind::Bool, ParamDefault::Bool(false))],
        Has("mx.mean((a - mx.mean(a)) * (b - mx.mean(b))) / (mx.std(a) * mx.std(b))"),
        Has("torch.corrcoef(torch.stack([a, b]))[0, 1]"),
        true,
        "Pearson correlation of two vectors, or pairwise over [samples, features]",
    ),
    op(
        "covariance",
        &["cov"],
        PairStatistic { matrix_param: "matrix" },
        4.0,
        &[
            routing("matrix", ParamKind::Bool, ParamDefault::Bool(false)),
            p("ddof", UINT, ParamDefault::Number(0.0)),
        ],
        Has("mx.mean((a - mx.mean(a)) * (b - mx.mean(b)))"),
        Has("torch.cov(torch.stack([a, b]))[0, 1]"),
        true,
        "covariance of two vectors, or the covariance matrix of [samples, features]",
    ),
    op(
        "weighted_sum",
        &[],
        REDUCE2,
        2.0,
        &[],
        Has("mx.sum(a * b)"),
        Has("torch.sum(a * b)"),
        true,
        "sum of x * w",
    ),
    op(
        "weighted_mean",
        &[],
        REDUCE2,
        3.0,
        &[],
        Has("mx.sum(a * b) / mx.sum(b)"),
        Has("torch.sum(a * b) / torch.sum(b)"),
        true,
        "sum(x * w) / sum(w)",
    ),
    op(
        "pca_prep",
        &[],
        CovMatrix,
        2.0,
        &[],
        Has("(lambda xc: xc.T @ xc / (x.shape[0] - 1))(x - mx.mean(x, axis=0))"),
        Has("torch.cov(x.T)"),
        true,
        "column means and covariance matrix of [samples, features]",
    ),
    // ── Elementwise unary (catalog kernels with the obvious direct mapping) ─────────────────
    op("exp", &["map_exp"], MAP1, 10.0, &[], Has("mx.exp(x)"), Has("torch.exp(x)"), true, "e^x"),
    op(
        "log",
        &["map_log"],
        MAP1,
        10.0,
        &[],
        Has("mx.log(x)"),
        Has("torch.log(x)"),
        true,
        "natural logarithm",
    ),
    op(
        "abs",
        &["map_abs"],
        MAP1,
        1.0,
        &[],
        Has("mx.abs(x)"),
        Has("torch.abs(x)"),
        true,
        "absolute value",
    ),
    op(
        "clamp",
        &["clip", "map_clamp"],
        MAP1,
        2.0,
        &[p("lo", NUM, ParamDefault::Number(-1.0)), p("hi", NUM, ParamDefault::Number(1.0))],
        Has("mx.clip(x, {lo}, {hi})"),
        Has("torch.clamp(x, {lo}, {hi})"),
        true,
        "clamp to [lo, hi]",
    ),
    // ── 7. Activations ──────────────────────────────────────────────────────────────────────
    op(
        "sigmoid",
        &["map_sigmoid"],
        MAP1,
        12.0,
        &[],
        Has("mx.sigmoid(x)"),
        Has("torch.sigmoid(x)"),
        true,
        "1 / (1 + e^-x)",
    ),
    op(
        "tanh",
        &["map_tanh"],
        MAP1,
        12.0,
        &[],
        Has("mx.tanh(x)"),
        Has("torch.tanh(x)"),
        true,
        "hyperbolic tangent",
    ),
    op(
        "softplus",
        &["map_softplus"],
        MAP1,
        14.0,
        &[],
        Has("nn.softplus(x)"),
        Has("torch.nn.functional.softplus(x)"),
        true,
        "log(1 + e^x)",
    ),
    op(
        "relu",
        &["map_relu"],
        MAP1,
        1.0,
        &[],
        Has("nn.relu(x)"),
        Has("torch.relu(x)"),
        true,
        "max(x, 0)",
    ),
    op(
        "gelu",
        &["map_gelu"],
        MAP1,
        16.0,
        &[],
        Has("nn.gelu_approx(x)"),
        Has("torch.nn.functional.gelu(x, approximate='tanh')"),
        true,
        "GELU, tanh approximation",
    ),
    op(
        "silu",
        &["swish", "map_silu"],
        MAP1,
        13.0,
        &[],
        Has("nn.silu(x)"),
        Has("torch.nn.functional.silu(x)"),
        true,
        "x * sigmoid(x)",
    ),
    op(
        "leaky_relu",
        &["map_leaky_relu"],
        MAP1,
        2.0,
        &[p("alpha", NUM, ParamDefault::Number(0.01))],
        Has("nn.leaky_relu(x, {alpha})"),
        Has("torch.nn.functional.leaky_relu(x, {alpha})"),
        true,
        "x if x > 0 else alpha * x",
    ),
    op(
        "elu",
        &["map_elu"],
        MAP1,
        10.0,
        &[p("alpha", NUM, ParamDefault::Number(1.0))],
        Has("nn.elu(x, {alpha})"),
        Has("torch.nn.functional.elu(x, {alpha})"),
        true,
        "x if x > 0 else alpha * (e^x - 1)",
    ),
    op(
        "mish",
        &["map_mish"],
        MAP1,
        20.0,
        &[],
        Has("nn.mish(x)"),
        Has("torch.nn.functional.mish(x)"),
        true,
        "x * tanh(softplus(x))",
    ),
    // ── Elementwise binary ──────────────────────────────────────────────────────────────────
    op("add", &["map_add"], MAP2, 1.0, &[], Has("a + b"), Has("a + b"), true, "a + b"),
    op("mul", &["multiply", "map_mul"], MAP2, 1.0, &[], Has("a * b"), Has("a * b"), true, "a * b"),
    op("div", &["divide", "map_div"], MAP2, 1.0, &[], Has("a / b"), Has("a / b"), true, "a / b"),
    op(
        "fma",
        &["map_fma"],
        Map { inputs: 3, mask_out: false },
        2.0,
        &[],
        Has("a * b + c"),
        Has("torch.addcmul(c, a, b)"),
        true,
        "a * b + c",
    ),
    op(
        "compare",
        &["map_compare"],
        Map { inputs: 2, mask_out: true },
        1.0,
        &[p("op", ParamKind::Choice(COMPARISONS), ParamDefault::Choice("gt"))],
        Has("a > b"),
        Has("a > b"),
        true,
        "elementwise comparison into a 0/1 mask",
    ),
    // ── 4. Selection and sorting ────────────────────────────────────────────────────────────
    op(
        "top_k",
        &["topk"],
        TopK,
        1.0,
        &[routing("k", COUNT, ParamDefault::Required)],
        Has("mx.topk(x, {k})"),
        Has("torch.topk(x, {k}).values"),
        true,
        "the k largest elements",
    ),
    op(
        "sort",
        &[],
        Sort,
        1.0,
        &[routing("custom_comparator", ParamKind::Bool, ParamDefault::Bool(false))],
        Has("mx.sort(x)"),
        Has("torch.sort(x).values"),
        false,
        "ascending sort",
    ),
    op(
        "argsort",
        &["sort_kv", "sort_by_key"],
        Sort,
        1.0,
        &[routing("custom_comparator", ParamKind::Bool, ParamDefault::Bool(false))],
        Has("mx.argsort(x)"),
        Has("torch.argsort(x)"),
        false,
        "sort keys carrying their indices",
    ),
    op(
        "median",
        &[],
        Select,
        2.0,
        &[],
        Has("mx.sort(x)[x.size // 2]"),
        Has("torch.median(x)"),
        false,
        "median by selection",
    ),
    op(
        "percentile",
        &["quantile"],
        Select,
        2.0,
        &[routing(
            "p",
            ParamKind::Number { min: 0.0, max: 100.0, integer: false },
            ParamDefault::Required,
        )],
        Has("mx.sort(x)[int({p} / 100 * (x.size - 1))]"),
        Has("torch.quantile(x, {p} / 100)"),
        false,
        "p-th percentile by selection",
    ),
    // ── 5. Quantization ─────────────────────────────────────────────────────────────────────
    op(
        "quantize_weights",
        &["quantize"],
        Quantize { dequantize: false },
        3.0,
        &[],
        Has("mx.quantize(x, group_size=64, bits=8)"),
        Has("torch.quantize_per_tensor(x.float(), 0.05, 0, torch.qint8)"),
        true,
        "f16 → int8 with per-channel scales, or f32 → f16",
    ),
    op(
        "dequantize",
        &["dequantize_weights"],
        Quantize { dequantize: true },
        2.0,
        &[],
        Has("mx.dequantize(*mx.quantize(x, group_size=64, bits=8), group_size=64, bits=8)"),
        Has("torch.dequantize(torch.quantize_per_tensor(x.float(), 0.05, 0, torch.qint8))"),
        true,
        "int8 with scales → f16",
    ),
    // ── 6. Layout ───────────────────────────────────────────────────────────────────────────
    op(
        "transpose",
        &["transpose_2d"],
        Transpose2d,
        0.0,
        &[],
        Has("mx.contiguous(mx.transpose(x))"),
        Has("x.t().contiguous()"),
        false,
        "2-D transpose",
    ),
    op(
        "aos_to_soa",
        &["repack_aos_to_soa"],
        Repack,
        0.0,
        &[],
        Has("mx.contiguous(mx.transpose(x))"),
        Has("x.t().contiguous()"),
        false,
        "array of structures → structure of arrays",
    ),
    op(
        "soa_to_aos",
        &["repack_soa_to_aos"],
        Repack,
        0.0,
        &[],
        Has("mx.contiguous(mx.transpose(x))"),
        Has("x.t().contiguous()"),
        false,
        "structure of arrays → array of structures",
    ),
    // ── 8. Softmax ──────────────────────────────────────────────────────────────────────────
    op(
        "softmax",
        &[],
        Rows,
        15.0,
        &[],
        Has("mx.softmax(x, axis=-1)"),
        Has("torch.softmax(x, dim=-1)"),
        true,
        "numerically stable softmax per row",
    ),
    op(
        "log_softmax",
        &[],
        Rows,
        15.0,
        &[],
        Has("x - mx.logsumexp(x, axis=-1, keepdims=True)"),
        Has("torch.log_softmax(x, dim=-1)"),
        true,
        "log-softmax per row",
    ),
    // ── 9. Normalization ────────────────────────────────────────────────────────────────────
    op(
        "layer_norm",
        &["layernorm"],
        Rows,
        8.0,
        &[p("eps", POSITIVE, ParamDefault::Number(1e-5))],
        Has("mx.fast.layer_norm(x, None, None, {eps})"),
        Has("torch.nn.functional.layer_norm(x, x.shape[-1:], eps={eps})"),
        true,
        "layer normalization per row",
    ),
    op(
        "batch_norm",
        &["batchnorm"],
        Rows,
        6.0,
        &[
            p("eps", POSITIVE, ParamDefault::Number(1e-5)),
            p(
                "mode",
                ParamKind::Choice(&["training", "inference"]),
                ParamDefault::Choice("inference"),
            ),
        ],
        Has("nn.BatchNorm(x.shape[-1])(x)"),
        Has("torch.nn.functional.batch_norm(x, None, None, training=True)"),
        true,
        "batch normalization per channel",
    ),
    op(
        "rms_norm",
        &["rmsnorm"],
        Rows,
        6.0,
        &[p("eps", POSITIVE, ParamDefault::Number(1e-5))],
        Has("mx.fast.rms_norm(x, None, {eps})"),
        Has("torch.nn.functional.rms_norm(x, x.shape[-1:], eps={eps})"),
        true,
        "RMS normalization per row",
    ),
    op(
        "group_norm",
        &["groupnorm"],
        Rows,
        8.0,
        &[
            p("groups", COUNT, ParamDefault::Optional),
            p("eps", POSITIVE, ParamDefault::Number(1e-5)),
        ],
        Has("nn.GroupNorm(1, x.shape[-1])(x)"),
        Has("torch.nn.functional.group_norm(x, 1)"),
        true,
        "group normalization",
    ),
    // ── 10. Attention ───────────────────────────────────────────────────────────────────────
    op(
        "attention",
        &["self_attention", "cross_attention", "sdpa"],
        Attention,
        0.0,
        &[
            routing(
                "position_encoding",
                ParamKind::Choice(&["none", "rope", "alibi"]),
                ParamDefault::Choice("none"),
            ),
            p("mask", ParamKind::Choice(&["none", "causal"]), ParamDefault::Choice("none")),
        ],
        Has("mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5)"),
        Has("torch.nn.functional.scaled_dot_product_attention(q, k, v)"),
        true,
        "scaled dot-product attention over [batch, heads, seq, dim]",
    ),
    op(
        "rope",
        &["rotary_embedding"],
        Rope,
        6.0,
        &[p("base", POSITIVE, ParamDefault::Number(10000.0))],
        Has("mx.fast.rope(x, x.shape[-1], traditional=False, base={base}, scale=1.0, offset=0)"),
        Lacks(
            "PyTorch has no built-in RoPE (it lives in model code such as HuggingFace transformers)",
        ),
        true,
        "rotary position embedding",
    ),
    // ── 11. Loss functions ──────────────────────────────────────────────────────────────────
    op(
        "cross_entropy",
        &["cross_entropy_loss"],
        Loss { class_logits: true },
        15.0,
        &[p(
            "reduction",
            ParamKind::Choice(&["mean", "sum", "none"]),
            ParamDefault::Choice("mean"),
        )],
        Has("nn.losses.cross_entropy(pred, target, reduction='{reduction}')"),
        Has("torch.nn.functional.cross_entropy(pred, target, reduction='{reduction}')"),
        true,
        "softmax cross-entropy over [N, C] logits",
    ),
    op(
        "mse_loss",
        &["mean_squared_error", "mse"],
        Loss { class_logits: false },
        3.0,
        &[p("reduction", ParamKind::Choice(REDUCTIONS), ParamDefault::Choice("mean"))],
        Has("nn.losses.mse_loss(pred, target, reduction='{reduction}')"),
        Has("torch.nn.functional.mse_loss(pred, target, reduction='{reduction}')"),
        true,
        "mean squared error",
    ),
    op(
        "mae_loss",
        &["l1_loss", "mean_absolute_error", "mae"],
        Loss { class_logits: false },
        3.0,
        &[p("reduction", ParamKind::Choice(REDUCTIONS), ParamDefault::Choice("mean"))],
        Has("nn.losses.l1_loss(pred, target, reduction='{reduction}')"),
        Has("torch.nn.functional.l1_loss(pred, target, reduction='{reduction}')"),
        true,
        "mean absolute error",
    ),
    op(
        "huber_loss",
        &["smooth_l1"],
        Loss { class_logits: false },
        6.0,
        &[
            p("delta", POSITIVE, ParamDefault::Number(1.0)),
            p("reduction", ParamKind::Choice(REDUCTIONS), ParamDefault::Choice("mean")),
        ],
        Has("nn.losses.huber_loss(pred, target, delta={delta}, reduction='{reduction}')"),
        Has("torch.nn.functional.huber_loss(pred, target, delta={delta}, reduction='{reduction}')"),
        true,
        "Huber loss",
    ),
    op(
        "kl_divergence",
        &["kl_div"],
        Loss { class_logits: false },
        12.0,
        &[p("reduction", ParamKind::Choice(REDUCTIONS), ParamDefault::Choice("sum"))],
        Has("nn.losses.kl_div_loss(pred, target, reduction='{reduction}')"),
        Has("torch.nn.functional.kl_div(pred, target, reduction='{reduction}')"),
        true,
        "Kullback-Leibler divergence",
    ),
    op(
        "binary_cross_entropy",
        &["bce"],
        Loss { class_logits: false },
        12.0,
        &[p("reduction", ParamKind::Choice(REDUCTIONS), ParamDefault::Choice("mean"))],
        Has(
            "nn.losses.binary_cross_entropy(pred, target, with_logits=False, reduction='{reduction}')",
        ),
        Has("torch.nn.functional.binary_cross_entropy(pred, target, reduction='{reduction}')"),
        true,
        "binary cross-entropy",
    ),
    // ── 12. Optimizers ──────────────────────────────────────────────────────────────────────
    op(
        "sgd_step",
        &["sgd"],
        Optimizer { read: 2, write: 1 },
        2.0,
        &[
            routing("momentum", NON_NEGATIVE, ParamDefault::Number(0.0)),
            p("lr", POSITIVE, ParamDefault::Number(0.01)),
        ],
        Has(
            "optim.SGD(learning_rate={lr}, momentum={momentum}).apply_gradients({'w': grads}, {'w': params})['w']",
        ),
        Has("torch.optim.SGD([params], lr={lr}, momentum={momentum}).step()"),
        true,
        "SGD update (with momentum when momentum > 0)",
    ),
    op(
        "adam_step",
        &["adam", "adamw_step", "adamw"],
        Optimizer { read: 4, write: 3 },
        15.0,
        &[
            routing("weight_decay", NON_NEGATIVE, ParamDefault::Number(0.0)),
            p("lr", POSITIVE, ParamDefault::Number(0.001)),
        ],
        Has(
            "optim.AdamW(learning_rate={lr}, weight_decay={weight_decay}).apply_gradients({'w': grads}, {'w': params})['w']",
        ),
        Has("torch.optim.AdamW([params], lr={lr}, weight_decay={weight_decay}).step()"),
        true,
        "Adam update (AdamW when weight_decay > 0)",
    ),
    op(
        "gradient_clip",
        &["grad_clip", "clip_gradients"],
        GradClip,
        3.0,
        &[
            routing(
                "clip_type",
                ParamKind::Choice(&["norm", "value"]),
                ParamDefault::Choice("norm"),
            ),
            p("max_norm", POSITIVE, ParamDefault::Number(1.0)),
            p("max_val", POSITIVE, ParamDefault::Number(1.0)),
        ],
        Has("optim.clip_grad_norm({'w': grads}, max_norm={max_norm})[0]['w']"),
        Has("torch.nn.utils.clip_grad_norm_([grads], {max_norm})"),
        true,
        "gradient clipping by global norm or by value",
    ),
    // ── 13. FFT and spectral ────────────────────────────────────────────────────────────────
    op(
        "fft",
        &["frequency_analysis", "rfft"],
        Fft { kind: FftKind::Forward },
        5.0,
        &[routing("real_input", ParamKind::Bool, ParamDefault::Bool(true))],
        Has("mx.fft.rfft(x)"),
        Has("torch.fft.rfft(x)"),
        false,
        "forward FFT (real input by default)",
    ),
    op(
        "ifft",
        &["inverse_fft"],
        Fft { kind: FftKind::Inverse },
        5.0,
        &[],
        Has("mx.fft.ifft(x)"),
        Has("torch.fft.ifft(x)"),
        false,
        "inverse complex FFT",
    ),
    op(
        "spectral_density",
        &["power_spectrum", "psd"],
        Fft { kind: FftKind::Power },
        5.0,
        &[],
        Has("mx.abs(mx.fft.rfft(x)) ** 2"),
        Has("torch.abs(torch.fft.rfft(x)) ** 2"),
        false,
        "power per frequency bin",
    ),
    op(
        "convolution_fft",
        &["fft_convolution"],
        Fft { kind: FftKind::Convolution },
        5.0,
        &[],
        Has("mx.fft.ifft(mx.fft.fft(a) * mx.fft.fft(b))"),
        Has("torch.fft.ifft(torch.fft.fft(a) * torch.fft.fft(b))"),
        false,
        "convolution through FFT, pointwise product, inverse FFT",
    ),
    // ── 14. Signal processing ───────────────────────────────────────────────────────────────
    op(
        "conv1d",
        &["convolution_1d"],
        Conv1d,
        2.0,
        &[routing("kernel_size", COUNT, ParamDefault::Required)],
        Has("mx.conv1d(x.reshape(1, -1, 1), mx.random.normal(({kernel_size},)).reshape(1, -1, 1))"),
        Has(
            "torch.nn.functional.conv1d(x.reshape(1, 1, -1), torch.randn(1, 1, {kernel_size}, device=x.device))",
        ),
        true,
        "1-D convolution with kernel_size taps",
    ),
    op(
        "autocorrelation",
        &[],
        Autocorrelation,
        5.0,
        &[p("max_lag", UINT, ParamDefault::Optional)],
        Has("mx.fft.irfft(mx.abs(mx.fft.rfft(x, n=2 * x.size)) ** 2)[: x.size]"),
        Has("torch.fft.irfft(torch.abs(torch.fft.rfft(x, n=2 * x.numel())) ** 2)[: x.numel()]"),
        false,
        "autocorrelation (FFT path above 1024 samples)",
    ),
    op(
        "cross_correlation",
        &["xcorr"],
        CrossCorrelation,
        2.0,
        &[p("normalize", ParamKind::Bool, ParamDefault::Bool(false))],
        Has(
            "mx.fft.irfft(mx.fft.rfft(a, n=a.size + b.size - 1) * mx.conjugate(mx.fft.rfft(b, n=a.size + b.size - 1)))",
        ),
        Has(
            "torch.fft.irfft(torch.fft.rfft(a, n=a.numel() + b.numel() - 1) * torch.conj(torch.fft.rfft(b, n=a.numel() + b.numel() - 1)))",
        ),
        false,
        "cross-correlation of two signals [nx, ny]",
    ),
    op(
        "window",
        &["windowing", "window_apply"],
        MAP1,
        5.0,
        &[p(
            "window",
            ParamKind::Choice(&["hann", "hamming", "blackman", "rectangular"]),
            ParamDefault::Choice("hann"),
        )],
        Has("x * (0.5 - 0.5 * mx.cos(2 * math.pi * mx.arange(x.size) / (x.size - 1)))"),
        Has("x * torch.hann_window(x.numel(), periodic=False, device=x.device)"),
        true,
        "multiply by a window (Hann by default)",
    ),
    op(
        "fir_filter",
        &["signal_filter"],
        Conv1d,
        2.0,
        &[routing("kernel_size", COUNT, ParamDefault::Required)],
        Has("mx.conv1d(x.reshape(1, -1, 1), mx.random.normal(({kernel_size},)).reshape(1, -1, 1))"),
        Has(
            "torch.nn.functional.conv1d(x.reshape(1, 1, -1), torch.randn(1, 1, {kernel_size}, device=x.device))",
        ),
        true,
        "FIR filter with kernel_size taps",
    ),
    // ── 15. Linear algebra ──────────────────────────────────────────────────────────────────
    op(
        "spmv",
        &["sparse_matvec"],
        Sparse,
        2.0,
        &[routing("density", FRACTION, ParamDefault::Required)],
        Lacks(NO_SPARSE),
        Has("torch.sparse.mm(a, b)"),
        true,
        "sparse (CSR) matrix times vector over [rows, cols] with density",
    ),
    op(
        "matmul",
        &["gemm", "matrix_multiply"],
        Matmul,
        2.0,
        &[],
        Has("mx.matmul(a, b)"),
        Has("torch.matmul(a, b)"),
        true,
        "matrix product of [M, K] and [K, N]",
    ),
    op(
        "batched_matmul",
        &["bmm"],
        BatchedMatmul,
        2.0,
        &[],
        Has("mx.matmul(a, b)"),
        Has("torch.bmm(a, b)"),
        true,
        "batch of matrix products [batch, M, K, N]",
    ),
    op(
        "matvec",
        &["gemv"],
        Matvec,
        2.0,
        &[],
        Has("mx.matmul(a, b)"),
        Has("torch.mv(a, b)"),
        true,
        "[M, N] matrix times N-vector",
    ),
    op(
        "triangular_solve",
        &["linear_system"],
        Sparse,
        2.0,
        &[
            routing("density", FRACTION, ParamDefault::Required),
            p("upper", ParamKind::Bool, ParamDefault::Bool(false)),
        ],
        Lacks(
            "sparse CSR triangular solve; MLX has no sparse arrays and its dense solve runs on the CPU only",
        ),
        Lacks("PyTorch has no sparse CSR triangular solve on MPS"),
        false,
        "sparse lower/upper triangular solve (level-set waves)",
    ),
    op(
        "outer_product",
        &["outer"],
        Outer,
        1.0,
        &[],
        Has("mx.outer(a, b)"),
        Has("torch.outer(a, b)"),
        true,
        "outer product of [n] and [m]",
    ),
    op(
        "dot_batched",
        &["dot", "dot_product"],
        Dot,
        2.0,
        &[],
        Has("mx.sum(a * b, axis=-1)"),
        Has("torch.sum(a * b, dim=-1)"),
        true,
        "row-wise dot products of [batch, d] pairs",
    ),
    // ── 16. Simulation and physics ──────────────────────────────────────────────────────────
    op(
        "heat_equation",
        &["diffusion"],
        Grid { buffers: 2, only_2d: true },
        10.0,
        &[
            p("alpha", POSITIVE, ParamDefault::Optional),
            p("dt", POSITIVE, ParamDefault::Optional),
            p("dx", POSITIVE, ParamDefault::Optional),
        ],
        Lacks(NO_STENCIL),
        Lacks("no built-in heat-equation step in PyTorch"),
        true,
        "explicit 5-point heat equation step on [H, W]",
    ),
    op(
        "wave_equation",
        &[],
        Grid { buffers: 3, only_2d: true },
        12.0,
        &[
            p("c", POSITIVE, ParamDefault::Optional),
            p("dt", POSITIVE, ParamDefault::Optional),
            p("dx", POSITIVE, ParamDefault::Optional),
        ],
        Lacks(NO_STENCIL),
        Lacks("no built-in wave-equation step in PyTorch"),
        true,
        "leapfrog wave equation step on [H, W]",
    ),
    op(
        "stencil",
        &["stencil_2d", "stencil_3d"],
        Grid { buffers: 2, only_2d: false },
        0.0,
        &[p("points", COUNT, ParamDefault::Optional)],
        Lacks(NO_STENCIL),
        Lacks("no general stencil operator in PyTorch (conv can emulate fixed stencils)"),
        true,
        "general stencil step on [H, W] or [D, H, W]",
    ),
    op(
        "ode_integrate",
        &["rk4"],
        Ode,
        40.0,
        &[p("dt", POSITIVE, ParamDefault::Optional)],
        Lacks("the seed routes ODE integrators (RK4) to custom GPU kernels"),
        Lacks("no built-in RK4 integrator in PyTorch"),
        true,
        "RK4 step over [n, dim] states",
    ),
    op(
        "nbody",
        &["n_body", "nbody_forces"],
        NBody,
        20.0,
        &[
            p("eps", POSITIVE, ParamDefault::Number(0.01)),
            p("gravitational_constant", POSITIVE, ParamDefault::Number(1.0)),
        ],
        Lacks("all-pairs N-body with softening is not in MLX (seed: custom GPU)"),
        Lacks("no built-in N-body in PyTorch"),
        false,
        "all-pairs gravitational forces plus a Velocity Verlet step over [N] bodies",
    ),
    op(
        "verlet",
        &["nbody_step", "velocity_verlet"],
        Verlet,
        10.0,
        &[p("dt", POSITIVE, ParamDefault::Optional)],
        Lacks("the seed routes N-body / Verlet integration to custom GPU kernels"),
        Lacks("no built-in Verlet integrator in PyTorch"),
        true,
        "Velocity Verlet update of [n] coordinates",
    ),
    op(
        "monte_carlo",
        &["monte_carlo_integrate"],
        MonteCarlo,
        20.0,
        &[p("dims", COUNT, ParamDefault::Number(1.0))],
        Lacks(
            "the seed routes Monte Carlo integration (fused PRNG + evaluation) to custom GPU kernels",
        ),
        Lacks("no fused Monte Carlo integrator in PyTorch"),
        true,
        "Monte Carlo integration over [samples] points in dims dimensions",
    ),
    // ── 17. Random number generation ────────────────────────────────────────────────────────
    op(
        "random_uniform",
        &["rand", "uniform_random"],
        Prng { out_bytes: 4 },
        20.0,
        &[p("seed", UINT, ParamDefault::Optional)],
        Has("mx.random.uniform(shape=x_shape)"),
        Has("torch.rand(x_shape, device=device)"),
        true,
        "uniform [0, 1) numbers (Philox)",
    ),
    op(
        "random_normal",
        &["randn", "gaussian_random"],
        Prng { out_bytes: 4 },
        30.0,
        &[p("seed", UINT, ParamDefault::Optional)],
        Has("mx.random.normal(shape=x_shape)"),
        Has("torch.randn(x_shape, device=device)"),
        true,
        "standard normal numbers (Box-Muller)",
    ),
    op(
        "dropout_mask",
        &["bernoulli_mask"],
        Prng { out_bytes: 1 },
        20.0,
        &[
            p("keep_prob", FRACTION, ParamDefault::Number(0.9)),
            p("seed", UINT, ParamDefault::Optional),
        ],
        Has("mx.random.bernoulli({keep_prob}, x_shape)"),
        Has("torch.bernoulli(torch.full(x_shape, {keep_prob}, device=device))"),
        true,
        "0/1 keep mask",
    ),
    op(
        "random_init",
        &["prng_init", "random_bits"],
        Prng { out_bytes: 4 },
        15.0,
        &[p("seed", UINT, ParamDefault::Optional)],
        Has("mx.random.bits(x_shape)"),
        Has("torch.randint(0, 2**31, x_shape, device=device)"),
        true,
        "raw random 32-bit words",
    ),
];

/// Every operation the router knows, in the order of operation-routing.md.
pub fn catalog() -> &'static [OpDef] {
    CATALOG
}

pub(crate) fn lookup(name: &str) -> Option<&'static OpDef> {
    let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
    CATALOG.iter().find(|d| d.name == wanted || d.aliases.contains(&wanted.as_str()))
}

/// The closest known name by edit distance, when it is close enough to be a likely typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let wanted = name.trim().to_ascii_lowercase();
    CATALOG
        .iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
        .map(|candidate| (edit_distance(&wanted, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| lookup(candidate).map(|d| d.name).unwrap_or(candidate))
}

/// Edit distance counting an adjacent transposition as one edit ("sotr" is one edit from
/// "sort"), the usual shape of a typo.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

pub(crate) fn param_is_shown(op: &str, param: &str) -> bool {
    lookup(op).is_some_and(|d| d.params.iter().any(|p| p.name == param && p.routing))
}

/// Checks given parameters (unknown names, types, ranges) and fills in defaults.
pub(crate) fn check_params(
    def: &OpDef,
    given: &BTreeMap<String, ParamValue>,
    key: &str,
) -> Result<BTreeMap<String, ParamValue>, RouteError> {
    for name in given.keys() {
        if !def.params.iter().any(|p| p.name == name) {
            let accepted: Vec<&str> = def.params.iter().map(|p| p.name).collect();
            let accepted = if accepted.is_empty() {
                "it takes no parameters".to_string()
            } else {
                format!("it accepts {}", accepted.join(", "))
            };
            return Err(RouteError::invalid(
                format!("{key}.{name}"),
                format!(
                    "unknown parameter for {}; {accepted} (plus shape, elements, dtype, repeat, label)",
                    def.name
                ),
            ));
        }
    }
    let mut out = BTreeMap::new();
    for param in def.params {
        let pkey = format!("{key}.{}", param.name);
        let value = match given.get(param.name) {
            Some(v) => check_param_value(param, v, &pkey)?,
            None => match param.default {
                ParamDefault::Required => {
                    return Err(RouteError::invalid(
                        pkey,
                        format!(
                            "{} needs this parameter ({})",
                            def.name,
                            describe_kind(param.kind)
                        ),
                    ));
                }
                ParamDefault::Optional => continue,
                ParamDefault::Bool(b) => ParamValue::Bool(b),
                ParamDefault::Number(x) => ParamValue::Number(x),
                ParamDefault::Choice(c) => ParamValue::Text(c.to_string()),
            },
        };
        out.insert(param.name.to_string(), value);
    }
    Ok(out)
}

fn describe_kind(kind: ParamKind) -> String {
    match kind {
        ParamKind::Bool => "true or false".to_string(),
        ParamKind::Choice(values) => format!("one of {}", values.join(", ")),
        ParamKind::Number { min, max, integer } => {
            let what = if integer { "a whole number" } else { "a number" };
            // Upper bounds of 1e15 and more only keep numbers finite; they are not worth saying.
            match (min > f64::MIN, max < 1e15) {
                (true, true) => {
                    format!("{what} from {} to {}", plain_number(min), plain_number(max))
                }
                (true, false) if min == f64::MIN_POSITIVE => format!("{what} > 0"),
                (true, false) => format!("{what} >= {}", plain_number(min)),
                _ => what.to_string(),
            }
        }
    }
}

fn check_param_value(
    param: &ParamDef,
    value: &ParamValue,
    key: &str,
) -> Result<ParamValue, RouteError> {
    let wrong =
        || RouteError::invalid(key, format!("expected {}, got {value}", describe_kind(param.kind)));
    match (param.kind, value) {
        (ParamKind::Bool, ParamValue::Bool(_)) => Ok(value.clone()),
        (ParamKind::Number { min, max, integer }, ParamValue::Number(x)) => {
            if !x.is_finite() || *x < min || *x > max || (integer && x.fract() != 0.0) {
                Err(wrong())
            } else {
                Ok(value.clone())
            }
        }
        (ParamKind::Choice(values), ParamValue::Text(t)) if values.contains(&t.as_str()) => {
            Ok(value.clone())
        }
        _ => Err(wrong()),
    }
}

/// Checks the shape against the family's rule and returns it in canonical form (e.g. a square
/// matmul `[N, N]` becomes `[N, N, N]`, attention becomes 4-D).
pub(crate) fn check_shape(
    def: &OpDef,
    shape: &[u64],
    params: &BTreeMap<String, ParamValue>,
    key: &str,
) -> Result<Vec<u64>, RouteError> {
    let skey = format!("{key}.shape");
    if shape.is_empty() {
        return Err(RouteError::invalid(
            skey,
            format!("{} needs a shape ({})", def.name, shape_rule(def, params)),
        ));
    }
    if let Some(zero) = shape.iter().position(|&d| d == 0) {
        return Err(RouteError::invalid(
            skey,
            format!("dimension {zero} is 0; every dimension must be >= 1"),
        ));
    }
    let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    if elements.is_none_or(|n| n > MAX_ELEMENTS) {
        return Err(RouteError::invalid(skey, format!("more than {MAX_ELEMENTS} elements")));
    }
    let bad = || {
        RouteError::invalid(
            &skey,
            format!("{} takes {}, got {shape:?}", def.name, shape_rule(def, params)),
        )
    };
    let rank = shape.len();
    let flag = |name: &str| matches!(params.get(name), Some(ParamValue::Bool(true)));
    let canonical = match def.family {
        Matmul => match rank {
            3 => shape.to_vec(),
            2 if shape[0] == shape[1] => vec![shape[0]; 3],
            2 => {
                return Err(RouteError::invalid(
                    skey,
                    format!(
                        "matmul shape {shape:?} is ambiguous: give [M, K, N] (A is MxK, B is KxN), or [N, N] for two square matrices"
                    ),
                ));
            }
            _ => return Err(bad()),
        },
        BatchedMatmul => (rank == 4).then(|| shape.to_vec()).ok_or_else(bad)?,
        Matvec | Outer | Transpose2d | Repack | CrossCorrelation | CovMatrix => {
            (rank == 2).then(|| shape.to_vec()).ok_or_else(bad)?
        }
        Dot => match rank {
            1 => vec![1, shape[0]],
            2 => shape.to_vec(),
            _ => return Err(bad()),
        },
        Sparse => match rank {
            1 if def.name == "triangular_solve" => vec![shape[0], shape[0]],
            2 if def.name != "triangular_solve" || shape[0] == shape[1] => shape.to_vec(),
            _ => return Err(bad()),
        },
        PairStatistic { matrix_param } if flag(matrix_param) => {
            (rank == 2).then(|| shape.to_vec()).ok_or_else(bad)?
        }
        Grid { only_2d, .. } => match rank {
            2 => shape.to_vec(),
            3 if !only_2d => shape.to_vec(),
            _ => return Err(bad()),
        },
        Ode | Loss { class_logits: true } => (rank <= 2).then(|| shape.to_vec()).ok_or_else(bad)?,
        NBody => (rank == 1).then(|| shape.to_vec()).ok_or_else(bad)?,
        Attention => match rank {
            2 => vec![1, 1, shape[0], shape[1]],
            3 => vec![1, shape[0], shape[1], shape[2]],
            4 => shape.to_vec(),
            _ => return Err(bad()),
        },
        _ => shape.to_vec(),
    };
    if def.family == TopK {
        let n: u64 = shape.iter().product();
        if let Some(ParamValue::Number(k)) = params.get("k")
            && *k > n as f64
        {
            return Err(RouteError::invalid(
                format!("{key}.k"),
                format!("k = {} exceeds the {n} elements", plain_number(*k)),
            ));
        }
    }
    if def.family == Conv1d {
        let n: u64 = shape.iter().product();
        if let Some(ParamValue::Number(k)) = params.get("kernel_size")
            && *k > n as f64
        {
            return Err(RouteError::invalid(
                format!("{key}.kernel_size"),
                format!("kernel_size = {} exceeds the {n} samples", plain_number(*k)),
            ));
        }
    }
    Ok(canonical)
}

/// The shape rule of an operation in words, for errors and `--list-ops`.
pub fn shape_rule(def: &OpDef, params: &BTreeMap<String, ParamValue>) -> &'static str {
    match def.family {
        Matmul => "[M, K, N] (A is MxK, B is KxN) or [N, N]",
        BatchedMatmul => "[batch, M, K, N]",
        Matvec => "[M, N] (matrix MxN times an N-vector)",
        Outer => "[n, m]",
        Transpose2d => "[rows, cols]",
        Repack => "[n, k] (n structures of k fields)",
        CrossCorrelation => "[nx, ny] (the two signal lengths)",
        CovMatrix => "[samples, features]",
        Dot => "[batch, d] or [d]",
        Sparse if def.name == "triangular_solve" => "[n] or [n, n] (square sparse matrix)",
        Sparse => "[rows, cols]",
        PairStatistic { matrix_param }
            if matches!(params.get(matrix_param), Some(ParamValue::Bool(true))) =>
        {
            "[samples, features]"
        }
        Grid { only_2d: true, .. } => "[H, W]",
        Grid { .. } => "[H, W] or [D, H, W]",
        Ode => "[n] or [n, dim]",
        Loss { class_logits: true } => "[N, C] logits or [C]",
        NBody => "[N] bodies",
        Attention => "[batch, heads, seq, dim], [heads, seq, dim] or [seq, dim]",
        Rows => "[rows, len] (or [len] for one row)",
        _ => "an element count (`elements = N`) or any shape",
    }
}

/// Whether MLX and PyTorch have the operation, with the code for it.
pub(crate) fn framework_support(ctx: &OpContext<'_>) -> (FrameworkSupport, FrameworkSupport) {
    let def = ctx.def;
    let mut mlx = support(def.mlx, ctx);
    let mut pytorch = support(def.pytorch, ctx);
    // Parameter-dependent coverage and code.
    match def.name {
        "sort" | "argsort" if ctx.flag("custom_comparator") => {
            let reason = "custom comparators: MLX sort is hard-wired to ascending/descending (seed; mlx sort kernels)";
            mlx = lacks(reason);
            pytorch = lacks("custom comparators: torch.sort has none");
        }
        "fft" if !ctx.flag("real_input") => {
            mlx = has("mx.fft.fft(x)".to_string());
            pytorch = has("torch.fft.fft(x)".to_string());
        }
        "gradient_clip" if ctx.text("clip_type") == Some("value") => {
            mlx = has(fill("mx.clip(grads, -{max_val}, {max_val})", ctx));
            pytorch = has(fill("torch.clamp(grads, -{max_val}, {max_val})", ctx));
        }
        "correlation" | "covariance" if matches!(def.family, PairStatistic { matrix_param } if ctx.flag(matrix_param)) =>
        {
            let (m, t) = if def.name == "correlation" {
                (
                    "(lambda z: (z.T @ z) / (x.shape[0] - 1))((x - mx.mean(x, axis=0)) / mx.std(x, axis=0, ddof=1))",
                    "torch.corrcoef(x.T)",
                )
            } else {
                (
                    "(lambda xc: xc.T @ xc / (x.shape[0] - 1))(x - mx.mean(x, axis=0))",
                    "torch.cov(x.T)",
                )
            };
            mlx = has(m.to_string());
            pytorch = has(t.to_string());
        }
        _ => {}
    }
    (mlx, pytorch)
}

fn support(s: Support, ctx: &OpContext<'_>) -> FrameworkSupport {
    match s {
        Has(code) => has(fill(code, ctx)),
        Lacks(reason) => lacks(reason),
    }
}

fn has(code: String) -> FrameworkSupport {
    FrameworkSupport { available: true, code: Some(code), reason: None }
}

fn lacks(reason: &str) -> FrameworkSupport {
    FrameworkSupport { available: false, code: None, reason: Some(reason.to_string()) }
}

/// Replaces `{param}` by the parameter's value (optional parameters that are absent keep a
/// readable placeholder so the code still says what is missing).
fn fill(template: &str, ctx: &OpContext<'_>) -> String {
    let mut text = template.to_string();
    for (name, value) in ctx.params {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

pub(crate) fn chunkable(ctx: &OpContext<'_>) -> bool {
    ctx.def.chunkable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for def in CATALOG {
            for name in std::iter::once(def.name).chain(def.aliases.iter().copied()) {
                assert!(seen.insert(name), "{name} appears twice");
                assert_eq!(name, name.to_ascii_lowercase(), "{name} must be lower case");
            }
        }
    }

    #[test]
    fn every_operation_has_kernels_a_cost_and_framework_answers() {
        for def in CATALOG {
            let shape: Vec<u64> = match def.family {
                Matmul => vec![64, 64, 64],
                BatchedMatmul => vec![2, 32, 32, 32],
                Matvec | Outer | Transpose2d | Repack | CrossCorrelation | CovMatrix | Dot => {
                    vec![64, 16]
                }
                Sparse => vec![256, 256],
                Grid { .. } => vec![64, 64],
                Attention => vec![1, 2, 128, 64],
                NBody => vec![1024],
                _ => vec![4096],
            };
            let mut spec = super::super::OperationSpec::new(def.name, &shape);
            for param in def.params {
                if matches!(param.default, ParamDefault::Required) {
                    let value = match param.name {
                        "k" => 10.0,
                        "p" => 50.0,
                        "kernel_size" => 9.0,
                        "density" => 0.01,
                        other => panic!("no test value for required parameter {other}"),
                    };
                    spec.params.insert(param.name.to_string(), ParamValue::Number(value));
                }
            }
            let op = super::super::Operation::from_spec(&spec, 0)
                .unwrap_or_else(|e| panic!("{}: {e}", def.name));
            assert!(!op.kernels.is_empty(), "{} maps to no kernel", def.name);
            assert!(op.cost.moved_bytes > 0.0 && op.cost.moved_bytes.is_finite(), "{}", def.name);
            assert!(op.cost.working_set_bytes > 0.0, "{}", def.name);
            assert!(op.cost.flops >= 0.0 && op.cost.flops.is_finite(), "{}", def.name);
            assert_eq!(op.mlx.available, op.mlx.code.is_some(), "{}", def.name);
            assert_eq!(!op.mlx.available, op.mlx.reason.is_some(), "{}", def.name);
            for code in [&op.mlx.code, &op.pytorch.code].into_iter().flatten() {
                for param in def.params {
                    let placeholder = format!("{{{}}}", param.name);
                    let optional = matches!(param.default, ParamDefault::Optional);
                    assert!(
                        optional || !code.contains(&placeholder),
                        "{}: unfilled {placeholder} in {code}",
                        def.name
                    );
                }
            }
        }
    }

    #[test]
    fn required_parameters_are_demanded_by_name() {
        let spec = super::super::OperationSpec::new("top_k", &[1000]);
        let err = super::super::Operation::from_spec(&spec, 3).unwrap_err().to_string();
        assert!(err.starts_with("operations[3].k: top_k needs this parameter"), "{err}");
    }

    #[test]
    fn unknown_parameters_are_rejected_by_name() {
        let spec = super::super::OperationSpec::new("sum", &[1000])
            .with_param("k", ParamValue::Number(1.0));
        let err = super::super::Operation::from_spec(&spec, 0).unwrap_err().to_string();
        assert!(err.starts_with("operations[0].k: unknown parameter for sum"), "{err}");
    }

    #[test]
    fn ambiguous_matmul_shape_is_explained() {
        let spec = super::super::OperationSpec::new("matmul", &[100, 200]);
        let err = super::super::Operation::from_spec(&spec, 0).unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
    }

    #[test]
    fn mlx_gaps_follow_the_seed() {
        for name in
            ["histogram", "compact", "filter_threshold", "stencil", "nbody", "spmv", "monte_carlo"]
        {
            let def = lookup(name).unwrap();
            assert!(matches!(def.mlx, Lacks(_)), "{name} should not be in MLX");
        }
        for name in ["matmul", "sort", "fft", "softmax", "sum", "top_k", "attention", "layer_norm"]
        {
            let def = lookup(name).unwrap();
            assert!(matches!(def.mlx, Has(_)), "{name} should be in MLX");
        }
    }
}
