//! Discrete blocks: Poisson, binomial and geometric counts, Bernoulli vectors, categorical
//! values, multinomial count vectors, and the categorical latent's own prior.

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayViewMut1, Zip};
use statrs::function::gamma::ln_gamma;

use super::{xlny, PROB_FLOOR};

/// `ln x!` for every value of a count column, computed once when the data is bound.
pub fn log_factorials(x: ArrayView1<'_, f64>) -> Array1<f64> {
    x.mapv(|v| ln_gamma(v + 1.0))
}

/// Adds `ln Poisson(x_b | rate)` to `out[b]`; `log_fact[b] = ln x_b!`.
pub fn poisson_add_log_density(
    x: ArrayView1<'_, f64>,
    log_fact: ArrayView1<'_, f64>,
    rate: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let ln_rate = rate.ln();
    Zip::from(&mut out)
        .and(&x)
        .and(&log_fact)
        .for_each(|o, &xv, &lf| *o += xlny_ln(xv, ln_rate) - rate - lf);
}

#[inline]
fn xlny_ln(x: f64, ln_y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * ln_y
    }
}

/// Adds `Σ_b r_b x_b` to `sum` (scalar data).
pub fn accumulate_weighted_sum(x: ArrayView1<'_, f64>, resp: ArrayView1<'_, f64>, sum: &mut f64) {
    *sum += x.iter().zip(resp.iter()).map(|(x, r)| x * r).sum::<f64>();
}

/// Adds `Σ_b r_b x_b` to `sum` (vector data).
pub fn accumulate_weighted_rows(
    x: ArrayView2<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
) {
    for (row, &r) in x.rows().into_iter().zip(resp.iter()) {
        if r != 0.0 {
            sum.scaled_add(r, &row);
        }
    }
}

/// The Poisson rate `Σ r x / Σ r`, floored at [`PROB_FLOOR`].
pub fn rate_from_stats(sum: f64, n: f64) -> f64 {
    // The mode under the flat `Gamma(1, 0)`.
    rate_mode_from_stats(sum, n, 1.0, 0.0)
}

/// The mode of a rate's posterior under a `Gamma(a, b)` prior (shape, rate; `a ≥ 1`):
/// `(Σ r x + a − 1) / (Σ r + b)`, floored at [`PROB_FLOOR`].
pub fn rate_mode_from_stats(sum: f64, n: f64, shape: f64, rate: f64) -> f64 {
    let count = n + rate;
    if count > 0.0 {
        ((sum + shape - 1.0) / count).max(PROB_FLOOR)
    } else {
        PROB_FLOOR
    }
}

/// `ln Gamma(λ | a, b) = a ln b − ln Γ(a) + (a − 1) ln λ − b λ` (shape, rate); for `b = 0`,
/// an improper prior, its kernel `(a − 1) ln λ`.
pub fn gamma_log_density(value: f64, shape: f64, rate: f64) -> f64 {
    let kernel = xlny(shape - 1.0, value) - rate * value;
    if rate > 0.0 {
        shape * rate.ln() - ln_gamma(shape) + kernel
    } else {
        kernel
    }
}

/// The mode of each probability's posterior under a `Beta(a, b)` prior (`a, b ≥ 1`):
/// `(Σ r x + a − 1) / (Σ r + a + b − 2)`, clamped to `[1e-12, 1 − 1e-12]`; `0.5` when
/// nothing is counted.
pub fn probs_mode_from_stats(sum: ArrayView1<'_, f64>, n: f64, a: f64, b: f64) -> Array1<f64> {
    let count = n + a + b - 2.0;
    sum.mapv(|s| {
        if count > 0.0 {
            ((s + a - 1.0) / count).clamp(PROB_FLOOR, 1.0 - PROB_FLOOR)
        } else {
            0.5
        }
    })
}

/// `ln Beta(p | a, b) = (a − 1) ln p + (b − 1) ln (1 − p) − ln B(a, b)`.
pub fn beta_log_density(p: f64, a: f64, b: f64) -> f64 {
    xlny(a - 1.0, p) + xlny(b - 1.0, 1.0 - p) - (ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b))
}

/// [`beta_log_density`] summed over a vector of probabilities.
pub fn beta_log_densities(p: ArrayView1<'_, f64>, a: f64, b: f64) -> f64 {
    p.iter().map(|&v| beta_log_density(v, a, b)).sum()
}

