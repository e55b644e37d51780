//! Starting points: k-means++ seeding refined by Lloyd iterations, and random rows of the data.
//!
//! The driver runs both on a standardised copy of the model's numeric features, so that
//! columns on different scales (a depth in km beside a magnitude) weigh alike — except for a
//! model with a known covariance `c I` (k-means), whose distances are in the data's units
//! (`MixtureModel::init_in_data_units`). They produce hard assignments; the driver turns those
//! into starting parameters with one M-step.

use ndarray::{s, Array1, Array2, ArrayView2, Axis, ShapeBuilder};
use rand::Rng;
use rayon::prelude::*;

use crate::kernels::gaussian;
use crate::mixture::Workspace;

/// Centres every column and scales it to unit variance (constant columns are only centred);
/// with row weights, the weighted mean and variance.
pub fn standardise(x: ArrayView2<'_, f64>, weights: Option<&[f64]>) -> Array2<f64> {
    // Column-major, as the seeding's passes read it.
    let mut out = Array2::zeros(x.raw_dim().f());
    out.assign(&x);
    standardise_owned(out, weights)
}

/// [`standardise`] in place: `x` is made column-major (without a copy when it is already), then
/// each column is centred and scaled where it lies.
pub fn standardise_owned(x: Array2<f64>, weights: Option<&[f64]>) -> Array2<f64> {
    let out = crate::data::column_major(x);
    let scaling = Scaling::of(out.view(), weights);
    scaling.apply(out)
}

/// The centre and scale of each column that [`standardise`] uses: taken from one set of rows
/// (the seeding's sample), applied to any rows (every row, chunk by chunk, when each takes
/// its nearest centre).
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Column means.
    pub mean: Array1<f64>,
    /// Column standard deviations (1 for a constant column).
    pub scale: Array1<f64>,
}

impl Scaling {
    /// No change: the identity (distances in the data's units).
    pub fn identity(d: usize) -> Self {
        Scaling {
            mean: Array1::zeros(d),
            scale: Array1::ones(d),
        }
    }

    /// The (weighted) mean and standard deviation of every column of `x`.
    pub fn of(x: ArrayView2<'_, f64>, weights: Option<&[f64]>) -> Self {
        let n = match weights {
            None => x.nrows().max(1) as f64,
            Some(w) => w.iter().sum::<f64>(),
        };
        let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
        let (mut mean, mut scale) = (Array1::zeros(x.ncols()), Array1::ones(x.ncols()));
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let (m, var) = match weights {
                None => {
                    let m = col.sum() / n;
                    let var = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
                    (m, var)
                }
                Some(_) => {
                    let m = col
                        .iter()
                        .enumerate()
                        .map(|(i, v)| weight(i) * v)
                        .sum::<f64>()
                        / n;
                    let var = col
                        .iter()
                        .enumerate()
                        .map(|(i, v)| weight(i) * (v - m) * (v - m))
                        .sum::<f64>()
                        / n;
                    (m, var)
                }
            };
            mean[j] = m;
            scale[j] = if var > 0.0 { var.sqrt() } else { 1.0 };
        }
        Scaling { mean, scale }
    }

    /// `x` centred and scaled column by column, in place (column-major, without a copy when
    /// it is already).
    pub fn apply(&self, x: Array2<f64>) -> Array2<f64> {
        let mut out = crate::data::column_major(x);
        for ((mut col, &m), &s) in out.axis_iter_mut(Axis(1)).zip(&self.mean).zip(&self.scale) {
            col.mapv_inplace(|v| (v - m) / s);
        }
        out
    }
}

/// A row drawn with probability proportional to `mass` (`None` when it sums to zero).
fn draw<R: Rng>(mass: &[f64], rng: &mut R) -> Option<usize> {
    let total: f64 = mass.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let mut target = rng.random::<f64>() * total;
    for (i, &d) in mass.iter().enumerate() {
        if target < d {
            return Some(i);
        }
        target -= d;
    }
    mass.iter().rposition(|&d| d > 0.0)
}

