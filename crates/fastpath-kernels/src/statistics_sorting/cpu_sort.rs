//! CPU sorts: a stable radix sort with 8-bit digits that scatters through DRAM as little as
//! possible — one MSD pass, then LSD passes while each bucket sits in cache.
//!
//! The first pass scatters the keys by their most significant differing byte straight into
//! the result (parallel over contiguous parts; a part's keys of digit d go after those of
//! every earlier part, so the pass is stable). When that byte would leave buckets far larger
//! than the cache — float keys, whose top byte is mostly sign and exponent — the first digit
//! is 16 bits wide instead. Buckets are then sorted in parallel: one that fits in L2
//! (≤ 128 Ki keys) is finished by LSD passes over its remaining bytes; a larger one (skewed
//! keys) gets another stable MSD pass first. Uniform 2^24 keys, u32 or f32, thus cost one
//! scatter through memory plus cache-resident work. Passes in which every key has the same
//! digit are skipped (narrow-range keys cost less). Every pass is stable, so a payload moves
//! with its key and equal keys keep their input order. f32 sorts fuse the key transform into
//! the first pass and the inverse into each finished bucket.

use rayon::prelude::*;

use super::keys::{f32_from_sort_key, f32_sort_key};

/// Below this many keys a comparison sort beats radix passes.
const TINY: usize = 64;
/// Buckets up to this many keys are finished by LSD passes in cache (keys + scratch, with a
/// payload twice that, stay within a typical 2 MiB L2).
const CACHE_KEYS: usize = 1 << 17;
/// Below this many keys the whole sort runs on one thread.
const SEQUENTIAL: usize = 1 << 16;
/// Buckets larger than this spread their sub-buckets over threads.
const PARALLEL_BUCKET: usize = 1 << 20;
/// Smallest part a thread scatters in the first pass.
const MIN_PART: usize = 1 << 15;

/// Scatter destinations written from several threads; every position is written by exactly
/// one thread (the digit offsets of different parts are disjoint).
#[derive(Clone, Copy)]
struct Out(*mut u32);
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Pointer to element `i` (a method, so closures capture the whole `Out`).
    ///
    /// # Safety
    /// `i` must be within the allocation.
    #[inline]
    unsafe fn at(self, i: usize) -> *mut u32 {
        unsafe { self.0.add(i) }
    }
}

#[inline]
fn digit(key: u32, shift: u32) -> usize {
    ((key >> shift) & 0xFF) as usize
}

fn exclusive_offsets(hist: &[u32; 256]) -> [u32; 256] {
    let mut off = [0u32; 256];
    let mut run = 0u32;
    for d in 0..256 {
        off[d] = run;
        run += hist[d];
    }
    off
}

/// A sorted copy of `keys` (ascending, stable) and of `payload` permuted alike.
pub fn radix_sorted_u32(keys: &[u32], payload: Option<&[u32]>) -> (Vec<u32>, Option<Vec<u32>>) {
    sorted_mapped(keys, payload, &|k| k, &|k| k)
}

/// Sorts `keys` ascending and stably in place, permuting `payload` (same length) alike.
pub fn radix_sort_u32(keys: &mut Vec<u32>, payload: Option<&mut Vec<u32>>) {
    let (k, p) = radix_sorted_u32(keys, payload.as_deref().map(|p| &p[..]));
    *keys = k;
    if let (Some(dst), Some(p)) = (payload, p) {
        *dst = p;
    }
}

/// A sorted copy of f32 values given as bits, in the documented total order: NaN last,
/// −0.0 before +0.0; every bit pattern is returned unchanged.
pub fn sorted_f32_bits(bits: &[u32]) -> Vec<u32> {
    sorted_mapped(bits, None, &f32_sort_key, &f32_from_sort_key).0
}

/// Sorts (key, value) pairs by key, equal keys by value (the bitonic KV kernel's order).
pub fn sort_pairs_by_key_then_value(keys: &mut Vec<u32>, values: &mut Vec<u32>) {
    // LSD on the composite: values first, then a stable sort by key.
    radix_sort_u32(values, Some(keys));
    radix_sort_u32(keys, Some(values));
}

