//! Mean-field variational Bayes for the conjugate blocks.
//!
//! Each parameter with a conjugate prior has a posterior `q(θ)` in the prior's family, kept
//! as two values: a *mean* in the parameter's own slot (what the user reads: the posterior
//! mean of a simplex, a rate or a probability, `Ψ / ν = E[Σ⁻¹]⁻¹` of a covariance, `b / a`
//! of a variance, the mean `m` of a Normal mean) and a *strength* (a Dirichlet's total
//! concentration, a Gamma's shape, a Beta's `a + b`, a Wishart's degrees of freedom, an
//! inverse-Gamma's shape, the mean's precision weight `κ`). The kernels here give
//!
//! - the posterior from pooled statistics (the VB M-step: prior plus statistics);
//! - the *effective* parameter `θ̃` and the *offset* `c` of a block: for an exponential family
//!   `E_q[ln p(x | θ)] = ln p(x | θ̃) + c` with `θ̃` the parameter at the expected natural
//!   parameters, so the E-step runs the maximum-likelihood density kernels at `θ̃` and adds
//!   `c` per component (Beal 2003, ch. 2: the VB E-step is the EM E-step at the expected
//!   natural parameters);
//! - `KL(q(θ) ‖ p(θ))`, which the ELBO subtracts.
//!
//! The ELBO of a fit is `Σ_n ln Σ_k exp(E ln π_k + Σ_b (ln p(x_nb | θ̃_kb) + c_kb)) − Σ KL`:
//! the normaliser of the E-step is `E_q[ln p(x, z | θ)] + H[q(z)]` at the optimal `q(z)`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::kernels::gaussian::{symmetrise, with_mean_prior, with_squared_deviations};
use crate::kernels::hyper::{Means, PerCoordinate, ScalarMeans, ScaleMatrix};
use crate::linalg::Cholesky;

/// `count + prior`: a posterior's pseudo-count (a Normal mean's `κ = κ0 + n`, a Wishart's
/// `ν = ν0 + n`, a Beta's `a + b = a0 + b0 + n`, a Gamma's shape `a0 + Σ x` or `a0 + n`).
pub fn pseudo_count(count: f64, prior: f64) -> f64 {
    count + prior
}

/// An inverse-Gamma posterior's shape, `a0 + n / 2`, `n` the number of values its sum of
/// squares adds up.
pub fn inv_gamma_shape(count: f64, prior_shape: f64) -> f64 {
    prior_shape + 0.5 * count
}

// ---------------------------------------------------------------------------------------
// Dirichlet

/// The posterior mean of a simplex under a symmetric `Dirichlet(α0)` prior,
/// `(n_c + α0) / Σ (n_c + α0)`.
pub fn dirichlet_posterior_mean(counts: ArrayView1<'_, f64>, prior: f64) -> Array1<f64> {
    let total = dirichlet_posterior_total(counts, prior);
    counts.mapv(|c| (c + prior) / total)
}

/// The posterior's total concentration `Σ_c (n_c + α0)`.
pub fn dirichlet_posterior_total(counts: ArrayView1<'_, f64>, prior: f64) -> f64 {
    counts.sum() + prior * counts.len() as f64
}

/// [`dirichlet_posterior_mean`] of every row of a transition-count matrix.
pub fn transitions_posterior_mean(counts: ArrayView2<'_, f64>, prior: f64) -> Array2<f64> {
    let mut out = counts.to_owned();
    for mut row in out.rows_mut() {
        let total = row.sum() + prior * row.len() as f64;
        row.mapv_inplace(|c| (c + prior) / total);
    }
    out
}

/// [`dirichlet_posterior_total`] of every row of a transition-count matrix.
pub fn transitions_posterior_total(counts: ArrayView2<'_, f64>, prior: f64) -> Array1<f64> {
    counts
        .rows()
        .into_iter()
        .map(|row| dirichlet_posterior_total(row, prior))
        .collect()
}

