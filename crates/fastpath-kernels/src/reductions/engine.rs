//! The two-stage GPU reduction shared by every reduction and fused map-reduce kernel.
//!
//! Stage 1 runs once per binding window: each workgroup folds a grid-stride share of the
//! window (as `vec4`s) into one state and writes a partial. Stage 2, one workgroup, folds all
//! partials and writes the result. A kernel is a choice of state family (sum, min, Welford,
//! arg, ...), an accumulator (what is read and how: square on load, mask, compare) and a
//! finisher (divide by n, sqrt, variance, ...), all in `reduce_*.wgsl`.

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor, OwnedShaderSpec};

use crate::gpu_util::shader_source;
use crate::kernel::WgslVariant;

const STATES: &str = include_str!("reduce_states.wgsl");
const SHUFFLES: &str = include_str!("reduce_shuffles.wgsl");
const WG_SHARED: &str = include_str!("reduce_wg_shared.wgsl");
const WG_SUBGROUP: &str = include_str!("reduce_wg_subgroup.wgsl");
const STAGE1: &str = include_str!("reduce_stage1.wgsl");
const STAGE2: &str = include_str!("reduce_stage2.wgsl");

/// Upper bound on stage-1 workgroups per window: enough to keep every SM of a large GPU busy
/// with loads in flight (H100: 132 SMs x 8 resident workgroups), few enough that stage 2 is
/// trivial.
const MAX_WORKGROUPS: u32 = 1024;
/// Each thread reads at least this many vec4s before the workgroup reduction.
const MIN_VEC4_PER_THREAD: u32 = 4;

/// The state a reduction carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Sum,
    Min,
    Max,
    Count,
    Welford,
    ArgMax,
    ArgMin,
    L2,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Sum => "sum",
            Family::Min => "min",
            Family::Max => "max",
            Family::Count => "count",
            Family::Welford => "welford",
            Family::ArgMax => "argmax",
            Family::ArgMin => "argmin",
            Family::L2 => "l2",
        }
    }

    fn state(self) -> &'static str {
        match self {
            Family::Sum | Family::Min | Family::Max => "f32",
            Family::Count => "u32",
            Family::Welford => "Welford",
            Family::ArgMax | Family::ArgMin => "Arg",
            Family::L2 => "vec3<f32>",
        }
    }

    /// Array stride of the state in a storage buffer.
    fn state_bytes(self) -> u64 {
        match self {
            Family::Sum | Family::Min | Family::Max | Family::Count => 4,
            Family::Welford => 12,
            Family::ArgMax | Family::ArgMin => 8,
            Family::L2 => 16,
        }
    }
}

/// One reduction: family + accumulator + finisher (names of WGSL functions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReduceOp {
    pub family: Family,
    /// `acc_*` in reduce_stage1.wgsl.
    pub acc: &'static str,
    /// `fin_*` in reduce_stage2.wgsl.
    pub fin: &'static str,
}

/// Inputs of one reduction.
pub(crate) struct ReduceArgs<'a> {
    pub x: &'a GpuTensor,
    /// Second input read as u32 (the mask of masked sums).
    pub aux: Option<&'a GpuTensor>,
    pub threshold: f32,
    pub ddof: u32,
}

/// Both result slots; a kernel returns the ones its contract names.
pub(crate) struct ReduceOut {
    pub value: GpuTensor,
    pub index: GpuTensor,
}

const SG_PARAMS: &str = ",\n    @builtin(subgroup_invocation_id) sg_lane: u32,\n    @builtin(subgroup_size) sg_size: u32,\n    @builtin(subgroup_id) sg_id: u32,\n    @builtin(num_subgroups) n_sg: u32";
const SG_CALL: &str = ", sg_lane, sg_size, sg_id, n_sg";
const NO_SG_CALL: &str = ", 0u, 1u, 0u, 1u";

fn source(op: &ReduceOp, stage: u8, subgroups: bool) -> String {
    let template = if stage == 1 { STAGE1 } else { STAGE2 };
    let mut pieces = vec![STATES];
    if subgroups {
        pieces.push(SHUFFLES);
    }
    pieces.push(template);
    pieces.push(if subgroups { WG_SUBGROUP } else { WG_SHARED });
    let (params, call) = if subgroups { (SG_PARAMS, SG_CALL) } else { ("", NO_SG_CALL) };
    shader_source(
        &pieces,
        &[
            ("STATE", op.family.state()),
            ("FAM", op.family.name()),
            ("ACC", op.acc),
            ("FIN", op.fin),
            ("AUX", if op.acc == "acc_masked" { "aux_mask" } else { "aux_none" }),
            ("SG_PARAMS", params),
            ("SG_CALL", call),
        ],
    )
}

