//! Kernels for chain-structured latents (hidden Markov models): the scaled forward–backward
//! recursions, giving the log-likelihood, the state posteriors and the expected transition
//! counts of one sequence, and the Viterbi path.
//!
//! Forward–backward works with probabilities rescaled at every step (Rabiner's scaling), so a
//! sequence of any length neither underflows nor needs a log-sum-exp per transition; the
//! emission log-densities are shifted by their per-step maximum before exponentiating, which
//! keeps the recursion finite even when every density underflows in linear space.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

use crate::data::DataError;
use crate::kernels::discrete::simplex_from_counts;
use crate::kernels::lanes::{self, Kernel, Lanes, LANES};
use crate::kernels::xlny;
use crate::mixture::exp_in_place;
use crate::scratch;

/// Posterior summaries of one sequence, written by [`forward_backward`].
#[derive(Debug)]
pub struct ChainPosterior<'a> {
    /// `γ[t, k] = p(z_t = k | x)`, `T × K`.
    pub gamma: ArrayViewMut2<'a, f64>,
    /// `Σ_t ξ[t, i, j] = Σ_t p(z_t = i, z_{t+1} = j | x)`, added to (`K × K`).
    pub transitions: ArrayViewMut2<'a, f64>,
    /// `γ[0, ·]`, added to (the statistics of the initial distribution).
    pub initial: ArrayViewMut1<'a, f64>,
    /// If given (`T` entries): `ln p(x_t | x_0..x_{t-1})`, which sums to the sequence's
    /// log-likelihood.
    pub steps: Option<ArrayViewMut1<'a, f64>>,
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
    let pi: Vec<f64> = log_pi.iter().map(|v| v.exp()).collect();
    let a: Vec<f64> = log_a.iter().map(|v| v.exp()).collect(); // row-major K × K
    let impossible = |out: &mut ChainPosterior<'_>, value: f64| {
        out.gamma.fill(1.0 / k as f64);
        if let Some(steps) = out.steps.as_mut() {
            steps.fill(value);
        }
        value
    };
    // Emissions rescaled per step: b[t, k] = exp(log_b[t, k] − m_t), exponentiated in one
    // vectorised pass.
    let padded = (t_len * k).div_ceil(4) * 4;
    // (Per-iteration buffers of the sequence's length: from the thread's pool.)
    let mut shifted = scratch::take_written(padded);
    shifted[t_len * k..].fill(f64::NEG_INFINITY);
    let mut shift = scratch::take_written(t_len);
    if k == 0 {
        return impossible(&mut out, f64::NEG_INFINITY);
    }
    // (The emissions are row-major `T × K` as the E-step writes them, so this borrows.)
    let standard = log_b.as_standard_layout();
    let rows = standard
        .as_slice()
        .expect("a standard layout")
        .chunks_exact(k);
    for (t, row) in rows.enumerate() {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if row.iter().any(|v| v.is_nan()) {
            return impossible(&mut out, f64::NAN);
        }
        if !m.is_finite() {
            return impossible(&mut out, f64::NEG_INFINITY);
        }
        shift[t] = m;
        for (s, &l) in shifted[t * k..(t + 1) * k].iter_mut().zip(row) {
            *s = l - m;
        }
    }
    let mut b = scratch::take_written(padded);
    exp_in_place(&shifted, &mut b);
    scratch::give(shifted);
    if k <= LANES {
        let loglik = small_chain(&pi, &a, &b, &shift, out, impossible);
        scratch::give(b);
        scratch::give(shift);
        return loglik;
    }
    // Forward: α̂_t = α_t / Π c, with c_t the normaliser of step t.
    let mut alpha = vec![0.0; t_len * k];
    let mut scale = vec![0.0; t_len];
    let mut loglik = 0.0;
    for t in 0..t_len {
        let (done, rest) = alpha.split_at_mut(t * k);
        let cur = &mut rest[..k];
        if t == 0 {
            cur.copy_from_slice(&pi);
        } else {
            cur.fill(0.0);
            let prev = &done[(t - 1) * k..];
            for (i, &ai) in prev.iter().enumerate() {
                for (c, &aij) in cur.iter_mut().zip(&a[i * k..(i + 1) * k]) {
                    *c += ai * aij;
                }
            }
        }
        let mut c = 0.0;
        for (v, &bv) in cur.iter_mut().zip(&b[t * k..(t + 1) * k]) {
            *v *= bv;
            c += *v;
        }
        if c.is_nan() || c <= 0.0 {
            return impossible(&mut out, f64::NEG_INFINITY);
        }
        let inv = 1.0 / c;
        cur.iter_mut().for_each(|v| *v *= inv);
        scale[t] = c;
        let step = c.ln() + shift[t];
        if let Some(steps) = out.steps.as_mut() {
            steps[t] = step;
        }
        loglik += step;
    }
    // Backward, with the same scaling; γ and Σξ on the way.
    let mut beta_next = vec![1.0; k];
    let mut beta = vec![0.0; k];
    let mut weighted = vec![0.0; k];
    // A and Σξ stored transposed (column j contiguous), so the inner loops run over the
    // "from" state and vectorise.
    let mut a_t = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            a_t[j * k + i] = a[i * k + j];
        }
    }
    let mut xi_t = vec![0.0; k * k];
    for (g, &al) in out
        .gamma
        .row_mut(t_len - 1)
        .iter_mut()
        .zip(&alpha[(t_len - 1) * k..])
    {
        *g = al;
    }
    for t in (0..t_len - 1).rev() {
        let inv = 1.0 / scale[t + 1];
        for ((w, &bv), &bn) in weighted.iter_mut().zip(&b[(t + 1) * k..]).zip(&beta_next) {
            *w = bv * bn * inv;
        }
        let alpha_t = &alpha[t * k..(t + 1) * k];
        beta.fill(0.0);
        for ((col, xi_col), &w) in a_t
            .chunks_exact(k)
            .zip(xi_t.chunks_exact_mut(k))
            .zip(&weighted)
        {
            for (((be, x), &aij), &ai) in beta.iter_mut().zip(xi_col).zip(col).zip(alpha_t) {
                let v = aij * w;
                *be += v;
                *x += ai * v;
            }
        }
        for ((g, &al), &be) in out.gamma.row_mut(t).iter_mut().zip(alpha_t).zip(&beta) {
            *g = al * be;
        }
        std::mem::swap(&mut beta, &mut beta_next);
    }
    for i in 0..k {
        for j in 0..k {
            out.transitions[[i, j]] += xi_t[j * k + i];
        }
    }
    let first = out.gamma.row(0).to_owned();
    out.initial += &first;
    loglik
}

