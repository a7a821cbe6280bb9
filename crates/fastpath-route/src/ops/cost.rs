//! The router's own cost model: for each operation, the bytes a good implementation moves
//! through memory, the flops it does, its working set and its kernel launches.
//!
//! These are *floors* in the sense of DESIGN.md's performance method ("count first"): bytes
//! are the operands read and results written once (plus the passes a multi-pass algorithm
//! cannot avoid, e.g. eight digit passes of a 32-bit radix sort), flops are the textbook
//! counts (2MKN for a GEMM, 5 n log2 n for a complex FFT, 20 per body pair for N-body). The
//! default rate source turns them into seconds with a roofline; a calibrated kernel cost model
//! replaces them when the façade provides one.

use serde::Serialize;

use super::OpContext;
use super::table::{Family, FftKind};

/// Cost of one operation over all its repetitions (`repeat`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    /// Discrete work items (the seed's `item_count` contribution): elements of the main
    /// operand, output elements of a matmul, bodies of an N-body step, cells of a grid.
    pub items: f64,
    /// Bytes live while the operation runs: inputs + outputs + scratch (not multiplied by repeat).
    pub working_set_bytes: f64,
    /// Bytes moved through memory, all repetitions.
    pub moved_bytes: f64,
    /// Floating-point operations, all repetitions.
    pub flops: f64,
    /// Kernel launches, all repetitions.
    pub launches: f64,
}

fn log2(x: f64) -> f64 {
    x.max(2.0).log2()
}

fn next_power_of_two(x: f64) -> f64 {
    2f64.powf(x.max(1.0).log2().ceil())
}

/// Passes over the data an FFT of `n` points needs when each pass finishes 10 radix-2 stages
/// in workgroup memory (1024-point blocks).
fn fft_passes(n: f64) -> f64 {
    (log2(n) / 10.0).ceil().max(1.0)
}

