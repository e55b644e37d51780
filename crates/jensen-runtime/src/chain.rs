//! Kernels for chain-structured latents (hidden Markov models): the scaled forward–backward
//! recursions, giving the log-likelihood, the state posteriors and the expected transition
//! counts of one sequence, and the Viterbi path.
//!
//! Forward–backward works with probabilities rescaled at every step (Rabiner's scaling in the
//! general form; the form for at most eight states scales `β` by its own sums), so a sequence
//! of any length neither underflows nor needs a log-sum-exp per transition; the emission
//! log-densities are shifted by their per-step maximum before exponentiating, which keeps the
//! recursion finite even when every density underflows in linear space.

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use crate::data::DataError;
use crate::kernels::discrete::simplex_from_counts;
use crate::kernels::lanes::{self, Kernel, Lanes, LANES};
use crate::kernels::xlny;
use crate::mixture::{self, exp_each, exp_in_place, ln_each};
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
    out: ChainPosterior<'_>,
) -> f64 {
    forward_backward_among(log_pi, log_a, log_b, out, 1)
}

/// [`forward_backward`] on one of about `side_by_side` sequences of its length that the
/// thread pool runs at the same time (the caller's estimate: its rows over this sequence's).
/// The forward and the backward recursions of a sequence (at most eight states) take a
/// thread each only when the pool has more threads than that; otherwise one thread runs
/// both in one loop, which keeps two independent chains of dependent steps in its core at
/// once, while the other threads run the other sequences. (Split across two busy threads,
/// the two recursions would often run one after the other on one of them.) The result is
/// the same to the bit either way.
pub fn forward_backward_among(
    log_pi: ArrayView1<'_, f64>,
    log_a: ArrayView2<'_, f64>,
    log_b: ArrayView2<'_, f64>,
    out: ChainPosterior<'_>,
    side_by_side: usize,
) -> f64 {
    on_rows(log_pi, log_a, log_b, out, Some(side_by_side))
}

/// [`forward_backward`] in the general form only: for a sequence [`forward_backward_scaled`]
/// could not carry (the eight-lane form would fail again).
pub(crate) fn forward_backward_general(
    log_pi: ArrayView1<'_, f64>,
    log_a: ArrayView2<'_, f64>,
    log_b: ArrayView2<'_, f64>,
    out: ChainPosterior<'_>,
) -> f64 {
    on_rows(log_pi, log_a, log_b, out, None)
}

/// Forward–backward on the log-densities: the eight-lane form first when `small` (the
/// sequences side by side, as [`forward_backward_among`] takes them) and `K` allow it.
fn on_rows(
    log_pi: ArrayView1<'_, f64>,
    log_a: ArrayView2<'_, f64>,
    log_b: ArrayView2<'_, f64>,
    mut out: ChainPosterior<'_>,
    small: Option<usize>,
) -> f64 {
    let (t_len, k) = log_b.dim();
    if t_len == 0 {
        return 0.0;
    }
    if k == 0 {
        return impossible(&mut out, f64::NEG_INFINITY);
    }
    let (pi, a) = probabilities(log_pi, log_a);
    // (The emissions are row-major `T × K` as the E-step's rows' form writes them, so this
    // borrows.)
    let standard = log_b.as_standard_layout();
    let rows = standard.as_slice().expect("a standard layout");
    if let Some(side_by_side) = small.filter(|_| k <= LANES) {
        let split = rayon::current_num_threads() > side_by_side;
        if let Some(loglik) = small_chain(&pi, &a, rows, &mut out, split) {
            return loglik;
        }
    }
    general_chain(&pi, &a, rows, out)
}

/// [`forward_backward_among`] from the sequence's emissions as [`scale_block`] rescaled them
/// (for at most [`LANES`] states): its first pass done, so that the E-step, which computes the
/// emissions in blocks column by column, writes them once in the form the recursions read.
/// `None` where the eight-lane form cannot carry the sequence (as [`small_chain`]): the
/// caller then runs [`forward_backward_general`] on the log-densities. `p`: the chain's `π`
/// and `A`, taken once for all its sequences.
pub(crate) fn forward_backward_scaled(
    p: &Probabilities,
    tiles: &[[f64; LANES]],
    shift: &[f64],
    mut out: ChainPosterior<'_>,
    side_by_side: usize,
) -> Option<f64> {
    let k = p.pi.len();
    debug_assert!(k <= LANES && shift.len() == tiles.len());
    if tiles.is_empty() {
        return Some(0.0);
    }
    if k == 0 {
        return Some(impossible(&mut out, f64::NEG_INFINITY));
    }
    // The first row no state explains, as `row_shift` would report it.
    if let Some(&m) = shift.iter().find(|m| !m.is_finite()) {
        let value = if m.is_nan() {
            f64::NAN
        } else {
            f64::NEG_INFINITY
        };
        return Some(impossible(&mut out, value));
    }
    let split = rayon::current_num_threads() > side_by_side;
    small_chain_scaled(&p.pi, &p.a, tiles, shift, &mut out, split)
}

/// A chain's `π` and `A` (row-major `K × K`) from their logarithms, for
/// [`forward_backward_scaled`]: `K² + K` exponentials, taken once per E-step rather than once
/// per sequence (on ten thousand sequences of ten rows they were a fifth of the E-step: 24.8
/// → 20.0 ms per iteration on one thread).
pub(crate) struct Probabilities {
    pi: Vec<f64>,
    a: Vec<f64>,
}

impl Probabilities {
    pub(crate) fn of(log_pi: ArrayView1<'_, f64>, log_a: ArrayView2<'_, f64>) -> Self {
        let (pi, a) = probabilities(log_pi, log_a);
        Self { pi, a }
    }
}

/// `π` and `A` (row-major `K × K`) from their logarithms.
fn probabilities(log_pi: ArrayView1<'_, f64>, log_a: ArrayView2<'_, f64>) -> (Vec<f64>, Vec<f64>) {
    (
        log_pi.iter().map(|v| v.exp()).collect(),
        log_a.iter().map(|v| v.exp()).collect(),
    )
}

/// The first pass of [`small_chain`] on a block of emission log-densities given column by
/// column (`columns[k][t] = ln p(x_t | z_t = k)`, at most [`LANES`] columns of `tiles.len()`
/// values), for [`forward_backward_scaled`]: each row's `exp(ℓ_t − m_t)` into its tile
/// (lanes past `K` zero) and `m_t` into `shift`, where `m_t` is the row's maximum; a row with
/// a NaN gets a NaN shift and a row with no finite maximum `−∞` (what [`row_shift`] reports
/// for them). `best` gets each row's maximum with NaN ignored (folded from `−∞` in the
/// columns' order, `if v > m { v } else { m }`: of `−0` and `+0`, the first).
pub(crate) fn scale_block(
    columns: &[&[f64]],
    tiles: &mut [[f64; LANES]],
    shift: &mut [f64],
    best: &mut [f64],
) {
    let m = tiles.len();
    assert!(columns.len() <= LANES && columns.iter().all(|c| c.len() >= m));
    assert!(shift.len() >= m && best.len() >= m);
    // Eight rows at a time in registers, the rest one by one.
    let whole = m / LANES * LANES;
    lanes::dispatch(ScaleRows {
        columns,
        tiles: &mut tiles[..whole],
        shift: &mut shift[..whole],
        best: &mut best[..whole],
    });
    let k = columns.len();
    for t in whole..m {
        let row: [f64; LANES] = std::array::from_fn(|j| {
            if j < k {
                columns[j][t]
            } else {
                f64::NEG_INFINITY
            }
        });
        // (No NaN wins the comparisons: the maximum with NaN ignored.)
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        best[t] = max;
        shift[t] = shift_of(&row[..k], max);
        for (o, x) in tiles[t].iter_mut().zip(row) {
            *o = x - max;
        }
    }
    exp_each(tiles[whole..].as_flattened_mut());
}

/// A row's shift for [`scale_block`] from its maximum `max` (NaN ignored): `max`, or NaN
/// where the row has a NaN, or `−∞` where `max` is not finite (as [`row_shift`]).
#[inline(always)]
fn shift_of(row: &[f64], max: f64) -> f64 {
    match row_shift(row) {
        Ok(_) => max,
        Err(value) => value,
    }
}

/// [`scale_block`] on blocks of eight rows (`tiles.len()` a multiple of eight): each
/// column's eight values as one value of lanes, their maximum across the columns lane by
/// lane, the differences exponentiated, and the block transposed into the rows' tiles in
/// registers.
struct ScaleRows<'a> {
    columns: &'a [&'a [f64]],
    tiles: &'a mut [[f64; LANES]],
    shift: &'a mut [f64],
    best: &'a mut [f64],
}