/// `exp E[ln p_c] = exp(ψ(α_c) − ψ(Σ α))` for `α = total · mean`: the effective simplex of
/// the E-step (it sums to less than one; its logarithms are the expected log-probabilities).
pub fn dirichlet_geometric_mean(mean: ArrayView1<'_, f64>, total: f64) -> Array1<f64> {
    let psi_total = digamma(total);
    mean.mapv(|p| (digamma(p * total) - psi_total).exp())
}

/// `KL(Dir(α) ‖ Dir(α0, …, α0))` for `α = total · mean`.
pub fn dirichlet_kl(mean: ArrayView1<'_, f64>, total: f64, prior: f64) -> f64 {
    let c = mean.len() as f64;
    let psi_total = digamma(total);
    let mut kl = ln_gamma(total) - ln_gamma(c * prior) + c * ln_gamma(prior);
    for &p in mean {
        let a = p * total;
        kl += -ln_gamma(a) + (a - prior) * (digamma(a) - psi_total);
    }
    kl
}

// ---------------------------------------------------------------------------------------
// Gamma (Poisson and exponential rates)

/// The posterior mean of a Poisson rate under `Gamma(a0, b0)`: `(a0 + Σ x) / (b0 + n)`.
pub fn poisson_rate_posterior(sum: f64, n: f64, prior_shape: f64, prior_rate: f64) -> f64 {
    (prior_shape + sum) / (prior_rate + n)
}

/// The posterior mean of an exponential rate under `Gamma(a0, b0)`: `(a0 + n) / (b0 + Σ x)`.
pub fn exponential_rate_posterior(sum: f64, n: f64, prior_shape: f64, prior_rate: f64) -> f64 {
    (prior_shape + n) / (prior_rate + sum)
}

/// The posterior mean of a Gamma block's rate (known shape `a`) under a `Gamma(α, β)` prior:
/// `(α + a Σ r) / (β + Σ r x)`.
pub fn gamma_rate_posterior(
    sum: f64,
    n: f64,
    shape: f64,
    prior_shape: f64,
    prior_rate: f64,
) -> f64 {
    exponential_rate_posterior(sum, shape * n, prior_shape, prior_rate)
}

/// The shape of a Gamma block's rate posterior, `α + a Σ r`.
pub fn gamma_pseudo_count(count: f64, shape: f64, prior_shape: f64) -> f64 {
    pseudo_count(shape * count, prior_shape)
}

/// A Gamma block's offset (known shape `a`) per value: `a (ψ(α') − ln α')`, `α'` the rate
/// posterior's shape.
pub fn gamma_shape_log_offset(posterior_shape: f64, shape: f64) -> f64 {
    shape * gamma_log_offset(posterior_shape)
}

/// The posterior mean of a binomial success probability under a `Beta(a, b)` prior:
/// `(a + Σ r x) / (a + b + Σ r T)` (`trials = Σ r T`; the posterior's total `a + b` is
/// [`pseudo_count`]`(Σ r T, a0 + b0)`).
pub fn binomial_posterior_mean(sum: f64, trials: f64, prior_a: f64, prior_b: f64) -> f64 {
    (prior_a + sum) / (prior_a + prior_b + trials)
}

/// A binomial block's offset: `T` times a Bernoulli block's ([`beta_offset`]).
pub fn binomial_offset(mean: ArrayView1<'_, f64>, total: f64, trials: f64) -> f64 {
    trials * beta_offset(mean, total)
}

/// The posterior mean of a geometric success probability under a `Beta(a, b)` prior:
/// `(a + Σ r) / (a + b + Σ r + Σ r x)`.
pub fn geometric_posterior_mean(sum: f64, n: f64, prior_a: f64, prior_b: f64) -> f64 {
    (prior_a + n) / (prior_a + prior_b + n + sum)
}

/// The total `a + b` of a geometric probability's Beta posterior: `a0 + b0 + Σ r + Σ r x`.
pub fn geometric_pseudo_count(sum: f64, n: f64, prior_total: f64) -> f64 {
    prior_total + n + sum
}