/// The row of the first centre of [`kmeans_plus_plus`] among `n` rows: uniformly at random,
/// or in proportion to the weights (0 when they are all zero, or there are no rows).
pub fn first_centre<R: Rng>(n: usize, weights: Option<&[f64]>, rng: &mut R) -> usize {
    match weights {
        None if n == 0 => 0,
        None => rng.random_range(0..n),
        Some(w) => draw(w, rng).unwrap_or(0),
    }
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly at random,
/// each next one with probability proportional to the squared distance to the nearest
/// centre chosen so far; with row weights, both in proportion to the weight too (a row of
/// weight zero is never drawn).
pub fn kmeans_plus_plus<R: Rng>(
    x: ArrayView2<'_, f64>,
    k: usize,
    rng: &mut R,
    weights: Option<&[f64]>,
) -> Array2<f64> {
    let n = x.nrows();
    let mut centres = Array2::zeros((k, x.ncols()));
    let first = first_centre(n, weights, rng);
    centres.row_mut(0).assign(&x.row(first));
    // Each row's (weighted) squared distance to the nearest centre so far.
    let mut d2 = Array1::<f64>::zeros(n);
    update_distances(
        x,
        x.row(first),
        weights,
        d2.as_slice_mut().expect("contiguous"),
        true,
    );
    for c in 1..k {
        let total: f64 = d2.sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            // Round-off at the top end: the last row that can be drawn.
            let mut chosen = d2.iter().rposition(|&d| d > 0.0).unwrap_or(n - 1);
            for (i, &d) in d2.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // All points coincide with a centre already: any row (of weight above zero) will
            // do.
            match weights {
                None => rng.random_range(0..n),
                Some(w) => draw(w, rng).unwrap_or(0),
            }
        };
        centres.row_mut(c).assign(&x.row(pick));
        update_distances(
            x,
            x.row(pick),
            weights,
            d2.as_slice_mut().expect("contiguous"),
            false,
        );
    }
    centres
}

/// `d2[b] = min(d2[b], w_b ‖x_b − p‖²)` (`w_b = 1` without weights), or `= w_b ‖x_b − p‖²`
/// when `first`, over blocks of rows in parallel.
fn update_distances(
    x: ArrayView2<'_, f64>,
    p: ndarray::ArrayView1<'_, f64>,
    weights: Option<&[f64]>,
    d2: &mut [f64],
    first: bool,
) {
    d2.par_chunks_mut(ROWS).enumerate().for_each(|(i, out)| {
        let start = i * ROWS;
        let rows = x.slice(s![start..start + out.len(), ..]);
        let mut d = vec![0.0; out.len()];
        sq_dists(rows, p, &mut d);
        for (b, (o, &d)) in out.iter_mut().zip(&d).enumerate() {
            let d = match weights {
                None => d,
                Some(w) => w[start + b] * d,
            };
            *o = if first { d } else { o.min(d) };
        }
    });
}

/// `k` distinct rows chosen uniformly at random (fewer distinct rows than `k` repeat), among
/// the rows of weight above zero.
pub fn random_rows<R: Rng>(
    x: ArrayView2<'_, f64>,
    k: usize,
    rng: &mut R,
    weights: Option<&[f64]>,
) -> Array2<f64> {
    let rows: Vec<usize> = match weights {
        None => (0..x.nrows()).collect(),
        Some(w) => (0..x.nrows()).filter(|&i| w[i] > 0.0).collect(),
    };
    let n = rows.len();
    let picks = rand::seq::index::sample(rng, n, k.min(n));
    let mut centres = Array2::zeros((k, x.ncols()));
    for c in 0..k {
        centres
            .row_mut(c)
            .assign(&x.row(rows[picks.index(c % picks.len())]));
    }
    centres
}

