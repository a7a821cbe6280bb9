//! Catalog domain `elementwise_binary`: a: f32[n] with b (and c for FMA) each f32[n] or a 0-d
//! scalar broadcast to every position (conventions.broadcast) -> out[n]: add, mul, div, fma
//! (single rounding) and compare (u32 mask).
//!
//! The CPU and GPU map templates of [`crate::elementwise_unary`] do the work: each operand
//! pattern (b array or scalar, c array or scalar) is its own monomorphised CPU loop and its
//! own shader, chosen on the host, never a per-element branch.
//!
//! IEEE semantics: NaN propagates through add, mul, div and fma; x/±0 gives ±Inf (NaN for
//! 0/0); Inf − Inf and 0·Inf give NaN; overflow gives ±Inf. Comparisons are false whenever
//! either side is NaN, except `ne`, which is true; −0 equals +0. On GPUs that flush
//! subnormals (Vulkan leaves it to the driver; Metal's default fast math flushes) subnormal
//! inputs act as ±0 and subnormal results may be 0; the tolerances allow the latter, and the
//! tests use no subnormal operands.

#[cfg(test)]
mod tests;

use std::sync::Mutex;

use fastpath_gpu::{DType, Gpu, GpuTensor};

use crate::array::{ArgMeta, HostArray};
use crate::elementwise_unary::map_cpu::{Operand, map_binary, map_ternary};
use crate::elementwise_unary::map_gpu::{MapShader, Read, run_map};
use crate::elementwise_unary::unary_map::FLUSH_TOLERANCE;
use crate::error::KernelError;
use crate::expected::Expected;
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len};
use crate::params::Params;

const BINARY_OPS_WGSL: &str = include_str!("binary_ops.wgsl");

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&MAP_ADD, &MAP_MUL, &MAP_DIV, &MAP_FMA, &MapCompare]
}

/// The two shaders of a two-operand op: `[b an array, b a 0-d scalar]`.
macro_rules! two_operand_shaders {
    ($name:literal, $op:literal, $output:expr) => {
        [
            MapShader {
                key: concat!("map/", $name, "/b_array"),
                library: BINARY_OPS_WGSL,
                op: $op,
                operands: &[Read::Array, Read::Array],
                output: $output,
            },
            MapShader {
                key: concat!("map/", $name, "/b_scalar"),
                library: BINARY_OPS_WGSL,
                op: $op,
                operands: &[Read::Array, Read::Scalar],
                output: $output,
            },
        ]
    };
}

/// The shader of `shaders` (as built by `two_operand_shaders!`) that reads b like `b`.
fn pick_shader<'a>(shaders: &'a [MapShader; 2], b: &GpuTensor) -> &'a MapShader {
    match Read::of(b) {
        Read::Array => &shaders[0],
        Read::Scalar => &shaders[1],
    }
}

/// Bytes per element an operand moves: 4 for an array, nothing (amortised) for a scalar.
fn operand_bytes(arg: &ArgMeta) -> f64 {
    if arg.shape.is_empty() { 0.0 } else { 4.0 }
}

/// An element of a 0-d or full operand, for the references.
fn at(values: &[f32], i: usize) -> f64 {
    (if values.len() == 1 { values[0] } else { values[i] }) as f64
}

/// Allowed error of a correctly rounded f32 result: half an ulp (2^-24 relative), plus
/// subnormal results flushed to 0. The factor 1.01 leaves room for the f64 reference's own
/// rounding.
fn half_ulp(r: f64) -> f64 {
    1.01 * (f32::EPSILON as f64 / 2.0) * r.abs() + FLUSH_TOLERANCE
}

