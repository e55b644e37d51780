//! Gaussian blocks: multivariate Normal with full, diagonal and spherical covariance, and
//! the univariate Normal (parameterised by its variance).

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use smallvec::{smallvec, SmallVec};

use super::hyper::{Means, PerCoordinate, ScalarMeans, ScaleMatrix};
use super::lanes::{self, fused, Kernel, Lanes, LANES};
use super::tiles;
use super::{column_slices, Slices, SlicesMut};
use crate::linalg::{as_faer_mut, Cholesky};
use crate::mixture::{near_tie, Assigned, TopTwo, Workspace};
use crate::scratch;

/// `ln 2π`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Writes `x_b - centre` transposed into `buf`: `buf[i * rows + b]`, so that each
/// coordinate's values for the whole block are contiguous and the triangular solve and the
/// reductions below vectorise across points.
pub(crate) fn centred_transposed(
    x: &ArrayView2<'_, f64>,
    centre: &ArrayView1<'_, f64>,
    buf: &mut [f64],
) {
    let m = x.nrows();
    for ((out, col), &c) in buf.chunks_exact_mut(m).zip(x.columns()).zip(centre.iter()) {
        match col.as_slice() {
            // Data is stored column-major (see `data::column_major`), so this is the hot path.
            Some(col) => {
                for (o, &v) in out.iter_mut().zip(col) {
                    *o = v - c;
                }
            }
            None => {
                for (o, &v) in out.iter_mut().zip(col.iter()) {
                    *o = v - c;
                }
            }
        }
    }
}

/// `Σ xs` with eight independent partial sums (a fixed order, so results are reproducible),
/// which lets the compiler vectorise the reduction.
fn sum_lanes(xs: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
        + tail
}

/// Adds `ln N(x_b | mean, Σ)` to `out[b]`, with `Σ = L Lᵀ` given by its Cholesky factor.
pub fn mvn_full_add_log_density(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
    mut out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    let columns = column_slices(&x);
    let maha = match (columns, mean.as_slice()) {
        // Column-major rows (both back-ends keep them so): register tiles, no copy.
        (Some(columns), Some(mean)) => {
            let (factor, maha) = ws.two(d * d + d + (d * MOST_SOLVE_TILES + 1) * LANES, m);
            let (lower, y) = factor.split_at_mut(d * d + d);
            pack_lower(chol, lower);
            // The solved tiles on whole cache lines (a tile across two lines is two loads).
            let skip = y.as_ptr().align_offset(64).min(LANES);
            let y = &mut y[skip..][..d * MOST_SOLVE_TILES * LANES];
            lanes::dispatch(FullMahalanobis {
                columns: &columns,
                mean,
                lower,
                y: y.as_chunks_mut().0,
                maha,
            });
            maha
        }
        _ => {
            let (buf, maha) = ws.two(m * d, m);
            centred_transposed(&x, &mean, buf);
            // `d × m` row-major: one column per point, all solved in one call.
            chol.solve_lower_in_place(MatMut::from_row_major_slice_mut(buf, d, m));
            maha.fill(0.0);
            for y in buf.chunks_exact(m) {
                for (acc, &v) in maha.iter_mut().zip(y) {
                    *acc += v * v;
                }
            }
            maha
        }
    };
    let constant = -0.5 * (d as f64 * LN_2PI + chol.log_det());
    match out.as_slice_mut() {
        Some(out) => {
            for (o, &q) in out.iter_mut().zip(maha.iter()) {
                *o += constant - 0.5 * q;
            }
        }
        None => {
            for (o, &q) in out.iter_mut().zip(maha.iter()) {
                *o += constant - 0.5 * q;
            }
        }
    }
}

/// `L` row by row (`lower[i d + j]`, `j < i`), then the reciprocals of its diagonal
/// (`lower[d² + i]`).
fn pack_lower(chol: &Cholesky, lower: &mut [f64]) {
    let l = chol.factor();
    let d = l.nrows();
    let (rows, diag) = lower.split_at_mut(d * d);
    for i in 0..d {
        for j in 0..i {
            rows[i * d + j] = l[(i, j)];
        }
        diag[i] = 1.0 / l[(i, i)];
    }
}

/// `maha[b] = ‖L⁻¹ (x_b − mean)‖²` for a block of column-major rows, [`LANES`] rows at a
/// time: each coordinate of the tile is centred as it is loaded, solved for (forward
/// substitution, `y_i = (x̃_i − Σ_{j<i} L_ij y_j) / L_ii`) and squared into the sum (`y`:
/// `d · MOST_SOLVE_TILES` tiles of scratch).
struct FullMahalanobis<'a> {
    columns: &'a [&'a [f64]],
    mean: &'a [f64],
    lower: &'a [f64],
    y: &'a mut [[f64; LANES]],
    maha: &'a mut [f64],
}

impl Kernel for FullMahalanobis<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        // Eight chains where the registers hold their sums (AVX-512), three otherwise (two
        // coordinates of three tiles: 12 of AVX2's 16 registers). Each row takes the same
        // operations either way.
        if V::REGISTERS >= 32 {
            self.solve::<V, MOST_SOLVE_TILES>();
        } else {
            self.solve::<V, 3>();
        }
    }
}

impl FullMahalanobis<'_> {
    /// Groups of `T` tiles.
    #[inline(always)]
    fn solve<V: Lanes, const T: usize>(self) {
        let Self {
            columns,
            mean,
            lower,
            y,
            maha,
        } = self;
        let (d, m) = (columns.len(), maha.len());
        let group = T * LANES;
        let y = y.as_chunks_mut::<T>().0;
        for (g, out) in maha.chunks_exact_mut(group).enumerate() {
            let q = solve_group::<V, T>(columns, g * group, mean, lower, y);
            for (o, s) in out.as_chunks_mut::<LANES>().0.iter_mut().zip(&q) {
                s.store(o);
            }
        }
        let start = m / group * group;
        if start < m {
            // The last, partial group: its rows copied into tiles padded at the mean.
            let mut padded = vec![0.0; d * group];
            for ((t, col), &mu) in padded.chunks_exact_mut(group).zip(columns).zip(mean) {
                t.fill(mu);
                t[..m - start].copy_from_slice(&col[start..]);
            }
            let padded: Vec<&[f64]> = padded.chunks_exact(group).collect();
            let q = solve_group::<V, T>(&padded, 0, mean, lower, y);
            store_tiles(&q, 0, &mut maha[start..]);
        }
    }
}

/// [`FullMahalanobis`] of the `T · LANES` rows from `start` (all within every column): `T`
/// tiles side by side, independent chains of multiply-adds, so that each waits less on the
/// one before; the tiles load at fixed offsets, so the sums stay in registers. The
/// coordinates go two at a time (the last alone when `d` is odd), as two rows of a matrix
/// product: each solved tile loaded from `y` serves both, half the loads per multiply-add of
/// one coordinate at a time (on one AMD EPYC thread, `D = 16`, 16 components, blocks of 1024
/// rows: 117 → 95 ms per million rows, `examples/full_kernels.rs`). Each coordinate's sum takes its terms in the order of the plain
/// forward substitution (`j = 0, 1, …, i − 1`), so pairs or not give the same bits.
#[inline(always)]
fn solve_group<V: Lanes, const T: usize>(
    columns: &[&[f64]],
    start: usize,
    mean: &[f64],
    lower: &[f64],
    y: &mut [[[f64; LANES]; T]],
) -> [V; T] {
    let d = columns.len();
    let mut q = [V::splat(0.0); T];
    let mut i = 0;
    while i + 2 <= d {
        solve_pair::<V, T>(columns, start, i, mean, lower, y, &mut q);
        i += 2;
    }
    if i < d {
        solve_one::<V, T>(columns, start, i, mean, lower, y, &mut q);
    }
    q
}

/// Tile group `start`'s coordinate `i` less `mean[i]`.
#[inline(always)]
fn centred_group<V: Lanes, const T: usize>(col: &[f64], start: usize, mu: f64) -> [V; T] {
    let mu = V::splat(mu);
    let (group, _) = col[start..start + T * LANES].as_chunks::<LANES>();
    // (A loop, not `array::from_fn`: a closure the compiler leaves out of line does not
    // share the kernel's target features, and each vector operation becomes a call.)
    let mut acc = [mu; T];
    for (a, x) in acc.iter_mut().zip(group) {
        *a = V::load(x).sub(mu);
    }
    acc
}

/// `acc · inv` into `y` and its square into `q`; returns it.
#[inline(always)]
fn finish_coordinate<V: Lanes, const T: usize>(
    mut acc: [V; T],
    inv: f64,
    y: &mut [[f64; LANES]; T],
    q: &mut [V; T],
) -> [V; T] {
    let inv = V::splat(inv);
    for ((a, s), yt) in acc.iter_mut().zip(q.iter_mut()).zip(y.iter_mut()) {
        *a = a.mul(inv);
        *s = a.mul_add(*a, *s);
        a.store(yt);
    }
    acc
}

/// Coordinate `i` of [`solve_group`]: `y_i = (x̃_i − Σ_{j<i} L_ij y_j) / L_ii`.
#[inline(always)]
fn solve_one<V: Lanes, const T: usize>(
    columns: &[&[f64]],
    start: usize,
    i: usize,
    mean: &[f64],
    lower: &[f64],
    y: &mut [[[f64; LANES]; T]],
    q: &mut [V; T],
) {
    let d = columns.len();
    let (rows, inv_diag) = lower.split_at(d * d);
    let mut acc = centred_group::<V, T>(columns[i], start, mean[i]);
    for (&lij, yj) in rows[i * d..i * d + i].iter().zip(y.iter()) {
        let l = V::splat(lij);
        for (a, yt) in acc.iter_mut().zip(yj) {
            *a = l.neg_mul_add(V::load(yt), *a);
        }
    }
    finish_coordinate(acc, inv_diag[i], &mut y[i], q);
}

/// Coordinates `i` and `i + 1` of [`solve_group`]: both less the terms of the coordinates
/// before `i`, then `i + 1` less the term of `i`.
#[inline(always)]
fn solve_pair<V: Lanes, const T: usize>(
    columns: &[&[f64]],
    start: usize,
    i: usize,
    mean: &[f64],
    lower: &[f64],
    y: &mut [[[f64; LANES]; T]],
    q: &mut [V; T],
) {
    let d = columns.len();
    let (rows, inv_diag) = lower.split_at(d * d);
    let mut a0 = centred_group::<V, T>(columns[i], start, mean[i]);
    let mut a1 = centred_group::<V, T>(columns[i + 1], start, mean[i + 1]);
    let (row0, row1) = (&rows[i * d..i * d + i], &rows[(i + 1) * d..(i + 1) * d + i]);
    for ((&l0, &l1), yj) in row0.iter().zip(row1).zip(y.iter()) {
        let (l0, l1) = (V::splat(l0), V::splat(l1));
        for ((a0, a1), yt) in a0.iter_mut().zip(a1.iter_mut()).zip(yj) {
            let yt = V::load(yt);
            *a0 = l0.neg_mul_add(yt, *a0);
            *a1 = l1.neg_mul_add(yt, *a1);
        }
    }
    let y0 = finish_coordinate(a0, inv_diag[i], &mut y[i], q);
    let l = V::splat(rows[(i + 1) * d + i]);
    for (a, yt) in a1.iter_mut().zip(&y0) {
        *a = l.neg_mul_add(*yt, *a);
    }
    finish_coordinate(a1, inv_diag[i + 1], &mut y[i + 1], q);
}

/// Tiles side by side in [`DiagLogDensity`] where the registers are few (and in its last,
/// partial group).
const SOLVE_TILES: usize = 4;

/// The most tiles [`FullMahalanobis`] solves side by side.
const MOST_SOLVE_TILES: usize = 8;

/// `LANES` values of a column from row `start` (`len` of them; the rest `fill`).
#[inline(always)]
fn tile_of(col: &[f64], start: usize, len: usize, fill: f64) -> [f64; LANES] {
    if len == LANES {
        *<&[f64; LANES]>::try_from(&col[start..start + LANES]).expect("a whole tile")
    } else {
        let mut t = [fill; LANES];
        t[..len].copy_from_slice(&col[start..start + len]);
        t
    }
}

/// Rows per piece of [`mvn_diag_add_log_densities`] and [`DiagSums`]: a piece of
/// the data (256 rows of `D` columns, 16 KB at `D = 8`) stays in the L1 cache while every
/// component reads it, where a whole block of the E-step (1024 rows, 64 KB) came from L2
/// for each. A multiple of [`SETS`] tiles, so that the pieces hold whole runs of them (the
/// sums' order, [`DiagSums`], does not depend on the pieces).
const PIECE_ROWS: usize = 256;

/// Adds `ln N(x_b | means[k], diag(vars[k]))` to `out[b, k]` for every component `k` (`means`
/// and `vars` are `K × D`): the values of [`mvn_diag_add_log_density`] for each `k`, bit for
/// bit, with every component's pass over a piece of 256 rows before the next piece. The
/// scales and constants are computed once per set of parameters and kept in `ws`.
pub fn mvn_diag_add_log_densities(
    x: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    vars: ArrayView2<'_, f64>,
    out: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    diag_log_densities(x, None, means, vars, out, ws);
}

/// Sets `out[b, k] = log_prior[k] + ln N(x_b | means[k], diag(vars[k]))` for every row and
/// component, whatever `out` held: a mixture's log-joint when this block is its first, with
/// the latent's prior (`z[n] ~ Categorical(w)`: `log_prior = ln w`; equal weights: one value,
/// `ln (1/K)`, for every component). The same bits as [`crate::mixture::set_log_weights`]
/// followed by [`mvn_diag_add_log_densities`], in one pass over the block instead of two.
pub fn mvn_diag_set_log_joint(
    x: ArrayView2<'_, f64>,
    log_prior: ArrayView1<'_, f64>,
    means: ArrayView2<'_, f64>,
    vars: ArrayView2<'_, f64>,
    out: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    diag_log_densities(x, Some(log_prior), means, vars, out, ws);
}

/// [`mvn_diag_add_log_densities`], or with `log_prior` [`mvn_diag_set_log_joint`].
fn diag_log_densities(
    x: ArrayView2<'_, f64>,
    log_prior: Option<ArrayView1<'_, f64>>,
    means: ArrayView2<'_, f64>,
    vars: ArrayView2<'_, f64>,
    mut out: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    // Component `k`'s prior (one value for all of them, or one each).
    let prior = |k: usize| log_prior.map(|p| if p.len() == 1 { p[0] } else { p[k] });
    if d == 0 {
        // (No coordinate: every density is 1, and adding `ln 1 = −0` changes nothing.)
        for (k, mut col) in out.columns_mut().into_iter().enumerate() {
            if let Some(p) = prior(k) {
                col.fill(p);
            }
        }
        return;
    }
    let columns = column_slices(&x);
    let contiguous = out.columns().into_iter().all(|c| c.as_slice().is_some());
    let (Some(columns), true, Some(means), Some(vars)) =
        (columns, contiguous, means.as_slice(), vars.as_slice())
    else {
        // (Not the back-ends' layout: component by component.)
        for (k, ((mean, var), mut col)) in means
            .rows()
            .into_iter()
            .zip(vars.rows())
            .zip(out.columns_mut())
            .enumerate()
        {
            if let Some(p) = prior(k) {
                col.fill(p);
            }
            mvn_diag_add_log_density(x, mean, var, col);
        }
        return;
    };
    // Each component's scales and constant, as `mvn_diag_add_log_density` computes them:
    // once per set of parameters, kept in the workspace from one block to the next.
    let (k, len) = (vars.len() / d, vars.len());
    // The kernel's tag (the memo is the workspace's, for any kernel) and the shapes.
    const TAG: f64 = 2.0;
    let shape = [TAG, k as f64, d as f64];
    let (same, memo, [], _) = ws.memo_single(&[&shape, means, vars], 2 * len + k, [], 0, 0);
    let (scale, rest) = memo.split_at_mut(len);
    let (scaled_mean, constants) = rest.split_at_mut(len);
    if !same {
        for (((s, sm), &mu), &v) in scale.iter_mut().zip(&mut *scaled_mean).zip(means).zip(vars) {
            (*s, *sm) = scale_of(mu, v);
        }
        for (c, var) in constants.iter_mut().zip(vars.chunks_exact(d)) {
            *c = diag_log_constant(var);
        }
    }
    let mut outs: SlicesMut<'_> = out
        .columns_mut()
        .into_iter()
        .map(|c| c.into_slice().expect("a contiguous column"))
        .collect();
    let priors: SmallVec<[Option<f64>; 16]> = (0..k).map(prior).collect();
    lanes::dispatch(DiagLogJoint {
        rows: m,
        columns: &columns,
        scaled_mean,
        scale,
        constants,
        priors: &priors,
        outs: &mut outs,
    });
}

/// [`DiagLogDensity`] of every component over a block's rows, each piece of [`PIECE_ROWS`]
/// rows through every component before the next piece: one kernel call for the block (a call
/// per piece and component cost about 2 % of the diagonal mixture's iteration).
struct DiagLogJoint<'a, 'o> {
    /// The block's rows.
    rows: usize,
    /// The block's columns.
    columns: &'a [&'a [f64]],
    /// `K × D`, as [`DiagLogDensity`] takes them for one component.
    scaled_mean: &'a [f64],
    scale: &'a [f64],
    /// Each component's constant.
    constants: &'a [f64],
    /// Each component's prior, if `out` is to be set.
    priors: &'a [Option<f64>],
    /// Each component's column of the block's log-joint.
    outs: &'a mut [&'o mut [f64]],
}

impl Kernel for DiagLogJoint<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let (m, d) = (self.rows, self.columns.len());
        let mut piece: Slices<'_> = SmallVec::with_capacity(d);
        for start in (0..m).step_by(PIECE_ROWS) {
            let end = (start + PIECE_ROWS).min(m);
            piece.clear();
            piece.extend(self.columns.iter().map(|c| &c[start..end]));
            for ((((scaled_mean, scale), &constant), &prior), out) in self
                .scaled_mean
                .chunks_exact(d)
                .zip(self.scale.chunks_exact(d))
                .zip(self.constants)
                .zip(self.priors)
                .zip(self.outs.iter_mut())
            {
                DiagLogDensity {
                    columns: &piece,
                    scaled_mean,
                    scale,
                    constant,
                    prior,
                    out: &mut out[start..end],
                }
                .run::<V>();
            }
        }
    }
}

