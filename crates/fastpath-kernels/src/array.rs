//! Host arrays: what `.npy` files hold and what CPU kernels read and write.

pub use fastpath_gpu::DType;

/// Element storage of a host array.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    /// IEEE half floats as raw bits.
    F16(Vec<u16>),
    U8(Vec<u8>),
    I8(Vec<i8>),
}

/// A contiguous row-major array on the host. A 0-d array (shape `[]`) holds one element.
#[derive(Debug, Clone, PartialEq)]
pub struct HostArray {
    shape: Vec<usize>,
    data: HostData,
}

impl HostArray {
    /// Builds an array; panics when the element count does not match the shape (a caller bug).
    pub fn new(shape: Vec<usize>, data: HostData) -> Self {
        let a = Self { shape, data };
        assert_eq!(a.shape.iter().product::<usize>(), a.data_len(), "shape and data disagree");
        a
    }

    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self::new(shape, HostData::F32(data))
    }

    pub fn u32(shape: Vec<usize>, data: Vec<u32>) -> Self {
        Self::new(shape, HostData::U32(data))
    }

    /// 1-D f32 array.
    pub fn vec_f32(data: Vec<f32>) -> Self {
        Self::f32(vec![data.len()], data)
    }

    /// 1-D u32 array.
    pub fn vec_u32(data: Vec<u32>) -> Self {
        Self::u32(vec![data.len()], data)
    }

    /// 0-d f32 array.
    pub fn scalar_f32(v: f32) -> Self {
        Self::f32(vec![], vec![v])
    }

    /// 0-d u32 array.
    pub fn scalar_u32(v: u32) -> Self {
        Self::u32(vec![], vec![v])
    }

    fn data_len(&self) -> usize {
        match &self.data {
            HostData::F32(v) => v.len(),
            HostData::F64(v) => v.len(),
            HostData::U32(v) => v.len(),
            HostData::I32(v) => v.len(),
            HostData::F16(v) => v.len(),
            HostData::U8(v) => v.len(),
            HostData::I8(v) => v.len(),
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.data_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match &self.data {
            HostData::F32(_) => DType::F32,
            HostData::F64(_) => DType::F64,
            HostData::U32(_) => DType::U32,
            HostData::I32(_) => DType::I32,
            HostData::F16(_) => DType::F16,
            HostData::U8(_) => DType::U8,
            HostData::I8(_) => DType::I8,
        }
    }

    pub fn data(&self) -> &HostData {
        &self.data
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            HostData::F32(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<&[u32]> {
        match &self.data {
            HostData::U32(v) => Some(v),
            _ => None,
        }
    }

    /// The f32 elements; panics on another dtype (kernels call this after validation).
    pub fn f32s(&self) -> &[f32] {
        self.as_f32().unwrap_or_else(|| panic!("expected f32 data, found {}", self.dtype()))
    }

    /// The u32 elements; panics on another dtype (kernels call this after validation).
    pub fn u32s(&self) -> &[u32] {
        self.as_u32().unwrap_or_else(|| panic!("expected u32 data, found {}", self.dtype()))
    }

    /// Raw little-endian element bytes (the layout GPU buffers use).
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            HostData::F32(v) => bytemuck::cast_slice(v),
            HostData::F64(v) => bytemuck::cast_slice(v),
            HostData::U32(v) => bytemuck::cast_slice(v),
            HostData::I32(v) => bytemuck::cast_slice(v),
            HostData::F16(v) => bytemuck::cast_slice(v),
            HostData::U8(v) => v,
            HostData::I8(v) => bytemuck::cast_slice(v),
        }
    }

    /// Rebuilds an array from little-endian element bytes.
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Self {
        let data = match dtype {
            DType::F32 => HostData::F32(bytemuck::pod_collect_to_vec(bytes)),
            DType::F64 => HostData::F64(bytemuck::pod_collect_to_vec(bytes)),
            DType::U32 => HostData::U32(bytemuck::pod_collect_to_vec(bytes)),
            DType::I32 => HostData::I32(bytemuck::pod_collect_to_vec(bytes)),
            DType::F16 => HostData::F16(bytemuck::pod_collect_to_vec(bytes)),
            DType::U8 => HostData::U8(bytes.to_vec()),
            DType::I8 => HostData::I8(bytemuck::pod_collect_to_vec(bytes)),
        };
        Self::new(shape, data)
    }

    /// Same data, another shape with the same element count.
    pub fn reshaped(mut self, shape: Vec<usize>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), self.len());
        self.shape = shape;
        self
    }

    /// Keeps the first `count` elements of a 1-D array (valid prefix of compaction outputs).
    pub fn truncated(self, count: usize) -> Self {
        let count = count.min(self.len());
        let data = match self.data {
            HostData::F32(mut v) => {
                v.truncate(count);
                HostData::F32(v)
            }
            HostData::F64(mut v) => {
                v.truncate(count);
                HostData::F64(v)
            }
            HostData::U32(mut v) => {
                v.truncate(count);
                HostData::U32(v)
            }
            HostData::I32(mut v) => {
                v.truncate(count);
                HostData::I32(v)
            }
            HostData::F16(mut v) => {
                v.truncate(count);
                HostData::F16(v)
            }
            HostData::U8(mut v) => {
                v.truncate(count);
                HostData::U8(v)
            }
            HostData::I8(mut v) => {
                v.truncate(count);
                HostData::I8(v)
            }
        };
        Self::new(vec![count], data)
    }

    /// Shape and dtype, the part validation looks at.
    pub fn meta(&self) -> ArgMeta {
        ArgMeta { dtype: self.dtype(), shape: self.shape.clone() }
    }
}

/// The dtype and shape of an argument, on host or device.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgMeta {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl ArgMeta {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn describe(&self) -> String {
        format!(
            "{} [{}]",
            self.dtype,
            self.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        )
    }
}

impl From<&fastpath_gpu::GpuTensor> for ArgMeta {
    fn from(t: &fastpath_gpu::GpuTensor) -> Self {
        ArgMeta { dtype: t.dtype(), shape: t.shape().to_vec() }
    }
}