/// [`forward_backward`] for at most [`LANES`] states, the common case: each step's `α`,
/// `β`, `γ` and every row of `A` are one value of eight lanes (states past `K` are zero),
/// and the expected transition counts stay in registers for the whole sequence. The
/// recursions are those of the general form, with the sums over states split in two
/// halves so that consecutive multiply-adds do not wait on each other.
fn small_chain(
    pi: &[f64],
    a: &[f64],
    b: &[f64],
    shift: &[f64],
    mut out: ChainPosterior<'_>,
    impossible: impl Fn(&mut ChainPosterior<'_>, f64) -> f64,
) -> f64 {
    let (t_len, k) = (shift.len(), pi.len());
    let mut alpha = scratch::take_written(t_len * LANES);
    let mut scale = scratch::take_written(t_len);
    let mut xi_t = [[0.0; LANES]; LANES];
    let mut gamma = scratch::take_written(t_len * LANES);
    let ok = lanes::dispatch(SmallChain {
        k,
        pi,
        a,
        b,
        alpha: alpha.as_chunks_mut().0,
        scale: &mut scale,
        xi_t: &mut xi_t,
        gamma: gamma.as_chunks_mut().0,
    });
    let loglik = if ok {
        let mut loglik = 0.0;
        for (t, (&c, &m)) in scale.iter().zip(shift).enumerate() {
            let step = c.ln() + m;
            if let Some(steps) = out.steps.as_mut() {
                steps[t] = step;
            }
            loglik += step;
        }
        for (mut row, g) in out
            .gamma
            .rows_mut()
            .into_iter()
            .zip(gamma.chunks_exact(LANES))
        {
            for (o, &v) in row.iter_mut().zip(g) {
                *o = v;
            }
        }
        for i in 0..k {
            for j in 0..k {
                out.transitions[[i, j]] += xi_t[j][i];
            }
        }
        let first = out.gamma.row(0).to_owned();
        out.initial += &first;
        loglik
    } else {
        impossible(&mut out, f64::NEG_INFINITY)
    };
    for buffer in [alpha, scale, gamma] {
        scratch::give(buffer);
    }
    loglik
}

/// The recursions of [`small_chain`]; `false` when a step has probability 0 (or NaN).
struct SmallChain<'a> {
    k: usize,
    pi: &'a [f64],
    /// `K × K`, row = from.
    a: &'a [f64],
    /// The rescaled emissions, `T × K`.
    b: &'a [f64],
    /// `α̂_t` (`T` tiles).
    alpha: &'a mut [[f64; LANES]],
    /// The normaliser of each step.
    scale: &'a mut [f64],
    /// `Σ_t ξ_t` transposed: `xi_t[j][i]` for the move from `i` to `j`.
    xi_t: &'a mut [[f64; LANES]; LANES],
    /// `γ_t` (`T` tiles).
    gamma: &'a mut [[f64; LANES]],
}

