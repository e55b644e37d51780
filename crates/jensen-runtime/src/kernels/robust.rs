//! Robust mixtures: the multivariate Student-t as a Normal whose precision each row scales by
//! a latent `u ~ Gamma(ν/2, ν/2)` (McLachlan & Peel 2000, ch. 7), `ν` known.
//!
//! Given the component and the row, the scale's posterior is
//! `Gamma(a, b)` with `a = (ν + D)/2`, `b = (ν + δ)/2`, `δ = (x − μ)ᵀ Σ⁻¹ (x − μ)`: the
//! E-step's weights `w = E[u] = (ν + D)/(ν + δ)` down-weight outlying rows, and
//! `E[ln u] = ψ(a) − ln b`. The statistics are the Gaussian ones weighted by `r w` (about the
//! E-step's mean, as the Normal blocks keep them), the total weight `Σ r w`, and the terms of
//! the objective that do not depend on the parameters,
//! `Σ r [(D/2 + ν/2 − 1) E[ln u] − (ν/2) w + H(q(u))]`, so that right after an E-step the
//! free energy is the t log-likelihood. The M-step is then the weighted Gaussian one:
//! `μ = c + s / W` (the weighted mean), `Σ = S_μ / N_k`.

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use statrs::function::gamma::{digamma, ln_gamma};

use super::gaussian::{accumulate_scatter, centred_transposed, scatter_about, LN_2PI};
use crate::linalg::Cholesky;
use crate::mixture::Workspace;
use faer::MatMut;

/// `δ_b = ‖L⁻¹ (x_b − μ)‖²` of every row.
fn mahalanobis(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
    ws: &mut Workspace,
) -> Array1<f64> {
    let (m, d) = x.dim();
    let (buf, _) = ws.two(m * d, 0);
    centred_transposed(&x, &mean, buf);
    chol.solve_lower_in_place(MatMut::from_row_major_slice_mut(buf, d, m));
    let mut out = Array1::zeros(m);
    for y in buf.chunks_exact(m) {
        for (acc, &v) in out.iter_mut().zip(y) {
            *acc += v * v;
        }
    }
    out
}

/// `ln Γ((ν + D)/2) − ln Γ(ν/2) − (D/2) ln(νπ) − ½ ln|Σ|`, the t density's normaliser.
fn log_norm(d: f64, nu: f64, log_det: f64) -> f64 {
    ln_gamma(0.5 * (nu + d))
        - ln_gamma(0.5 * nu)
        - 0.5 * d * (nu * std::f64::consts::PI).ln()
        - 0.5 * log_det
}

/// Adds `ln t_ν(x_b | μ, Σ) = log_norm − ((ν + D)/2) ln(1 + δ_b/ν)` to `out[b]`.
pub fn mvt_full_add_log_density(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
    nu: f64,
    mut out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    let d = x.ncols() as f64;
    let norm = log_norm(d, nu, chol.log_det());
    let delta = mahalanobis(x, mean, chol, ws);
    for (o, &q) in out.iter_mut().zip(delta.iter()) {
        *o += norm - 0.5 * (nu + d) * (q / nu).ln_1p();
    }
}

/// Adds, for the rows of the chunk, `Σ r w` to `weight`, `Σ r w (x − c)` to `sum`,
/// `Σ r w (x − c)(x − c)ᵀ` to `scatter` (`c = μ`, the E-step's mean) and
/// `Σ r [(D/2 + ν/2 − 1) E[ln u] − (ν/2) w + H(q(u))]` to `constant`, with the scale's
/// posterior `Gamma((ν + D)/2, (ν + δ)/2)` of each row.
#[allow(clippy::too_many_arguments)]
pub fn mvt_full_accumulate(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
    nu: f64,
    resp: ArrayView1<'_, f64>,
    weight: &mut f64,
    sum: ArrayViewMut1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    constant: &mut f64,
    ws: &mut Workspace,
) {
    let d = x.ncols() as f64;
    let a = 0.5 * (nu + d);
    let (psi_a, ln_gamma_a) = (digamma(a), ln_gamma(a));
    let delta = mahalanobis(x, mean, chol, ws);
    let mut weighted = Array1::zeros(resp.len());
    for ((wr, &r), &q) in weighted.iter_mut().zip(resp.iter()).zip(delta.iter()) {
        if r == 0.0 {
            continue;
        }
        let b = 0.5 * (nu + q);
        let w = a / b;
        let e_ln_u = psi_a - b.ln();
        let entropy = a - b.ln() + ln_gamma_a + (1.0 - a) * psi_a;
        *wr = r * w;
        *weight += r * w;
        *constant += r * ((0.5 * d + 0.5 * nu - 1.0) * e_ln_u - 0.5 * nu * w + entropy);
    }
    accumulate_scatter(x, mean, weighted.view(), sum, scatter, ws);
}

