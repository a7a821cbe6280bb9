//! The CPU map template shared by the elementwise domains: out[i] = f(a[i], b[i], ...) over
//! 64 Ki-element chunks in parallel (rayon), each chunk's loop compiled for the widest SIMD
//! the CPU has.
//!
//! The loops run inside [`with_widest_simd`] (see `crate::simd`). The kernels' element
//! functions are branch-free (see [`super::math`]), so every level vectorises; they receive a
//! [`Madd`] saying whether the level has FMA, a constant that inlining folds away.
//!
//! A scalar operand (a 0-d array under the broadcast convention) is folded into the element
//! function as a constant, so each operand pattern gets its own monomorphised loop instead
//! of a per-element branch.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::array::HostArray;
use crate::cpu::{CHUNK, chunk_len};
use crate::simd::{Madd, with_widest_simd};

/// One operand of a map: a whole array, or one value broadcast to every position.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand<'a> {
    Array(&'a [f32]),
    Scalar(f32),
}

impl<'a> Operand<'a> {
    /// A 0-d array is a broadcast scalar; anything else is read element by element.
    pub(crate) fn of(array: &'a HostArray) -> Self {
        if array.shape().is_empty() {
            Operand::Scalar(array.f32s()[0])
        } else {
            Operand::Array(array.f32s())
        }
    }
}

/// out[i] = f(x[i]).
pub(crate) fn map_unary<O, F>(x: &[f32], f: F) -> Vec<O>
where
    O: Send,
    F: Fn(f32, Madd) -> O + Sync,
{
    filled_output(x.len(), |start, o| {
        let x = &x[start..start + o.len()];
        with_widest_simd(
            #[inline(always)]
            |m| unary_loop(x, o, m, &f),
        )
    })
}

/// out[i] = f(a[i], b[i]) with `b` an array of a's length or a broadcast scalar.
pub(crate) fn map_binary<O, F>(a: &[f32], b: Operand<'_>, f: F) -> Vec<O>
where
    O: Send,
    F: Fn(f32, f32, Madd) -> O + Sync,
{
    match b {
        Operand::Scalar(s) => map_unary(a, move |x, m| f(x, s, m)),
        Operand::Array(b) => {
            assert_eq!(a.len(), b.len(), "validated operands have one length");
            filled_output(a.len(), |start, o| {
                let range = start..start + o.len();
                let (a, b) = (&a[range.clone()], &b[range]);
                with_widest_simd(
                    #[inline(always)]
                    |m| binary_loop(a, b, o, m, &f),
                )
            })
        }
    }
}

/// out[i] = f(a[i], b[i], c[i]) with `b` and `c` each an array or a broadcast scalar.
pub(crate) fn map_ternary<F>(a: &[f32], b: Operand<'_>, c: Operand<'_>, f: F) -> Vec<f32>
where
    F: Fn(f32, f32, f32, Madd) -> f32 + Sync,
{
    match (b, c) {
        (Operand::Scalar(b), Operand::Scalar(c)) => map_unary(a, move |x, m| f(x, b, c, m)),
        (Operand::Array(b), Operand::Scalar(c)) => {
            map_binary(a, Operand::Array(b), move |x, y, m| f(x, y, c, m))
        }
        (Operand::Scalar(b), Operand::Array(c)) => {
            map_binary(a, Operand::Array(c), move |x, z, m| f(x, b, z, m))
        }
        (Operand::Array(b), Operand::Array(c)) => {
            assert!(a.len() == b.len() && a.len() == c.len(), "validated operands have one length");
            filled_output(a.len(), |start, o| {
                let range = start..start + o.len();
                let (a, b, c) = (&a[range.clone()], &b[range.clone()], &c[range]);
                with_widest_simd(
                    #[inline(always)]
                    |m| ternary_loop(a, b, c, o, m, &f),
                )
            })
        }
    }
}

// The loops write every element of `out` (the operands have its length, asserted), which is
// what `filled_output` relies on.

#[inline(always)]
fn unary_loop<O>(x: &[f32], out: &mut [MaybeUninit<O>], m: Madd, f: &impl Fn(f32, Madd) -> O) {
    assert_eq!(x.len(), out.len());
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(f(v, m));
    }
}

#[inline(always)]
fn binary_loop<O>(
    a: &[f32],
    b: &[f32],
    out: &mut [MaybeUninit<O>],
    m: Madd,
    f: &impl Fn(f32, f32, Madd) -> O,
) {
    assert!(a.len() == out.len() && b.len() == out.len());
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.write(f(x, y, m));
    }
}

#[inline(always)]
fn ternary_loop(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    out: &mut [MaybeUninit<f32>],
    m: Madd,
    f: &impl Fn(f32, f32, f32, Madd) -> f32,
) {
    assert!(a.len() == out.len() && b.len() == out.len() && c.len() == out.len());
    for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
        o.write(f(x, y, z, m));
    }
}

/// Runs `f(start, chunk)` over [`chunk_len`]-sized pieces of `out`, in parallel when there is
/// more than one (the same policy as [`crate::cpu::map_chunks`], for any number of inputs).
fn for_each_chunk<O: Send>(out: &mut [O], f: impl Fn(usize, &mut [O]) + Sync) {
    if out.len() <= CHUNK {
        f(0, out);
        return;
    }
    let chunk = chunk_len(out.len());
    out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i * chunk, o));
}

/// A fresh output of `n` elements, written by `fill(start, chunk)` over [`chunk_len`]-sized
/// pieces (in parallel). The buffer is not zeroed first: a block the allocator reuses would
/// otherwise cost a whole extra pass of writes (calloc must clear it), which numpy's and
/// PyTorch's uninitialised outputs do not pay. Large outputs are backed by huge pages like
/// numpy's arrays: first-touch faults on 4 KiB pages cost more than the map itself at 2^24.
/// `fill` must write every element of each chunk it is given (the map loops do).
fn filled_output<O: Send>(n: usize, fill: impl Fn(usize, &mut [MaybeUninit<O>]) + Sync) -> Vec<O> {
    let mut out: Vec<O> = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    advise_huge_pages(spare);
    for_each_chunk(spare, fill);
    // SAFETY: for_each_chunk handed every element of 0..n to `fill` exactly once, and each
    // map loop writes every element of its chunk (it asserts the lengths match). A panic in
    // `fill` leaves the length at 0, so nothing uninitialised is ever read or dropped.
    unsafe { out.set_len(n) };
    out
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(buffer: &mut [T]) {
    use std::ffi::{c_int, c_void};
    /// numpy's threshold for the same advice.
    const MIN_BYTES: usize = 4 << 20;
    /// A multiple of every Linux page size (4, 16 and 64 KiB).
    const ALIGN: usize = 64 << 10;
    const MADV_HUGEPAGE: c_int = 14;
    unsafe extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    let bytes = std::mem::size_of_val(buffer);
    if bytes < MIN_BYTES {
        return;
    }
    let begin = buffer.as_mut_ptr() as usize;
    let start = begin.next_multiple_of(ALIGN);
    let end = (begin + bytes) / ALIGN * ALIGN;
    // SAFETY: an advisory call on whole pages inside the allocation; it changes no contents
    // and its failure (e.g. huge pages disabled) is harmless, so the result is ignored.
    unsafe {
        madvise(start as *mut c_void, end - start, MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_buffer: &mut [T]) {}
