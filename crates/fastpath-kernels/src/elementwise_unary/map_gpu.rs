//! The GPU map template shared by the elementwise domains.
//!
//! A map shader is `map.wgsl` with the operand declarations and the per-`vec4` call filled in,
//! after `math.wgsl` (vec4 exp, log, tanh, ...) and the domain's op library. Each operand is
//! read either as an array of `vec4`s or, for a 0-d operand under the broadcast convention,
//! as one value loaded once per thread: the two forms are separate shaders chosen by the
//! host, so no thread branches per element on the operand's shape.
//!
//! Every [`MapShader`] has a static key that names exactly one source; the pipeline is looked
//! up by that key ([`Gpu::pipeline_for`]) and the source is only built on the first call.
//! Data larger than the device's largest binding is processed in windows that all operands
//! share (every operand has 4-byte elements).

use fastpath_gpu::{Access, Binding, DType, Dispatch, Gpu, GpuTensor, OwnedShaderSpec};

use crate::error::KernelError;
use crate::gpu_util::shader_source;
use crate::kernel::WgslVariant;

const MAP_WGSL: &str = include_str!("map.wgsl");
/// vec4 math shared by the op libraries of the elementwise domains.
const MATH_WGSL: &str = include_str!("math.wgsl");

/// Threads per workgroup (the WGSL template's `@workgroup_size`).
const WORKGROUP_SIZE: u32 = 256;
/// vec4s per thread: 16 elements, enough independent loads per thread to saturate memory on
/// large GPUs while keeping ≤ 65535 workgroups per dimension up to 2^30 elements.
const VEC4_PER_THREAD: u32 = 4;
/// WGSL names of operands 0, 1, 2 (the maps have at most three).
const OPERAND_NAMES: [&str; 3] = ["a", "b", "c"];

/// How a map shader reads one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// An array of the map's length, one vec4 per step.
    Array,
    /// A 0-d array whose value is broadcast to every position.
    Scalar,
}

impl Read {
    /// How to read a tensor: 0-d tensors are scalars.
    pub(crate) fn of(tensor: &GpuTensor) -> Read {
        if tensor.shape().is_empty() { Read::Scalar } else { Read::Array }
    }
}

/// One shader of the map template.
#[derive(Debug)]
pub(crate) struct MapShader {
    /// Pipeline-cache key and label; it must name exactly one source.
    pub key: &'static str,
    /// The WGSL library defining `op` (compiled after `math.wgsl`).
    pub library: &'static str,
    /// WGSL function called per step: one `vec4<f32>` per operand, returning a vec4 of
    /// `output` elements. It may read `params.p0` and `params.p1`.
    pub op: &'static str,
    pub operands: &'static [Read],
    /// F32 or U32.
    pub output: DType,
}

/// Uniform block of `map.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MapParams {
    len: u32,
    _pad: [u32; 3],
    p0: f32,
    p1: f32,
    _pad_f: [f32; 2],
}

