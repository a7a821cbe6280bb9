//! Small GPU building blocks shared by kernels of several domains.

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuTensor, ShaderSpec, compose};

use crate::kernel::WgslVariant;

/// WGSL helpers prepended to every fastpath shader.
pub const COMMON_WGSL: &str = include_str!("shaders/common.wgsl");
const FILL_WGSL: &str = include_str!("shaders/fill.wgsl");

/// Final source of a shader: the common helpers, then the pieces, then substitutions.
pub fn shader_source(pieces: &[&str], substitutions: &[(&str, &str)]) -> String {
    let mut all = vec![COMMON_WGSL];
    all.extend_from_slice(pieces);
    compose(&all, substitutions)
}

pub fn fill_variant() -> WgslVariant {
    WgslVariant {
        label: "fill_u32".into(),
        source: shader_source(&[FILL_WGSL], &[]),
        entry: "fill".into(),
        uses_subgroups: false,
    }
}

/// Records a dispatch that sets every element of a u32 tensor to `value`.
pub fn fill_u32(gpu: &Gpu, tensor: &GpuTensor, value: u32) -> Result<(), fastpath_gpu::GpuError> {
    assert!(matches!(tensor.dtype(), DType::U32 | DType::I32 | DType::F32));
    let v = fill_variant();
    let pipeline = gpu.pipeline(&ShaderSpec {
        label: &v.label,
        source: &v.source,
        entry: &v.entry,
        storage: &[Access::ReadWrite],
        constants: &[],
    })?;
    for (start, count) in gpu.windows(tensor.len(), 4) {
        let params: [u32; 4] = [count as u32, value, 0, 0];
        gpu.dispatch(&Dispatch {
            pipeline: &pipeline,
            params: bytemuck::bytes_of(&params),
            bindings: &[tensor.binding_range(start, count)],
            workgroups: gpu.grid((count as u32).div_ceil(256).max(1)),
        })?;
    }
    Ok(())
}