/// A coordinate's `(s, μ s)` with `s = 1/√(2 var)`: the coordinate's term of the log-density,
/// `½ (x − μ)² / var`, is then the square of one fused operation, `x s − μ s`, summed over
/// the coordinates by one more each, with no halving of the sum. (Its absolute error is that
/// of the rounded `μ s`, about `|μ|/σ · 0.8e-16`, where `x − μ` near the mean had none.)
#[inline]
fn scale_of(mean: f64, var: f64) -> (f64, f64) {
    let s = 1.0 / (2.0 * var).sqrt();
    (s, mean * s)
}

/// [`scale_of`] of every coordinate: the scales and the scaled means, in the layout of
/// `means` and `vars` (one row per component).
fn scales(means: &[f64], vars: &[f64]) -> (Vec<f64>, Vec<f64>) {
    means
        .iter()
        .zip(vars)
        .map(|(&mu, &v)| scale_of(mu, v))
        .unzip()
}

/// `−½ (D ln 2π + Σ_j ln var_j)`, the log-density's constant of a diagonal Gaussian.
fn diag_log_constant<'a>(var: impl IntoIterator<Item = &'a f64>) -> f64 {
    let (mut d, mut log_det) = (0usize, 0.0);
    for v in var {
        d += 1;
        log_det += v.ln();
    }
    -0.5 * (d as f64 * LN_2PI + log_det)
}

/// Adds `ln N(x_b | mean, diag(var))` to `out[b]`.
pub fn mvn_diag_add_log_density(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let d = x.ncols();
    let constant = diag_log_constant(var);
    let columns = column_slices(&x);
    if let (Some(columns), Some(mean)) = (columns, mean.as_slice()) {
        // Column-major data (both back-ends keep it so): register tiles, straight into a
        // contiguous column of the log-joint (into zeros first, otherwise).
        let (mut few, mut few_scaled) = ([0.0; INV_ON_STACK], [0.0; INV_ON_STACK]);
        let many;
        let (scale, scaled_mean): (&[f64], &[f64]) = if d <= INV_ON_STACK {
            for (((s, sm), &mu), &v) in few.iter_mut().zip(&mut few_scaled).zip(mean).zip(var) {
                (*s, *sm) = scale_of(mu, v);
            }
            (&few[..d], &few_scaled[..d])
        } else {
            many = scales(mean, &var.to_vec());
            (&many.0, &many.1)
        };
        let kernel = |out: &mut [f64]| {
            lanes::dispatch(DiagLogDensity {
                columns: &columns,
                scaled_mean,
                scale,
                constant,
                prior: None,
                out,
            })
        };
        match out.as_slice_mut() {
            Some(out) => kernel(out),
            None => {
                let mut terms = vec![0.0; x.nrows()];
                kernel(&mut terms);
                for (o, t) in out.iter_mut().zip(terms) {
                    *o += t;
                }
            }
        }
        return;
    }
    let mut maha = vec![0.0; x.nrows()];
    for ((col, &mu), &v) in x.columns().into_iter().zip(mean.iter()).zip(var.iter()) {
        let (scale, scaled_mean) = scale_of(mu, v);
        for (acc, &xv) in maha.iter_mut().zip(col.iter()) {
            let e = fused(xv, scale, -scaled_mean);
            *acc = fused(e, e, *acc);
        }
    }
    for (o, q) in out.iter_mut().zip(maha) {
        *o += constant - q;
    }
}

/// Adds `ln N(x_b | mean, var · I)` to `out[b]`.
pub fn mvn_spherical_add_log_density(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    var: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let d = x.ncols() as f64;
    let constant = -0.5 * d * (LN_2PI + var.ln());
    let half_precision = 0.5 / var;
    let mut ss = vec![0.0; x.nrows()];
    for (col, &mu) in x.columns().into_iter().zip(mean.iter()) {
        // A contiguous column (both back-ends keep the data column-major) as a slice, so the
        // per-row sums run across the rows in vector registers (k-means' hot loop).
        match col.to_slice() {
            Some(col) => add_squared_deviations(&mut ss, col.iter(), mu),
            None => add_squared_deviations(&mut ss, col.iter(), mu),
        }
    }
    for (o, q) in out.iter_mut().zip(ss) {
        *o += constant - half_precision * q;
    }
}

/// Adds an approximation of `ln N(x_b | means_k, var_k · I)` to `out[b, k]` for every
/// component at once (`var` holds one variance per component, or one shared by all), and to
/// `bound[b]` a bound on how far any of row `b`'s new values may lie from those of
/// [`mvn_spherical_add_log_density`].
///
/// The squared distances are `‖x̃‖² − 2 x̃ᵀμ̃_k + ‖μ̃_k‖²`, with `x̃` and `μ̃` centred at the
/// mean of the means (which keeps the cancellation small) and all `x̃ᵀμ̃_k` from one matrix
/// product per block: a third of the exact differences' work, and no per-component pass
/// over the data. The hard E-step takes its argmax from these values and recomputes exactly
/// the rows whose two best values lie within the bound, so its assignments are those of the
/// exact densities.
///
/// Column-major data and a column-major `out` (the hard E-step's layout) take one fused pass
/// over register tiles (`tiles`); any other layout takes the matrix product.
pub fn mvn_spherical_add_log_densities(
    x: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    var: ArrayView1<'_, f64>,
    mut out: ArrayViewMut2<'_, f64>,
    mut bound: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    let k = means.nrows();
    debug_assert!(
        var.len() == k || var.len() == 1,
        "one variance, or one per component"
    );
    let columns = column_slices(&x);
    if let (Some(columns), true) = (columns, d > 0 && out.stride_of(Axis(0)) == 1) {
        let (comps, [xn, tile]) = spherical_components(means, var, None, ws, [m, d * tiles::ROWS]);
        let mut out_columns: SlicesMut<'_> = out
            .columns_mut()
            .into_iter()
            .map(|c| c.into_slice().expect("a contiguous column"))
            .collect();
        let tile = tile.as_chunks_mut().0;
        tiles::add_spherical_scores(&columns, &comps, &mut out_columns, xn, tile);
        add_score_bounds(d, comps.norms, comps.half_precision, xn, bound.view_mut());
        return;
    }
    let [centre, xc, mc, g, xn, per_k] = ws.slices([d, m * d, k * d, m * k, m, 4 * k]);
    for (j, c) in centre.iter_mut().enumerate() {
        *c = means.column(j).sum() / k as f64;
    }
    // `xc` is the block's centred rows, column-major (`xc[j * m + b]`), and `xn` their norms,
    // in one pass over the data.
    xn.fill(0.0);
    for ((out, col), &c) in xc.chunks_exact_mut(m).zip(x.columns()).zip(centre.iter()) {
        let mut centre_into = |(o, (acc, &v)): (&mut f64, (&mut f64, &f64))| {
            let e = v - c;
            *o = e;
            *acc += e * e;
        };
        match col.to_slice() {
            Some(col) => out
                .iter_mut()
                .zip(xn.iter_mut().zip(col))
                .for_each(&mut centre_into),
            None => out
                .iter_mut()
                .zip(xn.iter_mut().zip(col.iter()))
                .for_each(&mut centre_into),
        }
    }
    // Per component: ‖μ̃_k‖², the density's constant and half the precision.
    let (mn, rest) = per_k.split_at_mut(k);
    let (constant, half_precision) = rest.split_at_mut(k);
    for (c, (row, mean)) in mc.chunks_exact_mut(d).zip(means.rows()).enumerate() {
        for ((o, &v), &centre) in row.iter_mut().zip(mean.iter()).zip(centre.iter()) {
            *o = v - centre;
        }
        mn[c] = row.iter().map(|v| v * v).sum();
        let v = var[if var.len() == 1 { 0 } else { c }];
        constant[c] = -0.5 * d as f64 * (LN_2PI + v.ln());
        half_precision[c] = 0.5 / v;
    }
    // g = x̃ μ̃ᵀ, `m × k` column-major.
    faer::linalg::matmul::matmul(
        MatMut::from_column_major_slice_mut(g, m, k),
        Accum::Replace,
        MatRef::from_column_major_slice(xc, m, d),
        MatRef::from_row_major_slice(mc, k, d).transpose(),
        1.0,
        Par::Seq,
    );
    // Either computation of a squared distance is within `γ (‖x̃‖ + ‖μ̃_k‖)²` of the exact
    // value (the centring, both expansions' sums of `d` products and the three-term
    // combination), and `(‖x̃‖ + ‖μ̃_k‖)² ≤ 2 (‖x̃‖² + ‖μ̃_k‖²)`. Adding the result to the
    // log-joint rounds the same way in both (the caller allows for that).
    add_score_bounds(d, mn, half_precision, xn, bound.view_mut());
    // Component by component: a column of `g`, and of the log-joint when the caller keeps
    // it column-major (the hard E-step does).
    for ((((mut o, g), &mn), &c), &h) in out
        .columns_mut()
        .into_iter()
        .zip(g.chunks_exact(m))
        .zip(mn.iter())
        .zip(constant.iter())
        .zip(half_precision.iter())
    {
        let add = |(o, (&g, &xv)): (&mut f64, (&f64, &f64))| {
            let sq = (xv - 2.0 * g + mn).max(0.0);
            *o += c - h * sq;
        };
        match o.as_slice_mut() {
            Some(o) => o.iter_mut().zip(g.iter().zip(xn.iter())).for_each(add),
            None => o.iter_mut().zip(g.iter().zip(xn.iter())).for_each(add),
        }
    }
}

/// The per-component constants of the spherical scores (see [`tiles::Components`]), with
/// the latent's log prior `log_prior` (one value per component, or one for all) when the
/// scores carry it, and `N` scratch slices. The constants are kept in the workspace from one
/// block of rows to the next, and computed again only when the parameters change.
fn spherical_components<'w, const N: usize>(
    means: ArrayView2<'_, f64>,
    var: ArrayView1<'_, f64>,
    log_prior: Option<ArrayView1<'_, f64>>,
    ws: &'w mut Workspace,
    lens: [usize; N],
) -> (tiles::Components<'w>, [&'w mut [f64]; N]) {
    let (comps, _, scratch, _) = spherical_components_single(means, var, log_prior, ws, lens, 0, 0);
    (comps, scratch)
}