fn label(op: &ReduceOp, stage: u8, subgroups: bool) -> String {
    let step = if stage == 1 { op.acc } else { op.fin };
    let variant = if subgroups { "subgroup" } else { "shared" };
    format!("reduce/stage{stage}/{}/{step}/{variant}", op.family.name())
}

/// Every shader variant of one reduction (both stages, with and without subgroups).
pub(crate) fn variants(op: &ReduceOp) -> Vec<WgslVariant> {
    let mut out = Vec::new();
    for subgroups in [false, true] {
        for stage in [1u8, 2] {
            out.push(WgslVariant {
                label: label(op, stage, subgroups),
                source: source(op, stage, subgroups),
                entry: if stage == 1 { "stage1" } else { "stage2" }.into(),
                uses_subgroups: subgroups,
            });
        }
    }
    out
}

fn workgroups_for(len: usize) -> u32 {
    let vecs = len.div_ceil(4) as u64;
    let per_group = 256 * MIN_VEC4_PER_THREAD as u64;
    (vecs.div_ceil(per_group) as u32).clamp(1, MAX_WORKGROUPS)
}

/// Records the reduction of `args.x` (any length, any number of windows).
pub(crate) fn reduce(
    gpu: &Gpu,
    op: &ReduceOp,
    args: &ReduceArgs<'_>,
) -> Result<ReduceOut, GpuError> {
    let subgroups = gpu.features().subgroups;
    let n = args.x.len();
    let windows = gpu.windows(n, 4);
    let groups: Vec<u32> = windows.iter().map(|&(_, c)| workgroups_for(c)).collect();
    let total_partials: u32 = groups.iter().sum();
    let state_words = (op.family.state_bytes() / 4) as usize;
    let partials = gpu.empty(DType::U32, vec![total_partials as usize * state_words])?;
    let stage1 = gpu.pipeline_for(&label(op, 1, subgroups), || OwnedShaderSpec {
        label: label(op, 1, subgroups),
        source: source(op, 1, subgroups),
        entry: "stage1".into(),
        storage: vec![Access::ReadOnly, Access::ReadOnly, Access::ReadWrite],
    })?;
    let stage2 = gpu.pipeline_for(&label(op, 2, subgroups), || OwnedShaderSpec {
        label: label(op, 2, subgroups),
        source: source(op, 2, subgroups),
        entry: "stage2".into(),
        storage: vec![Access::ReadOnly, Access::ReadWrite, Access::ReadWrite],
    })?;
    let mut offset = 0u32;
    for (&(start, count), &g) in windows.iter().zip(&groups) {
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        struct Stage1Params {
            len: u32,
            base: u32,
            partial_offset: u32,
            total: u32,
            f0: f32,
            f1: f32,
            u0: u32,
            u1: u32,
        }
        let params = Stage1Params {
            len: count as u32,
            base: start as u32,
            partial_offset: offset,
            total: n as u32,
            f0: args.threshold,
            f1: 0.0,
            u0: args.ddof,
            u1: 0,
        };
        let x = args.x.binding_range(start, count);
        let aux = args.aux.map_or(x, |a| a.binding_range(start, count));
        gpu.dispatch(&Dispatch {
            pipeline: &stage1,
            params: bytemuck::bytes_of(&params),
            bindings: &[x, aux, partials.binding()],
            workgroups: [g, 1, 1],
        })?;
        offset += g;
    }
    let value = gpu.empty(DType::F32, vec![])?;
    let index = gpu.empty(DType::U32, vec![])?;
    let params: [u32; 4] = [total_partials, n as u32, args.ddof, 0];
    gpu.dispatch(&Dispatch {
        pipeline: &stage2,
        params: bytemuck::bytes_of(&params),
        bindings: &[partials.binding(), value.binding(), index.binding()],
        workgroups: [1, 1, 1],
    })?;
    Ok(ReduceOut { value, index })
}
