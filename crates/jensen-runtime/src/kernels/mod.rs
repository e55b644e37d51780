//! Per-block kernels shared by generated code and the plan executor.
//!
//! Each emission block has four kinds of kernel:
//! - `*_add_log_density`: adds `log p(x_n | z_n = k)` for a block of rows to a column of
//!   the log-joint buffer (E-step);
//! - `accumulate_*`: adds responsibility-weighted sufficient statistics of a block of rows
//!   (E-step; statistics are plain sums, so chunks merge by addition);
//! - M-step helpers that turn pooled statistics into parameters;
//! - `*_expected`: the expected complete-data log-density from statistics, for the ELBO.
//!
//! Gaussian statistics are kept about a *centre* (the component mean before the M-step),
//! which removes the cancellation of raw second moments.

pub mod discrete;
pub mod exponential;
pub mod gaussian;
pub mod hyper;
pub(crate) mod lanes;
pub mod linear;
pub mod missing;
pub mod moments;
pub mod regression;
pub mod robust;
pub(crate) mod tiles;
pub mod vb;

/// A block's columns (or its components' columns), one slice each, held inline up to sixteen:
/// the kernels take such a list per block, and a heap allocation each time was a few per cent
/// of a small model's iteration.
pub(crate) type Slices<'a, T = f64> = smallvec::SmallVec<[&'a [T]; 16]>;

/// [`Slices`], mutable.
pub(crate) type SlicesMut<'a, T = f64> = smallvec::SmallVec<[&'a mut [T]; 16]>;

/// The columns of `x`, one slice each, if every one is contiguous (the back-ends' blocks are
/// column-major).
pub(crate) fn column_slices<'a>(x: &'a ndarray::ArrayView2<'_, f64>) -> Option<Slices<'a>> {
    x.columns().into_iter().map(|c| c.to_slice()).collect()
}

/// `x · ln y` with the convention `0 · ln 0 = 0`.
#[inline]
pub fn xlny(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

/// Smallest probability or rate the M-step returns, so that `ln` stays finite.
pub const PROB_FLOOR: f64 = 1e-12;
