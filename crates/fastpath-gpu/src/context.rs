use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::adapter::{self, AdapterSummary};
use crate::pool::BufferPool;
use crate::recorder::Recorder;
use crate::{GpuError, GpuTensor};

/// How to open the GPU.
#[derive(Debug, Clone)]
pub struct GpuOptions {
    /// Adapter name fragment or index; `None` means `FASTPATH_ADAPTER`, then the best one.
    pub adapter: Option<String>,
    /// Use subgroup operations when the device has them. Off forces every kernel onto its
    /// subgroup-free path (tests run both).
    pub use_subgroups: bool,
    /// Pass each dispatch's parameter block as immediate data (Vulkan push constants, Metal
    /// `setBytes`) when the device offers it, instead of a uniform buffer written at every
    /// submission. The write costs a staging buffer and an extra copy per submission, about
    /// 9 µs of a 40 µs standalone call on an H100 (`examples/call_overhead.rs`). Off forces
    /// the uniform path everywhere (tests run both).
    pub use_immediates: bool,
    /// Lower the largest storage binding below the device's limit, so chunked paths can be
    /// exercised at small sizes. `None` uses the device limit.
    pub max_binding_bytes: Option<u64>,
    /// Submit the open batch after this many dispatches even if nobody reads a result
    /// (MLX uses 20–50 per command buffer, CubeCL 32; bounded batches keep latency and
    /// wgpu's tracking memory in check).
    pub dispatches_per_submit: usize,
    /// Bytes of freed buffers kept for reuse.
    pub pool_cache_bytes: u64,
    /// Longest wait for the GPU before reporting an error.
    pub wait_timeout: Duration,
    /// How long a wait checks the GPU's fence in a loop before it blocks in the driver.
    /// `None`: [`DEFAULT_SPIN_WAIT`] on hardware GPUs, none on software rasterizers (whose
    /// workers need every CPU core), unless `FASTPATH_GPU_SPIN_US` says otherwise.
    pub spin_wait: Option<Duration>,
    /// Stamp each pass of a timed region even when the device can stamp between passes
    /// (the path devices without `TIMESTAMP_QUERY_INSIDE_ENCODERS` take; tests use it).
    pub per_pass_timestamps: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self {
            adapter: None,
            use_subgroups: true,
            use_immediates: true,
            max_binding_bytes: None,
            dispatches_per_submit: 256,
            pool_cache_bytes: 4 << 30,
            wait_timeout: Duration::from_secs(600),
            spin_wait: None,
            per_pass_timestamps: false,
        }
    }
}

/// Spin before blocking when waiting on a hardware GPU. A blocking wait sleeps in the driver
/// until the GPU's completion interrupt wakes the thread, which costs tens of microseconds
/// more than the work itself on short calls (CUDA's default synchronisation spins for the same
/// reason). Waits longer than this block, so a long kernel does not hold a core busy, and the
/// wake-up then costs at most a few percent of the wait.
pub const DEFAULT_SPIN_WAIT: Duration = Duration::from_millis(2);

/// The spin budget for `options` on an adapter of `device_type` ("cpu" for software
/// rasterizers), with `env` the value of `FASTPATH_GPU_SPIN_US` if set.
pub(crate) fn spin_wait_for(
    options: &GpuOptions,
    device_type: &str,
    env: Option<&str>,
) -> Duration {
    if let Some(d) = options.spin_wait {
        return d;
    }
    if let Some(us) = env.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Duration::from_micros(us);
    }
    if device_type == "cpu" { Duration::ZERO } else { DEFAULT_SPIN_WAIT }
}

/// Optional capabilities of the opened device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuFeatures {
    /// Subgroup operations are available *and* enabled in [`GpuOptions`].
    pub subgroups: bool,
    pub subgroup_min_size: u32,
    pub subgroup_max_size: u32,
    pub shader_f16: bool,
    pub shader_f64: bool,
    pub timestamps: bool,
    /// Timestamps can be written between passes (so a timed region may span copies and
    /// several passes with one pair of stamps).
    pub timestamps_in_encoders: bool,
    /// Bytes of immediate data a pipeline may take (0: parameters go through a uniform
    /// buffer). Enabled only when the device offers at least [`MIN_IMMEDIATE_BYTES`].
    pub immediate_bytes: u32,
}