impl Kernel for ScaleRows<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let Self {
            columns,
            tiles,
            shift,
            best,
        } = self;
        let k = columns.len();
        let below = V::splat(f64::NEG_INFINITY);
        for (((i, tiles), shift), best) in (0..)
            .step_by(LANES)
            .zip(tiles.as_chunks_mut::<LANES>().0)
            .zip(shift.as_chunks_mut::<LANES>().0)
            .zip(best.as_chunks_mut::<LANES>().0)
        {
            // (Loops, not `array::from_fn`, for every array of lanes here: a closure left out
            // of line does not share the kernel's target features, and its every vector
            // operation becomes a call; a change elsewhere in the crate once tipped the
            // exponentials' closure out of line and made the chains' E-step 3.5 times slower.)
            let mut c = [below; LANES];
            for (c, column) in c.iter_mut().zip(columns) {
                *c = V::load(column[i..i + LANES].try_into().expect("eight rows"));
            }
            // Folded from −∞ in the columns' order, as the rows' maxima: a NaN never wins.
            let mut max = below;
            for c in &c[..k] {
                max = c.max_of(max);
            }
            max.store(best);
            // The differences' sum is NaN where the row has a NaN (if its maximum is
            // finite): those rows and the rows of no finite maximum take the rule of
            // `row_shift` one by one.
            let mut d = [below; LANES];
            for (d, c) in d.iter_mut().zip(&c) {
                *d = c.sub(max);
            }
            let mut sum = V::splat(0.0);
            for d in &d[..k] {
                sum = sum.add(*d);
            }
            let mut sums = [0.0; LANES];
            sum.store(&mut sums);
            for (r, ((s, &max), &sum)) in shift.iter_mut().zip(best.iter()).zip(&sums).enumerate() {
                *s = if sum.is_nan() || !max.is_finite() {
                    let row: [f64; LANES] =
                        std::array::from_fn(|j| if j < k { columns[j][i + r] } else { 0.0 });
                    shift_of(&row[..k], max)
                } else {
                    max
                };
            }
            // `exp(−∞) = 0` in the lanes past `K`.
            let mut e = [V::splat(0.0); LANES];
            for (e, d) in e.iter_mut().zip(&d[..k]) {
                *e = mixture::exp_v(*d);
            }
            for (tile, row) in tiles.iter_mut().zip(V::transpose(e)) {
                row.store(tile);
            }
        }
    }
}

/// The posteriors of a sequence no state path explains: uniform, with `value` (`−∞`, or NaN
/// for NaN emissions) as its log-likelihood and every step's.
fn impossible(out: &mut ChainPosterior<'_>, value: f64) -> f64 {
    let k = out.gamma.ncols();
    out.gamma.fill(1.0 / k as f64);
    if let Some(steps) = out.steps.as_mut() {
        steps.fill(value);
    }
    value
}

/// The smallest sum [`small_chain`] works with: of a step's normaliser (`c_t`, the backward
/// ratio, `G_t`) and of the messages its recursions carry (`S_t`, `D_t`, which are scaled
/// only every second step and so hold the product of two or three normalisers). A message of
/// that size is multiplied by `A` and the emissions, and `1 / (G_t c_t)` must not overflow:
/// above 1e-150 a state whose share of the message is down to 1e-150 stays normal, a
/// subnormal product's absolute error (at most 2.5e-324) is below 1e-170 after rescaling, far
/// below the step's own rounding, and the product of two sums stays normal. (Carried sums
/// allowed down to 1e-290 lost a state of weight 1e-40 to underflow and went on with a wrong
/// likelihood.)
const SMALLEST_SUM: f64 = 1e-150;

/// Steps per parallel piece of [`small_chain`]'s emission and combination passes (fixed, so
/// that the sums do not depend on the number of threads).
const CHAIN_CHUNK: usize = 4096;