/// `E_q[Σ_n z_nk ln Poisson(x_n | rate)]` without the `-Σ ln x!` term, which does not depend
/// on the parameters and is added once per data column (see [`log_factorials`]).
pub fn poisson_expected(n: f64, sum: f64, rate: f64) -> f64 {
    xlny(sum, rate) - n * rate
}

/// Adds `Σ_d [x_bd ln p_d + (1 - x_bd) ln(1 - p_d)]` to `out[b]`.
pub fn bernoulli_add_log_density(
    x: ArrayView2<'_, f64>,
    prob: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let log_odds = prob.mapv(|p| p.ln() - (-p).ln_1p());
    let base: f64 = prob.iter().map(|p| (-p).ln_1p()).sum();
    for (o, row) in out.iter_mut().zip(x.rows()) {
        *o += base + row.dot(&log_odds);
    }
}

/// Bernoulli probabilities `Σ r x / Σ r`, clamped to `[PROB_FLOOR, 1 - PROB_FLOOR]`.
pub fn probs_from_stats(sum: ArrayView1<'_, f64>, n: f64) -> Array1<f64> {
    // The mode under the flat `Beta(1, 1)`.
    probs_mode_from_stats(sum, n, 1.0, 1.0)
}

/// `E_q[Σ_n z_nk ln Bernoulli(x_n | p)]` from `Σ r` and `Σ r x`.
pub fn bernoulli_expected(n: f64, sum: ArrayView1<'_, f64>, prob: ArrayView1<'_, f64>) -> f64 {
    sum.iter()
        .zip(prob.iter())
        .map(|(&s, &p)| xlny(s, p) + (n - s) * (-p).ln_1p())
        .sum()
}

/// Adds `ln p[x_b]` to `out[b]`; `x` holds category indices `0..C` as exact integers.
pub fn categorical_add_log_density(
    x: ArrayView1<'_, f64>,
    log_p: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &c| *o += log_p[c as usize]);
}

/// Adds `r_b` to `counts[x_b]`.
pub fn accumulate_category_counts(
    x: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut counts: ArrayViewMut1<'_, f64>,
) {
    for (&c, &r) in x.iter().zip(resp.iter()) {
        counts[c as usize] += r;
    }
}

/// Probabilities proportional to `counts`, floored at [`PROB_FLOOR`] and renormalised;
/// uniform when every count is zero.
pub fn simplex_from_counts(counts: ArrayView1<'_, f64>) -> Array1<f64> {
    let total: f64 = counts.sum();
    if total <= 0.0 || !total.is_finite() {
        return Array1::from_elem(counts.len(), 1.0 / counts.len() as f64);
    }
    let p = counts.mapv(|c| (c / total).max(PROB_FLOOR));
    let norm = p.sum();
    p / norm
}

/// The mode of a simplex's posterior under a symmetric `Dirichlet(α)` prior (`α ≥ 1`):
/// probabilities proportional to `counts_c + α − 1`, as [`simplex_from_counts`] makes them.
pub fn simplex_mode_from_counts(counts: ArrayView1<'_, f64>, concentration: f64) -> Array1<f64> {
    simplex_from_counts(counts.mapv(|c| c + concentration - 1.0).view())
}

/// `ln Dir(p | α, …, α) = ln Γ(Kα) − K ln Γ(α) + (α − 1) Σ_c ln p_c`, with `0 · ln 0 = 0` (the
/// flat prior `α = 1` allows zeros).
pub fn dirichlet_log_density(p: ArrayView1<'_, f64>, concentration: f64) -> f64 {
    let k = p.len() as f64;
    ln_gamma(k * concentration) - k * ln_gamma(concentration)
        + p.iter().map(|&v| xlny(concentration - 1.0, v)).sum::<f64>()
}

/// `Σ_c counts_c ln p_c`.
pub fn categorical_expected(counts: ArrayView1<'_, f64>, prob: ArrayView1<'_, f64>) -> f64 {
    counts
        .iter()
        .zip(prob.iter())
        .map(|(&c, &p)| xlny(c, p))
        .sum()
}

/// `Σ_k N_k ln (1/K)`: the expected log-prior of equal, fixed weights (`Categorical(1 / K)`)
/// for the expected counts `N_k`.
pub fn uniform_expected(counts: ArrayView1<'_, f64>) -> f64 {
    -counts.sum() * (counts.len().max(1) as f64).ln()
}