/// A zero-filled buffer for `n` u32 that is about to be written in full. On Linux it asks for
/// transparent huge pages first, as numpy does for large arrays: faulting in 64 MiB as 4 KiB
/// pages (16 Ki faults, each zeroing a page) costs as much as a pass of the sort, and more
/// on a virtual machine.
fn output_buffer(n: usize) -> Vec<u32> {
    let mut v = vec![0u32; n];
    advise_huge_pages(&mut v);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &mut [u32]) {
    const HUGE_PAGE: usize = 2 << 20;
    const MADV_HUGEPAGE: i32 = 14;
    unsafe extern "C" {
        // libc's madvise(2); std already links libc on Linux.
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    let start = (v.as_mut_ptr() as usize).next_multiple_of(4096);
    let end = (v.as_ptr() as usize + std::mem::size_of_val(v)) & !4095;
    if end >= start + HUGE_PAGE {
        // SAFETY: the range lies inside `v`'s allocation; the advice changes no contents. A
        // failure (THP disabled) only leaves the default pages.
        unsafe { madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_v: &mut [u32]) {}

/// Keys with the payload that moves with them.
struct Lane<'a> {
    keys: &'a mut [u32],
    pay: Option<&'a mut [u32]>,
}

impl<'a> Lane<'a> {
    fn new(keys: &'a mut [u32], pay: Option<&'a mut [u32]>) -> Self {
        Lane { keys, pay }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn reborrow(&mut self) -> Lane<'_> {
        Lane { keys: self.keys, pay: self.pay.as_deref_mut() }
    }

    /// Consecutive sub-lanes of the given lengths.
    fn split(self, lens: &[usize]) -> Vec<Lane<'a>> {
        let pays: Vec<Option<&'a mut [u32]>> = match self.pay {
            Some(p) => split_by(p, lens).into_iter().map(Some).collect(),
            None => lens.iter().map(|_| None).collect(),
        };
        split_by(self.keys, lens).into_iter().zip(pays).map(|(k, p)| Lane::new(k, p)).collect()
    }

    fn copy_from(&mut self, src: &Lane<'_>) {
        self.keys.copy_from_slice(src.keys);
        if let (Some(d), Some(s)) = (self.pay.as_deref_mut(), src.pay.as_deref()) {
            d.copy_from_slice(s);
        }
    }
}

/// Splits `v` into consecutive slices of the given lengths.
fn split_by<'a>(v: &'a mut [u32], lens: &[usize]) -> Vec<&'a mut [u32]> {
    let mut out = Vec::with_capacity(lens.len());
    let mut rest = v;
    for &len in lens {
        let (head, tail) = rest.split_at_mut(len);
        out.push(head);
        rest = tail;
    }
    out
}