/// A geometric block's effective probability `p̃ = 1 − exp E[ln(1 − p)]`
/// `= 1 − exp(ψ(b) − ψ(a + b))`, for `a = total · mean`, `b = total − a`: the E-step's
/// `x ln(1 − p̃)` is then `x E[ln(1 − p)]`.
pub fn geometric_effective(mean: f64, total: f64) -> f64 {
    -(digamma((1.0 - mean) * total) - digamma(total)).exp_m1()
}

/// A geometric block's offset `E[ln p] − ln p̃ = ψ(a) − ψ(a + b) − ln p̃`.
pub fn geometric_offset(mean: f64, total: f64) -> f64 {
    digamma(mean * total) - digamma(total) - geometric_effective(mean, total).ln()
}

/// `exp E[ln λ] = exp(ψ(a)) / b` for `Gamma(a, b)` with mean `a / b`: a Poisson block's
/// effective rate.
pub fn gamma_geometric_mean(mean: f64, shape: f64) -> f64 {
    digamma(shape).exp() * mean / shape
}

/// A Poisson block's offset `E[−λ] − (−λ̃) = λ̃ − E[λ]`.
pub fn poisson_rate_offset(mean: f64, shape: f64) -> f64 {
    gamma_geometric_mean(mean, shape) - mean
}

/// `E[ln λ] − ln E[λ] = ψ(a) − ln a` for `λ ~ Gamma(a, b)`: an exponential block's offset per
/// value (its effective rate is the posterior mean).
pub fn gamma_log_offset(shape: f64) -> f64 {
    digamma(shape) - shape.ln()
}

/// `KL(Gamma(a, b) ‖ Gamma(a0, b0))` (shape, rate) for `b = a / mean`.
pub fn gamma_kl(mean: f64, shape: f64, prior_shape: f64, prior_rate: f64) -> f64 {
    let rate = shape / mean;
    (shape - prior_shape) * digamma(shape) - ln_gamma(shape)
        + ln_gamma(prior_shape)
        + prior_shape * (rate.ln() - prior_rate.ln())
        + shape * (prior_rate - rate) / rate
}

// ---------------------------------------------------------------------------------------
// Beta (Bernoulli probabilities)

/// The posterior mean of Bernoulli probabilities under `Beta(a0, b0)`:
/// `(a0 + Σ x_d) / (a0 + b0 + n)`.
pub fn beta_posterior_mean(
    sum: ArrayView1<'_, f64>,
    n: f64,
    prior_a: f64,
    prior_b: f64,
) -> Array1<f64> {
    sum.mapv(|s| (prior_a + s) / (prior_a + prior_b + n))
}

/// `σ(E[ln p] − E[ln(1 − p)]) = σ(ψ(a) − ψ(b))` for `a = total · mean`, `b = total − a`: a
/// Bernoulli block's effective probabilities.
pub fn beta_effective(mean: ArrayView1<'_, f64>, total: f64) -> Array1<f64> {
    mean.mapv(|p| {
        let eta = digamma(p * total) - digamma((1.0 - p) * total);
        1.0 / (1.0 + (-eta).exp())
    })
}

/// A Bernoulli block's offset `Σ_d (E[ln(1 − p_d)] − ln(1 − p̃_d))`
/// `= Σ_d (ψ(b) − ψ(a + b) + ln(1 + e^{ψ(a) − ψ(b)}))`.
pub fn beta_offset(mean: ArrayView1<'_, f64>, total: f64) -> f64 {
    let psi_total = digamma(total);
    mean.iter()
        .map(|&p| {
            let (psi_a, psi_b) = (digamma(p * total), digamma((1.0 - p) * total));
            psi_b - psi_total + softplus(psi_a - psi_b)
        })
        .sum()
}