/// `Σ` of the lanes, in a fixed order.
#[inline(always)]
fn lane_sum(v: &[f64; LANES]) -> f64 {
    ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
}

/// `K` values into eight lanes, the rest zero.
#[inline(always)]
fn padded(values: &[f64]) -> [f64; LANES] {
    let mut t = [0.0; LANES];
    t[..values.len()].copy_from_slice(values);
    t
}

impl Kernel for SmallChain<'_> {
    type Output = bool;

    #[inline(always)]
    fn run<V: Lanes>(self) -> bool {
        let Self {
            k,
            pi,
            a,
            b,
            alpha,
            scale,
            xi_t,
            gamma,
        } = self;
        let t_len = scale.len();
        let rows: [V; LANES] = std::array::from_fn(|i| {
            V::load(&padded(if i < k { &a[i * k..(i + 1) * k] } else { &[] }))
        });
        let cols: [V; LANES] = std::array::from_fn(|j| {
            let mut c = [0.0; LANES];
            for i in 0..k.min(LANES) {
                if j < k {
                    c[i] = a[i * k + j];
                }
            }
            V::load(&c)
        });
        let zero = V::splat(0.0);
        // Forward: α̂_t = (Σ_i α̂_{t−1, i} A_i) ∘ b_t / c_t.
        let mut prev = [0.0; LANES];
        for t in 0..t_len {
            let bt = V::load(&padded(&b[t * k..(t + 1) * k]));
            let cur = if t == 0 {
                V::load(&padded(pi)).mul(bt)
            } else {
                let (mut lo, mut hi) = (zero, zero);
                for i in (0..k).step_by(2) {
                    lo = V::splat(prev[i]).mul_add(rows[i], lo);
                    if i + 1 < k {
                        hi = V::splat(prev[i + 1]).mul_add(rows[i + 1], hi);
                    }
                }
                lo.add(hi).mul(bt)
            };
            cur.store(&mut prev);
            let c = lane_sum(&prev);
            if c.is_nan() || c <= 0.0 {
                return false;
            }
            let normalised = cur.mul(V::splat(1.0 / c));
            normalised.store(&mut prev);
            normalised.store(&mut alpha[t]);
            scale[t] = c;
        }
        // Backward, with the same scaling; γ and Σξ on the way.
        let mut xi: [V; LANES] = [zero; LANES];
        let mut beta_next = V::load(&padded(&[1.0; LANES][..k]));
        gamma[t_len - 1] = alpha[t_len - 1];
        let mut w = [0.0; LANES];
        for t in (0..t_len.saturating_sub(1)).rev() {
            let bn = V::load(&padded(&b[(t + 1) * k..(t + 2) * k]));
            bn.mul(beta_next)
                .mul(V::splat(1.0 / scale[t + 1]))
                .store(&mut w);
            let alpha_t = V::load(&alpha[t]);
            let (mut lo, mut hi) = (zero, zero);
            for j in (0..k).step_by(2) {
                let v = cols[j].mul(V::splat(w[j]));
                lo = lo.add(v);
                xi[j] = alpha_t.mul_add(v, xi[j]);
                if j + 1 < k {
                    let v = cols[j + 1].mul(V::splat(w[j + 1]));
                    hi = hi.add(v);
                    xi[j + 1] = alpha_t.mul_add(v, xi[j + 1]);
                }
            }
            let beta = lo.add(hi);
            alpha_t.mul(beta).store(&mut gamma[t]);
            beta_next = beta;
        }
        for (x, out) in xi.iter().zip(xi_t.iter_mut()) {
            x.store(out);
        }
        true
    }
}