/// Stable sort of `keys` by `into(key)`; the stored keys come back as `out(into(key))`.
fn sorted_mapped(
    keys: &[u32],
    payload: Option<&[u32]>,
    into: &(impl Fn(u32) -> u32 + Sync),
    out: &(impl Fn(u32) -> u32 + Sync),
) -> (Vec<u32>, Option<Vec<u32>>) {
    let n = keys.len();
    if let Some(p) = payload {
        assert_eq!(p.len(), n, "payload length must match the keys");
    }
    if n < SEQUENTIAL {
        let mut result: Vec<u32> = keys.iter().map(|&k| into(k)).collect();
        let mut result_pay = payload.map(<[u32]>::to_vec);
        let mut scratch = vec![0u32; n];
        let mut pscratch = payload.map(|_| vec![0u32; n]);
        sort_in(
            Lane::new(&mut result, result_pay.as_deref_mut()),
            Lane::new(&mut scratch, pscratch.as_deref_mut()),
            4,
        );
        result.iter_mut().for_each(|k| *k = out(*k));
        return (result, result_pay);
    }

    let threads = rayon::current_num_threads().max(1);
    let part_len = n.div_ceil(threads * 4).max(MIN_PART);
    // One byte spreads uniform integers well, but float keys crowd into the few sign and
    // exponent values of their top byte. When a bucket would be far too big for cache, a
    // 16-bit first digit reaching into the mantissa saves a second scatter of most of the
    // keys. A strided sample predicts that; a wrong guess costs one extra counting read.
    let crowded = |share: f64| share * n as f64 > (4 * CACHE_KEYS) as f64;
    let sample_top_share = {
        let step = (n / 4096).max(1);
        let mut h = [0u32; 256];
        for i in (0..n).step_by(step) {
            h[digit(into(keys[i]), 24)] += 1;
        }
        *h.iter().max().unwrap() as f64 / n.div_ceil(step) as f64
    };
    let wide = if crowded(sample_top_share) {
        let counts = count_digits(keys, part_len, into, 16, 16);
        column_totals(&counts).iter().all(|&t| t < n).then_some(counts)
    } else {
        None
    };
    let (shift, counts) = match wide {
        Some(counts) => (16, counts),
        None => {
            // The most significant byte on which the keys differ (the bytes above it are
            // equal), then possibly a 16-bit digit starting there.
            let mut msd = if crowded(sample_top_share) { 8 } else { 24 };
            let byte_counts = loop {
                let counts = count_digits(keys, part_len, into, msd, 8);
                if column_totals(&counts).iter().all(|&t| t < n) {
                    break counts;
                }
                if msd == 0 {
                    // Every key is the same: the stable order is the input order.
                    let result = keys.iter().map(|&k| out(into(k))).collect();
                    return (result, payload.map(<[u32]>::to_vec));
                }
                msd -= 8;
            };
            let biggest = column_totals(&byte_counts).into_iter().max().unwrap_or(0);
            if msd >= 8 && biggest > 4 * CACHE_KEYS {
                (msd - 8, count_digits(keys, part_len, into, msd - 8, 16))
            } else {
                (msd, byte_counts)
            }
        }
    };
    let bins = counts[0].len();
    let mask = (bins - 1) as u32;

    // First pass, parallel over parts and stable (digit-major, part-minor offsets), straight
    // into the result.
    let totals = column_totals(&counts);
    let mut offsets = vec![vec![0u32; bins]; counts.len()];
    let mut run = 0u32;
    for d in 0..bins {
        for (p, h) in counts.iter().enumerate() {
            offsets[p][d] = run;
            run += h[d];
        }
    }
    let mut result = output_buffer(n);
    let mut result_pay = payload.map(|_| output_buffer(n));
    {
        let ok = Out(result.as_mut_ptr());
        let op = Out(result_pay.as_mut().map_or(std::ptr::null_mut(), |p| p.as_mut_ptr()));
        let pay_in: &[u32] = payload.unwrap_or(&[]);
        let has_payload = payload.is_some();
        keys.par_chunks(part_len).zip(offsets.into_par_iter()).enumerate().for_each(
            |(part, (chunk, mut off))| {
                let base = part * part_len;
                for (i, &k) in chunk.iter().enumerate() {
                    let m = into(k);
                    let d = ((m >> shift) & mask) as usize;
                    // SAFETY: d < bins; `pos` is in this part's exclusive range for digit d.
                    unsafe {
                        let slot = off.get_unchecked_mut(d);
                        let pos = *slot as usize;
                        *slot += 1;
                        *ok.at(pos) = m;
                        if has_payload {
                            *op.at(pos) = *pay_in.get_unchecked(base + i);
                        }
                    }
                }
            },
        );
    }

    // Sort every bucket by the bytes below the first digit, buckets in parallel. A bucket that
    // fits in cache borrows a scratch buffer kept per thread (no fresh pages to fault in);
    // a larger one gets its own.
    let digits = shift / 8;
    let has_payload = payload.is_some();
    let mut buckets = Lane::new(&mut result, result_pay.as_deref_mut()).split(&totals);
    buckets.retain(|b| b.len() > 0);
    buckets.into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(scratch, pscratch): &mut (Vec<u32>, Vec<u32>), mut bucket| {
            let len = bucket.len();
            if len > CACHE_KEYS {
                let mut own = output_buffer(len);
                let mut own_pay = output_buffer(if has_payload { len } else { 0 });
                let pay = has_payload.then_some(&mut own_pay[..]);
                sort_in(bucket.reborrow(), Lane::new(&mut own, pay), digits);
            } else {
                if scratch.len() < len {
                    scratch.resize(CACHE_KEYS, 0);
                    if has_payload {
                        pscratch.resize(CACHE_KEYS, 0);
                    }
                }
                let pay = has_payload.then(|| &mut pscratch[..len]);
                sort_in(bucket.reborrow(), Lane::new(&mut scratch[..len], pay), digits);
            }
            bucket.keys.iter_mut().for_each(|k| *k = out(*k));
        },
    );
    (result, result_pay)
}

