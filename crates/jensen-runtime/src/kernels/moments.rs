//! Whole-data moments, computed once when a model is built: the centre of the statistics at
//! initialisation and the shape of a re-seeded component.

use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

/// Column means.
pub fn column_means(x: ArrayView2<'_, f64>) -> Array1<f64> {
    x.mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()))
}

/// Biased (divide by N) covariance of the columns, with `floor` times each column's
/// [scale](column_scales) added to the diagonal so that a constant column still gives a
/// positive definite matrix (relative, so the result scales with the data).
pub fn covariance(x: ArrayView2<'_, f64>, floor: f64) -> Array2<f64> {
    let n = x.nrows().max(1) as f64;
    let mean = column_means(x);
    let centred = &x - &mean;
    let mut cov = centred.t().dot(&centred) / n;
    let scale = column_scales(x);
    for (c, s) in cov.diag_mut().iter_mut().zip(scale) {
        *c += floor * s;
    }
    cov
}

/// The scale of each column, in squared units of the data: its biased variance; for a
/// constant column (up to round-off) the square of its value; a column of zeros takes the
/// smallest scale of the other columns (1 when all are zero). The regularising
/// prior of every variance and covariance is `reg_covar` times these, so a fit does not
/// depend on the units the data are written in.
pub fn column_scales(x: ArrayView2<'_, f64>) -> Array1<f64> {
    let n = x.nrows().max(1) as f64;
    let mean = column_means(x);
    let mut var = Array1::<f64>::zeros(x.ncols());
    for row in x.rows() {
        var += &(&row - &mean).mapv(|e| e * e);
    }
    var /= n;
    let mut zeros = Vec::new();
    Zip::from(&mut var).and(&mean).for_each(|v, &m| {
        // Constant up to the round-off of its mean (`sd ≤ 1e-12 |mean|`) counts as constant.
        if v.is_nan() || *v <= 1e-24 * m * m {
            *v = if m != 0.0 && (m * m).is_finite() {
                m * m
            } else {
                f64::NAN
            };
        }
    });
    for (j, v) in var.iter().enumerate() {
        if v.is_nan() {
            zeros.push(j);
        }
    }
    // A column of zeros has no unit of its own: it takes the smallest scale of the others
    // (so scaling every column alike scales it too), or 1 when every column is zero.
    let smallest = var
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::INFINITY, f64::min);
    for j in zeros {
        var[j] = if smallest.is_finite() { smallest } else { 1.0 };
    }
    var
}

/// `Σ_n (x_n − x̄)(x_n − x̄)ᵀ`, the scatter about the column means (no floor): with the means
/// and the row count, the sufficient statistics of every Gaussian quantity that is linear or
/// quadratic in the rows.
pub fn scatter(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let centred = &x - &column_means(x);
    centred.t().dot(&centred)
}

/// A square root of the scatter about the column means: a `D × D` matrix whose rows `p_j`
/// satisfy `Σ_j p_j p_jᵀ = Σ_n (x_n − x̄)(x_n − x̄)ᵀ` — the `R` of a QR factorisation of the
/// centred data, computed from the rows themselves (Householder), so it carries the data's
/// precision rather than that of its squares. Fewer rows than columns leave the missing rows
/// zero.
pub fn scatter_root(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mean = column_means(x);
    let centred = faer::Mat::<f64>::from_fn(n, d, |i, j| x[[i, j]] - mean[j]);
    let mut root = Array2::zeros((d, d));
    if n == 0 {
        return root;
    }
    let qr = centred.qr();
    let r = qr.thin_R();
    for i in 0..r.nrows() {
        for j in i..d {
            root[[i, j]] = r[(i, j)];
        }
    }
    root
}

/// Biased column variances plus `floor` times each column's [scale](column_scales).
pub fn column_variances(x: ArrayView2<'_, f64>, floor: f64) -> Array1<f64> {
    let n = x.nrows().max(1) as f64;
    let mean = column_means(x);
    let mut var = Array1::zeros(x.ncols());
    for row in x.rows() {
        var += &(&row - &mean).mapv(|e| e * e);
    }
    var / n + column_scales(x) * floor
}

/// The sample covariance of the columns, the scatter over `N − 1`: a prior's `cov(x)`
/// (NumPy's `np.cov(x.T)`).
pub fn sample_covariance(x: ArrayView2<'_, f64>) -> Array2<f64> {
    scatter(x) / x.nrows().saturating_sub(1).max(1) as f64
}

/// The sample variance of each column, over `N − 1`: a prior's `var(x)`
/// (`np.var(x, axis=0, ddof=1)`).
pub fn sample_variances(x: ArrayView2<'_, f64>) -> Array1<f64> {
    let mean = column_means(x);
    let mut var = Array1::<f64>::zeros(x.ncols());
    for row in x.rows() {
        Zip::from(&mut var)
            .and(&row)
            .and(&mean)
            .for_each(|v, &a, &m| *v += (a - m) * (a - m));
    }
    var / x.nrows().saturating_sub(1).max(1) as f64
}

/// [`sample_variances`] averaged over the columns: a prior's `var(x)` for one variance
/// shared by every coordinate (scikit-learn's spherical `covariance_prior`).
pub fn mean_sample_variance(x: ArrayView2<'_, f64>) -> f64 {
    sample_variances(x).mean().unwrap_or(0.0)
}

/// Variance floor used by re-seeded components, relative to each column's scale.
pub const RESEED_FLOOR: f64 = 1e-6;
