//! Size-bucketed buffer pool.
//!
//! Allocating a GPU buffer costs tens of microseconds and can fragment device memory, so
//! freed buffers are kept and reused for later requests of the same size class. Classes are
//! powers of two split into quarters (so at most 25 % is wasted), with a 256-byte minimum:
//! 256-byte multiples keep every buffer a valid `vec4` binding and aligned for sub-range
//! bindings.
//!
//! **Reuse safety.** A buffer dropped while the open batch still holds dispatches that use it
//! must not be handed to an upload: `Queue::write_buffer` runs at the start of the next
//! submission, i.e. *before* those recorded dispatches, and would overwrite their data. So a
//! dropped buffer goes to `pending` and becomes reusable only when the batch is submitted
//! ([`BufferPool::release_pending`], called right after every submit). From then on queue
//! order (with the barriers wgpu inserts) protects it.
//!
//! **Eviction.** When the cached bytes would pass the cap, the least recently released
//! buffers are destroyed to make room. Destroying the buffer just released instead (what the
//! pool did first) let a cache full of large buffers from an earlier phase turn every small
//! call into a fresh allocation and a destruction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::GpuError;

/// Smallest buffer handed out.
pub const MIN_BUFFER_BYTES: u64 = 256;

/// Rounds a request up to its size class.
pub fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(MIN_BUFFER_BYTES);
    let pow = 63 - bytes.leading_zeros() as u64; // floor(log2)
    if bytes.is_power_of_two() || pow < 10 {
        return bytes.next_power_of_two().max(MIN_BUFFER_BYTES);
    }
    let step = 1u64 << (pow - 2);
    bytes.div_ceil(step) * step
}

pub struct BufferPool {
    device: wgpu::Device,
    usage: wgpu::BufferUsages,
    label: &'static str,
    max_buffer_bytes: u64,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// Size class → cached buffers with their release stamps, oldest first.
    free: HashMap<u64, Vec<(u64, wgpu::Buffer)>>,
    /// Release stamp → size class of every cached buffer, for evicting the oldest.
    by_age: BTreeMap<u64, u64>,
    next_stamp: u64,
    free_bytes: u64,
    pending: Vec<(u64, wgpu::Buffer)>,
    /// Most bytes kept cached; the oldest buffers are destroyed to stay under it.
    cap_bytes: u64,
}

impl PoolState {
    /// Caches `buf` (of size class `class`), evicting the least recently released buffers
    /// while the cache would pass its cap. A buffer larger than the cap is destroyed.
    fn cache(&mut self, class: u64, buf: wgpu::Buffer) {
        if class > self.cap_bytes {
            buf.destroy();
            return;
        }
        while self.free_bytes + class > self.cap_bytes {
            let Some((stamp, oldest)) = self.by_age.pop_first() else { break };
            let list = self.free.get_mut(&oldest).expect("an aged entry has a list");
            let (first, evicted) = list.remove(0);
            debug_assert_eq!(first, stamp, "a class's list is in release order");
            evicted.destroy();
            self.free_bytes -= oldest;
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.by_age.insert(stamp, class);
        self.free.entry(class).or_default().push((stamp, buf));
        self.free_bytes += class;
    }

    /// The most recently released cached buffer of `class`, if any.
    fn take(&mut self, class: u64) -> Option<wgpu::Buffer> {
        let (stamp, buf) = self.free.get_mut(&class)?.pop()?;
        self.by_age.remove(&stamp);
        self.free_bytes -= class;
        Some(buf)
    }
}

/// Counters for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub free_buffers: usize,
    pub free_bytes: u64,
    pub pending_buffers: usize,
}

impl BufferPool {
    pub(crate) fn new(
        device: wgpu::Device,
        usage: wgpu::BufferUsages,
        label: &'static str,
        max_buffer_bytes: u64,
        cap_bytes: u64,
    ) -> Arc<Self> {
        Arc::new(Self {
            device,
            usage,
            label,
            max_buffer_bytes,
            state: Mutex::new(PoolState { cap_bytes, ..Default::default() }),
        })
    }

    /// A buffer of at least `bytes` bytes (contents unspecified).
    pub fn acquire(self: &Arc<Self>, bytes: u64, what: &str) -> Result<PooledBuffer, GpuError> {
        let class = size_class(bytes);
        if class > self.max_buffer_bytes {
            let needed = bytes.max(1);
            if needed > self.max_buffer_bytes {
                return Err(GpuError::TooLarge {
                    what: what.to_string(),
                    needed,
                    limit: self.max_buffer_bytes,
                });
            }
        }
        let class = class.min(self.max_buffer_bytes);
        {
            let mut st = self.state.lock().unwrap();
            if let Some(buf) = st.take(class) {
                return Ok(PooledBuffer { buffer: Some(buf), class, pool: self.clone() });
            }
        }
        let buffer = self.create(class, what)?;
        Ok(PooledBuffer { buffer: Some(buffer), class, pool: self.clone() })
    }

    fn create(&self, size: u64, what: &str) -> Result<wgpu::Buffer, GpuError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.label),
            size,
            usage: self.usage,
            mapped_at_creation: false,
        });
        let validation_err = pollster::block_on(validation.pop());
        let oom_err = pollster::block_on(oom.pop());
        let context = format!("allocating {size} bytes for {what}");
        if let Some(e) = oom_err.or(validation_err) {
            // Memory may be held by the cache: drop it and try once more before giving up.
            if self.trim_all() > 0 {
                return self.create(size, what);
            }
            return Err(GpuError::from_wgpu(&context, e));
        }
        Ok(buffer)
    }

    /// Makes buffers dropped before the latest submission reusable.
    pub(crate) fn release_pending(&self) {
        let mut st = self.state.lock().unwrap();
        let pending = std::mem::take(&mut st.pending);
        for (class, buf) in pending {
            st.cache(class, buf);
        }
    }

    /// Destroys every cached buffer; returns how many bytes were released.
    pub fn trim_all(&self) -> u64 {
        let mut st = self.state.lock().unwrap();
        let released = st.free_bytes;
        for (_, bufs) in st.free.drain() {
            for (_, b) in bufs {
                b.destroy();
            }
        }
        st.by_age.clear();
        st.free_bytes = 0;
        released
    }

    pub fn stats(&self) -> PoolStats {
        let st = self.state.lock().unwrap();
        PoolStats {
            free_buffers: st.by_age.len(),
            free_bytes: st.free_bytes,
            pending_buffers: st.pending.len(),
        }
    }
}

/// A buffer on loan from a [`BufferPool`]; returns itself on drop.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    class: u64,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }

    pub fn size(&self) -> u64 {
        self.class
    }
}

impl std::fmt::Debug for PooledBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PooledBuffer({} bytes, {})", self.class, self.pool.label)
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(buf) = self.buffer.take()
            && let Ok(mut st) = self.pool.state.lock()
        {
            st.pending.push((self.class, buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_waste_at_most_a_quarter() {
        assert_eq!(size_class(0), 256);
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 512);
        assert_eq!(size_class(1024), 1024);
        assert_eq!(size_class(1025), 1280);
        for bytes in [1025u64, 4097, 100_000, 4_194_316, 268_435_456, 268_435_457, 999_999_999] {
            let c = size_class(bytes);
            assert!(c >= bytes, "{bytes} -> {c}");
            assert!(c as f64 <= bytes as f64 * 1.25 + 256.0, "{bytes} -> {c}");
            assert_eq!(c % 256, 0, "{bytes} -> {c} must stay 256-byte aligned");
        }
    }
}
