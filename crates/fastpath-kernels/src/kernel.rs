//! The kernel pattern: one contract, one cost model, one CPU implementation, one GPU
//! implementation, one float64 reference — the same shape for every catalog entry, like
//! MLX's "one primitive, one eval_cpu, one eval_gpu".

use std::collections::BTreeMap;
use std::sync::Arc;

use fastpath_gpu::{Gpu, GpuTensor};

use crate::array::{ArgMeta, DType, HostArray};
use crate::catalog::{KernelSpec, OperandSpec, catalog};
use crate::error::KernelError;
use crate::expected::Expected;
use crate::params::{ParamValue, Params};

/// Work a kernel call must do, for the router and for "% of peak" in benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Fewest bytes the call must move through memory (each input read once, each output
    /// written once).
    pub bytes: f64,
    /// Floating-point operations (a transcendental counts as the few it costs on a GPU).
    pub flops: f64,
}

impl Cost {
    /// `elements` elements, `read`/`written` bytes per element, `flops` per element.
    pub fn per_element(elements: usize, read: f64, written: f64, flops: f64) -> Cost {
        let n = elements as f64;
        Cost { bytes: n * (read + written), flops: n * flops }
    }
}

/// A WGSL shader a kernel may build, listed so tests can translate every variant to Metal.
#[derive(Debug, Clone)]
pub struct WgslVariant {
    pub label: String,
    pub source: String,
    pub entry: String,
    /// Needs `Features::SUBGROUP` (and MSL's SIMD-group functions).
    pub uses_subgroups: bool,
}

/// One catalog kernel with both implementations.
pub trait Kernel: Send + Sync {
    /// Catalog id, e.g. `REDUCE_SUM`.
    fn id(&self) -> &'static str;

    /// The contract from the catalog.
    fn spec(&self) -> &'static KernelSpec {
        catalog().get(self.id()).unwrap_or_else(|| panic!("{} is not in the catalog", self.id()))
    }

    /// Checks beyond the contract's dtypes and shapes (n ≥ 1, lo ≤ hi, k ≤ n, ...).
    /// The contract itself is checked by [`validate`] before this runs.
    fn check(&self, _args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        Ok(())
    }

    /// Bytes and flops for these argument shapes.
    fn cost(&self, args: &[ArgMeta], params: &Params) -> Cost;

    /// CPU implementation (rayon). Inputs are validated.
    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError>;

    /// GPU implementation: records dispatches into the open batch and returns device-resident
    /// outputs; nothing is read back. Inputs are validated.
    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError>;

    /// Float64 reference with the tolerance each output element is allowed (tests only).
    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected>;

    /// The documented tolerance, in words (shown by `fastpath kernels --json`).
    fn tolerance(&self) -> &'static str;

    /// Every WGSL variant [`Kernel::gpu`] may build (for the Metal translation test).
    fn wgsl_variants(&self) -> Vec<WgslVariant>;
}

/// Where a host-array call runs.
#[derive(Clone, Debug)]
pub enum Backend {
    Cpu,
    Gpu(Arc<Gpu>),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu(_) => "gpu",
        }
    }
}

fn describe_expected(op: &OperandSpec) -> String {
    let mut s = format!("{} {}", op.dtype, op.shape_text);
    if op.scalar_ok {
        s.push_str(" or a 0-d array");
    }
    s
}

/// Checks arguments against the contract (count, dtypes, ranks, shared sizes) and then the
/// kernel's own rules. Returns the bound shape symbols (e.g. `n`).
pub fn validate(
    kernel: &dyn Kernel,
    args: &[ArgMeta],
    params: &Params,
) -> Result<BTreeMap<String, u64>, KernelError> {
    let spec = kernel.spec();
    let required = spec.inputs.iter().filter(|i| !i.optional && i.required_when.is_none()).count();
    let names: Vec<&str> = spec.inputs.iter().map(|i| i.name.as_str()).collect();
    if args.len() < required || args.len() > spec.inputs.len() {
        let expected = if required == spec.inputs.len() {
            format!("{required}")
        } else {
            format!("{required} to {}", spec.inputs.len())
        };
        return Err(KernelError::invalid(format!(
            "{} takes {expected} input array(s) ({}), got {}",
            spec.id,
            names.join(", "),
            args.len()
        )));
    }
    let mut env = BTreeMap::new();
    for (op, arg) in spec.inputs.iter().zip(args) {
        if arg.dtype.name() != op.dtype {
            return Err(input_mismatch(spec, op, arg));
        }
        if op.scalar_ok && arg.shape.is_empty() {
            continue;
        }
        let shapes: Vec<&Vec<crate::shape::ShapeExpr>> =
            std::iter::once(&op.shape).chain(op.alt_shape.as_ref()).collect();
        let mut matched = false;
        let mut mismatch = None;
        for shape in shapes {
            if shape.len() != arg.shape.len() {
                continue;
            }
            let mut trial = env.clone();
            let mut ok = true;
            for (dim, &size) in shape.iter().zip(&arg.shape) {
                let size = size as u64;
                if let Some(sym) = dim.as_symbol() {
                    match trial.get(sym) {
                        Some(&bound) if bound != size => {
                            mismatch = Some(format!(
                                "{} input {}: {sym} = {size} here but {bound} in an earlier input ({} must be {})",
                                spec.id,
                                op.name,
                                op.name,
                                describe_expected(op)
                            ));
                            ok = false;
                            break;
                        }
                        Some(_) => {}
                        None => {
                            trial.insert(sym.to_string(), size);
                        }
                    }
                }
            }
            if ok {
                env = trial;
                matched = true;
                break;
            }
        }
        if !matched {
            return Err(KernelError::invalid(mismatch.unwrap_or_else(|| {
                format!(
                    "{} input {}: expected {}, got {}",
                    spec.id,
                    op.name,
                    describe_expected(op),
                    arg.describe()
                )
            })));
        }
    }
    // Fixed or derived dimensions (e.g. [256], [rows+1]) are checked once symbols are bound.
    for (op, arg) in spec.inputs.iter().zip(args) {
        if op.scalar_ok && arg.shape.is_empty() {
            continue;
        }
        if op.shape.len() == arg.shape.len() {
            for (dim, &size) in op.shape.iter().zip(&arg.shape) {
                if dim.as_symbol().is_none()
                    && let Some(v) = dim.eval(&with_params(&env, params))
                    && v != size as u64
                {
                    return Err(input_mismatch(spec, op, arg));
                }
            }
        }
    }
    kernel.check(args, params)?;
    Ok(env)
}