/// Index of the nearest centre of every row (the lowest among equally near ones): the
/// labels of comparing every `Σ_j (x_j − c_j)²`, summed over `j` in order. Column-major data
/// take the hard E-step's score tiles, which compare only the rows they cannot tell from a
/// tie exactly and give the same labels (`gaussian::spherical_nearest`).
pub fn nearest(x: ArrayView2<'_, f64>, centres: ArrayView2<'_, f64>) -> Vec<usize> {
    let mut labels = vec![0usize; x.nrows()];
    labels
        .par_chunks_mut(ROWS)
        .enumerate()
        .for_each_init(Workspace::default, |ws, (i, out)| {
            let rows = x.slice(s![i * ROWS..i * ROWS + out.len(), ..]);
            nearest_in_block(rows, centres, out, ws);
        });
    labels
}

/// [`nearest`] of one block of rows, into `out`.
fn nearest_in_block(
    rows: ArrayView2<'_, f64>,
    centres: ArrayView2<'_, f64>,
    out: &mut [usize],
    ws: &mut Workspace,
) {
    if gaussian::spherical_nearest(rows, centres, out, ws) {
        return;
    }
    out.fill(0);
    let mut best = vec![f64::INFINITY; out.len()];
    let mut d = vec![0.0; out.len()];
    for (c, centre) in centres.rows().into_iter().enumerate() {
        sq_dists(rows, centre, &mut d);
        for ((o, b), &d) in out.iter_mut().zip(best.iter_mut()).zip(&d) {
            if d < *b {
                (*o, *b) = (c, d);
            }
        }
    }
}

/// [`nearest`] of the rows of `x` scaled by `scaling`: the labels of
/// `nearest(scaling.apply(x), centres)`, each scaled value computed as [`Scaling::apply`]
/// computes it, a task's block of rows scaled at a time into scratch rather than every row
/// into a copy.
pub fn nearest_scaled(
    x: ArrayView2<'_, f64>,
    scaling: &Scaling,
    centres: ArrayView2<'_, f64>,
) -> Vec<usize> {
    let d = x.ncols();
    assert!(scaling.mean.len() == d && scaling.scale.len() == d);
    // (`(v − 0) / 1` is `v` for every `v`, a NaN or `−0` too.)
    if scaling.mean.iter().all(|&m| m == 0.0) && scaling.scale.iter().all(|&s| s == 1.0) {
        return nearest(x, centres);
    }
    let mut labels = vec![0usize; x.nrows()];
    labels.par_chunks_mut(ROWS).enumerate().for_each_init(
        || (Workspace::default(), Vec::new()),
        |(ws, scratch), (i, out)| {
            let rows = x.slice(s![i * ROWS..i * ROWS + out.len(), ..]);
            scratch.clear();
            let scales = scaling.mean.iter().zip(&scaling.scale);
            for (col, (&m, &s)) in rows.columns().into_iter().zip(scales) {
                match col.to_slice() {
                    Some(col) => scratch.extend(col.iter().map(|v| (v - m) / s)),
                    None => scratch.extend(col.iter().map(|v| (v - m) / s)),
                }
            }
            let block =
                ArrayView2::from_shape((out.len(), d).f(), scratch).expect("a column-major block");
            nearest_in_block(block, centres, out, ws);
        },
    );
    labels
}

/// The rows `at` of `x`, column-major (the values of `x.select(Axis(0), at)`), gathered
/// column by column.
pub fn gather_rows(x: ArrayView2<'_, f64>, at: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((at.len(), x.ncols()).f());
    for (mut o, col) in out.columns_mut().into_iter().zip(x.columns()) {
        match col.to_slice() {
            Some(col) => o.iter_mut().zip(at).for_each(|(o, &i)| *o = col[i]),
            None => o.iter_mut().zip(at).for_each(|(o, &i)| *o = col[i]),
        }
    }
    out
}

/// Rows per parallel task of the seeding's passes over the data (each row's result is its
/// own, so the results do not depend on the thread count).
const ROWS: usize = 4096;

