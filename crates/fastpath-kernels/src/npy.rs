//! Reading and writing NumPy `.npy` files (format versions 1.0–3.0, C order).
//!
//! Written here rather than taken from a crate because every failure must become one line
//! that says what was expected ("x.npy holds int64; fastpath kernels take f32 or u32 —
//! convert with a.astype(np.float32)"), and because writes must be atomic: a file appears
//! under its final name only when complete.

use std::io::Write;
use std::path::Path;

use crate::array::{DType, HostArray};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads an `.npy` file.
pub fn read(path: &Path) -> Result<HostArray, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the bytes of an `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<HostArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(
            "not a .npy file (missing the \\x93NUMPY magic); save arrays with numpy.save".into()
        );
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy format version {v}.x (expected 1.0-3.0)")),
    };
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err("truncated .npy header".into());
    }
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| "the .npy header is not text".to_string())?;
    let descr = dict_value(header, "descr").ok_or("the .npy header has no 'descr'")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let fortran =
        dict_value(header, "fortran_order").ok_or("the .npy header has no 'fortran_order'")?;
    let shape_text = dict_value(header, "shape").ok_or("the .npy header has no 'shape'")?;
    let shape = parse_shape_tuple(shape_text)?;
    let fortran = fortran.trim().starts_with("True");
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err("array is stored in Fortran order; save np.ascontiguousarray(a) instead".into());
    }
    let (dtype, big_endian) = parse_descr(descr)?;
    let count: usize =
        shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or("shape too large")?;
    let nbytes = count.checked_mul(dtype.size_bytes()).ok_or("shape too large")?;
    let payload = &bytes[data_start..];
    if payload.len() < nbytes {
        return Err(format!(
            "file is truncated: shape {shape:?} of {dtype} needs {nbytes} data bytes, found {}",
            payload.len()
        ));
    }
    let mut data = payload[..nbytes].to_vec();
    if big_endian && dtype.size_bytes() > 1 {
        for chunk in data.chunks_exact_mut(dtype.size_bytes()) {
            chunk.reverse();
        }
    }
    Ok(HostArray::from_bytes(dtype, shape, &data))
}

/// Extracts the text of `key`'s value from a Python dict literal.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with('(') {
        let end = rest.find(')')?;
        Some(&rest[..=end])
    } else {
        let end = rest.find(',').or_else(|| rest.find('}')).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

fn parse_shape_tuple(text: &str) -> Result<Vec<usize>, String> {
    let inner = text.trim().trim_start_matches('(').trim_end_matches(')');
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L').parse::<usize>().map_err(|_| format!("bad shape entry {s:?}"))
        })
        .collect()
}

fn parse_descr(descr: &str) -> Result<(DType, bool), String> {
    let (order, code) = match descr.chars().next() {
        Some(c @ ('<' | '>' | '=' | '|')) => (c, &descr[1..]),
        _ => ('=', descr),
    };
    let big = order == '>' || (order == '=' && cfg!(target_endian = "big"));
    let dtype = match code {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "f2" => DType::F16,
        "u4" => DType::U32,
        "i4" => DType::I32,
        "u1" => DType::U8,
        "i1" => DType::I8,
        "i8" => {
            return Err(
                "holds int64; convert with a.astype(np.int32) or a.astype(np.uint32)".into()
            );
        }
        "u8" => return Err("holds uint64; convert with a.astype(np.uint32)".into()),
        "b1" => return Err("holds bool; convert masks with a.astype(np.uint32)".into()),
        other => {
            return Err(format!(
                "holds dtype {other:?}; fastpath reads float32, float64, float16, uint32, int32, uint8 and int8"
            ));
        }
    };
    Ok((dtype, big))
}

fn descr_of(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::U32 => "<u4",
        DType::I32 => "<i4",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
    }
}

/// Serializes an array as a version 1.0 `.npy` file (little-endian, C order).
pub fn to_bytes(array: &HostArray) -> Vec<u8> {
    let shape = match array.shape() {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr_of(array.dtype())
    );
    // Pad so the data starts on a 64-byte boundary, header ends with '\n' (numpy's layout).
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.div_ceil(64) * 64 - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + array.bytes().len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(array.bytes());
    out
}

/// Writes an `.npy` file atomically: the data goes to a temporary file beside the target,
/// which is renamed over it only after everything was written and synced. On failure nothing
/// is left under `path`.
pub fn write(path: &Path, array: &HostArray) -> Result<(), String> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&to_bytes(array))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_dtype_and_rank() {
        let arrays = [
            HostArray::vec_f32(vec![1.0, -2.5, f32::NAN]),
            HostArray::scalar_u32(7),
            HostArray::u32(vec![2, 3], (0..6).collect()),
            HostArray::vec_f32(vec![]),
        ];
        for a in arrays {
            let bytes = to_bytes(&a);
            assert_eq!((bytes.len() - a.bytes().len()) % 64, 0, "data starts 64-byte aligned");
            let b = parse(&bytes).unwrap();
            assert_eq!(a.shape(), b.shape());
            assert_eq!(a.bytes(), b.bytes());
        }
    }

    /// Header written by numpy 1.26 for np.arange(3, dtype='>f4') (big-endian).
    #[test]
    fn reads_big_endian_files() {
        let mut bytes =
            b"\x93NUMPY\x01\x00v\x00{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }"
                .to_vec();
        while bytes.len() < 127 {
            bytes.push(b' ');
        }
        bytes.push(b'\n');
        for v in [0.0f32, 1.0, 2.0] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let a = parse(&bytes).unwrap();
        assert_eq!(a.f32s(), &[0.0, 1.0, 2.0]);
    }

    #[test]
    fn explains_unsupported_files() {
        assert!(parse(b"hello world!").unwrap_err().contains("not a .npy file"));
        let mut int64 = to_bytes(&HostArray::vec_u32(vec![1, 2, 3, 4]));
        let at = int64.windows(3).position(|w| w == b"<u4").unwrap();
        int64[at..at + 3].copy_from_slice(b"<i8");
        assert!(parse(&int64).unwrap_err().contains("int64"));
        let mut truncated = to_bytes(&HostArray::vec_f32(vec![1.0; 10]));
        truncated.truncate(truncated.len() - 4);
        assert!(parse(&truncated).unwrap_err().contains("truncated"));
    }

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("fastpath-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("missing-subdir").join("out.npy");
        assert!(write(&target, &HostArray::scalar_f32(1.0)).is_err());
        assert!(!target.exists());
        let ok = dir.join("out.npy");
        write(&ok, &HostArray::scalar_f32(1.0)).unwrap();
        assert_eq!(read(&ok).unwrap(), HostArray::scalar_f32(1.0));
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
