//! Whole-data moments, computed once when a model is built: the centre of the statistics at
//! initialisation and the shape of a re-seeded component.
//!
//! Each has a form with a weight per row in [`weighted`] (`data w[N]: weight`): a row of
//! weight `w` counts as `w` rows, so integer weights give the moments of the repeated rows.

use faer::prelude::ReborrowMut;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Zip};

/// The weight of row `i` (1 without weights).
fn weight(w: Option<ArrayView1<'_, f64>>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i])
}

/// The number of rows, or the sum of their weights.
fn total(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> f64 {
    w.map_or(x.nrows() as f64, |w| w.sum())
}

fn means(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> Array1<f64> {
    let Some(w) = w else {
        return x
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(x.ncols()));
    };
    let t = w.sum();
    if t.is_nan() || t <= 0.0 {
        return Array1::zeros(x.ncols());
    }
    let mut sum = Array1::<f64>::zeros(x.ncols());
    if x.stride_of(Axis(0)) == 1 {
        // Column-major: as [`squared_deviations`], a column at a time (the same sums).
        for (s, col) in sum.iter_mut().zip(x.columns()) {
            let col = col.to_slice().expect("a contiguous column");
            *s = col
                .iter()
                .zip(w)
                .fold(0.0, |s, (&a, &wi)| if wi == 0.0 { s } else { s + wi * a });
        }
        return sum / t;
    }
    for (row, &wi) in x.rows().into_iter().zip(w) {
        if wi != 0.0 {
            sum.scaled_add(wi, &row);
        }
    }
    sum / t
}

/// `Σ_n w_n (x_n − x̄)²` per column.
fn squared_deviations(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> Array1<f64> {
    let mean = means(x, w);
    let mut var = Array1::<f64>::zeros(x.ncols());
    if x.stride_of(Axis(0)) == 1 {
        // Column-major (as the data are bound): a column at a time, each in one contiguous
        // pass, its terms in the order of the rows as below (the same sums).
        for ((v, col), &m) in var.iter_mut().zip(x.columns()).zip(&mean) {
            let col = col.to_slice().expect("a contiguous column");
            *v = match w {
                None => col.iter().fold(0.0, |s, &a| s + (a - m) * (a - m)),
                Some(w) => col.iter().zip(w).fold(0.0, |s, (&a, &wi)| {
                    if wi == 0.0 {
                        s
                    } else {
                        s + wi * (a - m) * (a - m)
                    }
                }),
            };
        }
        return var;
    }
    for (i, row) in x.rows().into_iter().enumerate() {
        let wi = weight(w, i);
        if wi == 0.0 {
            continue;
        }
        Zip::from(&mut var)
            .and(&row)
            .and(&mean)
            .for_each(|v, &a, &m| *v += wi * (a - m) * (a - m));
    }
    var
}

/// Rows per block of [`scatter_of`]: the centred copy it makes is this many rows, not the
/// whole data (a second copy of a large data set at its peak).
const SCATTER_BLOCK: usize = 4096;

fn scatter_of(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> Array2<f64> {
    let mean = means(x, w);
    let d = x.ncols();
    let mut scatter = Array2::<f64>::zeros((d, d));
    for start in (0..x.nrows()).step_by(SCATTER_BLOCK) {
        let end = (start + SCATTER_BLOCK).min(x.nrows());
        let mut centred = &x.slice(ndarray::s![start..end, ..]) - &mean;
        let weighted = match w {
            None => None,
            Some(w) => {
                let w = w.slice(ndarray::s![start..end]);
                let mut c = centred.clone();
                for (mut row, &wi) in c.rows_mut().into_iter().zip(w) {
                    row *= wi;
                }
                // Rows of weight zero add nothing (not even a NaN from an infinite product).
                for (mut row, &wi) in centred.rows_mut().into_iter().zip(w) {
                    if wi == 0.0 {
                        row.fill(0.0);
                    }
                }
                Some(c)
            }
        };
        let left = weighted.as_ref().unwrap_or(&centred);
        ndarray::linalg::general_mat_mul(1.0, &left.t(), &centred, 1.0, &mut scatter);
    }
    scatter
}

fn covariance_of(
    x: ArrayView2<'_, f64>,
    w: Option<ArrayView1<'_, f64>>,
    floor: f64,
) -> Array2<f64> {
    let n = total(x, w).max(f64::MIN_POSITIVE);
    let n = if w.is_none() { n.max(1.0) } else { n };
    let mut cov = scatter_of(x, w) / n;
    let scale = scales(x, w);
    for (c, s) in cov.diag_mut().iter_mut().zip(scale) {
        *c += floor * s;
    }
    cov
}

fn scales(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> Array1<f64> {
    let n = total(x, w);
    let n = if w.is_none() { n.max(1.0) } else { n };
    scales_from(n, &means(x, w), squared_deviations(x, w))
}

/// The scales of columns with means `mean` and squared deviations `sq_dev` over `n` rows.
fn scales_from(n: f64, mean: &Array1<f64>, sq_dev: Array1<f64>) -> Array1<f64> {
    let mut var = sq_dev / n;
    let mut zeros = Vec::new();
    Zip::from(&mut var).and(mean).for_each(|v, &m| {
        // Constant up to the round-off of its mean (`sd ≤ 1e-12 |mean|`) counts as constant.
        if v.is_nan() || *v <= 1e-24 * m * m {
            *v = if m != 0.0 && (m * m).is_finite() {
                m * m
            } else {
                f64::NAN
            };
        }
    });
    for (j, v) in var.iter().enumerate() {
        if v.is_nan() {
            zeros.push(j);
        }
    }
    // A column of zeros has no unit of its own: it takes the smallest scale of the others
    // (so scaling every column alike scales it too), or 1 when every column is zero.
    let smallest = var
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::INFINITY, f64::min);
    for j in zeros {
        var[j] = if smallest.is_finite() { smallest } else { 1.0 };
    }
    var
}

/// As a tall, skinny QR (Demmel et al. 2012): the `R` of each leaf of [`ROOT_LEAF`] rows
/// (at least `4 D`), in parallel, then the `R`s stacked in order and merged, [`ROOT_MERGE`]
/// at a time (in parallel too), until one is left. The leaves and merges depend on the data's
/// shape alone, not on the number of threads. (`R` is unique up to the sign of each row,
/// which its rows' outer products do not see.)
fn scatter_root_of(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mean = means(x, w);
    let mut root = Array2::zeros((d, d));
    if n == 0 || d == 0 {
        return root;
    }
    let leaf = ROOT_LEAF.max(4 * d);
    let leaves = (0..n).step_by(leaf).map(|s| s..(s + leaf).min(n)).collect();
    let mut roots = crate::tasks::map(leaves, |rows: std::ops::Range<usize>| {
        // The leaf's centred rows (each times `√w`), column-major, in a buffer of this
        // thread's that the next leaf reuses.
        let m = rows.len();
        let mut buffer = crate::scratch::take_written(m * d);
        let root_w: Option<Vec<f64>> = w.map(|w| rows.clone().map(|i| w[i].sqrt()).collect());
        for (j, column) in buffer.chunks_exact_mut(m).enumerate() {
            let (values, centre) = (x.column(j), mean[j]);
            let values = values.slice(ndarray::s![rows.clone()]);
            match &root_w {
                None => {
                    for (c, v) in column.iter_mut().zip(values) {
                        *c = v - centre;
                    }
                }
                Some(root_w) => {
                    for ((c, v), r) in column.iter_mut().zip(values).zip(root_w) {
                        *c = r * (v - centre);
                    }
                }
            }
        }
        let r = thin_r(faer::MatMut::from_column_major_slice_mut(&mut buffer, m, d));
        crate::scratch::give(buffer);
        r
    });
    while roots.len() > 1 {
        let mut groups = Vec::new();
        while !roots.is_empty() {
            let rest = roots.split_off(ROOT_MERGE.min(roots.len()));
            groups.push(std::mem::replace(&mut roots, rest));
        }
        roots = crate::tasks::map(groups, |group: Vec<faer::Mat<f64>>| {
            if group.len() == 1 {
                return group.into_iter().next().expect("one root");
            }
            let at: Vec<(usize, usize)> = group
                .iter()
                .enumerate()
                .flat_map(|(p, r)| (0..r.nrows()).map(move |i| (p, i)))
                .collect();
            let mut stacked = faer::Mat::<f64>::from_fn(at.len(), d, |i, j| {
                let (p, row) = at[i];
                group[p][(row, j)]
            });
            thin_r(stacked.as_mut())
        });
    }
    let r = roots.pop().expect("a root");
    for i in 0..r.nrows() {
        for j in i..d {
            root[[i, j]] = r[(i, j)];
        }
    }
    root
}

/// Rows per leaf of [`scatter_root`]'s factorisation (or `4 D`, if more): a leaf of 50
/// columns (400 kB) stays in the L2 cache while its reflections are applied.
const ROOT_LEAF: usize = 1024;

/// Factors of [`scatter_root`]'s leaves stacked and factored at once.
const ROOT_MERGE: usize = 8;

/// The `R` of faer's thin QR of `a` (overwritten), taken of `a` scaled by a power of two,
/// `2^e`, that brings its largest value just below `2^(448 − ⌈b / 2⌉)` (`m` rows of `b`
/// binary digits: `2^443` for 1024), then scaled back.
///
/// faer's column norms (`norm_l2`) sum each column's squares three ways at once, one of them
/// scaled by `2^−511` against overflow. For values below 1 those squares are subnormal
/// numbers, which Intel CPUs compute in microcode, a hundred cycles each: on data of unit
/// scale the norms took most of the QR's time (a piece of 8192 × 50 rows on an Intel Xeon:
/// 7.7 ms as it is, `examples/root_probe.rs`; 3.4 ms with subnormal results flushed to zero,
/// in a throwaway build that set the CPU's flag).
/// Scaled, a value gives a subnormal term only if it is below about `2^−440` times the
/// largest, and the sums of squares stay finite. Every operation of the factorisation
/// commutes with scaling by a power of two (the norms' own scale factors are powers of two
/// too, and a square root halves the exponent of a scale it squared), so `R` is the
/// unscaled QR's to the bit, except where that one met subnormal or overflowing values,
/// which the scaled one avoids (test `the_scaled_qr_is_the_plain_one`).
fn thin_r(mut a: faer::MatMut<'_, f64>) -> faer::Mat<f64> {
    let (m, n) = (a.nrows(), a.ncols());
    let largest = (0..n)
        .flat_map(|j| (0..m).map(move |i| (i, j)))
        .fold(0.0_f64, |big, (i, j)| big.max(a[(i, j)].abs()));
    let exponent = norm_safe_exponent(largest, m);
    let scale = |mut a: faer::MatMut<'_, f64>, e: i32| {
        if e != 0 {
            let factor = power_of_two(e);
            for j in 0..a.ncols() {
                for i in 0..a.nrows() {
                    a[(i, j)] *= factor;
                }
            }
        }
    };
    scale(a.rb_mut(), exponent);
    let mut r = householder_r(a);
    scale(r.as_mut(), -exponent);
    r
}

/// The `R` of faer's Householder QR of `a` (overwritten with the factorisation): upper
/// trapezoidal, `min(m, n) × n`. The reflections are gathered in blocks of 8 columns (16
/// above 64 columns) and applied column by column within a block (no recursive
/// sub-blocks): on a leaf of 1024 × 50 rows that took 198 µs per 1000 rows where faer's own
/// choice for the shape (blocks of 32 in sub-blocks of 16) took 359, and on 1024 × 8 rows 16
/// against 39 (`examples/fa_probe.rs`, Intel Xeon).
fn householder_r(mut a: faer::MatMut<'_, f64>) -> faer::Mat<f64> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, QrParams};
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    if size == 0 {
        return faer::Mat::zeros(size, n);
    }
    let block = if n > 64 { 16 } else { 8 }.min(size);
    let params = QrParams {
        blocking_threshold: usize::MAX,
        ..faer::Auto::<f64>::auto()
    };
    let mut householder = faer::Mat::<f64>::zeros(block, size);
    let mut buffer = MemBuffer::new(qr_in_place_scratch::<f64>(
        m,
        n,
        block,
        faer::Par::Seq,
        params.into(),
    ));
    qr_in_place(
        a.rb_mut(),
        householder.as_mut(),
        faer::Par::Seq,
        MemStack::new(&mut buffer),
        params.into(),
    );
    faer::Mat::from_fn(size, n, |i, j| if j >= i { a[(i, j)] } else { 0.0 })
}

/// The exponent `e` of the power of two, `2^e`, that brings `largest`, the largest magnitude
/// of a matrix of `m` rows, just below `2^(448 − ⌈b / 2⌉)` (`b` the binary digits of `m`):
/// scaled by it, the matrix's column norms in faer meet no subnormal square (see [`thin_r`])
/// and their sums of squares stay below `2^1024`. 0 for a matrix of zeros or with an
/// infinite value.
pub(crate) fn norm_safe_exponent(largest: f64, m: usize) -> i32 {
    let half_log_rows = (usize::BITS - m.leading_zeros()).div_ceil(2) as i32;
    if largest.is_finite() && largest > 0.0 {
        (448 - half_log_rows - binary_exponent(largest)).clamp(-1000, 1000)
    } else {
        0
    }
}

/// `e` with `v = f · 2^e` and `1/2 ≤ f < 1`, for a positive finite `v`.
fn binary_exponent(v: f64) -> i32 {
    let bits = v.to_bits();
    match ((bits >> 52) & 0x7ff) as i32 {
        // Subnormal: from the position of its leading bit.
        0 => -1010 - (bits & ((1 << 52) - 1)).leading_zeros() as i32,
        biased => biased - 1022,
    }
}

/// `2^e`, exactly, for `|e| ≤ 1000`.
pub(crate) fn power_of_two(e: i32) -> f64 {
    debug_assert!(e.abs() <= 1000);
    f64::from_bits(((e + 1023) as u64) << 52)
}

fn column_variances_of(
    x: ArrayView2<'_, f64>,
    w: Option<ArrayView1<'_, f64>>,
    floor: f64,
) -> Array1<f64> {
    let n = total(x, w);
    let n = if w.is_none() { n.max(1.0) } else { n };
    squared_deviations(x, w) / n + scales(x, w) * floor
}

/// `N − 1` (or `Σ w − 1`), at least 1: the divisor of a sample variance.
fn sample_divisor(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>) -> f64 {
    match w {
        None => x.nrows().saturating_sub(1).max(1) as f64,
        Some(w) => (w.sum() - 1.0).max(1.0),
    }
}

/// Column means.
pub fn column_means(x: ArrayView2<'_, f64>) -> Array1<f64> {
    means(x, None)
}

/// Biased (divide by N) covariance of the columns, with `floor` times each column's
/// [scale](column_scales) added to the diagonal so that a constant column still gives a
/// positive definite matrix (relative, so the result scales with the data).
pub fn covariance(x: ArrayView2<'_, f64>, floor: f64) -> Array2<f64> {
    covariance_of(x, None, floor)
}

/// The scale of each column, in squared units of the data: its biased variance; for a
/// constant column (up to round-off) the square of its value; a column of zeros takes the
/// smallest scale of the other columns (1 when all are zero). The regularising
/// prior of every variance and covariance is `reg_covar` times these, so a fit does not
/// depend on the units the data are written in.
pub fn column_scales(x: ArrayView2<'_, f64>) -> Array1<f64> {
    scales(x, None)
}

/// `Σ_n (x_n − x̄)(x_n − x̄)ᵀ`, the scatter about the column means (no floor): with the means
/// and the row count, the sufficient statistics of every Gaussian quantity that is linear or
/// quadratic in the rows.
pub fn scatter(x: ArrayView2<'_, f64>) -> Array2<f64> {
    scatter_of(x, None)
}

/// A square root of the scatter about the column means: a `D × D` matrix whose rows `p_j`
/// satisfy `Σ_j p_j p_jᵀ = Σ_n (x_n − x̄)(x_n − x̄)ᵀ` — the `R` of a QR factorisation of the
/// centred data, computed from the rows themselves (Householder), so it carries the data's
/// precision rather than that of its squares. Fewer rows than columns leave the missing rows
/// zero.
pub fn scatter_root(x: ArrayView2<'_, f64>) -> Array2<f64> {
    scatter_root_of(x, None)
}

/// Biased column variances plus `floor` times each column's [scale](column_scales).
pub fn column_variances(x: ArrayView2<'_, f64>, floor: f64) -> Array1<f64> {
    column_variances_of(x, None, floor)
}

/// The sample covariance of the columns, the scatter over `N − 1`: a prior's `cov(x)`
/// (NumPy's `np.cov(x.T)`).
pub fn sample_covariance(x: ArrayView2<'_, f64>) -> Array2<f64> {
    scatter(x) / sample_divisor(x, None)
}

/// The sample variance of each column, over `N − 1`: a prior's `var(x)`
/// (`np.var(x, axis=0, ddof=1)`).
pub fn sample_variances(x: ArrayView2<'_, f64>) -> Array1<f64> {
    squared_deviations(x, None) / sample_divisor(x, None)
}

/// [`sample_variances`] averaged over the columns: a prior's `var(x)` for one variance
/// shared by every coordinate (scikit-learn's spherical `covariance_prior`).
pub fn mean_sample_variance(x: ArrayView2<'_, f64>) -> f64 {
    sample_variances(x).mean().unwrap_or(0.0)
}

/// Variance floor used by re-seeded components, relative to each column's scale.
pub const RESEED_FLOOR: f64 = 1e-6;

/// The moments with a weight per row (`w`, finite, at least 0, not all 0): a row of weight
/// `w` counts as `w` rows, so that with integer weights every moment is that of the data
/// with each row repeated `w` times; the number of rows becomes `Σ w` (frequency weights,
/// NumPy's `np.cov(x.T, fweights=w)` for the sample covariance).
pub mod weighted {
    use super::*;

    /// Weighted column means.
    pub fn column_means(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array1<f64> {
        means(x, Some(w))
    }

    /// Weighted form of [`super::covariance`].
    pub fn covariance(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>, floor: f64) -> Array2<f64> {
        covariance_of(x, Some(w), floor)
    }

    /// Weighted form of [`super::column_scales`].
    pub fn column_scales(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array1<f64> {
        scales(x, Some(w))
    }

    /// Weighted form of [`super::scatter`].
    pub fn scatter(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array2<f64> {
        scatter_of(x, Some(w))
    }

    /// Weighted form of [`super::scatter_root`]: the `R` of the centred rows, each times
    /// `√w`.
    pub fn scatter_root(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array2<f64> {
        scatter_root_of(x, Some(w))
    }

    /// Weighted form of [`super::column_variances`].
    pub fn column_variances(
        x: ArrayView2<'_, f64>,
        w: ArrayView1<'_, f64>,
        floor: f64,
    ) -> Array1<f64> {
        column_variances_of(x, Some(w), floor)
    }

    /// Weighted form of [`super::sample_covariance`]: the scatter over `Σ w − 1`.
    pub fn sample_covariance(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array2<f64> {
        scatter(x, w) / sample_divisor(x, Some(w))
    }

    /// Weighted form of [`super::sample_variances`].
    pub fn sample_variances(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> Array1<f64> {
        squared_deviations(x, Some(w)) / sample_divisor(x, Some(w))
    }

    /// Weighted form of [`super::mean_sample_variance`].
    pub fn mean_sample_variance(x: ArrayView2<'_, f64>, w: ArrayView1<'_, f64>) -> f64 {
        sample_variances(x, w).mean().unwrap_or(0.0)
    }

    /// `Σ_n w_n v_n` over the rows of weight above zero (a row of weight zero adds nothing,
    /// even an infinite value).
    pub fn sum(v: ArrayView1<'_, f64>, w: ArrayView1<'_, f64>) -> f64 {
        v.iter()
            .zip(w)
            .filter(|(_, &w)| w != 0.0)
            .map(|(v, w)| v * w)
            .sum()
    }
}

/// The moments of some rows in a form that merges ([`Summary::merge`]): the data read chunk
/// by chunk give those of every row (to round-off), from which the whole-data moments above
/// follow with the same formulas.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of rows.
    pub rows: usize,
    /// Their weight: the rows, or the sum of their weights.
    pub total: f64,
    /// Whether the rows have weights.
    pub weighted: bool,
    /// Column means.
    pub mean: Array1<f64>,
    /// `Σ_n w_n (x_n − x̄)²` per column.
    pub sq_dev: Array1<f64>,
    /// `Σ_n w_n (x_n − x̄)(x_n − x̄)ᵀ`, when asked for.
    pub scatter: Option<Array2<f64>>,
}

impl Summary {
    /// The summary of `x` (rows × columns), each row weighted by `w` when given; with `full`
    /// its scatter too.
    pub fn of(x: ArrayView2<'_, f64>, w: Option<ArrayView1<'_, f64>>, full: bool) -> Self {
        Summary {
            rows: x.nrows(),
            total: total(x, w),
            weighted: w.is_some(),
            mean: means(x, w),
            sq_dev: squared_deviations(x, w),
            scatter: full.then(|| scatter_of(x, w)),
        }
    }

    /// Adds the rows of `other` (Chan, Golub and LeVeque's pairwise update).
    pub fn merge(&mut self, other: &Summary) {
        let (na, nb) = (self.total, other.total);
        self.rows += other.rows;
        self.weighted |= other.weighted;
        // (A NaN total counts as none.)
        if nb.is_nan() || nb <= 0.0 {
            return;
        }
        if na.is_nan() || na <= 0.0 {
            let rows = self.rows;
            *self = other.clone();
            self.rows = rows;
            return;
        }
        let n = na + nb;
        let delta = &other.mean - &self.mean;
        let f = na * nb / n;
        self.mean.scaled_add(nb / n, &delta);
        Zip::from(&mut self.sq_dev)
            .and(&other.sq_dev)
            .and(&delta)
            .for_each(|s, &o, &d| *s += o + f * d * d);
        if let (Some(s), Some(o)) = (&mut self.scatter, &other.scatter) {
            *s += o;
            let d = delta.view().insert_axis(Axis(1));
            ndarray::linalg::general_mat_mul(f, &d, &d.t(), 1.0, s);
        }
        self.total = n;
    }

    /// The divisor of `N` (or `Σ w`) as [`covariance`] takes it.
    fn n(&self) -> f64 {
        if self.weighted {
            self.total
        } else {
            self.total.max(1.0)
        }
    }

    /// [`column_means`].
    pub fn means(&self) -> Array1<f64> {
        self.mean.clone()
    }

    /// [`column_scales`].
    pub fn scales(&self) -> Array1<f64> {
        scales_from(self.n(), &self.mean, self.sq_dev.clone())
    }

    /// [`covariance`] (the summary must hold the scatter).
    pub fn covariance(&self, floor: f64) -> Array2<f64> {
        let n = self.total.max(f64::MIN_POSITIVE);
        let n = if self.weighted { n } else { n.max(1.0) };
        let mut cov = self.scatter.as_ref().expect("a summary with its scatter") / n;
        for (c, s) in cov.diag_mut().iter_mut().zip(self.scales()) {
            *c += floor * s;
        }
        cov
    }

    /// [`column_variances`].
    pub fn variances(&self, floor: f64) -> Array1<f64> {
        &self.sq_dev / self.n() + self.scales() * floor
    }

    /// `N − 1` (or `Σ w − 1`), at least 1.
    fn sample_divisor(&self) -> f64 {
        if self.weighted {
            (self.total - 1.0).max(1.0)
        } else {
            self.rows.saturating_sub(1).max(1) as f64
        }
    }

    /// [`sample_covariance`] (the summary must hold the scatter).
    pub fn sample_covariance(&self) -> Array2<f64> {
        self.scatter.as_ref().expect("a summary with its scatter") / self.sample_divisor()
    }

    /// [`sample_variances`].
    pub fn sample_variances(&self) -> Array1<f64> {
        &self.sq_dev / self.sample_divisor()
    }

    /// [`mean_sample_variance`].
    pub fn mean_sample_variance(&self) -> f64 {
        self.sample_variances().mean().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    /// The summaries of chunks, merged, give the moments of all rows.
    #[test]
    fn merged_summaries_are_the_whole_data() {
        let x = Array2::from_shape_fn((23, 3), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f64 * 0.37 + 1e3 * j as f64
        });
        let w = Array1::from_shape_fn(23, |i| (i % 4) as f64 * 0.5);
        for weights in [None, Some(w.view())] {
            let whole = Summary::of(x.view(), weights, true);
            let mut merged = Summary::of(
                x.slice(ndarray::s![0..0, ..]),
                weights.map(|w| w.slice_move(ndarray::s![0..0])),
                true,
            );
            for (a, b) in [(0, 5), (5, 6), (6, 17), (17, 23)] {
                let part = Summary::of(
                    x.slice(ndarray::s![a..b, ..]),
                    weights.map(|w| w.slice_move(ndarray::s![a..b])),
                    true,
                );
                merged.merge(&part);
            }
            assert_eq!(merged.rows, 23);
            let close = |a: &Array2<f64>, b: &Array2<f64>| {
                assert!(
                    (a - b)
                        .iter()
                        .zip(b)
                        .all(|(d, v)| d.abs() <= 1e-12 * (1.0 + v.abs())),
                    "{a} vs {b}"
                )
            };
            let row = |v: Array1<f64>| v.insert_axis(Axis(0));
            close(&row(merged.means()), &row(whole.means()));
            close(&row(merged.scales()), &row(whole.scales()));
            close(&row(merged.variances(1e-3)), &row(whole.variances(1e-3)));
            close(
                &row(merged.sample_variances()),
                &row(whole.sample_variances()),
            );
            close(&merged.covariance(1e-3), &whole.covariance(1e-3));
            close(&merged.sample_covariance(), &whole.sample_covariance());
            // And the whole-data functions agree with the summary of every row.
            match weights {
                None => {
                    close(&covariance(x.view(), 1e-3), &whole.covariance(1e-3));
                    close(&row(column_scales(x.view())), &row(whole.scales()));
                    close(&sample_covariance(x.view()), &whole.sample_covariance());
                }
                Some(w) => {
                    close(
                        &weighted::covariance(x.view(), w, 1e-3),
                        &whole.covariance(1e-3),
                    );
                    close(
                        &row(weighted::sample_variances(x.view(), w)),
                        &row(whole.sample_variances()),
                    );
                }
            }
        }
    }

    /// Integer weights give the moments of the repeated rows.
    #[test]
    fn integer_weights_are_repeated_rows() {
        let x = array![[1.0, 2.0], [3.0, -1.0], [0.5, 4.0], [2.0, 2.0]];
        let w = array![2.0, 0.0, 3.0, 1.0];
        let mut rows = Vec::new();
        for (row, &k) in x.rows().into_iter().zip(&w) {
            for _ in 0..k as usize {
                rows.extend(row.iter().copied());
            }
        }
        let r = Array2::from_shape_vec((rows.len() / 2, 2), rows).unwrap();
        let close1 = |a: Array1<f64>, b: Array1<f64>| {
            assert!((&a - &b).iter().all(|d| d.abs() < 1e-12), "{a} vs {b}")
        };
        close1(
            weighted::column_means(x.view(), w.view()),
            column_means(r.view()),
        );
        close1(
            weighted::column_scales(x.view(), w.view()),
            column_scales(r.view()),
        );
        close1(
            weighted::column_variances(x.view(), w.view(), 1e-3),
            column_variances(r.view(), 1e-3),
        );
        close1(
            weighted::sample_variances(x.view(), w.view()),
            sample_variances(r.view()),
        );
        for (a, b) in [
            (
                weighted::covariance(x.view(), w.view(), 1e-3),
                covariance(r.view(), 1e-3),
            ),
            (
                weighted::sample_covariance(x.view(), w.view()),
                sample_covariance(r.view()),
            ),
        ] {
            assert!((&a - &b).iter().all(|d| d.abs() < 1e-12), "{a} vs {b}");
        }
        let (a, b) = (
            weighted::scatter_root(x.view(), w.view()),
            scatter_root(r.view()),
        );
        let (a, b) = (a.t().dot(&a), b.t().dot(&b));
        assert!((&a - &b).iter().all(|d| d.abs() < 1e-12), "{a} vs {b}");
    }

    /// The root factored in pieces (several, the last short, on one thread or two) is upper
    /// triangular, the same on any number of threads, and its rows' outer products are the
    /// scatter, weighted or not.
    #[test]
    fn the_root_in_pieces_is_the_scatters() {
        // (The last: a last piece of fewer rows than columns.)
        let shapes = [
            (3 * ROOT_LEAF + 17, 5),
            (ROOT_LEAF + 1, 1),
            (4 * 40 + 60, 40),
            (4 * 40 + 3, 40),
            (ROOT_MERGE * ROOT_LEAF * 9 + 5, 3),
        ];
        for (n, d) in shapes {
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                ((i * 31 + j * 17) % 101) as f64 * 0.01 + ((i * j) % 7) as f64 + 1e3 * j as f64
            });
            let w = Array1::from_shape_fn(n, |i| ((i % 5) as f64) * 0.5);
            for w in [None, Some(w.view())] {
                let roots: Vec<Array2<f64>> = [1, 2]
                    .into_iter()
                    .map(|threads| {
                        rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap()
                            .install(|| scatter_root_of(x.view(), w))
                    })
                    .collect();
                assert_eq!(roots[0], roots[1], "the same bits on one thread and two");
                let root = &roots[0];
                for i in 0..d {
                    for j in 0..i {
                        assert_eq!(root[[i, j]], 0.0);
                    }
                }
                let expected = scatter_of(x.view(), w);
                let got = root.t().dot(root);
                let scale = expected.diag().iter().fold(0.0f64, |m, &v| m.max(v));
                let worst = (&got - &expected)
                    .iter()
                    .fold(0.0f64, |m, d| m.max(d.abs()));
                assert!(worst <= 1e-12 * scale, "{n} x {d}: {worst} against {scale}");
            }
        }
    }

    /// The QR of the rows scaled by a power of two, scaled back, is the QR of the rows as they
    /// are, to the bit, and faer's default QR up to signs and round-off: on data of unit scale
    /// (where faer's norms meet subnormal squares), of very large and very small scale, with a
    /// zero column, a constant one, and more columns than rows; and the exponents of its
    /// helpers.
    #[test]
    fn the_scaled_qr_is_the_plain_one() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        for (rows, cols) in [(500, 6), (3000, 20), (5, 9), (1, 1)] {
            let base = faer::Mat::<f64>::from_fn(rows, cols, |_, _| next());
            for scale in [1.0, 3.0e-9, 1.0e150, 1.0e-150, 1.0e300] {
                let mut a = faer::Mat::<f64>::from_fn(rows, cols, |i, j| base[(i, j)] * scale);
                if cols > 2 {
                    for i in 0..rows {
                        a[(i, 1)] = 0.0;
                        a[(i, 2)] = 2.5 * scale;
                    }
                }
                let plain = householder_r(a.clone().as_mut());
                let scaled = thin_r(a.clone().as_mut());
                let faers = a.qr().thin_R().to_owned();
                assert_eq!(
                    (plain.nrows(), plain.ncols()),
                    (scaled.nrows(), scaled.ncols())
                );
                for i in 0..plain.nrows() {
                    for j in 0..plain.ncols() {
                        let (p, q) = (plain[(i, j)], scaled[(i, j)]);
                        assert!(
                            p.to_bits() == q.to_bits(),
                            "{rows} x {cols} at scale {scale:e}: R[{i}, {j}] {p:e} against {q:e}"
                        );
                    }
                }
                // faer's QR with its own blocking: the same `R` up to each row's sign and
                // round-off.
                for i in 0..plain.nrows() {
                    let norm = (0..cols).fold(0.0f64, |m, j| m.max(faers[(i, j)].abs()));
                    let sign = if (scaled[(i, i)] < 0.0) == (faers[(i, i)] < 0.0) {
                        1.0
                    } else {
                        -1.0
                    };
                    for j in 0..cols {
                        let gap = (sign * scaled[(i, j)] - faers[(i, j)]).abs();
                        assert!(
                            gap <= 1e-12 * norm,
                            "{rows} x {cols} at scale {scale:e}: R[{i}, {j}] {} against {}",
                            scaled[(i, j)],
                            faers[(i, j)]
                        );
                    }
                }
            }
        }
        for (v, e) in [
            (1.0, 1),
            (0.75, 0),
            (1024.0, 11),
            (f64::MIN_POSITIVE, -1021),
        ] {
            assert_eq!(binary_exponent(v), e);
        }
        let tiny = f64::from_bits(1);
        assert_eq!(binary_exponent(tiny), -1073);
        assert_eq!(power_of_two(-1000) * power_of_two(1000), 1.0);
    }
}
