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

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};

use super::gaussian::{self, LN_2PI};
use crate::linalg::Cholesky;
use crate::mixture::Workspace;

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

/// A Cholesky factor of the design scatter `A` for the weighted least-squares step. A
/// singular `A` (a component with fewer rows than coefficients, collinear or constant
/// covariates) gets a ridge on its diagonal, from `1e-12` of its mean diagonal up by tenfold
/// steps until it factors well: the least-squares step closest to zero change, in place of a
/// failure or an arbitrary step. `None` for statistics that are not finite.
fn design_factor(scatter: ArrayView2<'_, f64>) -> Option<Cholesky> {
    if let Some(chol) = well_conditioned(scatter) {
        return Some(chol);
    }
    let d = scatter.nrows();
    let mean_diagonal = (scatter.diag().sum() / d as f64)
        .abs()
        .max(f64::MIN_POSITIVE);
    let mut ridge = 1e-12 * mean_diagonal;
    while ridge.is_finite() {
        let mut a = scatter.to_owned();
        a.diag_mut().mapv_inplace(|v| v + ridge);
        if let Some(chol) = well_conditioned(a.view()) {
            return Some(chol);
        }
        ridge *= 10.0;
    }
    None
}

/// `δ = A⁻¹ b`, by a Cholesky factor of `A` ([`design_factor`]); no correction for
/// statistics that are not finite (the guard reports the objective).
fn correction(scatter: ArrayView2<'_, f64>, cross: ArrayView1<'_, f64>) -> Array1<f64> {
    match design_factor(scatter) {
        Some(chol) => chol.solve(cross),
        None => Array1::zeros(scatter.nrows()),
    }
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

// A multivariate response `x ~ N(B u + μ, Σ)`, `B` a `D × P` matrix: the same statistics
// with the residual a vector, `C = Σ r a eᵀ` (`P' × D`) and `S = Σ r e eᵀ` (or its diagonal
// for a diagonal `Σ`); the M-step solves `Δ = A⁻¹ C` column by column with one factor of `A`
// (each response coordinate is its own weighted least-squares fit on the same design), and
// the residual scatter at `(B_c, μ_c) + Δᵀ` is `S − CᵀΔ − ΔᵀC + ΔᵀAΔ`.

/// The residuals `x_b − B u_b − μ` (`μ` of length one is the same number for every
/// coordinate: `0` without an intercept).
pub(crate) fn residuals(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
) -> Array2<f64> {
    let mut e = x.to_owned();
    e -= &u.dot(&coef.t());
    if intercept.len() == 1 {
        e -= intercept[0];
    } else {
        e -= &intercept;
    }
    e
}

/// Adds `ln N(x_b | B u_b + μ, Σ)` to `out[b]`, `Σ` by its Cholesky factor.
pub fn mv_regression_full_add_log_density(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    chol: &Cholesky,
    out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    let e = residuals(x, u, coef, intercept);
    let zero = Array1::zeros(x.ncols());
    gaussian::mvn_full_add_log_density(e.view(), zero.view(), chol, out, ws);
}

/// Adds `ln N(x_b | B u_b + μ, diag(v))` to `out[b]`.
pub fn mv_regression_diag_add_log_density(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    out: ArrayViewMut1<'_, f64>,
) {
    let e = residuals(x, u, coef, intercept);
    let zero = Array1::zeros(x.ncols());
    gaussian::mvn_diag_add_log_density(e.view(), zero.view(), var, out);
}

/// The design `a_b = (u_b, 1)` of each row (without the 1 when `width` is the covariates').
fn design(u: ArrayView2<'_, f64>, width: usize) -> Array2<f64> {
    let mut a = Array2::ones((u.nrows(), width));
    a.slice_mut(s![.., ..u.ncols()]).assign(&u);
    a
}

/// Adds `A = Σ r a aᵀ` and `C = Σ r a eᵀ` and returns the weighted residuals `r e` and
/// the residuals `e`.
fn mv_accumulate_design(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut scatter: ArrayViewMut2<'_, f64>,
    mut cross: ArrayViewMut2<'_, f64>,
) -> (Array2<f64>, Array2<f64>) {
    let e = residuals(x, u, coef, intercept);
    let a = design(u, scatter.nrows());
    let r = resp.insert_axis(Axis(1));
    let ra = &a * &r;
    scatter += &ra.t().dot(&a);
    cross += &ra.t().dot(&e);
    let re = &e * &r;
    (re, e)
}

/// Adds `Σ_b r_b a_b a_bᵀ` to `scatter`, `Σ_b r_b a_b e_bᵀ` to `cross` (`P' × D`) and
/// `Σ_b r_b e_b e_bᵀ` to `residual`, the residuals `e_b = x_b − B_c u_b − μ_c` under the
/// E-step's coefficients.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_full_accumulate(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    cross: ArrayViewMut2<'_, f64>,
    mut residual: ArrayViewMut2<'_, f64>,
) {
    let (re, e) = mv_accumulate_design(x, u, coef, intercept, resp, scatter, cross);
    residual += &re.t().dot(&e);
}

