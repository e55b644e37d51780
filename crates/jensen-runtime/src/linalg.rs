//! Dense linear algebra on top of faer: Cholesky factors and zero-copy views of ndarray data.
//!
//! Covariances are only ever used through their Cholesky factor `Σ = L Lᵀ`: densities need
//! triangular solves with `L` and `log|Σ| = 2 Σ log Lᵢᵢ`; no inverse or determinant is formed.

use faer::{Mat, MatMut, MatRef, Side};
use ndarray::{ArrayView2, ArrayViewMut2};

/// Lower Cholesky factor of a symmetric positive definite matrix.
#[derive(Debug, Clone)]
pub struct Cholesky {
    l: Mat<f64>,
    log_det: f64,
}

impl Cholesky {
    /// Factors `sigma`; `None` when it is not (numerically) positive definite or not finite.
    pub fn new(sigma: ArrayView2<'_, f64>) -> Option<Self> {
        let d = sigma.nrows();
        if sigma.ncols() != d || sigma.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let a = Mat::from_fn(d, d, |i, j| 0.5 * (sigma[[i, j]] + sigma[[j, i]]));
        let llt = a.llt(Side::Lower).ok()?;
        let l = llt.L().to_owned();
        let log_det = 2.0 * (0..d).map(|i| l[(i, i)].ln()).sum::<f64>();
        log_det.is_finite().then_some(Self { l, log_det })
    }

    /// The factor `L`.
    pub fn factor(&self) -> MatRef<'_, f64> {
        self.l.as_ref()
    }

    /// `log |Σ|`.
    pub fn log_det(&self) -> f64 {
        self.log_det
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.l.nrows()
    }

    /// Solves `L Y = B` in place, where the columns of `B` are points (column-major `dim × m`).
    pub fn solve_lower_in_place(&self, rhs: MatMut<'_, f64>) {
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            self.l.as_ref(),
            rhs,
            faer::Par::Seq,
        );
    }

    /// Solves `Lᵀ Y = B` in place (column-major `dim × m`).
    pub fn solve_upper_transposed_in_place(&self, rhs: MatMut<'_, f64>) {
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            self.l.as_ref().transpose(),
            rhs,
            faer::Par::Seq,
        );
    }

    /// `Σ⁻¹ b`, by the two triangular solves `L y = b`, `Lᵀ x = y`.
    pub fn solve(&self, b: ndarray::ArrayView1<'_, f64>) -> ndarray::Array1<f64> {
        let mut x = Mat::from_fn(b.len(), 1, |i, _| b[i]);
        self.solve_lower_in_place(x.as_mut());
        faer::linalg::triangular_solve::solve_upper_triangular_in_place(
            self.l.as_ref().transpose(),
            x.as_mut(),
            faer::Par::Seq,
        );
        ndarray::Array1::from_shape_fn(b.len(), |i| x[(i, 0)])
    }

    /// The diagonal of `Σ⁻¹`: `(Σ⁻¹)_ii = ‖L⁻¹ e_i‖²`, from one triangular solve with the
    /// identity.
    pub fn inverse_diagonal(&self) -> ndarray::Array1<f64> {
        let d = self.dim();
        let mut y = Mat::<f64>::identity(d, d);
        self.solve_lower_in_place(y.as_mut());
        ndarray::Array1::from_shape_fn(d, |i| (0..d).map(|r| y[(r, i)] * y[(r, i)]).sum())
    }

    /// `tr(Σ⁻¹ M)` for a symmetric `M`, through two triangular solves.
    pub fn trace_solve(&self, m: ArrayView2<'_, f64>) -> f64 {
        let d = self.dim();
        let mut y = Mat::from_fn(d, d, |i, j| m[[i, j]]);
        self.solve_lower_in_place(y.as_mut());
        // tr(L⁻ᵀ L⁻¹ M) = tr(L⁻¹ M L⁻ᵀ); with Y = L⁻¹ M, solve L Zᵀ = Yᵀ and sum diag(Z).
        let mut yt = y.transpose().to_owned();
        self.solve_lower_in_place(yt.as_mut());
        (0..d).map(|i| yt[(i, i)]).sum()
    }
}

/// A faer view of a row-major ndarray matrix (no copy).
pub fn as_faer<'a>(a: &'a ArrayView2<'_, f64>) -> MatRef<'a, f64> {
    let (r, c) = a.dim();
    let s = a.strides();
    // SAFETY: the pointer, shape and strides come from a live ndarray view with the same lifetime.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), r, c, s[0], s[1]) }
}

/// A mutable faer view of an ndarray matrix (no copy).
pub fn as_faer_mut<'a>(a: &'a mut ArrayViewMut2<'_, f64>) -> MatMut<'a, f64> {
    let (r, c) = a.dim();
    let s = a.strides().to_vec();
    // SAFETY: as in `as_faer`; the mutable borrow of the view guarantees exclusivity.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), r, c, s[0], s[1]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn log_det_and_trace_match_closed_form() {
        let s = array![[4.0, 2.0], [2.0, 3.0]];
        let c = Cholesky::new(s.view()).unwrap();
        approx::assert_relative_eq!(c.log_det(), (4.0f64 * 3.0 - 4.0).ln(), epsilon = 1e-12);
        // Σ⁻¹ = [[3,-2],[-2,4]]/8, so tr(Σ⁻¹ I) = 7/8.
        let i = array![[1.0, 0.0], [0.0, 1.0]];
        approx::assert_relative_eq!(c.trace_solve(i.view()), 7.0 / 8.0, epsilon = 1e-12);
    }

    #[test]
    fn rejects_indefinite_and_nan() {
        assert!(Cholesky::new(array![[1.0, 2.0], [2.0, 1.0]].view()).is_none());
        assert!(Cholesky::new(array![[f64::NAN, 0.0], [0.0, 1.0]].view()).is_none());
    }
}