/// [`spherical_components`] with `single` values of `f32` kept with the constants (to be
/// filled from them when the returned flag is `false`) and `single_scratch` of `f32` scratch.
#[allow(clippy::type_complexity)]
fn spherical_components_single<'w, const N: usize>(
    means: ArrayView2<'_, f64>,
    var: ArrayView1<'_, f64>,
    log_prior: Option<ArrayView1<'_, f64>>,
    ws: &'w mut Workspace,
    lens: [usize; N],
    single: usize,
    single_scratch: usize,
) -> (
    tiles::Components<'w>,
    bool,
    [&'w mut [f64]; N],
    (&'w mut [f32], &'w mut [f32]),
) {
    let (k, d) = means.dim();
    // The kernel's tag (the memo is the workspace's, for any kernel), the shapes, the values.
    const TAG: f64 = 1.0;
    // (The count of single values too: a memo filled without them is not theirs.)
    let shape = [TAG, k as f64, d as f64, var.len() as f64, single as f64];
    let means = means.as_standard_layout();
    let var = var.as_standard_layout();
    let log_prior = log_prior.as_ref().map(|l| l.as_standard_layout());
    let empty = [];
    let key = [
        &shape[..],
        means.as_slice().expect("standard layout"),
        var.as_slice().expect("standard layout"),
        log_prior
            .as_ref()
            .map_or(&empty[..], |l| l.as_slice().expect("standard layout")),
    ];
    let (same, memo, scratch, singles) =
        ws.memo_single(&key, d + k * d + 4 * k, lens, single, single_scratch);
    let (centre, rest) = memo.split_at_mut(d);
    let (mct, per_k) = rest.split_at_mut(k * d);
    if !same {
        let log_prior = log_prior.as_ref().map(|l| l.view());
        fill_spherical_components(means.view(), var.view(), log_prior, centre, mct, per_k);
    }
    let (mn, rest) = per_k.split_at(k);
    let (constant, rest) = rest.split_at(k);
    let (half_precision, prior) = rest.split_at(k);
    let comps = tiles::Components {
        centre,
        mct,
        norms: mn,
        constant,
        half_precision,
        log_prior: prior,
    };
    (comps, same, scratch, singles)
}

/// Fills the per-component constants of [`spherical_components`]: `centre` (`D`), `mct`
/// (`K × D`) and `per_k` (`4 K`: norms, constants, half precisions, log priors).
fn fill_spherical_components(
    means: ArrayView2<'_, f64>,
    var: ArrayView1<'_, f64>,
    log_prior: Option<ArrayView1<'_, f64>>,
    centre: &mut [f64],
    mct: &mut [f64],
    per_k: &mut [f64],
) {
    let (k, d) = means.dim();
    centre.fill(0.0);
    for mean in means.rows() {
        for (c, &v) in centre.iter_mut().zip(mean.iter()) {
            *c += v;
        }
    }
    for c in centre.iter_mut() {
        *c /= k as f64;
    }
    let (mn, rest) = per_k.split_at_mut(k);
    let (constant, rest) = rest.split_at_mut(k);
    let (half_precision, prior) = rest.split_at_mut(k);
    for (c, (mean, mn)) in means.rows().into_iter().zip(mn.iter_mut()).enumerate() {
        *mn = 0.0;
        for (j, (&v, &centre)) in mean.iter().zip(centre.iter()).enumerate() {
            let o = v - centre;
            mct[j * k + c] = o;
            *mn += o * o;
        }
    }
    for (c, ((constant, h), p)) in constant
        .iter_mut()
        .zip(half_precision.iter_mut())
        .zip(prior.iter_mut())
        .enumerate()
    {
        let v = var[if var.len() == 1 { 0 } else { c }];
        *constant = -0.5 * d as f64 * (LN_2PI + v.ln());
        *h = 0.5 / v;
        *p = log_prior.map_or(0.0, |l| l[if l.len() == 1 { 0 } else { c }]);
    }
}

/// The hard E-step's pass over a block whose model has this spherical block alone and the
/// same latent prior for every row (k-means, spherical mixtures): each row's most probable
/// component, its log-joint there, and its statistics, in one pass over the data.
///
/// `log_prior` holds one value per component, or one for all. Each row's component comes from
/// scores that may differ from the exact ones by a known bound: in single precision, sixteen
/// rows per tile, where the CPU has AVX-512 or AVX2; in double precision otherwise (see
/// [`mvn_spherical_add_log_densities`]). A row whose two best scores lie within twice that
/// bound of each other is *deferred*: its offset in the block is pushed to
/// `assigned.deferred`, and neither its value nor its statistics are written, for the caller
/// to assign it exactly. Every other row's component is the exact argmax (the lowest index on
/// a tie); its log-joint `log_prior_z + constant_z − h_z ‖x − μ_z‖²`, within the bound, goes to
/// `assigned.best`, and `x − μ_z` and its elementwise square, in double precision, are added
/// to row `z` of `sum` and `sq` (the hard E-step's objective is evaluated from these).
///
/// Returns `false`, having written nothing, unless the block is column-major (as bound data
/// is), has at least one column, and the statistics are in standard layout.
#[allow(clippy::too_many_arguments)]
pub fn mvn_spherical_hard_step(
    x: ArrayView2<'_, f64>,
    means: ArrayView2<'_, f64>,
    var: ArrayView1<'_, f64>,
    log_prior: ArrayView1<'_, f64>,
    assigned: &mut Assigned<'_>,
    mut sum: ArrayViewMut2<'_, f64>,
    mut sq: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) -> bool {
    let (m, d) = x.dim();
    let k = means.nrows();
    assert!(assigned.at.len() == m && assigned.best.len() == m);
    let columns = column_slices(&x);
    let (Some(columns), true, Some(sum), Some(sq)) =
        (columns, d > 0, sum.as_slice_mut(), sq.as_slice_mut())
    else {
        return false;
    };
    assert!(sum.len() == k * d && sq.len() == k * d);
    assigned.deferred.clear();
    let means_rows = means.as_standard_layout();
    let single_len = d * k + 2 * k + 5;
    let (comps, same, [xn, tile, second, bound], (consts, tile32)) = spherical_components_single(
        means,
        var,
        Some(log_prior),
        ws,
        [m, d * tiles::ROWS, m, m],
        single_len,
        d * tiles::ROWS32,
    );
    if !same {
        fill_single(&comps, d, consts);
    }
    let means_rows = means_rows.as_slice().expect("standard layout");
    let (w, rest) = consts.split_at(d * k);
    let (a, rest) = rest.split_at(k);
    let (h, rest) = rest.split_at(k);
    let &[base, slope, limit, usable, shared] = rest else {
        unreachable!("five constants")
    };
    let mut done = 0;
    if usable != 0.0 {
        let single = tiles::Single {
            w,
            a,
            h,
            shared: shared != 0.0,
            base,
            slope,
            limit,
        };
        let tile32 = tile32.as_chunks_mut().0;
        done = tiles::hard_step_tiles(
            &columns,
            comps.centre,
            &single,
            means_rows,
            assigned.at,
            assigned.best,
            sum,
            sq,
            assigned.deferred,
            tile32,
        )
        .unwrap_or(0);
    }
    if done == m {
        return true;
    }
    // The rest in double precision: the top two and their bound, then the statistics of the
    // rows outside it.
    let rest = m - done;
    let columns: Vec<&[f64]> = columns.iter().map(|c| &c[done..]).collect();
    let (xn, second, bound) = (&mut xn[..rest], &mut second[..rest], &mut bound[..rest]);
    let mut top = TopTwo {
        at: &mut assigned.at[done..],
        best: &mut assigned.best[done..],
        second,
        nan: false,
    };
    top_two_within(&columns, &comps, &mut top, xn, tile, bound);
    let mut assignments = vec![SKIP; rest];
    for (i, z) in assignments.iter_mut().enumerate() {
        if top.nan || near_tie(top.best[i], top.second[i], bound[i]) {
            assigned.deferred.push((done + i) as u32);
        } else {
            *z = top.at[i] as u32;
        }
    }
    accumulate_assigned_portable(&columns, means_rows, &assignments, sum, sq, 0);
    true
}

/// Each row's nearest centre by squared Euclidean distance (the lowest index among equally
/// near ones) into `labels`, as the seeding's [`crate::init::nearest`] defines it: the labels
/// of comparing every `Σ_j (x_j − c_j)²` summed over `j` in order. The rows are ranked by the
/// hard E-step's approximate scores (the log-densities of unit-variance spherical components
/// at the centres, ordered as the distances reversed; the tiles of
/// [`tiles::spherical_top_two`]), and a row whose two best scores lie within their round-off
/// bound of each other (or is not a number) is compared exactly. Since `c − ½ q` is exact in
/// `½ q` and rounds monotonically, a strict order of the exact log-densities is the same order
/// of the distances, so the labels are those of the exact comparison.
///
/// Returns `false`, having written nothing, unless the block is column-major with at least one
/// column and there is at least one centre.
pub(crate) fn spherical_nearest(
    x: ArrayView2<'_, f64>,
    centres: ArrayView2<'_, f64>,
    labels: &mut [usize],
    ws: &mut Workspace,
) -> bool {
    let (m, d) = x.dim();
    let k = centres.nrows();
    assert!(labels.len() == m && centres.ncols() == d);
    let columns = column_slices(&x);
    let (Some(columns), true) = (columns, d > 0 && k > 0) else {
        return false;
    };
    let unit = [1.0];
    let (comps, [xn, tile, best, second, bound]) = spherical_components(
        centres,
        ArrayView1::from(&unit[..]),
        None,
        ws,
        [m, d * tiles::ROWS, m, m, m],
    );
    let mut at = vec![0u64; m];
    let mut top = TopTwo {
        at: &mut at,
        best,
        second,
        nan: false,
    };
    top_two_within(&columns, &comps, &mut top, xn, tile, bound);
    for (i, label) in labels.iter_mut().enumerate() {
        if !top.nan && !near_tie(top.best[i], top.second[i], bound[i]) {
            *label = top.at[i] as usize;
            continue;
        }
        // Every centre's distance, summed in order; the first smallest (a NaN is never
        // smaller, as in the seeding's own comparison).
        let (mut nearest, mut smallest) = (0, f64::INFINITY);
        for (c, centre) in centres.rows().into_iter().enumerate() {
            let mut q = 0.0;
            for (col, &mu) in columns.iter().zip(centre.iter()) {
                let e = col[i] - mu;
                q += e * e;
            }
            if q < smallest {
                (nearest, smallest) = (c, q);
            }
        }
        *label = nearest;
    }
    true
}

/// Each row's best two spherical scores in `f64` tiles ([`tiles::spherical_top_two`]) into
/// `top`, with its squared norm into `xn` and into `bound` how far its scores may lie from
/// the exact ones ([`add_score_bounds`]); `tile` is `D` tiles of scratch.
fn top_two_within(
    columns: &[&[f64]],
    comps: &tiles::Components<'_>,
    top: &mut TopTwo<'_>,
    xn: &mut [f64],
    tile: &mut [f64],
    bound: &mut [f64],
) {
    tiles::spherical_top_two(columns, comps, top, xn, tile.as_chunks_mut().0);
    bound.fill(0.0);
    add_score_bounds(
        columns.len(),
        comps.norms,
        comps.half_precision,
        xn,
        ArrayViewMut1::from(bound),
    );
}

/// An assignment that [`accumulate_assigned_portable`] passes over.
const SKIP: u32 = u32::MAX;

/// The single-precision constants of [`mvn_spherical_hard_step`] (see [`tiles::Single`]),
/// from the double-precision ones, into `out`: `w` (`D × K`), `a` and `h` (`K` each), then the
/// bound's `base`, `slope` and `limit`, `1` when the single-precision scores can be used
/// (every constant finite and far from the `f32` range's end), else `0`, and `1` when every
/// `h_c` is the same, else `0`.
fn fill_single(comps: &tiles::Components<'_>, d: usize, out: &mut [f32]) {
    /// The largest magnitude of a term of the single-precision scores (`f32::MAX` ≈ 3.4e38).
    const CEILING: f64 = 1e30;
    let k = comps.norms.len();
    let (w, rest) = out.split_at_mut(d * k);
    let (a, rest) = rest.split_at_mut(k);
    let (h, rest) = rest.split_at_mut(k);
    let (mut max_a, mut max_h, mut max_hm, mut max_w) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut finite = true;
    for c in 0..k {
        let hc = comps.half_precision[c];
        let ac = comps.log_prior[c] + comps.constant[c] - hc * comps.norms[c];
        (a[c], h[c]) = (ac as f32, hc as f32);
        finite &= ac.is_finite() && hc.is_finite() && hc > 0.0;
        // (The terms' magnitudes, not `|a_c|`: their rounding in `f64`, here and in the exact
        // log-joint, scales with them even where they cancel.)
        max_a = max_a.max(comps.log_prior[c].abs() + comps.constant[c].abs() + hc * comps.norms[c]);
        max_h = max_h.max(hc);
        max_hm = max_hm.max(hc * comps.norms[c]);
    }
    for (wj, mj) in w.chunks_exact_mut(k).zip(comps.mct.chunks_exact(k)) {
        for ((w, &mu), &hc) in wj.iter_mut().zip(mj).zip(comps.half_precision) {
            let v = 2.0 * hc * mu;
            *w = v as f32;
            finite &= v.is_finite();
            max_w = max_w.max(v.abs());
        }
    }
    // A score is a sum of terms of total magnitude at most `A + hμ + 2H‖x̃‖²` (`A = max |a_c|`,
    // `hμ = max h_c ‖μ̃_c‖²`, `H = max h_c`), each rounded to `f32` and added in `D + 2`
    // rounded steps (and `‖x̃‖²` itself from `D` rounded products): within `(2D + 12) u` of
    // it, `u = 2⁻²⁴`, with the gap's own rounding. Twice that, for safety.
    let gamma = (4 * d + 24) as f64 * 2f64.powi(-24);
    // (Far below `f32`'s normal range the rounding is absolute, not relative: such scores
    // take the double-precision path too.)
    const FLOOR: f64 = 1e-30;
    let usable = finite
        && [max_a, max_hm, max_w, max_h].iter().all(|&v| v < CEILING)
        && max_a + max_hm > FLOOR;
    rest[0] = (gamma * (max_a + max_hm)) as f32;
    rest[1] = (gamma * 2.0 * max_h) as f32;
    rest[2] = if usable {
        ((CEILING - max_a - max_hm) / (2.0 * max_h)).min(CEILING) as f32
    } else {
        0.0
    };
    rest[3] = if usable { 1.0 } else { 0.0 };
    let shared = h.iter().all(|&v| v.to_bits() == h[0].to_bits());
    rest[4] = if shared { 1.0 } else { 0.0 };
}

/// Adds to `bound[b]` how far row `b`'s approximate spherical scores may lie from the exact
/// ones (see [`mvn_spherical_add_log_densities`]), from the rows' centred squared norms `xn`
/// and the components' `‖μ̃_k‖²` (`mn`) and half precisions.
fn add_score_bounds(
    d: usize,
    mn: &[f64],
    half_precision: &[f64],
    xn: &[f64],
    mut bound: ArrayViewMut1<'_, f64>,
) {
    let gamma = (4 * d + 16) as f64 * f64::EPSILON;
    let max_h = half_precision.iter().fold(0.0f64, |a, &h| a.max(h));
    let max_hm = half_precision
        .iter()
        .zip(mn.iter())
        .fold(0.0f64, |a, (&h, &n)| a.max(h * n));
    for (b, &xv) in bound.iter_mut().zip(xn.iter()) {
        *b += 2.0 * gamma * (xv * max_h + max_hm);
    }
}

/// The hard E-step's form of [`accumulate_diag`], every component at once: row `b` counts
/// for component `assignments[b]` alone, adding `x_b − centres_k` to row `k` of `sum` and
/// its elementwise square to row `k` of `sq`.
///
/// The block is read 16 rows at a time: the tile is copied row by row into a
/// small scratch (a transpose of the column-major data), so that each row's update of its
/// component's sums runs over contiguous coordinates in vector registers.
pub fn accumulate_diag_assigned(
    x: ArrayView2<'_, f64>,
    centres: ArrayView2<'_, f64>,
    assignments: &[u32],
    mut sum: ArrayViewMut2<'_, f64>,
    mut sq: ArrayViewMut2<'_, f64>,
) {
    debug_assert_eq!(assignments.len(), x.nrows());
    let columns = column_slices(&x);
    let (Some(columns), Some(sum_all), Some(sq_all), Some(centre_all)) = (
        columns,
        sum.as_slice_mut(),
        sq.as_slice_mut(),
        centres.as_slice(),
    ) else {
        // Any other layout: row by row.
        for (row, &z) in x.rows().into_iter().zip(assignments) {
            let k = z as usize;
            for (j, &v) in row.iter().enumerate() {
                let e = v - centres[[k, j]];
                sum[[k, j]] += e;
                sq[[k, j]] += e * e;
            }
        }
        return;
    };
    // The widest vector unit's form, when the CPU has one, takes the whole tiles.
    let start =
        tiles::accumulate_assigned_tiles(&columns, centre_all, assignments, sum_all, sq_all)
            .unwrap_or(0);
    accumulate_assigned_portable(&columns, centre_all, assignments, sum_all, sq_all, start);
}

/// [`accumulate_diag_assigned`] from row `start` of a block with contiguous columns, into
/// row-major `K × D` sums; rows assigned [`SKIP`] are passed over.
fn accumulate_assigned_portable(
    columns: &[&[f64]],
    centre_all: &[f64],
    assignments: &[u32],
    sum_all: &mut [f64],
    sq_all: &mut [f64],
    mut start: usize,
) {
    let (m, d) = (assignments.len(), columns.len());
    let mut tile = vec![0.0; ASSIGNED_TILE * d];
    while start < m {
        let len = ASSIGNED_TILE.min(m - start);
        for (j, col) in columns.iter().enumerate() {
            for (row, &v) in tile.chunks_exact_mut(d).zip(&col[start..start + len]) {
                row[j] = v;
            }
        }
        for (row, &z) in tile.chunks_exact(d).zip(&assignments[start..start + len]) {
            if z == SKIP {
                continue;
            }
            let at = z as usize * d..(z as usize + 1) * d;
            let (s, q, c) = (
                &mut sum_all[at.clone()],
                &mut sq_all[at.clone()],
                &centre_all[at],
            );
            for (((s, q), &c), &v) in s.iter_mut().zip(q.iter_mut()).zip(c).zip(row) {
                let e = v - c;
                *s += e;
                *q = e.mul_add(e, *q);
            }
        }
        start += len;
    }
}

/// Rows per tile of [`accumulate_diag_assigned`].
const ASSIGNED_TILE: usize = 16;

/// Dimensions up to which [`mvn_diag_add_log_density`] keeps the precisions on the stack.
const INV_ON_STACK: usize = 32;

/// `out[b] += constant − ½ Σ_j (x_bj − mean_j)² inv_j` for a block of column-major rows,
/// `SOLVE_TILES` tiles of [`LANES`] rows at a time, the sums in registers.
struct DiagLogDensity<'a> {
    columns: &'a [&'a [f64]],
    /// Each coordinate's `μ s` ([`scale_of`]).
    scaled_mean: &'a [f64],
    /// Each coordinate's `s = 1/√(2 var)`.
    scale: &'a [f64],
    constant: f64,
    /// `Some(ln w)`: `out[b] = ln w + (constant − ½ Σ_j …)`, whatever `out` held, the same
    /// bits as setting `out` to `ln w` and then adding.
    prior: Option<f64>,
    out: &'a mut [f64],
}

impl Kernel for DiagLogDensity<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        // Eight tiles per group where the registers hold their sums (AVX-512), four
        // otherwise: each row's sum takes the same operations in the same order either way.
        if V::REGISTERS >= 32 {
            self.groups::<V, { 2 * SOLVE_TILES }>();
        } else {
            self.groups::<V, SOLVE_TILES>();
        }
    }
}

impl DiagLogDensity<'_> {
    /// Groups of `T` tiles.
    #[inline(always)]
    fn groups<V: Lanes, const T: usize>(self) {
        let Self {
            columns,
            scaled_mean,
            scale,
            constant,
            prior,
            out,
        } = self;
        let m = out.len();
        let constant = V::splat(constant);
        let group_rows = T * LANES;

        // Whole groups of tiles: fixed offsets, so the sums stay in registers.
        let mut start = 0;
        while start + group_rows <= m {
            let mut q = [V::splat(0.0); T];
            for ((col, &sm), &s) in columns.iter().zip(scaled_mean).zip(scale) {
                let (neg, s) = (V::splat(-sm), V::splat(s));
                let group: &[[f64; LANES]; T] = col[start..start + group_rows]
                    .as_chunks::<LANES>()
                    .0
                    .try_into()
                    .expect("a whole group");
                for (q, x) in q.iter_mut().zip(group) {
                    let e = V::load(x).mul_add(s, neg);
                    *q = e.mul_add(e, *q);
                }
            }
            let (group, _) = out[start..start + group_rows].as_chunks_mut::<LANES>();
            for (o, s) in group.iter_mut().zip(&q) {
                base::<V>(prior, o).add(constant.sub(*s)).store(o);
            }
            start += group_rows;
        }
        // The rest, tile by tile (partial tiles padded with zeros, whose values are not stored).
        while start < m {
            let mut q = [V::splat(0.0); SOLVE_TILES];
            for ((col, &sm), &s) in columns.iter().zip(scaled_mean).zip(scale) {
                let (neg, s) = (V::splat(-sm), V::splat(s));
                for (t, q) in q.iter_mut().enumerate() {
                    let at = (start + t * LANES).min(m);
                    let e = V::load(&tile_of(col, at, LANES.min(m - at), 0.0)).mul_add(s, neg);
                    *q = e.mul_add(e, *q);
                }
            }
            for (t, s) in q.iter().enumerate() {
                let at = (start + t * LANES).min(m);
                let len = LANES.min(m - at);
                let mut tile = [0.0; LANES];
                base::<V>(prior, &tile_of(out, at, len, 0.0))
                    .add(constant.sub(*s))
                    .store(&mut tile);
                out[at..at + len].copy_from_slice(&tile[..len]);
            }
            start += SOLVE_TILES * LANES;
        }
    }
}

/// What [`DiagLogDensity`] adds a tile's terms to: the prior where it sets the block, else
/// the tile's values in `out`.
#[inline(always)]
fn base<V: Lanes>(prior: Option<f64>, out: &[f64; LANES]) -> V {
    match prior {
        Some(p) => V::splat(p),
        None => V::load(out),
    }
}

/// `T` tiles into `out` from row `start` (as far as `out` goes).
#[inline(always)]
fn store_tiles<V: Lanes, const T: usize>(q: &[V; T], start: usize, out: &mut [f64]) {
    let m = out.len();
    for (t, s) in q.iter().enumerate() {
        let at = (start + t * LANES).min(m);
        let len = LANES.min(m - at);
        let mut tile = [0.0; LANES];
        s.store(&mut tile);
        out[at..at + len].copy_from_slice(&tile[..len]);
    }
}

/// `s1 += r (x − c)` and `s2 += r (x − c)²`, lane by lane.
#[inline(always)]
fn add_moments<V: Lanes>(s1: &mut V, s2: &mut V, r: V, x: V, c: V) {
    let e = x.sub(c);
    let w = r.mul(e);
    *s1 = s1.add(w);
    *s2 = w.mul_add(e, *s2);
}

/// `acc_i += (x_i − mu)²`.
fn add_squared_deviations<'a>(acc: &mut [f64], x: impl Iterator<Item = &'a f64>, mu: f64) {
    for (a, &xv) in acc.iter_mut().zip(x) {
        let e = xv - mu;
        *a += e * e;
    }
}

/// Adds `ln N(x_b | mean, var)` to `out[b]` (univariate).
pub fn normal_add_log_density(
    x: ArrayView1<'_, f64>,
    mean: f64,
    var: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let constant = -0.5 * (LN_2PI + var.ln());
    Zip::from(&mut out)
        .and(&x)
        .for_each(|o, &xv| *o += constant - 0.5 * (xv - mean) * (xv - mean) / var);
}

/// Adds `ln LogNormal(x_b | mean, var) = ln N(y_b | mean, var) − y_b` to `out[b]`, for the
/// logarithms `y_b = ln x_b` of positive values (the block holds its data as `ln x`).
pub fn lognormal_add_log_density(
    y: ArrayView1<'_, f64>,
    mean: f64,
    var: f64,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let constant = -0.5 * (LN_2PI + var.ln());
    Zip::from(&mut out)
        .and(&y)
        .for_each(|o, &yv| *o += constant - 0.5 * (yv - mean) * (yv - mean) / var - yv);
}

/// Adds `Σ_b r_b (x_b - c)` to `sum` and `Σ_b r_b (x_b - c)(x_b - c)ᵀ` to `scatter`.
pub fn accumulate_scatter(
    x: ArrayView2<'_, f64>,
    centre: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    mut scatter: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    let columns = column_slices(&x);
    if let (Some(columns), Some(c)) = (columns, centre.as_slice()) {
        // Column-major rows: register tiles, with the lower triangle's sums in lanes.
        let pairs = d * (d + 1) / 2;
        // (The E-step's responsibilities are a contiguous column of a column-major block;
        // any other layout is copied.)
        let contiguous = resp.as_slice();
        let [acc, scratch, r] = ws.slices([
            (pairs + d) * LANES,
            (scatter_scratch(d) + 1) * LANES,
            if contiguous.is_some() { 0 } else { m },
        ]);
        // The scratch on whole cache lines (a tile across two lines is two loads).
        let skip = scratch.as_ptr().align_offset(64).min(LANES);
        let scratch = &mut scratch[skip..][..scatter_scratch(d) * LANES];
        let r: &[f64] = match contiguous {
            Some(resp) => resp,
            None => {
                for (rv, &v) in r.iter_mut().zip(resp.iter()) {
                    *rv = v;
                }
                r
            }
        };
        acc.fill(0.0);
        lanes::dispatch(ScatterTiles {
            columns: &columns,
            centre: c,
            resp: r,
            acc: acc.as_chunks_mut().0,
            scratch: scratch.as_chunks_mut().0,
        });
        let (tri, sums) = acc.split_at(pairs * LANES);
        for (s, lanes) in sum.iter_mut().zip(sums.chunks_exact(LANES)) {
            *s += sum_lanes(lanes);
        }
        let mut at = 0;
        for i in 0..d {
            for j in 0..=i {
                let v = sum_lanes(&tri[at * LANES..(at + 1) * LANES]);
                scatter[[i, j]] += v;
                if i != j {
                    scatter[[j, i]] += v;
                }
                at += 1;
            }
        }
        return;
    }
    let (diff, weighted) = ws.two(m * d, m * d + m);
    let (weighted, r) = weighted.split_at_mut(m * d);
    centred_transposed(&x, &centre, diff);
    for (rv, &v) in r.iter_mut().zip(resp.iter()) {
        *rv = v;
    }
    // Row i of the `d × m` buffers holds coordinate i of every point.
    for ((w, e), s) in weighted
        .chunks_exact_mut(m)
        .zip(diff.chunks_exact(m))
        .zip(sum.iter_mut())
    {
        for ((wv, &ev), &rv) in w.iter_mut().zip(e).zip(r.iter()) {
            *wv = rv * ev;
        }
        *s += sum_lanes(w);
    }
    // scatter += E Wᵀ with E, W the `d × m` row-major buffers.
    let e = MatRef::from_row_major_slice(diff, d, m);
    let w = MatRef::from_row_major_slice(weighted, d, m);
    faer::linalg::matmul::matmul(
        as_faer_mut(&mut scatter),
        Accum::Add,
        e,
        w.transpose(),
        1.0,
        Par::Seq,
    );
}