/// `out[b] = Σ_j (x_bj − p_j)²`, summed over `j` in order; with contiguous columns, eight
/// rows at a time in registers across the columns (so that the block's rows run in vector
/// lanes and each value is read once).
fn sq_dists(x: ArrayView2<'_, f64>, p: ndarray::ArrayView1<'_, f64>, out: &mut [f64]) {
    const LANES: usize = 8;
    let columns: Option<Vec<&[f64]>> = x.columns().into_iter().map(|c| c.to_slice()).collect();
    let Some(columns) = columns else {
        for (o, row) in out.iter_mut().zip(x.rows()) {
            *o = 0.0;
            for (&v, &mu) in row.iter().zip(p.iter()) {
                let e = v - mu;
                *o += e * e;
            }
        }
        return;
    };
    let p: Vec<f64> = p.to_vec();
    let whole = out.len() - out.len() % LANES;
    for (start, o) in (0..whole).step_by(LANES).zip(out.chunks_exact_mut(LANES)) {
        let mut acc = [0.0; LANES];
        for (col, &mu) in columns.iter().zip(&p) {
            let v: &[f64; LANES] = col[start..start + LANES].try_into().expect("a whole chunk");
            for l in 0..LANES {
                let e = v[l] - mu;
                acc[l] += e * e;
            }
        }
        o.copy_from_slice(&acc);
    }
    for (b, o) in out.iter_mut().enumerate().skip(whole) {
        *o = 0.0;
        for (col, &mu) in columns.iter().zip(&p) {
            let e = col[b] - mu;
            *o += e * e;
        }
    }
}

/// Lloyd's algorithm from the given centres for at most `iters` rounds (stops when no
/// assignment changes), with weighted means when the rows have weights. A centre that loses
/// all its points (its weight) stays where it was.
pub fn lloyd(
    x: ArrayView2<'_, f64>,
    centres: Array2<f64>,
    iters: usize,
    weights: Option<&[f64]>,
) -> Vec<usize> {
    lloyd_centres(x, centres, iters, weights).1
}