/// Per part of `part_len` keys, the histogram of the `width`-bit digit at `shift` of
/// `into(key)`.
fn count_digits(
    keys: &[u32],
    part_len: usize,
    into: &(impl Fn(u32) -> u32 + Sync),
    shift: u32,
    width: u32,
) -> Vec<Vec<u32>> {
    let mask = (1u32 << width) - 1;
    keys.par_chunks(part_len)
        .map(|c| {
            let mut h = vec![0u32; 1 << width];
            for &k in c {
                h[((into(k) >> shift) & mask) as usize] += 1;
            }
            h
        })
        .collect()
}

/// Sum over parts of each digit's count.
fn column_totals(counts: &[Vec<u32>]) -> Vec<usize> {
    let mut totals = vec![0usize; counts.first().map_or(0, Vec::len)];
    for h in counts {
        for (t, &c) in totals.iter_mut().zip(h) {
            *t += c as usize;
        }
    }
    totals
}

/// Sorts `data` in place by its lowest `digits` bytes (most significant first), using
/// `scratch` (same length) as the second buffer.
fn sort_in(mut data: Lane<'_>, mut scratch: Lane<'_>, digits: u32) {
    if digits == 0 || data.len() < 2 {
        return;
    }
    if data.len() < TINY {
        small_sort(data.keys, data.pay.as_deref_mut());
        return;
    }
    if data.len() <= CACHE_KEYS {
        if lsd(&mut data, &mut scratch, digits) {
            data.copy_from(&scratch);
        }
        return;
    }
    let shift = (digits - 1) * 8;
    let Some(lens) = scatter(&data, &mut scratch, shift) else {
        return sort_in(data, scratch, digits - 1); // one digit value: nothing to split
    };
    // Sorted sub-buckets must end up back in `data`.
    let parallel = data.len() > PARALLEL_BUCKET;
    let subs = scratch.split(&lens).into_iter().zip(data.split(&lens));
    if parallel {
        subs.collect::<Vec<_>>().into_par_iter().for_each(|(s, d)| sort_to(s, d, digits - 1));
    } else {
        subs.for_each(|(s, d)| sort_to(s, d, digits - 1));
    }
}

/// Sorts the keys of `src` by their lowest `digits` bytes into `dst` (same length); `src`
/// is clobbered.
fn sort_to(mut src: Lane<'_>, mut dst: Lane<'_>, digits: u32) {
    if digits == 0 || src.len() < TINY {
        dst.copy_from(&src);
        if digits > 0 {
            small_sort(dst.keys, dst.pay.as_deref_mut());
        }
        return;
    }
    if src.len() <= CACHE_KEYS {
        if !lsd(&mut src, &mut dst, digits) {
            dst.copy_from(&src);
        }
        return;
    }
    let shift = (digits - 1) * 8;
    let Some(lens) = scatter(&src, &mut dst, shift) else {
        return sort_to(src, dst, digits - 1);
    };
    let parallel = src.len() > PARALLEL_BUCKET;
    let subs = dst.split(&lens).into_iter().zip(src.split(&lens));
    if parallel {
        subs.collect::<Vec<_>>().into_par_iter().for_each(|(d, s)| sort_in(d, s, digits - 1));
    } else {
        subs.for_each(|(d, s)| sort_in(d, s, digits - 1));
    }
}

/// Stable scatter of `src` into `dst` by the digit at `shift`; the bucket lengths, or None
/// (and nothing moved) when every key has the same digit.
fn scatter(src: &Lane<'_>, dst: &mut Lane<'_>, shift: u32) -> Option<Vec<usize>> {
    let mut hist = [0u32; 256];
    for &k in src.keys.iter() {
        hist[digit(k, shift)] += 1;
    }
    if hist.iter().any(|&c| c as usize == src.len()) {
        return None;
    }
    let mut off = exclusive_offsets(&hist);
    scatter_with(src, dst, shift, &mut off);
    Some(hist.iter().map(|&c| c as usize).collect())
}

/// Moves every key of `src` to `dst[off[digit]++]` (payload alike).
fn scatter_with(src: &Lane<'_>, dst: &mut Lane<'_>, shift: u32, off: &mut [u32; 256]) {
    match (src.pay.as_deref(), dst.pay.as_deref_mut()) {
        (Some(ps), Some(pd)) => {
            for (i, &k) in src.keys.iter().enumerate() {
                let d = digit(k, shift);
                let p = off[d] as usize;
                off[d] += 1;
                // SAFETY: offsets come from this slice's histogram, so p < len.
                unsafe {
                    *dst.keys.get_unchecked_mut(p) = k;
                    *pd.get_unchecked_mut(p) = *ps.get_unchecked(i);
                }
            }
        }
        _ => {
            for &k in src.keys.iter() {
                let d = digit(k, shift);
                let p = off[d] as usize;
                off[d] += 1;
                // SAFETY: as above.
                unsafe { *dst.keys.get_unchecked_mut(p) = k };
            }
        }
    }
}

