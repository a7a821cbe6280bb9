//! Batched recording: every dispatch goes into one open compute pass; the batch is submitted
//! when something must come back to the host (a read, a timing) or when it grows past
//! [`crate::GpuOptions::dispatches_per_submit`].
//!
//! Per-dispatch parameters (sizes, thresholds, offsets) are packed into one uniform "arena"
//! buffer at 256-byte aligned offsets and uploaded once per submission, instead of creating a
//! uniform buffer per dispatch (ratchet does the same).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::{Access, Gpu, GpuFeatures, Pipeline};
use crate::{GpuError, GpuTensor};

/// Bytes reserved for parameter blocks in one batch; a batch that would overflow it is
/// submitted first. 1 MiB = 4096 dispatches at 256 bytes each.
const ARENA_BYTES: u64 = 1 << 20;
/// Largest parameter block of one dispatch.
pub const MAX_PARAMS_BYTES: usize = 256;

/// A storage buffer range to bind.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub(crate) buffer: &'a wgpu::Buffer,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// One compute dispatch: a pipeline, its parameter block, its storage bindings in layout
/// order (bindings 1..), and the workgroup grid.
pub struct Dispatch<'a> {
    pub pipeline: &'a Pipeline,
    /// Raw bytes of the shader's `params` uniform struct (use `bytemuck::bytes_of`).
    pub params: &'a [u8],
    pub bindings: &'a [Binding<'a>],
    pub workgroups: [u32; 3],
}

pub(crate) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    params: Vec<u8>,
    arena: wgpu::Buffer,
    param_align: usize,
    dispatches: usize,
    timing: Option<TimingQueries>,
    timing_active: bool,
    /// The newest submission, so a wait with nothing left to submit can still spin on it.
    last_submission: Option<wgpu::SubmissionIndex>,
}

/// Passes a timed region may open when stamps can only be written at pass boundaries.
const MAX_TIMED_PASSES: u32 = 32;

struct TimingQueries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Stamps go on the encoder (one pair for the whole region) rather than on each pass.
    on_encoder: bool,
    /// Pass-boundary mode: stamp pairs used so far in the open region.
    pairs: u32,
}

impl Recorder {
    pub(crate) fn new(
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        features: &GpuFeatures,
    ) -> Self {
        let timestamps = features.timestamps;
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("fastpath params arena"),
            size: ARENA_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let timing = timestamps.then(|| TimingQueries {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("fastpath timing"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * MAX_TIMED_PASSES,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("fastpath timing resolve"),
                size: 16 * MAX_TIMED_PASSES as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            on_encoder: features.timestamps_in_encoders,
            pairs: 0,
        });
        Self {
            encoder: None,
            pass: None,
            params: Vec::new(),
            arena,
            param_align: (limits.min_uniform_buffer_offset_alignment as usize).max(16),
            dispatches: 0,
            timing,
            timing_active: false,
            last_submission: None,
        }
    }

    fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("fastpath batch"),
            })
        })
    }

    fn pass(&mut self, device: &wgpu::Device) -> Result<&mut wgpu::ComputePass<'static>, GpuError> {
        if self.pass.is_none() {
            // In a timed region without encoder stamps, every pass carries its own pair.
            let per_pass = match self.timing.as_mut() {
                Some(t) if self.timing_active && !t.on_encoder => {
                    if t.pairs == MAX_TIMED_PASSES {
                        return Err(GpuError::Validation {
                            context: "recording a timed region".into(),
                            message: format!(
                                "more than {MAX_TIMED_PASSES} compute passes in one timed region"
                            ),
                        });
                    }
                    t.pairs += 1;
                    Some((t.set.clone(), 2 * (t.pairs - 1)))
                }
                _ => None,
            };
            let pass = self
                .encoder(device)
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("fastpath"),
                    timestamp_writes: per_pass.as_ref().map(|(set, first)| {
                        wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(*first),
                            end_of_pass_write_index: Some(first + 1),
                        }
                    }),
                })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        Ok(self.pass.as_mut().unwrap())
    }

    fn end_pass(&mut self) {
        self.pass = None;
    }

    fn is_empty(&self) -> bool {
        self.encoder.is_none()
    }
}

