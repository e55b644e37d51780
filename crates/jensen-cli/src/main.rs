//! `jensen`: check, explain, generate and fit model files; select among them, predict, score,
//! sample and plot with a saved fit.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, with every allocation of a page or more aligned to a cache line
/// (64 bytes). The system hands out large blocks 16 bytes past a page boundary, so a vector
/// of eight `f64` lanes loaded from the start of one (a data column, a block of
/// responsibilities, a chain's emissions) would straddle two cache lines at every load;
/// aligned, the kernels' loads are whole lines. Small allocations are left as they are.
struct LineAligned;

/// Allocations of at least this many bytes are aligned to [`LINE`].
const LARGE: usize = 4096;
/// A cache line.
const LINE: usize = 64;

/// `layout`, with its alignment raised to a cache line when it is large.
fn widened(layout: Layout) -> Layout {
    if layout.size() >= LARGE && layout.align() < LINE {
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block is allocated and freed by `System` with the same (widened) layout,
// which is a valid layout of at least the size and alignment asked for; `realloc` moves a
// block whose widened alignment changes, so `dealloc` always sees the layout it came with.
unsafe impl GlobalAlloc for LineAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `GlobalAlloc::alloc`; the widened layout has a non-zero size too.
        unsafe { System.alloc(widened(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(widened(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` (or `realloc`) with this layout, widened the same.
        unsafe { System.dealloc(ptr, widened(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (old, new) = (
            widened(layout),
            widened(
                // SAFETY: the caller guarantees that `new_size` with this alignment is a valid
                // layout (`GlobalAlloc::realloc`).
                unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) },
            ),
        );
        if old.align() == new.align() {
            // SAFETY: `ptr` was allocated with `old`; the alignment is kept.
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // Crossing `LARGE`: a new block with the new alignment, the values copied.
        // SAFETY: `new` has a non-zero size (at least one of the sizes is `LARGE` or more,
        // and a shrink to zero is not allowed by `realloc`'s contract).
        let moved = unsafe { System.alloc(new) };
        if !moved.is_null() {
            // SAFETY: both blocks hold at least the smaller size and do not overlap; the old
            // block is freed with the layout it was allocated with.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                System.dealloc(ptr, old);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: LineAligned = LineAligned;

fn main() -> std::process::ExitCode {
    jensen_cli::cli::main()
}

#[cfg(test)]
mod tests {
    use super::{LARGE, LINE};

    #[test]
    fn large_blocks_start_a_cache_line_and_keep_their_values() {
        // Grown from small to large (each reallocation crossing `LARGE` moves the block).
        let mut v: Vec<f64> = Vec::new();
        for i in 0..100_000 {
            v.push(i as f64);
            if v.capacity() * 8 >= LARGE {
                assert_eq!(v.as_ptr() as usize % LINE, 0, "capacity {}", v.capacity());
            }
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64));
        // Shrunk back below it.
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(v, (0..10).map(|i| i as f64).collect::<Vec<_>>());
        let zeros = vec![0.0f64; 1 << 20];
        assert_eq!(zeros.as_ptr() as usize % LINE, 0);
        assert!(zeros.iter().all(|&x| x == 0.0));
    }
}