/// [`forward_backward`] for any number of states `K = pi.len()`, serially, with `β` scaled
/// by the forward pass's normalisers (Rabiner's scaling). `rows`: the emissions, row-major
/// `T × K`.
fn general_chain(pi: &[f64], a: &[f64], rows: &[f64], mut out: ChainPosterior<'_>) -> f64 {
    let k = pi.len();
    let t_len = rows.len() / k;
    // Emissions rescaled per step: b[t, k] = exp(log_b[t, k] − m_t), exponentiated in one
    // vectorised pass.
    let padded = (t_len * k).div_ceil(4) * 4;
    // (Per-iteration buffers of the sequence's length: from the thread's pool.)
    let mut shifted = scratch::take_written(padded);
    shifted[t_len * k..].fill(f64::NEG_INFINITY);
    let mut shift = scratch::take_written(t_len);
    for (t, row) in rows.chunks_exact(k).enumerate() {
        let m = match row_shift(row) {
            Ok(m) => m,
            Err(value) => return impossible(&mut out, value),
        };
        shift[t] = m;
        for (s, &l) in shifted[t * k..(t + 1) * k].iter_mut().zip(row) {
            *s = l - m;
        }
    }
    let mut b = scratch::take_written(padded);
    exp_in_place(&shifted, &mut b);
    scratch::give(shifted);
    // Forward: α̂_t = α_t / Π c, with c_t the normaliser of step t.
    let mut alpha = vec![0.0; t_len * k];
    let mut scale = vec![0.0; t_len];
    for t in 0..t_len {
        let (done, rest) = alpha.split_at_mut(t * k);
        let cur = &mut rest[..k];
        if t == 0 {
            cur.copy_from_slice(pi);
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
    add_counts(&mut out, |i, j| xi_t[j * k + i]);
    let loglik = log_terms(&scale, &shift, out.steps.as_mut().map(|s| s.view_mut()));
    for buffer in [b, shift] {
        scratch::give(buffer);
    }
    loglik
}

/// The rule both forms apply to a step's emission log-densities `row` before rescaling them:
/// `Ok` of the shift (the row's maximum), or `Err` of the log-likelihood to report for the
/// sequence: NaN where the row has a NaN, `−∞` where no state has a finite density.
#[inline(always)]
fn row_shift(row: &[f64]) -> Result<f64, f64> {
    if row.iter().any(|v| v.is_nan()) {
        return Err(f64::NAN);
    }
    // (No NaN: plain comparisons.)
    let max = row
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    if max.is_finite() {
        Ok(max)
    } else {
        Err(f64::NEG_INFINITY)
    }
}

/// The end both forms share: the expected transition counts (`xi_t(i, j)`, the sums of the
/// moves from `i` to `j`) and `γ_0` added to the sequence's statistics.
fn add_counts(out: &mut ChainPosterior<'_>, xi_t: impl Fn(usize, usize) -> f64) {
    let k = out.gamma.ncols();
    for i in 0..k {
        for j in 0..k {
            out.transitions[[i, j]] += xi_t(i, j);
        }
    }
    for (initial, &g) in out.initial.iter_mut().zip(out.gamma.row(0)) {
        *initial += g;
    }
}

/// Each step's `ln p(x_t | x_0..x_{t−1}) = ln c_t + m_t` of `scale` and `shift` (a run of
/// the sequence's steps) written to `steps` (if asked for), and their sum, in order.
fn log_terms(scale: &[f64], shift: &[f64], mut steps: Option<ArrayViewMut1<'_, f64>>) -> f64 {
    // ln c_t in vectors, a piece at a time (in a buffer that stays in cache; for a short
    // sequence a short buffer, whose zeros cost less than a long one's).
    let mut loglik = 0.0;
    let (mut short, mut long);
    let logs: &mut [f64] = if scale.len() <= SHORT_PIECE {
        short = [0.0; SHORT_PIECE];
        &mut short
    } else {
        long = [0.0; FINISH_PIECE];
        &mut long
    };
    for (p, (scale, shift)) in scale
        .chunks(FINISH_PIECE)
        .zip(shift.chunks(FINISH_PIECE))
        .enumerate()
    {
        let logs = &mut logs[..scale.len()];
        logs.copy_from_slice(scale);
        ln_each(logs);
        for (i, (&ln_c, &m)) in logs.iter().zip(shift).enumerate() {
            let step = ln_c + m;
            if let Some(steps) = steps.as_mut() {
                steps[p * FINISH_PIECE + i] = step;
            }
            loglik += step;
        }
    }
    loglik
}

/// Steps per piece of [`log_terms`]' logarithms.
const FINISH_PIECE: usize = 256;

/// [`log_terms`]' buffer for a sequence of at most this many steps.
const SHORT_PIECE: usize = 32;

/// [`forward_backward`] for at most [`LANES`] states, the common case, or `None` where the
/// general form must run instead: where a step's sum (`c_t`, `d_t` or `G_t` below) is not
/// above [`SMALLEST_SUM`] (then the deferred scaling would lose precision to subnormal
/// products, or overflow; the general form, which normalises before it multiplies, also
/// decides whether the sequence is impossible). Each step's `α`, `β`, `γ` and every row of
/// `A` are one value of eight lanes (states past `K` are zero), in three passes:
///
/// 1. the emissions, rescaled per step (`b_t = exp(ℓ_t − m_t)`), in parallel pieces;
/// 2. the forward and the backward recursions at the same time (on two threads when `split`,
///    else a step of each in turn in one loop): `β` is scaled by its own
///    sums rather than the forward pass's normalisers, so neither waits for the other, and
///    each scales its values every second step by a power of two known a step ahead, so
///    that no sum or division is on the recursion's path;
/// 3. `γ_t = α̂_t ∘ β̃_t / G_t` with `G_t = Σ α̂_t ∘ β̃_t`, and the expected transition counts
///    `A_ij Σ_t α̂_t(i) b_{t+1}(j) β̃_{t+1}(j) / (c_{t+1} G_{t+1})`, in parallel pieces
///    summed in a fixed order. (Any per-step scale of `β` cancels in both.)
fn small_chain(
    pi: &[f64],
    a: &[f64],
    rows: &[f64],
    out: &mut ChainPosterior<'_>,
    split: bool,
) -> Option<f64> {
    let k = pi.len();
    let t_len = rows.len() / k;
    let mut b = scratch::take_written(t_len * LANES);
    let mut shift = scratch::take_written(t_len);
    let pieces = b
        .chunks_mut(CHAIN_CHUNK * LANES)
        .zip(shift.chunks_mut(CHAIN_CHUNK))
        .zip(rows.chunks(CHAIN_CHUNK * k))
        .collect();
    let bad = crate::tasks::map(pieces, |((b, shift), rows)| {
        emission_tiles(rows, k, b, shift)
    });
    let result = match bad.into_iter().flatten().next() {
        Some(value) => Some(impossible(out, value)),
        None => small_chain_scaled(pi, a, b.as_chunks().0, &shift, out, split),
    };
    for buffer in [b, shift] {
        scratch::give(buffer);
    }
    result
}

/// [`small_chain`] from its first pass's result: the rescaled emissions `b` (`T` tiles,
/// lanes past `K` zero) and each step's shift (all finite).
fn small_chain_scaled(
    pi: &[f64],
    a: &[f64],
    tiles: &[[f64; LANES]],
    shift: &[f64],
    out: &mut ChainPosterior<'_>,
    split: bool,
) -> Option<f64> {
    let k = pi.len();
    let t_len = tiles.len();
    // `α`, `β` and the scales in one buffer of the thread's scratch (for a short sequence the
    // pool's lookups cost more than the recursions).
    let mut buffer = scratch::take_written(t_len * (2 * LANES + 1));
    let (alpha, rest) = buffer.split_at_mut(t_len * LANES);
    let (beta, scale) = rest.split_at_mut(t_len * LANES);
    let (alpha_tiles, beta_tiles) = (alpha.as_chunks_mut().0, beta.as_chunks_mut().0);
    let recursions = if t_len >= HALVES_FROM {
        halves(k, pi, a, tiles, alpha_tiles, beta_tiles, scale, split)
    } else {
        let ones = padded(&[1.0; LANES][..k]);
        let (last, beta_tiles) = beta_tiles.split_last_mut().expect("a step");
        *last = ones;
        let forward = ForwardRun {
            from: Start::Initial(pi),
            b: tiles,
            alpha: alpha_tiles,
            scale: &mut *scale,
        };
        let backward = BackwardRun {
            next: ones,
            b_next: &tiles[1..],
            beta: beta_tiles,
        };
        if split {
            // A thread each (the other run of each pair empty).
            let (forward, backward) = rayon::join(
                || lanes::dispatch(Pair::forward_only(k, a, forward)),
                || lanes::dispatch(Pair::backward_only(k, a, backward)),
            );
            forward && backward
        } else {
            // Both recursions in one loop, so that the core runs the two independent chains
            // of dependent steps side by side.
            lanes::dispatch(Pair {
                k,
                a,
                forward,
                backward,
            })
        }
    };
    let result = if recursions {
        combine(k, a, tiles, alpha, beta, scale, shift, out)
    } else {
        None
    };
    scratch::give(buffer);
    result
}

/// Pass 1 of [`small_chain`] over a piece of the sequence: each row's maximum into `shift`,
/// `exp(ℓ − max)` into its tile of `b` (lanes past `K` zero). `Some` of the log-likelihood to
/// report when a row has a NaN (NaN) or no finite maximum (`−∞`), as [`general_chain`] does.
fn emission_tiles(rows: &[f64], k: usize, b: &mut [f64], shift: &mut [f64]) -> Option<f64> {
    for ((row, tile), m) in rows
        .chunks_exact(k)
        .zip(b.as_chunks_mut::<LANES>().0)
        .zip(shift.iter_mut())
    {
        // (Lane by lane, or one fixed-size copy for eight states: `copy_from_slice` of a
        // length known only at run time became a call to `memmove` per row in some builds,
        // and the folds below then waited on its stores.)
        let v: [f64; LANES] = match <&[f64; LANES]>::try_from(row) {
            Ok(all) => *all,
            Err(_) => std::array::from_fn(|i| if i < k { row[i] } else { f64::NEG_INFINITY }),
        };
        // `row_shift` across the lanes, without branches (the padding is −∞, no NaN): its
        // `Ok` where the row has no NaN and a finite maximum, else its `Err`.
        let nan = v.iter().fold(false, |any, x| any | x.is_nan());
        let max = v
            .iter()
            .fold(f64::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        if nan || !max.is_finite() {
            if let Err(value) = row_shift(row) {
                return Some(value);
            }
        }
        *m = max;
        for (t, &x) in tile.iter_mut().zip(&v) {
            *t = x - max;
        }
    }
    exp_each(b);
    None
}

/// Pass 3 of [`small_chain`]: `γ` into `out.gamma` and the transition counts, in pieces of
/// [`CHAIN_CHUNK`] steps; then the initial state's statistics and the per-step
/// log-likelihoods. `None` when some `G_t` is not above [`SMALLEST_SUM`].
#[allow(clippy::too_many_arguments)]
fn combine(
    k: usize,
    a: &[f64],
    b: &[[f64; LANES]],
    alpha: &[f64],
    beta: &[f64],
    scale: &[f64],
    shift: &[f64],
    out: &mut ChainPosterior<'_>,
) -> Option<f64> {
    let (alpha, beta) = (alpha.as_chunks().0, beta.as_chunks().0);
    let t_len = out.gamma.nrows();
    let piece = |range: Range<usize>, gamma, steps| {
        let xi = lanes::dispatch(Combine {
            k,
            a,
            b,
            alpha,
            beta,
            scale,
            steps: range.clone(),
            gamma: GammaRows::new(gamma),
        })?;
        Some((xi, log_terms(&scale[range.clone()], &shift[range], steps)))
    };
    if t_len <= CHAIN_CHUNK {
        // One piece, without the pieces' vectors and tasks.
        let steps = out.steps.as_mut().map(|s| s.view_mut());
        let (xi_t, loglik) = piece(0..t_len, out.gamma.view_mut(), steps)?;
        add_counts(out, |i, j| xi_t[j][i]);
        return Some(loglik);
    }
    // Each piece's steps' terms of the log-likelihood too (their logarithms in parallel,
    // where one thread took them all after the pieces), summed piece by piece in order.
    let step_pieces: Vec<Option<ArrayViewMut1<'_, f64>>> = match out.steps.as_mut() {
        Some(steps) => steps
            .axis_chunks_iter_mut(Axis(0), CHAIN_CHUNK)
            .map(Some)
            .collect(),
        None => (0..t_len.div_ceil(CHAIN_CHUNK)).map(|_| None).collect(),
    };
    let pieces = out
        .gamma
        .axis_chunks_iter_mut(Axis(0), CHAIN_CHUNK)
        .zip(step_pieces)
        .enumerate()
        .collect();
    let parts = crate::tasks::map(
        pieces,
        |(p, (gamma, steps)): (usize, (ArrayViewMut2<'_, f64>, _))| {
            let range = p * CHAIN_CHUNK..p * CHAIN_CHUNK + gamma.nrows();
            piece(range, gamma, steps)
        },
    );
    let mut xi_t = [[0.0; LANES]; LANES];
    let mut loglik = 0.0;
    for part in parts {
        let (xi, ll) = part?;
        for (x, p) in xi_t.iter_mut().zip(xi) {
            for (x, p) in x.iter_mut().zip(p) {
                *x += p;
            }
        }
        loglik += ll;
    }
    add_counts(out, |i, j| xi_t[j][i]);
    Some(loglik)
}

/// `K` values into eight lanes, the rest zero.
#[inline(always)]
fn padded(values: &[f64]) -> [f64; LANES] {
    let mut t = [0.0; LANES];
    t[..values.len()].copy_from_slice(values);
    t
}

/// Rows (`rows[i]`, over `j`) and columns (`cols[j]`, over `i`) of `A` as lanes, zero past
/// `K`.
#[inline(always)]
fn transition_lanes<V: Lanes>(k: usize, a: &[f64]) -> ([V; LANES], [V; LANES]) {
    // (Loops, not `array::from_fn`: see `ScaleRows`.)
    let mut rows = [V::splat(0.0); LANES];
    for (i, row) in rows.iter_mut().enumerate().take(k) {
        *row = V::load(&padded(&a[i * k..(i + 1) * k]));
    }
    let mut cols = [V::splat(0.0); LANES];
    for (j, col) in cols.iter_mut().enumerate().take(k) {
        let mut c = [0.0; LANES];
        for (i, c) in c.iter_mut().enumerate().take(k) {
            *c = a[i * k + j];
        }
        *col = V::load(&c);
    }
    (rows, cols)
}

/// `Σ_i x_i v_i` over the first `k` lanes of `x` (each broadcast in registers), in four
/// chains of at most two multiply-adds, added in a tree: the recursions' path per step.
#[inline(always)]
fn combination<V: Lanes>(k: usize, x: V, v: &[V; LANES]) -> V {
    let zero = V::splat(0.0);
    let mut c = [x.lane::<0>().mul(v[0]), zero, zero, zero];
    if k > 1 {
        c[1] = x.lane::<1>().mul(v[1]);
    }
    if k > 2 {
        c[2] = x.lane::<2>().mul(v[2]);
    }
    if k > 3 {
        c[3] = x.lane::<3>().mul(v[3]);
    }
    if k > 4 {
        c[0] = x.lane::<4>().mul_add(v[4], c[0]);
    }
    if k > 5 {
        c[1] = x.lane::<5>().mul_add(v[5], c[1]);
    }
    if k > 6 {
        c[2] = x.lane::<6>().mul_add(v[6], c[2]);
    }
    if k > 7 {
        c[3] = x.lane::<7>().mul_add(v[7], c[3]);
    }
    c[0].add(c[1]).add(c[2].add(c[3]))
}

/// The forward recursion of [`small_chain`]: `α̂_t = (α̂_{t−1} A) ∘ b_t / c_t`, carried as
/// `u_t = (u_{t−1} A) ∘ b_t g_t`, which is `α̂_t` times its sum `S_t`, with `g_t` 1 or, every
/// second step, the power of two that brings `S_{t−2}` to `[1, 2)`: the sums then stay near
/// the product of the last two or three normalisers, and `g_t` is known a step before it is
/// needed, so that the recursion's path is the products alone (no sum, no division). Since
/// `g_t` is a power of two, `u_t` carries the unscaled products' rounding; `α̂_t = u_t / S_t`
/// and `c_t = S_t / (g_t S_{t−1})` are taken beside it. `false` when some `c_t` is not above
/// [`SMALLEST_SUM`] (or is NaN), or some `S_t` not above it (or not finite). What it carries
/// from one step to the next:
struct ForwardSteps<V> {
    k: usize,
    /// The rows of `A` as lanes.
    rows: [V; LANES],
    /// `u_{t−1}`, `α̂_{t−1}` times its sum `S_{t−1}` (see above).
    last: V,
    /// `1 / S_{t−1}`.
    inv_last: f64,
    /// The last two sums `S`, and the step's factor from them.
    rescale: Rescale,
}

impl<V: Lanes> ForwardSteps<V> {
    #[inline(always)]
    fn new(k: usize, a: &[f64]) -> Self {
        Self {
            k,
            rows: transition_lanes::<V>(k, a).0,
            last: V::splat(0.0),
            inv_last: 1.0,
            rescale: Rescale::new(1.0),
        }
    }

    /// The state before a step whose previous normalised message (summing to 1, up to
    /// round-off) is `message`: the next step's `c_t` is its sum times `A`, times `b_t`.
    #[inline(always)]
    fn from_message(k: usize, a: &[f64], message: &[f64; LANES]) -> Self {
        Self {
            last: V::load(message),
            ..Self::new(k, a)
        }
    }

    /// One step: `α̂_t` into `at` and `c_t` into `ct`, from the initial distribution `pi` at
    /// the first step. `false` when `c_t` or the sum `S_t` is not above [`SMALLEST_SUM`] (or
    /// is NaN), or `S_t` is not finite.
    #[inline(always)]
    fn step(
        &mut self,
        pi: Option<&[f64]>,
        bt: &[f64; LANES],
        at: &mut [f64; LANES],
        ct: &mut f64,
    ) -> bool {
        let bt = V::load(bt);
        let (g, inv_g) = self.rescale.factor();
        let cur = match pi {
            Some(pi) => V::load(&padded(pi)).mul(bt),
            None => combination(self.k, self.last, &self.rows).mul(bt.mul(V::splat(g))),
        };
        let s = cur.sum();
        // c_t = S_t / (g S_{t−1}).
        let c = match pi {
            Some(_) => s,
            None => s * self.inv_last * inv_g,
        };
        // (Written so that NaN fails every test.)
        if !(c > SMALLEST_SUM && s > SMALLEST_SUM && s.is_finite()) {
            return false;
        }
        let inv = 1.0 / s;
        cur.mul(V::splat(inv)).store(at);
        *ct = c;
        self.last = cur;
        self.inv_last = inv;
        self.rescale.push(s);
        true
    }
}

/// The backward recursion of [`small_chain`]: `β̃_t = A (b_{t+1} ∘ β̃_{t+1}) g_t` with
/// `β̃_{T−1} = 1` and `g_t` as in [`ForwardSteps`] (1, or every second step the power of two
/// of the sum `D_{t+2} = Σ β̃_{t+2}`; any scale of `β` cancels in `γ` and `ξ`). `false` when
/// some step's ratio `D_t / (g_t D_{t+1})` or some `D_t` is not above [`SMALLEST_SUM`] (or some
/// `D_t` is not finite). What it carries from one step to the next:
struct BackwardSteps<V> {
    k: usize,
    /// The columns of `A` as lanes.
    cols: [V; LANES],
    /// `β̃_{t+1}`.
    next: V,
    /// The sums `D_{t+1} = Σ β̃_{t+1}` and `D_{t+2}`, and the step's factor from them.
    rescale: Rescale,
}

impl<V: Lanes> BackwardSteps<V> {
    /// The state before the step back from a step whose `β̃` is `next` (any positive scale).
    #[inline(always)]
    fn from_message(k: usize, a: &[f64], next: &[f64; LANES]) -> Self {
        Self {
            k,
            cols: transition_lanes::<V>(k, a).1,
            next: V::load(next),
            rescale: Rescale::new(V::load(next).sum()),
        }
    }

    /// One step back: `β̃_t` into `out` from `b_{t+1}`. `false` when the step's ratio
    /// `d_t = D_t / (g D_{t+1})` or `D_t` itself is not above [`SMALLEST_SUM`] (or is NaN),
    /// or `D_t` is not finite.
    #[inline(always)]
    fn step(&mut self, b_next: &[f64; LANES], out: &mut [f64; LANES]) -> bool {
        let (g, _) = self.rescale.factor();
        let cur = combination(self.k, V::load(b_next).mul(self.next), &self.cols).mul(V::splat(g));
        cur.store(out);
        let d = cur.sum();
        // (`d / (g D_{t+1}) > SMALLEST_SUM` without a division; NaN fails every test.)
        if !(d > SMALLEST_SUM * g * self.rescale.last && d > SMALLEST_SUM && d.is_finite()) {
            return false;
        }
        self.next = cur;
        self.rescale.push(d);
        true
    }
}

/// The scaling both recursions share: their step's factor `g` is 1, or every second step
/// `2^−e` for the exponent `e` of the carried sum two steps back (`s = m 2^e`, `1 ≤ m < 2`),
/// which brings that sum to `[1, 2)` exactly. It is known a step before it is needed and
/// taken from the sum's bits, so that no sum or division is on the recursion's path.
#[derive(Clone, Copy)]
struct Rescale {
    /// The last step's carried sum.
    last: f64,
    /// The one before it.
    before: f64,
    /// Whether this step is scaled.
    now: bool,
}

impl Rescale {
    /// Before the first step, whose message sums to `last`.
    #[inline(always)]
    fn new(last: f64) -> Self {
        Self {
            last,
            before: 1.0,
            now: false,
        }
    }

    /// This step's `g` and `1 / g`, both exact powers of two (the sums are positive normal
    /// numbers: the recursions' checks stop before any other).
    #[inline(always)]
    fn factor(&self) -> (f64, f64) {
        if !self.now {
            return (1.0, 1.0);
        }
        let exponent = self.before.to_bits() >> 52;
        (
            f64::from_bits((2046 - exponent) << 52),
            f64::from_bits(exponent << 52),
        )
    }

    /// After a step whose carried sum is `s`.
    #[inline(always)]
    fn push(&mut self, s: f64) {
        self.before = self.last;
        self.last = s;
        self.now = !self.now;
    }
}

/// Steps from which [`small_chain`] runs each recursion in two halves at once ([`halves`]).
const HALVES_FROM: usize = 4 * CHAIN_CHUNK;

/// The relative difference per lane within which a recursion restarted from the true message
/// agrees with the one that started from a guess ([`halves`]): above the round-off by which
/// two runs of the same steps from slightly different messages keep differing (a few `K ε`),
/// far below what a posterior or a statistic would notice.
const AGREE: f64 = 1e-13;

/// The recursions of [`small_chain`] on a long sequence, as four chains of dependent steps
/// rather than two, so that two threads each run two of them side by side (one thread, all
/// four, two at a time). With `m = T / 2`:
///
/// 1. at once: the forward recursion over `0..m` from `π`, the backward over `m..T` from
///    `β̃_{T−1} = 1`, the forward over `m..T` from a guess of `α̂_{m−1}` (uniform), and the
///    backward over `0..m` from a guess of `β̃_m` (ones);
/// 2. the guessed halves again from the true messages (`α̂_{m−1}` of the first forward half,
///    `β̃_m` of the second backward half), step by step, until a step's message agrees with
///    the guessed run's to [`AGREE`] in every lane (`β̃` after scaling each to sum 1): both
///    recursions forget where they started (the product of positive matrices contracts), so
///    from there on the guessed run is the true one up to round-off. On the benchmark's
///    chains that takes a few tens of steps; a chain that never forgets (a transition
///    matrix with zeros, a periodic chain) redoes its whole half, and is only slower. A
///    guessed run that fails a check the true one might pass (led far from its guess, then
///    a step its guess calls nearly impossible) has both guessed halves redone whole.
///
/// The halves and the steps redone depend on the data alone, so one thread and two give the
/// same bits. `false` where a step's sum is not above [`SMALLEST_SUM`], as the recursions'.
#[allow(clippy::too_many_arguments)]
fn halves(
    k: usize,
    pi: &[f64],
    a: &[f64],
    b: &[[f64; LANES]],
    alpha: &mut [[f64; LANES]],
    beta: &mut [[f64; LANES]],
    scale: &mut [f64],
    split: bool,
) -> bool {
    let t_len = b.len();
    let m = t_len / 2;
    let (alpha_1, alpha_2) = alpha.split_at_mut(m);
    let (scale_1, scale_2) = scale.split_at_mut(m);
    let (beta_1, beta_2) = beta.split_at_mut(m);
    let ones = padded(&[1.0; LANES][..k]);
    let uniform = padded(&[1.0 / k as f64; LANES][..k]);
    let (last, beta_2) = beta_2.split_last_mut().expect("a second half");
    *last = ones;
    let first = Pair {
        k,
        a,
        forward: ForwardRun {
            from: Start::Initial(pi),
            b: &b[..m],
            alpha: &mut *alpha_1,
            scale: &mut *scale_1,
        },
        backward: BackwardRun {
            next: ones,
            b_next: &b[m + 1..],
            beta: &mut *beta_2,
        },
    };
    let second = Pair {
        k,
        a,
        forward: ForwardRun {
            from: Start::Message(uniform),
            b: &b[m..],
            alpha: &mut *alpha_2,
            scale: &mut *scale_2,
        },
        backward: BackwardRun {
            next: ones,
            b_next: &b[1..=m],
            beta: &mut *beta_1,
        },
    };
    let (known, guessed) = if split {
        rayon::join(|| lanes::dispatch(first), || lanes::dispatch(second))
    } else {
        (lanes::dispatch(first), lanes::dispatch(second))
    };
    if !known {
        return false;
    }
    // A guess can fail where the truth does not (a chain that never forgets, led far from
    // its guessed start): the guessed halves are then redone whole, where a failure is real.
    let whole = !guessed;
    let beta_m = beta_2.first().copied().unwrap_or(*last);
    let forward = Redo {
        k,
        a,
        whole,
        run: Run::Forward(ForwardRun {
            from: Start::Message(alpha_1[m - 1]),
            b: &b[m..],
            alpha: alpha_2,
            scale: scale_2,
        }),
    };
    let backward = Redo {
        k,
        a,
        whole,
        run: Run::Backward(BackwardRun {
            next: beta_m,
            b_next: &b[1..=m],
            beta: beta_1,
        }),
    };
    if split {
        let (x, y) = rayon::join(|| lanes::dispatch(forward), || lanes::dispatch(backward));
        x && y
    } else {
        lanes::dispatch(forward) && lanes::dispatch(backward)
    }
}

/// Where a [`ForwardRun`] starts.
enum Start<'a> {
    /// At the sequence's first step, from the initial distribution.
    Initial(&'a [f64]),
    /// After a step whose normalised message this is.
    Message([f64; LANES]),
}

/// The forward recursion over some steps (`b`, `alpha` and `scale` of the same length).
struct ForwardRun<'a> {
    from: Start<'a>,
    b: &'a [[f64; LANES]],
    alpha: &'a mut [[f64; LANES]],
    scale: &'a mut [f64],
}

/// The backward recursion over some steps: `beta[i]` from `b_next[i]` (the emissions a step
/// later) and the message a step later, from `next`, the message after the last of them.
struct BackwardRun<'a> {
    next: [f64; LANES],
    b_next: &'a [[f64; LANES]],
    beta: &'a mut [[f64; LANES]],
}

/// A forward run and a backward run in one loop, a step of each in turn (then the rest of
/// the longer): `false` where either fails.
struct Pair<'a> {
    k: usize,
    a: &'a [f64],
    forward: ForwardRun<'a>,
    backward: BackwardRun<'a>,
}