/// Immediate data a device must offer before parameter blocks move there: every fastpath
/// parameter block fits in 64 bytes, and Vulkan guarantees 128.
pub const MIN_IMMEDIATE_BYTES: u32 = 64;

/// Most immediate data fastpath asks for; parameter blocks are at most this large
/// ([`crate::MAX_PARAMS_BYTES`]).
const MAX_IMMEDIATE_BYTES: u32 = 256;

/// How a shader uses a storage buffer; decides the bind-group layout entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// A compute shader to build. Binding 0 of group 0 is always the per-dispatch parameter
/// block (`var<uniform>`, at most 256 bytes); storage buffers follow at bindings 1.. in the
/// order of `storage`.
#[derive(Debug, Clone)]
pub struct ShaderSpec<'a> {
    /// Names the shader in errors and GPU debuggers.
    pub label: &'a str,
    /// Final WGSL source (after [`crate::compose`]).
    pub source: &'a str,
    pub entry: &'a str,
    pub storage: &'a [Access],
    /// Values for WGSL `override` declarations.
    pub constants: &'a [(&'a str, f64)],
}

impl ShaderSpec<'_> {
    fn cache_key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.source.hash(&mut h);
        self.entry.hash(&mut h);
        self.storage.hash(&mut h);
        for (name, value) in self.constants {
            name.hash(&mut h);
            value.to_bits().hash(&mut h);
        }
        h.finish()
    }
}

/// A [`ShaderSpec`] that owns its strings (built on demand by [`Gpu::pipeline_for`]).
#[derive(Debug, Clone)]
pub struct OwnedShaderSpec {
    pub label: String,
    pub source: String,
    pub entry: String,
    pub storage: Vec<Access>,
}

/// A compiled compute pipeline with its explicit bind-group layout.
#[derive(Debug)]
pub struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) storage: Vec<Access>,
    pub(crate) label: String,
    /// Immediate data the pipeline takes its parameter block from; 0 when the block is a
    /// uniform buffer at binding 0.
    pub(crate) immediate_bytes: u32,
}

impl Pipeline {
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The wgpu pipeline, for code that records its own passes (interop, diagnostics).
    pub fn wgpu_pipeline(&self) -> &wgpu::ComputePipeline {
        &self.pipeline
    }

    /// The explicit bind-group layout: the storage buffers at bindings 1.., preceded by the
    /// parameter block at binding 0 unless [`Pipeline::uses_immediates`].
    pub fn wgpu_bind_group_layout(&self) -> &wgpu::BindGroupLayout {
        &self.layout
    }

    /// Whether the parameter block travels as immediate data rather than a uniform buffer.
    pub fn uses_immediates(&self) -> bool {
        self.immediate_bytes > 0
    }
}

/// The opened GPU: device, queue, caches and the open batch. Shareable across threads; work
/// from all threads goes into one batch (like MLX's default stream).
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) summary: AdapterSummary,
    pub(crate) features: GpuFeatures,
    pub(crate) limits: wgpu::Limits,
    pub(crate) options: GpuOptions,
    /// How long [`Gpu::synchronize`] and friends poll before blocking (see [`spin_wait_for`]).
    pub(crate) spin_wait: Duration,
    pub(crate) binding_limit: u64,
    pub(crate) pipelines: Mutex<HashMap<u64, Arc<Pipeline>>>,
    pub(crate) keyed: Mutex<HashMap<String, Arc<Pipeline>>>,
    pub(crate) storage_pool: Arc<BufferPool>,
    pub(crate) staging_pool: Arc<BufferPool>,
    pub(crate) recorder: Mutex<Recorder>,
    pub(crate) uncaptured: Arc<Mutex<Vec<String>>>,
    pub(crate) lost: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.summary.name).finish_non_exhaustive()
    }
}

