use std::sync::Arc;

use crate::pool::PooledBuffer;
use crate::recorder::Binding;

/// Element types fastpath moves between host and device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F16,
    F64,
    U32,
    I32,
    U8,
    I8,
}

impl DType {
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 | DType::U32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::F64 => 8,
            DType::U8 | DType::I8 => 1,
        }
    }

    /// The spelling used in the kernel catalog and in messages ("f32", "u32", ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::F64 => "f64",
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::U8 => "u8",
            DType::I8 => "i8",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        Some(match name {
            "f32" => DType::F32,
            "f16" => DType::F16,
            "f64" => DType::F64,
            "u32" => DType::U32,
            "i32" => DType::I32,
            "u8" => DType::U8,
            "i8" => DType::I8,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An array resident in GPU memory. Cloning shares the buffer (in-place kernels rely on it);
/// when the last clone is dropped the buffer returns to the pool once the GPU is done with it.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    pub(crate) buffer: Arc<PooledBuffer>,
    dtype: DType,
    shape: Vec<usize>,
}

impl GpuTensor {
    pub(crate) fn new(buffer: PooledBuffer, dtype: DType, shape: Vec<usize>) -> Self {
        Self { buffer: Arc::new(buffer), dtype, shape }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of element data (the buffer itself may be larger: pool size classes, padding).
    pub fn byte_len(&self) -> u64 {
        (self.len() * self.dtype.size_bytes()) as u64
    }

    /// Capacity of the underlying buffer in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.buffer.size()
    }

    /// A view of the same buffer with another shape of the same element count, e.g. to treat a
    /// [1] result as a 0-d scalar.
    pub fn reshaped(&self, shape: Vec<usize>) -> GpuTensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len(),
            "reshape must keep the element count"
        );
        GpuTensor { buffer: self.buffer.clone(), dtype: self.dtype, shape }
    }

    /// Binds the whole tensor, rounded up to 16 bytes so shaders may read it as `vec4`s
    /// (the pool's buffers are at least 256 bytes and multiples of 256, so this stays in
    /// bounds; the padding holds garbage that shaders must mask).
    pub fn binding(&self) -> Binding<'_> {
        let size = round_up(self.byte_len().max(16), 16).min(self.capacity_bytes());
        Binding { buffer: self.buffer.raw(), offset: 0, size }
    }

    /// Binds `count` elements starting at element `start`; `start * size_of(dtype)` must be a
    /// multiple of the device's storage offset alignment (windows from [`crate::Gpu::windows`]
    /// are). The size is rounded up to 16 bytes within the buffer.
    pub fn binding_range(&self, start: usize, count: usize) -> Binding<'_> {
        let es = self.dtype.size_bytes() as u64;
        let offset = start as u64 * es;
        let size = round_up((count as u64 * es).max(16), 16).min(self.capacity_bytes() - offset);
        Binding { buffer: self.buffer.raw(), offset, size }
    }

    /// True when both tensors share one buffer.
    /// The wgpu buffer holding the elements (it may be larger than [`GpuTensor::byte_len`]).
    pub fn wgpu_buffer(&self) -> &wgpu::Buffer {
        self.buffer.raw()
    }

    pub fn same_buffer(&self, other: &GpuTensor) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer)
    }
}

pub(crate) fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}