impl Gpu {
    /// Records one dispatch into the open batch.
    pub fn dispatch(&self, d: &Dispatch<'_>) -> Result<(), GpuError> {
        assert!(d.params.len() <= MAX_PARAMS_BYTES, "parameter block larger than 256 bytes");
        assert_eq!(
            d.bindings.len(),
            d.pipeline.storage.len(),
            "pipeline `{}` expects {} storage bindings",
            d.pipeline.label,
            d.pipeline.storage.len()
        );
        self.check_lost()?;
        let mut rec = self.recorder.lock().unwrap();
        // Blocks are padded with zeros to 16 bytes (a WGSL struct's size is a multiple of its
        // alignment, and std140-style uniform rules want 16).
        let block = d.params.len().max(16).div_ceil(16) * 16;
        let immediates = d.pipeline.immediate_bytes > 0;
        if immediates && block > d.pipeline.immediate_bytes as usize {
            return Err(GpuError::Validation {
                context: format!("recording `{}`", d.pipeline.label),
                message: format!(
                    "a {}-byte parameter block does not fit the pipeline's {} bytes of immediate data",
                    d.params.len(),
                    d.pipeline.immediate_bytes
                ),
            });
        }
        let offset = rec.params.len().div_ceil(rec.param_align) * rec.param_align;
        let arena_full = !immediates && (offset + block) as u64 > ARENA_BYTES;
        if arena_full
            || (!rec.timing_active && rec.dispatches >= self.options.dispatches_per_submit)
        {
            if rec.timing_active {
                return Err(GpuError::Validation {
                    context: "recording a timed region".into(),
                    message: "more dispatches than one timed batch can hold (4096)".into(),
                });
            }
            self.flush_locked(&mut rec)?;
        }
        let mut immediate = [0u8; MAX_PARAMS_BYTES];
        if immediates {
            immediate[..d.params.len()].copy_from_slice(d.params);
        } else {
            let offset = rec.params.len().div_ceil(rec.param_align) * rec.param_align;
            rec.params.resize(offset, 0);
            rec.params.extend_from_slice(d.params);
            rec.params.resize(offset + block, 0);
        }

        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut entries = Vec::with_capacity(d.bindings.len() + 1);
        if !immediates {
            let offset = rec.params.len() - block;
            entries.push(wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &rec.arena,
                    offset: offset as u64,
                    size: std::num::NonZeroU64::new(block as u64),
                }),
            });
        }
        for (i, b) in d.bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.buffer,
                    offset: b.offset,
                    size: std::num::NonZeroU64::new(b.size),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&d.pipeline.label),
            layout: &d.pipeline.layout,
            entries: &entries,
        });
        let pass = rec.pass(&self.device)?;
        pass.set_pipeline(&d.pipeline.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        if immediates {
            pass.set_immediates(0, &immediate[..block]);
        }
        let [x, y, z] = d.workgroups;
        pass.dispatch_workgroups(x, y, z);
        rec.dispatches += 1;
        if let Some(err) = pollster::block_on(scope.pop()) {
            return Err(GpuError::from_wgpu(&format!("recording `{}`", d.pipeline.label), err));
        }
        Ok(())
    }

    /// Submits the open batch (if any) without waiting for it.
    pub fn flush(&self) -> Result<(), GpuError> {
        let mut rec = self.recorder.lock().unwrap();
        self.flush_locked(&mut rec).map(|_| ())
    }

    fn flush_locked(&self, rec: &mut Recorder) -> Result<Option<wgpu::SubmissionIndex>, GpuError> {
        self.check_lost()?;
        rec.end_pass();
        let Some(encoder) = rec.encoder.take() else {
            // Nothing recorded can still be using a dropped buffer.
            self.storage_pool.release_pending();
            self.staging_pool.release_pending();
            self.take_uncaptured("recording GPU work")?;
            return Ok(None);
        };
        if !rec.params.is_empty() {
            self.queue.write_buffer(&rec.arena, 0, &rec.params);
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let index = self.queue.submit([encoder.finish()]);
        rec.last_submission = Some(index.clone());
        let oom_err = pollster::block_on(oom.pop());
        let val_err = pollster::block_on(scope.pop());
        rec.params.clear();
        rec.dispatches = 0;
        self.storage_pool.release_pending();
        self.staging_pool.release_pending();
        if let Some(e) = oom_err.or(val_err) {
            return Err(GpuError::from_wgpu("submitting GPU work", e));
        }
        self.take_uncaptured("submitting GPU work")?;
        Ok(Some(index))
    }

    /// Waits until the submission `index` (every submission with `None`) has finished.
    fn wait(&self, index: Option<wgpu::SubmissionIndex>) -> Result<(), GpuError> {
        let mut done = false;
        if self.spin_wait > Duration::ZERO
            && let Some(index) = &index
        {
            // Check the fence without sleeping until the work is done or the spin budget is
            // spent; then block (skipped when the spin saw the work finish).
            let deadline = Instant::now() + self.spin_wait;
            while Instant::now() < deadline {
                match self.device.poll(wgpu::PollType::Wait {
                    submission_index: Some(index.clone()),
                    timeout: Some(Duration::ZERO),
                }) {
                    Ok(_) => {
                        done = true;
                        break;
                    }
                    Err(wgpu::PollError::Timeout) => std::hint::spin_loop(),
                    // Anything else is reported by the blocking wait below.
                    Err(_) => break,
                }
            }
        }
        if !done {
            let poll = self.device.poll(wgpu::PollType::Wait {
                submission_index: index,
                timeout: Some(self.options.wait_timeout),
            });
            if let Err(e) = poll {
                self.check_lost()?;
                return Err(GpuError::Wait(crate::error::one_line(&e.to_string())));
            }
        }
        self.check_lost()?;
        self.take_uncaptured("running GPU work")
    }

    /// Submits everything recorded so far and waits until the GPU has finished it.
    pub fn synchronize(&self) -> Result<(), GpuError> {
        let index = {
            let mut rec = self.recorder.lock().unwrap();
            // With nothing left to submit, wait for the newest submission: everything before
            // it on the one queue has finished by then, and the wait can spin on it.
            self.flush_locked(&mut rec)?.or_else(|| rec.last_submission.clone())
        };
        self.wait(index)
    }

    /// Reads tensors back to the host (one submission and one wait for all of them).
    /// Returns each tensor's element bytes.
    pub fn read_many(&self, tensors: &[&GpuTensor]) -> Result<Vec<Vec<u8>>, GpuError> {
        let mut staged = Vec::with_capacity(tensors.len());
        let index = {
            let mut rec = self.recorder.lock().unwrap();
            rec.end_pass();
            for t in tensors {
                let bytes = t.byte_len();
                if bytes == 0 {
                    staged.push(None);
                    continue;
                }
                let size = bytes.div_ceil(4) * 4;
                let staging = self.staging_pool.acquire(size, "reading a result back")?;
                rec.encoder(&self.device).copy_buffer_to_buffer(
                    t.buffer.raw(),
                    0,
                    staging.raw(),
                    0,
                    size,
                );
                staged.push(Some((staging, size, bytes as usize)));
            }
            self.flush_locked(&mut rec)?
        };
        let (tx, rx) = std::sync::mpsc::channel();
        for (i, s) in staged.iter().enumerate() {
            if let Some((buf, size, _)) = s {
                let tx = tx.clone();
                buf.raw().map_async(wgpu::MapMode::Read, 0..*size, move |r| {
                    let _ = tx.send((i, r));
                });
            }
        }
        drop(tx);
        self.wait(index)?;
        for (i, r) in rx.try_iter() {
            if let Err(e) = r {
                return Err(GpuError::Internal {
                    context: format!("mapping result {i} for reading"),
                    message: e.to_string(),
                });
            }
        }
        let mut out = Vec::with_capacity(tensors.len());
        for s in staged {
            match s {
                None => out.push(Vec::new()),
                Some((buf, size, bytes)) => {
                    let view =
                        buf.raw().get_mapped_range(0..size).map_err(|e| GpuError::Internal {
                            context: "reading a mapped result".into(),
                            message: e.to_string(),
                        })?;
                    out.push(view[..bytes].to_vec());
                    drop(view);
                    buf.raw().unmap();
                }
            }
        }
        Ok(out)
    }

    /// Reads one tensor's element bytes.
    pub fn read_bytes(&self, tensor: &GpuTensor) -> Result<Vec<u8>, GpuError> {
        Ok(self.read_many(&[tensor])?.pop().unwrap_or_default())
    }

    /// Reads one tensor as a typed vector.
    pub fn read<T: bytemuck::Pod>(&self, tensor: &GpuTensor) -> Result<Vec<T>, GpuError> {
        let bytes = self.read_bytes(tensor)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Overwrites an existing tensor's contents from the host. Work already recorded that
    /// uses the tensor is submitted first, so it sees the old contents.
    pub fn write_bytes(&self, tensor: &GpuTensor, bytes: &[u8]) -> Result<(), GpuError> {
        assert_eq!(bytes.len() as u64, tensor.byte_len(), "write size must match the tensor");
        {
            let mut rec = self.recorder.lock().unwrap();
            if !rec.is_empty() {
                self.flush_locked(&mut rec)?;
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len().is_multiple_of(4) {
            self.queue.write_buffer(tensor.buffer.raw(), 0, bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().div_ceil(4) * 4, 0);
            self.queue.write_buffer(tensor.buffer.raw(), 0, &padded);
        }
        Ok(())
    }

    /// Copies `src` into `dst` (element bytes of `src`) on the device.
    pub fn copy(&self, src: &GpuTensor, dst: &GpuTensor) -> Result<(), GpuError> {
        assert!(dst.capacity_bytes() >= src.byte_len(), "copy destination too small");
        let size = src.byte_len().div_ceil(4) * 4;
        if size == 0 {
            return Ok(());
        }
        let mut rec = self.recorder.lock().unwrap();
        rec.end_pass();
        rec.encoder(&self.device).copy_buffer_to_buffer(
            src.buffer.raw(),
            0,
            dst.buffer.raw(),
            0,
            size,
        );
        Ok(())
    }

    /// Host wall time of the work `record` records, the way a caller meets one call: recorded,
    /// submitted and waited for, without the timestamp queries of [`Gpu::time`] (whose resolve
    /// and read-back add tens of microseconds that no real call pays). Work recorded before is
    /// submitted and waited for first, outside the measurement.
    pub fn time_wall<F>(&self, record: F) -> Result<f64, GpuError>
    where
        F: FnOnce() -> Result<(), GpuError>,
    {
        self.synchronize()?;
        let start = Instant::now();
        record()?;
        self.synchronize()?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// Runs `record` (which records dispatches, copies, anything) as one timed region, submits
    /// it, waits, and returns the GPU time of the region plus the host wall time from the start
    /// of recording to completion.
    ///
    /// With `TIMESTAMP_QUERY_INSIDE_ENCODERS` one stamp pair brackets the whole region (copies
    /// and pass boundaries included); otherwise every compute pass of the region carries its
    /// own pair and their durations are summed (copies between passes are then not counted).
    /// Everything recorded in the region, from any thread, is inside the measurement.
    pub fn time<F>(&self, record: F) -> Result<Timing, GpuError>
    where
        F: FnOnce() -> Result<(), GpuError>,
    {
        let wall_start = Instant::now();
        {
            let mut rec = self.recorder.lock().unwrap();
            if rec.timing_active {
                return Err(GpuError::Validation {
                    context: "starting a timed region".into(),
                    message: "timed regions cannot nest".into(),
                });
            }
            // Work recorded before the region must not be counted.
            if !rec.is_empty() {
                self.flush_locked(&mut rec)?;
            }
            rec.end_pass();
            if let Some(t) = rec.timing.as_mut() {
                t.pairs = 0;
                if t.on_encoder {
                    let set = t.set.clone();
                    rec.encoder(&self.device).write_timestamp(&set, 0);
                }
            }
            rec.timing_active = true;
        }
        let recorded = record();
        let mut rec = self.recorder.lock().unwrap();
        rec.end_pass();
        rec.timing_active = false;
        if let Err(e) = recorded {
            // Drop whatever was recorded so a failed region leaves no half-batch behind.
            rec.encoder = None;
            rec.params.clear();
            rec.dispatches = 0;
            return Err(e);
        }
        let mut stamps_read = None;
        if let Some(t) = rec.timing.as_ref() {
            let (set, resolve, on_encoder, pairs) =
                (t.set.clone(), t.resolve.clone(), t.on_encoder, t.pairs);
            let count = if on_encoder { 2 } else { 2 * pairs };
            if on_encoder {
                rec.encoder(&self.device).write_timestamp(&set, 1);
            }
            if count > 0 {
                let bytes = 8 * count as u64;
                let staging = self.staging_pool.acquire(bytes, "reading timestamps")?;
                let enc = rec.encoder(&self.device);
                enc.resolve_query_set(&set, 0..count, &resolve, 0);
                enc.copy_buffer_to_buffer(&resolve, 0, staging.raw(), 0, bytes);
                stamps_read = Some((staging, bytes));
            }
        }
        let index = self.flush_locked(&mut rec)?;
        drop(rec);
        let gpu_seconds = match stamps_read {
            Some((staging, bytes)) => {
                let (tx, rx) = std::sync::mpsc::channel();
                staging.raw().map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
                    let _ = tx.send(r);
                });
                self.wait(index)?;
                if !rx.try_recv().map(|r| r.is_ok()).unwrap_or(false) {
                    return Err(GpuError::Internal {
                        context: "reading timestamps".into(),
                        message: "map failed".into(),
                    });
                }
                let view =
                    staging.raw().get_mapped_range(0..bytes).map_err(|e| GpuError::Internal {
                        context: "reading timestamps".into(),
                        message: e.to_string(),
                    })?;
                let stamps: Vec<u64> = bytemuck::pod_collect_to_vec(&view[..bytes as usize]);
                drop(view);
                staging.raw().unmap();
                let ticks: u64 = stamps.chunks_exact(2).map(|p| p[1].saturating_sub(p[0])).sum();
                Some(ticks as f64 * self.queue.get_timestamp_period() as f64 * 1e-9)
            }
            None => {
                self.wait(index)?;
                // A region that recorded nothing took no GPU time.
                self.features.timestamps.then_some(0.0)
            }
        };
        Ok(Timing { gpu_seconds, wall_seconds: wall_start.elapsed().as_secs_f64() })
    }

    /// Convenience: a pipeline plus storage bindings with the access pattern checked in debug
    /// builds.
    pub fn access_of(pipeline: &Arc<Pipeline>) -> &[Access] {
        &pipeline.storage
    }
}

/// Result of [`Gpu::time`].
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// GPU time from timestamp queries; `None` when the device has no timestamp support.
    pub gpu_seconds: Option<f64>,
    /// Host time from the start of recording until the GPU finished.
    pub wall_seconds: f64,
}