/// "ID input NAME: expected …, got …" for an argument that does not fit its contract entry.
fn input_mismatch(spec: &KernelSpec, op: &OperandSpec, arg: &ArgMeta) -> KernelError {
    KernelError::invalid(format!(
        "{} input {}: expected {}, got {}",
        spec.id,
        op.name,
        describe_expected(op),
        arg.describe()
    ))
}

fn with_params(env: &BTreeMap<String, u64>, params: &Params) -> BTreeMap<String, u64> {
    let mut e = env.clone();
    for (k, v) in params.iter() {
        match v {
            ParamValue::U32(x) => {
                e.insert(k.to_string(), *x as u64);
            }
            ParamValue::U64(x) => {
                e.insert(k.to_string(), *x);
            }
            _ => {}
        }
    }
    e
}

/// Output shapes the contract promises for these arguments (symbols from inputs and
/// integer parameters). `None` for an output whose shape cannot be evaluated.
pub fn contract_output_shapes(
    kernel: &dyn Kernel,
    args: &[ArgMeta],
    params: &Params,
) -> Result<Vec<Option<Vec<usize>>>, KernelError> {
    let env = with_params(&validate(kernel, args, params)?, params);
    Ok(kernel
        .spec()
        .outputs
        .iter()
        .map(|o| o.shape.iter().map(|d| d.eval(&env).map(|v| v as usize)).collect())
        .collect())
}

/// Runs a kernel on host arrays: validates, then either calls the CPU implementation or
/// uploads, records the GPU implementation, and reads the outputs back.
pub fn run_host(
    kernel: &dyn Kernel,
    backend: &Backend,
    inputs: &[&HostArray],
    params: &Params,
) -> Result<Vec<HostArray>, KernelError> {
    let metas: Vec<ArgMeta> = inputs.iter().map(|a| a.meta()).collect();
    validate(kernel, &metas, params)?;
    match backend {
        Backend::Cpu => kernel.cpu(inputs, params),
        Backend::Gpu(gpu) => {
            let tensors = inputs
                .iter()
                .map(|a| gpu.upload_bytes(a.bytes(), a.dtype(), a.shape().to_vec()))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&GpuTensor> = tensors.iter().collect();
            let outputs = kernel.gpu(gpu, &refs, params)?;
            let out_refs: Vec<&GpuTensor> = outputs.iter().collect();
            let bytes = gpu.read_many(&out_refs)?;
            Ok(outputs
                .iter()
                .zip(bytes)
                .map(|(t, b)| HostArray::from_bytes(t.dtype(), t.shape().to_vec(), &b))
                .collect())
        }
    }
}

/// Validates device tensors against the contract, then records the GPU implementation.
pub fn run_device(
    kernel: &dyn Kernel,
    gpu: &Gpu,
    inputs: &[&GpuTensor],
    params: &Params,
) -> Result<Vec<GpuTensor>, KernelError> {
    let metas: Vec<ArgMeta> = inputs.iter().map(|t| ArgMeta::from(*t)).collect();
    validate(kernel, &metas, params)?;
    kernel.gpu(gpu, inputs, params)
}

/// Number of elements of the first input (the `n` of most contracts).
pub fn leading_len(args: &[ArgMeta]) -> usize {
    args.first().map_or(0, ArgMeta::len)
}

/// Common check: the contract requires n ≥ 1 (the host reports empty input before dispatch).
pub fn require_nonempty(kernel: &str, args: &[ArgMeta]) -> Result<(), KernelError> {
    if leading_len(args) == 0 {
        return Err(KernelError::invalid(format!(
            "{kernel} needs at least one element (n >= 1); the input is empty"
        )));
    }
    Ok(())
}

/// The dtype an output of the contract declares (for kernels that build outputs generically).
pub fn output_dtype(spec: &KernelSpec, index: usize) -> DType {
    DType::from_name(&spec.outputs[index].dtype).expect("catalog dtypes are known")
}
