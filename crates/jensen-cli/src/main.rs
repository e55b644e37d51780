//! `jensen`: check, explain, generate and fit model files; select among them, predict, score,
//! sample and plot with a saved fit.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, with every allocation of a page or more aligned to a cache line
/// (64 bytes). The system hands out large blocks 16 bytes past a page boundary, so a vector
/// of eight `f64` lanes loaded from the start of one (a data column, a block of
/// responsibilities, a chain's emissions) would straddle two cache lines at every load;
/// aligned, the kernels' loads are whole lines. Small allocations are left as they are.
///
/// A block of a megabyte or more is the system's block of 16-byte alignment [`LINE`] bytes
/// longer, the address handed out the first line boundary at least 16 bytes into it, with
/// the system's address stored in the 8 bytes before it. So such a block, zeroed, comes from
/// the C library's `calloc`, whose fresh pages are zero already and are not written until
/// used: the threads that fill a large buffer (a chain's `T × K` posteriors) take its page
/// faults in parallel, where an aligned zeroed allocation (`posix_memalign`, then a fill)
/// had one thread touch every page first. Blocks of a page up to a megabyte are the system's
/// aligned ones, as before (padded from a page up, the diagonal mixture's per-block buffers
/// seemed slower to allocate on two threads, not confirmed in later runs).
struct LineAligned;

/// Allocations of at least this many bytes are aligned to [`LINE`].
const LARGE: usize = 4096;
/// Allocations of at least this many bytes are placed in padded system blocks.
const HUGE: usize = 1 << 20;
/// A cache line.
const LINE: usize = 64;
/// The system's alignment of the large blocks (that of `malloc` and `calloc` on 64-bit
/// targets).
const SYSTEM_ALIGN: usize = 16;

/// The largest size placed in a padded system block (larger requests, which no system
/// serves, go to the system as they are).
const MOST: usize = isize::MAX as usize - 2 * LINE;

/// Whether `layout` is placed in a padded system block.
fn large(layout: Layout) -> bool {
    (HUGE..=MOST).contains(&layout.size()) && layout.align() < LINE
}

