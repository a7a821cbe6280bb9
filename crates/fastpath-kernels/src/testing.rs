//! The shared test harness: one test body, every backend (CPU, the GPU with subgroups and
//! immediate parameters, the GPU without either, and the GPU with a 1 MiB binding limit so
//! chunked paths run), each result
//! checked against the kernel's float64 reference and against the contract's output shapes.
//!
//! GPU backends fail — they never skip — when no adapter exists: CI installs lavapipe.

use std::sync::{Arc, OnceLock};

use fastpath_gpu::{Gpu, GpuOptions};

use crate::array::HostArray;
use crate::error::KernelError;
use crate::expected::compare;
use crate::kernel::{Backend, contract_output_shapes, run_host};
use crate::params::{ParamValue, Params};
use crate::registry::kernel;

/// The sizes every kernel is tested at (issue 2): empty, tiny, around one workgroup, and one
/// large odd size.
pub const SIZES: [usize; 8] = [0, 1, 3, 255, 256, 257, 1000, (1 << 20) + 3];

/// A backend with a label for messages.
pub struct TestBackend {
    pub label: &'static str,
    pub backend: Backend,
}

fn open(label: &str, options: GpuOptions) -> Arc<Gpu> {
    Gpu::new(options).unwrap_or_else(|e| {
        panic!(
            "GPU backend `{label}` could not be opened: {e}. GPU tests require an adapter \
             (CI installs Mesa's lavapipe: apt-get install mesa-vulkan-drivers)"
        )
    })
}

impl TestBackend {
    pub fn cpu() -> TestBackend {
        TestBackend { label: "cpu", backend: Backend::Cpu }
    }

    pub fn gpu() -> TestBackend {
        static G: OnceLock<Arc<Gpu>> = OnceLock::new();
        let g = G.get_or_init(|| open("gpu", GpuOptions::default())).clone();
        TestBackend { label: "gpu", backend: Backend::Gpu(g) }
    }

    /// The portable path: no subgroup operations, and parameter blocks in a uniform buffer
    /// rather than immediate data (what a device offering neither runs).
    pub fn gpu_no_subgroups() -> TestBackend {
        static G: OnceLock<Arc<Gpu>> = OnceLock::new();
        let g = G
            .get_or_init(|| {
                open(
                    "gpu-no-subgroups",
                    GpuOptions {
                        use_subgroups: false,
                        use_immediates: false,
                        ..Default::default()
                    },
                )
            })
            .clone();
        TestBackend { label: "gpu-no-subgroups", backend: Backend::Gpu(g) }
    }

    /// Binding limit 1 MiB: inputs of 2^20+3 f32 elements take five windows.
    pub fn gpu_chunked() -> TestBackend {
        static G: OnceLock<Arc<Gpu>> = OnceLock::new();
        let g = G
            .get_or_init(|| {
                open(
                    "gpu-chunked",
                    GpuOptions { max_binding_bytes: Some(1 << 20), ..Default::default() },
                )
            })
            .clone();
        TestBackend { label: "gpu-chunked", backend: Backend::Gpu(g) }
    }
}

fn params_for(id: &str, params: &[(&str, ParamValue)]) -> Params {
    let k = kernel(id).unwrap_or_else(|e| panic!("{e}"));
    Params::with(k.spec(), params).unwrap_or_else(|e| panic!("{id}: {e}"))
}

/// Runs a kernel on a backend.
pub fn run(
    b: &TestBackend,
    id: &str,
    inputs: &[HostArray],
    params: &[(&str, ParamValue)],
) -> Result<Vec<HostArray>, KernelError> {
    let k = kernel(id)?;
    let p = Params::with(k.spec(), params)?;
    let refs: Vec<&HostArray> = inputs.iter().collect();
    run_host(k, &b.backend, &refs, &p)
}

/// Runs a kernel and checks every output against the float64 reference and the contract's
/// output shapes; panics with the backend, kernel, size and first bad element.
pub fn check(b: &TestBackend, id: &str, inputs: &[HostArray], params: &[(&str, ParamValue)]) {
    let k = kernel(id).unwrap_or_else(|e| panic!("{e}"));
    let p = params_for(id, params);
    let n = inputs.first().map_or(0, HostArray::len);
    let refs: Vec<&HostArray> = inputs.iter().collect();
    let outputs = run_host(k, &b.backend, &refs, &p)
        .unwrap_or_else(|e| panic!("[{}] {id} n={n}: failed: {e}", b.label));
    let expected = k.reference(&refs, &p);
    let spec = k.spec();
    assert_eq!(outputs.len(), expected.len(), "[{}] {id}: output count", b.label);
    let metas: Vec<_> = inputs.iter().map(HostArray::meta).collect();
    let shapes = contract_output_shapes(k, &metas, &p).unwrap();
    // Outputs with a valid prefix are compared on that prefix only.
    let mut prefix_len = std::collections::BTreeMap::new();
    for (o, out) in spec.outputs.iter().zip(&outputs) {
        if o.shape_text == "[]" && out.as_u32().is_some() {
            prefix_len.insert(o.name.clone(), out.u32s()[0] as usize);
        }
    }
    for (i, ((out, want), shape)) in outputs.iter().zip(&expected).zip(&shapes).enumerate() {
        let o = &spec.outputs[i];
        if let Some(shape) = shape {
            assert_eq!(
                out.shape(),
                shape.as_slice(),
                "[{}] {id} n={n}: output {} shape differs from the contract {}",
                b.label,
                o.name,
                o.shape_text
            );
        }
        let got = match o.valid_prefix.as_ref().and_then(|c| prefix_len.get(c)) {
            Some(&count) => out.clone().truncated(count),
            None => out.clone(),
        };
        if let Err(msg) = compare(&o.name, &got, want) {
            panic!("[{}] {id} n={n}: {msg}", b.label);
        }
    }
}

/// Asserts a call is rejected as bad input with a message containing `needle`.
pub fn check_rejects(
    b: &TestBackend,
    id: &str,
    inputs: &[HostArray],
    params: &[(&str, ParamValue)],
    needle: &str,
) {
    match run(b, id, inputs, params) {
        Ok(_) => panic!("[{}] {id}: expected an error containing {needle:?}, got success", b.label),
        Err(e) => {
            assert!(e.is_bad_input(), "[{}] {id}: not reported as bad input: {e}", b.label);
            let text = e.to_string();
            assert!(text.contains(needle), "[{}] {id}: {text:?} lacks {needle:?}", b.label);
            assert!(!text.contains('\n'), "[{}] {id}: error must be one line: {text:?}", b.label);
        }
    }
}

/// Declares tests that run one body on every backend:
///
/// ```ignore
/// test_all_backends! {
///     fn sums_random_inputs(b) { check(b, "REDUCE_SUM", &[..], &[]); }
/// }
/// ```
/// expands to a module `sums_random_inputs` with tests `cpu`, `gpu`, `gpu_no_subgroups` and
/// `gpu_chunked`.
#[macro_export]
macro_rules! test_all_backends {
    ($(fn $name:ident($b:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn body($b: &$crate::testing::TestBackend) $body
                #[test]
                fn cpu() { body(&$crate::testing::TestBackend::cpu()) }
                #[test]
                fn gpu() { body(&$crate::testing::TestBackend::gpu()) }
                #[test]
                fn gpu_no_subgroups() { body(&$crate::testing::TestBackend::gpu_no_subgroups()) }
                #[test]
                fn gpu_chunked() { body(&$crate::testing::TestBackend::gpu_chunked()) }
            }
        )*
    };
}