const WANTED_FEATURES: wgpu::Features = wgpu::Features::SUBGROUP
    .union(wgpu::Features::SHADER_F16)
    .union(wgpu::Features::SHADER_F64)
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::IMMEDIATES);

impl Gpu {
    /// Opens the chosen adapter with its real limits and every optional feature fastpath can
    /// use that it offers.
    pub fn new(options: GpuOptions) -> Result<Arc<Gpu>, GpuError> {
        let instance = adapter::instance();
        let (index, adapter) = adapter::choose(&instance, options.adapter.as_deref())?;
        let summary = adapter::summarize_pub(index, &adapter);
        let info = adapter.get_info();
        let available = adapter.features();
        let mut features = available & WANTED_FEATURES;
        let mut limits = adapter.limits();
        let immediate_bytes = if options.use_immediates
            && features.contains(wgpu::Features::IMMEDIATES)
            && limits.max_immediate_size >= MIN_IMMEDIATE_BYTES
        {
            limits.max_immediate_size.min(MAX_IMMEDIATE_BYTES) / 4 * 4
        } else {
            features.remove(wgpu::Features::IMMEDIATES);
            limits.max_immediate_size = 0;
            0
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("fastpath"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::DeviceRequest {
            adapter: summary.name.clone(),
            message: crate::error::one_line(&e.to_string()),
        })?;

        // Replace wgpu's default handler (which panics) before anything else can fail.
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        {
            let sink = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |err: wgpu::Error| {
                let text = crate::error::one_line(&err.to_string());
                tracing::error!("uncaptured GPU error: {text}");
                if let Ok(mut v) = sink.lock() {
                    v.push(text);
                }
            }));
        }
        let lost = Arc::new(Mutex::new(None));
        {
            let lost = lost.clone();
            device.set_device_lost_callback(move |reason, message| {
                if let Ok(mut l) = lost.lock() {
                    *l = Some(format!("{reason:?}: {message}"));
                }
            });
        }

        let gpu_features = GpuFeatures {
            subgroups: options.use_subgroups && features.contains(wgpu::Features::SUBGROUP),
            subgroup_min_size: info.subgroup_min_size,
            subgroup_max_size: info.subgroup_max_size,
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            shader_f64: features.contains(wgpu::Features::SHADER_F64),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            timestamps_in_encoders: features.contains(wgpu::Features::TIMESTAMP_QUERY)
                && features.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
                && !options.per_pass_timestamps,
            immediate_bytes,
        };
        let align = limits.min_storage_buffer_offset_alignment as u64;
        let device_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        let binding_limit =
            options.max_binding_bytes.map_or(device_binding, |b| b.min(device_binding));
        // Whole multiples of 256 bytes (and of the offset alignment) so windows can start
        // anywhere a previous one ended.
        let binding_limit = (binding_limit / align.max(256)) * align.max(256);