/// `ln(1 + eˣ)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `Σ_d KL(Beta(a_d, b_d) ‖ Beta(a0, b0))` for `a_d = total · mean_d`, `b_d = total − a_d`.
pub fn beta_kl(mean: ArrayView1<'_, f64>, total: f64, prior_a: f64, prior_b: f64) -> f64 {
    let ln_beta = |a: f64, b: f64| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
    let psi_total = digamma(total);
    mean.iter()
        .map(|&p| {
            let (a, b) = (p * total, (1.0 - p) * total);
            ln_beta(prior_a, prior_b) - ln_beta(a, b)
                + (a - prior_a) * digamma(a)
                + (b - prior_b) * digamma(b)
                + (prior_a + prior_b - total) * psi_total
        })
        .sum()
}

// ---------------------------------------------------------------------------------------
// Gaussian scales and means

/// `Ψ / ν` of a covariance's inverse-Wishart posterior under `IW(ν0, Ψ0)`:
/// `(S + Ψ0) / (ν0 + n)`, `S` the scatter about the new mean over `n` rows.
pub fn covariance_posterior<'a>(
    scatter: ArrayView2<'_, f64>,
    count: f64,
    prior_dof: f64,
    prior_scale: impl Into<ScaleMatrix<'a>>,
) -> Array2<f64> {
    let mut psi = scatter.to_owned();
    prior_scale.into().add_to(&mut psi);
    symmetrise(psi / (prior_dof + count))
}

/// [`covariance_posterior`] of a normal-inverse-Wishart prior (`μ ~ N(m0, Σ / κ0)`):
/// `(S + Ψ0 + κ0 (m − m0)(m − m0)ᵀ) / (ν0 + n)`, `m` the new posterior mean (the scatter about
/// the data's mean plus `κ0 n / κ (x̄ − m0)(x̄ − m0)ᵀ`, written about `m`).
pub fn covariance_posterior_with_mean_prior<'a>(
    scatter: ArrayView2<'_, f64>,
    count: f64,
    prior_dof: f64,
    prior_scale: impl Into<ScaleMatrix<'a>>,
    means: impl Into<Means<'a>>,
    prior_kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array2<f64> {
    let with = with_mean_prior(scatter, means, prior_kappa, prior_mean);
    covariance_posterior(with.view(), count, prior_dof, prior_scale)
}

/// `b / a` of each variance's inverse-Gamma posterior under `IG(a0, b0)`:
/// `(S_d + 2 b0) / (n + 2 a0)`.
pub fn variances_posterior<'a>(
    sq: ArrayView1<'_, f64>,
    count: f64,
    prior_shape: f64,
    prior_scale: impl Into<PerCoordinate<'a>>,
) -> Array1<f64> {
    let b0 = prior_scale.into();
    Array1::from_shape_fn(sq.len(), |d| {
        variance_posterior(sq[d], count, prior_shape, b0.at(d))
    })
}

/// [`variances_posterior`] of one variance.
pub fn variance_posterior(sq: f64, count: f64, prior_shape: f64, prior_scale: f64) -> f64 {
    (sq + 2.0 * prior_scale) / (count + 2.0 * prior_shape)
}

/// [`variances_posterior`] of a normal-inverse-Gamma prior per coordinate
/// (`μ_d ~ N(m0, v_d / κ0)`): `(S_d + 2 b0 + κ0 (m_d − m0)²) / (n + 2 a0)`; for variances the
/// components share, `κ0 Σ_k (m_kd − m0)²`.
pub fn variances_posterior_with_mean_prior<'a>(
    sq: ArrayView1<'_, f64>,
    count: f64,
    prior_shape: f64,
    prior_scale: impl Into<PerCoordinate<'a>>,
    means: impl Into<Means<'a>>,
    prior_kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array1<f64> {
    let with = with_squared_deviations(sq, means.into(), prior_kappa, prior_mean.into());
    variances_posterior(with.view(), count, prior_shape, prior_scale)
}

