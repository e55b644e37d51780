//! Exponential emissions of positive data: `p(x | λ) = λ e^{−λx}`. The statistic is the
//! weighted sum `Σ r x` (accumulated by [`discrete::accumulate_weighted_sum`](super::discrete::accumulate_weighted_sum)),
//! and the M-step is the inverse of the weighted mean.
//!
//! Gamma emissions of known shape `a` (`p(x | b) = bᵃ xᵃ⁻¹ e^{−bx} / Γ(a)`, rate `b`) are the
//! same block with `a` events per row: statistics `Σ r x` and `Σ r ln x` (the latter only
//! for the objective), the rate `a Σ r / Σ r x`; the exponential is `a = 1`.

use ndarray::{ArrayView1, ArrayViewMut1, Zip};
use statrs::function::gamma::{digamma, ln_gamma};

use super::PROB_FLOOR;

/// Adds `a ln b − ln Γ(a) + (a − 1) ln x_b − b x_b` to `out[b]` (a Gamma of known shape `a`
/// and rate `b`).
pub fn gamma_add_log_density(
    x: ArrayView1<'_, f64>,
    shape: f64,
    rate: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let constant = shape * rate.ln() - ln_gamma(shape);
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &v| *o += constant + (shape - 1.0) * v.ln() - rate * v);
}

/// Adds `Σ_b r_b x_b` to `sum` and `Σ_b r_b ln x_b` to `log_sum` (a row of weight zero adds
/// nothing, whatever its value).
pub fn gamma_accumulate(
    x: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    log_sum: &mut f64,
) {
    for (&v, &r) in x.iter().zip(resp.iter()) {
        if r != 0.0 {
            *sum += r * v;
            *log_sum += r * v.ln();
        }
    }
}

/// A Gamma rate of known shape `a`: `a Σ r / Σ r x` ([`PROB_FLOOR`] for an empty
/// component).
pub fn gamma_rate_from_stats(sum: f64, n: f64, shape: f64) -> f64 {
    exponential_rate_from_stats(sum, shape * n)
}

/// The mode of a Gamma rate's posterior (known shape `a`) under a `Gamma(α, β)` prior:
/// `(a Σ r + α − 1) / (Σ r x + β)` ([`PROB_FLOOR`] when it is zero).
pub fn gamma_rate_mode_from_stats(sum: f64, n: f64, shape: f64, alpha: f64, beta: f64) -> f64 {
    exponential_rate_mode_from_stats(sum, shape * n, alpha, beta)
}

/// A starting or re-seeded Gamma rate of known shape `a` from a positive mean: `a / mean`,
/// within the positive finite numbers.
pub fn gamma_rate_of_mean(mean: f64, shape: f64) -> f64 {
    if mean > 0.0 {
        (shape / mean).clamp(f64::MIN_POSITIVE, f64::MAX)
    } else {
        shape
    }
}

/// `E_q[Σ_n z_nk ln Gamma(x_n | a, b)] = N_k (a ln b − ln Γ(a)) + (a − 1) Σ r ln x − b Σ r x`.
pub fn gamma_expected(n: f64, sum: f64, log_sum: f64, shape: f64, rate: f64) -> f64 {
    n * (shape * rate.ln() - ln_gamma(shape)) + (shape - 1.0) * log_sum - rate * sum
}

/// The entropy of `Gamma(a, b)`: `a − ln b + ln Γ(a) + (1 − a) ψ(a)`.
pub fn gamma_entropy(shape: f64, rate: f64) -> f64 {
    shape - rate.ln() + ln_gamma(shape) + (1.0 - shape) * digamma(shape)
}

/// `E[ln x]` under `Gamma(a, b)`: `ψ(a) − ln b`.
pub fn gamma_mean_log(shape: f64, rate: f64) -> f64 {
    digamma(shape) - rate.ln()
}

/// Adds `ln λ − λ x_b` to `out[b]`.
pub fn exponential_add_log_density(
    x: ArrayView1<'_, f64>,
    rate: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let log_rate = rate.ln();
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &v| *o += log_rate - rate * v);
}

/// The rate `Σ r / Σ r x`, floored at [`PROB_FLOOR`] (an empty component keeps a finite
/// logarithm until it is re-seeded).
pub fn exponential_rate_from_stats(sum: f64, n: f64) -> f64 {
    // The mode under the flat `Gamma(1, 0)`.
    exponential_rate_mode_from_stats(sum, n, 1.0, 0.0)
}