/// The lanes of `Σ_b r_b (x_b − c)(x_b − c)ᵀ`'s lower triangle (`acc[i(i+1)/2 + j]`,
/// `j ≤ i`) and then of `Σ_b r_b (x_b − c)` (`acc[d(d+1)/2 + i]`), added to `acc`: row `b` of
/// a tile of [`LANES`] rows adds to lane `b`. The triangle goes in square blocks of
/// coordinates whose sums stay in registers over the rows, as in a matrix product: with
/// AVX-512's 32 registers, blocks of 4 × 4 over the whole block of rows, each tile centred as
/// it is loaded ([`scatter_direct`]); otherwise blocks of 2 × 2 over pieces of
/// [`SCATTER_PIECE`] rows whose columns are first centred into `scratch`, where they stay in
/// the L1 cache ([`scatter_blocks`]). Every sum takes the tiles in order whatever the pieces
/// and the block's size, so every form gives the same bits.
struct ScatterTiles<'a> {
    columns: &'a [&'a [f64]],
    centre: &'a [f64],
    resp: &'a [f64],
    acc: &'a mut [[f64; LANES]],
    /// At least [`scatter_scratch`] tiles.
    scratch: &'a mut [[f64; LANES]],
}

/// Rows per piece of [`ScatterTiles`]: a piece's centred columns take 16 KB at `D = 8`.
const SCATTER_PIECE: usize = 256;

/// Tiles per piece of [`ScatterTiles`].
const SCATTER_PIECE_TILES: usize = SCATTER_PIECE / LANES;

/// The largest block of [`ScatterTiles`].
const SCATTER_MOST_B: usize = 4;

/// Tiles of scratch [`ScatterTiles`] takes for `d` coordinates (for any block size): the
/// piece's centred columns and responsibilities, then each block's running sums.
fn scatter_scratch(d: usize) -> usize {
    // (`B × B` tiles for each of the `n (n + 1) / 2` blocks, `n = d / B` rounded up: at most
    // `p (p + 4) / 2` tiles for `B ≤ 4`, with `p` = `d` rounded up to a multiple of 4.)
    let padded_d = d.next_multiple_of(SCATTER_MOST_B);
    (padded_d + 1) * SCATTER_PIECE_TILES + padded_d * (padded_d + SCATTER_MOST_B) / 2 + padded_d
}

impl Kernel for ScatterTiles<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        if V::REGISTERS >= 32 {
            scatter_direct::<V, 4>(self);
        } else {
            scatter_blocks::<V, 2>(self);
        }
    }
}

/// [`ScatterTiles`] with AVX-512's 32 registers: blocks of `B × B` coordinates over the
/// whole block of rows, each tile centred as it is loaded (no scratch). There the stores of a
/// centred copy cost more than the subtractions they save (on one AMD EPYC thread, `D = 8`,
/// 8 components: 17 → 24 ms per million rows, `examples/full_kernels.rs`); with fewer
/// registers, where the centres and sums no longer fit beside each other, the copy is the
/// faster ([`scatter_blocks`]). The same bits either way. (No closures: they would not
/// inherit the caller's target features, and the intrinsics would not inline.)
#[inline(always)]
fn scatter_direct<V: Lanes, const B: usize>(k: ScatterTiles<'_>) {
    let ScatterTiles {
        columns,
        centre,
        resp,
        acc,
        scratch: _,
    } = k;
    let (d, m) = (columns.len(), resp.len());
    let whole = m / LANES;
    let tail = m - whole * LANES;
    // Coordinates past `d` (to fill the last block) are columns of zeros about 0.
    let padded_d = d.next_multiple_of(B);
    let zeros = if d == padded_d {
        Vec::new()
    } else {
        vec![0.0; m]
    };
    let mut cols: Slices<'_> = Slices::from_slice(columns);
    let mut centres: SmallVec<[f64; 16]> = SmallVec::from_slice(centre);
    cols.resize(padded_d, &zeros);
    centres.resize(padded_d, 0.0);
    // The last, partial tile: its rows copied, padded with rows of weight 0 at the centre.
    let mut tail_columns: SmallVec<[[f64; LANES]; 16]> = smallvec![[0.0; LANES]; padded_d];
    for ((t, col), &c) in tail_columns.iter_mut().zip(&cols).zip(&centres) {
        *t = [c; LANES];
        t[..tail].copy_from_slice(&col[whole * LANES..]);
    }
    let mut tail_resp = [0.0; LANES];
    tail_resp[..tail].copy_from_slice(&resp[whole * LANES..]);
    let pairs = d * (d + 1) / 2;
    let (tri, sums) = acc.split_at_mut(pairs);
    for bi in 0..padded_d / B {
        let (ci, mi) = block_columns::<V, B>(&cols, &centres, bi);
        for bj in 0..=bi {
            let mut a = [[V::splat(0.0); B]; B];
            let mut s = [V::splat(0.0); B];
            if bi == bj {
                // The block on the diagonal: its lower triangle, and the coordinates' sums.
                for t in 0..whole {
                    let ei = centred_tiles(&ci, &mi, t);
                    diagonal_step(&mut a, &mut s, load_tile(resp, t), &ei);
                }
                if tail > 0 {
                    let ei = centred_tiles(&tail_block::<B>(&tail_columns, bi), &mi, 0);
                    diagonal_step(&mut a, &mut s, V::load(&tail_resp), &ei);
                }
            } else {
                let (cj, mj) = block_columns::<V, B>(&cols, &centres, bj);
                for t in 0..whole {
                    let (ei, ej) = (centred_tiles(&ci, &mi, t), centred_tiles(&cj, &mj, t));
                    block_step(&mut a, load_tile(resp, t), &ei, &ej);
                }
                if tail > 0 {
                    let ei = centred_tiles(&tail_block::<B>(&tail_columns, bi), &mi, 0);
                    let ej = centred_tiles(&tail_block::<B>(&tail_columns, bj), &mj, 0);
                    block_step(&mut a, V::load(&tail_resp), &ei, &ej);
                }
            }
            add_block::<V, B>(tri, d, bi, bj, &a);
            if bi == bj {
                for (x, s) in s.iter().enumerate() {
                    if let Some(sum) = sums.get_mut(bi * B + x) {
                        V::load(sum).add(*s).store(sum);
                    }
                }
            }
        }
    }
}

/// Adds block `(bi, bj)`'s sums (`B × B` coordinates) to the lower triangle's lanes `tri`
/// (`tri[i(i+1)/2 + j]`, `j ≤ i < d`), leaving out the block's pairs above the diagonal and
/// past `d`.
#[inline(always)]
fn add_block<V: Lanes, const B: usize>(
    tri: &mut [[f64; LANES]],
    d: usize,
    bi: usize,
    bj: usize,
    a: &[[V; B]; B],
) {
    for (x, row) in a.iter().enumerate() {
        let i = bi * B + x;
        for (y, v) in row.iter().enumerate() {
            let j = bj * B + y;
            if i < d && j <= i {
                let at = &mut tri[i * (i + 1) / 2 + j];
                V::load(at).add(*v).store(at);
            }
        }
    }
}

/// The columns and splatted centres of block `b` of `B` coordinates.
#[inline(always)]
fn block_columns<'c, V: Lanes, const B: usize>(
    cols: &[&'c [f64]],
    centres: &[f64],
    b: usize,
) -> ([&'c [f64]; B], [V; B]) {
    let mut c = [&[][..]; B];
    let mut mu = [V::splat(0.0); B];
    for x in 0..B {
        c[x] = cols[b * B + x];
        mu[x] = V::splat(centres[b * B + x]);
    }
    (c, mu)
}

/// Block `b`'s padded last tiles, as columns of one tile.
#[inline(always)]
fn tail_block<const B: usize>(tail: &[[f64; LANES]], b: usize) -> [&[f64]; B] {
    let mut c = [&[][..]; B];
    for (x, c) in c.iter_mut().enumerate() {
        *c = &tail[b * B + x];
    }
    c
}

/// [`ScatterTiles`] in blocks of `B × B` coordinates over pieces of [`SCATTER_PIECE`] rows,
/// each piece centred once into the scratch, the blocks' sums kept there from one piece to
/// the next. With AVX2's 16 registers the centres and sums of the direct form did not fit
/// beside each other, and its sums went through memory at every tile: on one AMD EPYC
/// thread (`JENSEN_SIMD=avx2`, `examples/full_kernels.rs`) 43 → 27 ms per million rows at
/// `D = 8` with 8 components, 300 → 167 ms at `D = 16` with 16.
#[inline(always)]
fn scatter_blocks<V: Lanes, const B: usize>(k: ScatterTiles<'_>) {
    let ScatterTiles {
        columns,
        centre,
        resp,
        acc,
        scratch,
    } = k;
    let (d, m) = (columns.len(), resp.len());
    // Coordinates past `d` (to fill the last block) are columns of zeros.
    let padded_d = d.next_multiple_of(B);
    let nb = padded_d / B;
    let (piece, running) = scratch.split_at_mut((padded_d + 1) * SCATTER_PIECE_TILES);
    // Each block's sums over the pieces so far (`B × B` tiles, in the order of the loops
    // below), then each coordinate's `Σ r e`: from zero, as one block over all the rows
    // would take them.
    let running = &mut running[..nb * (nb + 1) / 2 * B * B + padded_d];
    running.fill([0.0; LANES]);
    piece[d * SCATTER_PIECE_TILES..padded_d * SCATTER_PIECE_TILES].fill([0.0; LANES]);
    for start in (0..m).step_by(SCATTER_PIECE) {
        let len = SCATTER_PIECE.min(m - start);
        let tiles = len.div_ceil(LANES);
        // The piece's columns less their centres, and its responsibilities; a partial last
        // tile is padded with rows at the centre (0) and of weight 0.
        let (centred, r) = piece.split_at_mut(padded_d * SCATTER_PIECE_TILES);
        for ((col, &c), out) in columns
            .iter()
            .zip(centre)
            .zip(centred.chunks_exact_mut(SCATTER_PIECE_TILES))
        {
            let cv = V::splat(c);
            let col = &col[start..start + len];
            let (whole, rest) = col.as_chunks::<LANES>();
            for (o, x) in out.iter_mut().zip(whole) {
                V::load(x).sub(cv).store(o);
            }
            if !rest.is_empty() {
                let mut tile = [c; LANES];
                tile[..rest.len()].copy_from_slice(rest);
                V::load(&tile).sub(cv).store(&mut out[whole.len()]);
            }
        }
        let r = &mut r[..tiles];
        let (whole, rest) = resp[start..start + len].as_chunks::<LANES>();
        r[..whole.len()].copy_from_slice(whole);
        if !rest.is_empty() {
            let mut tile = [0.0; LANES];
            tile[..rest.len()].copy_from_slice(rest);
            r[whole.len()] = tile;
        }
        let (centred, r) = (&*centred, &*r);
        let (blocks, sums) = running.split_at_mut(nb * (nb + 1) / 2 * B * B);
        let mut blocks = blocks.as_chunks_mut::<B>().0.chunks_exact_mut(B);
        for bi in 0..nb {
            let ei = block_tiles::<B>(centred, bi, tiles);
            for bj in 0..=bi {
                let sums_of_block = blocks.next().expect("a block's sums");
                let mut a = [[V::splat(0.0); B]; B];
                for (row, tiles) in a.iter_mut().zip(sums_of_block.iter()) {
                    for (v, t) in row.iter_mut().zip(tiles) {
                        *v = V::load(t);
                    }
                }
                if bi == bj {
                    // The block on the diagonal: its lower triangle, and the coordinates'
                    // sums.
                    let s_tiles = &mut sums[bi * B..(bi + 1) * B];
                    let mut s = [V::splat(0.0); B];
                    for (v, t) in s.iter_mut().zip(s_tiles.iter()) {
                        *v = V::load(t);
                    }
                    for (t, rt) in r.iter().enumerate() {
                        diagonal_step(&mut a, &mut s, V::load(rt), &tiles_at::<V, B>(&ei, t));
                    }
                    for (v, t) in s.iter().zip(s_tiles.iter_mut()) {
                        v.store(t);
                    }
                } else {
                    let ej = block_tiles::<B>(centred, bj, tiles);
                    for (t, rt) in r.iter().enumerate() {
                        let (ei, ej) = (tiles_at::<V, B>(&ei, t), tiles_at::<V, B>(&ej, t));
                        block_step(&mut a, V::load(rt), &ei, &ej);
                    }
                }
                for (row, tiles) in a.iter().zip(sums_of_block.iter_mut()) {
                    for (v, t) in row.iter().zip(tiles) {
                        v.store(t);
                    }
                }
            }
        }
    }
    // Into the accumulators.
    let pairs = d * (d + 1) / 2;
    let (tri, sums) = acc.split_at_mut(pairs);
    let (blocks, block_sums) = running.split_at(nb * (nb + 1) / 2 * B * B);
    let mut blocks = blocks.as_chunks::<B>().0.chunks_exact(B);
    for bi in 0..nb {
        for bj in 0..=bi {
            let block = blocks.next().expect("a block's sums");
            let a: [[V; B]; B] =
                std::array::from_fn(|x| std::array::from_fn(|y| V::load(&block[x][y])));
            add_block::<V, B>(tri, d, bi, bj, &a);
        }
    }
    for (at, v) in sums.iter_mut().zip(block_sums) {
        V::load(at).add(V::load(v)).store(at);
    }
}

/// The centred tiles of block `b`'s `B` coordinates in a piece of `tiles` tiles.
#[inline(always)]
fn block_tiles<const B: usize>(
    centred: &[[f64; LANES]],
    b: usize,
    tiles: usize,
) -> [&[[f64; LANES]]; B] {
    std::array::from_fn(|x| &centred[(b * B + x) * SCATTER_PIECE_TILES..][..tiles])
}

/// Tile `t` of each of a block's coordinates.
#[inline(always)]
fn tiles_at<V: Lanes, const B: usize>(e: &[&[[f64; LANES]]; B], t: usize) -> [V; B] {
    std::array::from_fn(|x| V::load(&e[x][t]))
}

/// Tile `t` of a contiguous column.
#[inline(always)]
fn load_tile<V: Lanes>(s: &[f64], t: usize) -> V {
    V::load(
        s[t * LANES..(t + 1) * LANES]
            .try_into()
            .expect("a whole tile"),
    )
}

/// Tile `t` of each column, less its centre.
#[inline(always)]
fn centred_tiles<V: Lanes, const B: usize>(cols: &[&[f64]; B], mu: &[V; B], t: usize) -> [V; B] {
    let mut e = [V::splat(0.0); B];
    for x in 0..B {
        e[x] = load_tile::<V>(cols[x], t).sub(mu[x]);
    }
    e
}

/// One tile into a diagonal block's lower triangle and sums.
#[inline(always)]
fn diagonal_step<V: Lanes, const B: usize>(a: &mut [[V; B]; B], s: &mut [V; B], r: V, e: &[V; B]) {
    for x in 0..B {
        let w = r.mul(e[x]);
        s[x] = s[x].add(w);
        for y in 0..=x {
            a[x][y] = w.mul_add(e[y], a[x][y]);
        }
    }
}

/// One tile into an off-diagonal block.
#[inline(always)]
fn block_step<V: Lanes, const B: usize>(a: &mut [[V; B]; B], r: V, ei: &[V; B], ej: &[V; B]) {
    for x in 0..B {
        let w = r.mul(ei[x]);
        for y in 0..B {
            a[x][y] = w.mul_add(ej[y], a[x][y]);
        }
    }
}

/// Adds `Σ_b r_b (x_b - c)` to `sum` and `Σ_b r_b (x_b - c)²` (elementwise) to `sq`.
pub fn accumulate_diag(
    x: ArrayView2<'_, f64>,
    centre: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    mut sq: ArrayViewMut1<'_, f64>,
) {
    let m = x.nrows();
    if x.stride_of(Axis(0)) == 1 || m <= 1 {
        // Column-major rows: each column is contiguous, summed in register lanes. (A row of
        // weight zero, as all but one component's under a hard E-step, adds exact zeros.)
        // (The responsibilities, centre and sums are contiguous in both back-ends; copies
        // only otherwise.)
        let columns: Vec<&[f64]> = x
            .columns()
            .into_iter()
            .map(|c| c.to_slice().expect("a contiguous column"))
            .collect();
        let (r, centre) = (resp.as_standard_layout(), centre.as_standard_layout());
        let kernel = |sum: &mut [f64], sq: &mut [f64]| {
            lanes::dispatch(DiagSums {
                columns: &columns,
                centre: centre.as_slice().expect("a standard layout"),
                resp: &[r.as_slice().expect("a standard layout")],
                sum,
                sq,
            })
        };
        match (sum.as_slice_mut(), sq.as_slice_mut()) {
            (Some(s), Some(q)) => kernel(s, q),
            _ => {
                let (mut s1, mut s2) = (vec![0.0; columns.len()], vec![0.0; columns.len()]);
                kernel(&mut s1, &mut s2);
                for (((s, q), a1), a2) in sum.iter_mut().zip(sq.iter_mut()).zip(s1).zip(s2) {
                    *s += a1;
                    *q += a2;
                }
            }
        }
        return;
    }
    for (((col, &c), s), q) in x
        .columns()
        .into_iter()
        .zip(centre.iter())
        .zip(sum.iter_mut())
        .zip(sq.iter_mut())
    {
        let (mut s1, mut s2) = (0.0, 0.0);
        for (&xv, &r) in col.iter().zip(resp.iter()) {
            let e = xv - c;
            s1 += r * e;
            s2 += r * e * e;
        }
        *s += s1;
        *q += s2;
    }
}

/// Adds `Σ_b r_bk (x_bj − c_kj)` to `sum[k, j]` and `Σ_b r_bk (x_bj − c_kj)²` to `sq[k, j]` for
/// every component `k` (`centres`, `sum` and `sq` are `K × D`, `resp` is `rows × K`): the sums
/// of [`accumulate_diag`] for each `k`, to within about 2e-12 of their terms. With two
/// components or more, in the back-ends' layout, they are taken about a centre shared by all
/// components and moved to each one's (half the operations); a component
/// too far from the others for that is summed about its own centre, as [`accumulate_diag`]
/// does.
pub fn accumulate_diag_all(
    x: ArrayView2<'_, f64>,
    centres: ArrayView2<'_, f64>,
    resp: ArrayView2<'_, f64>,
    mut sum: ArrayViewMut2<'_, f64>,
    mut sq: ArrayViewMut2<'_, f64>,
) {
    let columns = column_slices(&x);
    let resp_columns = column_slices(&resp);
    if let (Some(columns), Some(resp), Some(centre), Some(sum), Some(sq)) = (
        columns,
        resp_columns,
        centres.as_slice(),
        sum.as_slice_mut(),
        sq.as_slice_mut(),
    ) {
        let sums = DiagSums {
            columns: &columns,
            centre,
            resp: &resp,
            sum,
            sq,
        };
        if resp.len() >= 2 && !columns.is_empty() {
            lanes::dispatch(DiagSharedSums(sums));
        } else {
            lanes::dispatch(sums);
        }
        return;
    }
    // (Not the back-ends' layout: component by component.)
    for (((c, r), s), q) in centres
        .rows()
        .into_iter()
        .zip(resp.columns())
        .zip(sum.rows_mut())
        .zip(sq.rows_mut())
    {
        accumulate_diag(x, c, r, s, q);
    }
}

/// `Σ_b r_bk (x_bj − c_kj)` and `Σ_b r_bk (x_bj − c_kj)²` for each component `k` (one
/// column of `resp` each: one for [`accumulate_diag`] and for a column [`DiagSharedSums`]
/// sums again, all for [`accumulate_diag_all`] of one component) and
/// each column `j` of a block of column-major rows: in [`LANES`] lanes and [`SETS`] sets of
/// accumulators (tile `t` of the block into set `t mod SETS`), a piece of rows
/// ([`PIECE_ROWS`]) at a time for every component (the accumulators kept between pieces),
/// then summed in a fixed order.
struct DiagSums<'a> {
    columns: &'a [&'a [f64]],
    /// `K × D`, row-major.
    centre: &'a [f64],
    /// One column per component.
    resp: &'a [&'a [f64]],
    sum: &'a mut [f64],
    sq: &'a mut [f64],
}