/// Sequences from their lengths, checked to cover exactly `n_rows` rows.
pub fn sequences_from_lengths(
    lengths: &[usize],
    n_rows: usize,
) -> Result<Vec<Range<usize>>, DataError> {
    let total: usize = lengths.iter().sum();
    if total != n_rows {
        return Err(DataError::Sequences(format!(
            "the sequence lengths add up to {total}, but the data has {n_rows} rows"
        )));
    }
    if let Some(i) = lengths.iter().position(|&l| l == 0) {
        return Err(DataError::Sequences(format!(
            "sequence {i} has length 0; every sequence needs at least one row"
        )));
    }
    let mut at = 0;
    Ok(lengths
        .iter()
        .map(|&l| {
            at += l;
            at - l..at
        })
        .collect())
}

/// Sequences from a sequence-id column: a new sequence starts wherever the id changes.
/// An id that comes back after another one is an error (rows of a sequence must be
/// consecutive), reported with the (1-based) row where it reappears.
pub fn sequences_from_ids<T: PartialEq + std::fmt::Display>(
    ids: &[T],
) -> Result<Vec<Range<usize>>, DataError> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 && ids[i - 1] == *id {
            out.last_mut().expect("a sequence is open").end = i + 1;
            continue;
        }
        if let Some(prev) = out.iter().find(|r| ids[r.start] == *id) {
            // Rows are reported 1-based, as data rows of a file.
            return Err(DataError::Sequences(format!(
                "row {}: sequence `{id}` continues here but was interrupted after row {}; the rows of a sequence must be consecutive (sort the file by sequence)",
                i + 1,
                prev.end
            )));
        }
        out.push(i..i + 1);
    }
    Ok(out)
}

/// Latent statistics of hard state labels along the sequences: counts, initial states and
/// transitions, each plus `pseudo` so no state or transition starts impossible (EM never
/// revives a probability that is exactly zero).
pub fn label_counts(
    labels: &[usize],
    sequences: &[Range<usize>],
    k: usize,
    pseudo: f64,
) -> (Array1<f64>, Array2<f64>) {
    weighted_label_counts(labels, sequences, k, pseudo, None)
}

/// [`label_counts`] with each sequence's counts times its weight (`weights`: one per row,
/// the same within a sequence).
pub fn weighted_label_counts(
    labels: &[usize],
    sequences: &[Range<usize>],
    k: usize,
    pseudo: f64,
    weights: Option<&[f64]>,
) -> (Array1<f64>, Array2<f64>) {
    let mut initial = Array1::from_elem(k, pseudo);
    let mut transitions = Array2::from_elem((k, k), pseudo);
    for seq in sequences {
        if seq.is_empty() {
            continue;
        }
        let weight = weights.map_or(1.0, |w| w[seq.start]);
        initial[labels[seq.start]] += weight;
        for t in seq.start + 1..seq.end {
            transitions[[labels[t - 1], labels[t]]] += weight;
        }
    }
    (initial, transitions)
}