/// [`mv_regression_full_accumulate`] keeping the residuals' squares `Σ_b r_b e_b²`
/// (elementwise) for a diagonal covariance.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_diag_accumulate(
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    cross: ArrayViewMut2<'_, f64>,
    mut sumsq: ArrayViewMut1<'_, f64>,
) {
    let (re, e) = mv_accumulate_design(x, u, coef, intercept, resp, scatter, cross);
    sumsq += &(&re * &e).sum_axis(Axis(0));
}

/// `Δ = A⁻¹ C` (`P' × D`), one factor of `A` for every response coordinate (zero for
/// statistics that are not finite).
fn mv_correction(scatter: ArrayView2<'_, f64>, cross: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut delta = Array2::zeros(cross.raw_dim());
    if let Some(chol) = design_factor(scatter) {
        for (mut out, c) in delta.columns_mut().into_iter().zip(cross.columns()) {
            out.assign(&chol.solve(c));
        }
    }
    delta
}

/// The new coefficients `B = B_c + Δ_Bᵀ` (`D × P`) of the weighted least-squares fit, `Δ`
/// solved jointly with the intercept's correction when there is one.
pub fn mv_regression_coefficients_from_stats(
    coef: ArrayView2<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
) -> Array2<f64> {
    let delta = mv_correction(scatter, cross);
    &coef + &delta.slice(s![..coef.ncols(), ..]).t()
}

/// The new coefficients when the intercept is held fixed: the covariates' block alone.
pub fn mv_regression_coefficients_given_intercept(
    coef: ArrayView2<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
) -> Array2<f64> {
    let p = coef.ncols();
    let delta = mv_correction(scatter.slice(s![..p, ..p]), cross.slice(s![..p, ..]));
    &coef + &delta.t()
}

/// The new intercept given the new coefficients, coordinate by coordinate:
/// `μ = μ_c + (C_1 − (B − B_c) A_u1) / A_11` (`A_11 = Σ r`), unchanged for an empty
/// component.
pub fn mv_regression_intercept_from_stats(
    intercept: ArrayView1<'_, f64>,
    coef: ArrayView2<'_, f64>,
    new_coef: ArrayView2<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
) -> Array1<f64> {
    let p = coef.ncols();
    let n = scatter[[p, p]];
    if n <= 0.0 {
        return intercept.to_owned();
    }
    let step = &new_coef - &coef;
    let moved = step.dot(&scatter.slice(s![..p, p]));
    &intercept + &((&cross.row(p) - &moved) / n)
}

/// The correction `Δ` (`P' × D`) from `(B_c, μ_c)` to `(B, μ)`.
fn mv_step(
    coef_c: ArrayView2<'_, f64>,
    intercept_c: ArrayView1<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    width: usize,
) -> Array2<f64> {
    let p = coef.ncols();
    let mut delta = Array2::zeros((width, coef.nrows()));
    delta.slice_mut(s![..p, ..]).assign(&(&coef - &coef_c).t());
    if width == p + 1 {
        let mut last = delta.row_mut(p);
        last.assign(&intercept);
        last -= &intercept_c;
    }
    delta
}