impl<'a> Pair<'a> {
    /// A forward run alone.
    fn forward_only(k: usize, a: &'a [f64], forward: ForwardRun<'a>) -> Self {
        let next = padded(&[1.0; LANES][..k]);
        let backward = BackwardRun {
            next,
            b_next: &[],
            beta: &mut [],
        };
        Self {
            k,
            a,
            forward,
            backward,
        }
    }

    /// A backward run alone.
    fn backward_only(k: usize, a: &'a [f64], backward: BackwardRun<'a>) -> Self {
        let forward = ForwardRun {
            from: Start::Message(padded(&[1.0; LANES][..k])),
            b: &[],
            alpha: &mut [],
            scale: &mut [],
        };
        Self {
            k,
            a,
            forward,
            backward,
        }
    }
}

impl Kernel for Pair<'_> {
    type Output = bool;

    #[inline(always)]
    fn run<V: Lanes>(self) -> bool {
        let Self {
            k,
            a,
            forward,
            backward,
        } = self;
        let ForwardRun {
            from,
            mut b,
            mut alpha,
            mut scale,
        } = forward;
        let mut f = match from {
            Start::Initial(pi) => {
                let mut f = ForwardSteps::<V>::new(k, a);
                if !b.is_empty() {
                    if !f.step(Some(pi), &b[0], &mut alpha[0], &mut scale[0]) {
                        return false;
                    }
                    b = &b[1..];
                    alpha = &mut std::mem::take(&mut alpha)[1..];
                    scale = &mut std::mem::take(&mut scale)[1..];
                }
                f
            }
            Start::Message(message) => ForwardSteps::<V>::from_message(k, a, &message),
        };
        let mut g = BackwardSteps::<V>::from_message(k, a, &backward.next);
        let n = b.len().min(backward.beta.len());
        let (b_pair, b_rest) = b.split_at(n);
        let (alpha_pair, alpha_rest) = alpha.split_at_mut(n);
        let (scale_pair, scale_rest) = scale.split_at_mut(n);
        let (beta_rest, beta_pair) = backward.beta.split_at_mut(backward.beta.len() - n);
        let (next_rest, next_pair) = backward.b_next.split_at(backward.b_next.len() - n);
        let later = b_pair.iter().zip(alpha_pair.iter_mut().zip(scale_pair));
        let earlier = next_pair.iter().zip(beta_pair.iter_mut()).rev();
        for ((bt, (at, ct)), (b_next, out)) in later.zip(earlier) {
            if !f.step(None, bt, at, ct) || !g.step(b_next, out) {
                return false;
            }
        }
        for ((bt, at), ct) in b_rest.iter().zip(alpha_rest).zip(scale_rest) {
            if !f.step(None, bt, at, ct) {
                return false;
            }
        }
        for (b_next, out) in next_rest.iter().zip(beta_rest).rev() {
            if !g.step(b_next, out) {
                return false;
            }
        }
        true
    }
}

