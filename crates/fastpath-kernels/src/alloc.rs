//! A global-allocator wrapper that staggers the start of large blocks ("cache colouring").
//!
//! Allocators that serve large blocks from their own aligned regions (mimalloc puts each one
//! at a 64 KiB–2 MiB boundary) give every big array the same low address bits. A kernel that
//! streams several of them at once (`out[i] = a[i] * b[i]`) then reads and writes lines that
//! fall into the same cache sets, and the streams evict each other. On the 2-core AMD EPYC
//! development machine a single-threaded multiply of two 2^22-element arrays took 2.32 ms
//! with mimalloc's blocks and 1.51 ms with the same blocks offset by multiples of 4 KiB — as
//! fast as glibc's (whose blocks happen to start at varied offsets) and numpy's.
//!
//! [`ColoredAlloc`] wraps any [`GlobalAlloc`]: blocks of [`COLOR_MIN_BYTES`] or more start
//! at one of [`COLORS`] offsets, 4 KiB apart, taken in turn; smaller blocks pass through
//! untouched. The `fastpath` binary wraps mimalloc with it; a program linking the library
//! can do the same with its own allocator:
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: fastpath_kernels::ColoredAlloc<std::alloc::System> =
//!     fastpath_kernels::ColoredAlloc::new(std::alloc::System);
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Blocks at least this large are coloured (smaller ones fit in a cache way anyway).
pub const COLOR_MIN_BYTES: usize = 1 << 20;
/// Distinct start offsets.
pub const COLORS: usize = 16;
/// Distance between two offsets: a page, so consecutive colours land in different L2 and L3
/// sets while keeping every alignment up to a page.
pub const COLOR_STEP: usize = 4096;
/// Bytes in front of a coloured block that hold the underlying block's address.
const HEADER: usize = 64;
/// Extra bytes a coloured block costs: the header and the largest offset (under 6 % of a
/// 1 MiB block).
const PAD: usize = HEADER + (COLORS - 1) * COLOR_STEP;

/// Wraps an allocator so large blocks start at staggered offsets (see the module docs).
pub struct ColoredAlloc<A> {
    inner: A,
    next: AtomicUsize,
}

impl<A> ColoredAlloc<A> {
    pub const fn new(inner: A) -> Self {
        ColoredAlloc { inner, next: AtomicUsize::new(0) }
    }
}

/// Whether a block of this layout is coloured. Alignments above the header's (SIMD types
/// ask for at most 64 bytes; page-aligned requests are rare) pass through.
fn colored(layout: Layout) -> bool {
    layout.size() >= COLOR_MIN_BYTES && layout.align() <= HEADER
}

/// The layout asked of the inner allocator for a coloured block of `layout`.
fn padded(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().checked_add(PAD)?, HEADER).ok()
}

impl<A: GlobalAlloc> ColoredAlloc<A> {
    /// Places a coloured block inside the inner block `base` and records `base` in front of it.
    ///
    /// # Safety
    /// `base` must be a live block of `padded(layout)` bytes.
    unsafe fn place(&self, base: *mut u8) -> *mut u8 {
        if base.is_null() {
            return base;
        }
        let color = self.next.fetch_add(1, Ordering::Relaxed) % COLORS;
        // SAFETY: HEADER + color * COLOR_STEP <= PAD, inside the padded block, and the header
        // slot (8 bytes before the block) lies after `base`.
        unsafe {
            let block = base.add(HEADER + color * COLOR_STEP);
            block.cast::<*mut u8>().sub(1).write(base);
            block
        }
    }

    /// The inner block of a coloured block.
    ///
    /// # Safety
    /// `block` must come from [`ColoredAlloc::place`].
    unsafe fn base_of(block: *mut u8) -> *mut u8 {
        unsafe { block.cast::<*mut u8>().sub(1).read() }
    }
}