impl Kernel for DiagSums<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let Self {
            columns,
            centre,
            resp,
            sum,
            sq,
        } = self;
        let d = columns.len();
        let Some(m) = resp.first().map(|r| r.len()) else {
            return;
        };
        if d == 0 {
            return;
        }
        // Each (component, column)'s accumulators, kept here between the pieces: `Σ r e` of
        // each set, then `Σ r e²` of each set (from the thread's pool: a block's allocation
        // costs more on two threads than the sums of its rows). Written by the first piece,
        // or by the rest below when there is none, before they are read: not zeroed (as
        // much work as a tenth of the sums).
        let mut buffer = scratch::take_written(resp.len() * d * 2 * SETS * LANES);
        let (acc, _) = buffer.as_chunks_mut::<{ 2 * SETS * LANES }>();
        // The whole runs of `SETS` tiles, a piece at a time.
        let runs = m / (SETS * LANES) * (SETS * LANES);
        for start in (0..runs).step_by(PIECE_ROWS) {
            let end = (start + PIECE_ROWS).min(runs);
            for ((r, centre), acc) in resp
                .iter()
                .zip(centre.chunks_exact(d))
                .zip(acc.chunks_exact_mut(d))
            {
                let (resp_runs, _) = r[start..end].as_chunks::<{ SETS * LANES }>();
                let fresh = start == 0;
                fn runs_of(col: &[f64], rows: std::ops::Range<usize>) -> &[[f64; SETS * LANES]] {
                    col[rows].as_chunks().0
                }
                let x_runs = |col| runs_of(col, start..end);
                // All the sets in one sweep, two columns at a time (each tile of
                // responsibilities loaded once for both), where the registers hold their
                // sums (AVX-512); two sweeps of two sets, a column at a time, otherwise. Each
                // set takes the same operations in the same order either way.
                if V::REGISTERS >= 32 {
                    let (pairs, rest) = acc.as_chunks_mut::<2>();
                    for ((cols, c), [a0, a1]) in columns
                        .chunks_exact(2)
                        .zip(centre.chunks_exact(2))
                        .zip(pairs)
                    {
                        add_sets::<V, SETS, 2>(
                            [a0.as_chunks_mut().0, a1.as_chunks_mut().0],
                            0,
                            fresh,
                            [x_runs(cols[0]), x_runs(cols[1])],
                            resp_runs,
                            [V::splat(c[0]), V::splat(c[1])],
                        );
                    }
                    if let ([col], [c], [a]) = (
                        columns.chunks_exact(2).remainder(),
                        centre.chunks_exact(2).remainder(),
                        rest,
                    ) {
                        let cv = [V::splat(*c)];
                        let a = [a.as_chunks_mut().0];
                        add_sets::<V, SETS, 1>(a, 0, fresh, [x_runs(col)], resp_runs, cv);
                    }
                } else {
                    for ((col, &c), acc) in columns.iter().zip(centre).zip(acc.iter_mut()) {
                        let cv = [V::splat(c)];
                        let x = [x_runs(col)];
                        let acc = acc.as_chunks_mut::<LANES>().0;
                        add_sets::<V, { SETS / 2 }, 1>([acc], 0, fresh, x, resp_runs, cv);
                        let acc = [acc];
                        add_sets::<V, { SETS / 2 }, 1>(acc, SETS / 2, fresh, x, resp_runs, cv);
                    }
                }
            }
        }
        // The rest (at most `SETS − 1` tiles and a part), each tile into its set; then each
        // sum in its fixed order.
        for (((r, centre), acc), (sum, sq)) in resp
            .iter()
            .zip(centre.chunks_exact(d))
            .zip(acc.chunks_exact(d))
            .zip(sum.chunks_exact_mut(d).zip(sq.chunks_exact_mut(d)))
        {
            for ((((col, &c), acc), s), q) in columns
                .iter()
                .zip(centre)
                .zip(acc)
                .zip(sum.iter_mut())
                .zip(sq.iter_mut())
            {
                let cv = V::splat(c);
                let acc = acc.as_chunks::<LANES>().0;
                let mut s1 = [V::splat(0.0); SETS];
                let mut s2 = [V::splat(0.0); SETS];
                if runs > 0 {
                    for (i, (a1, a2)) in s1.iter_mut().zip(s2.iter_mut()).enumerate() {
                        *a1 = V::load(&acc[i]);
                        *a2 = V::load(&acc[SETS + i]);
                    }
                }
                let mut start = runs;
                let mut set = 0;
                while start < m {
                    let len = LANES.min(m - start);
                    let rv = V::load(&tile_of(r, start, len, 0.0));
                    let xv = V::load(&tile_of(col, start, len, c));
                    add_moments(&mut s1[set], &mut s2[set], rv, xv, cv);
                    set += 1;
                    start += len;
                }
                let (mut a, mut b) = ([0.0; LANES], [0.0; LANES]);
                const { assert!(SETS == 4) };
                s1[0].add(s1[1]).add(s1[2].add(s1[3])).store(&mut a);
                s2[0].add(s2[1]).add(s2[2].add(s2[3])).store(&mut b);
                *s += sum_lanes(&a);
                *q += sum_lanes(&b);
            }
        }
        scratch::give(buffer);
    }
}

/// How far [`DiagSharedSums`] lets a component's sums stray from the shared centre: it takes
/// a component's sums of a column as they are when `Σ r (x − c)²`, the value it wants, is at
/// least `1 / 1024` of the terms it is computed from (`Σ r y² + δ² Σ r`, at most half of
/// which cancel). The value's relative error is then at most about `1024 · 8 ε ≈ 2e-12` and
/// the mean's offset is off by at most about `√1024 · ε` standard deviations; past the bound
/// the component's column is summed again in the exact form ([`DiagSums`]).
const SHARED_BOUND: f64 = 1024.0;

/// Rows per piece of [`DiagSharedSums`]: the piece's values (32 KB at `D = 8`) and the
/// responsibilities of the components a block takes at once (two or four columns, 8 or 16 KB)
/// stay in the L1 cache while the block reads them column by column. (Against 256 rows, whose
/// pieces fit with every component's responsibilities but take twice the blocks' starts and
/// ends: the sums 3–5 % faster with AVX2 and 2–4 % with AVX-512 in `examples/diag_kernels.rs`
/// with `BLOCKS=100`, on the Intel Xeon; the same bits, as the pieces do not change the order
/// of any sum.)
const SHARED_PIECE: usize = 512;

/// The sums of [`DiagSums`] for every component, about `centre[k]`, taken about one centre
/// shared by all of them, `c₀` (the centres' mean): `y = x − c₀` and `y²` are computed once
/// per value and block of components, where each component's own centring took a
/// subtraction and a product per value and component; each component then adds `r y` and
/// `r y²` (two multiply-adds) and `r`. The block's sums are moved to the component's centre
/// at the end (`δ = c_k − c₀`):
///
/// `Σ r (x − c_k) = Σ r y − δ Σ r` and `Σ r (x − c_k)² = Σ r y² − 2 δ Σ r y + δ² Σ r`,
///
/// checked against [`SHARED_BOUND`] (a component far from the others, measured in its own
/// spread, is summed again in the exact form). Each sum adds the block's tiles in order in
/// its lanes (blocks of components and columns run at once, so that no sum waits on its own
/// latency), then its lanes in a fixed order: the result depends neither on the pieces nor
/// on the form of the lanes. At least two components and one column.
struct DiagSharedSums<'a>(DiagSums<'a>);

impl<'a> Kernel for DiagSharedSums<'a> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let DiagSums {
            columns,
            centre,
            resp,
            sum,
            sq,
        } = self.0;
        let (d, k) = (columns.len(), resp.len());
        let m = resp[0].len();
        // The tiles of lanes of every `Σ r y` (`K × D`), of every `Σ r y²`, and of every
        // component's `Σ r`, from zero; then the last part of a tile of each column (padded
        // with the shared centre) and of each component's responsibilities (padded with 0);
        // then the shared centre.
        let sums_len = (2 * k * d + k) * LANES;
        let mut buffer = scratch::take_written(sums_len + (d + k) * LANES + d);
        let (acc, rest) = buffer.split_at_mut(sums_len);
        acc.fill(0.0);
        let (tail, common) = rest.split_at_mut((d + k) * LANES);
        common.fill(0.0);
        for c in centre.chunks_exact(d) {
            for (o, &v) in common.iter_mut().zip(c) {
                *o += v;
            }
        }
        for o in common.iter_mut() {
            *o /= k as f64;
        }
        let common: &[f64] = common;
        let whole = m / LANES * LANES;
        let (tail, _) = tail.as_chunks_mut::<LANES>();
        let (x_tail, r_tail) = tail.split_at_mut(d);
        for ((t, col), &c) in x_tail.iter_mut().zip(columns).zip(common) {
            *t = tile_of(col, whole, m - whole, c);
        }
        for (t, r) in r_tail.iter_mut().zip(resp) {
            *t = tile_of(r, whole, m - whole, 0.0);
        }
        let (x_tail, r_tail): (&[[f64; LANES]], &[[f64; LANES]]) = (x_tail, r_tail);
        let (acc, _) = acc.as_chunks_mut::<LANES>();
        let (first, rest) = acc.split_at_mut(k * d);
        let (second, counts) = rest.split_at_mut(k * d);
        let mut sums = SharedSums {
            d,
            common,
            first,
            second,
            counts,
        };
        // The whole tiles, a piece at a time; then the last part of a tile, padded, as a
        // piece of one.
        let (mut x, mut r): (Slices<'_, _>, Slices<'_, _>) =
            (SmallVec::with_capacity(d), SmallVec::with_capacity(k));
        let mut start = 0;
        while start < m {
            x.clear();
            r.clear();
            let len = if start < whole {
                let len = SHARED_PIECE.min(whole - start);
                let tiles = |col: &&'a [f64]| col[start..start + len].as_chunks::<LANES>().0;
                x.extend(columns.iter().map(tiles));
                r.extend(resp.iter().map(tiles));
                len
            } else {
                x.extend(x_tail.iter().map(std::slice::from_ref));
                r.extend(r_tail.iter().map(std::slice::from_ref));
                LANES
            };
            sums.piece::<V>(&x, &r);
            start += len;
        }
        // (The lists borrow the buffer's last tiles.)
        drop((x, r));
        // Each component's sums moved to its centre, in a fixed order; a column too far from
        // the shared centre summed again in the exact form.
        let SharedSums {
            first,
            second,
            counts,
            ..
        } = sums;
        for (kk, (r, n)) in resp.iter().zip(counts.iter()).enumerate() {
            let n = sum_lanes(n);
            for j in 0..d {
                let at = kk * d + j;
                let (a, b) = (sum_lanes(&first[at]), sum_lanes(&second[at]));
                let delta = centre[at] - common[j];
                let moved = delta * n;
                let q = b - delta * (2.0 * a - moved);
                if q * SHARED_BOUND >= b + delta * moved {
                    sum[at] += a - moved;
                    sq[at] += q;
                } else {
                    DiagSums {
                        columns: &[columns[j]],
                        centre: &centre[at..at + 1],
                        resp: &[r],
                        sum: &mut sum[at..at + 1],
                        sq: &mut sq[at..at + 1],
                    }
                    .run::<V>();
                }
            }
        }
        scratch::give(buffer);
    }
}

/// [`DiagSharedSums`]'s running sums: tiles of lanes of `Σ r y` and `Σ r y²` (`K × D`,
/// row-major) and of each component's `Σ r`.
struct SharedSums<'a> {
    d: usize,
    common: &'a [f64],
    first: &'a mut [[f64; LANES]],
    second: &'a mut [[f64; LANES]],
    counts: &'a mut [[f64; LANES]],
}

impl SharedSums<'_> {
    /// A piece of rows (`x[j]`: column `j`'s tiles, `r[k]`: component `k`'s) into the sums
    /// of every component: blocks of components by columns, as many as the registers hold
    /// the sums of.
    #[inline(always)]
    fn piece<V: Lanes>(&mut self, x: &[&[[f64; LANES]]], r: &[&[[f64; LANES]]]) {
        let k = r.len();
        let (most_k, most_c) = if V::REGISTERS >= 32 { (4, 2) } else { (2, 1) };
        let mut kk = 0;
        while kk < k {
            let kb = most_k.min(k - kk);
            let mut j = 0;
            while j < self.d {
                let cb = most_c.min(self.d - j);
                match (kb, cb) {
                    (4, 2) => self.block::<V, 4, 2>(kk, j, x, r),
                    (4, _) => self.block::<V, 4, 1>(kk, j, x, r),
                    (3, 2) => self.block::<V, 3, 2>(kk, j, x, r),
                    (3, _) => self.block::<V, 3, 1>(kk, j, x, r),
                    (2, 2) => self.block::<V, 2, 2>(kk, j, x, r),
                    (2, _) => self.block::<V, 2, 1>(kk, j, x, r),
                    (_, 2) => self.block::<V, 1, 2>(kk, j, x, r),
                    _ => self.block::<V, 1, 1>(kk, j, x, r),
                }
                j += cb;
            }
            kk += kb;
        }
    }

    /// Components `kk..kk + KB` by columns `j..j + CB` of a piece, their sums in registers
    /// over its tiles; with the first columns, the components' `Σ r` too.
    #[inline(always)]
    fn block<V: Lanes, const KB: usize, const CB: usize>(
        &mut self,
        kk: usize,
        j: usize,
        x: &[&[[f64; LANES]]],
        r: &[&[[f64; LANES]]],
    ) {
        let d = self.d;
        let tiles = r[kk].len();
        let (mut xs, mut rs) = ([&[][..]; CB], [&[][..]; KB]);
        let mut centres = [V::splat(0.0); CB];
        for c in 0..CB {
            xs[c] = &x[j + c][..tiles];
            centres[c] = V::splat(self.common[j + c]);
        }
        for a in 0..KB {
            rs[a] = &r[kk + a][..tiles];
        }
        let mut s1 = [[V::splat(0.0); CB]; KB];
        let mut s2 = [[V::splat(0.0); CB]; KB];
        let mut n = [V::splat(0.0); KB];
        for a in 0..KB {
            n[a] = V::load(&self.counts[kk + a]);
            for c in 0..CB {
                let at = (kk + a) * d + j + c;
                s1[a][c] = V::load(&self.first[at]);
                s2[a][c] = V::load(&self.second[at]);
            }
        }
        let count = j == 0;
        for t in 0..tiles {
            let mut rv = [V::splat(0.0); KB];
            for a in 0..KB {
                rv[a] = V::load(&rs[a][t]);
                if count {
                    n[a] = n[a].add(rv[a]);
                }
            }
            for c in 0..CB {
                let y = V::load(&xs[c][t]).sub(centres[c]);
                let y2 = y.mul(y);
                for a in 0..KB {
                    s1[a][c] = rv[a].mul_add(y, s1[a][c]);
                    s2[a][c] = rv[a].mul_add(y2, s2[a][c]);
                }
            }
        }
        for a in 0..KB {
            n[a].store(&mut self.counts[kk + a]);
            for c in 0..CB {
                let at = (kk + a) * d + j + c;
                s1[a][c].store(&mut self.first[at]);
                s2[a][c].store(&mut self.second[at]);
            }
        }
    }
}