/// A run redone from the true message over the steps a guessed run wrote, until a step's
/// message agrees with the guessed one's ([`agree`]).
struct Redo<'a> {
    k: usize,
    a: &'a [f64],
    /// Redo every step, whatever agrees (the guessed run failed).
    whole: bool,
    run: Run<'a>,
}

enum Run<'a> {
    Forward(ForwardRun<'a>),
    Backward(BackwardRun<'a>),
}

impl Kernel for Redo<'_> {
    type Output = bool;

    #[inline(always)]
    fn run<V: Lanes>(self) -> bool {
        let Self { k, a, whole, run } = self;
        match run {
            Run::Forward(ForwardRun {
                from,
                b,
                alpha,
                scale,
            }) => {
                let Start::Message(message) = from else {
                    unreachable!("a guessed half starts from a message")
                };
                let mut f = ForwardSteps::<V>::from_message(k, a, &message);
                for ((bt, at), ct) in b.iter().zip(alpha).zip(scale) {
                    let guessed = *at;
                    if !f.step(None, bt, at, ct) {
                        return false;
                    }
                    if !whole && agree(&guessed, at) {
                        break;
                    }
                }
            }
            Run::Backward(BackwardRun { next, b_next, beta }) => {
                let mut g = BackwardSteps::<V>::from_message(k, a, &next);
                for (b_next, out) in b_next.iter().zip(beta).rev() {
                    let guessed = *out;
                    if !g.step(b_next, out) {
                        return false;
                    }
                    if !whole && agree(&guessed, out) {
                        break;
                    }
                }
            }
        }
        true
    }
}

/// Whether two messages agree to [`AGREE`] in every lane once each is scaled to sum 1 (equal
/// zeros agree; NaN never does). Scaled first: a backward message's sum may be as small as
/// [`SMALLEST_SUM`], whose products with a lane would lose a small lane's digits.
fn agree(x: &[f64; LANES], y: &[f64; LANES]) -> bool {
    let (ix, iy) = (1.0 / x.iter().sum::<f64>(), 1.0 / y.iter().sum::<f64>());
    x.iter()
        .zip(y)
        .all(|(&x, &y)| (x * ix - y * iy).abs() <= AGREE * (y * iy))
}

/// Pass 3 of [`small_chain`] over the steps `steps`: `γ_t` into `gamma` (this piece's rows,
/// `K` values each) and the piece's expected transition counts into the moves that end in
/// it, returned transposed (`[j][i]` for the move from `i` to `j`). `None` when some `G_t` is
/// not above [`SMALLEST_SUM`].
struct Combine<'a> {
    k: usize,
    /// `K × K`, row = from.
    a: &'a [f64],
    b: &'a [[f64; LANES]],
    alpha: &'a [[f64; LANES]],
    beta: &'a [[f64; LANES]],
    scale: &'a [f64],
    steps: Range<usize>,
    gamma: GammaRows<'a>,
}