/// `E_q[Σ_n z_nk ln p(x_n, u_n | μ, Σ)] + Σ_n r_nk H(q(u_n))` from the statistics:
/// `−½ N (D ln 2π + ln|Σ|) − ½ tr(Σ⁻¹ S_μ) + N ((ν/2) ln(ν/2) − ln Γ(ν/2)) + constant`, with
/// `S_μ = Σ r w (x − μ)(x − μ)ᵀ` from the statistics about the E-step's mean.
#[allow(clippy::too_many_arguments)]
pub fn mvt_full_expected(
    n: f64,
    weight: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    constant: f64,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
    nu: f64,
) -> f64 {
    let d = mean.len() as f64;
    let s = scatter_about(centre, sum, scatter, weight, mean);
    let gamma_prior = 0.5 * nu * (0.5 * nu).ln() - ln_gamma(0.5 * nu);
    -0.5 * (n * (d * LN_2PI + chol.log_det()) + chol.trace_solve(s.view()))
        + n * gamma_prior
        + constant
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array2};
    use statrs::distribution::{Continuous, MultivariateStudent};

    fn data() -> Array2<f64> {
        array![
            [0.3, 1.2, -0.4],
            [1.1, 0.2, 0.5],
            [-0.7, 0.9, 1.3],
            [2.5, -1.1, 0.1],
            [9.0, 7.5, -6.0],
            [0.0, 0.4, 0.2],
        ]
    }

    /// The density matches statrs' multivariate Student-t.
    #[test]
    fn density_matches_statrs() {
        let x = data();
        let mean = array![0.2, 0.5, -0.1];
        let cov = array![[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 0.8]];
        let chol = Cholesky::new(cov.view()).unwrap();
        for nu in [1.0, 4.0, 30.0] {
            let mut out = Array1::zeros(6);
            mvt_full_add_log_density(
                x.view(),
                mean.view(),
                &chol,
                nu,
                out.view_mut(),
                &mut Workspace::default(),
            );
            let reference =
                MultivariateStudent::new(mean.to_vec(), cov.iter().copied().collect(), nu).unwrap();
            for (o, row) in out.iter().zip(x.rows()) {
                let v = nalgebra::DVector::from_vec(row.to_vec());
                assert_relative_eq!(*o, reference.ln_pdf(&v), max_relative = 1e-12);
            }
        }
    }

    /// With the scales' exact posterior, the objective from the statistics equals the t
    /// log-likelihood (each row's responsibility 1, one component), and the weighted M-step
    /// does not lower it.
    #[test]
    fn objective_is_the_log_likelihood_after_the_e_step_and_the_m_step_raises_it() {
        let x = data();
        let (n, d) = (6.0, 3);
        let mean = array![0.2, 0.5, -0.1];
        let cov = array![[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 0.8]];
        let chol = Cholesky::new(cov.view()).unwrap();
        let nu = 3.0;
        let mut ll = Array1::zeros(6);
        let mut ws = Workspace::default();
        mvt_full_add_log_density(x.view(), mean.view(), &chol, nu, ll.view_mut(), &mut ws);
        let (mut weight, mut constant) = (0.0, 0.0);
        let (mut sum, mut scatter) = (Array1::zeros(d), Array2::zeros((d, d)));
        mvt_full_accumulate(
            x.view(),
            mean.view(),
            &chol,
            nu,
            Array1::ones(6).view(),
            &mut weight,
            sum.view_mut(),
            scatter.view_mut(),
            &mut constant,
            &mut ws,
        );
        let f = mvt_full_expected(
            n,
            weight,
            mean.view(),
            sum.view(),
            scatter.view(),
            constant,
            mean.view(),
            &chol,
            nu,
        );
        assert_relative_eq!(f, ll.sum(), max_relative = 1e-12);
        // M-step: the weighted mean, and the weighted scatter over N.
        let new_mean = &mean + &(&sum / weight);
        let s = scatter_about(
            mean.view(),
            sum.view(),
            scatter.view(),
            weight,
            new_mean.view(),
        );
        let new_cov = &s / n;
        let new_chol = Cholesky::new(new_cov.view()).unwrap();
        let q = |m: &Array1<f64>, c: &Cholesky| {
            mvt_full_expected(
                n,
                weight,
                mean.view(),
                sum.view(),
                scatter.view(),
                constant,
                m.view(),
                c,
                nu,
            )
        };
        let best = q(&new_mean, &new_chol);
        assert!(best >= f);
        // The M-step maximises the objective: any nearby parameters give less.
        for eps in [1e-3, -1e-3] {
            let moved = &new_mean + eps;
            assert!(q(&moved, &new_chol) < best);
            let scaled = Cholesky::new((&new_cov * (1.0 + eps)).view()).unwrap();
            assert!(q(&new_mean, &scaled) < best);
        }
        // And the log-likelihood itself rises (EM).
        let mut after = Array1::zeros(6);
        mvt_full_add_log_density(
            x.view(),
            new_mean.view(),
            &new_chol,
            nu,
            after.view_mut(),
            &mut ws,
        );
        assert!(after.sum() > ll.sum());
    }
}
