//! Exponential emissions of positive data: `p(x | λ) = λ e^{−λx}`. The statistic is the
//! weighted sum `Σ r x` (accumulated by [`discrete::accumulate_weighted_sum`](super::discrete::accumulate_weighted_sum)),
//! and the M-step is the inverse of the weighted mean.

use ndarray::{ArrayView1, ArrayViewMut1, Zip};

use super::PROB_FLOOR;

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
/// `a ≥ 1`): `(Σ r + a − 1) / (Σ r x + b)`, floored at [`PROB_FLOOR`].
pub fn exponential_rate_mode_from_stats(sum: f64, n: f64, shape: f64, rate: f64) -> f64 {
    let total = sum + rate;
    if total > 0.0 {
        ((n + shape - 1.0) / total).max(PROB_FLOOR)
    } else {
        PROB_FLOOR
    }
}

/// The inverse of a positive value (a starting or re-seeded rate), floored at [`PROB_FLOOR`].
pub fn inverse_rate(mean: f64) -> f64 {
    if mean > 0.0 {
        (1.0 / mean).max(PROB_FLOOR)
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