/// `Σ_n r_nk e_n e_nᵀ` at the coefficients `(B, μ)`, from the statistics about
/// `(B_c, μ_c)`: `S − CᵀΔ − ΔᵀC + ΔᵀAΔ` (symmetric; its diagonal at least zero).
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_residual_scatter(
    coef_c: ArrayView2<'_, f64>,
    intercept_c: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
    residual: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
) -> Array2<f64> {
    let delta = mv_step(coef_c, intercept_c, coef, intercept, scatter.nrows());
    let ctd = cross.t().dot(&delta);
    let mut m = &residual - &ctd - ctd.t() + &delta.t().dot(&scatter.dot(&delta));
    let d = m.nrows();
    for i in 0..d {
        m[[i, i]] = m[[i, i]].max(0.0);
        for j in 0..i {
            let v = 0.5 * (m[[i, j]] + m[[j, i]]);
            m[[i, j]] = v;
            m[[j, i]] = v;
        }
    }
    m
}

/// The diagonal of [`mv_regression_residual_scatter`], from the residuals' squares.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_residual_sumsq(
    coef_c: ArrayView2<'_, f64>,
    intercept_c: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
    sumsq: ArrayView1<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
) -> Array1<f64> {
    let delta = mv_step(coef_c, intercept_c, coef, intercept, scatter.nrows());
    let quad = (&delta * &scatter.dot(&delta)).sum_axis(Axis(0));
    let lin = (&delta * &cross).sum_axis(Axis(0));
    Zip::from(&sumsq)
        .and(&lin)
        .and(&quad)
        .map_collect(|&s, &l, &q| (s - 2.0 * l + q).max(0.0))
}

/// `E_q[Σ_n z_nk ln N(x_n | B u_n + μ, Σ)] = −½ [N_k (D ln 2π + ln|Σ|) + tr(Σ⁻¹ R)]`, the
/// residual scatter `R` from the statistics about `(B_c, μ_c)`.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_full_expected(
    n: f64,
    coef_c: ArrayView2<'_, f64>,
    intercept_c: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
    residual: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    chol: &Cholesky,
) -> f64 {
    let r = mv_regression_residual_scatter(
        coef_c,
        intercept_c,
        scatter,
        cross,
        residual,
        coef,
        intercept,
    );
    let d = r.nrows() as f64;
    -0.5 * (n * (d * LN_2PI + chol.log_det()) + chol.trace_solve(r.view()))
}

/// [`mv_regression_full_expected`] for a diagonal covariance `diag(v)`.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_diag_expected(
    n: f64,
    coef_c: ArrayView2<'_, f64>,
    intercept_c: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    cross: ArrayView2<'_, f64>,
    sumsq: ArrayView1<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
) -> f64 {
    let r =
        mv_regression_residual_sumsq(coef_c, intercept_c, scatter, cross, sumsq, coef, intercept);
    let d = r.len() as f64;
    let log_det: f64 = var.iter().map(|v| v.ln()).sum();
    let quad: f64 = r.iter().zip(&var).map(|(a, v)| a / v).sum();
    -0.5 * (n * (d * LN_2PI + log_det) + quad)
}