/// LSD passes over the lowest `digits` bytes, ping-ponging between `a` (holding the keys)
/// and `b`. Returns true when the result ended in `b`.
fn lsd(a: &mut Lane<'_>, b: &mut Lane<'_>, digits: u32) -> bool {
    let n = a.len();
    let mut hist = [[0u32; 256]; 4];
    for &k in a.keys.iter() {
        for (s, h) in hist.iter_mut().enumerate().take(digits as usize) {
            h[digit(k, s as u32 * 8)] += 1;
        }
    }
    let mut in_b = false;
    for (s, h) in hist.iter().enumerate().take(digits as usize) {
        if h.iter().any(|&c| c as usize == n) {
            continue; // every key has this digit
        }
        let mut off = exclusive_offsets(h);
        if in_b {
            scatter_with(b, a, s as u32 * 8, &mut off);
        } else {
            scatter_with(a, b, s as u32 * 8, &mut off);
        }
        in_b = !in_b;
    }
    in_b
}

fn small_sort(keys: &mut [u32], payload: Option<&mut [u32]>) {
    match payload {
        None => keys.sort_unstable(),
        Some(p) => {
            let mut pairs: Vec<(u32, u32)> = keys.iter().copied().zip(p.iter().copied()).collect();
            pairs.sort_by_key(|&(k, _)| k); // stable
            for (i, (k, v)) in pairs.into_iter().enumerate() {
                keys[i] = k;
                p[i] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{uniform, uniform_u32};

    fn check_stable(keys: &[u32]) {
        let n = keys.len();
        let payload: Vec<u32> = (0..n as u32).collect();
        let (k, p) = radix_sorted_u32(keys, Some(&payload));
        let p = p.unwrap();
        let mut want: Vec<(u32, u32)> = keys.iter().copied().zip(payload).collect();
        want.sort_by_key(|x| x.0);
        assert!(k.iter().zip(&p).eq(want.iter().map(|(a, b)| (a, b))), "n={n}");
        let (plain, _) = radix_sorted_u32(keys, None);
        assert!(plain.iter().eq(want.iter().map(|w| &w.0)), "n={n} keys only");
    }

    #[test]
    fn radix_sort_is_stable_and_sorted() {
        for n in [0usize, 1, 5, TINY, 1000, SEQUENTIAL - 1, SEQUENTIAL, 100_000, (1 << 20) + 7] {
            let keys: Vec<u32> =
                uniform_u32(n, n as u64).iter().map(|k| k % 1000 * 4_000_037).collect();
            check_stable(&keys);
            check_stable(&uniform_u32(n, 7));
        }
    }

    #[test]
    fn skewed_keys_take_the_recursive_paths() {
        let n = (1 << 22) + 3;
        // One top byte for every key: the first pass uses the next byte.
        let same_top: Vec<u32> =
            uniform_u32(n, 1).iter().map(|k| k & 0x00FF_FFFF | 0x4200_0000).collect();
        check_stable(&same_top);
        // Most keys in one bucket (larger than the cache), the rest spread.
        let skewed: Vec<u32> = uniform_u32(n, 2)
            .iter()
            .map(|&k| if k % 8 != 0 { k & 0x00FF_FFFF | 0x8000_0000 } else { k })
            .collect();
        check_stable(&skewed);
        // Keys differing only in the top byte: the lower passes are skipped.
        let top_only: Vec<u32> =
            (0..n as u64).map(|i| ((i * 7919 % 251) as u32) << 24 | 0x00AB_CDEF).collect();
        check_stable(&top_only);
        // Floats: a few huge buckets (sign and exponent) that need a second MSD pass.
        let x = uniform(n, -1.0, 1.0, 3);
        let bits: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
        let mut want = x.clone();
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let got = sorted_f32_bits(&bits);
        assert!(got.iter().zip(&want).all(|(g, w)| *g == w.to_bits()));
    }
}