/// [`variance_posterior_with_mean_prior`] of a spherical covariance `s I` (one variance over
/// `D` coordinates, `μ ~ N(m0 1, s I / κ0)`): `(S + 2 b0 + κ0 ‖m − m0‖²) / (n + 2 a0)`, `S` and
/// `n` summed over the coordinates.
pub fn spherical_variance_posterior_with_mean_prior<'a>(
    sq: f64,
    count: f64,
    prior_shape: f64,
    prior_scale: f64,
    means: impl Into<Means<'a>>,
    prior_kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let (dev, _) = means.into().squared_deviation(prior_mean.into());
    variance_posterior(sq + prior_kappa * dev, count, prior_shape, prior_scale)
}

/// The univariate form of [`variances_posterior_with_mean_prior`].
pub fn variance_posterior_with_mean_prior<'a>(
    sq: f64,
    count: f64,
    prior_shape: f64,
    prior_scale: f64,
    means: impl Into<ScalarMeans<'a>>,
    prior_kappa: f64,
    prior_mean: f64,
) -> f64 {
    let dev = means.into().squared_deviation(prior_mean);
    variance_posterior(sq + prior_kappa * dev, count, prior_shape, prior_scale)
}

/// `½ (E[ln |Λ|] − ln |E Λ|) = ½ (Σ_{i<D} ψ((ν − i) / 2) + D ln 2 − D ln ν)` for
/// `Λ = Σ⁻¹ ~ Wishart(ν, ·)`: a full-covariance block's offset (its effective covariance is
/// `E[Λ]⁻¹ = Ψ / ν`, the slot's value).
pub fn wishart_offset(cov: ArrayView2<'_, f64>, dof: f64) -> f64 {
    let d = cov.nrows();
    let psi: f64 = (0..d).map(|i| digamma(0.5 * (dof - i as f64))).sum();
    0.5 * (psi + d as f64 * (std::f64::consts::LN_2 - dof.ln()))
}

/// `½ Σ_d (E[ln λ_d] − ln E[λ_d]) = ½ D (ψ(a) − ln a)` for precisions `λ_d ~ Gamma(a, b_d)`:
/// a diagonal block's offset (its effective variances are `b_d / a`, the slot's value).
pub fn inv_gamma_offset(var: ArrayView1<'_, f64>, shape: f64) -> f64 {
    0.5 * var.len() as f64 * gamma_log_offset(shape)
}

/// The univariate form of [`inv_gamma_offset`] (a `Normal`'s variance).
pub fn inv_gamma_scalar_offset(shape: f64) -> f64 {
    0.5 * gamma_log_offset(shape)
}

/// `−D / (2κ)`: the offset of a Normal mean's posterior `N(m, Σ / κ)`
/// (`E[(x − μ)ᵀ Λ (x − μ)] = (x − m)ᵀ E[Λ] (x − m) + D / κ`).
pub fn mean_offset(mean: ArrayView1<'_, f64>, kappa: f64) -> f64 {
    -0.5 * mean.len() as f64 / kappa
}

/// The univariate form of [`mean_offset`].
pub fn scalar_mean_offset(kappa: f64) -> f64 {
    -0.5 / kappa
}

/// `ln Γ_D(x)`, the multivariate Gamma function.
fn ln_gamma_d(x: f64, d: usize) -> f64 {
    0.25 * (d * d.saturating_sub(1)) as f64 * std::f64::consts::PI.ln()
        + (0..d).map(|i| ln_gamma(x - 0.5 * i as f64)).sum::<f64>()
}