/// The coefficients of a component re-seeded at a row `(u, x)`: with an intercept, zero;
/// without one, `B = x uᵀ / ‖u‖²`, the plane through the origin and the row (zero for
/// `u = 0`).
pub fn mv_regression_coefficients_at_row(
    u: ArrayView1<'_, f64>,
    x: ArrayView1<'_, f64>,
    intercept: bool,
) -> Array2<f64> {
    let norm = u.dot(&u);
    if intercept || norm <= 0.0 || !norm.is_finite() {
        Array2::zeros((x.len(), u.len()))
    } else {
        let x = x.insert_axis(Axis(1));
        let u = u.insert_axis(Axis(0));
        x.dot(&u) / norm
    }
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

    /// The multivariate step solves each response coordinate's weighted least squares on
    /// the shared design, and the statistics give the residual scatter and the expected
    /// log-density there.
    #[test]
    fn multivariate_step_solves_each_coordinate() {
        let u = array![
            [1.0, 0.5],
            [2.0, -1.0],
            [3.0, 0.0],
            [4.0, 2.0],
            [5.0, 1.0],
            [0.5, 0.3]
        ];
        let x = array![
            [2.9, 1.0],
            [4.1, -0.5],
            [7.2, 0.4],
            [9.8, 3.1],
            [11.1, 1.7],
            [1.2, 0.2]
        ];
        let r = array![1.0, 0.5, 2.0, 1.0, 0.25, 0.8];
        let coef_c = array![[0.3, -0.2], [0.1, 0.4]];
        let int_c = array![1.5, -0.3];
        let mut scatter = Array2::zeros((3, 3));
        let mut cross = Array2::zeros((3, 2));
        let mut residual = Array2::zeros((2, 2));
        mv_regression_full_accumulate(
            x.view(),
            u.view(),
            coef_c.view(),
            int_c.view(),
            r.view(),
            scatter.view_mut(),
            cross.view_mut(),
            residual.view_mut(),
        );
        let coef =
            mv_regression_coefficients_from_stats(coef_c.view(), scatter.view(), cross.view());
        let int = mv_regression_intercept_from_stats(
            int_c.view(),
            coef_c.view(),
            coef.view(),
            scatter.view(),
            cross.view(),
        );
        let design = ndarray::concatenate![ndarray::Axis(1), u, Array2::ones((6, 1))];
        let xtwx = design.t().dot(&Array2::from_diag(&r)).dot(&design);
        let chol = Cholesky::new(xtwx.view()).unwrap();
        let mut fitted = Array2::zeros((6, 2));
        for d in 0..2 {
            let theta = chol.solve(design.t().dot(&(&r * &x.column(d))).view());
            assert_relative_eq!(coef[[d, 0]], theta[0], max_relative = 1e-12);
            assert_relative_eq!(coef[[d, 1]], theta[1], max_relative = 1e-12);
            assert_relative_eq!(int[d], theta[2], max_relative = 1e-12);
            fitted.column_mut(d).assign(&design.dot(&theta));
        }
        let e = &x - &fitted;
        let direct = (&e * &r.clone().insert_axis(ndarray::Axis(1))).t().dot(&e);
        let ours = mv_regression_residual_scatter(
            coef_c.view(),
            int_c.view(),
            scatter.view(),
            cross.view(),
            residual.view(),
            coef.view(),
            int.view(),
        );
        for (a, b) in ours.iter().zip(&direct) {
            assert_relative_eq!(*a, *b, max_relative = 1e-10, epsilon = 1e-12);
        }
        // The expected log-density at the solution is the weighted sum of the densities.
        let cov = array![[0.7, 0.1], [0.1, 0.4]];
        let chol = Cholesky::new(cov.view()).unwrap();
        let mut out = Array1::zeros(6);
        mv_regression_full_add_log_density(
            x.view(),
            u.view(),
            coef.view(),
            int.view(),
            &chol,
            out.view_mut(),
            &mut Workspace::default(),
        );
        let expected = mv_regression_full_expected(
            r.sum(),
            coef_c.view(),
            int_c.view(),
            scatter.view(),
            cross.view(),
            residual.view(),
            coef.view(),
            int.view(),
            &chol,
        );
        assert_relative_eq!(expected, r.dot(&out), max_relative = 1e-12);
        // The diagonal form keeps the diagonal.
        let (mut scatter2, mut cross2) = (Array2::zeros((3, 3)), Array2::zeros((3, 2)));
        let mut sumsq = Array1::zeros(2);
        mv_regression_diag_accumulate(
            x.view(),
            u.view(),
            coef_c.view(),
            int_c.view(),
            r.view(),
            scatter2.view_mut(),
            cross2.view_mut(),
            sumsq.view_mut(),
        );
        let diag = mv_regression_residual_sumsq(
            coef_c.view(),
            int_c.view(),
            scatter2.view(),
            cross2.view(),
            sumsq.view(),
            coef.view(),
            int.view(),
        );
        assert_relative_eq!(diag[0], direct[[0, 0]], max_relative = 1e-10);
        assert_relative_eq!(diag[1], direct[[1, 1]], max_relative = 1e-10);
        let var = array![0.7, 0.4];
        let mut out = Array1::zeros(6);
        mv_regression_diag_add_log_density(
            x.view(),
            u.view(),
            coef.view(),
            int.view(),
            var.view(),
            out.view_mut(),
        );
        let expected = mv_regression_diag_expected(
            r.sum(),
            coef_c.view(),
            int_c.view(),
            scatter2.view(),
            cross2.view(),
            sumsq.view(),
            coef.view(),
            int.view(),
            var.view(),
        );
        assert_relative_eq!(expected, r.dot(&out), max_relative = 1e-12);
    }
}