/// add, mul, div: out[i] = op(a[i], b[i]) in f32.
pub(crate) struct ArithmeticMap {
    id: &'static str,
    flops: f64,
    /// One call of `map_binary` with the operator (monomorphised, so the loop vectorises).
    cpu: fn(&[f32], Operand<'_>) -> Vec<f32>,
    shaders: [MapShader; 2],
    reference: fn(f64, f64) -> f64,
    /// Allowed absolute error for reference value r.
    tolerance: fn(f64) -> f64,
    tolerance_text: &'static str,
}

impl Kernel for ArithmeticMap {
    fn id(&self) -> &'static str {
        self.id
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0 + operand_bytes(&args[1]), 4.0, self.flops)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let out = (self.cpu)(inputs[0].f32s(), Operand::of(inputs[1]));
        Ok(vec![HostArray::f32(inputs[0].shape().to_vec(), out)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let shader = pick_shader(&self.shaders, inputs[1]);
        Ok(vec![run_map(gpu, shader, &inputs[..2], [0.0; 2])?])
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let (a, b) = (inputs[0].f32s(), inputs[1].f32s());
        let values: Vec<f64> =
            (0..a.len()).map(|i| (self.reference)(a[i] as f64, at(b, i))).collect();
        let tol = values.iter().map(|&r| (self.tolerance)(r)).collect();
        vec![Expected::Floats { values, tol }]
    }

    fn tolerance(&self) -> &'static str {
        self.tolerance_text
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        self.shaders.iter().map(MapShader::variant).collect()
    }
}

/// MAP_ADD: a + b.
pub(crate) static MAP_ADD: ArithmeticMap = ArithmeticMap {
    id: "MAP_ADD",
    flops: 1.0,
    cpu: |a, b| map_binary(a, b, |x, y, _| x + y),
    shaders: two_operand_shaders!("add", "op_add", DType::F32),
    reference: |a, b| a + b,
    tolerance: half_ulp,
    tolerance_text: "correctly rounded (half an ulp, relative 2^-24); subnormal results may be \
                     flushed to 0",
};

/// MAP_MUL: a · b.
pub(crate) static MAP_MUL: ArithmeticMap = ArithmeticMap {
    id: "MAP_MUL",
    flops: 1.0,
    cpu: |a, b| map_binary(a, b, |x, y, _| x * y),
    shaders: two_operand_shaders!("mul", "op_mul", DType::F32),
    reference: |a, b| a * b,
    tolerance: half_ulp,
    tolerance_text: "correctly rounded (half an ulp, relative 2^-24); subnormal results may be \
                     flushed to 0",
};

/// MAP_DIV: a / b with IEEE results for zero divisors.
pub(crate) static MAP_DIV: ArithmeticMap = ArithmeticMap {
    id: "MAP_DIV",
    flops: 1.0,
    cpu: |a, b| map_binary(a, b, |x, y, _| x / y),
    shaders: two_operand_shaders!("div", "op_div", DType::F32),
    reference: |a, b| a / b,
    tolerance: |r| 4.0 * (f32::EPSILON as f64 / 2.0) * r.abs() + FLUSH_TOLERANCE,
    tolerance_text: "relative 2^-22 (4 ulp: the CPU rounds correctly, WGSL allows GPUs 2.5 ulp); \
                     x/0 is exactly +-inf and 0/0 NaN; subnormal results may be flushed to 0",
};

const FMA_EXACT_WGSL: &str = include_str!("fma_exact.wgsl");

/// The FMA shaders by operand pattern (b array/scalar, c array/scalar), with the device's
/// `fma` and with the integer emulation of a single rounding (`fma_exact.wgsl`), for devices
/// whose `fma` rounds twice (Vulkan allows that, and lavapipe does it).
macro_rules! fma_shaders {
    ($name:literal, $library:expr, $op:literal) => {
        [
            fma_shader(
                concat!("map/", $name, "/b_array/c_array"),
                $library,
                $op,
                &[Read::Array, Read::Array, Read::Array],
            ),
            fma_shader(
                concat!("map/", $name, "/b_array/c_scalar"),
                $library,
                $op,
                &[Read::Array, Read::Array, Read::Scalar],
            ),
            fma_shader(
                concat!("map/", $name, "/b_scalar/c_array"),
                $library,
                $op,
                &[Read::Array, Read::Scalar, Read::Array],
            ),
            fma_shader(
                concat!("map/", $name, "/b_scalar/c_scalar"),
                $library,
                $op,
                &[Read::Array, Read::Scalar, Read::Scalar],
            ),
        ]
    };
}

