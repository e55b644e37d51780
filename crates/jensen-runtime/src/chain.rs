//! Kernels for chain-structured latents (hidden Markov models): the scaled forward–backward
//! recursions, giving the log-likelihood, the state posteriors and the expected transition
//! counts of one sequence, and the Viterbi path.
//!
//! Forward–backward works with probabilities rescaled at every step (Rabiner's scaling), so a
//! sequence of any length neither underflows nor needs a log-sum-exp per transition; the
//! emission log-densities are shifted by their per-step maximum before exponentiating, which
//! keeps the recursion finite even when every density underflows in linear space.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

/// Posterior summaries of one sequence, written by [`forward_backward`].
#[derive(Debug)]
pub struct ChainPosterior<'a> {
    /// `γ[t, k] = p(z_t = k | x)`, `T × K`.
    pub gamma: ArrayViewMut2<'a, f64>,
    /// `Σ_t ξ[t, i, j] = Σ_t p(z_t = i, z_{t+1} = j | x)`, added to (`K × K`).
    pub transitions: ArrayViewMut2<'a, f64>,
    /// `γ[0, ·]`, added to (the statistics of the initial distribution).
    pub initial: ArrayViewMut1<'a, f64>,
}

/// Runs the scaled forward–backward recursions on one sequence.
///
/// `log_pi` is the initial distribution (`K`), `log_a` the transition matrix (`K × K`, row =
/// from), `log_b[t, k] = ln p(x_t | z_t = k)` (`T × K`). Returns `ln p(x_0..x_{T-1})`;
/// `-∞` when no state path can explain the sequence (the posteriors are then uniform).
pub fn forward_backward(
    log_pi: ArrayView1<'_, f64>,
    log_a: ArrayView2<'_, f64>,
    log_b: ArrayView2<'_, f64>,
    mut out: ChainPosterior<'_>,
) -> f64 {
    let (t_len, k) = log_b.dim();
    if t_len == 0 {
        return 0.0;
    }
    let pi = log_pi.mapv(f64::exp);
    let a = log_a.mapv(f64::exp);
    // Emissions rescaled per step: b[t, k] = exp(log_b[t, k] − m_t).
    let mut b = Array2::<f64>::zeros((t_len, k));
    let mut shift = Array1::<f64>::zeros(t_len);
    for t in 0..t_len {
        let m = log_b
            .row(t)
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if !m.is_finite() {
            out.gamma.fill(1.0 / k as f64);
            return if m.is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
        }
        shift[t] = m;
        for j in 0..k {
            b[[t, j]] = (log_b[[t, j]] - m).exp();
        }
    }
    // Forward: α̂_t = α_t / Π c, with c_t the normaliser of step t.
    let mut alpha = Array2::<f64>::zeros((t_len, k));
    let mut scale = Array1::<f64>::zeros(t_len);
    let mut loglik = 0.0;
    for t in 0..t_len {
        for j in 0..k {
            let prior = if t == 0 {
                pi[j]
            } else {
                (0..k).map(|i| alpha[[t - 1, i]] * a[[i, j]]).sum::<f64>()
            };
            alpha[[t, j]] = prior * b[[t, j]];
        }
        let c: f64 = alpha.row(t).sum();
        if c.is_nan() || c <= 0.0 {
            out.gamma.fill(1.0 / k as f64);
            return f64::NEG_INFINITY;
        }
        alpha.row_mut(t).mapv_inplace(|v| v / c);
        scale[t] = c;
        loglik += c.ln() + shift[t];
    }
    // Backward, with the same scaling; γ and Σξ on the way.
    let mut beta_next = Array1::<f64>::ones(k);
    out.gamma.row_mut(t_len - 1).assign(&alpha.row(t_len - 1));
    for t in (0..t_len - 1).rev() {
        let c = scale[t + 1];
        let weighted: Array1<f64> = (0..k).map(|j| b[[t + 1, j]] * beta_next[j] / c).collect();
        let mut beta = Array1::<f64>::zeros(k);
        for i in 0..k {
            let mut acc = 0.0;
            for j in 0..k {
                let x = a[[i, j]] * weighted[j];
                acc += x;
                out.transitions[[i, j]] += alpha[[t, i]] * x;
            }
            beta[i] = acc;
        }
        for i in 0..k {
            out.gamma[[t, i]] = alpha[[t, i]] * beta[i];
        }
        beta_next = beta;
    }
    let first = out.gamma.row(0).to_owned();
    out.initial += &first;
    loglik
}