/// `KL(IW(ν, Ψ) ‖ IW(ν0, Ψ0))` for `Ψ = ν · cov` (the KL of the precisions' Wisharts);
/// `+∞` when `cov` is not positive definite.
pub fn inv_wishart_kl<'a>(
    cov: ArrayView2<'_, f64>,
    dof: f64,
    prior_dof: f64,
    prior_scale: impl Into<ScaleMatrix<'a>>,
) -> f64 {
    let Some(chol) = Cholesky::new(cov) else {
        return f64::INFINITY;
    };
    let prior_scale = prior_scale.into();
    let d = cov.nrows();
    let df = d as f64;
    let ln_det_psi = df * dof.ln() + chol.log_det();
    let psi: f64 = (0..d).map(|i| digamma(0.5 * (dof - i as f64))).sum();
    // E[ln |Λ|] under the posterior.
    let e_ln_det = psi + df * std::f64::consts::LN_2 - ln_det_psi;
    0.5 * (dof - prior_dof) * (e_ln_det - df * std::f64::consts::LN_2) + 0.5 * dof * ln_det_psi
        - 0.5 * prior_dof * prior_scale.log_det(d)
        - ln_gamma_d(0.5 * dof, d)
        + ln_gamma_d(0.5 * prior_dof, d)
        - 0.5 * dof * df
        // tr(Ψ0 E[Λ]) with E[Λ] = ν Ψ⁻¹ = cov⁻¹.
        + 0.5 * prior_scale.trace_solve(&chol)
}

/// `KL(IG(a, b) ‖ IG(a0, b0))` for `b = a · var` (the KL of the precision's Gammas).
pub fn inv_gamma_kl(var: f64, shape: f64, prior_shape: f64, prior_scale: f64) -> f64 {
    gamma_kl(1.0 / var, shape, prior_shape, prior_scale)
}

/// [`inv_gamma_kl`] summed over a vector of variances with one shape.
pub fn inv_gammas_kl<'a>(
    var: ArrayView1<'_, f64>,
    shape: f64,
    prior_shape: f64,
    prior_scale: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let b0 = prior_scale.into();
    var.iter()
        .enumerate()
        .map(|(d, &v)| inv_gamma_kl(v, shape, prior_shape, b0.at(d)))
        .sum()
}

/// `E_q(Σ)[KL(N(m, Σ / κ) ‖ N(m0 1, Σ / κ0))]
/// = ½ (D κ0 / κ − D + D ln(κ / κ0) + κ0 (m − m0)ᵀ E[Σ⁻¹] (m − m0))`, `E[Σ⁻¹] = cov⁻¹`;
/// `+∞` when `cov` is not positive definite.
pub fn mvn_mean_kl<'a>(
    mean: ArrayView1<'_, f64>,
    kappa: f64,
    cov: ArrayView2<'_, f64>,
    prior_mean: impl Into<PerCoordinate<'a>>,
    prior_kappa: f64,
) -> f64 {
    let Some(chol) = Cholesky::new(cov) else {
        return f64::INFINITY;
    };
    let d = mean.len();
    let m0 = prior_mean.into();
    let mut e: Vec<f64> = mean.iter().enumerate().map(|(i, m)| m - m0.at(i)).collect();
    chol.solve_lower_in_place(faer::MatMut::from_column_major_slice_mut(&mut e, d, 1));
    let maha: f64 = e.iter().map(|v| v * v).sum();
    let df = d as f64;
    0.5 * (df * (prior_kappa / kappa - 1.0 + (kappa / prior_kappa).ln()) + prior_kappa * maha)
}

/// [`mvn_mean_kl`] for a diagonal covariance, `E[1 / v_d] = 1 / var_d`.
pub fn diag_mean_kl<'a>(
    mean: ArrayView1<'_, f64>,
    kappa: f64,
    var: ArrayView1<'_, f64>,
    prior_mean: impl Into<PerCoordinate<'a>>,
    prior_kappa: f64,
) -> f64 {
    let m0 = prior_mean.into();
    mean.iter()
        .zip(var.iter())
        .enumerate()
        .map(|(d, (&m, &v))| normal_mean_kl(m, kappa, v, m0.at(d), prior_kappa))
        .sum()
}