/// Sets of accumulators of [`DiagSums`]: tile `t` of a block adds to set `t mod SETS`, so that
/// each sum's chain of additions waits on itself once per `SETS` tiles. (With two sets, as
/// before, the chains' latency was as long as the multiply-adds of the tiles between their
/// steps: the kernel ran at the latency's pace on AVX-512.)
const SETS: usize = 4;

/// Sets `first..first + N` of [`DiagSums`]'s accumulators of `C` columns (each `acc`: the
/// sets' `Σ r e`, then their `Σ r e²`; from zero where `fresh`, their values not read) over
/// runs of [`SETS`] tiles of the columns `x` (centres `c`) and their responsibilities `r`, in
/// registers.
#[inline(always)]
fn add_sets<V: Lanes, const N: usize, const C: usize>(
    acc: [&mut [[f64; LANES]]; C],
    first: usize,
    fresh: bool,
    x: [&[[f64; SETS * LANES]]; C],
    r: &[[f64; SETS * LANES]],
    c: [V; C],
) {
    // (Loops, not `array::from_fn`: a closure left out of line would not share the kernel's
    // target features.)
    let mut s1 = [[V::splat(0.0); N]; C];
    let mut s2 = [[V::splat(0.0); N]; C];
    if !fresh {
        for ((s1, s2), acc) in s1.iter_mut().zip(s2.iter_mut()).zip(&acc) {
            for (i, (a1, a2)) in s1.iter_mut().zip(s2.iter_mut()).enumerate() {
                *a1 = V::load(&acc[first + i]);
                *a2 = V::load(&acc[SETS + first + i]);
            }
        }
    }
    for (run, r) in r.iter().enumerate() {
        for i in 0..N {
            let rv = load_tile(r, first + i);
            for (((s1, s2), x), &c) in s1.iter_mut().zip(s2.iter_mut()).zip(&x).zip(&c) {
                let xv = load_tile(&x[run], first + i);
                add_moments(&mut s1[i], &mut s2[i], rv, xv, c);
            }
        }
    }
    for ((s1, s2), acc) in s1.iter().zip(&s2).zip(acc) {
        for (i, (a1, a2)) in s1.iter().zip(s2).enumerate() {
            a1.store(&mut acc[first + i]);
            a2.store(&mut acc[SETS + first + i]);
        }
    }
}

/// Univariate form of [`accumulate_diag`].
pub fn accumulate_scalar(
    x: ArrayView1<'_, f64>,
    centre: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    sq: &mut f64,
) {
    for (&xv, &r) in x.iter().zip(resp.iter()) {
        let e = xv - centre;
        *sum += r * e;
        *sq += r * e * e;
    }
}

/// The M-step mean `c + Σ r (x - c) / Σ r`; the centre itself when the component is empty.
pub fn mean_from_stats(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    n: f64,
) -> Array1<f64> {
    if n > 0.0 {
        &centre + &(&sum / n)
    } else {
        centre.to_owned()
    }
}

/// Scalar form of [`mean_from_stats`].
pub fn scalar_mean_from_stats(centre: f64, sum: f64, n: f64) -> f64 {
    if n > 0.0 {
        centre + sum / n
    } else {
        centre
    }
}

/// Scatter about the weighted mean: `S - s sᵀ / n`, for statistics kept about any centre.
pub fn scatter_about_mean(
    scatter: ArrayView2<'_, f64>,
    sum: ArrayView1<'_, f64>,
    n: f64,
) -> Array2<f64> {
    let d = sum.len();
    let mut out = scatter.to_owned();
    if n > 0.0 {
        for i in 0..d {
            for j in 0..d {
                out[[i, j]] -= sum[i] * sum[j] / n;
            }
        }
    }
    symmetrise(out)
}

/// Diagonal form of [`scatter_about_mean`].
pub fn diag_scatter_about_mean(
    sq: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    n: f64,
) -> Array1<f64> {
    if n > 0.0 {
        Zip::from(&sq)
            .and(&sum)
            .map_collect(|&q, &s| (q - s * s / n).max(0.0))
    } else {
        sq.to_owned()
    }
}

/// Scalar form of [`scatter_about_mean`].
pub fn scalar_scatter_about_mean(sq: f64, sum: f64, n: f64) -> f64 {
    if n > 0.0 {
        (sq - sum * sum / n).max(0.0)
    } else {
        sq
    }
}

/// The covariance M-step under the regularising prior: `(A + ε·diag(s)) / c` from a pooled
/// scatter `A` over `c` weighted points, where `s` is the scale of each data column
/// ([`crate::kernels::moments::column_scales`]) and `ε` is `reg_covar`. This maximises the
/// expected complete-data log-likelihood plus [`covariance_log_prior`], so EM on the
/// penalised objective stays monotone, and it is equivariant under rescaling a column.
pub fn covariance_from_scatter(
    scatter: ArrayView2<'_, f64>,
    count: f64,
    reg: f64,
    scale: ArrayView1<'_, f64>,
) -> Array2<f64> {
    let mut cov = scatter.to_owned();
    for (d, &s) in cov.diag_mut().iter_mut().zip(scale.iter()) {
        *d += reg * s;
    }
    cov /= count.max(f64::MIN_POSITIVE);
    symmetrise(cov)
}

/// Diagonal variances `(a + ε·s) / c`; see [`covariance_from_scatter`].
pub fn variances_from_scatter(
    sq: ArrayView1<'_, f64>,
    count: f64,
    reg: f64,
    scale: ArrayView1<'_, f64>,
) -> Array1<f64> {
    let count = count.max(f64::MIN_POSITIVE);
    Zip::from(sq)
        .and(scale)
        .map_collect(|&a, &s| (a + reg * s) / count)
}

/// The mode of a covariance's posterior under an inverse-Wishart prior `IW(ν, c I)`:
/// `(S + c I) / (n + ν + D + 1)`, `S` the scatter about the new mean over `n` rows. (An empty
/// component with an improper prior, `n + ν + D + 1 ≤ 0`, has no mode: it gets `S + c I`
/// over the smallest positive count, and is re-seeded.)
pub fn covariance_mode_from_scatter<'a>(
    scatter: ArrayView2<'_, f64>,
    count: f64,
    dof: f64,
    scale: impl Into<ScaleMatrix<'a>>,
) -> Array2<f64> {
    let d = scatter.nrows() as f64;
    let mut cov = scatter.to_owned();
    scale.into().add_to(&mut cov);
    cov /= (count + dof + d + 1.0).max(f64::MIN_POSITIVE);
    symmetrise(cov)
}

/// The mode of each variance's posterior under an inverse-Gamma prior `IG(a, b)`:
/// `(S_d + 2b) / (n + 2a + 2)`.
pub fn variances_mode_from_scatter<'a>(
    sq: ArrayView1<'_, f64>,
    count: f64,
    shape: f64,
    scale: impl Into<PerCoordinate<'a>>,
) -> Array1<f64> {
    let count = (count + 2.0 * shape + 2.0).max(f64::MIN_POSITIVE);
    let scale = scale.into();
    Array1::from_shape_fn(sq.len(), |d| (sq[d] + 2.0 * scale.at(d)) / count)
}

/// [`variances_mode_from_scatter`] of one variance (spherical covariance or univariate
/// Normal), `count` the number of values its sum of squares adds up.
pub fn variance_mode_from_scatter(sq: f64, count: f64, shape: f64, scale: f64) -> f64 {
    (sq + 2.0 * scale) / (count + 2.0 * shape + 2.0).max(f64::MIN_POSITIVE)
}

/// `ln IG(σ² | a, b) = a ln b − ln Γ(a) − (a + 1) ln σ² − b / σ²`; for `a ≤ 0`, an improper
/// prior, its kernel `−(a + 1) ln σ² − b / σ²` (no normalising constant exists).
pub fn inv_gamma_log_density(var: f64, shape: f64, scale: f64) -> f64 {
    let kernel = -(shape + 1.0) * var.ln() - scale / var;
    if shape > 0.0 {
        shape * scale.ln() - statrs::function::gamma::ln_gamma(shape) + kernel
    } else {
        kernel
    }
}

/// [`inv_gamma_log_density`] summed over a vector of variances.
pub fn inv_gamma_log_densities<'a>(
    var: ArrayView1<'_, f64>,
    shape: f64,
    scale: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let scale = scale.into();
    var.iter()
        .enumerate()
        .map(|(d, &v)| inv_gamma_log_density(v, shape, scale.at(d)))
        .sum()
}

/// `ln IW(Σ | ν, Ψ0) = (ν/2) ln|Ψ0| − (νD/2) ln 2 − ln Γ_D(ν/2) − ((ν + D + 1)/2) ln|Σ|
/// − ½ tr(Ψ0 Σ⁻¹)` (`Ψ0 = c I`: `(νD/2) ln c`, `½ c tr Σ⁻¹`); for `ν ≤ D − 1`, an improper
/// prior, its kernel (the last two terms). `−∞` when `Σ` is not positive definite.
pub fn inv_wishart_log_density<'a>(
    cov: ArrayView2<'_, f64>,
    dof: f64,
    scale: impl Into<ScaleMatrix<'a>>,
) -> f64 {
    let Some(chol) = Cholesky::new(cov) else {
        return f64::NEG_INFINITY;
    };
    let scale = scale.into();
    let d = cov.nrows() as f64;
    let kernel = -0.5 * (dof + d + 1.0) * chol.log_det() - 0.5 * scale.trace_solve(&chol);
    if dof > d - 1.0 {
        let ln_gamma_d = 0.25 * d * (d - 1.0) * std::f64::consts::PI.ln()
            + (0..cov.nrows())
                .map(|j| statrs::function::gamma::ln_gamma(0.5 * (dof - j as f64)))
                .sum::<f64>();
        0.5 * dof * (scale.log_det(cov.nrows()) - d * std::f64::consts::LN_2) - ln_gamma_d + kernel
    } else {
        kernel
    }
}

/// The mode of a mean's posterior under the prior `μ ~ N(m0, Σ / κ)`: `κ` pseudo-rows at
/// `m0`, `c + (Σ r (x − c) + κ (m0 − c)) / (n + κ)` with the statistics centred at `c`.
pub fn mean_mode_from_stats<'a>(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    n: f64,
    kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array1<f64> {
    let count = n + kappa;
    let m0 = prior_mean.into();
    Array1::from_shape_fn(centre.len(), |d| {
        let c = centre[d];
        c + (sum[d] + kappa * (m0.at(d) - c)) / count
    })
}

/// The univariate form of [`mean_mode_from_stats`].
pub fn scalar_mean_mode_from_stats(
    centre: f64,
    sum: f64,
    n: f64,
    kappa: f64,
    prior_mean: f64,
) -> f64 {
    centre + (sum + kappa * (prior_mean - centre)) / (n + kappa)
}

/// `S + κ Σ (μ − m0)(μ − m0)ᵀ`: a scatter with the deviation of each mean `μ` from its prior
/// mean `m0` over `κ` pseudo-rows (a normal-inverse-Wishart prior's share of the scale; one
/// mean, or every component's when they share the covariance).
pub fn with_mean_prior<'a>(
    scatter: ArrayView2<'_, f64>,
    means: impl Into<Means<'a>>,
    kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array2<f64> {
    let m0 = prior_mean.into();
    let mut with = scatter.to_owned();
    for mean in means.into().rows() {
        let d = Array1::from_shape_fn(mean.len(), |i| mean[i] - m0.at(i));
        for ((i, j), v) in with.indexed_iter_mut() {
            *v += kappa * d[i] * d[j];
        }
    }
    with
}

/// The covariance's half of the mode of a normal-inverse-Wishart prior,
/// `μ ~ N(m0, Σ / κ)`, `Σ ~ IW(ν, Ψ0)`: `(S + Ψ0 + κ (μ − m0)(μ − m0)ᵀ) / (n + ν + D + 2)`,
/// `μ` the new mean; for a covariance the `K` components share,
/// `(S + Ψ0 + κ Σ_k (μ_k − m0)(μ_k − m0)ᵀ) / (n + ν + D + 1 + K)`.
pub fn covariance_mode_with_mean_prior<'a>(
    scatter: ArrayView2<'_, f64>,
    count: f64,
    dof: f64,
    scale: impl Into<ScaleMatrix<'a>>,
    means: impl Into<Means<'a>>,
    kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array2<f64> {
    let means = means.into();
    let with = with_mean_prior(scatter, means, kappa, prior_mean);
    covariance_mode_from_scatter(with.view(), count + means.count() as f64, dof, scale)
}

/// The variances' half of the mode of a normal-inverse-Gamma prior per coordinate,
/// `μ_d ~ N(m0, v_d / κ)`, `v_d ~ IG(a, b)`: `(S_d + 2b + κ (μ_d − m0)²) / (n + 2a + 3)`; for
/// variances the `K` components share, `κ Σ_k (μ_kd − m0)²` and `K` more rows.
pub fn variances_mode_with_mean_prior<'a>(
    sq: ArrayView1<'_, f64>,
    count: f64,
    shape: f64,
    scale: impl Into<PerCoordinate<'a>>,
    means: impl Into<Means<'a>>,
    kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> Array1<f64> {
    let means = means.into();
    let with = with_squared_deviations(sq, means, kappa, prior_mean.into());
    variances_mode_from_scatter(with.view(), count + means.count() as f64, shape, scale)
}

/// `S_d + κ Σ (μ_d − m0)²` over the means.
pub(crate) fn with_squared_deviations(
    sq: ArrayView1<'_, f64>,
    means: Means<'_>,
    kappa: f64,
    m0: PerCoordinate<'_>,
) -> Array1<f64> {
    let mut with = sq.to_owned();
    for mean in means.rows() {
        for (d, w) in with.iter_mut().enumerate() {
            let e = mean[d] - m0.at(d);
            *w += kappa * e * e;
        }
    }
    with
}

/// The univariate form of [`variances_mode_with_mean_prior`] (a `Normal`'s variance).
pub fn variance_mode_with_mean_prior<'a>(
    sq: f64,
    count: f64,
    shape: f64,
    scale: f64,
    means: impl Into<ScalarMeans<'a>>,
    kappa: f64,
    prior_mean: f64,
) -> f64 {
    let means = means.into();
    let dev = means.squared_deviation(prior_mean);
    variance_mode_from_scatter(sq + kappa * dev, count + means.count() as f64, shape, scale)
}

/// The spherical form of [`variances_mode_with_mean_prior`], `μ ~ N(m0 1, s I / κ)`,
/// `s ~ IG(a, b)`: `(S + 2b + κ ‖μ − m0‖²) / (n + 2a + 2 + D)`, `S` and `n` summed over the
/// `D` coordinates (and over the `K` components' means when they share the variance).
pub fn spherical_variance_mode_with_mean_prior<'a>(
    sq: f64,
    count: f64,
    shape: f64,
    scale: f64,
    means: impl Into<Means<'a>>,
    kappa: f64,
    prior_mean: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let (dev, values) = means.into().squared_deviation(prior_mean.into());
    variance_mode_from_scatter(sq + kappa * dev, count + values as f64, shape, scale)
}

/// `ln N(μ | m0 1, s I / κ)`: [`diag_mean_prior_log_density`] with one variance.
pub fn spherical_mean_prior_log_density<'a>(
    mean: ArrayView1<'_, f64>,
    prior_mean: impl Into<PerCoordinate<'a>>,
    kappa: f64,
    var: f64,
) -> f64 {
    let m0 = prior_mean.into();
    mean.iter()
        .enumerate()
        .map(|(d, &m)| normal_mean_prior_log_density(m, m0.at(d), kappa, var))
        .sum()
}

/// `ln N(μ | m0 1, Σ / κ)`; `−∞` when `Σ` is not positive definite.
pub fn mvn_mean_prior_log_density<'a>(
    mean: ArrayView1<'_, f64>,
    prior_mean: impl Into<PerCoordinate<'a>>,
    kappa: f64,
    cov: ArrayView2<'_, f64>,
) -> f64 {
    let Some(chol) = Cholesky::new(cov) else {
        return f64::NEG_INFINITY;
    };
    let d = mean.len();
    let m0 = prior_mean.into();
    let mut e: Vec<f64> = mean.iter().enumerate().map(|(i, m)| m - m0.at(i)).collect();
    chol.solve_lower_in_place(MatMut::from_column_major_slice_mut(&mut e, d, 1));
    let maha: f64 = e.iter().map(|v| v * v).sum();
    -0.5 * (d as f64 * (LN_2PI - kappa.ln()) + chol.log_det() + kappa * maha)
}

/// `Σ_d ln N(μ_d | m0, v_d / κ)`.
pub fn diag_mean_prior_log_density<'a>(
    mean: ArrayView1<'_, f64>,
    prior_mean: impl Into<PerCoordinate<'a>>,
    kappa: f64,
    var: ArrayView1<'_, f64>,
) -> f64 {
    let m0 = prior_mean.into();
    mean.iter()
        .zip(var.iter())
        .enumerate()
        .map(|(d, (&m, &v))| normal_mean_prior_log_density(m, m0.at(d), kappa, v))
        .sum()
}

/// `ln N(μ | m0, v / κ)`.
pub fn normal_mean_prior_log_density(mean: f64, prior_mean: f64, kappa: f64, var: f64) -> f64 {
    let d = mean - prior_mean;
    -0.5 * (LN_2PI + (var / kappa).ln() + kappa * d * d / var)
}

/// One variance `(a + ε·D·min s) / c` (a spherical covariance, a univariate Normal,
/// isotropic noise): `a` and `c` are summed over the `D` coordinates; the prior takes the
/// smallest column scale, so that one column in large units does not inflate a variance
/// the other columns share; see [`covariance_from_scatter`].
pub fn variance_from_scatter(sq: f64, count: f64, reg: f64, scale: ArrayView1<'_, f64>) -> f64 {
    (sq + reg * shared_scale(scale)) / count.max(f64::MIN_POSITIVE)
}

/// The prior scatter of one variance shared by the coordinates of `scale`: `D · min s`.
fn shared_scale(scale: ArrayView1<'_, f64>) -> f64 {
    let min = scale.iter().copied().fold(f64::INFINITY, f64::min);
    if min.is_finite() {
        scale.len() as f64 * min
    } else {
        0.0
    }
}