const fn fma_shader(
    key: &'static str,
    library: &'static str,
    op: &'static str,
    operands: &'static [Read],
) -> MapShader {
    MapShader { key, library, op, operands, output: DType::F32 }
}

static FMA_DEVICE_SHADERS: [MapShader; 4] = fma_shaders!("fma_device", BINARY_OPS_WGSL, "op_fma");
static FMA_EXACT_SHADERS: [MapShader; 4] =
    fma_shaders!("fma_exact", FMA_EXACT_WGSL, "op_fma_exact");

/// Whether this device's `fma` rounds once, measured on the first MAP_FMA call for each
/// adapter (backend, name and driver): the device `fma` runs on products that a second
/// rounding would change, and the result is compared bit for bit with the CPU's fused
/// multiply-add. This costs one small readback per process and adapter, and lets devices
/// with a real FMA (NVIDIA, AMD, Apple) skip the emulation.
fn device_fma_rounds_once(gpu: &Gpu) -> Result<bool, KernelError> {
    /// (backend, adapter name, driver) and the answer.
    static MEASURED: Mutex<Vec<([String; 3], bool)>> = Mutex::new(Vec::new());
    let adapter = gpu.adapter();
    let same_adapter =
        |k: &[String; 3]| k[0] == adapter.backend && k[1] == adapter.name && k[2] == adapter.driver;
    if let Some((_, fused)) = MEASURED.lock().unwrap().iter().find(|(k, _)| same_adapter(k)) {
        return Ok(*fused);
    }
    // a·b − round(a·b) is exact with one rounding and 0 with two.
    let a: [f32; 4] = [1.0 + 2f32.powi(-12), 1.1, 3.3, 1.0 / 3.0];
    let b: [f32; 4] = [1.0 + 2f32.powi(-12), 1.7, -2.9, 3.0];
    let c: [f32; 4] = std::array::from_fn(|i| -(a[i] * b[i]));
    let upload = |v: &[f32; 4]| gpu.upload(v, DType::F32, vec![4]);
    let (ta, tb, tc) = (upload(&a)?, upload(&b)?, upload(&c)?);
    let out = run_map(gpu, &FMA_DEVICE_SHADERS[0], &[&ta, &tb, &tc], [0.0; 2])?;
    let got: Vec<f32> = gpu.read(&out)?;
    let fused = (0..4).all(|i| got[i].to_bits() == a[i].mul_add(b[i], c[i]).to_bits());
    let key = [adapter.backend.clone(), adapter.name.clone(), adapter.driver.clone()];
    MEASURED.lock().unwrap().push((key, fused));
    Ok(fused)
}

/// MAP_FMA: a·b + c rounded once.
pub(crate) struct MapFma;

pub(crate) static MAP_FMA: MapFma = MapFma;