// SAFETY: every block handed out is either the inner allocator's own (uncoloured layouts) or
// lies inside an inner block of `padded(layout)` bytes at an offset that keeps the layout's
// alignment (a multiple of 64 bytes, and colouring only applies to alignments up to 64), and
// is returned to the inner allocator with that same padded layout. Whether a block is
// coloured depends only on its layout, which `dealloc` and `realloc` receive unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for ColoredAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !colored(layout) {
            return unsafe { self.inner.alloc(layout) };
        }
        let Some(outer) = padded(layout) else { return std::ptr::null_mut() };
        unsafe { self.place(self.inner.alloc(outer)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !colored(layout) {
            return unsafe { self.inner.alloc_zeroed(layout) };
        }
        let Some(outer) = padded(layout) else { return std::ptr::null_mut() };
        unsafe { self.place(self.inner.alloc_zeroed(outer)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !colored(layout) {
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        let outer = padded(layout).expect("the layout was padded when allocated");
        unsafe { self.inner.dealloc(Self::base_of(ptr), outer) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !colored(layout) && !colored(new_layout) {
            return unsafe { self.inner.realloc(ptr, layout, new_size) };
        }
        // Crossing the threshold, or resizing a coloured block: a fresh block and a copy (the
        // inner allocator could not keep the offset in place anyway).
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::System;

    use super::*;

    #[test]
    fn large_blocks_start_at_staggered_aligned_offsets_and_small_ones_pass_through() {
        let a = ColoredAlloc::new(System);
        let layout = Layout::from_size_align(COLOR_MIN_BYTES, 64).unwrap();
        let blocks: Vec<*mut u8> = (0..COLORS).map(|_| unsafe { a.alloc(layout) }).collect();
        let mut offsets = std::collections::BTreeSet::new();
        for (i, &p) in blocks.iter().enumerate() {
            assert!(!p.is_null());
            assert_eq!(p as usize % 64, 0, "alignment kept");
            let base = unsafe { ColoredAlloc::<System>::base_of(p) };
            offsets.insert(p as usize - base as usize);
            // The whole block is usable.
            unsafe {
                p.write_bytes(i as u8, layout.size());
                assert_eq!(*p.add(layout.size() - 1), i as u8);
            }
        }
        assert_eq!(offsets.len(), COLORS, "each colour used once in {COLORS} blocks");
        assert!(offsets.iter().all(|o| (o - HEADER).is_multiple_of(COLOR_STEP)));
        for p in blocks {
            unsafe { a.dealloc(p, layout) };
        }
        // Below the threshold, or with a large alignment, blocks are the inner allocator's.
        for layout in [
            Layout::from_size_align(COLOR_MIN_BYTES - 1, 8).unwrap(),
            Layout::from_size_align(COLOR_MIN_BYTES, 4096).unwrap(),
        ] {
            assert!(!colored(layout));
            let p = unsafe { a.alloc(layout) };
            assert_eq!(p as usize % layout.align(), 0);
            unsafe { a.dealloc(p, layout) };
        }
    }

    #[test]
    fn zeroed_blocks_and_reallocation_across_the_threshold_keep_contents() {
        let a = ColoredAlloc::new(System);
        let big = Layout::from_size_align(2 * COLOR_MIN_BYTES, 16).unwrap();
        let z = unsafe { a.alloc_zeroed(big) };
        assert!(unsafe { std::slice::from_raw_parts(z, big.size()) }.iter().all(|&b| b == 0));
        unsafe { a.dealloc(z, big) };

        // Small → large → larger → small, through realloc, as a growing Vec would.
        let small = Layout::from_size_align(4096, 8).unwrap();
        let mut p = unsafe { a.alloc(small) };
        unsafe { p.write_bytes(7, small.size()) };
        let mut layout = small;
        for size in [COLOR_MIN_BYTES + 8, 3 * COLOR_MIN_BYTES, 1000] {
            p = unsafe { a.realloc(p, layout, size) };
            assert!(!p.is_null());
            let kept = layout.size().min(size).min(4096);
            assert!(unsafe { std::slice::from_raw_parts(p, kept) }.iter().all(|&b| b == 7));
            layout = Layout::from_size_align(size, 8).unwrap();
        }
        unsafe { a.dealloc(p, layout) };
    }

    #[test]
    fn vectors_through_the_wrapper_behave_like_vectors() {
        // The wrapper as a Vec's allocator would see it: grow by pushing past the threshold.
        let a = ColoredAlloc::new(System);
        let mut layout = Layout::array::<u32>(1).unwrap();
        let mut p = unsafe { a.alloc(layout) }.cast::<u32>();
        let mut cap = 1usize;
        for i in 0..(COLOR_MIN_BYTES / 2) {
            if i == cap {
                let new = Layout::array::<u32>(cap * 2).unwrap();
                p = unsafe { a.realloc(p.cast(), layout, new.size()) }.cast();
                layout = new;
                cap *= 2;
            }
            unsafe { p.add(i).write(i as u32) };
        }
        assert!(layout.size() >= COLOR_MIN_BYTES);
        let values = unsafe { std::slice::from_raw_parts(p, COLOR_MIN_BYTES / 2) };
        assert!(values.iter().enumerate().all(|(i, &v)| v == i as u32));
        unsafe { a.dealloc(p.cast(), layout) };
    }
}
