//! The global allocator: mimalloc, asked for plain blocks whenever the
//! alignment allows.
//!
//! The `mimalloc` crate hands every request to `mi_malloc_aligned`. For a
//! block size that is not a power of two (24, 40, 48 … bytes: most of the
//! evaluator's values) that call takes its slow path whenever the current
//! page has no free block, and then over-allocates to satisfy the
//! alignment. Every mimalloc block is at least word-aligned, so a request
//! whose alignment is no more than a word can use `mi_malloc` itself.

#![expect(
    unsafe_code,
    reason = "a global allocator is an unsafe trait over FFI calls"
)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has: block sizes are multiples of a
/// machine word and pages start aligned.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc with a fast path for word-aligned requests.
pub struct Mimalloc;

// SAFETY: mimalloc returns null or a block of at least `size` bytes; a
// word-aligned block satisfies every `layout.align() <= WORD`, and larger
// alignments go through mimalloc's aligned entry points. Blocks from
// either are freed by `mi_free` and resized by `mi_realloc*`.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; see the impl's comment.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from one of the calls above.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from one of the calls above with `layout`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size class up to a few KiB, at every alignment up to a page:
    /// the blocks are aligned, usable to their full size, and survive a
    /// resize with their contents.
    #[test]
    fn blocks_are_aligned_and_resizable() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (1..=4100).step_by(7) {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: a non-zero size; the block is written within
                // its size, resized, read back and freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size}, align {align}");
                    p.write_bytes(0xa5, size);
                    let q = a.realloc(p, layout, size * 2);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "resized: size {size}, align {align}");
                    assert!((0..size).all(|i| *q.add(i) == 0xa5));
                    a.dealloc(
                        q,
                        Layout::from_size_align(size * 2, align).expect("valid layout"),
                    );
                    let z = a.alloc_zeroed(layout);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
