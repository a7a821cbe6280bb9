//! Operation → catalog kernels, following `spec/operation-routing.md`: rows for one operation
//! are checked top to bottom and the first whose condition holds wins. Kernel ids are the
//! catalog's (`spec/kernels.toml`); MATMUL and NBODY_FORCES_ALLPAIRS are its `[[extra]]` entries.

use super::OpContext;

/// The kernels of one operation: groups launched together (`A + B`), groups run in sequence
/// (`A -> B`).
pub(crate) struct KernelRoute {
    steps: Vec<Vec<&'static str>>,
    /// Host work before the kernels (zero padding).
    host_before: Option<&'static str>,
    /// Host work after the kernels (a square root, taking the middle element).
    pub host_step: Option<&'static str>,
    /// Extra launches beyond one per kernel (e.g. softmax rows longer than 8192 split in two).
    extra_launches: u32,
}

impl KernelRoute {
    fn one(id: &'static str) -> Self {
        KernelRoute { steps: vec![vec![id]], host_before: None, host_step: None, extra_launches: 0 }
    }
    fn chain(ids: &[&'static str]) -> Self {
        KernelRoute {
            steps: ids.iter().map(|id| vec![*id]).collect(),
            host_before: None,
            host_step: None,
            extra_launches: 0,
        }
    }
    fn together(ids: &[&'static str]) -> Self {
        KernelRoute {
            steps: vec![ids.to_vec()],
            host_before: None,
            host_step: None,
            extra_launches: 0,
        }
    }
    fn then_host(mut self, step: &'static str) -> Self {
        self.host_step = Some(step);
        self
    }

    pub fn ids(&self) -> Vec<String> {
        self.steps.iter().flatten().map(|id| id.to_string()).collect()
    }

    pub fn text(&self) -> String {
        let mut text = self.host_before.map(|h| format!("{h} -> ")).unwrap_or_default();
        text.push_str(
            &self.steps.iter().map(|group| group.join(" + ")).collect::<Vec<_>>().join(" -> "),
        );
        if let Some(host) = self.host_step {
            text.push_str(", then ");
            text.push_str(host);
        }
        text
    }

    pub fn launches(&self) -> f64 {
        (self.steps.iter().map(Vec::len).sum::<usize>() as u32 + self.extra_launches) as f64
    }
}

fn is_power_of_two(n: f64) -> bool {
    n >= 1.0 && (n as u64).is_power_of_two()
}

fn is_power_of_four(n: f64) -> bool {
    is_power_of_two(n) && (n as u64).trailing_zeros().is_multiple_of(2)
}

pub(crate) fn route(ctx: &OpContext<'_>) -> KernelRoute {
    let n = ctx.n();
    match ctx.def.name {
        // 1. Vectors and reductions
        "vector_norm" if n > 100_000.0 => KernelRoute::one("REDUCE_L2"),
        "vector_norm" => KernelRoute::one("MAP_REDUCE_SQUARE_SUM").then_host("sqrt on the host"),
        "sum_of_squares" => KernelRoute::one("MAP_REDUCE_SQUARE_SUM"),
        "cosine_similarity" if n > 1000.0 => KernelRoute::one("COSINE_SIMILARITY"),
        "cosine_similarity" => KernelRoute::together(&["DOT_BATCHED", "REDUCE_L2"]),
        "filter_threshold" => KernelRoute::chain(&["MAP_COMPARE", "COMPACT_MASK"]),
        "prefix_sum" => KernelRoute::one("SCAN_EXCLUSIVE"),
        "inclusive_scan" => KernelRoute::one("SCAN_INCLUSIVE"),
        "compact" => KernelRoute::one("COMPACT_MASK"),
        "compact_if" => KernelRoute::one("COMPACT_IF"),
        "sum" => KernelRoute::one("REDUCE_SUM"),
        "mean" => KernelRoute::one("REDUCE_MEAN"),
        "min" => KernelRoute::one("REDUCE_MIN"),
        "max" => KernelRoute::one("REDUCE_MAX"),
        "abs_sum" => KernelRoute::one("MAP_REDUCE_ABS_SUM"),
        "masked_sum" => KernelRoute::one("MAP_REDUCE_MASKED_SUM"),
        "threshold_count" => KernelRoute::one("MAP_REDUCE_THRESHOLD_COUNT"),
        // 2. Statistics
        "histogram" => KernelRoute::one("REDUCE_HISTOGRAM"),
        "variance" => KernelRoute::one("REDUCE_VAR"),
        "standard_deviation" => KernelRoute::one("REDUCE_STDDEV"),
        "argmax" => KernelRoute::one("REDUCE_ARGMAX"),
        "argmin" => KernelRoute::one("REDUCE_ARGMIN"),
        "describe_stats" => KernelRoute::together(&[
            "REDUCE_MEAN",
            "REDUCE_VAR",
            "REDUCE_MIN",
            "REDUCE_MAX",
            "REDUCE_ARGMIN",
            "REDUCE_ARGMAX",
            "REDUCE_HISTOGRAM",
        ]),
        // 3. Correlation and covariance
        "correlation" if ctx.flag("pairwise") => KernelRoute::one("REDUCE_PEARSON_PAIRWISE"),
        "correlation" => KernelRoute::one("REDUCE_CORRELATION"),
        "covariance" if ctx.flag("matrix") => KernelRoute::one("REDUCE_COVARIANCE_MATRIX"),
        "covariance" => KernelRoute::one("REDUCE_COVARIANCE"),
        "weighted_sum" => KernelRoute::one("REDUCE_WEIGHTED_SUM"),
        "weighted_mean" => KernelRoute::one("REDUCE_WEIGHTED_MEAN"),
        "pca_prep" => KernelRoute::together(&["REDUCE_MEAN", "REDUCE_COVARIANCE_MATRIX"]),
        // Elementwise
        "exp" => KernelRoute::one("MAP_EXP"),
        "log" => KernelRoute::one("MAP_LOG"),
        "abs" => KernelRoute::one("MAP_ABS"),
        "clamp" => KernelRoute::one("MAP_CLAMP"),
        "sigmoid" => KernelRoute::one("MAP_SIGMOID"),
        "tanh" => KernelRoute::one("MAP_TANH"),
        "softplus" => KernelRoute::one("MAP_SOFTPLUS"),
        "relu" => KernelRoute::one("MAP_RELU"),
        "gelu" => KernelRoute::one("MAP_GELU"),
        "silu" => KernelRoute::one("MAP_SILU"),
        "leaky_relu" => KernelRoute::one("MAP_LEAKY_RELU"),
        "elu" => KernelRoute::one("MAP_ELU"),
        "mish" => KernelRoute::one("MAP_MISH"),
        "add" => KernelRoute::one("MAP_ADD"),
        "mul" => KernelRoute::one("MAP_MUL"),
        "div" => KernelRoute::one("MAP_DIV"),
        "fma" => KernelRoute::one("MAP_FMA"),
        "compare" => KernelRoute::one("MAP_COMPARE"),
        // 4. Selection and sorting
        "top_k" => {
            let k = ctx.number("k").unwrap_or(1.0);
            if k / n < 0.1 {
                KernelRoute::one("TOPK_SELECT")
            } else {
                KernelRoute::one("SORT_RADIX").then_host("take the top k")
            }
        }
        "sort" if n <= 32768.0 && is_power_of_two(n) => KernelRoute::one("SORT_BITONIC"),
        "sort" => KernelRoute::one("SORT_RADIX"),
        "argsort" if n <= 32768.0 && is_power_of_two(n) => KernelRoute::one("SORT_BITONIC_KV"),
        "argsort" => KernelRoute::one("SORT_RADIX"),
        "median" if n > 8192.0 => KernelRoute::one("MEDIAN_SELECT"),
        "median" if is_power_of_two(n) => {
            KernelRoute::one("SORT_BITONIC").then_host("take the middle element")
        }
        "median" => KernelRoute::one("SORT_RADIX").then_host("take the middle element"),
        "percentile" => KernelRoute::one("PERCENTILE_SELECT"),
        // 5. Quantization
        "quantize_weights" if ctx.dtype == super::Dtype::F16 => {
            KernelRoute::one("QUANTIZE_F16_TO_I8")
        }
        "quantize_weights" => KernelRoute::one("QUANTIZE_F32_TO_F16"),
        "dequantize" => KernelRoute::one("DEQUANTIZE_I8_TO_F16"),
        // 6. Layout
        "transpose" => KernelRoute::one("TRANSPOSE_2D"),
        "aos_to_soa" => KernelRoute::one("REPACK_AOS_TO_SOA"),
        "soa_to_aos" => KernelRoute::one("REPACK_SOA_TO_AOS"),
        // 8. Softmax: rows longer than 8192 still use SOFTMAX_STABLE, split into two launches.
        "softmax" => {
            let mut route = KernelRoute::one("SOFTMAX_STABLE");
            if ctx.shape.last().is_some_and(|&len| len > 8192) {
                route.extra_launches = 1;
            }
            route
        }
        "log_softmax" => KernelRoute::one("LOG_SOFTMAX"),
        // 9. Normalization
        "layer_norm" => KernelRoute::one("LAYER_NORM"),
        "batch_norm" => KernelRoute::one("BATCH_NORM"),
        "rms_norm" => KernelRoute::one("RMS_NORM"),
        "group_norm" => KernelRoute::one("GROUP_NORM"),
        // 10. Attention: the position-encoding rows are modifiers on the attention rows.
        "attention" => {
            let seq = ctx.dim(2);
            let core = if seq < 2048.0 { "ATTENTION_SDPA" } else { "ATTENTION_FLASH" };
            match ctx.text("position_encoding") {
                Some("rope") => KernelRoute {
                    steps: vec![vec!["ROPE_PRECOMPUTE", "ROPE_APPLY"], vec![core]],
                    host_before: None,
                    host_step: None,
                    extra_launches: 0,
                },
                Some("alibi") => KernelRoute::together(&[core, "ALIBI_BIAS"]),
                _ => KernelRoute::one(core),
            }
        }
        "rope" => KernelRoute::together(&["ROPE_PRECOMPUTE", "ROPE_APPLY"]),
        // 11. Loss functions
        "cross_entropy" => KernelRoute::one("LOSS_CROSS_ENTROPY"),
        "mse_loss" => KernelRoute::one("LOSS_MSE"),
        "mae_loss" => KernelRoute::one("LOSS_MAE"),
        "huber_loss" => KernelRoute::one("LOSS_HUBER"),
        "kl_divergence" => KernelRoute::one("LOSS_KL_DIV"),
        "binary_cross_entropy" => KernelRoute::one("LOSS_BCE"),
        // 12. Optimizers
        "sgd_step" if ctx.number("momentum").unwrap_or(0.0) > 0.0 => {
            KernelRoute::one("OPT_SGD_MOMENTUM")
        }
        "sgd_step" => KernelRoute::one("OPT_SGD"),
        "adam_step" if ctx.number("weight_decay").unwrap_or(0.0) > 0.0 => {
            KernelRoute::one("OPT_ADAMW")
        }
        "adam_step" => KernelRoute::one("OPT_ADAM"),
        "gradient_clip" if ctx.text("clip_type") == Some("value") => {
            KernelRoute::one("GRAD_CLIP_VALUE")
        }
        "gradient_clip" => KernelRoute::chain(&["REDUCE_L2", "GRAD_CLIP_NORM"]),
        // 13. FFT and spectral: the radix-4 row is tested before radix-2.
        "fft" if ctx.flag("real_input") => KernelRoute::one("FFT_REAL"),
        "fft" if is_power_of_four(n) && n >= 256.0 => KernelRoute::one("FFT_RADIX4"),
        "fft" if is_power_of_two(n) => KernelRoute::one("FFT_RADIX2"),
        "fft" => KernelRoute {
            host_before: Some("zero-pad to the next power of 2"),
            ..KernelRoute::one("FFT_RADIX2")
        },
        "ifft" => KernelRoute::one("IFFT"),
        "spectral_density" => KernelRoute::chain(&["FFT_REAL", "SPECTRAL_POWER"]),
        "convolution_fft" => KernelRoute::chain(&["FFT_RADIX2", "MAP_MUL", "IFFT"]),
        // 14. Signal processing
        "conv1d" if ctx.number("kernel_size").unwrap_or(1.0) > 64.0 => {
            KernelRoute::one("FFT_CONV1D")
        }
        "conv1d" => KernelRoute::one("CONV1D"),
        "autocorrelation" => KernelRoute::one("AUTOCORRELATION"),
        "cross_correlation" => KernelRoute::one("CROSS_CORRELATION"),
        "window" => KernelRoute::one("WINDOW_APPLY"),
        "fir_filter" if ctx.number("kernel_size").unwrap_or(1.0) > 64.0 => {
            KernelRoute::one("FFT_CONV1D")
        }
        "fir_filter" => KernelRoute::one("FIR_FILTER"),
        // 15. Linear algebra
        "spmv" if ctx.number("density").unwrap_or(0.0) < 0.05 => KernelRoute::one("SPMV_CSR"),
        "spmv" => KernelRoute::one("MATVEC"),
        "matmul" => KernelRoute::one("MATMUL"),
        "batched_matmul" => KernelRoute::one("MATMUL_BATCHED"),
        "matvec" => KernelRoute::one("MATVEC"),
        "triangular_solve" => KernelRoute::one("TRIANGULAR_SOLVE"),
        "outer_product" => KernelRoute::one("OUTER_PRODUCT"),
        "dot_batched" => KernelRoute::one("DOT_BATCHED"),
        // 16. Simulation: an N-body step is positions -> forces -> velocities (pipelines.md #9),
        // the forces of one step serving as the first forces of the next.
        "heat_equation" => KernelRoute::one("SIM_HEAT_EQUATION"),
        "wave_equation" => KernelRoute::one("SIM_WAVE_EQUATION"),
        "stencil" if ctx.shape.len() == 3 => KernelRoute::one("SIM_STENCIL_3D"),
        "stencil" => KernelRoute::one("SIM_STENCIL_2D"),
        "ode_integrate" => KernelRoute::one("INTEGRATE_RK4"),
        "verlet" => KernelRoute::one("INTEGRATE_VERLET"),
        "nbody" => {
            KernelRoute::chain(&["INTEGRATE_VERLET", "NBODY_FORCES_ALLPAIRS", "INTEGRATE_VERLET"])
        }
        "monte_carlo" => KernelRoute::one("MONTE_CARLO_INTEGRATE"),
        // 17. Random number generation
        "random_uniform" => KernelRoute::one("PRNG_UNIFORM_F32"),
        "random_normal" => KernelRoute::one("PRNG_NORMAL_F32"),
        "dropout_mask" => KernelRoute::one("PRNG_DROPOUT_MASK"),
        "random_init" => KernelRoute::one("PRNG_PHILOX"),
        // Every table entry has a row above; the table's tests route every entry, so a new
        // entry without a row fails there, not in a user's hands.
        other => unreachable!("operation '{other}' has no kernel routing row"),
    }
}