impl Kernel for MapFma {
    fn id(&self) -> &'static str {
        "MAP_FMA"
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        let read = 4.0 + operand_bytes(&args[1]) + operand_bytes(&args[2]);
        Cost::per_element(leading_len(args), read, 4.0, 2.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let (b, c) = (Operand::of(inputs[1]), Operand::of(inputs[2]));
        // mul_add is one vfmadd in the AVX2+FMA and AVX-512 loops and a correctly rounded
        // libm call in the SSE2 fallback.
        let out = map_ternary(inputs[0].f32s(), b, c, |x, y, z, _| x.mul_add(y, z));
        Ok(vec![HostArray::f32(inputs[0].shape().to_vec(), out)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let index = match (Read::of(inputs[1]), Read::of(inputs[2])) {
            (Read::Array, Read::Array) => 0,
            (Read::Array, Read::Scalar) => 1,
            (Read::Scalar, Read::Array) => 2,
            (Read::Scalar, Read::Scalar) => 3,
        };
        let shaders =
            if device_fma_rounds_once(gpu)? { &FMA_DEVICE_SHADERS } else { &FMA_EXACT_SHADERS };
        Ok(vec![run_map(gpu, &shaders[index], &inputs[..3], [0.0; 2])?])
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let (a, b, c) = (inputs[0].f32s(), inputs[1].f32s(), inputs[2].f32s());
        // The f32 product is exact in f64, so one f64 addition is within 2^-53 of a·b + c.
        let values: Vec<f64> = (0..a.len()).map(|i| a[i] as f64 * at(b, i) + at(c, i)).collect();
        let tol = values.iter().map(|&r| half_ulp(r)).collect();
        vec![Expected::Floats { values, tol }]
    }

    fn tolerance(&self) -> &'static str {
        "correctly rounded a*b+c (half an ulp of the exact result: one rounding, so a*b+c that \
         cancels is still exact; emulated in integers on GPUs whose fma rounds twice, e.g. \
         lavapipe); subnormal operands and results may be flushed to 0"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        FMA_DEVICE_SHADERS.iter().chain(&FMA_EXACT_SHADERS).map(MapShader::variant).collect()
    }
}

/// The comparison operators of MAP_COMPARE with their shaders.
static COMPARE_OPS: [(&str, [MapShader; 2]); 6] = [
    ("gt", two_operand_shaders!("compare_gt", "op_gt", DType::U32)),
    ("ge", two_operand_shaders!("compare_ge", "op_ge", DType::U32)),
    ("lt", two_operand_shaders!("compare_lt", "op_lt", DType::U32)),
    ("le", two_operand_shaders!("compare_le", "op_le", DType::U32)),
    ("eq", two_operand_shaders!("compare_eq", "op_eq", DType::U32)),
    ("ne", two_operand_shaders!("compare_ne", "op_ne", DType::U32)),
];

/// MAP_COMPARE: mask[i] = 1 where (a[i] op b[i]) holds, else 0.
pub(crate) struct MapCompare;

/// Rust's float comparisons are IEEE's: false with a NaN operand, except `!=`.
fn compare_f64(op: &str, a: f64, b: f64) -> bool {
    match op {
        "gt" => a > b,
        "ge" => a >= b,
        "lt" => a < b,
        "le" => a <= b,
        "eq" => a == b,
        "ne" => a != b,
        other => unreachable!("the catalog's op values are checked: {other}"),
    }
}

impl Kernel for MapCompare {
    fn id(&self) -> &'static str {
        "MAP_COMPARE"
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0 + operand_bytes(&args[1]), 4.0, 1.0)
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let (a, b) = (inputs[0].f32s(), Operand::of(inputs[1]));
        // One monomorphised loop per operator (a per-element match would not vectorise).
        let mask: Vec<u32> = match params.enum_value("op") {
            "gt" => map_binary(a, b, |x, y, _| (x > y) as u32),
            "ge" => map_binary(a, b, |x, y, _| (x >= y) as u32),
            "lt" => map_binary(a, b, |x, y, _| (x < y) as u32),
            "le" => map_binary(a, b, |x, y, _| (x <= y) as u32),
            "eq" => map_binary(a, b, |x, y, _| (x == y) as u32),
            "ne" => map_binary(a, b, |x, y, _| (x != y) as u32),
            other => unreachable!("the catalog's op values are checked: {other}"),
        };
        Ok(vec![HostArray::u32(inputs[0].shape().to_vec(), mask)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let op = params.enum_value("op");
        let (_, shaders) = COMPARE_OPS
            .iter()
            .find(|(name, _)| *name == op)
            .unwrap_or_else(|| unreachable!("the catalog's op values are checked: {op}"));
        Ok(vec![run_map(gpu, pick_shader(shaders, inputs[1]), &inputs[..2], [0.0; 2])?])
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        let (a, b) = (inputs[0].f32s(), inputs[1].f32s());
        let op = params.enum_value("op");
        vec![Expected::ints((0..a.len()).map(|i| compare_f64(op, a[i] as f64, at(b, i)) as u64))]
    }

    fn tolerance(&self) -> &'static str {
        "exact (u32 mask of 0 and 1; NaN compares false except for ne; -0 == +0)"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        COMPARE_OPS.iter().flat_map(|(_, shaders)| shaders.iter().map(MapShader::variant)).collect()
    }
}