/// The regularising prior of a covariance, `−½ ε Σ_d s_d (Σ⁻¹)_dd = −½ tr(ε·diag(s) Σ⁻¹)`
/// (an improper inverse-Wishart-type penalty; no normaliser). `−∞` for a matrix that is not
/// positive definite.
pub fn covariance_log_prior(cov: ArrayView2<'_, f64>, reg: f64, scale: ArrayView1<'_, f64>) -> f64 {
    if reg == 0.0 {
        return 0.0;
    }
    match Cholesky::new(cov) {
        Some(chol) => -0.5 * reg * chol.inverse_diagonal().dot(&scale),
        None => f64::NEG_INFINITY,
    }
}

/// The regularising prior of diagonal variances, `−½ ε Σ_d s_d / σ²_d`.
pub fn variances_log_prior(var: ArrayView1<'_, f64>, reg: f64, scale: ArrayView1<'_, f64>) -> f64 {
    if reg == 0.0 {
        return 0.0;
    }
    -0.5 * reg
        * Zip::from(var)
            .and(scale)
            .fold(0.0, |acc, &v, &s| acc + s / v)
}

/// The regularising prior of one variance shared by the coordinates, `−½ ε D (min_d s_d) /
/// σ²`.
pub fn variance_log_prior(var: f64, reg: f64, scale: ArrayView1<'_, f64>) -> f64 {
    if reg == 0.0 {
        return 0.0;
    }
    -0.5 * reg * shared_scale(scale) / var
}

/// A variance is *at the regularisation floor* when the prior makes up more than this share
/// of it in some direction: the component's own rows are then (nearly) identical in that
/// direction and the likelihood alone would be unbounded there.
pub const FLOOR_SHARE: f64 = 0.5;

/// The largest share of a covariance, over all directions, that comes from the regularising
/// prior at a fixed point of the M-step `Σ = (S + Ψ) / c`, `Ψ = ε·diag(s)`: the largest
/// eigenvalue of `Ψ^½ (c Σ)⁻¹ Ψ^½`, in `[0, 1]` when `S` is positive semi-definite. `1`
/// for a matrix that is not positive definite.
pub fn covariance_prior_share(
    cov: ArrayView2<'_, f64>,
    count: f64,
    reg: f64,
    scale: ArrayView1<'_, f64>,
) -> f64 {
    if reg == 0.0 {
        return 0.0;
    }
    let Some(chol) = Cholesky::new(cov) else {
        return 1.0;
    };
    let d = chol.dim();
    // Y = L⁻¹ Ψ^½; the eigenvalues of Y Yᵀ are those of Ψ^½ Σ⁻¹ Ψ^½.
    let mut y = faer::Mat::<f64>::from_fn(
        d,
        d,
        |i, j| {
            if i == j {
                (reg * scale[i]).sqrt()
            } else {
                0.0
            }
        },
    );
    chol.solve_lower_in_place(y.as_mut());
    let m = &y * y.transpose();
    let largest = m
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .ok()
        .and_then(|e| e.last().copied())
        .unwrap_or(f64::INFINITY);
    (largest / count.max(f64::MIN_POSITIVE)).min(1.0)
}

/// [`covariance_prior_share`] of diagonal variances: `max_d ε s_d / (c σ²_d)`.
pub fn variances_prior_share(
    var: ArrayView1<'_, f64>,
    count: f64,
    reg: f64,
    scale: ArrayView1<'_, f64>,
) -> f64 {
    let count = count.max(f64::MIN_POSITIVE);
    Zip::from(var)
        .and(scale)
        .fold(0.0f64, |m, &v, &s| m.max(reg * s / (count * v)))
        .min(1.0)
}

/// [`covariance_prior_share`] of one variance shared by the `D` coordinates of `scale`:
/// `ε D min s / (D c σ²)`, where `c` counts the rows.
pub fn variance_prior_share(var: f64, count: f64, reg: f64, scale: ArrayView1<'_, f64>) -> f64 {
    let points = count.max(f64::MIN_POSITIVE) * scale.len().max(1) as f64;
    (reg * shared_scale(scale) / (points * var)).min(1.0)
}

pub(crate) fn symmetrise(mut a: Array2<f64>) -> Array2<f64> {
    let d = a.nrows();
    for i in 0..d {
        for j in 0..i {
            let v = 0.5 * (a[[i, j]] + a[[j, i]]);
            a[[i, j]] = v;
            a[[j, i]] = v;
        }
    }
    a
}

/// `Σ r (x - μ)(x - μ)ᵀ` from statistics about centre `c`: with `e = c - μ`,
/// `S + s eᵀ + e sᵀ + n e eᵀ`.
pub fn scatter_about(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    n: f64,
    mean: ArrayView1<'_, f64>,
) -> Array2<f64> {
    let e = &centre - &mean;
    let d = e.len();
    let mut m = scatter.to_owned();
    for i in 0..d {
        for j in 0..d {
            m[[i, j]] += sum[i] * e[j] + e[i] * sum[j] + n * e[i] * e[j];
        }
    }
    m
}

/// Diagonal of [`scatter_about`].
pub fn diag_scatter_about(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    sq: ArrayView1<'_, f64>,
    n: f64,
    mean: ArrayView1<'_, f64>,
) -> Array1<f64> {
    Zip::from(&centre)
        .and(&sum)
        .and(&sq)
        .and(&mean)
        .map_collect(|&c, &s, &q, &mu| {
            let e = c - mu;
            q + 2.0 * s * e + n * e * e
        })
}

/// Univariate form of [`scatter_about`].
pub fn scalar_scatter_about(centre: f64, sum: f64, sq: f64, n: f64, mean: f64) -> f64 {
    let e = centre - mean;
    sq + 2.0 * sum * e + n * e * e
}

/// `E_q[Σ_n z_nk ln N(x_n | μ, Σ)]` from statistics.
pub fn mvn_full_expected(
    n: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    scatter: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    chol: &Cholesky,
) -> f64 {
    let d = mean.len() as f64;
    let m = scatter_about(centre, sum, scatter, n, mean);
    -0.5 * (n * (d * LN_2PI + chol.log_det()) + chol.trace_solve(m.view()))
}

/// `E_q[Σ_n z_nk ln N(x_n | μ, diag(v))]` from statistics.
pub fn mvn_diag_expected(
    n: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    sq: ArrayView1<'_, f64>,
    mean: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
) -> f64 {
    let m = diag_scatter_about(centre, sum, sq, n, mean);
    let d = mean.len() as f64;
    let log_det: f64 = var.iter().map(|v| v.ln()).sum();
    let quad: f64 = m.iter().zip(var.iter()).map(|(a, v)| a / v).sum();
    -0.5 * (n * (d * LN_2PI + log_det) + quad)
}

/// `E_q[Σ_n z_nk ln N(x_n | μ, v I)]` from statistics.
pub fn mvn_spherical_expected(
    n: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    sq: ArrayView1<'_, f64>,
    mean: ArrayView1<'_, f64>,
    var: f64,
) -> f64 {
    let m = diag_scatter_about(centre, sum, sq, n, mean);
    let d = mean.len() as f64;
    -0.5 * (n * d * (LN_2PI + var.ln()) + m.sum() / var)
}