/// [`mvn_mean_kl`] for a spherical covariance `s I`, `E[1 / s] = 1 / var`.
pub fn spherical_mean_kl<'a>(
    mean: ArrayView1<'_, f64>,
    kappa: f64,
    var: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
    prior_kappa: f64,
) -> f64 {
    let m0 = prior_mean.into();
    mean.iter()
        .enumerate()
        .map(|(d, &m)| normal_mean_kl(m, kappa, var, m0.at(d), prior_kappa))
        .sum()
}

/// The univariate form of [`mvn_mean_kl`].
pub fn normal_mean_kl(mean: f64, kappa: f64, var: f64, prior_mean: f64, prior_kappa: f64) -> f64 {
    let d = mean - prior_mean;
    0.5 * (prior_kappa / kappa - 1.0 + (kappa / prior_kappa).ln() + prior_kappa * d * d / var)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array1, Array2};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Gamma};

    /// A Monte Carlo estimate of `E_q[ln q − ln p]` for one-dimensional Gammas on the rate.
    fn gamma_kl_mc(a: f64, b: f64, a0: f64, b0: f64) -> f64 {
        let ln_gamma_pdf =
            |x: f64, a: f64, b: f64| a * b.ln() - ln_gamma(a) + (a - 1.0) * x.ln() - b * x;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g = Gamma::new(a, 1.0 / b).unwrap();
        let n = 400_000;
        (0..n)
            .map(|_| {
                let x: f64 = g.sample(&mut rng);
                ln_gamma_pdf(x, a, b) - ln_gamma_pdf(x, a0, b0)
            })
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn kl_is_zero_at_the_prior_and_positive_elsewhere() {
        let p = array![0.2, 0.3, 0.5];
        assert_relative_eq!(
            dirichlet_kl(Array1::from_elem(3, 1.0 / 3.0).view(), 3.0 * 0.7, 0.7),
            0.0,
            epsilon = 1e-12
        );
        assert!(dirichlet_kl(p.view(), 10.0, 0.7) > 0.0);
        assert_relative_eq!(gamma_kl(2.0 / 0.5, 2.0, 2.0, 0.5), 0.0, epsilon = 1e-12);
        assert_relative_eq!(
            beta_kl(array![0.25].view(), 4.0, 1.0, 3.0),
            0.0,
            epsilon = 1e-12
        );
        let c = 0.7;
        let nu = 4.0;
        let cov = Array2::<f64>::eye(3) * (c / nu);
        assert_relative_eq!(inv_wishart_kl(cov.view(), nu, nu, c), 0.0, epsilon = 1e-12);
        let other = array![[0.5, 0.1, 0.0], [0.1, 0.4, 0.05], [0.0, 0.05, 0.3]];
        assert!(inv_wishart_kl(other.view(), 9.0, nu, c) > 0.0);
        assert_relative_eq!(inv_gamma_kl(0.5 / 3.0, 3.0, 3.0, 0.5), 0.0, epsilon = 1e-12);
        assert_relative_eq!(
            mvn_mean_kl(
                array![1.0, 1.0].view(),
                0.1,
                Array2::eye(2).view(),
                1.0,
                0.1
            ),
            0.0,
            epsilon = 1e-12
        );
    }

    #[test]
    fn gamma_kl_matches_monte_carlo() {
        let (a, b, a0, b0) = (5.0, 2.0, 1.5, 0.7);
        let mc = gamma_kl_mc(a, b, a0, b0);
        assert_relative_eq!(gamma_kl(a / b, a, a0, b0), mc, max_relative = 5e-3);
    }

    /// The Wishart KL against a Monte Carlo estimate in two dimensions: draws of
    /// `Λ ~ W(ν, Ψ⁻¹)` as sums of outer products (integer ν).
    #[test]
    fn inv_wishart_kl_matches_monte_carlo() {
        let (nu, nu0, c) = (6.0, 3.0, 0.8);
        let cov: Array2<f64> = array![[0.9, 0.3], [0.3, 0.5]];
        let psi = &cov * nu;
        // V = Ψ⁻¹ and its Cholesky factor.
        let det = psi[[0, 0]] * psi[[1, 1]] - psi[[0, 1]] * psi[[1, 0]];
        let v: Array2<f64> = array![[psi[[1, 1]], -psi[[0, 1]]], [-psi[[1, 0]], psi[[0, 0]]]] / det;
        let l00 = v[[0, 0]].sqrt();
        let l10 = v[[1, 0]] / l00;
        let l11 = (v[[1, 1]] - l10 * l10).sqrt();
        let ln_wishart = |lam: &Array2<f64>, nu: f64, vinv: &Array2<f64>, ln_det_v: f64| {
            let ln_det = (lam[[0, 0]] * lam[[1, 1]] - lam[[0, 1]] * lam[[1, 0]]).ln();
            let tr = (vinv.dot(lam)).diag().sum();
            -nu * std::f64::consts::LN_2 - 0.5 * nu * ln_det_v - ln_gamma_d(0.5 * nu, 2)
                + 0.5 * (nu - 3.0) * ln_det
                - 0.5 * tr
        };
        let ln_det_v = v[[0, 0]] * v[[1, 1]] - v[[0, 1]] * v[[1, 0]];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 200_000;
        let mut total = 0.0;
        let prior_vinv = Array2::<f64>::eye(2) * c;
        for _ in 0..n {
            let mut lam = Array2::<f64>::zeros((2, 2));
            for _ in 0..nu as usize {
                let (z0, z1): (f64, f64) = (
                    rng.sample(rand_distr::StandardNormal),
                    rng.sample(rand_distr::StandardNormal),
                );
                let g = [l00 * z0, l10 * z0 + l11 * z1];
                for i in 0..2 {
                    for j in 0..2 {
                        lam[[i, j]] += g[i] * g[j];
                    }
                }
            }
            total += ln_wishart(&lam, nu, &psi, ln_det_v.ln())
                - ln_wishart(&lam, nu0, &prior_vinv, -2.0 * c.ln());
        }
        let mc = total / n as f64;
        assert_relative_eq!(
            inv_wishart_kl(cov.view(), nu, nu0, c),
            mc,
            max_relative = 1e-2
        );
    }

    #[test]
    fn offsets_make_the_effective_density_the_expected_one() {
        // Poisson: E[x ln λ − λ] = x ln λ̃ − λ̃ + offset for every x.
        let (mean, shape) = (3.0, 4.0);
        let rate = shape / mean;
        let e_ln = digamma(shape) - rate.ln();
        let eff = gamma_geometric_mean(mean, shape);
        for x in [0.0, 1.0, 7.0] {
            let expected = x * e_ln - mean;
            let effective = x * eff.ln() - eff + poisson_rate_offset(mean, shape);
            assert_relative_eq!(expected, effective, epsilon = 1e-12);
        }
        // Bernoulli: E[x ln p + (1 − x) ln(1 − p)].
        let (p, t) = (array![0.3, 0.9], 5.0);
        let eff = beta_effective(p.view(), t);
        for x in [[0.0, 1.0], [1.0, 0.0]] {
            let mut expected = 0.0;
            let mut effective = 0.0;
            for d in 0..2 {
                let (a, b) = (p[d] * t, (1.0 - p[d]) * t);
                expected +=
                    x[d] * (digamma(a) - digamma(t)) + (1.0 - x[d]) * (digamma(b) - digamma(t));
                effective += x[d] * eff[d].ln() + (1.0 - x[d]) * (1.0 - eff[d]).ln();
            }
            assert_relative_eq!(
                expected,
                effective + beta_offset(p.view(), t),
                epsilon = 1e-12
            );
        }
        // Dirichlet: the effective simplex's logarithms are E[ln p].
        let g = dirichlet_geometric_mean(array![0.5, 0.5].view(), 3.0);
        assert_relative_eq!(g[0].ln(), digamma(1.5) - digamma(3.0), epsilon = 1e-14);
    }
}