/// Baum–Welch update of a transition matrix: each row proportional to its expected
/// transition counts. A state never left (a row of zero counts) keeps its previous row.
pub fn transitions_from_counts(
    counts: ArrayView2<'_, f64>,
    prev: ArrayView2<'_, f64>,
) -> Array2<f64> {
    let mut out = prev.to_owned();
    for (mut row, counts) in out.rows_mut().into_iter().zip(counts.rows()) {
        if counts.sum() > 0.0 {
            row.assign(&simplex_from_counts(counts));
        }
    }
    out
}

/// [`transitions_from_counts`] under a symmetric `Dirichlet(α)` prior on every row (`α ≥ 1`):
/// each row the posterior mode, proportional to `counts_ij + α − 1`.
pub fn transitions_mode_from_counts(
    counts: ArrayView2<'_, f64>,
    prev: ArrayView2<'_, f64>,
    concentration: f64,
) -> Array2<f64> {
    transitions_from_counts(counts.mapv(|c| c + concentration - 1.0).view(), prev)
}

/// `Σ_ij counts_ij ln A_ij`: the expected log-probability of the transitions.
pub fn transitions_expected(counts: ArrayView2<'_, f64>, a: ArrayView2<'_, f64>) -> f64 {
    counts.iter().zip(a.iter()).map(|(&c, &p)| xlny(c, p)).sum()
}

/// Re-seeds state `k` of a chain: a small initial probability and a small probability of
/// entering it from every state (renormalised), and uniform transitions out of it.
pub fn reseed_state(initial: &mut Array1<f64>, a: &mut Array2<f64>, k: usize, n_rows: usize) {
    reseed_state_of(initial, a, k, n_rows.max(1) as f64);
}

/// [`reseed_state`] with `rows` the number of rows or the sum of their weights.
pub fn reseed_state_of(initial: &mut Array1<f64>, a: &mut Array2<f64>, k: usize, rows: f64) {
    let small = 1.0 / rows;
    crate::mixture::reseed_weight_of(initial, k, rows);
    let states = a.ncols();
    for (i, mut row) in a.rows_mut().into_iter().enumerate() {
        if i == k {
            row.fill(1.0 / states as f64);
        } else {
            row[k] = small;
            let total = row.sum();
            row.mapv_inplace(|v| v / total);
        }
    }
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
                steps: None,
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
                steps: None,
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
                steps: None,
            },
        );
        assert_eq!(ll, f64::NEG_INFINITY);
        assert!(gamma.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn sequences_from_lengths_and_ids() {
        assert_eq!(
            sequences_from_lengths(&[2, 3], 5).unwrap(),
            vec![0..2, 2..5]
        );
        assert!(sequences_from_lengths(&[2, 2], 5).is_err());
        assert!(sequences_from_lengths(&[0, 5], 5).is_err());
        assert_eq!(
            sequences_from_ids(&["a", "a", "b", "c", "c"]).unwrap(),
            vec![0..2, 2..3, 3..5]
        );
        let err = sequences_from_ids(&[1.0, 2.0, 1.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 3") && err.contains("after row 1"),
            "{err}"
        );
    }

    #[test]
    fn baum_welch_rows_and_reseeding_stay_stochastic() {
        let counts = array![[3.0, 1.0], [0.0, 0.0]];
        let prev = array![[0.5, 0.5], [0.2, 0.8]];
        let a = transitions_from_counts(counts.view(), prev.view());
        assert_relative_eq!(a[[0, 0]], 0.75, epsilon = 1e-12);
        assert_eq!(a.row(1), prev.row(1), "a state never left keeps its row");
        let mut p0 = array![1.0, 0.0];
        let mut a = array![[1.0, 0.0], [1.0, 0.0]];
        reseed_state(&mut p0, &mut a, 1, 10);
        assert!(p0[1] > 0.0 && a[[0, 1]] > 0.0);
        for row in a.rows() {
            assert_relative_eq!(row.sum(), 1.0, epsilon = 1e-12);
        }
        assert_relative_eq!(p0.sum(), 1.0, epsilon = 1e-12);
    }
}