/// `layout`, with its alignment raised to a cache line when it is a page or more (and not
/// `large`: those are aligned by [`place`]).
fn widened(layout: Layout) -> Layout {
    if layout.size() >= LARGE && layout.align() < LINE {
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

/// The system block of a large allocation of `size` bytes (at most [`MOST`]).
fn padded(size: usize) -> Layout {
    debug_assert!(size <= MOST);
    // SAFETY: `SYSTEM_ALIGN` is a power of two, and `size + LINE ≤ isize::MAX − LINE` is a
    // multiple of it at most `isize::MAX` once rounded up.
    unsafe { Layout::from_size_align_unchecked(size + LINE, SYSTEM_ALIGN) }
}

/// The line-aligned address in the system block at `base` (null for null), with `base`
/// stored before it.
///
/// # Safety
/// `base` is null or a block of `padded(size)` for some size, aligned to [`SYSTEM_ALIGN`].
unsafe fn place(base: *mut u8) -> *mut u8 {
    if base.is_null() {
        return base;
    }
    // SAFETY: the stored address's 8 bytes lie between `base` and the aligned address (16 to
    // 64 bytes in, see `line_in`), aligned to 8 (the address is a multiple of 64).
    unsafe {
        let aligned = line_in(base);
        aligned.sub(8).cast::<*mut u8>().write(base);
        aligned
    }
}

/// The first line boundary at least 16 bytes into the system block at `base`: 16, 32, 48 or
/// 64 bytes in, room for the stored address, and `LINE` bytes of padding leave the caller's
/// `size` bytes inside the block.
///
/// # Safety
/// `base` is a block of `padded(size)` for some size, aligned to [`SYSTEM_ALIGN`].
unsafe fn line_in(base: *mut u8) -> *mut u8 {
    // SAFETY: the offset is at most `LINE`, inside the block.
    unsafe { base.add(LINE - (base as usize) % LINE) }
}

/// The system block of a large allocation at `ptr`.
///
/// # Safety
/// `ptr` came from [`place`].
unsafe fn base_of(ptr: *mut u8) -> *mut u8 {
    // SAFETY: `place` stored the base in the 8 bytes before `ptr`.
    unsafe { ptr.sub(8).cast::<*mut u8>().read() }
}

// SAFETY: a layout of `HUGE` bytes or more (`large`) is served by a system block of
// `padded(size)`, the address handed out 16 to 64 bytes into it and aligned to a line (so to
// the layout's alignment, which is less than a line), with `size` bytes after it inside the
// block; the block is freed with the layout it was allocated with (its size is the caller's
// size plus `LINE`, the caller's size being the one `dealloc` and `realloc` are given). Any
// other layout is the system's own, its alignment raised to a line from `LARGE` bytes
// (`widened`), and freed and reallocated with the layout widened the same way. `realloc`
// keeps a block's kind: large to large in place through the system's `realloc`, the values
// moved to the new block's line; across the kinds, a new block and a copy.
unsafe impl GlobalAlloc for LineAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            // SAFETY: a valid, non-zero layout; `place` gets the system's block or null.
            return unsafe { place(System.alloc(padded(layout.size()))) };
        }
        // SAFETY: as `GlobalAlloc::alloc`; the widened layout has a non-zero size too.
        unsafe { System.alloc(widened(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            // SAFETY: as `alloc`. (`calloc` for an alignment of 16: its fresh pages are not
            // written, and the bytes after the padding are zero like all the others.)
            return unsafe { place(System.alloc_zeroed(padded(layout.size()))) };
        }
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(widened(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if large(layout) {
            // SAFETY: `ptr` came from `place` for a block of `padded(layout.size())`.
            return unsafe { System.dealloc(base_of(ptr), padded(layout.size())) };
        }
        // SAFETY: `ptr` came from the system with this layout, widened the same.
        unsafe { System.dealloc(ptr, widened(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that `new_size` with this alignment is a valid layout
        // (`GlobalAlloc::realloc`).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (large(layout), large(new)) {
            (true, true) => {
                // SAFETY: `ptr` came from `place`; the system block is grown or shrunk (its
                // contents kept, possibly moved), then the values are moved from their old
                // offset in the block to the new block's line (`copy`: the ranges may
                // overlap), and the base stored before it afterwards (it may lie inside the
                // old range).
                unsafe {
                    let base = base_of(ptr);
                    let offset = ptr.offset_from(base) as usize;
                    let moved =
                        System.realloc(base, padded(layout.size()), padded(new_size).size());
                    if moved.is_null() {
                        return moved;
                    }
                    let aligned = line_in(moved);
                    let from = moved.add(offset);
                    if from != aligned {
                        std::ptr::copy(from, aligned, layout.size().min(new_size));
                    }
                    place(moved)
                }
            }
            (false, false) => {
                let (old, widened_new) = (widened(layout), widened(new));
                if old.align() == widened_new.align() {
                    // SAFETY: `ptr` was allocated with `old`; the alignment is kept.
                    return unsafe { System.realloc(ptr, old, new_size) };
                }
                // SAFETY: as below.
                unsafe { self.moved(ptr, layout, new) }
            }
            // Crossing `HUGE`: a new block of the other kind, the values copied.
            // SAFETY: `ptr` was allocated by `self` with `layout`; `new` is valid and has a
            // non-zero size (one of the sizes is `LARGE` or more, and a shrink to zero is not
            // allowed by `realloc`'s contract).
            _ => unsafe { self.moved(ptr, layout, new) },
        }
    }
}

impl LineAligned {
    /// A new block for `new`, the values of `ptr` (allocated with `layout`) copied, the old
    /// block freed.
    ///
    /// # Safety
    /// `ptr` was allocated by `self` with `layout`; `new` has a non-zero size.
    unsafe fn moved(&self, ptr: *mut u8, layout: Layout, new: Layout) -> *mut u8 {
        // SAFETY: as the caller guarantees; both blocks hold at least the smaller size and do
        // not overlap.
        unsafe {
            let moved = self.alloc(new);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new.size()));
                self.dealloc(ptr, layout);
            }
            moved
        }
    }
}

#[global_allocator]
static ALLOCATOR: LineAligned = LineAligned;

fn main() -> std::process::ExitCode {
    jensen_cli::cli::main()
}

#[cfg(test)]
mod tests {
    use super::{HUGE, LARGE, LINE, MOST};

    #[test]
    fn large_blocks_start_a_cache_line_and_keep_their_values() {
        // Requests no system can serve fail (null, so an error here), in either form.
        for size in [MOST, MOST + 1, isize::MAX as usize - 1] {
            let mut v: Vec<u8> = Vec::new();
            assert!(v.try_reserve_exact(size).is_err(), "{size}");
        }
        // Grown from small to large (each reallocation crossing `LARGE` or `HUGE` moves the
        // block).
        let mut v: Vec<f64> = Vec::new();
        for i in 0..HUGE / 2 {
            v.push(i as f64);
            if v.capacity() * 8 >= LARGE {
                assert_eq!(v.as_ptr() as usize % LINE, 0, "capacity {}", v.capacity());
            }
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64));
        // Shrunk while large (the system block's line may fall elsewhere: values moved).
        for len in [HUGE / 4, HUGE / 8 + 1, 60_000, 1_000] {
            v.truncate(len);
            v.shrink_to_fit();
            assert_eq!(v.as_ptr() as usize % LINE, 0);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64), "{len}");
        }
        // Zeroed blocks of many sizes, each written and freed before the next: a block the
        // system hands out again is zeroed all the same.
        for len in (HUGE / 16..HUGE / 2).step_by(HUGE / 60) {
            let mut z = vec![0.0f64; len];
            assert_eq!(z.as_ptr() as usize % LINE, 0);
            assert!(z.iter().all(|&x| x == 0.0), "{len}");
            z.fill(1.5);
        }
        // Shrunk back below it.
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(v, (0..10).map(|i| i as f64).collect::<Vec<_>>());
        let zeros = vec![0.0f64; 1 << 20];
        assert_eq!(zeros.as_ptr() as usize % LINE, 0);
        assert!(zeros.iter().all(|&x| x == 0.0));
    }
}