pub(crate) fn cost(ctx: &OpContext<'_>, launches: f64) -> Cost {
    let b = ctx.dtype.bytes() as f64;
    let n = ctx.n();
    let fpe = ctx.def.flops_per_element;
    let d = |i: usize| ctx.dim(i);
    // (items, working set, moved, flops) for one run.
    let (items, working_set, moved, flops) = match ctx.def.family {
        Family::Map { inputs, mask_out } => {
            let out = if mask_out { 4.0 } else { b };
            let ws = n * (inputs as f64 * b + out);
            (n, ws, ws, fpe * n)
        }
        Family::Reduce { inputs } => {
            let ws = inputs as f64 * n * b + 8.0;
            (n, ws, ws, fpe * n)
        }
        Family::Histogram => (n, n * b + 1024.0, n * b + 1024.0, fpe * n),
        // Reduce-then-scan: read twice, write once.
        Family::Scan => (n, 2.0 * n * b, 3.0 * n * b, 2.0 * n),
        Family::Compact { compare_first } => {
            // mask (u32) written or read, scanned (read + write), data read and compacted out.
            let mask = 4.0 * n;
            let ws = 2.0 * n * b + 2.0 * mask;
            let moved = 2.0 * n * b + 3.0 * mask + if compare_first { n * b + mask } else { 0.0 };
            (n, ws, moved, fpe * n)
        }
        Family::Sort => {
            let key_value = ctx.def.name == "argsort";
            let payload = if key_value { 4.0 * n } else { 0.0 };
            let ws = 2.0 * (n * b + payload);
            if n <= 32768.0 && (n as u64).is_power_of_two() {
                // Bitonic network in workgroup memory: one load, one store.
                (n, ws, n * b * 2.0 + payload * 2.0, n * log2(n) * log2(n) / 2.0)
            } else {
                // 4-bit digits: 8 passes for 32-bit keys, each a histogram read and a scatter.
                let passes = (b * 8.0 / 4.0).max(2.0);
                (n, ws, passes * 3.0 * (n * b + payload), passes * 4.0 * n)
            }
        }
        Family::TopK => {
            let k = ctx.number("k").unwrap_or(1.0);
            (n, n * b + k * (b + 4.0), n * b + k * (b + 4.0), n * log2(k).max(1.0))
        }
        Family::Select => (n, 2.0 * n * b, 3.0 * n * b, fpe * 3.0 * n),
        Family::DescribeStats => (n, n * b + 1024.0, 7.0 * n * b, fpe * n),
        // Per-row kernels read a row twice (statistics, then normalise) and write it once.
        Family::Rows => (n, 2.0 * n * b, 3.0 * n * b, fpe * n),
        Family::Loss { class_logits } => {
            if class_logits {
                let rows = if ctx.shape.len() == 2 { d(0) } else { 1.0 };
                (rows, n * b + rows * 4.0, n * b + rows * 4.0, fpe * n)
            } else {
                (n, 2.0 * n * b, 2.0 * n * b, fpe * n)
            }
        }
        Family::Optimizer { read, write } => {
            (n, read as f64 * n * b, (read + write) as f64 * n * b, fpe * n)
        }
        Family::GradClip => {
            let by_norm = ctx.text("clip_type") != Some("value");
            let moved = if by_norm { 3.0 * n * b } else { 2.0 * n * b };
            (n, n * b, moved, fpe * n)
        }
        Family::PairStatistic { matrix_param } if ctx.flag(matrix_param) => {
            cov_matrix(d(0), d(1), b)
        }
        Family::PairStatistic { .. } => (n, 2.0 * n * b, 2.0 * n * b, fpe * n),
        Family::CovMatrix => cov_matrix(d(0), d(1), b),
        Family::Matmul => {
            let (m, k, nn) = (d(0), d(1), d(2));
            let ws = (m * k + k * nn + m * nn) * b;
            (m * nn, ws, ws, 2.0 * m * k * nn)
        }
        Family::BatchedMatmul => {
            let (batch, m, k, nn) = (d(0), d(1), d(2), d(3));
            let ws = batch * (m * k + k * nn + m * nn) * b;
            (batch * m * nn, ws, ws, 2.0 * batch * m * k * nn)
        }
        Family::Matvec => {
            let (m, nn) = (d(0), d(1));
            let ws = (m * nn + nn + m) * b;
            (m, ws, ws, 2.0 * m * nn)
        }
        Family::Outer => {
            let (a, c) = (d(0), d(1));
            let ws = (a + c + a * c) * b;
            (a * c, ws, ws, a * c)
        }
        Family::Dot => {
            let (batch, dim) = (d(0), d(1));
            let ws = (2.0 * batch * dim + batch) * b;
            (batch, ws, ws, fpe * batch * dim)
        }
        Family::Transpose2d | Family::Repack => (n, 2.0 * n * b, 2.0 * n * b, 0.0),
        Family::Fft { kind } => {
            let real =
                kind == FftKind::Power || (kind == FftKind::Forward && ctx.flag("real_input"));
            let size = if real { n } else { next_power_of_two(n) };
            // Complex values are two numbers; a real transform of n points costs about half a
            // complex one of n points.
            let complex_bytes = 2.0 * b * size;
            let (ws, passes_bytes, flops) = if real {
                let ws = n * b + complex_bytes / 2.0 + 2.0 * b;
                (ws, ws, 2.5 * size * log2(size))
            } else {
                (2.0 * complex_bytes, 2.0 * complex_bytes, 5.0 * size * log2(size))
            };
            let mut moved = passes_bytes * fft_passes(size);
            let mut flops = flops;
            match kind {
                FftKind::Power => moved += complex_bytes / 2.0 + n * b / 2.0,
                FftKind::Convolution => {
                    // Two forward transforms, a pointwise product and an inverse.
                    moved = 3.0 * moved + 3.0 * complex_bytes;
                    flops = 3.0 * flops + 6.0 * size;
                }
                FftKind::Forward | FftKind::Inverse => {}
            }
            (n, if kind == FftKind::Convolution { 3.0 * ws } else { ws }, moved, flops)
        }
        Family::Conv1d => {
            let k = ctx.number("kernel_size").unwrap_or(1.0);
            let ws = 2.0 * n * b + k * b;
            if k > 64.0 {
                let size = next_power_of_two(n + k);
                let flops = 3.0 * 2.5 * size * log2(size) + 6.0 * size;
                (n, ws + 4.0 * b * size, ws + 3.0 * 2.0 * b * size * fft_passes(size), flops)
            } else {
                (n, ws, ws, 2.0 * n * k)
            }
        }
        Family::Autocorrelation => {
            let size = next_power_of_two(2.0 * n);
            let flops = if n > 1024.0 { 2.0 * 2.5 * size * log2(size) + 2.0 * size } else { n * n };
            (n, n * b + 2.0 * b * size, 2.0 * n * b + 4.0 * b * size * fft_passes(size), flops)
        }
        Family::CrossCorrelation => {
            let (nx, ny) = (d(0), d(1));
            let out = nx + ny - 1.0;
            let ws = (nx + ny + out) * b;
            (out, ws, ws, 2.0 * nx * ny)
        }
        Family::Sparse => {
            let (rows, cols) = (d(0), d(1));
            let density = ctx.number("density").unwrap_or(1.0);
            let nnz = (rows * cols * density).max(rows);
            let ws = nnz * (b + 4.0) + (rows + 1.0) * 4.0 + cols * b + rows * b;
            (rows, ws, ws, 2.0 * nnz)
        }
        Family::Grid { buffers, .. } => {
            let cells = n;
            let points =
                ctx.number("points").unwrap_or(if ctx.shape.len() == 3 { 7.0 } else { 5.0 });
            let flops = if fpe > 0.0 { fpe * cells } else { 2.0 * points * cells };
            let ws = buffers as f64 * cells * b;
            (cells, ws, ws, flops)
        }
        Family::Ode => (d(0), 2.0 * n * b, 2.0 * n * b, fpe * n),
        Family::NBody => {
            // Bodies are f32x4 (x, y, z, mass); velocities and accelerations are 4-wide too.
            let bodies = n;
            let body_bytes = 4.0 * b;
            let ws = 3.0 * bodies * body_bytes;
            // Positions are streamed through workgroup memory in tiles of 256 bodies.
            let moved = ws * 2.0 + bodies * body_bytes * (bodies / 256.0).ceil();
            (bodies, ws, moved, fpe * bodies * bodies + 20.0 * bodies)
        }
        Family::Verlet => (n, 4.0 * n * b, 7.0 * n * b, fpe * n),
        Family::MonteCarlo => {
            let dims = ctx.number("dims").unwrap_or(1.0);
            (n, 2.0 * dims * b + 8.0, 2.0 * dims * b + 8.0, n * (fpe * dims + 10.0))
        }
        Family::Prng { out_bytes } => {
            let ws = n * out_bytes as f64;
            (n, ws, ws, fpe * n)
        }
        Family::Attention => {
            let (batch, heads, seq, dim) = (d(0), d(1), d(2), d(3));
            let bh = batch * heads;
            let qkvo = 4.0 * bh * seq * dim * b;
            let flops = 4.0 * bh * seq * seq * dim + 5.0 * bh * seq * seq;
            if seq < 2048.0 {
                // SDPA materialises the seq x seq scores (written, then read by the softmax and
                // by the second product).
                let scores = bh * seq * seq * b;
                (bh * seq, qkvo + scores, qkvo + 3.0 * scores, flops)
            } else {
                (bh * seq, qkvo, qkvo, flops)
            }
        }
        Family::Rope => {
            let table = ctx.shape.iter().rev().take(2).map(|&x| x as f64).product::<f64>() * b;
            (n, 2.0 * n * b + table, 2.0 * n * b + table, fpe * n)
        }
        Family::Quantize { dequantize } => {
            let (in_bytes, out_bytes) = if dequantize {
                (1.0, 2.0)
            } else if ctx.dtype.bytes() == 2 {
                (2.0, 1.0)
            } else {
                (b, 2.0)
            };
            let ws =
                n * (in_bytes + out_bytes) + 4.0 * ctx.shape.first().copied().unwrap_or(1) as f64;
            (n, ws, ws, fpe * n)
        }
    };
    Cost { items, working_set_bytes: working_set, moved_bytes: moved, flops, launches }
}

fn cov_matrix(samples: f64, features: f64, b: f64) -> (f64, f64, f64, f64) {
    let ws = (samples * features + features * features + features) * b;
    (features * features, ws, ws + samples * features * b, 2.0 * samples * features * features)
}

impl Cost {
    /// The same cost over `repeat` runs: time-like quantities multiply, the working set and the
    /// item count do not.
    pub(crate) fn repeated(self, repeat: u64) -> Cost {
        let r = repeat as f64;
        Cost {
            moved_bytes: self.moved_bytes * r,
            flops: self.flops * r,
            launches: self.launches * r,
            ..self
        }
    }
}
