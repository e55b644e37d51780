//! A Normal response whose mean is linear in covariates: `y ~ N(βᵀu + c, s)` (a mixture of
//! regressions, or an HMM with regression emissions).
//!
//! The statistics are taken about the coefficients of the E-step (`β_c`, `c_c`), over the
//! design `a = (u, 1)` (without the 1 when the model has no intercept: the statistics' width
//! tells which): `A = Σ r a aᵀ`, `b = Σ r a e` and `Σ r e²`, with `e = y − β_cᵀu − c_c` the
//! residual. The weighted least-squares M-step is then a correction `δ = A⁻¹ b` solved by a
//! Cholesky factor of `A` (never an inverse), and the residual sum of squares at any
//! coefficients `θ_c + d` is `Σ r e² − 2 dᵀb + dᵀ A d`, small terms about a residual that is
//! already small, so no large sums cancel.

use ndarray::{s, Array1, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};

use super::gaussian::LN_2PI;
use crate::linalg::Cholesky;

/// Whether the design carries an intercept: the statistics are one wider than the covariates.
fn has_intercept(covariates: usize, width: usize) -> bool {
    width == covariates + 1
}

/// Adds `ln N(y_b | βᵀu_b + c, s)` to `out[b]` (`c = 0` without an intercept).
pub fn regression_add_log_density(
    y: ArrayView1<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView1<'_, f64>,
    intercept: f64,
    var: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let norm = -0.5 * (LN_2PI + var.ln());
    let half_precision = 0.5 / var;
    let prediction = u.dot(&coef);
    Zip::from(&mut out)
        .and(&y)
        .and(&prediction)
        .for_each(|o, &y, &p| {
            let e = y - p - intercept;
            *o += norm - half_precision * e * e;
        });
}

/// Adds `Σ_b r_b a_b a_bᵀ` to `scatter`, `Σ_b r_b a_b e_b` to `cross` and `Σ_b r_b e_b²` to
/// `sumsq`, the residuals `e_b` under the E-step's coefficients (a row of weight zero adds
/// nothing).
#[allow(clippy::too_many_arguments)]
pub fn regression_accumulate(
    y: ArrayView1<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView1<'_, f64>,
    intercept: f64,
    resp: ArrayView1<'_, f64>,
    mut scatter: ArrayViewMut2<'_, f64>,
    mut cross: ArrayViewMut1<'_, f64>,
    sumsq: &mut f64,
) {
    let p = u.ncols();
    let wide = has_intercept(p, scatter.nrows());
    let prediction = u.dot(&coef);
    for (i, ((&y, &pred), &r)) in y.iter().zip(&prediction).zip(&resp).enumerate() {
        if r == 0.0 {
            continue;
        }
        let e = y - pred - intercept;
        *sumsq += r * e * e;
        let row = u.row(i);
        for a in 0..p {
            let ra = r * row[a];
            cross[a] += ra * e;
            for b in 0..=a {
                scatter[[a, b]] += ra * row[b];
            }
        }
        if wide {
            for b in 0..p {
                scatter[[p, b]] += r * row[b];
            }
            scatter[[p, p]] += r;
            cross[p] += r * e;
        }
    }
    // The lower triangle was summed; mirror it (statistics add across chunks as matrices).
    for a in 0..scatter.nrows() {
        for b in 0..a {
            scatter[[b, a]] = scatter[[a, b]];
        }
    }
}

/// A Cholesky factor of `A` that is numerically non-singular: every pivot `L_ii²` at least
/// `1e-12` of `A`'s largest diagonal entry (a singular `A` often factors with a pivot of
/// round-off size, which would move the coefficients arbitrarily along its null direction).
fn well_conditioned(a: ArrayView2<'_, f64>) -> Option<Cholesky> {
    let chol = Cholesky::new(a)?;
    let largest = a.diag().iter().fold(0.0f64, |m, &v| m.max(v));
    let l = chol.factor();
    (0..a.nrows())
        .all(|i| l[(i, i)] * l[(i, i)] >= 1e-12 * largest)
        .then_some(chol)
}

