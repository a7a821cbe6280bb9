//! WGSL assembly for this domain: every shader is `common.wgsl` + the key transforms + (for
//! kernels with workgroup scans) one of the two scan pieces + the kernel file, with
//! `{{NAME}}` constants substituted. Labels fully determine the source, so they key the
//! pipeline cache ([`Gpu::pipeline_for`]).

use std::sync::Arc;

use fastpath_gpu::{Access, Gpu, GpuError, OwnedShaderSpec, Pipeline};

use crate::gpu_util::shader_source;
use crate::kernel::WgslVariant;

const SORT_KEYS: &str = include_str!("sort_keys.wgsl");
const SCAN_SHARED: &str = include_str!("scan_shared.wgsl");
const SCAN_SUBGROUP: &str = include_str!("scan_subgroup.wgsl");
pub(super) const RADIX_UPSWEEP: &str = include_str!("radix_upsweep.wgsl");
pub(super) const RADIX_SCAN: &str = include_str!("radix_scan.wgsl");
pub(super) const RADIX_DOWNSWEEP: &str = include_str!("radix_downsweep.wgsl");
pub(super) const RADIX_SCATTER: &str = include_str!("radix_scatter.wgsl");
pub(super) const BITONIC: &str = include_str!("bitonic.wgsl");
pub(super) const SELECT: &str = include_str!("select.wgsl");
pub(super) const TOPK_COMPACT: &str = include_str!("topk_compact.wgsl");

const SG_PARAMS: &str = ",\n    @builtin(subgroup_invocation_id) sg_lane: u32,\n    @builtin(subgroup_size) sg_size: u32,\n    @builtin(subgroup_id) sg_id: u32,\n    @builtin(num_subgroups) n_sg: u32";
const SG_VEC: &str = "vec4<u32>(sg_lane, sg_size, sg_id, n_sg)";
const NO_SG_VEC: &str = "vec4<u32>(0u, 1u, 0u, 1u)";

/// How a shader does its workgroup-wide scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The kernel has no workgroup scan.
    None,
    /// Workgroup memory only (every device).
    Shared,
    /// Subgroup scans (devices with `Features::SUBGROUP`).
    Subgroup,
}

impl Scan {
    /// The scan flavour this device runs.
    pub(crate) fn for_device(gpu: &Gpu) -> Scan {
        if gpu.features().subgroups { Scan::Subgroup } else { Scan::Shared }
    }

    fn name(self) -> &'static str {
        match self {
            Scan::None => "noscan",
            Scan::Shared => "shared",
            Scan::Subgroup => "subgroup",
        }
    }
}

/// One buildable shader: everything needed for a [`WgslVariant`] and a pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Shader {
    pub label: String,
    pub source: String,
    pub entry: &'static str,
    pub storage: Vec<Access>,
    pub scan: Scan,
}

impl Shader {
    /// Composes `body` with the shared pieces. `constants` are `{{NAME}}` substitutions;
    /// `tag` distinguishes variants of one body (it is part of the label).
    pub(crate) fn new(
        body: &str,
        family: &str,
        entry: &'static str,
        tag: &str,
        constants: &[(&str, String)],
        storage: Vec<Access>,
        scan: Scan,
    ) -> Shader {
        let mut pieces = vec![SORT_KEYS];
        match scan {
            Scan::None => {}
            Scan::Shared => pieces.push(SCAN_SHARED),
            Scan::Subgroup => pieces.push(SCAN_SUBGROUP),
        }
        pieces.push(body);
        let (params, vec) = match scan {
            Scan::Subgroup => (SG_PARAMS, SG_VEC),
            _ => ("", NO_SG_VEC),
        };
        let mut subs: Vec<(&str, &str)> = vec![("SG_PARAMS", params), ("SG_VEC", vec)];
        subs.extend(constants.iter().map(|(k, v)| (*k, v.as_str())));
        let source = shader_source(&pieces, &subs);
        Shader { label: label(family, entry, tag, scan), source, entry, storage, scan }
    }

    pub(crate) fn variant(&self) -> WgslVariant {
        WgslVariant {
            label: self.label.clone(),
            source: self.source.clone(),
            entry: self.entry.to_string(),
            uses_subgroups: self.scan == Scan::Subgroup,
        }
    }
}

/// The label (and pipeline-cache key) of a shader, cheap to build before the source is.
pub(crate) fn label(family: &str, entry: &str, tag: &str, scan: Scan) -> String {
    format!("sort/{family}/{entry}/{tag}/{}", scan.name())
}

/// The cached pipeline of the shader `make` builds (called only on a cache miss; `label`
/// must equal the shader's label).
pub(crate) fn pipeline(
    gpu: &Gpu,
    label: &str,
    make: impl FnOnce() -> Shader,
) -> Result<Arc<Pipeline>, GpuError> {
    gpu.pipeline_for(label, || {
        let s = make();
        debug_assert_eq!(s.label, label);
        OwnedShaderSpec {
            label: s.label,
            source: s.source,
            entry: s.entry.into(),
            storage: s.storage,
        }
    })
}

/// Workgroup memory the device offers, the quantity tile sizes are chosen by.
pub(crate) fn wide_workgroup_memory(gpu: &Gpu) -> bool {
    gpu.limits().max_compute_workgroup_storage_size >= 32 * 1024
}

/// Parameter block as bytes.
pub(crate) fn bytes<T: bytemuck::Pod>(v: &T) -> &[u8] {
    bytemuck::bytes_of(v)
}
