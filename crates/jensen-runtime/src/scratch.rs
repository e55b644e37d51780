//! A per-thread pool of `f64` buffers for the large per-iteration work arrays of the E-step
//! (a chain's emissions and state posteriors, each `T × K`), and one of `u32` buffers for a
//! hard E-step's assignments (one per row). Freed
//! and allocated again every iteration, such buffers are handed back to the operating system
//! by the allocator and page-faulted in anew; kept here, an iteration reuses the memory of
//! the last one. Results do not depend on it: every buffer is filled before it is read.

use std::cell::RefCell;

thread_local! {
    static POOL: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
    static POOL_U32: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// Buffers kept per thread; more are dropped.
const KEPT: usize = 16;

/// A buffer of `len` copies of `fill`, from the pool when it has one.
pub fn take(len: usize, fill: f64) -> Vec<f64> {
    let mut v = fitting(len);
    v.clear();
    v.resize(len, fill);
    v
}

/// A buffer of `len` values left as they are: for a caller that writes every element before
/// it reads any (no pass to fill it).
pub fn take_written(len: usize) -> Vec<f64> {
    written(fitting(len), len)
}

/// `v` at length `len`, its values left as they are (zero past its old length).
fn written<T: Copy + Default>(mut v: Vec<T>, len: usize) -> Vec<T> {
    if v.capacity() < len {
        // A new buffer of zeros rather than the old one grown and filled: the allocator
        // gives fresh pages that are zero already, touched first by the threads that write
        // them (in parallel), not all by this one. (`vec!` of zeros asks for zeroed memory.)
        v = vec![T::default(); len];
    }
    if v.len() < len {
        v.resize(len, T::default());
    }
    v.truncate(len);
    v
}

/// The pool's smallest buffer that holds `len` values without growing, else its largest (so
/// that buffers of a few sizes, taken and given back in any order, are not regrown and
/// page-faulted anew every iteration).
fn fitting(len: usize) -> Vec<f64> {
    POOL.with(|p| fitting_in(&mut p.borrow_mut(), len))
}

fn fitting_in<T>(pool: &mut Vec<Vec<T>>, len: usize) -> Vec<T> {
    let fits = (0..pool.len())
        .filter(|&i| pool[i].capacity() >= len)
        .min_by_key(|&i| pool[i].capacity());
    let at = fits.or_else(|| (0..pool.len()).max_by_key(|&i| pool[i].capacity()));
    at.map(|i| pool.swap_remove(i)).unwrap_or_default()
}

/// Returns a buffer to the pool.
pub fn give(v: Vec<f64>) {
    POOL.with(|p| keep_in(&mut p.borrow_mut(), v));
}

fn keep_in<T>(pool: &mut Vec<Vec<T>>, v: Vec<T>) {
    if pool.len() < KEPT {
        pool.push(v);
    }
}

/// A `u32` buffer of `len` values left as they are, from the pool when it has one: for a
/// caller that writes every element before it reads any.
pub fn take_u32_written(len: usize) -> Vec<u32> {
    written(POOL_U32.with(|p| fitting_in(&mut p.borrow_mut(), len)), len)
}

/// Returns a `u32` buffer to the pool.
pub fn give_u32(v: Vec<u32>) {
    POOL_U32.with(|p| keep_in(&mut p.borrow_mut(), v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_filled_whatever_it_held() {
        let mut v = take(4, 1.0);
        v[2] = 7.0;
        give(v);
        let w = take(6, -2.0);
        assert_eq!(w, vec![-2.0; 6]);
    }
}