/// `E_q[Σ_n z_nk ln N(x_n | μ, v)]` (univariate) from statistics.
pub fn normal_expected(n: f64, centre: f64, sum: f64, sq: f64, mean: f64, var: f64) -> f64 {
    let m = scalar_scatter_about(centre, sum, sq, n, mean);
    -0.5 * (n * (LN_2PI + var.ln()) + m / var)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, Array1, ShapeBuilder};
    use statrs::distribution::{Continuous, MultivariateNormal, Normal};

    /// A reproducible stream of numbers in `[-1, 1)`.
    fn stream(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    #[test]
    fn the_prior_with_no_coordinate_is_the_log_joint() {
        let x = Array2::<f64>::zeros((3, 0).f());
        let (means, vars) = (Array2::zeros((2, 0)), Array2::zeros((2, 0)));
        let mut out = Array2::from_elem((3, 2).f(), f64::NAN);
        let log_prior = array![-0.5, -1.5];
        let mut ws = Workspace::default();
        mvn_diag_set_log_joint(
            x.view(),
            log_prior.view(),
            means.view(),
            vars.view(),
            out.view_mut(),
            &mut ws,
        );
        assert_eq!(out, array![[-0.5, -1.5], [-0.5, -1.5], [-0.5, -1.5]]);
    }

    /// The diagonal Gaussian's forms for every component at once against the per-component
    /// kernels: the log-densities bit for bit, and the sums (taken about a shared centre,
    /// [`DiagSharedSums`]) to 1e-12 of their terms; around the pieces of 256 rows (the
    /// log-densities') and 512 (the sums') and the tiles, for several dimensions and components,
    /// column-major as the back-ends pass them and row-major (the per-component fallback); a
    /// NaN cell stays where it was.
    #[test]
    fn every_component_at_once_matches_each_component() {
        let mut next = stream(11);
        for (m, d, k) in [
            (0, 2, 2),
            (1, 1, 1),
            (7, 3, 2),
            (16, 8, 8),
            (17, 2, 3),
            (255, 5, 4),
            (256, 8, 8),
            (257, 3, 2),
            (511, 4, 3),
            (512, 8, 8),
            (529, 13, 3),
            (1024, 8, 8),
        ] {
            for column_major in [true, false] {
                let mut x = Array2::from_shape_fn((m, d).set_f(column_major), |_| 3.0 * next());
                if m > 300 {
                    x[[300, d - 1]] = f64::NAN;
                }
                let means = Array2::from_shape_fn((k, d), |_| next());
                let vars = Array2::from_shape_fn((k, d), |_| 0.5 + next().abs());
                let resp = Array2::from_shape_fn((m, k).f(), |_| next().abs());
                let start = Array2::from_shape_fn((m, k).f(), |_| next());
                let (mut each, mut all) = (start.clone(), start.clone());
                for j in 0..k {
                    mvn_diag_add_log_density(
                        x.view(),
                        means.row(j),
                        vars.row(j),
                        each.column_mut(j),
                    );
                }
                let mut ws = Workspace::default();
                let densities = |means: &Array2<f64>, out: &mut Array2<f64>, ws: &mut Workspace| {
                    mvn_diag_add_log_densities(
                        x.view(),
                        means.view(),
                        vars.view(),
                        out.view_mut(),
                        ws,
                    )
                };
                densities(&means, &mut all, &mut ws);
                // The scales kept in the workspace are those of the parameters at hand: the
                // same values again after other means took the memo.
                let (mut other, mut again) = (start.clone(), start.clone());
                densities(&(&means + 1.0), &mut other, &mut ws);
                densities(&means, &mut again, &mut ws);
                assert!(all
                    .iter()
                    .zip(&again)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                assert!(m == 0 || all.iter().zip(&other).any(|(a, b)| a != b));
                let sums = Array2::from_shape_fn((k, d), |_| next());
                let (mut sum_each, mut sq_each) = (sums.clone(), sums.clone() + 1.0);
                let (mut sum_all, mut sq_all) = (sum_each.clone(), sq_each.clone());
                for j in 0..k {
                    accumulate_diag(
                        x.view(),
                        means.row(j),
                        resp.column(j),
                        sum_each.row_mut(j),
                        sq_each.row_mut(j),
                    );
                }
                accumulate_diag_all(
                    x.view(),
                    means.view(),
                    resp.view(),
                    sum_all.view_mut(),
                    sq_all.view_mut(),
                );
                let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                let case = format!("m = {m}, d = {d}, k = {k}, column-major: {column_major}");
                assert_eq!(bits(&each), bits(&all), "log-densities, {case}");
                // With the latent's prior (one value each, or one for all), whatever the
                // block held: the prior set by its own call, then each component added.
                let weights = Array1::from_shape_fn(k, |_| next() - 1.0);
                for log_prior in [weights, Array1::from_elem(1, -(k as f64).ln())] {
                    for out_column_major in [true, false] {
                        let prior = |j: usize| log_prior[j.min(log_prior.len() - 1)];
                        let shape = (m, k).set_f(out_column_major);
                        let mut want = Array2::from_shape_fn(shape, |(_, j)| prior(j));
                        for j in 0..k {
                            mvn_diag_add_log_density(
                                x.view(),
                                means.row(j),
                                vars.row(j),
                                want.column_mut(j),
                            );
                        }
                        let mut got = Array2::from_elem(shape, f64::NAN);
                        mvn_diag_set_log_joint(
                            x.view(),
                            log_prior.view(),
                            means.view(),
                            vars.view(),
                            got.view_mut(),
                            &mut ws,
                        );
                        let priors = log_prior.len();
                        assert_eq!(bits(&want), bits(&got), "{priors} priors, {case}");
                    }
                }
                // Each sum's terms' size: `Σ r (1 + (x − c)²)` (NaN with a NaN value), with
                // what the sums held before.
                let terms = Array2::from_shape_fn((k, d), |(c, j)| {
                    let dev = |b: usize| x[[b, j]] - means[[c, j]];
                    (0..m)
                        .map(|b| resp[[b, c]] * (1.0 + dev(b).powi(2)))
                        .sum::<f64>()
                        + 2.0 * sums[[c, j]].abs()
                        + 1.0
                });
                let near = |got: &Array2<f64>, want: &Array2<f64>| {
                    got.iter()
                        .zip(want)
                        .zip(&terms)
                        .all(|((g, w), t)| (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * t)
                };
                assert!(near(&sum_all, &sum_each), "sums, {case}");
                assert!(near(&sq_all, &sq_each), "squares, {case}");
                if m > 300 {
                    // The NaN reaches the sums of its column only.
                    let nan = |a: &Array2<f64>| a.mapv(f64::is_nan);
                    let want = Array2::from_shape_fn((k, d), |(_, j)| j == d - 1);
                    assert_eq!(nan(&sq_all), want, "{case}");
                }
            }
        }
    }

    /// The diagonal sums' shared centre: a component far from the others (a million of its
    /// standard deviations, where the shared centre's terms would swamp its spread) is summed
    /// again about its own centre, bit for bit the per-component kernel's sums; the others
    /// stay within 1e-12.
    #[test]
    fn a_component_far_from_the_shared_centre_is_summed_about_its_own() {
        let mut next = stream(5);
        let (m, d, k) = (300, 2, 3);
        // Rows near 0 for components 0 and 1, near 1e6 (spread 1) for component 2.
        let far = 1e6;
        let x = Array2::from_shape_fn((m, d).f(), |(b, _)| {
            next() + if b % 3 == 2 { far } else { 0.0 }
        });
        let means = array![[0.1, -0.1], [-0.2, 0.2], [far, far + 0.5]];
        let resp = Array2::from_shape_fn((m, k).f(), |(b, c)| {
            let own = if b % 3 == 2 { c == 2 } else { c < 2 };
            if own {
                0.5 + 0.4 * next()
            } else {
                0.0
            }
        });
        let (mut sum_each, mut sq_each) = (Array2::zeros((k, d)), Array2::zeros((k, d)));
        for c in 0..k {
            accumulate_diag(
                x.view(),
                means.row(c),
                resp.column(c),
                sum_each.row_mut(c),
                sq_each.row_mut(c),
            );
        }
        let (mut sum_all, mut sq_all) = (Array2::zeros((k, d)), Array2::zeros((k, d)));
        accumulate_diag_all(
            x.view(),
            means.view(),
            resp.view(),
            sum_all.view_mut(),
            sq_all.view_mut(),
        );
        let bits = |a: ArrayView1<'_, f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(sum_all.row(2)), bits(sum_each.row(2)));
        assert_eq!(bits(sq_all.row(2)), bits(sq_each.row(2)));
        // (About the shared centre, the far component's squares would have been ~1e12 · 100
        // rows with an error of ~1e-4, against its spread's ~100.)
        assert!(sq_each.row(2).iter().all(|&q| q > 10.0 && q < 200.0));
        for c in 0..2 {
            for j in 0..d {
                assert_relative_eq!(sum_all[[c, j]], sum_each[[c, j]], epsilon = 1e-12 * 300.0);
                assert_relative_eq!(sq_all[[c, j]], sq_each[[c, j]], max_relative = 1e-12);
            }
        }
    }

    /// The shared-centre sums give the same bits on every form of the lanes (AVX-512, AVX2,
    /// plain arrays), whatever blocks of components and columns each form takes at once.
    #[test]
    fn the_shared_centre_sums_are_the_same_on_every_form() {
        let mut next = stream(8);
        for (m, d, k) in [(1, 1, 2), (37, 5, 7), (531, 9, 5), (1024, 8, 8)] {
            let x = Array2::from_shape_fn((m, d).f(), |_| 2.0 * next());
            let centre = Array2::from_shape_fn((k, d), |_| next());
            let resp = Array2::from_shape_fn((m, k).f(), |_| next().abs());
            let columns: Vec<&[f64]> = x
                .columns()
                .into_iter()
                .map(|c| c.to_slice().unwrap())
                .collect();
            let resp: Vec<&[f64]> = resp
                .columns()
                .into_iter()
                .map(|c| c.to_slice().unwrap())
                .collect();
            let sums = |form: &dyn Fn(DiagSharedSums<'_>)| {
                let (mut sum, mut sq) = (vec![0.0; k * d], vec![0.0; k * d]);
                form(DiagSharedSums(DiagSums {
                    columns: &columns,
                    centre: centre.as_slice().unwrap(),
                    resp: &resp,
                    sum: &mut sum,
                    sq: &mut sq,
                }));
                sum.iter()
                    .chain(&sq)
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            let portable = sums(&|s| s.run::<[f64; LANES]>());
            // (Where the build does not target FMA the plain arrays round twice: see `fused`.)
            if cfg!(any(target_feature = "fma", target_arch = "aarch64")) {
                assert_eq!(
                    sums(&|s| lanes::dispatch(s)),
                    portable,
                    "m = {m}, d = {d}, k = {k}"
                );
            }
        }
    }

    /// The one-pass hard step against the exact log-joint of every component, row by row:
    /// every row it does not defer has the exact argmax (the lowest index on a tie) and its
    /// value within the single-precision bound; rows at an exact tie, and rows too far out
    /// for single precision, are deferred; the sums and squares are those of the rows it
    /// kept, and nothing of the deferred ones. Shapes cover whole and partial tiles and
    /// vector widths, one component, and shared and per-component variances.
    #[test]
    fn hard_step_keeps_the_exact_argmax_and_defers_ties() {
        for (case, &(m, d, k, shared)) in [
            (203, 16, 16, true),
            (64, 5, 3, false),
            (37, 11, 9, true),
            (48, 8, 1, false),
            (300, 3, 20, false),
        ]
        .iter()
        .enumerate()
        {
            let mut next = stream(case as u64 + 11);
            let means = Array2::from_shape_fn((k, d), |_| 4.0 * next());
            // An exact tie: component 1 repeats component 0.
            let mut means = means;
            if k >= 2 {
                let first = means.row(0).to_owned();
                means.row_mut(1).assign(&first);
            }
            // (Components 0 and 1 share their variance and prior too.)
            let var = if shared {
                Array1::from_elem(1, 0.7)
            } else {
                Array1::from_shape_fn(k, |c| 0.5 + (c.max(1) as f64 * 0.37).sin().abs())
            };
            let log_prior = Array1::from_shape_fn(k, |c| -((c.max(1) + 1) as f64).ln());
            let mut x = Array2::<f64>::zeros((m, d).f());
            for b in 0..m {
                let c = b % k;
                for j in 0..d {
                    x[[b, j]] = means[[c, j]] + next();
                }
            }
            // A row far out (beyond single precision's safe range: the single-precision pass
            // defers it) and one with a value far from the others.
            x[[3, 0]] = 1e25;
            x[[m - 1, d - 1]] = -3e3;
            let v = |c: usize| var[if shared { 0 } else { c }];
            let exact = |b: usize| -> Vec<f64> {
                (0..k)
                    .map(|c| {
                        let sq: f64 = (0..d).map(|j| (x[[b, j]] - means[[c, j]]).powi(2)).sum();
                        log_prior[c] + (-0.5 * d as f64 * (LN_2PI + v(c).ln()) - sq / (2.0 * v(c)))
                    })
                    .collect()
            };
            let (mut at, mut best, mut deferred) = (vec![0u64; m], vec![0.0; m], Vec::new());
            let (mut sum, mut sq) = (Array2::zeros((k, d)), Array2::zeros((k, d)));
            let mut ws = Workspace::default();
            let mut assigned = Assigned {
                at: &mut at,
                best: &mut best,
                deferred: &mut deferred,
            };
            assert!(mvn_spherical_hard_step(
                x.view(),
                means.view(),
                var.view(),
                log_prior.view(),
                &mut assigned,
                sum.view_mut(),
                sq.view_mut(),
                &mut ws,
            ));
            let (mut sum2, mut sq2) = (Array2::<f64>::zeros((k, d)), Array2::<f64>::zeros((k, d)));
            for b in 0..m {
                let values = exact(b);
                let top = (0..k).fold(0, |a, c| if values[c] > values[a] { c } else { a });
                let tie = (0..k).any(|c| c != top && values[c] == values[top]);
                if deferred.contains(&(b as u32)) {
                    continue;
                }
                assert!(!tie, "case {case}, row {b}: a tie was not deferred");
                assert_eq!(at[b] as usize, top, "case {case}, row {b}");
                let tol = 1e-4 * (1.0 + values[top].abs());
                assert!(
                    (best[b] - values[top]).abs() <= tol,
                    "case {case}, row {b}: {} vs {}",
                    best[b],
                    values[top]
                );
                for j in 0..d {
                    let e = x[[b, j]] - means[[top, j]];
                    sum2[[top, j]] += e;
                    sq2[[top, j]] += e * e;
                }
            }
            // Component 1 repeats component 0: the rows drawn about them tie, and are left to
            // the caller.
            if k >= 2 {
                let ties = (0..m)
                    .step_by(k)
                    .filter(|&b| b != 3 && deferred.contains(&(b as u32)))
                    .count();
                assert!(ties > 0, "case {case}: no tie met");
            }
            for (a, b) in sum
                .iter()
                .chain(sq.iter())
                .zip(sum2.iter().chain(sq2.iter()))
            {
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "case {case}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn full_density_matches_statrs() {
        let x = array![[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]];
        let mean = array![0.5, 0.5];
        let sigma = array![[2.0, 0.3], [0.3, 1.0]];
        let chol = Cholesky::new(sigma.view()).unwrap();
        let mut out = Array1::zeros(3);
        mvn_full_add_log_density(
            x.view(),
            mean.view(),
            &chol,
            out.view_mut(),
            &mut Workspace::default(),
        );
        let reference = MultivariateNormal::new(vec![0.5, 0.5], vec![2.0, 0.3, 0.3, 1.0]).unwrap();
        for (b, row) in x.rows().into_iter().enumerate() {
            let v = nalgebra::DVector::from_vec(row.to_vec());
            assert_relative_eq!(out[b], reference.ln_pdf(&v), epsilon = 1e-12);
        }
    }

    /// Rows and means on a grid far from the origin (offset), with some rows equidistant
    /// from two means, in a column-major layout as both back-ends keep the data.
    fn grid(offset: f64) -> (Array2<f64>, Array2<f64>) {
        let mut rows = Vec::new();
        for i in 0..40 {
            let t = i as f64 * 0.1;
            rows.extend([offset + t, offset - 2.0 * t, offset + (t * 7.0).sin()]);
        }
        // Exactly halfway between the first two means.
        rows.extend([offset + 0.5, offset, offset]);
        let x = Array2::from_shape_vec((41, 3), rows).unwrap();
        let means = array![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [2.0, -3.0, 0.5],
            [-1.0, 4.0, 2.0]
        ] + offset;
        (crate::data::column_major(x), means)
    }

    #[test]
    fn every_components_scores_lie_within_their_bound_of_the_exact_densities() {
        for offset in [0.0, 1e3, -1e6, 1e9] {
            let (x, means) = grid(offset);
            for var in [array![0.7], array![0.5, 2.0, 1e-3, 30.0]] {
                let (m, k) = (x.nrows(), means.nrows());
                let mut exact = Array2::<f64>::zeros((m, k));
                for c in 0..k {
                    let v = var[if var.len() == 1 { 0 } else { c }];
                    mvn_spherical_add_log_density(x.view(), means.row(c), v, exact.column_mut(c));
                }
                for layout in [false, true] {
                    let mut fast = if layout {
                        Array2::<f64>::zeros((m, k).f())
                    } else {
                        Array2::<f64>::zeros((m, k))
                    };
                    let mut bound = Array1::<f64>::zeros(m);
                    mvn_spherical_add_log_densities(
                        x.view(),
                        means.view(),
                        var.view(),
                        fast.view_mut(),
                        bound.view_mut(),
                        &mut Workspace::default(),
                    );
                    for b in 0..m {
                        assert!(bound[b].is_finite() && bound[b] >= 0.0);
                        for c in 0..k {
                            let slack = bound[b] + 4.0 * f64::EPSILON * exact[[b, c]].abs();
                            assert!(
                                (fast[[b, c]] - exact[[b, c]]).abs() <= slack,
                                "offset {offset}, row {b}, component {c}: {} against {} (bound {})",
                                fast[[b, c]],
                                exact[[b, c]],
                                bound[b]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_statistics_of_an_assignment_are_those_of_one_hot_responsibilities() {
        let (x, means) = grid(10.0);
        let assignments: Vec<u32> = (0..x.nrows() as u32).map(|i| (i * 7 + i / 3) % 4).collect();
        let (mut sum, mut sq) = (Array2::<f64>::zeros((4, 3)), Array2::<f64>::zeros((4, 3)));
        accumulate_diag_assigned(
            x.view(),
            means.view(),
            &assignments,
            sum.view_mut(),
            sq.view_mut(),
        );
        for c in 0..4 {
            let resp: Array1<f64> = assignments
                .iter()
                .map(|&z| if z as usize == c { 1.0 } else { 0.0 })
                .collect();
            let (mut s, mut q) = (Array1::<f64>::zeros(3), Array1::<f64>::zeros(3));
            accumulate_diag(
                x.view(),
                means.row(c),
                resp.view(),
                s.view_mut(),
                q.view_mut(),
            );
            for j in 0..3 {
                assert_relative_eq!(sum[[c, j]], s[j], epsilon = 1e-12, max_relative = 1e-12);
                assert_relative_eq!(sq[[c, j]], q[j], epsilon = 1e-12, max_relative = 1e-12);
            }
        }
    }

    #[test]
    fn scale_priors_match_statrs_and_each_other() {
        use statrs::distribution::InverseGamma;
        for (a, b, v) in [(2.0, 0.5, 0.3), (0.7, 3.0, 2.5), (5.0, 0.01, 1e-3)] {
            let reference = InverseGamma::new(a, b).unwrap().ln_pdf(v);
            assert_relative_eq!(inv_gamma_log_density(v, a, b), reference, epsilon = 1e-12);
            // One dimension: IW(ν, c) is IG(ν/2, c/2).
            let nu = 2.0 * a;
            let iw = inv_wishart_log_density(array![[v]].view(), nu, 2.0 * b);
            assert_relative_eq!(iw, reference, epsilon = 1e-12);
        }
        // Improper priors enter as their kernels.
        assert_relative_eq!(
            inv_gamma_log_density(0.5, -1.0, 0.005),
            -0.01,
            epsilon = 1e-15
        );
        let sigma = array![[2.0, 0.3], [0.3, 1.0]];
        let trace_inverse = (2.0 + 1.0) / (2.0 * 1.0 - 0.09);
        assert_relative_eq!(
            inv_wishart_log_density(sigma.view(), -3.0, 0.01),
            -0.005 * trace_inverse,
            epsilon = 1e-15
        );
        // The modes: the scatter plus the prior's scale over the count plus its weight.
        let mode =
            covariance_mode_from_scatter(array![[4.0, 1.0], [1.0, 2.0]].view(), 10.0, 3.0, 0.5);
        let expected = array![[4.5, 1.0], [1.0, 2.5]] / 16.0;
        for (m, e) in mode.iter().zip(expected.iter()) {
            assert_relative_eq!(*m, *e, epsilon = 1e-15);
        }
        assert_relative_eq!(variance_mode_from_scatter(3.0, 10.0, 1.0, 0.5), 4.0 / 14.0);
        assert_eq!(
            variances_mode_from_scatter(array![3.0].view(), 10.0, -1.0, 0.5)[0],
            0.4
        );
    }

    #[test]
    fn univariate_density_matches_statrs() {
        let x = array![1.0, -2.0, 0.25];
        let mut out = Array1::zeros(3);
        normal_add_log_density(x.view(), 0.5, 2.0, out.view_mut());
        let n = Normal::new(0.5, 2.0f64.sqrt()).unwrap();
        for b in 0..3 {
            assert_relative_eq!(out[b], n.ln_pdf(x[b]), epsilon = 1e-12);
        }
    }

    /// The register-tile kernels (column-major rows, as both back-ends keep the data) against
    /// the general forms (row-major rows: faer's triangular solve and product, plain loops),
    /// over whole and partial tiles and rows of weight zero; and the portable lanes give the
    /// same bits as the widest form this CPU has.
    #[test]
    fn tile_kernels_match_the_general_forms() {
        let close = |a: &[f64], b: &[f64], what: &str| {
            for (x, y) in a.iter().zip(b) {
                assert_relative_eq!(*x, *y, epsilon = 1e-10, max_relative = 1e-11);
            }
            assert_eq!(a.len(), b.len(), "{what}");
        };
        for &(m, d) in &[
            (2, 1),
            (7, 3),
            (8, 8),
            (37, 5),
            (256, 8),
            (203, 16),
            (45, 11),
            (601, 6),
        ] {
            let mut next = stream(m as u64 * 31 + d as u64);
            // Every other row of a larger array: no contiguous column, so the general forms.
            let wide = Array2::from_shape_fn((2 * m, d), |_| 10.0 + 3.0 * next());
            let rows = wide.slice(ndarray::s![..;2, ..]);
            assert!(rows.columns().into_iter().all(|c| c.to_slice().is_none()));
            let cols = crate::data::column_major(rows.to_owned());
            let mean = Array1::from_shape_fn(d, |_| 10.0 + next());
            let b = Array2::from_shape_fn((d, d), |_| next());
            let sigma = b.dot(&b.t()) / d as f64 + Array2::<f64>::eye(d) * 0.5;
            let chol = Cholesky::new(sigma.view()).unwrap();
            let resp = Array1::from_shape_fn(m, |i| if i % 5 == 3 { 0.0 } else { 0.5 + next() });
            let var = Array1::from_shape_fn(d, |_| 0.5 + next().abs());
            let mut ws = Workspace::default();

            let (mut general, mut tiled) = (Array1::zeros(m), Array1::zeros(m));
            mvn_full_add_log_density(rows.view(), mean.view(), &chol, general.view_mut(), &mut ws);
            mvn_full_add_log_density(cols.view(), mean.view(), &chol, tiled.view_mut(), &mut ws);
            close(
                general.as_slice().unwrap(),
                tiled.as_slice().unwrap(),
                "full density",
            );

            let (mut general, mut tiled) = (Array1::zeros(m), Array1::zeros(m));
            mvn_diag_add_log_density(rows.view(), mean.view(), var.view(), general.view_mut());
            mvn_diag_add_log_density(cols.view(), mean.view(), var.view(), tiled.view_mut());
            close(
                general.as_slice().unwrap(),
                tiled.as_slice().unwrap(),
                "diag density",
            );

            let stats = |x: &ArrayView2<f64>, ws: &mut Workspace| {
                let (mut sum, mut scatter) = (Array1::zeros(d), Array2::zeros((d, d)));
                let (mut dsum, mut sq) = (Array1::zeros(d), Array1::zeros(d));
                accumulate_scatter(
                    x.view(),
                    mean.view(),
                    resp.view(),
                    sum.view_mut(),
                    scatter.view_mut(),
                    ws,
                );
                accumulate_diag(
                    x.view(),
                    mean.view(),
                    resp.view(),
                    dsum.view_mut(),
                    sq.view_mut(),
                );
                (sum, scatter, dsum, sq)
            };
            let (g, t) = (stats(&rows, &mut ws), stats(&cols.view(), &mut ws));
            close(g.0.as_slice().unwrap(), t.0.as_slice().unwrap(), "sum");
            close(g.1.as_slice().unwrap(), t.1.as_slice().unwrap(), "scatter");
            close(g.2.as_slice().unwrap(), t.2.as_slice().unwrap(), "diag sum");
            close(g.3.as_slice().unwrap(), t.3.as_slice().unwrap(), "squares");
            assert_eq!(t.1, t.1.t(), "an exactly symmetric scatter");

            // The portable lanes and the dispatched form, bit for bit.
            let columns: Vec<&[f64]> = cols
                .columns()
                .into_iter()
                .map(|c| c.to_slice().unwrap())
                .collect();
            let mut lower = vec![0.0; d * d + d];
            pack_lower(&chol, &mut lower);
            let full = |portable: bool| {
                let mut y = vec![[0.0; LANES]; d * MOST_SOLVE_TILES];
                let mut maha = vec![0.0; m];
                let k = FullMahalanobis {
                    columns: &columns,
                    mean: mean.as_slice().unwrap(),
                    lower: &lower,
                    y: &mut y,
                    maha: &mut maha,
                };
                if portable {
                    k.run::<[f64; LANES]>()
                } else {
                    lanes::dispatch(k)
                }
                maha
            };
            // The scatter's forms: dispatched; or on plain arrays, with a centred copy of each
            // piece (as with fewer than 32 registers), in blocks of 2 and 4, or without it.
            let scatter = |form: usize| {
                let mut acc = vec![[0.0; LANES]; d * (d + 1) / 2 + d];
                let mut scratch = vec![[0.0; LANES]; scatter_scratch(d)];
                let k = ScatterTiles {
                    columns: &columns,
                    centre: mean.as_slice().unwrap(),
                    resp: resp.as_slice().unwrap(),
                    acc: &mut acc,
                    scratch: &mut scratch,
                };
                match form {
                    0 => lanes::dispatch(k),
                    1 => scatter_blocks::<[f64; LANES], 2>(k),
                    2 => scatter_blocks::<[f64; LANES], 4>(k),
                    _ => scatter_direct::<[f64; LANES], 4>(k),
                }
                acc.concat()
            };
            let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            // (The plain arrays fuse their multiply-adds where the build targets FMA.)
            if cfg!(any(target_feature = "fma", target_arch = "aarch64")) {
                assert_eq!(bits(full(true)), bits(full(false)));
                for form in 1..4 {
                    assert_eq!(bits(scatter(form)), bits(scatter(0)), "scatter form {form}");
                }
                // The tiles solve two coordinates at a time: the plain substitution, one
                // coordinate and one row at a time, gives the same bits.
                let plain: Vec<f64> = (0..m)
                    .map(|b| {
                        let (mut y, mut q) = (vec![0.0; d], 0.0);
                        for i in 0..d {
                            let mut a = columns[i][b] - mean[i];
                            for j in 0..i {
                                a = lanes::fused(-lower[i * d + j], y[j], a);
                            }
                            a *= lower[d * d + i];
                            q = lanes::fused(a, a, q);
                            y[i] = a;
                        }
                        q
                    })
                    .collect();
                assert_eq!(bits(plain), bits(full(false)));
            }
        }
    }

    #[test]
    fn scatter_statistics_reproduce_expected_log_density() {
        let x = array![[1.0, 2.0], [0.5, -1.0], [3.0, 0.0], [1.5, 1.5]];
        let r = array![0.2, 0.9, 0.5, 1.0];
        let centre = array![1.0, 1.0];
        let mut sum = Array1::zeros(2);
        let mut scatter = Array2::zeros((2, 2));
        accumulate_scatter(
            x.view(),
            centre.view(),
            r.view(),
            sum.view_mut(),
            scatter.view_mut(),
            &mut Workspace::default(),
        );
        let mean = array![0.7, 0.1];
        let sigma = array![[1.5, -0.2], [-0.2, 0.8]];
        let chol = Cholesky::new(sigma.view()).unwrap();
        let mut dens = Array1::zeros(4);
        mvn_full_add_log_density(
            x.view(),
            mean.view(),
            &chol,
            dens.view_mut(),
            &mut Workspace::default(),
        );
        let direct: f64 = dens.iter().zip(r.iter()).map(|(d, r)| d * r).sum();
        let from_stats = mvn_full_expected(
            r.sum(),
            centre.view(),
            sum.view(),
            scatter.view(),
            mean.view(),
            &chol,
        );
        assert_relative_eq!(direct, from_stats, epsilon = 1e-12);
    }
}
