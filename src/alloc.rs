//! The global allocator: mimalloc, asked for plain blocks whenever the
//! alignment allows.
//!
//! The `mimalloc` crate hands every request to `mi_malloc_aligned`. For a
//! block size that is not a power of two (24, 40, 48 … bytes: most of the
//! evaluator's values) that call takes its slow path whenever the current
//! page has no free block, and then over-allocates to satisfy the
//! alignment. Every mimalloc block is at least word-aligned, so a request
//! whose alignment is no more than a word can use `mi_malloc` itself.
//!
//! Fresh memory costs a page fault per 4 KiB page on first touch: about
//! 10,000 of them, 15–20 % of the wall time, when evaluating a graph of a
//! few thousand derivations (bench/eval). [`pretouch`] moves most of them
//! to a helper thread: the allocator notes the highest address it has
//! handed out, and the helper populates the next [`LOOKAHEAD`] bytes above
//! it (`MADV_POPULATE_WRITE`) before the evaluator gets there. mimalloc
//! carves its arena from the bottom up, so that is where new blocks come
//! from. Peak memory grows by at most the look-ahead.

#![expect(
    unsafe_code,
    reason = "a global allocator is an unsafe trait over FFI calls"
)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
            let block: *mut u8 = if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            };
            note_end(block, layout.size());
            block
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            let block: *mut u8 = if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            };
            note_end(block, layout.size());
            block
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
            let block: *mut u8 = if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            };
            note_end(block, new_size);
            block
        }
    }
}

/// The highest end address of a block handed out so far (0: none yet).
static FRONTIER: AtomicUsize = AtomicUsize::new(0);

/// How far above [`FRONTIER`] the helper keeps memory populated.
pub const LOOKAHEAD: usize = 1 << 20;

const PAGE: usize = 4096;

/// Blocks up to this size set the frontier.
const SMALL: usize = 1024;

/// Raises [`FRONTIER`] to the end of a new block. A plain load and store:
/// only the evaluating thread allocates much, and a lost update only
/// delays the helper.
#[inline]
fn note_end(block: *mut u8, size: usize) {
    if size > SMALL {
        return;
    }
    let end = (block as usize).saturating_add(size);
    if end > FRONTIER.load(Ordering::Relaxed) {
        FRONTIER.store(end, Ordering::Relaxed);
    }
}

/// Starts the helper thread that populates memory ahead of the allocator
/// (see the module's documentation). It polls every 200 µs while the heap
/// grows and every 20 ms once it has not grown for 20 ms; it ends for
/// good if the kernel lacks `MADV_POPULATE_WRITE` (Linux 5.14).
pub fn pretouch() {
    // Best effort: without the thread, pages fault in as usual.
    let _ = std::thread::Builder::new()
        .name("kiln-pretouch".to_owned())
        .stack_size(64 * 1024)
        .spawn(pretouch_loop);
}

fn pretouch_loop() {
    let mut populated = 0usize;
    let mut last_growth = Instant::now();
    loop {
        let idle = last_growth.elapsed() > Duration::from_millis(20);
        std::thread::sleep(if idle {
            Duration::from_millis(20)
        } else {
            Duration::from_micros(200)
        });
        let frontier = FRONTIER.load(Ordering::Relaxed);
        let start = populated.max(frontier & !(PAGE - 1));
        let end = frontier.saturating_add(LOOKAHEAD) & !(PAGE - 1);
        if frontier == 0 || end <= start {
            continue;
        }
        last_growth = Instant::now();
        // SAFETY: MADV_POPULATE_WRITE only faults pages in, as a write
        // would, without changing their contents; a range that is not
        // mapped writable is refused with an error, not touched.
        let status =
            unsafe { libc::madvise(start as *mut c_void, end - start, MADV_POPULATE_WRITE) };
        if status != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            return;
        }
        populated = end;
    }
}

/// `MADV_POPULATE_WRITE` (Linux 5.14), which the libc crate does not name
/// for every target.
const MADV_POPULATE_WRITE: libc::c_int = 23;

#[cfg(test)]
mod tests {
    use super::*;

    /// The frontier only rises, and only small blocks raise it.
    #[test]
    fn frontier_follows_small_blocks() {
        // Far above any real block (the address space is 47 bits), so
        // that other tests allocating meanwhile cannot move it.
        let base = 1 << 46;
        note_end(base as *mut u8, 64);
        assert_eq!(FRONTIER.load(Ordering::Relaxed), base + 64);
        note_end((base - 4096) as *mut u8, 64);
        assert_eq!(FRONTIER.load(Ordering::Relaxed), base + 64, "never lowered");
        note_end((base + 4096) as *mut u8, SMALL + 1);
        assert_eq!(
            FRONTIER.load(Ordering::Relaxed),
            base + 64,
            "large blocks ignored"
        );
    }

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