/// [`lloyd`], returning the final centres beside the labels (each row's nearest of them).
pub fn lloyd_centres(
    x: ArrayView2<'_, f64>,
    mut centres: Array2<f64>,
    iters: usize,
    weights: Option<&[f64]>,
) -> (Array2<f64>, Vec<usize>) {
    let mut labels = nearest(x, centres.view());
    for _ in 0..iters {
        let k = centres.nrows();
        let mut sums = Array2::<f64>::zeros(centres.dim());
        let mut counts = vec![0.0f64; k];
        // Column by column (each centre's sums still add its rows in order).
        let d = x.ncols();
        let flat = sums.as_slice_mut().expect("standard layout");
        for (j, col) in x.columns().into_iter().enumerate() {
            match (col.as_slice(), weights) {
                (Some(col), None) => {
                    for (&v, &l) in col.iter().zip(&labels) {
                        flat[l * d + j] += v;
                    }
                }
                _ => {
                    for (b, (&v, &l)) in col.iter().zip(&labels).enumerate() {
                        flat[l * d + j] += weights.map_or(v, |w| w[b] * v);
                    }
                }
            }
        }
        for (b, &l) in labels.iter().enumerate() {
            counts[l] += weights.map_or(1.0, |w| w[b]);
        }
        for c in 0..k {
            if counts[c] > 0.0 {
                let mean = &sums.row(c) / counts[c];
                centres.row_mut(c).assign(&mean);
            }
        }
        let next = nearest(x, centres.view());
        if next == labels {
            break;
        }
        labels = next;
    }
    (centres, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;

    /// Each row's nearest centre by the plain comparison: every distance summed over the
    /// columns in order, the first smallest.
    fn nearest_plainly(x: ArrayView2<'_, f64>, centres: ArrayView2<'_, f64>) -> Vec<usize> {
        x.rows()
            .into_iter()
            .map(|row| {
                let (mut at, mut best) = (0, f64::INFINITY);
                for (c, centre) in centres.rows().into_iter().enumerate() {
                    let mut q = 0.0;
                    for (&v, &mu) in row.iter().zip(centre) {
                        let e = v - mu;
                        q += e * e;
                    }
                    if q < best {
                        (at, best) = (c, q);
                    }
                }
                at
            })
            .collect()
    }

    #[test]
    fn the_nearest_centres_are_the_plain_comparisons() {
        // Rows among clustered centres, exact ties (rows midway between two centres, and
        // duplicate centres, where the first wins), rows far out, a NaN and an infinite cell;
        // blocks past the tiles' whole sixteen rows and past one task.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for (n, d, k) in [(1, 1, 1), (37, 3, 4), (5000, 16, 16), (300, 7, 9)] {
            let mut centres = Array2::from_shape_fn((k, d), |_| rng.random_range(-10.0..10.0));
            if k > 2 {
                let first = centres.row(0).to_owned();
                centres.row_mut(2).assign(&first);
            }
            let mut x = Array2::<f64>::zeros((n, d).f());
            for (i, mut row) in x.rows_mut().into_iter().enumerate() {
                let c = i % k;
                for (j, (v, &mu)) in row.iter_mut().zip(centres.row(c)).enumerate() {
                    *v = match i % 11 {
                        // Midway between two centres: a tie of the distances (to round-off).
                        0 if k > 1 => 0.5 * (mu + centres[[(c + 1) % k, j]]),
                        1 => mu * 1e150,
                        _ => mu + rng.random_range(-3.0..3.0),
                    };
                }
            }
            if n > 20 {
                x[[5, 0]] = f64::NAN;
                x[[7, d - 1]] = f64::INFINITY;
            }
            let want = nearest_plainly(x.view(), centres.view());
            assert_eq!(
                nearest(x.view(), centres.view()),
                want,
                "{n} × {d}, K = {k}"
            );
            // Scaled block by block, as every value of the scaled copy.
            let scaling = Scaling::of(x.view(), None);
            let scaled = scaling.apply(x.clone());
            let want = nearest_plainly(scaled.view(), centres.view());
            assert_eq!(nearest_scaled(x.view(), &scaling, centres.view()), want);
            let identity = Scaling::identity(d);
            let want = nearest_plainly(x.view(), centres.view());
            assert_eq!(nearest_scaled(x.view(), &identity, centres.view()), want);
            // Row-major data take the plain comparison.
            let rows = x.as_standard_layout().to_owned();
            assert_eq!(nearest(rows.view(), centres.view()), want);
        }
    }

    #[test]
    fn gathered_rows_are_the_selected_ones() {
        let x = Array2::from_shape_fn((9, 3).f(), |(i, j)| (i * 10 + j) as f64);
        let at = [0, 2, 3, 8];
        let want = x.select(Axis(0), &at);
        let got = gather_rows(x.view(), &at);
        assert_eq!(got, want);
        assert!(got.t().is_standard_layout());
        assert_eq!(gather_rows(x.as_standard_layout().view(), &at), want);
    }

    #[test]
    fn kmeans_separates_two_obvious_groups() {
        let x = array![
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [10.0, 10.0],
            [10.1, 10.0],
            [10.0, 10.1]
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let c = kmeans_plus_plus(x.view(), 2, &mut rng, None);
        let labels = lloyd(x.view(), c, 10, None);
        assert_eq!(labels[0], labels[1]);
        assert_eq!(labels[0], labels[2]);
        assert_eq!(labels[3], labels[5]);
        assert_ne!(labels[0], labels[3]);
    }

    #[test]
    fn standardise_leaves_constant_columns_finite() {
        let s = standardise(array![[1.0, 5.0], [3.0, 5.0]].view(), None);
        assert!(s.iter().all(|v| v.is_finite()));
        assert_eq!(s.column(1).sum(), 0.0);
    }
}