/// The most probable state path (Viterbi, in log space) and its joint log-probability
/// `ln p(x, z*)`. Ties go to the lower state index.
pub fn viterbi(
    log_pi: ArrayView1<'_, f64>,
    log_a: ArrayView2<'_, f64>,
    log_b: ArrayView2<'_, f64>,
) -> (Vec<usize>, f64) {
    let (t_len, k) = log_b.dim();
    if t_len == 0 {
        return (Vec::new(), 0.0);
    }
    let mut delta: Array1<f64> = (0..k).map(|j| log_pi[j] + log_b[[0, j]]).collect();
    let mut back = Array2::<u32>::zeros((t_len, k));
    for t in 1..t_len {
        let mut next = Array1::<f64>::from_elem(k, f64::NEG_INFINITY);
        for j in 0..k {
            let mut best = (f64::NEG_INFINITY, 0usize);
            for i in 0..k {
                let v = delta[i] + log_a[[i, j]];
                if v > best.0 {
                    best = (v, i);
                }
            }
            next[j] = best.0 + log_b[[t, j]];
            back[[t, j]] = best.1 as u32;
        }
        delta = next;
    }
    let (mut state, score) = delta.iter().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
    );
    let mut path = vec![0; t_len];
    for t in (0..t_len).rev() {
        path[t] = state;
        state = back[[t, state]] as usize;
    }
    (path, score)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array2};

    /// Every state path of a short sequence, with `ln p(x, z)`.
    fn paths(
        log_pi: &Array1<f64>,
        log_a: &Array2<f64>,
        log_b: &Array2<f64>,
    ) -> Vec<(Vec<usize>, f64)> {
        let (t_len, k) = log_b.dim();
        let mut out = Vec::new();
        for code in 0..k.pow(t_len as u32) {
            let z: Vec<usize> = (0..t_len).map(|t| (code / k.pow(t as u32)) % k).collect();
            let mut lp = log_pi[z[0]] + log_b[[0, z[0]]];
            for t in 1..t_len {
                lp += log_a[[z[t - 1], z[t]]] + log_b[[t, z[t]]];
            }
            out.push((z, lp));
        }
        out
    }

    fn example() -> (Array1<f64>, Array2<f64>, Array2<f64>) {
        let pi = array![0.5, 0.3, 0.2].mapv(f64::ln);
        let a = array![[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]].mapv(f64::ln);
        // Emission log-densities far from 0, as for continuous data.
        let b = array![
            [-3.0, -1.0, -7.0],
            [-2.5, -4.0, -1.5],
            [-900.0, -902.0, -899.5],
            [-1.0, -1.2, -6.0],
            [-5.0, -0.5, -2.0]
        ];
        (pi, a, b)
    }

    #[test]
    fn forward_backward_matches_enumerating_every_path() {
        let (pi, a, b) = example();
        let (t_len, k) = b.dim();
        let all = paths(&pi, &a, &b);
        let max = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let total = max + all.iter().map(|p| (p.1 - max).exp()).sum::<f64>().ln();
        let mut gamma = Array2::zeros((t_len, k));
        let mut xi = Array2::zeros((k, k));
        let mut init = Array1::zeros(k);
        let ll = forward_backward(
            pi.view(),
            a.view(),
            b.view(),
            ChainPosterior {
                gamma: gamma.view_mut(),
                transitions: xi.view_mut(),
                initial: init.view_mut(),
            },
        );
        assert_relative_eq!(ll, total, epsilon = 1e-10);
        let mut expect_gamma = Array2::<f64>::zeros((t_len, k));
        let mut expect_xi = Array2::<f64>::zeros((k, k));
        for (z, lp) in &all {
            let w = (lp - total).exp();
            for t in 0..t_len {
                expect_gamma[[t, z[t]]] += w;
                if t + 1 < t_len {
                    expect_xi[[z[t], z[t + 1]]] += w;
                }
            }
        }
        for (g, e) in gamma.iter().zip(expect_gamma.iter()) {
            assert_relative_eq!(g, e, epsilon = 1e-12);
        }
        for (g, e) in xi.iter().zip(expect_xi.iter()) {
            assert_relative_eq!(g, e, epsilon = 1e-12);
        }
        for (g, e) in init.iter().zip(expect_gamma.row(0).iter()) {
            assert_relative_eq!(g, e, epsilon = 1e-12);
        }
    }

    #[test]
    fn viterbi_finds_the_best_path() {
        let (pi, a, b) = example();
        let best = paths(&pi, &a, &b)
            .into_iter()
            .fold((vec![], f64::NEG_INFINITY), |acc, p| {
                if p.1 > acc.1 {
                    p
                } else {
                    acc
                }
            });
        let (path, score) = viterbi(pi.view(), a.view(), b.view());
        assert_eq!(path, best.0);
        assert_relative_eq!(score, best.1, epsilon = 1e-12);
    }

    #[test]
    fn a_million_steps_do_not_underflow() {
        let t_len = 1_000_000;
        let pi = array![0.5, 0.5].mapv(f64::ln);
        let a = array![[0.95, 0.05], [0.1, 0.9]].mapv(f64::ln);
        let b = Array2::from_shape_fn(
            (t_len, 2),
            |(t, k)| if (t / 1000) % 2 == k { -1.0 } else { -3.0 },
        );
        let mut gamma = Array2::zeros((t_len, 2));
        let mut xi = Array2::zeros((2, 2));
        let mut init = Array1::zeros(2);
        let ll = forward_backward(
            pi.view(),
            a.view(),
            b.view(),
            ChainPosterior {
                gamma: gamma.view_mut(),
                transitions: xi.view_mut(),
                initial: init.view_mut(),
            },
        );
        assert!(ll.is_finite() && ll < 0.0, "{ll}");
        assert!(gamma
            .rows()
            .into_iter()
            .all(|r| (r.sum() - 1.0).abs() < 1e-9));
        assert_relative_eq!(xi.sum(), (t_len - 1) as f64, max_relative = 1e-9);
        let (path, score) = viterbi(pi.view(), a.view(), b.view());
        assert!(score.is_finite() && score <= ll);
        assert_eq!(path[500], 0);
        assert_eq!(path[1500], 1);
    }

    #[test]
    fn an_impossible_sequence_is_reported_not_nan() {
        let pi = array![0.5, 0.5].mapv(f64::ln);
        let a = array![[1.0, 0.0], [0.0, 1.0]].mapv(f64::ln);
        // State 0 only at t = 0, state 1 only at t = 1, but no transition 0 → 1.
        let b = array![[0.0, f64::NEG_INFINITY], [f64::NEG_INFINITY, 0.0]];
        let mut gamma = Array2::zeros((2, 2));
        let mut xi = Array2::zeros((2, 2));
        let mut init = Array1::zeros(2);
        let ll = forward_backward(
            pi.view(),
            a.view(),
            b.view(),
            ChainPosterior {
                gamma: gamma.view_mut(),
                transitions: xi.view_mut(),
                initial: init.view_mut(),
            },
        );
        assert_eq!(ll, f64::NEG_INFINITY);
        assert!(gamma.iter().all(|v| v.is_finite()));
    }
}