        let storage_pool = BufferPool::new(
            device.clone(),
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            "fastpath storage",
            limits.max_buffer_size,
            options.pool_cache_bytes,
        );
        let staging_pool = BufferPool::new(
            device.clone(),
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            "fastpath readback",
            limits.max_buffer_size,
            options.pool_cache_bytes / 4,
        );
        let recorder = Recorder::new(&device, &limits, &gpu_features);
        tracing::info!(
            "GPU: {} ({}, {}), subgroups={}, f16={}, f64={}, timestamps={}, immediates={} B, max binding {} MiB",
            summary.name,
            summary.backend,
            summary.device_type,
            gpu_features.subgroups,
            gpu_features.shader_f16,
            gpu_features.shader_f64,
            gpu_features.timestamps,
            gpu_features.immediate_bytes,
            binding_limit >> 20
        );
        let spin_wait = spin_wait_for(
            &options,
            &summary.device_type,
            std::env::var("FASTPATH_GPU_SPIN_US").ok().as_deref(),
        );
        Ok(Arc::new(Gpu {
            device,
            queue,
            summary,
            features: gpu_features,
            limits,
            options,
            spin_wait,
            binding_limit,
            pipelines: Mutex::new(HashMap::new()),
            keyed: Mutex::new(HashMap::new()),
            storage_pool,
            staging_pool,
            recorder: Mutex::new(recorder),
            uncaptured,
            lost,
        }))
    }

    /// The wgpu device and queue, for code that records its own work beside fastpath's
    /// (interop, diagnostics). Work submitted through them is not part of fastpath's batch:
    /// call [`Gpu::synchronize`] first when it must see fastpath's results.
    pub fn wgpu_device_queue(&self) -> (&wgpu::Device, &wgpu::Queue) {
        (&self.device, &self.queue)
    }

    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    pub fn features(&self) -> GpuFeatures {
        self.features
    }

    /// How long a wait polls the GPU before blocking (see [`GpuOptions::spin_wait`]).
    pub fn spin_wait(&self) -> Duration {
        self.spin_wait
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Largest storage binding in bytes that kernels may use (device limit, or the test
    /// override), a multiple of 256.
    pub fn max_binding_bytes(&self) -> u64 {
        self.binding_limit
    }

    /// Splits `len` elements of `elem_bytes` each into windows no larger than the largest
    /// binding; every window but the last is a whole multiple of 256 bytes so the next one
    /// starts at an aligned offset. Returns `(start, count)` pairs; one window for small data.
    pub fn windows(&self, len: usize, elem_bytes: usize) -> Vec<(usize, usize)> {
        let per = (self.binding_limit / elem_bytes as u64).max(1) as usize;
        if len <= per {
            return vec![(0, len)];
        }
        (0..len).step_by(per).map(|s| (s, per.min(len - s))).collect()
    }

    /// Maximum workgroups along one dispatch dimension.
    pub fn max_workgroups_per_dim(&self) -> u32 {
        self.limits.max_compute_workgroups_per_dimension
    }

    /// Workgroup grid for `workgroups` 1-D workgroups (see [`crate::split_workgroups`]).
    pub fn grid(&self, workgroups: u32) -> [u32; 3] {
        crate::split_workgroups(workgroups, self.max_workgroups_per_dim())
    }

    /// Compiles (or fetches from the cache) a compute pipeline.
    pub fn pipeline(&self, spec: &ShaderSpec<'_>) -> Result<Arc<Pipeline>, GpuError> {
        let key = spec.cache_key();
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        self.check_lost()?;
        let built = match immediate_form(spec.source) {
            Some(source) if self.features.immediate_bytes > 0 => {
                match self.build_pipeline(spec, &source, self.features.immediate_bytes) {
                    Ok(p) => Ok(p),
                    // A parameter block larger than the device's immediate data (or anything
                    // else the immediate form trips over) keeps the uniform form.
                    Err(e) => {
                        tracing::debug!("`{}` keeps its uniform parameters: {e}", spec.label);
                        self.build_pipeline(spec, spec.source, 0)
                    }
                }
            }
            _ => self.build_pipeline(spec, spec.source, 0),
        };
        let p = Arc::new(built?);
        self.pipelines.lock().unwrap().insert(key, p.clone());
        Ok(p)
    }

    /// Compiles one pipeline: with `immediate_bytes` > 0 from a source whose parameter block
    /// is immediate data (binding 0 absent), else with the block at binding 0.
    fn build_pipeline(
        &self,
        spec: &ShaderSpec<'_>,
        source: &str,
        immediate_bytes: u32,
    ) -> Result<Pipeline, GpuError> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        // Bounds checks stay on (free where the driver has robust buffer access). Loop
        // bounding is off: it threads a counter through every loop, which keeps drivers from
        // unrolling them and from promoting per-thread arrays to registers (measured on an
        // H100: the elementwise maps ran at half of copy bandwidth). fastpath's shaders only
        // contain loops bounded by their trip counts or by constant spin limits.
        let mut checks = wgpu::ShaderRuntimeChecks::checked();
        checks.force_loop_bounding = false;
        // SAFETY: every fastpath shader terminates (see above); bounds checks remain enabled.
        let module = unsafe {
            self.device.create_shader_module_trusted(
                wgpu::ShaderModuleDescriptor {
                    label: Some(spec.label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                },
                checks,
            )
        };
        let mut entries = Vec::with_capacity(spec.storage.len() + 1);
        if immediate_bytes == 0 {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        for (i, access) in spec.storage.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: *access == Access::ReadOnly },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let layout = self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(spec.label),
            entries: &entries,
        });
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(spec.label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: immediate_bytes,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: spec.constants,
                // Our shaders never read workgroup memory before writing it; skipping the
                // zero-fill saves a pass over shared memory per workgroup.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            let message = match err {
                wgpu::Error::Validation { description, .. } => description,
                other => other.to_string(),
            };
            return Err(GpuError::Shader {
                label: spec.label.to_string(),
                message: crate::error::one_line(&message),
            });
        }
        Ok(Pipeline {
            pipeline,
            layout,
            storage: spec.storage.to_vec(),
            label: spec.label.to_string(),
            immediate_bytes,
        })
    }

    /// Fast path for kernels that dispatch often: looks the pipeline up by a key that fully
    /// determines the shader (e.g. "reduce/stage1/sum/acc_square/subgroup"), building the
    /// source only on a miss. The key map sits in front of the content-hash cache, so two keys
    /// with the same source still share one pipeline; a key must never map to two sources.
    pub fn pipeline_for<F>(&self, key: &str, make: F) -> Result<Arc<Pipeline>, GpuError>
    where
        F: FnOnce() -> OwnedShaderSpec,
    {
        if let Some(p) = self.keyed.lock().unwrap().get(key) {
            return Ok(p.clone());
        }
        let spec = make();
        let p = self.pipeline(&ShaderSpec {
            label: &spec.label,
            source: &spec.source,
            entry: &spec.entry,
            storage: &spec.storage,
            constants: &[],
        })?;
        self.keyed.lock().unwrap().insert(key.to_string(), p.clone());
        Ok(p)
    }

    /// Number of compiled pipelines in the cache.
    pub fn cached_pipelines(&self) -> usize {
        self.pipelines.lock().unwrap().len()
    }

    /// Uninitialised tensor for a kernel to write.
    pub fn empty(&self, dtype: crate::DType, shape: Vec<usize>) -> Result<GpuTensor, GpuError> {
        self.check_lost()?;
        let bytes = (shape.iter().product::<usize>() * dtype.size_bytes()) as u64;
        let buffer = self.storage_pool.acquire(bytes, "a kernel output")?;
        Ok(GpuTensor::new(buffer, dtype, shape))
    }

    /// Copies host bytes into a new device tensor. `bytes.len()` must equal the element count
    /// times the dtype size.
    pub fn upload_bytes(
        &self,
        bytes: &[u8],
        dtype: crate::DType,
        shape: Vec<usize>,
    ) -> Result<GpuTensor, GpuError> {
        let n: usize = shape.iter().product();
        assert_eq!(bytes.len(), n * dtype.size_bytes(), "upload size must match the shape");
        self.check_lost()?;
        let buffer = self.storage_pool.acquire(bytes.len() as u64, "an input array")?;
        if !bytes.is_empty() {
            if bytes.len().is_multiple_of(4) {
                self.queue.write_buffer(buffer.raw(), 0, bytes);
            } else {
                let mut padded = bytes.to_vec();
                padded.resize(bytes.len().div_ceil(4) * 4, 0);
                self.queue.write_buffer(buffer.raw(), 0, &padded);
            }
        }
        Ok(GpuTensor::new(buffer, dtype, shape))
    }

    /// Uploads a typed slice.
    pub fn upload<T: bytemuck::Pod>(
        &self,
        data: &[T],
        dtype: crate::DType,
        shape: Vec<usize>,
    ) -> Result<GpuTensor, GpuError> {
        self.upload_bytes(bytemuck::cast_slice(data), dtype, shape)
    }

    pub(crate) fn check_lost(&self) -> Result<(), GpuError> {
        if let Some(reason) = self.lost.lock().unwrap().clone() {
            return Err(GpuError::DeviceLost(reason));
        }
        Ok(())
    }

    /// Errors reported outside any error scope since the last check.
    pub(crate) fn take_uncaptured(&self, context: &str) -> Result<(), GpuError> {
        let mut errs = self.uncaptured.lock().unwrap();
        if errs.is_empty() {
            return Ok(());
        }
        let message = errs.join("; ");
        errs.clear();
        Err(GpuError::Internal { context: context.to_string(), message })
    }

    /// Pool counters (for tests and `--verbose` reports).
    pub fn pool_stats(&self) -> crate::pool::PoolStats {
        self.storage_pool.stats()
    }

    /// Destroys the buffers kept for reuse (storage and staging); returns the bytes released.
    /// For callers that know the sizes they used are done, e.g. a benchmark moving to the
    /// next size.
    pub fn release_cached_buffers(&self) -> u64 {
        self.storage_pool.trim_all() + self.staging_pool.trim_all()
    }
}