/// The mode of an exponential rate's posterior under a `Gamma(a, b)` prior (shape, rate;
/// `a ≥ 1`): `(Σ r + a − 1) / (Σ r x + b)`. A rate of zero (an empty component under a flat
/// prior) is [`PROB_FLOOR`] instead, which keeps its logarithm finite until it is re-seeded;
/// any positive rate is kept as it is, however small (data in large units).
pub fn exponential_rate_mode_from_stats(sum: f64, n: f64, shape: f64, rate: f64) -> f64 {
    let total = sum + rate;
    let value = (n + shape - 1.0) / total;
    if total > 0.0 && value > 0.0 {
        value.min(f64::MAX)
    } else {
        PROB_FLOOR
    }
}

/// The inverse of a positive value (a starting or re-seeded rate), within the positive
/// finite numbers.
pub fn inverse_rate(mean: f64) -> f64 {
    if mean > 0.0 {
        (1.0 / mean).clamp(f64::MIN_POSITIVE, f64::MAX)
    } else {
        1.0
    }
}

/// `E_q[Σ_n z_nk ln Exponential(x_n | λ)] = N_k ln λ − λ Σ r x`.
pub fn exponential_expected(n: f64, sum: f64, rate: f64) -> f64 {
    n * rate.ln() - rate * sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array1};
    use statrs::distribution::{Continuous, Exp};

    #[test]
    fn density_matches_statrs() {
        let x = array![0.1, 1.0, 2.5, 40.0];
        let mut out = Array1::zeros(4);
        exponential_add_log_density(x.view(), 0.7, out.view_mut());
        let reference = Exp::new(0.7).unwrap();
        for (o, v) in out.iter().zip(&x) {
            assert_relative_eq!(*o, reference.ln_pdf(*v), max_relative = 1e-14);
        }
    }

    #[test]
    fn gamma_density_matches_statrs_and_its_expectations() {
        let x = array![0.1, 1.0, 2.5, 40.0];
        for (shape, rate) in [(1.0, 0.7), (2.5, 0.3), (0.5, 4.0)] {
            let mut out = Array1::zeros(4);
            gamma_add_log_density(x.view(), shape, rate, out.view_mut());
            let reference = statrs::distribution::Gamma::new(shape, rate).unwrap();
            for (o, v) in out.iter().zip(&x) {
                assert_relative_eq!(*o, reference.ln_pdf(*v), max_relative = 1e-13);
            }
            // The expected log-density of one row is its log-density; the entropy is
            // statrs'.
            let (mut sum, mut log_sum) = (0.0, 0.0);
            let r = array![0.0, 1.0, 0.0, 0.0];
            gamma_accumulate(x.view(), r.view(), &mut sum, &mut log_sum);
            assert_relative_eq!(
                gamma_expected(1.0, sum, log_sum, shape, rate),
                out[1],
                max_relative = 1e-13
            );
            use statrs::statistics::Distribution;
            assert_relative_eq!(
                gamma_entropy(shape, rate),
                reference.entropy().unwrap(),
                max_relative = 1e-12
            );
        }
        // The rate maximises the expected log-density (a N / S), and is `a / mean` from a
        // start.
        let (n, sum, log_sum, shape) = (3.5, 7.25, 1.5, 2.5);
        let best = gamma_rate_from_stats(sum, n, shape);
        assert_relative_eq!(best, shape * n / sum);
        for rate in [best * 0.9, best * 1.1] {
            assert!(
                gamma_expected(n, sum, log_sum, shape, rate)
                    < gamma_expected(n, sum, log_sum, shape, best)
            );
        }
        assert_relative_eq!(gamma_rate_of_mean(4.0, shape), shape / 4.0);
        // With a `Gamma(α, β)` prior: the mode of the posterior `Gamma(α + a N, β + S)`.
        assert_relative_eq!(
            gamma_rate_mode_from_stats(sum, n, shape, 3.0, 0.5),
            (shape * n + 2.0) / (sum + 0.5)
        );
    }

    #[test]
    fn the_m_step_maximises_the_expected_log_density() {
        // Weighted rows: the maximiser of N ln λ − λ S is N / S.
        let (n, sum) = (3.5, 7.25);
        let best = exponential_rate_from_stats(sum, n);
        assert_relative_eq!(best, n / sum);
        for rate in [best * 0.9, best * 1.1] {
            assert!(exponential_expected(n, sum, rate) < exponential_expected(n, sum, best));
        }
        assert_eq!(exponential_rate_from_stats(0.0, 0.0), PROB_FLOOR);
        assert_eq!(inverse_rate(4.0), 0.25);
    }
}