/// `δ = A⁻¹ b`, by a Cholesky factor of `A`. A singular `A` (a component with fewer rows
/// than coefficients, collinear or constant covariates) gets a ridge on its diagonal, from
/// `1e-12` of its mean diagonal up by tenfold steps until it factors well: the least-squares
/// step closest to zero change, in place of a failure or an arbitrary step.
fn correction(scatter: ArrayView2<'_, f64>, cross: ArrayView1<'_, f64>) -> Array1<f64> {
    let d = scatter.nrows();
    if let Some(chol) = well_conditioned(scatter) {
        return chol.solve(cross);
    }
    let mean_diagonal = (scatter.diag().sum() / d as f64)
        .abs()
        .max(f64::MIN_POSITIVE);
    let mut ridge = 1e-12 * mean_diagonal;
    while ridge.is_finite() {
        let mut a = scatter.to_owned();
        a.diag_mut().mapv_inplace(|v| v + ridge);
        if let Some(chol) = well_conditioned(a.view()) {
            return chol.solve(cross);
        }
        ridge *= 10.0;
    }
    // Statistics that are not finite: no correction (the guard reports the objective).
    Array1::zeros(d)
}

/// The new coefficients `β = β_c + δ_β` of the weighted least-squares fit, `δ` solved jointly
/// with the intercept's correction when there is one.
pub fn regression_coefficients_from_stats(
    coef: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView1<'_, f64>,
) -> Array1<f64> {
    let delta = correction(scatter, cross);
    &coef + &delta.slice(s![..coef.len()])
}

/// The new coefficients when the intercept is held fixed (a known value): the covariates'
/// block alone, `β = β_c + A_ββ⁻¹ b_β`.
pub fn regression_coefficients_given_intercept(
    coef: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView1<'_, f64>,
) -> Array1<f64> {
    let p = coef.len();
    let delta = correction(scatter.slice(s![..p, ..p]), cross.slice(s![..p]));
    &coef + &delta
}

/// The coefficients of a component re-seeded at a row `(u, y)`: with an intercept, zero (a
/// flat line, the intercept then taking `y`); without one, the line through the origin and
/// the row, `β = u y / ‖u‖²` (zero for `u = 0`).
pub fn regression_coefficients_at_row(
    u: ArrayView1<'_, f64>,
    y: f64,
    intercept: bool,
) -> Array1<f64> {
    let norm = u.dot(&u);
    if intercept || norm <= 0.0 || !norm.is_finite() {
        Array1::zeros(u.len())
    } else {
        u.mapv(|v| v * y / norm)
    }
}

/// The new intercept given the new coefficients: `c = c_c + (b_c − A_cβ (β − β_c)) / A_cc`
/// (the intercept's normal equation; `A_cc = Σ r`), unchanged for an empty component.
pub fn regression_intercept_from_stats(
    intercept: f64,
    coef: ArrayView1<'_, f64>,
    new_coef: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView1<'_, f64>,
) -> f64 {
    let p = coef.len();
    let n = scatter[[p, p]];
    if n <= 0.0 {
        return intercept;
    }
    let step = &new_coef - &coef;
    intercept + (cross[p] - scatter.slice(s![p, ..p]).dot(&step)) / n
}

/// `Σ_n r_nk (y_n − βᵀu_n − c)²` at the coefficients `(β, c)`, from the statistics about
/// `(β_c, c_c)`: `Σ r e² − 2 dᵀb + dᵀ A d` with `d = (β − β_c, c − c_c)` (at least zero).
#[allow(clippy::too_many_arguments)]
pub fn regression_residual(
    coef: ArrayView1<'_, f64>,
    intercept: f64,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView1<'_, f64>,
    sumsq: f64,
    new_coef: ArrayView1<'_, f64>,
    new_intercept: f64,
) -> f64 {
    let p = coef.len();
    let mut d = Array1::zeros(scatter.nrows());
    d.slice_mut(s![..p]).assign(&(&new_coef - &coef));
    if has_intercept(p, scatter.nrows()) {
        d[p] = new_intercept - intercept;
    }
    (sumsq - 2.0 * d.dot(&cross) + d.dot(&scatter.dot(&d))).max(0.0)
}