/// A piece of `γ` as [`Combine`] writes it, one step's row at a time: in place when the rows
/// or the columns are contiguous (the E-step asks for columns, which its kernels read).
enum GammaRows<'a> {
    Rows(&'a mut [f64]),
    /// The first `K` of the columns (at most [`LANES`]: an array, not a vector, so that a
    /// short sequence's piece allocates nothing).
    Columns([&'a mut [f64]; LANES], usize),
    Strided(ArrayViewMut2<'a, f64>),
}

impl<'a> GammaRows<'a> {
    fn new(gamma: ArrayViewMut2<'a, f64>) -> Self {
        if gamma.is_standard_layout() {
            return Self::Rows(gamma.into_slice().expect("a standard layout"));
        }
        let k = gamma.ncols();
        if gamma.stride_of(Axis(0)) != 1 || k > LANES {
            return Self::Strided(gamma);
        }
        let mut columns: [&'a mut [f64]; LANES] = Default::default();
        let mut rest = gamma;
        for c in &mut columns[..k] {
            let (column, next) = rest.split_at(Axis(1), 1);
            *c = column
                .into_slice_memory_order()
                .expect("a contiguous column");
            rest = next;
        }
        Self::Columns(columns, k)
    }

    /// Rows `i..i + g.len()` of the piece: the first `k` lanes of each of `g` (each column's
    /// run of values in one copy, for the E-step's columns).
    #[inline(always)]
    fn put_rows(&mut self, i: usize, k: usize, g: &[[f64; LANES]]) {
        match self {
            Self::Rows(rows) => {
                for (r, g) in rows[i * k..(i + g.len()) * k].chunks_exact_mut(k).zip(g) {
                    r.copy_from_slice(&g[..k]);
                }
            }
            Self::Columns(columns, k) => {
                for (j, column) in columns[..*k].iter_mut().enumerate() {
                    for (o, g) in column[i..i + g.len()].iter_mut().zip(g) {
                        *o = g[j];
                    }
                }
            }
            Self::Strided(view) => {
                for (r, g) in g.iter().enumerate() {
                    for (o, &v) in view.row_mut(i + r).iter_mut().zip(g) {
                        *o = v;
                    }
                }
            }
        }
    }
}

/// `xi[j] + prev · w[j]` for every lane `j`, the sums taken and returned by value and the
/// lanes written out: as an indexed loop over the array, the sums stayed in registers only
/// where the compiler unrolled the loop before it split the array, which depends on how the
/// crate's code falls into codegen units (a change elsewhere in the crate once left them on
/// the stack, a load and a store per sum and step: the HMM's iteration 6.6 -> 8.8 ms).
#[inline(always)]
fn add_outer<V: Lanes>(xi: [V; LANES], prev: V, w: &[f64; LANES]) -> [V; LANES] {
    let [x0, x1, x2, x3, x4, x5, x6, x7] = xi;
    [
        prev.mul_add(V::splat(w[0]), x0),
        prev.mul_add(V::splat(w[1]), x1),
        prev.mul_add(V::splat(w[2]), x2),
        prev.mul_add(V::splat(w[3]), x3),
        prev.mul_add(V::splat(w[4]), x4),
        prev.mul_add(V::splat(w[5]), x5),
        prev.mul_add(V::splat(w[6]), x6),
        prev.mul_add(V::splat(w[7]), x7),
    ]
}

impl Kernel for Combine<'_> {
    type Output = Option<[[f64; LANES]; LANES]>;

    #[inline(always)]
    fn run<V: Lanes>(self) -> Self::Output {
        let Self {
            k,
            a,
            b,
            alpha,
            beta,
            scale,
            steps,
            mut gamma,
        } = self;
        let mut xi = [V::splat(0.0); LANES];
        let mut w = [0.0; LANES];
        // `γ` of the last `LANES` steps, a row each, written out together.
        let mut rows = [[0.0; LANES]; LANES];
        let first = steps.start;
        for (i, t) in steps.clone().enumerate() {
            let (at, bt) = (V::load(&alpha[t]), V::load(&beta[t]));
            let ab = at.mul(bt);
            let total = ab.sum();
            if total.is_nan() || total <= SMALLEST_SUM {
                return None;
            }
            // 1 / (G_t c_t), and from it 1 / G_t: one division per step.
            let both = 1.0 / (total * scale[t]);
            let inv = both * scale[t];
            ab.mul(V::splat(inv)).store(&mut rows[i % LANES]);
            if i % LANES == LANES - 1 {
                gamma.put_rows(i + 1 - LANES, k, &rows);
            }
            if t > 0 {
                V::load(&b[t]).mul(bt).mul(V::splat(both)).store(&mut w);
                let prev = V::load(&alpha[t - 1]);
                // Σ_t α̂_{t−1}(i) w_t(j), over every lane (the weights past `K` are zero and
                // add exact zeros), so that the sums stay in registers; `A_ij` multiplies
                // the sums once, at the end.
                xi = add_outer(xi, prev, &w);
            }
        }
        let done = (steps.end - first) / LANES * LANES;
        gamma.put_rows(done, k, &rows[..steps.end - first - done]);
        // (`A`'s columns only now: held through the loop, they took registers that its
        // sums then lacked, and half the sums went through the stack at every step.)
        let (_, cols) = transition_lanes::<V>(k, a);
        let mut out = [[0.0; LANES]; LANES];
        for ((x, col), o) in xi.iter().zip(&cols).zip(out.iter_mut()) {
            x.mul(*col).store(o);
        }
        Some(out)
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

/// A sequence id (a number or a text cell) as the key of a hash map: equal keys for equal
/// ids, and none for an id equal to no other (NaN, an empty numeric cell).
pub trait SequenceId: PartialEq + std::fmt::Display {
    /// The key.
    type Key<'a>: std::hash::Hash + Eq
    where
        Self: 'a;
    /// This id's key (`None`: it equals no id, not even itself).
    fn key(&self) -> Option<Self::Key<'_>>;
}

impl SequenceId for f64 {
    type Key<'a> = u64;
    fn key(&self) -> Option<u64> {
        // `-0.0 == 0.0`: both take the bits of `0.0`.
        (!self.is_nan()).then(|| (self + 0.0).to_bits())
    }
}

impl SequenceId for String {
    type Key<'a> = &'a str;
    fn key(&self) -> Option<&str> {
        Some(self)
    }
}

impl SequenceId for &str {
    type Key<'a>
        = &'a str
    where
        Self: 'a;
    fn key(&self) -> Option<&str> {
        Some(self)
    }
}

/// Sequences from a sequence-id column: a new sequence starts wherever the id changes.
/// An id that comes back after another one is an error (rows of a sequence must be
/// consecutive), reported with the (1-based) row where it reappears. Linear in the rows:
/// each sequence's id is looked up in a hash map of the earlier ones.
pub fn sequences_from_ids<T: SequenceId>(ids: &[T]) -> Result<Vec<Range<usize>>, DataError> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut seen: std::collections::HashMap<T::Key<'_>, usize> = Default::default();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 && ids[i - 1] == *id {
            out.last_mut().expect("a sequence is open").end = i + 1;
            continue;
        }
        if let Some(key) = id.key() {
            if let Some(&prev) = seen.get(&key) {
                // Rows are reported 1-based, as data rows of a file.
                return Err(DataError::Sequences(format!(
                    "row {}: sequence `{id}` continues here but was interrupted after row {}; the rows of a sequence must be consecutive (sort the file by sequence)",
                    i + 1,
                    out[prev].end
                )));
            }
            seen.insert(key, out.len());
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
    use ndarray::{array, s, Array2, ShapeBuilder};

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

    /// A sequence's posteriors (`T` steps, `K` states) as `run` writes them into fresh
    /// arrays, with what `run` returns: `(result, γ, Σξ, γ_0, per-step log-likelihoods)`.
    fn written<R>(
        t_len: usize,
        k: usize,
        run: impl FnOnce(ChainPosterior<'_>) -> R,
    ) -> (R, Array2<f64>, Array2<f64>, Array1<f64>, Array1<f64>) {
        let (mut gamma, mut xi) = (Array2::zeros((t_len, k)), Array2::zeros((k, k)));
        let (mut init, mut steps) = (Array1::zeros(k), Array1::zeros(t_len));
        let result = run(ChainPosterior {
            gamma: gamma.view_mut(),
            transitions: xi.view_mut(),
            initial: init.view_mut(),
            steps: Some(steps.view_mut()),
        });
        (result, gamma, xi, init, steps)
    }

    /// `forward_backward`'s result through `run` (the small or the general form).
    fn posteriors(
        pi: &Array1<f64>,
        a: &Array2<f64>,
        b: &Array2<f64>,
        run: impl Fn(&[f64], &[f64], &[f64], ChainPosterior<'_>) -> f64,
    ) -> (f64, Array2<f64>, Array2<f64>, Array1<f64>, Array1<f64>) {
        let pi = pi.mapv(f64::exp).to_vec();
        let a = a.mapv(f64::exp).iter().copied().collect::<Vec<_>>();
        written(b.nrows(), b.ncols(), |out| {
            run(&pi, &a, b.as_slice().unwrap(), out)
        })
    }

    #[test]
    fn the_small_form_matches_the_general_one() {
        // Forward and backward at once, β scaled by its own sums, and the combination in
        // pieces (several of them here) against the serial recursions of any K.
        for k in [1, 3, 8] {
            let t_len = 3 * CHAIN_CHUNK + 17;
            let pi = Array1::from_shape_fn(k, |i| (1.0 + i as f64).ln());
            let pi = &pi - pi.mapv(f64::exp).sum().ln();
            let a = Array2::from_shape_fn((k, k), |(i, j)| {
                if i == j {
                    5.0
                } else {
                    1.0 + ((i * 7 + j * 3) % 5) as f64
                }
            });
            let a = Array2::from_shape_fn((k, k), |(i, j)| (a[[i, j]] / a.row(i).sum()).ln());
            let b = Array2::from_shape_fn((t_len, k), |(t, j)| {
                -((t as f64 * 0.37 + j as f64 * 1.3).sin() * 4.0).powi(2) - 300.0 * (t % 2) as f64
            });
            let small = posteriors(&pi, &a, &b, |pi, a, rows, mut out| {
                small_chain(pi, a, rows, &mut out, false).unwrap()
            });
            let general = posteriors(&pi, &a, &b, general_chain);
            assert_relative_eq!(small.0, general.0, max_relative = 1e-12);
            for (s, g) in small.1.iter().zip(general.1.iter()) {
                assert_relative_eq!(s, g, epsilon = 1e-12);
            }
            for (s, g) in small.2.iter().zip(general.2.iter()) {
                assert_relative_eq!(s, g, max_relative = 1e-10);
            }
            for (s, g) in small.3.iter().zip(general.3.iter()) {
                assert_relative_eq!(s, g, epsilon = 1e-12);
            }
            for (s, g) in small.4.iter().zip(general.4.iter()) {
                assert_relative_eq!(s, g, epsilon = 1e-10, max_relative = 1e-12);
            }
            assert_relative_eq!(small.2.sum(), (t_len - 1) as f64, max_relative = 1e-12);
        }
    }

    /// A long sequence's recursions in halves, each guessed half redone from the true
    /// message until the two agree, match the serial general form on chains that forget
    /// their start within a few steps (sticky, and left to right with zeros in `A`) and on
    /// one that never does (a cycle through the states, whose halves are redone whole), at
    /// even and odd lengths; on one thread and on two the bits are the same.
    #[test]
    fn recursions_in_halves_match_the_serial_ones() {
        let cycle = |k: usize| {
            Array2::from_shape_fn((k, k), |(i, j)| if j == (i + 1) % k { 1.0 } else { 0.0 })
        };
        let sticky = |k: usize| {
            Array2::from_shape_fn((k, k), |(i, j)| {
                if i == j {
                    20.0
                } else {
                    1.0 + ((i * 7 + j * 3) % 5) as f64
                }
            })
        };
        let left_to_right = |k: usize| {
            Array2::from_shape_fn((k, k), |(i, j)| match j.cmp(&i) {
                std::cmp::Ordering::Less => 0.0,
                std::cmp::Ordering::Equal => 50.0,
                std::cmp::Ordering::Greater => 1.0,
            })
        };
        // Two states that never mix, the chain in the first: in the second half 400 steps
        // favour the other state by e, then one favours the first by e^350. Started from a
        // uniform guess, the forward run reaches that step nearly sure of the other state and
        // fails its check (`c_t` about 1e-152), where the true run does not.
        let never_mixing = Array2::from_shape_fn((2, 2), |(i, j)| if i == j { 1.0 } else { 0.0 });
        for (name, a, k) in [
            ("never mixing", never_mixing, 2),
            ("sticky", sticky(8), 8),
            ("sticky", sticky(3), 3),
            ("left to right", left_to_right(4), 4),
            ("cycle", cycle(5), 5),
        ] {
            for t_len in [HALVES_FROM, HALVES_FROM + 4097] {
                let a = Array2::from_shape_fn((k, k), |(i, j)| (a[[i, j]] / a.row(i).sum()).ln());
                let tail = if name == "never mixing" {
                    f64::NEG_INFINITY
                } else {
                    -30.0
                };
                let pi = Array1::from_shape_fn(k, |i| if i == 0 { 0.0 } else { tail });
                let pi = &pi - pi.mapv(f64::exp).sum().ln();
                let b = Array2::from_shape_fn((t_len, k), |(t, j)| {
                    let m = t_len / 2;
                    if name == "cycle" {
                        // Nothing tells the states apart: the chain's start is never forgotten.
                        -1.0
                    } else if name == "never mixing" {
                        match (t.wrapping_sub(m), j) {
                            (0..400, 1) => 1.0,
                            (400, 1) => -350.0,
                            _ => 0.0,
                        }
                    } else {
                        // (The states' order for a chain that only moves on.)
                        let centre = (t / 3000).min(k - 1) as f64;
                        -((t as f64 * 0.37).sin() + centre - j as f64).powi(2)
                    }
                });
                let run = |threads: usize| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap()
                        .install(|| {
                            posteriors(&pi, &a, &b, |pi, a, rows, mut out| {
                                small_chain(pi, a, rows, &mut out, threads > 1)
                                    .unwrap_or_else(|| panic!("{name}, {t_len}: no result"))
                            })
                        })
                };
                let (one, two) = (run(1), run(2));
                assert_eq!(one.0.to_bits(), two.0.to_bits(), "{name}, {t_len}");
                assert_eq!(
                    (&one.1, &one.2, &one.3, &one.4),
                    (&two.1, &two.2, &two.3, &two.4)
                );
                let general = posteriors(&pi, &a, &b, general_chain);
                assert_relative_eq!(one.0, general.0, epsilon = 1e-10, max_relative = 1e-12);
                for (s, g) in one.1.iter().zip(general.1.iter()) {
                    assert_relative_eq!(s, g, epsilon = 1e-11);
                }
                for (s, g) in one.2.iter().zip(general.2.iter()) {
                    assert_relative_eq!(s, g, epsilon = 1e-9, max_relative = 1e-10);
                }
                for (s, g) in one.4.iter().zip(general.4.iter()) {
                    assert_relative_eq!(s, g, epsilon = 1e-10, max_relative = 1e-11);
                }
            }
        }
    }

    #[test]
    fn small_normalisers_in_a_pattern_stay_in_range() {
        // The best state alternates every step and the transitions all but rule out
        // switching, so every second step's normaliser is small (e^−40 to e^−100, in a
        // pattern of period 6): the recursions' sums, scaled every second step by a power
        // of two, stay in range over 100,000 steps, and the small form agrees with the
        // general one, which normalises every step.
        let t_len = 100_000;
        let stay = 1.0 - 1e-50;
        let pi = array![0.5, 0.5].mapv(f64::ln);
        let a = array![[stay, 1e-50], [1e-50, stay]].mapv(f64::ln);
        let worse = [40.0, 100.0, 70.0];
        let b = Array2::from_shape_fn((t_len, 2), |(t, k)| {
            if k == t % 2 {
                0.0
            } else {
                -worse[(t / 2) % 3]
            }
        });
        let small = posteriors(&pi, &a, &b, |pi, a, rows, mut out| {
            small_chain(pi, a, rows, &mut out, false).expect("the small form")
        });
        let general = posteriors(&pi, &a, &b, general_chain);
        assert!(small.0.is_finite());
        assert_relative_eq!(small.0, general.0, max_relative = 1e-12);
        for (s, g) in small.1.iter().zip(general.1.iter()) {
            assert_relative_eq!(s, g, epsilon = 1e-12);
        }
        for (s, g) in small.2.iter().zip(general.2.iter()) {
            assert_relative_eq!(s, g, epsilon = 1e-9, max_relative = 1e-10);
        }
    }

    #[test]
    fn a_state_of_tiny_weight_survives_small_carried_sums() {
        // Three steps whose normalisers are about 1e-96 (the likely states explain them
        // badly, the state that explains them is all but unreachable), then a step only the
        // state of predictive weight 1e-40 explains. The small form must not lose that state
        // to underflow in the sums it carries between scalings (it falls back to the general
        // form where they get too small): the same likelihood and posteriors as the general
        // form's.
        let pi = array![1.0, 1e-40, 1e-200].mapv(f64::ln);
        let a = array![
            [1.0 - 1e-40, 1e-40, 1e-200],
            [1e-40, 1.0 - 1e-40, 1e-200],
            [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]
        ]
        .mapv(f64::ln);
        // (Steps 2–4: between two scalings, so that the carried sum holds all three.)
        let b = Array2::from_shape_fn((12, 3), |(t, j)| match (t, j) {
            (0 | 1, 0) => 0.0,
            (0 | 1, 1) => -5.0,
            (2..=4, 0 | 1) => -221.0,
            (2..=4, _) => 0.0,
            (5, 0) => -230.0,
            (5, 1) => 0.0,
            (_, 0) => -1.0,
            (_, 1) => 0.0,
            _ => -500.0,
        });
        let either = posteriors(&pi, &a, &b, |pi, a, rows, mut out| {
            match small_chain(pi, a, rows, &mut out, false) {
                Some(ll) => ll,
                None => general_chain(pi, a, rows, out),
            }
        });
        let general = posteriors(&pi, &a, &b, general_chain);
        assert!(general.0.is_finite());
        assert_relative_eq!(either.0, general.0, max_relative = 1e-12);
        for (s, g) in either.1.iter().zip(general.1.iter()) {
            assert_relative_eq!(s, g, epsilon = 1e-12);
        }
        // (The state explains every later step best.)
        assert!(general.1[[5, 1]] > 0.99, "{}", general.1.row(5));
    }

    #[test]
    fn one_thread_and_column_major_posteriors_give_the_same_bits() {
        // One thread runs the two recursions in one loop, a pool runs them side by side
        // unless it runs as many other sequences at once; the E-step asks for γ by columns,
        // `posterior` by rows, and any other view is written through its strides. All give
        // the same values.
        let (k, t_len) = (5, 2 * CHAIN_CHUNK + 3);
        let pi = Array1::from_shape_fn(k, |i| -(1.0 + i as f64).ln());
        let a = Array2::from_shape_fn((k, k), |(i, j)| if i == j { 0.6 } else { 0.1 });
        let a = a.mapv(f64::ln);
        let b = Array2::from_shape_fn((t_len, k), |(t, j)| ((t * 3 + j * 5) % 11) as f64 * -0.7);
        // `layout`: 0 rows, 1 columns, 2 the first `k` columns of a wider row-major array.
        let run = |threads: usize, layout: usize, side_by_side: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let width = if layout == 2 { k + 2 } else { k };
                let mut wide = Array2::zeros((t_len, width).set_f(layout == 1));
                let mut gamma = wide.slice_mut(s![.., ..k]);
                let (mut xi, mut init) = (Array2::zeros((k, k)), Array1::zeros(k));
                let ll = forward_backward_among(
                    pi.view(),
                    a.view(),
                    b.view(),
                    ChainPosterior {
                        gamma: gamma.view_mut(),
                        transitions: xi.view_mut(),
                        initial: init.view_mut(),
                        steps: None,
                    },
                    side_by_side,
                );
                assert!(wide.slice(s![.., k..]).iter().all(|&v| v == 0.0));
                (ll, wide.slice(s![.., ..k]).to_owned(), xi, init)
            })
        };
        let bits = |v: &Array2<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let want = run(2, 1, 1);
        assert!(want.0.is_finite() && want.1.iter().all(|&g| g > 0.0));
        for (threads, layout, side_by_side) in [
            (1, 0, 1),
            (1, 1, 1),
            (1, 2, 1),
            (2, 0, 1),
            (2, 2, 1),
            (2, 1, 2),
            (2, 0, 8),
        ] {
            let got = run(threads, layout, side_by_side);
            assert_eq!(got.0.to_bits(), want.0.to_bits(), "{threads} {layout}");
            assert_eq!(bits(&got.1), bits(&want.1), "{threads} {layout}");
            assert_eq!(bits(&got.2), bits(&want.2), "{threads} {layout}");
            assert_eq!(got.3, want.3);
        }
    }

    /// Runs [`forward_backward_scaled`] on `log_b` rescaled by [`scale_block`] in blocks of
    /// `block` rows given column by column, as the E-step does.
    #[allow(clippy::type_complexity)]
    fn scaled_posteriors(
        pi: &Array1<f64>,
        a: &Array2<f64>,
        log_b: &Array2<f64>,
        block: usize,
    ) -> (
        Option<f64>,
        Array2<f64>,
        Array2<f64>,
        Array1<f64>,
        Array1<f64>,
        Vec<f64>,
    ) {
        let (t_len, k) = log_b.dim();
        let mut tiles = vec![[0.0; LANES]; t_len];
        let mut shift = vec![0.0; t_len];
        let mut best = vec![0.0; t_len];
        for start in (0..t_len).step_by(block) {
            let end = (start + block).min(t_len);
            let columns = log_b
                .slice(s![start..end, ..])
                .t()
                .as_standard_layout()
                .into_owned();
            let columns: Vec<&[f64]> = columns
                .rows()
                .into_iter()
                .map(|c| c.to_slice().unwrap())
                .collect();
            scale_block(
                &columns,
                &mut tiles[start..end],
                &mut shift[start..end],
                &mut best[start..end],
            );
        }
        let (ll, gamma, xi, init, steps) = written(t_len, k, |out| {
            let p = Probabilities::of(pi.view(), a.view());
            forward_backward_scaled(&p, &tiles, &shift, out, 1)
        });
        (ll, gamma, xi, init, steps, best)
    }

    /// [`forward_backward_among`] on the log-densities, as [`scaled_posteriors`] returns.
    fn row_posteriors(
        pi: &Array1<f64>,
        a: &Array2<f64>,
        log_b: &Array2<f64>,
    ) -> (f64, Array2<f64>, Array2<f64>, Array1<f64>, Array1<f64>) {
        written(log_b.nrows(), log_b.ncols(), |out| {
            forward_backward_among(pi.view(), a.view(), log_b.view(), out, 1)
        })
    }

    #[test]
    fn emissions_rescaled_in_blocks_give_the_bits_of_the_log_densities() {
        // The E-step's form (the first pass done block by block, from columns) against the
        // rows' own: the same bits, for K = 1, 3 and 8, blocks that cut the sequence
        // anywhere, and rows with NaN, −∞ everywhere or +∞ (the sequence is then reported as
        // the rows' form reports it).
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for k in [1, 3, 8] {
            let t_len = CHAIN_CHUNK + 1000;
            let pi = Array1::from_shape_fn(k, |i| -(1.0 + i as f64).ln());
            let a = Array2::from_shape_fn((k, k), |(i, j)| if i == j { 0.6 } else { 0.1 })
                .mapv(f64::ln);
            let clean = Array2::from_shape_fn((t_len, k), |(t, j)| {
                -((t as f64 * 0.37 + j as f64 * 1.3).sin() * 4.0).powi(2) - 30.0 * (t % 3) as f64
            });
            let mut cases = vec![("clean", clean.clone())];
            for (name, bad) in [
                ("nan", f64::NAN),
                ("minus infinity", f64::NEG_INFINITY),
                ("plus infinity", f64::INFINITY),
            ] {
                let mut b = clean.clone();
                // A lone bad value, and later a whole row of it.
                b[[700, k - 1]] = bad;
                b.row_mut(3000).fill(bad);
                cases.push((name, b));
            }
            for (name, log_b) in &cases {
                for block in [1000, 1024, 333] {
                    let (ll, gamma, xi, init, steps, best) =
                        scaled_posteriors(&pi, &a, log_b, block);
                    let want = row_posteriors(&pi, &a, log_b);
                    let ll = ll.expect("the small form carries these");
                    assert_eq!(
                        ll.to_bits(),
                        want.0.to_bits(),
                        "{name} k={k}: {ll} vs {}",
                        want.0
                    );
                    assert_eq!(
                        bits(gamma.as_slice().unwrap()),
                        bits(want.1.as_slice().unwrap()),
                        "{name} k={k}"
                    );
                    assert_eq!(
                        bits(xi.as_slice().unwrap()),
                        bits(want.2.as_slice().unwrap()),
                        "{name} k={k}"
                    );
                    assert_eq!(
                        bits(init.as_slice().unwrap()),
                        bits(want.3.as_slice().unwrap()),
                        "{name} k={k}"
                    );
                    assert_eq!(
                        bits(steps.as_slice().unwrap()),
                        bits(want.4.as_slice().unwrap()),
                        "{name} k={k}"
                    );
                    // Each row's best value, NaN ignored.
                    for (t, &b) in best.iter().enumerate() {
                        let m =
                            log_b
                                .row(t)
                                .iter()
                                .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
                        assert_eq!(b.to_bits(), m.to_bits(), "{name} k={k} row {t}");
                    }
                }
            }
        }
        // Where the small form cannot carry the sequence, the caller is told so.
        let (pi, a) = (
            array![1.0, 1e-170].mapv(f64::ln),
            array![[1.0, 1e-170], [1e-170, 1.0]].mapv(f64::ln),
        );
        let log_b = array![[0.0, 0.0], [-1000.0, 0.0], [0.0, -1000.0]];
        assert_eq!(scaled_posteriors(&pi, &a, &log_b, 2).0, None);
        assert!(row_posteriors(&pi, &a, &log_b).0.is_finite());
    }

    #[test]
    fn tiny_transitions_fall_back_to_the_general_form() {
        // Switches of probability 1e-170 that the data forces: the steps' sums go far below
        // the small form's range, which hands the sequence to the general form (before,
        // it reported a possible sequence as impossible, or overflowed to NaN).
        for tiny in [1e-170, 1e-160] {
            let pi = array![1.0, tiny].mapv(f64::ln);
            let a = array![[1.0, tiny], [tiny, 1.0]].mapv(f64::ln);
            let b = array![[0.0, 0.0], [-1000.0, 0.0], [0.0, -1000.0]];
            let got = posteriors(&pi, &a, &b, |pi, a, rows, out| {
                let log_pi = Array1::from(pi.to_vec()).mapv(f64::ln);
                let log_a = Array2::from_shape_vec((2, 2), a.to_vec())
                    .unwrap()
                    .mapv(f64::ln);
                let b = Array2::from_shape_vec((rows.len() / 2, 2), rows.to_vec()).unwrap();
                forward_backward(log_pi.view(), log_a.view(), b.view(), out)
            });
            let general = posteriors(&pi, &a, &b, general_chain);
            assert!(
                got.0.is_finite() && got.0 == general.0,
                "{} {}",
                got.0,
                general.0
            );
            assert!(got.1.iter().all(|g| g.is_finite()));
            assert_eq!(got.1, general.1);
            assert_eq!(got.2, general.2);
        }
    }

    #[test]
    fn more_than_eight_states_take_the_general_form() {
        // Nine states of which the last can never be reached: the posteriors of the other
        // eight are those of the eight-state chain (the small form), the ninth's are 0.
        let (k, t_len) = (8, 500);
        let pi = Array1::from_shape_fn(k, |i| -(1.0 + i as f64 / 3.0)).mapv(f64::exp);
        let pi = (&pi / pi.sum()).mapv(f64::ln);
        let a = Array2::from_shape_fn((k, k), |(i, j)| if i == j { 6.0_f64 } else { 1.0 });
        let a = Array2::from_shape_fn((k, k), |(i, j)| (a[[i, j]] / a.row(i).sum()).ln());
        let b = Array2::from_shape_fn((t_len, k), |(t, j)| -(((t * 13 + j * 7) % 11) as f64));
        let small = posteriors(&pi, &a, &b, |pi, a, rows, mut out| {
            small_chain(pi, a, rows, &mut out, false).unwrap()
        });
        let pi9 = Array1::from_shape_fn(k + 1, |i| if i < k { pi[i] } else { f64::NEG_INFINITY });
        let a9 = Array2::from_shape_fn((k + 1, k + 1), |(i, j)| match (i < k, j < k) {
            (true, true) => a[[i, j]],
            (true, false) => f64::NEG_INFINITY,
            (false, _) => -((k + 1) as f64).ln(),
        });
        let b9 =
            Array2::from_shape_fn((t_len, k + 1), |(t, j)| if j < k { b[[t, j]] } else { 0.0 });
        let (mut gamma, mut xi) = (Array2::zeros((t_len, k + 1)), Array2::zeros((k + 1, k + 1)));
        let mut init = Array1::zeros(k + 1);
        let ll = forward_backward(
            pi9.view(),
            a9.view(),
            b9.view(),
            ChainPosterior {
                gamma: gamma.view_mut(),
                transitions: xi.view_mut(),
                initial: init.view_mut(),
                steps: None,
            },
        );
        assert_relative_eq!(ll, small.0, max_relative = 1e-12);
        for t in 0..t_len {
            for j in 0..k {
                assert_relative_eq!(gamma[[t, j]], small.1[[t, j]], epsilon = 1e-12);
            }
            assert_eq!(gamma[[t, k]], 0.0);
        }
        for i in 0..k {
            for j in 0..k {
                assert_relative_eq!(xi[[i, j]], small.2[[i, j]], epsilon = 1e-9);
            }
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
        // An empty numeric cell (NaN) equals no id: each is a sequence of its own, and
        // never an interrupted one; -0 is 0.
        assert_eq!(
            sequences_from_ids(&[f64::NAN, f64::NAN, 1.0, 2.0, f64::NAN]).unwrap(),
            vec![0..1, 1..2, 2..3, 3..4, 4..5]
        );
        let err = sequences_from_ids(&[0.0, 0.0, 2.0, -0.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 4") && err.contains("after row 2"),
            "{err}"
        );
        let text: Vec<String> = ["x", "y", "y", "x"].map(String::from).to_vec();
        let err = sequences_from_ids(&text).unwrap_err().to_string();
        assert!(
            err.contains("row 4: sequence `x`") && err.contains("after row 1"),
            "{err}"
        );
        // 200,000 sequences of one row each: linear, not quadratic, in the sequences.
        let ids: Vec<f64> = (0..200_000).map(f64::from).collect();
        assert_eq!(sequences_from_ids(&ids).unwrap().len(), 200_000);
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
