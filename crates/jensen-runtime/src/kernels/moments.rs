//! Whole-data moments, computed once when a model is built: the centre of the statistics at
//! initialisation and the shape of a re-seeded component.

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Column means.
pub fn column_means(x: ArrayView2<'_, f64>) -> Array1<f64> {
    x.mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()))
}

/// Biased (divide by N) covariance of the columns, with `floor` added to the diagonal so a
/// constant column still gives a positive definite matrix.
pub fn covariance(x: ArrayView2<'_, f64>, floor: f64) -> Array2<f64> {
    let n = x.nrows().max(1) as f64;
    let mean = column_means(x);
    let centred = &x - &mean;
    let mut cov = centred.t().dot(&centred) / n;
    cov.diag_mut().mapv_inplace(|v| v + floor);
    cov
}

/// `Σ_n (x_n − x̄)(x_n − x̄)ᵀ`, the scatter about the column means (no floor): with the means
/// and the row count, the sufficient statistics of every Gaussian quantity that is linear or
/// quadratic in the rows.
pub fn scatter(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let centred = &x - &column_means(x);
    centred.t().dot(&centred)
}

/// Biased column variances plus `floor`.
pub fn column_variances(x: ArrayView2<'_, f64>, floor: f64) -> Array1<f64> {
    let n = x.nrows().max(1) as f64;
    let mean = column_means(x);
    let mut var = Array1::zeros(x.ncols());
    for row in x.rows() {
        var += &(&row - &mean).mapv(|e| e * e);
    }
    var / n + floor
}

/// Variance floor used by re-seeded components.
pub const RESEED_FLOOR: f64 = 1e-6;