impl MapShader {
    /// The final WGSL source.
    pub(crate) fn source(&self) -> String {
        let mut bindings = String::new();
        let mut hoist = Vec::new();
        let mut tail_args = Vec::new();
        // Per block position k: the loads of that position and the call's arguments.
        let mut loads = Vec::new();
        let mut block_args: Vec<Vec<String>> = vec![Vec::new(); VEC4_PER_THREAD as usize];
        for (k, (read, name)) in self.operands.iter().zip(OPERAND_NAMES).enumerate() {
            let binding = k + 1;
            match read {
                Read::Array => {
                    bindings += &format!(
                        "@group(0) @binding({binding}) var<storage, read> {name}: array<vec4<f32>>;\n"
                    );
                    for (i, args) in block_args.iter_mut().enumerate() {
                        loads.push(format!("let {name}_{i} = {name}[first + {}u];", i * 256));
                        args.push(format!("{name}_{i}"));
                    }
                    tail_args.push(format!("{name}[j]"));
                }
                Read::Scalar => {
                    bindings += &format!(
                        "@group(0) @binding({binding}) var<storage, read> {name}: array<f32>; // 0-d, broadcast\n"
                    );
                    hoist.push(format!("let {name}_broadcast = vec4<f32>({name}[0]);"));
                    for args in block_args.iter_mut() {
                        args.push(format!("{name}_broadcast"));
                    }
                    tail_args.push(format!("{name}_broadcast"));
                }
            }
        }
        // Every load of the block is issued before any arithmetic: GPUs issue in order, so
        // this keeps VEC4_PER_THREAD loads per operand in flight per thread.
        let mut fast_body = loads;
        for (i, args) in block_args.iter().enumerate() {
            fast_body.push(format!(
                "out[first + {}u] = {}({});",
                i * 256,
                self.op,
                args.join(", ")
            ));
        }
        let out_type = match self.output {
            DType::F32 => "f32",
            DType::U32 => "u32",
            other => unreachable!("map outputs are f32 or u32, not {other}"),
        };
        bindings += &format!(
            "@group(0) @binding({}) var<storage, read_write> out: array<vec4<{out_type}>>;",
            self.operands.len() + 1
        );
        shader_source(
            &[MATH_WGSL, self.library, MAP_WGSL],
            &[
                ("BINDINGS", &bindings),
                ("HOIST", &hoist.join("\n    ")),
                ("FAST_BODY", &fast_body.join("\n        ")),
                ("OP", self.op),
                ("TAIL_ARGS", &tail_args.join(", ")),
                ("VEC4_PER_THREAD", &VEC4_PER_THREAD.to_string()),
            ],
        )
    }

    /// This shader as a variant for the Metal translation test.
    pub(crate) fn variant(&self) -> WgslVariant {
        WgslVariant {
            label: self.key.into(),
            source: self.source(),
            entry: "map".into(),
            uses_subgroups: false,
        }
    }

    fn storage(&self) -> Vec<Access> {
        let mut storage = vec![Access::ReadOnly; self.operands.len()];
        storage.push(Access::ReadWrite);
        storage
    }
}

/// Records the map of `inputs` (the first one an array; the others arrays of its length or
/// 0-d scalars, as `shader.operands` says) and returns the output, shaped like the first
/// input. `p` fills the op's parameters `params.p0`, `params.p1`.
pub(crate) fn run_map(
    gpu: &Gpu,
    shader: &MapShader,
    inputs: &[&GpuTensor],
    p: [f32; 2],
) -> Result<GpuTensor, KernelError> {
    assert_eq!(inputs.len(), shader.operands.len(), "{}: operand count", shader.key);
    assert!(
        inputs.iter().zip(shader.operands).all(|(t, &r)| Read::of(t) == r),
        "{}: operand shapes do not match the shader",
        shader.key
    );
    let lead = inputs[0];
    let n = lead.len();
    let out = gpu.empty(shader.output, lead.shape().to_vec())?;
    if n == 0 {
        return Ok(out);
    }
    let pipeline = gpu.pipeline_for(shader.key, || OwnedShaderSpec {
        label: shader.key.into(),
        source: shader.source(),
        entry: "map".into(),
        storage: shader.storage(),
    })?;
    let per_group = (WORKGROUP_SIZE * VEC4_PER_THREAD) as usize;
    for (start, count) in gpu.windows(n, 4) {
        let params =
            MapParams { len: count as u32, _pad: [0; 3], p0: p[0], p1: p[1], _pad_f: [0.0; 2] };
        let bindings: Vec<Binding<'_>> = inputs
            .iter()
            .zip(shader.operands)
            .map(|(t, read)| match read {
                Read::Array => t.binding_range(start, count),
                Read::Scalar => t.binding(),
            })
            .chain(std::iter::once(out.binding_range(start, count)))
            .collect();
        let groups = count.div_ceil(4).div_ceil(per_group) as u32;
        gpu.dispatch(&Dispatch {
            pipeline: &pipeline,
            params: bytemuck::bytes_of(&params),
            bindings: &bindings,
            workgroups: gpu.grid(groups),
        })?;
    }
    Ok(out)
}

/// A test size past one window of the chunked test backend (its 1 MiB binding holds 262,144
/// f32 elements), for inputs that must cross a window boundary without costing 2^20 elements.
#[cfg(test)]
pub(crate) const SPANS_TWO_WINDOWS: usize = 300_007;