/// A re-seeded component's category probabilities at a row's category `c` (of `categories`):
/// half uniform, half on `c`.
pub fn categorical_probs_at_row(c: f64, categories: usize) -> Array1<f64> {
    let mut p = Array1::from_elem(categories, 0.5 / categories as f64);
    p[c as usize] += 0.5;
    p
}

// ---------------------------------------------------------------------------------------
// Multinomial: a vector of counts with its total `n = Σ_v x_v` known,
// `n! / Π_v x_v! · Π_v θ_v^(x_v)`.

/// `ln (n! / Π_v x_bv!)` for every row `b` of `x` (rows × categories), `n = Σ_v x_bv`,
/// computed once when the data are bound: the sum over categories of `ln C(s_v, x_bv)`
/// with `s_v` the running total, each term without cancellation ([`ln_choose`]), so a row
/// of 10¹² counts keeps its digits.
pub fn multinomial_log_coefficients(x: ArrayView2<'_, f64>) -> Array1<f64> {
    let mut total = Array1::<f64>::zeros(x.nrows());
    let mut coef = Array1::<f64>::zeros(x.nrows());
    // Column by column: the data are column-major.
    for col in x.columns() {
        Zip::from(&mut total)
            .and(&mut coef)
            .and(&col)
            .for_each(|t, c, &v| {
                *t += v;
                if v > 0.0 {
                    *c += ln_choose(*t, v);
                }
            });
    }
    coef
}

/// Adds `ln (n_b! / Π_v x_bv!) + Σ_v x_bv ln θ_v` to `out[b]` (`coef` the rows'
/// coefficients, `log_p = ln θ`; a zero count adds nothing, even where `θ_v = 0`).
pub fn multinomial_add_log_density(
    x: ArrayView2<'_, f64>,
    coef: ArrayView1<'_, f64>,
    log_p: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    out += &coef;
    for (col, &lp) in x.columns().into_iter().zip(log_p.iter()) {
        Zip::from(&mut out)
            .and(&col)
            .for_each(|o, &v| *o += xlny_ln(v, lp));
    }
}

/// Adds `Σ_b r_b x_bv` to `counts[v]`.
pub fn multinomial_accumulate(
    x: ArrayView2<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut counts: ArrayViewMut1<'_, f64>,
) {
    for (col, c) in x.columns().into_iter().zip(counts.iter_mut()) {
        *c += col.dot(&resp);
    }
}

/// A re-seeded component's probabilities at a row of counts: half uniform, half the row's
/// proportions (uniform for an all-zero row).
pub fn multinomial_probs_at_row(x: ArrayView1<'_, f64>) -> Array1<f64> {
    let v = x.len() as f64;
    let total = x.sum();
    if total > 0.0 && total.is_finite() {
        x.mapv(|c| 0.5 / v + 0.5 * c / total)
    } else {
        Array1::from_elem(x.len(), 1.0 / v)
    }
}

// ---------------------------------------------------------------------------------------
// Binomial: successes in a known number `T` of trials, `C(T, x) pˣ (1 − p)^(T − x)`; the
// trials are one number, or a count per row (`Binomial(t[n], p)`, the `*_rows_*` kernels).

/// `ln C(n, k)` for whole `0 ≤ k ≤ n`, to a few units of round-off at any size: below 30
/// from `ln Γ`; above, as Loader's saddle-point form `δ(n) − δ(k) − δ(n − k) − ½ ln(2π k
/// (n − k) / n) + n H(k / n)` (`δ` the Stirling remainder, [`stirling_error`]; the entropy
/// term `−k ln(k/n) − (n − k) ln(1 − k/n)` through `ln_1p`), where the three `ln Γ` of
/// magnitude `n ln n` would cancel.
pub fn ln_choose(n: f64, k: f64) -> f64 {
    if k <= 0.0 || k >= n {
        return 0.0;
    }
    if n < 30.0 {
        return ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0);
    }
    let j = n - k;
    let entropy = -k * (k / n).ln() - j * (-k / n).ln_1p();
    stirling_error(n)
        - stirling_error(k)
        - stirling_error(j)
        - 0.5 * (2.0 * std::f64::consts::PI * k * (j / n)).ln()
        + entropy
}