/// The source with its parameter block declared as immediate data: the line
/// `@group(0) @binding(0) var<uniform> params: T;` becomes `var<immediate> params: T;`.
/// `None` when the shader declares no such block (it then keeps binding 0 as it is).
pub fn immediate_form(source: &str) -> Option<String> {
    const DECLARATION: &str = "@group(0) @binding(0) var<uniform> params";
    let at = source.find(DECLARATION)?;
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    if !source[line_start..at].trim().is_empty() {
        return None;
    }
    let mut out = String::with_capacity(source.len());
    out.push_str(&source[..at]);
    out.push_str("var<immediate> params");
    out.push_str(&source[at + DECLARATION.len()..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_wait_defaults_by_adapter_and_yields_to_options_then_environment() {
        let default = GpuOptions::default();
        assert_eq!(spin_wait_for(&default, "discrete", None), DEFAULT_SPIN_WAIT);
        assert_eq!(spin_wait_for(&default, "integrated", None), DEFAULT_SPIN_WAIT);
        // Software rasterizers run the work on the CPU cores a spin would take.
        assert_eq!(spin_wait_for(&default, "cpu", None), Duration::ZERO);
        assert_eq!(spin_wait_for(&default, "discrete", Some("0")), Duration::ZERO);
        assert_eq!(spin_wait_for(&default, "cpu", Some(" 250 ")), Duration::from_micros(250));
        // An unreadable value is ignored rather than guessed at.
        assert_eq!(spin_wait_for(&default, "discrete", Some("fast")), DEFAULT_SPIN_WAIT);
        let explicit = GpuOptions { spin_wait: Some(Duration::from_micros(7)), ..default };
        assert_eq!(spin_wait_for(&explicit, "cpu", Some("0")), Duration::from_micros(7));
    }

    #[test]
    fn parameter_blocks_move_to_immediate_data_only_when_declared_at_binding_zero() {
        let shader = "struct Params { n: u32 }\n@group(0) @binding(0) var<uniform> params: Params;\n@group(0) @binding(1) var<storage, read> x: array<f32>;\n";
        let moved = immediate_form(shader).unwrap();
        assert!(moved.contains("\nvar<immediate> params: Params;\n"), "{moved}");
        assert!(!moved.contains("var<uniform>"));
        assert!(moved.contains("@group(0) @binding(1) var<storage, read> x"));
        // No parameter block, or one declared somewhere else, stays as written.
        assert_eq!(immediate_form("@group(0) @binding(1) var<storage> x: array<f32>;"), None);
        assert_eq!(immediate_form("// @group(0) @binding(0) var<uniform> params: P;"), None);
    }
}
