//! The kernel shape shared by every one-input map (elementwise_unary and activations):
//! x: f32[n] -> out: f32[n], out[i] = f(x[i]). A kernel is a [`UnaryMap`] value naming its
//! CPU element function, its WGSL op and its float64 reference; one `Kernel` impl serves all.

use fastpath_gpu::{Gpu, GpuTensor};

use super::map_gpu::{MapShader, run_map};
use crate::array::{ArgMeta, HostArray};
use crate::error::KernelError;
use crate::expected::Expected;
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len};
use crate::params::Params;

/// Absolute slack for results at the bottom of the normal range: GPUs that flush subnormals
/// (NVIDIA, Apple; lavapipe does not) flush subnormal *intermediates* too, so a result just
/// above the smallest normal (e.g. softplus(-87.3) = 1.18e-38, built as 2^-126·p) can come
/// back as 0. Seen on an H100 through Vulkan for results up to 1.8e-38; two smallest-normals
/// (2.35e-38) covers it.
pub(crate) const FLUSH_TOLERANCE: f64 = 2.0 * f32::MIN_POSITIVE as f64;

/// One elementwise map of one f32 input.
pub(crate) struct UnaryMap {
    pub id: &'static str,
    /// Floating-point operations per element (polynomial evaluations counted as executed).
    pub flops: f64,
    /// CPU implementation: one call of `map_cpu::map_unary` with the element function, so the
    /// loop is monomorphised (a function pointer called per element would not vectorise).
    pub cpu: fn(&[f32], &Params) -> Vec<f32>,
    pub gpu: MapShader,
    /// The op's `params.p0`, `params.p1` on the GPU.
    pub gpu_params: fn(&Params) -> [f32; 2],
    /// Rules beyond the contract (e.g. lo <= hi).
    pub check: fn(&str, &Params) -> Result<(), KernelError>,
    /// Float64 reference of one element.
    pub reference: fn(f64, &Params) -> f64,
    /// Allowed absolute error at input x with reference value r.
    pub tolerance: fn(x: f64, r: f64, &Params) -> f64,
    /// [`UnaryMap::tolerance`] in words.
    pub tolerance_text: &'static str,
}

/// No parameters on the GPU.
pub(crate) fn no_gpu_params(_: &Params) -> [f32; 2] {
    [0.0, 0.0]
}

/// No rules beyond the contract.
pub(crate) fn no_check(_: &str, _: &Params) -> Result<(), KernelError> {
    Ok(())
}

/// The spec's elementwise bound: relative 1e-5.
pub(crate) fn relative_1e5(_: f64, r: f64, _: &Params) -> f64 {
    1e-5 * r.abs() + FLUSH_TOLERANCE
}

/// Exact (selects, sign-bit operations): the result must equal the reference.
pub(crate) fn exact(_: f64, _: f64, _: &Params) -> f64 {
    0.0
}

impl Kernel for UnaryMap {
    fn id(&self) -> &'static str {
        self.id
    }

    fn check(&self, _args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
        (self.check)(self.id, params)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0, 4.0, self.flops)
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let x = inputs[0];
        Ok(vec![HostArray::f32(x.shape().to_vec(), (self.cpu)(x.f32s(), params))])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        Ok(vec![run_map(gpu, &self.gpu, &inputs[..1], (self.gpu_params)(params))?])
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        let x = inputs[0].f32s();
        let values: Vec<f64> = x.iter().map(|&v| (self.reference)(v as f64, params)).collect();
        let tol =
            x.iter().zip(&values).map(|(&v, &r)| (self.tolerance)(v as f64, r, params)).collect();
        vec![Expected::Floats { values, tol }]
    }

    fn tolerance(&self) -> &'static str {
        self.tolerance_text
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        vec![self.gpu.variant()]
    }
}