/// `E_q[Σ_n z_nk ln N(y_n | βᵀu_n + c, s)] = −½ N_k ln 2πs − RSS / (2s)`, the residual sum of
/// squares from the statistics about `(β_c, c_c)` ([`regression_residual`]).
#[allow(clippy::too_many_arguments)]
pub fn regression_expected(
    n: f64,
    coef_c: ArrayView1<'_, f64>,
    intercept_c: f64,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView1<'_, f64>,
    sumsq: f64,
    coef: ArrayView1<'_, f64>,
    intercept: f64,
    var: f64,
) -> f64 {
    let rss = regression_residual(coef_c, intercept_c, scatter, cross, sumsq, coef, intercept);
    -0.5 * n * (LN_2PI + var.ln()) - 0.5 * rss / var
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array2};

    /// One weighted least-squares step from any centre lands on the normal equations'
    /// solution, and the statistics give the residual sum of squares there.
    #[test]
    fn one_step_solves_weighted_least_squares() {
        let u = array![[1.0, 0.5], [2.0, -1.0], [3.0, 0.0], [4.0, 2.0], [5.0, 1.0]];
        let y = array![2.9, 4.1, 7.2, 9.8, 11.1];
        let r = array![1.0, 0.5, 2.0, 1.0, 0.25];
        let (coef_c, int_c) = (array![0.3, -0.2], 1.5);
        let mut scatter = Array2::zeros((3, 3));
        let (mut cross, mut sumsq) = (Array1::zeros(3), 0.0);
        regression_accumulate(
            y.view(),
            u.view(),
            coef_c.view(),
            int_c,
            r.view(),
            scatter.view_mut(),
            cross.view_mut(),
            &mut sumsq,
        );
        let coef = regression_coefficients_from_stats(coef_c.view(), scatter.view(), cross.view());
        let c = regression_intercept_from_stats(
            int_c,
            coef_c.view(),
            coef.view(),
            scatter.view(),
            cross.view(),
        );
        // The normal equations X'WX θ = X'Wy, solved directly.
        let x = ndarray::concatenate![ndarray::Axis(1), u, Array2::ones((5, 1))];
        let xtwx = x.t().dot(&Array2::from_diag(&r)).dot(&x);
        let xtwy = x.t().dot(&(&r * &y));
        let theta = Cholesky::new(xtwx.view()).unwrap().solve(xtwy.view());
        assert_relative_eq!(coef[0], theta[0], max_relative = 1e-12);
        assert_relative_eq!(coef[1], theta[1], max_relative = 1e-12);
        assert_relative_eq!(c, theta[2], max_relative = 1e-12);
        let rss: f64 = (0..5)
            .map(|i| r[i] * (y[i] - x.row(i).dot(&theta)).powi(2))
            .sum();
        let ours = regression_residual(
            coef_c.view(),
            int_c,
            scatter.view(),
            cross.view(),
            sumsq,
            coef.view(),
            c,
        );
        assert_relative_eq!(ours, rss, max_relative = 1e-10);
        // The expected log-density at the solution is the weighted sum of the densities.
        let var = 0.7;
        let mut out = Array1::zeros(5);
        regression_add_log_density(y.view(), u.view(), coef.view(), c, var, out.view_mut());
        let expected = regression_expected(
            r.sum(),
            coef_c.view(),
            int_c,
            scatter.view(),
            cross.view(),
            sumsq,
            coef.view(),
            c,
            var,
        );
        assert_relative_eq!(expected, r.dot(&out), max_relative = 1e-12);
    }

    /// A design singular up to round-off (a duplicated covariate) may factor, with a pivot
    /// of round-off size: it too gets the ridge, so the step is the minimum-norm one.
    #[test]
    fn a_design_singular_up_to_round_off_gets_the_ridge() {
        let u = array![[0.1, 0.1], [0.7, 0.7], [0.3, 0.3], [1.9, 1.9]];
        let y = array![1.0, 2.0, 3.0, 5.0];
        let mut scatter = Array2::zeros((3, 3));
        let (mut cross, mut sumsq) = (Array1::zeros(3), 0.0);
        regression_accumulate(
            y.view(),
            u.view(),
            array![0.0, 0.0].view(),
            0.0,
            Array1::ones(4).view(),
            scatter.view_mut(),
            cross.view_mut(),
            &mut sumsq,
        );
        let coef = regression_coefficients_from_stats(
            array![0.0, 0.0].view(),
            scatter.view(),
            cross.view(),
        );
        // The two copies share the slope (nearly) equally, as the minimum-norm solution
        // does, instead of an arbitrary split along the null direction.
        let slope = coef[0] + coef[1];
        assert!(slope.is_finite() && slope > 0.0 && slope < 10.0, "{coef}");
        assert!((coef[0] - coef[1]).abs() < 1e-2 * slope, "{coef}");
    }

    /// Fewer rows than coefficients: the ridge keeps the step finite.
    #[test]
    fn a_singular_design_gets_a_finite_step() {
        let scatter = array![[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]];
        let cross = array![0.5, 0.5, 0.5];
        let coef = regression_coefficients_from_stats(
            array![0.0, 0.0].view(),
            scatter.view(),
            cross.view(),
        );
        assert!(coef.iter().all(|v| v.is_finite()));
    }
}