/// `δ(n) = ln n! − (n + ½) ln n + n − ½ ln 2π`, the error of Stirling's formula, for whole
/// `n ≥ 1`: from `ln Γ` up to 15, beyond from its asymptotic series (Loader 2000).
pub fn stirling_error(n: f64) -> f64 {
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    if n <= 15.0 {
        return ln_gamma(n + 1.0) - (n + 0.5) * n.ln() + n
            - 0.5 * (2.0 * std::f64::consts::PI).ln();
    }
    let nn = n * n;
    (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n
}

/// `ln C(T, x_n)` of each row (the binomial coefficient, a term of the data alone).
pub fn binomial_log_coefficients(x: ArrayView1<'_, f64>, trials: f64) -> Array1<f64> {
    x.mapv(|v| ln_choose(trials, v))
}

/// `ln C(t_n, x_n)` of each row, the trials `t` a column of the same rows.
pub fn binomial_rows_log_coefficients(
    x: ArrayView1<'_, f64>,
    t: ArrayView1<'_, f64>,
) -> Array1<f64> {
    Zip::from(&x).and(&t).map_collect(|&v, &n| ln_choose(n, v))
}

/// Adds `ln C(T, x_b) + x_b ln p + (T − x_b) ln(1 − p)` to `out[b]` (`coef` the rows'
/// coefficients `ln C(T, x_b)`).
pub fn binomial_add_log_density(
    x: ArrayView1<'_, f64>,
    coef: ArrayView1<'_, f64>,
    trials: f64,
    prob: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let (log_p, log_q) = (prob.ln(), (-prob).ln_1p());
    Zip::from(&mut out)
        .and(&x)
        .and(&coef)
        .for_each(|o, &v, &c| *o += c + xlny_ln(v, log_p) + xlny_ln(trials - v, log_q));
}

/// [`binomial_add_log_density`] with each row's own number of trials `t_b`.
pub fn binomial_rows_add_log_density(
    x: ArrayView1<'_, f64>,
    coef: ArrayView1<'_, f64>,
    t: ArrayView1<'_, f64>,
    prob: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let (log_p, log_q) = (prob.ln(), (-prob).ln_1p());
    Zip::from(&mut out)
        .and(&x)
        .and(&coef)
        .and(&t)
        .for_each(|o, &v, &c, &n| *o += c + xlny_ln(v, log_p) + xlny_ln(n - v, log_q));
}

/// Adds `Σ_b r_b x_b` to `sum` and `T Σ_b r_b` to `trials_sum`.
pub fn binomial_accumulate(
    x: ArrayView1<'_, f64>,
    trials: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    trials_sum: &mut f64,
) {
    *sum += x.dot(&resp);
    *trials_sum += trials * resp.sum();
}

/// Adds `Σ_b r_b x_b` to `sum` and `Σ_b r_b t_b` to `trials_sum`.
pub fn binomial_rows_accumulate(
    x: ArrayView1<'_, f64>,
    t: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    trials_sum: &mut f64,
) {
    *sum += x.dot(&resp);
    *trials_sum += t.dot(&resp);
}

/// The mode of a binomial success probability under a `Beta(a, b)` prior:
/// `(Σ r x + a − 1) / (Σ r T + a + b − 2)` (`trials = Σ r T`, the expected number of
/// trials), kept within `[PROB_FLOOR, 1 − PROB_FLOOR]` (both logarithms finite; a zero
/// count in every row is a probability of `1e-12`).
pub fn binomial_prob_mode_from_stats(sum: f64, trials: f64, a: f64, b: f64) -> f64 {
    let count = trials + a + b - 2.0;
    if count > 0.0 {
        ((sum + a - 1.0) / count).clamp(PROB_FLOOR, 1.0 - PROB_FLOOR)
    } else {
        0.5
    }
}

/// The maximum-likelihood success probability `Σ r x / Σ r T`.
pub fn binomial_prob_from_stats(sum: f64, trials: f64) -> f64 {
    binomial_prob_mode_from_stats(sum, trials, 1.0, 1.0)
}

/// A starting success probability from a mean count and the mean number of trials,
/// `mean / T`, clamped to `[PROB_FLOOR, 1 − PROB_FLOOR]` (one half without trials).
pub fn binomial_prob_of_mean(mean: f64, trials: f64) -> f64 {
    if mean >= 0.0 && trials > 0.0 {
        (mean / trials).clamp(PROB_FLOOR, 1.0 - PROB_FLOOR)
    } else {
        0.5
    }
}

/// A re-seeded success probability at a row's count: `0.25 + 0.5 x / T` (as a Bernoulli
/// probability is re-seeded at a row's bit), away from 0 and 1.
pub fn binomial_prob_at_row(x: f64, trials: f64) -> f64 {
    if trials > 0.0 {
        0.25 + 0.5 * (x / trials).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

/// `E_q[Σ_n z_nk ln Binomial(x_n | T_n, p)]` without the coefficients `Σ r ln C(T_n, x_n)`
/// (per-row terms of the data alone): `ln p Σ r x + ln(1 − p) (Σ r T − Σ r x)`.
pub fn binomial_expected(sum: f64, trials: f64, prob: f64) -> f64 {
    xlny_ln(sum, prob.ln()) + xlny_ln(trials - sum, (-prob).ln_1p())
}

/// `T H(Bernoulli(p))`: the entropy of `Binomial(T, p)` plus `E[ln C(T, x)]` (what a missing
/// count adds to the objective beyond its statistic `T p`).
pub fn binomial_missing_entropy(trials: f64, prob: f64) -> f64 {
    -trials * (xlny(prob, prob) + xlny(1.0 - prob, 1.0 - prob))
}

// ---------------------------------------------------------------------------------------
// Geometric: counts of failures before the first success, `p(x | p) = (1 − p)ˣ p`.

/// Adds `x_b ln(1 − p) + ln p` to `out[b]`.
pub fn geometric_add_log_density(
    x: ArrayView1<'_, f64>,
    prob: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let (log_p, log_q) = (prob.ln(), (-prob).ln_1p());
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &v| *o += log_p + xlny_ln(v, log_q));
}

/// The mode of a geometric success probability under a `Beta(a, b)` prior:
/// `(Σ r + a − 1) / (Σ r + Σ r x + a + b − 2)`, kept within `[f64::MIN_POSITIVE, 1 −
/// PROB_FLOOR]`: both logarithms stay finite, and a small probability (counts in large
/// units) is kept as it is.
pub fn geometric_prob_mode_from_stats(sum: f64, n: f64, a: f64, b: f64) -> f64 {
    let total = n + sum + a + b - 2.0;
    if total > 0.0 {
        ((n + a - 1.0) / total).clamp(f64::MIN_POSITIVE, 1.0 - PROB_FLOOR)
    } else {
        0.5
    }
}

/// The maximum-likelihood success probability `Σ r / (Σ r + Σ r x)` (the mode under the flat
/// `Beta(1, 1)`).
pub fn geometric_prob_from_stats(sum: f64, n: f64) -> f64 {
    geometric_prob_mode_from_stats(sum, n, 1.0, 1.0)
}

/// A starting or re-seeded success probability from a mean count: `1 / (1 + mean)`.
pub fn geometric_prob_of_mean(mean: f64) -> f64 {
    if mean >= 0.0 {
        (1.0 / (1.0 + mean)).clamp(f64::MIN_POSITIVE, 1.0 - PROB_FLOOR)
    } else {
        0.5
    }
}

/// `E_q[Σ_n z_nk ln Geometric(x_n | p)] = N_k ln p + ln(1 − p) Σ r x`.
pub fn geometric_expected(n: f64, sum: f64, prob: f64) -> f64 {
    xlny(n, prob) + xlny_ln(sum, (-prob).ln_1p())
}

/// The entropy of `Geometric(p)` (failures before the first success):
/// `−[(1 − p) ln(1 − p) + p ln p] / p`.
pub fn geometric_entropy(prob: f64) -> f64 {
    -(xlny(1.0 - prob, 1.0 - prob) + xlny(prob, prob)) / prob
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;
    use statrs::distribution::{Binomial, Discrete, Geometric, Poisson};

    #[test]
    fn rate_and_probability_priors_match_statrs() {
        use statrs::distribution::{Beta, Continuous, Dirichlet, Gamma};
        for (a, b, x) in [(2.0, 0.5, 3.2), (1.0, 4.0, 0.1), (7.5, 0.01, 900.0)] {
            let reference = Gamma::new(a, b).unwrap().ln_pdf(x);
            assert_relative_eq!(gamma_log_density(x, a, b), reference, epsilon = 1e-10);
        }
        for (a, b, p) in [(2.0, 2.0, 0.3), (1.0, 5.0, 0.01), (3.5, 1.0, 0.999)] {
            let reference = Beta::new(a, b).unwrap().ln_pdf(p);
            assert_relative_eq!(beta_log_density(p, a, b), reference, epsilon = 1e-10);
        }
        let p = array![0.2, 0.3, 0.5];
        let reference = Dirichlet::new(vec![2.5; 3])
            .unwrap()
            .ln_pdf(&nalgebra::DVector::from_vec(p.to_vec()));
        assert_relative_eq!(
            dirichlet_log_density(p.view(), 2.5),
            reference,
            epsilon = 1e-10
        );
        // The modes: pseudo-counts added to the statistics.
        assert_relative_eq!(rate_mode_from_stats(10.0, 4.0, 2.0, 0.5), 11.0 / 4.5);
        assert_eq!(
            probs_mode_from_stats(array![3.0].view(), 4.0, 2.0, 3.0)[0],
            4.0 / 7.0
        );
        let mode = simplex_mode_from_counts(array![3.0, 1.0].view(), 3.0);
        assert_relative_eq!(mode[0], 5.0 / 8.0);
        assert_relative_eq!(mode[1], 3.0 / 8.0);
    }

    #[test]
    fn poisson_matches_statrs() {
        let x = array![0.0, 3.0, 7.0];
        let lf = log_factorials(x.view());
        let mut out = Array1::zeros(3);
        poisson_add_log_density(x.view(), lf.view(), 2.5, out.view_mut());
        let p = Poisson::new(2.5).unwrap();
        for b in 0..3 {
            assert_relative_eq!(out[b], p.ln_pmf(x[b] as u64), epsilon = 1e-12);
        }
    }

    #[test]
    fn bernoulli_expected_matches_direct_sum() {
        let x = array![[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]];
        let r = array![0.3, 0.8];
        let p = array![0.2, 0.5, 0.9];
        let mut dens = Array1::zeros(2);
        bernoulli_add_log_density(x.view(), p.view(), dens.view_mut());
        let mut sum = Array1::zeros(3);
        accumulate_weighted_rows(x.view(), r.view(), sum.view_mut());
        let direct = dens[0] * 0.3 + dens[1] * 0.8;
        assert_relative_eq!(
            bernoulli_expected(1.1, sum.view(), p.view()),
            direct,
            epsilon = 1e-12
        );
    }

    #[test]
    fn multinomial_matches_statrs_and_its_statistics_give_the_m_step() {
        use statrs::distribution::Multinomial;
        // Column-major rows of counts, as the data are held; a row of zeros has density 1.
        let rows = array![
            [3.0, 0.0, 1.0],
            [0.0, 5.0, 2.0],
            [1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0]
        ];
        let x = rows.t().as_standard_layout().into_owned().reversed_axes();
        assert!(x.t().is_standard_layout());
        let p = array![0.5, 0.3, 0.2];
        let coef = multinomial_log_coefficients(x.view());
        let mut out = Array1::zeros(4);
        multinomial_add_log_density(
            x.view(),
            coef.view(),
            p.mapv(f64::ln).view(),
            out.view_mut(),
        );
        for (row, &o) in rows.rows().into_iter().zip(&out) {
            let counts: Vec<u64> = row.iter().map(|&v| v as u64).collect();
            let n = counts.iter().sum();
            let reference = Multinomial::new(p.to_vec(), n)
                .unwrap()
                .ln_pmf(&nalgebra::DVector::from_vec(counts));
            assert_relative_eq!(o, reference, epsilon = 1e-12);
        }
        // A zero probability where the count is zero adds nothing (no 0 · −∞).
        let mut out = Array1::zeros(4);
        let zero = array![0.5_f64, 0.5, 0.0];
        multinomial_add_log_density(
            x.slice(ndarray::s![2..3, ..2]),
            coef.slice(ndarray::s![2..3]),
            zero.mapv(f64::ln).slice(ndarray::s![..2]),
            out.slice_mut(ndarray::s![..1]),
        );
        assert!(out[0].is_finite());
        // The statistics: the M-step's probabilities are the weighted counts, normalised, and
        // the expected log-density is the weighted sum of the rows' densities.
        let resp = array![0.2, 1.0, 0.5, 0.7];
        let mut counts = Array1::zeros(3);
        multinomial_accumulate(x.view(), resp.view(), counts.view_mut());
        let direct: Array1<f64> = rows
            .rows()
            .into_iter()
            .zip(&resp)
            .map(|(r, &w)| r.mapv(|v| v * w))
            .fold(Array1::zeros(3), |a, b| a + b);
        let close = |a: &Array1<f64>, b: &Array1<f64>, eps: f64| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert_relative_eq!(x, y, epsilon = eps);
            }
        };
        close(&counts, &direct, 1e-12);
        let mut dens = Array1::zeros(4);
        multinomial_add_log_density(
            x.view(),
            coef.view(),
            p.mapv(f64::ln).view(),
            dens.view_mut(),
        );
        assert_relative_eq!(
            categorical_expected(counts.view(), p.view()) + coef.dot(&resp),
            dens.dot(&resp),
            epsilon = 1e-12
        );
        let theta = simplex_from_counts(counts.view());
        close(&theta, &(&counts / counts.sum()), 1e-12);
        // Re-seeding at a row: half uniform, half its proportions; uniform for a row of zeros.
        close(
            &multinomial_probs_at_row(rows.row(0)),
            &array![0.5 / 3.0 + 0.375, 0.5 / 3.0, 0.5 / 3.0 + 0.125],
            1e-15,
        );
        close(
            &multinomial_probs_at_row(rows.row(3)),
            &(array![1.0, 1.0, 1.0] / 3.0),
            1e-15,
        );
    }

    #[test]
    fn ln_choose_keeps_its_digits_at_any_size() {
        // Against ln Γ where that is exact enough, across the switch at 30 and Loader's at 15.
        for (n, k) in [
            (5.0, 2.0),
            (29.0, 7.0),
            (30.0, 1.0),
            (31.0, 15.0),
            (200.0, 3.0),
            (1000.0, 500.0),
        ] {
            let direct = ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0);
            assert_relative_eq!(ln_choose(n, k), direct, max_relative = 1e-13);
        }
        // Where the three ln Γ (about 1.4e17 each) cancel: C(n, 1) = n, C(n, 2) = n (n − 1) / 2.
        for n in [4e15, 1e12, 9.0e15] {
            assert_relative_eq!(ln_choose(n, 1.0), n.ln(), max_relative = 1e-14);
            assert_relative_eq!(
                ln_choose(n, 2.0),
                n.ln() + (n - 1.0).ln() - 2f64.ln(),
                max_relative = 1e-14
            );
        }
        assert_eq!(ln_choose(7.0, 0.0), 0.0);
        assert_eq!(ln_choose(7.0, 7.0), 0.0);
        // A multinomial row of 4e15 + 1 counts: its coefficient is C(4e15 + 1, 1).
        let x = array![[4e15, 0.0, 1.0]];
        assert_relative_eq!(
            multinomial_log_coefficients(x.view())[0],
            (4e15 + 1.0_f64).ln(),
            max_relative = 1e-14
        );
    }

    #[test]
    fn simplex_handles_all_zero_counts() {
        let p = simplex_from_counts(array![0.0, 0.0].view());
        assert_eq!(p, array![0.5, 0.5]);
        let q = simplex_from_counts(array![3.0, 0.0, 1.0].view());
        assert_relative_eq!(q.sum(), 1.0, epsilon = 1e-15);
        assert!(q[1] > 0.0);
    }

    #[test]
    fn geometric_matches_statrs_and_its_m_step_maximises() {
        // statrs' Geometric counts trials (1, 2, …): failures x are trial x + 1.
        let x = array![0.0, 1.0, 4.0, 12.0];
        for p in [0.9, 0.3, 0.05] {
            let mut out = Array1::zeros(4);
            geometric_add_log_density(x.view(), p, out.view_mut());
            let reference = Geometric::new(p).unwrap();
            for (o, &v) in out.iter().zip(&x) {
                assert_relative_eq!(*o, reference.ln_pmf(v as u64 + 1), max_relative = 1e-13);
            }
            // The expected log-density of one row is its log-density.
            assert_relative_eq!(
                geometric_expected(1.0, x[2], p),
                out[2],
                max_relative = 1e-13
            );
            // Entropy: −Σ p(x) ln p(x) over the support, summed far enough.
            let h: f64 = (0..20_000)
                .map(|v| {
                    let l = reference.ln_pmf(v + 1);
                    -l.exp() * l
                })
                .sum();
            assert_relative_eq!(geometric_entropy(p), h, max_relative = 1e-9);
        }
        let (n, sum) = (3.5, 7.25);
        let best = geometric_prob_from_stats(sum, n);
        assert_relative_eq!(best, n / (n + sum));
        for p in [best * 0.9, best * 1.1] {
            assert!(geometric_expected(n, sum, p) < geometric_expected(n, sum, best));
        }
        assert_relative_eq!(
            geometric_prob_mode_from_stats(sum, n, 2.0, 3.0),
            (n + 1.0) / (n + sum + 3.0)
        );
        assert_eq!(geometric_prob_of_mean(3.0), 0.25);
        // No failures at all: p = 1 − PROB_FLOOR, where both logarithms are finite.
        assert_eq!(geometric_prob_from_stats(0.0, 2.0), 1.0 - PROB_FLOOR);
        assert_eq!(geometric_expected(2.0, 0.0, 1.0), 0.0);
    }

    #[test]
    fn binomial_matches_statrs_and_its_m_step_maximises() {
        let x = array![0.0, 1.0, 7.0, 20.0];
        for p in [0.9, 0.3, 0.05] {
            let mut out = Array1::zeros(4);
            let coef = binomial_log_coefficients(x.view(), 20.0);
            binomial_add_log_density(x.view(), coef.view(), 20.0, p, out.view_mut());
            let reference = Binomial::new(p, 20).unwrap();
            for (o, &v) in out.iter().zip(&x) {
                assert_relative_eq!(*o, reference.ln_pmf(v as u64), max_relative = 1e-12);
            }
            let (mut sum, mut trials) = (0.0, 0.0);
            binomial_accumulate(
                x.view(),
                20.0,
                array![0.0, 0.0, 1.0, 0.0].view(),
                &mut sum,
                &mut trials,
            );
            assert_eq!(trials, 20.0);
            assert_relative_eq!(
                binomial_expected(sum, trials, p) + coef[2],
                out[2],
                max_relative = 1e-12
            );
            // Trials per row: each row against its own reference.
            let t = array![3.0, 1.0, 9.0, 40.0];
            let coef = binomial_rows_log_coefficients(x.view(), t.view());
            let mut out = Array1::zeros(4);
            binomial_rows_add_log_density(x.view(), coef.view(), t.view(), p, out.view_mut());
            for ((o, &v), &n) in out.iter().zip(&x).zip(&t) {
                let reference = Binomial::new(p, n as u64).unwrap();
                assert_relative_eq!(*o, reference.ln_pmf(v as u64), max_relative = 1e-12);
            }
            let (mut sum, mut trials) = (0.0, 0.0);
            let resp = array![0.5, 0.0, 0.25, 1.0];
            binomial_rows_accumulate(x.view(), t.view(), resp.view(), &mut sum, &mut trials);
            assert_relative_eq!(sum, 0.0 * 0.5 + 7.0 * 0.25 + 20.0);
            assert_relative_eq!(trials, 1.5 + 9.0 * 0.25 + 40.0);
            let expected: f64 = (0..4).map(|i| resp[i] * (out[i] - coef[i])).sum();
            assert_relative_eq!(
                binomial_expected(sum, trials, p),
                expected,
                max_relative = 1e-12
            );
            // The missing count's term: −Σ_x p(x) (x ln p + (T − x) ln(1 − p)).
            let h: f64 = (0..=20u64)
                .map(|v| {
                    let w = reference.pmf(v);
                    -w * (v as f64 * p.ln() + (20.0 - v as f64) * (1.0 - p).ln())
                })
                .sum();
            assert_relative_eq!(binomial_missing_entropy(20.0, p), h, max_relative = 1e-12);
        }
        let (trials, sum) = (70.0, 21.0);
        let best = binomial_prob_from_stats(sum, trials);
        assert_relative_eq!(best, sum / trials);
        for p in [best * 0.9, best * 1.1] {
            assert!(binomial_expected(sum, trials, p) < binomial_expected(sum, trials, best));
        }
        assert_relative_eq!(
            binomial_prob_mode_from_stats(sum, trials, 2.0, 3.0),
            (sum + 1.0) / (70.0 + 3.0)
        );
        assert_eq!(binomial_prob_at_row(10.0, 20.0), 0.5);
        // A row of zero trials, and no trials at all, re-seed and start at one half.
        assert_eq!(binomial_prob_at_row(0.0, 0.0), 0.5);
        assert_eq!(binomial_prob_of_mean(0.0, 0.0), 0.5);
    }
}
