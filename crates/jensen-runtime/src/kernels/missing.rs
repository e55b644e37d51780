//! The kernels of every block for the rows with a missing cell ([`crate::gaps`]).
//!
//! Each block has two, called for component `k` after the block's ordinary kernel:
//! - `*_log_density` sets the log-joint of each row with a gap to what it held before the
//!   block (`before`) plus the log-density of the row's observed cells alone — for a
//!   multivariate Normal the marginal `N(x_o | μ_o, Σ_oo)`, for per-coordinate families
//!   the product over the observed coordinates, for a one-column block nothing;
//! - `*_accumulate` adds the row's statistics with each missing cell replaced by its
//!   conditional expectation given the observed ones under the E-step's parameters (for a
//!   multivariate Normal `E[x_m | x_o] = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)` and
//!   `E[x_m x_mᵀ | x_o]` adds `Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`, the E-step of Ghahramani & Jordan,
//!   1994), weighted by the row's responsibility; the ordinary kernel has accumulated the
//!   row with zero weight.
//!
//! Those statistics make the expected complete-data log-likelihood
//! `E_q[ln p(x_o, x_m, z | θ)]`; the free energy adds the entropy of `q(x_m | x_o, z)`, and
//! `*_accumulate` adds it (with whatever part of `E_q[ln p(x_m | θ)]` the block's statistics
//! do not carry, such as `E[ln x!]` of a missing count, which cancels) to `entropy`, so that
//! right after an E-step the free energy is the log-likelihood of the observed cells.

use std::collections::HashMap;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef, Par};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use super::gaussian::LN_2PI;
use super::linear::FactorPosterior;
use super::xlny;
use crate::gaps::{observed_of, restore, GapsIn};
use crate::linalg::{as_faer_mut, Cholesky};
use crate::mixture::Workspace;

/// `ln 2πe`, the entropy of a standard Normal times two.
const LN_2PI_E: f64 = LN_2PI + 1.0;

/// The marginal and conditional of a multivariate Normal for one pattern of missing
/// coordinates.
struct Conditional {
    missing: Vec<usize>,
    observed: Vec<usize>,
    /// Cholesky factor of `Σ_oo` (`None` with no observed coordinate).
    chol: Option<Cholesky>,
    /// Its lower triangle, row by row (`l[i (i + 1) / 2 + j]`, `j ≤ i`), for the per-row
    /// forward substitution, a few multiply–adds for the small `Σ_oo` of a pattern.
    lower: Vec<f64>,
    /// `L⁻¹ Σ_om` (`d_o × d_m`).
    a: Array2<f64>,
    /// `Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`.
    cov: Array2<f64>,
    /// `ln |Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om| = ln |Σ| − ln |Σ_oo|`.
    log_det: f64,
}

impl Conditional {
    /// `None` when `Σ_oo` is not numerically positive definite.
    fn new(cov: ArrayView2<'_, f64>, log_det: f64, missing: &[usize]) -> Option<Self> {
        let d = cov.nrows();
        let observed = observed_of(d, missing);
        let sub = |r: &[usize], c: &[usize]| cov.select(Axis(0), r).select(Axis(1), c);
        if observed.is_empty() {
            return Some(Self {
                missing: missing.to_vec(),
                observed,
                chol: None,
                lower: Vec::new(),
                a: Array2::zeros((0, d)),
                cov: cov.to_owned(),
                log_det,
            });
        }
        let chol = Cholesky::new(sub(&observed, &observed).view())?;
        let mut a = sub(&observed, missing);
        // `a` is row-major `d_o × d_m`: the columns of `Σ_om` are solved in one call.
        let (dm, dd) = (missing.len(), observed.len());
        let mut t = a.t().as_standard_layout().to_owned();
        if dm > 0 {
            chol.solve_lower_in_place(faer::MatMut::from_column_major_slice_mut(
                t.as_slice_mut().expect("contiguous"),
                dd,
                dm,
            ));
        }
        a = t.t().to_owned();
        let cov_m = &sub(missing, missing) - &a.t().dot(&a);
        let log_det = log_det - chol.log_det();
        let f = chol.factor();
        let lower = (0..dd)
            .flat_map(|i| (0..=i).map(move |j| f[(i, j)]))
            .collect();
        Some(Self {
            missing: missing.to_vec(),
            observed,
            lower,
            chol: Some(chol),
            a,
            cov: cov_m,
            log_det,
        })
    }

    /// `y = L⁻¹ (x_o − μ_o)`, by forward substitution.
    fn whiten(&self, x: ArrayView1<'_, f64>, mean: ArrayView1<'_, f64>, y: &mut Vec<f64>) {
        y.clear();
        let mut at = 0;
        for (i, &j) in self.observed.iter().enumerate() {
            let row = &self.lower[at..at + i + 1];
            let s = x[j]
                - mean[j]
                - row[..i]
                    .iter()
                    .zip(y.iter())
                    .map(|(l, v)| l * v)
                    .sum::<f64>();
            y.push(s / row[i]);
            at += i + 1;
        }
    }
}

/// The conditionals of the patterns of missing coordinates met so far, per data item and
/// covariance, kept in the [`Workspace`] of one pass over the rows: each pattern is factored
/// once per pass and component, however many rows and chunks share it.
#[derive(Default)]
pub struct PatternCache {
    /// Per data item (its gaps' address) and covariance (a hash of its entries): the
    /// covariance itself, compared on every lookup, and each pattern's conditional (`None`
    /// until met; `Some(None)` if `Σ_oo` cannot be factored), indexed by the pattern's number
    /// within the item ([`GapsIn::iter_patterns`]).
    by_cov: HashMap<(usize, u64), Table>,
}

/// The conditionals of one data item's patterns under one covariance.
#[derive(Default)]
struct Table {
    cov: Array2<f64>,
    patterns: Vec<Option<Option<Conditional>>>,
}

impl std::fmt::Debug for PatternCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let met: usize = self
            .by_cov
            .values()
            .map(|t| t.patterns.iter().filter(|c| c.is_some()).count())
            .sum();
        write!(
            f,
            "PatternCache({} covariances, {met} patterns)",
            self.by_cov.len()
        )
    }
}

impl PatternCache {
    /// The conditionals of the patterns of `gaps`' data item under covariance `cov`.
    fn of(
        &mut self,
        gaps: &GapsIn<'_>,
        cov: ArrayView2<'_, f64>,
    ) -> &mut Vec<Option<Option<Conditional>>> {
        // FNV-1a over the entries' bits.
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ cov.nrows() as u64;
        for v in cov.iter() {
            h = (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3);
        }
        let table = self.by_cov.entry((gaps.identity(), h)).or_default();
        if table.cov != cov {
            // A new covariance, or one whose hash collides: start the table afresh.
            table.cov = cov.to_owned();
            table.patterns.clear();
        }
        if table.patterns.len() < gaps.patterns() {
            table.patterns.resize_with(gaps.patterns(), || None);
        }
        &mut table.patterns
    }
}

/// The conditional of pattern number `p`, `missing` (`None` if `Σ_oo` cannot be factored).
fn conditional<'c>(
    seen: &'c mut [Option<Option<Conditional>>],
    p: usize,
    cov: ArrayView2<'_, f64>,
    log_det: f64,
    missing: &[usize],
) -> Option<&'c Conditional> {
    seen[p]
        .get_or_insert_with(|| Conditional::new(cov, log_det, missing))
        .as_ref()
}

/// Full covariance: `out[b] = before[b] + ln N(x_o | μ_o, Σ_oo)` for each row with a gap
/// (`before[b]` alone when every coordinate is missing; `−∞` if `Σ_oo` cannot be factored).
pub fn mvn_full_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    cov: ArrayView2<'_, f64>,
    before: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    if gaps.is_empty() {
        return;
    }
    let Some(full) = Cholesky::new(cov) else {
        for (i, _) in gaps.iter() {
            out[i] = f64::NEG_INFINITY;
        }
        return;
    };
    let seen = ws.patterns.of(gaps, cov);
    let mut y = Vec::with_capacity(x.ncols());
    for ((i, missing, p), &b) in gaps.iter_patterns().zip(before.iter()) {
        out[i] = match conditional(seen, p, cov, full.log_det(), missing) {
            Some(c) => match &c.chol {
                None => b,
                Some(chol) => {
                    c.whiten(x.row(i), mean, &mut y);
                    let q: f64 = y.iter().map(|v| v * v).sum();
                    b - 0.5 * (c.observed.len() as f64 * LN_2PI + chol.log_det() + q)
                }
            },
            None => f64::NEG_INFINITY,
        };
    }
}

/// Full covariance: adds `r_b (x̂_b − μ)` to `sum`, `r_b [(x̂_b − μ)(x̂_b − μ)ᵀ + C_b]` to
/// `scatter` and `r_b H_b` to `entropy`, for each row with a gap, where `x̂_b` is the row
/// with its missing coordinates at `E[x_m | x_o]`, `C_b` is zero but for the conditional
/// covariance in the missing block, and `H_b = ½ (d_m ln 2πe + ln |C_b,mm|)` its entropy.
/// (`mean` is the centre of the statistics as well as the E-step's mean.)
#[allow(clippy::too_many_arguments)]
pub fn mvn_full_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    cov: ArrayView2<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    entropy: &mut f64,
    ws: &mut Workspace,
) {
    let Some(done) = complete(x, gaps, mean, cov, resp, ws) else {
        return;
    };
    for row in done.weighted.chunks_exact(x.ncols()) {
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    done.add_scatter(scatter, entropy, ws.patterns.of(gaps, cov));
}

/// The rows with a gap of one chunk, completed under a full covariance (the rows of zero
/// responsibility, or whose observed block cannot be factored, left out).
struct Completed {
    /// The chunk's row of each completed row.
    rows: Vec<usize>,
    /// Its responsibility.
    resp: Vec<f64>,
    /// The completed deviations `x̂ − μ` (row-major, `d` per row).
    dev: Vec<f64>,
    /// The same times the responsibilities.
    weighted: Vec<f64>,
    /// Each pattern's total responsibility.
    per_pattern: Vec<(usize, f64)>,
    d: usize,
}

/// The missing coordinates of each row with a gap at `E[x_m | x_o]` (`None` without a row to
/// add).
fn complete(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    cov: ArrayView2<'_, f64>,
    resp: ArrayView1<'_, f64>,
    ws: &mut Workspace,
) -> Option<Completed> {
    if gaps.is_empty() {
        return None;
    }
    let full = Cholesky::new(cov)?;
    let d = x.ncols();
    let seen = ws.patterns.of(gaps, cov);
    let mut done = Completed {
        rows: Vec::new(),
        resp: Vec::new(),
        dev: Vec::new(),
        weighted: Vec::new(),
        per_pattern: Vec::new(),
        d,
    };
    let mut y = Vec::with_capacity(d);
    for (i, missing, p) in gaps.iter_patterns() {
        let r = resp[i];
        if r == 0.0 || conditional(seen, p, cov, full.log_det(), missing).is_none() {
            continue;
        }
        let c = seen[p]
            .as_ref()
            .and_then(Option::as_ref)
            .expect("factored above");
        let start = done.dev.len();
        done.dev.resize(start + d, 0.0);
        let e = &mut done.dev[start..];
        for &j in &c.observed {
            e[j] = x[[i, j]] - mean[j];
        }
        if c.chol.is_some() {
            // E[x_m | x_o] − μ_m = (L⁻¹ Σ_om)ᵀ L⁻¹ (x_o − μ_o).
            c.whiten(x.row(i), mean, &mut y);
            for (col, &j) in c.a.columns().into_iter().zip(&c.missing) {
                e[j] = col.iter().zip(&y).map(|(a, b)| a * b).sum();
            }
        }
        done.weighted.extend(e.iter().map(|v| r * v));
        done.rows.push(i);
        done.resp.push(r);
        match done.per_pattern.iter_mut().find(|(q, _)| *q == p) {
            Some((_, w)) => *w += r,
            None => done.per_pattern.push((p, r)),
        }
    }
    (!done.rows.is_empty()).then_some(done)
}

impl Completed {
    /// Adds `Σ_b r_b [(x̂_b − μ)(x̂_b − μ)ᵀ + C_b]` to `scatter` and `Σ_b r_b H_b` to
    /// `entropy`.
    fn add_scatter(
        &self,
        mut scatter: ArrayViewMut2<'_, f64>,
        entropy: &mut f64,
        seen: &mut [Option<Option<Conditional>>],
    ) {
        let (g, d) = (self.rows.len(), self.d);
        // scatter += Σ_b r_b e_b e_bᵀ, one product for the chunk's rows.
        matmul(
            as_faer_mut(&mut scatter),
            Accum::Add,
            MatRef::from_row_major_slice(&self.weighted, g, d).transpose(),
            MatRef::from_row_major_slice(&self.dev, g, d),
            1.0,
            Par::Seq,
        );
        // The conditional covariance and entropy depend on the pattern alone.
        for &(p, w) in &self.per_pattern {
            let c = seen[p]
                .as_ref()
                .and_then(Option::as_ref)
                .expect("factored when completed");
            for (a, &ja) in c.missing.iter().enumerate() {
                for (b, &jb) in c.missing.iter().enumerate() {
                    scatter[[ja, jb]] += w * c.cov[[a, b]];
                }
            }
            *entropy += w * 0.5 * (c.missing.len() as f64 * LN_2PI_E + c.log_det);
        }
    }
}

/// Diagonal covariance: `out[b] = before[b] + Σ_{j observed} ln N(x_bj | μ_j, σ²_j)`.
pub fn mvn_diag_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    before: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    for ((i, missing), &b) in gaps.iter().zip(before.iter()) {
        let mut v = b;
        for j in observed_of(x.ncols(), missing) {
            let e = x[[i, j]] - mean[j];
            v -= 0.5 * (LN_2PI + var[j].ln() + e * e / var[j]);
        }
        out[i] = v;
    }
}

/// Diagonal covariance: adds `r_b (x̂_bj − μ_j)` to `sum[j]` and `r_b (x̂_bj − μ_j)²`, or
/// `r_b σ²_j` for a missing coordinate, to `sq[j]`, and `r_b Σ_{j missing} ½ ln 2πe σ²_j` to
/// `entropy`: a missing coordinate is independent of the others given the component.
#[allow(clippy::too_many_arguments)]
pub fn mvn_diag_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    mut sq: ArrayViewMut1<'_, f64>,
    entropy: &mut f64,
) {
    for (i, missing) in gaps.iter() {
        let r = resp[i];
        if r == 0.0 {
            continue;
        }
        for j in observed_of(x.ncols(), missing) {
            let e = x[[i, j]] - mean[j];
            sum[j] += r * e;
            sq[j] += r * e * e;
        }
        for &j in missing {
            sq[j] += r * var[j];
            *entropy += r * 0.5 * (LN_2PI_E + var[j].ln());
        }
    }
}

/// Spherical or known covariance `σ² I`: [`mvn_diag_log_density`] with every variance `σ²`.
pub fn mvn_spherical_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    var: f64,
    before: ArrayView1<'_, f64>,
    out: ArrayViewMut1<'_, f64>,
) {
    if gaps.is_empty() {
        return;
    }
    let var = Array1::from_elem(x.ncols(), var);
    mvn_diag_log_density(x, gaps, mean, var.view(), before, out);
}

/// Spherical or known covariance `σ² I`: [`mvn_diag_accumulate`] with every variance `σ²`.
#[allow(clippy::too_many_arguments)]
pub fn mvn_spherical_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    var: f64,
    resp: ArrayView1<'_, f64>,
    sum: ArrayViewMut1<'_, f64>,
    sq: ArrayViewMut1<'_, f64>,
    entropy: &mut f64,
) {
    if gaps.is_empty() {
        return;
    }
    let var = Array1::from_elem(x.ncols(), var);
    mvn_diag_accumulate(x, gaps, mean, var.view(), resp, sum, sq, entropy);
}

/// A block of one column (Normal, Poisson, exponential, categorical): a row whose cell is
/// missing keeps what the log-joint held before the block.
pub fn column_log_density(
    gaps: &GapsIn<'_>,
    before: ArrayView1<'_, f64>,
    out: ArrayViewMut1<'_, f64>,
) {
    restore(gaps, before, out);
}

/// Normal: a missing cell adds `0` to `Σ r (x − μ)`, `r σ²` to `Σ r (x − μ)²` and
/// `r ½ ln 2πe σ²` to `entropy`.
pub fn normal_accumulate(
    gaps: &GapsIn<'_>,
    var: f64,
    resp: ArrayView1<'_, f64>,
    sq: &mut f64,
    entropy: &mut f64,
) {
    let h = 0.5 * (LN_2PI_E + var.ln());
    add_per_missing_cell(gaps, resp, (var, sq), (h, entropy));
}

/// For every row of a one-column block whose cell is missing, adds `r · value` to the
/// statistic and `r · h` to the entropy.
fn add_per_missing_cell(
    gaps: &GapsIn<'_>,
    resp: ArrayView1<'_, f64>,
    (value, stat): (f64, &mut f64),
    (h, entropy): (f64, &mut f64),
) {
    let total: f64 = gaps.iter().map(|(i, _)| resp[i]).sum();
    *stat += total * value;
    *entropy += total * h;
}

/// Poisson: a missing count adds `r λ` to `Σ r x`, and `r (λ − λ ln λ)` to `entropy` (the
/// entropy of `Poisson(λ)` less `E[ln x!]`, which the log-likelihood's `ln x!` total does not
/// hold for a missing cell either).
pub fn poisson_accumulate(
    gaps: &GapsIn<'_>,
    rate: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    entropy: &mut f64,
) {
    let h = rate - xlny(rate, rate);
    add_per_missing_cell(gaps, resp, (rate, sum), (h, entropy));
}

/// Exponential: a missing value adds `r / λ` to `Σ r x` and `r (1 − ln λ)` to `entropy`.
pub fn exponential_accumulate(
    gaps: &GapsIn<'_>,
    rate: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    entropy: &mut f64,
) {
    let h = 1.0 - rate.ln();
    add_per_missing_cell(gaps, resp, (1.0 / rate, sum), (h, entropy));
}

/// Binomial (`T` trials): a missing count adds `r T p` to `Σ r x`, `r T` to `Σ r T` and
/// `r T H(Bernoulli(p))` to `entropy` (the entropy of `Binomial(T, p)` plus `E[ln C(T, x)]`,
/// which the per-row coefficients do not hold for a missing count).
pub fn binomial_accumulate(
    gaps: &GapsIn<'_>,
    trials: f64,
    prob: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    trials_sum: &mut f64,
    entropy: &mut f64,
) {
    let h = super::discrete::binomial_missing_entropy(trials, prob);
    let mut unused = 0.0;
    add_per_missing_cell(gaps, resp, (trials * prob, sum), (h, entropy));
    add_per_missing_cell(gaps, resp, (trials, trials_sum), (0.0, &mut unused));
}

/// [`binomial_accumulate`] with each row's own number of trials `t_b` (observed: a trials
/// column has no gap).
pub fn binomial_rows_accumulate(
    gaps: &GapsIn<'_>,
    t: ArrayView1<'_, f64>,
    prob: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    trials_sum: &mut f64,
    entropy: &mut f64,
) {
    let h = super::discrete::binomial_missing_entropy(1.0, prob);
    for (i, _) in gaps.iter() {
        let rt = resp[i] * t[i];
        *sum += rt * prob;
        *trials_sum += rt;
        *entropy += rt * h;
    }
}

/// Regression: a missing response adds its design `r a aᵀ` to `A` (the covariates are
/// observed), nothing to `Σ r a e` (its residual's conditional mean is zero under the
/// E-step's coefficients), `r s` to `Σ r e²` and `r ½ ln 2πe s` to `entropy`.
pub fn regression_accumulate(
    gaps: &GapsIn<'_>,
    u: ArrayView2<'_, f64>,
    var: f64,
    resp: ArrayView1<'_, f64>,
    mut scatter: ArrayViewMut2<'_, f64>,
    sumsq: &mut f64,
    entropy: &mut f64,
) {
    let p = u.ncols();
    let wide = scatter.nrows() == p + 1;
    let h = 0.5 * (LN_2PI_E + var.ln());
    for (i, _) in gaps.iter() {
        let r = resp[i];
        if r == 0.0 {
            continue;
        }
        let row = u.row(i);
        for a in 0..p {
            for b in 0..p {
                scatter[[a, b]] += r * row[a] * row[b];
            }
            if wide {
                scatter[[a, p]] += r * row[a];
                scatter[[p, a]] += r * row[a];
            }
        }
        if wide {
            scatter[[p, p]] += r;
        }
        *sumsq += r * var;
        *entropy += r * h;
    }
}

/// Adds `Σ_b r_b a_b a_bᵀ` and `Σ_b r_b a_b ê_bᵀ` over the given rows (`ê_b`, `r_b ê_b` row-major),
/// the design `a_b = (u_b, 1)` (without the 1 when `scatter` is as wide as `u`).
fn add_design(
    u: ArrayView2<'_, f64>,
    rows: &[usize],
    resp: &[f64],
    weighted: &[f64],
    mut scatter: ArrayViewMut2<'_, f64>,
    mut cross: ArrayViewMut2<'_, f64>,
) {
    let (p, width, d) = (u.ncols(), scatter.nrows(), cross.ncols());
    let mut a = Array2::ones((rows.len(), width));
    for (mut out, &i) in a.rows_mut().into_iter().zip(rows) {
        out.slice_mut(ndarray::s![..p]).assign(&u.row(i));
    }
    let ra = &a * &ArrayView1::from(resp).insert_axis(Axis(1));
    scatter += &ra.t().dot(&a);
    let weighted = ArrayView2::from_shape((rows.len(), d), weighted).expect("row-major");
    cross += &a.t().dot(&weighted);
}

/// Multivariate regression, full covariance: `out[b] = before[b] + ln N(e_o | 0, Σ_oo)` for
/// each row with a gap, `e = x − B u − μ` its residual ([`mvn_full_log_density`] of the
/// residuals).
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_full_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    cov: ArrayView2<'_, f64>,
    before: ArrayView1<'_, f64>,
    out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    if gaps.is_empty() {
        return;
    }
    let e = super::regression::residuals(x, u, coef, intercept);
    let zero = Array1::zeros(x.ncols());
    mvn_full_log_density(e.view(), gaps, zero.view(), cov, before, out, ws);
}

/// Multivariate regression, full covariance: for each row with a gap, its residual completed
/// by `E[e_m | e_o] = Σ_mo Σ_oo⁻¹ e_o` (the covariates are observed): adds `r a aᵀ` to the
/// design scatter, `r a êᵀ` to the cross, `r (ê êᵀ + C)` to the residual scatter and the
/// conditional's entropy to `entropy`.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_full_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    cov: ArrayView2<'_, f64>,
    resp: ArrayView1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    cross: ArrayViewMut2<'_, f64>,
    residual: ArrayViewMut2<'_, f64>,
    entropy: &mut f64,
    ws: &mut Workspace,
) {
    if gaps.is_empty() {
        return;
    }
    let e = super::regression::residuals(x, u, coef, intercept);
    let zero = Array1::zeros(x.ncols());
    let Some(done) = complete(e.view(), gaps, zero.view(), cov, resp, ws) else {
        return;
    };
    add_design(u, &done.rows, &done.resp, &done.weighted, scatter, cross);
    done.add_scatter(residual, entropy, ws.patterns.of(gaps, cov));
}

/// Multivariate regression, diagonal covariance: `out[b] = before[b] + Σ_{j observed}
/// ln N(e_bj | 0, v_j)`.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_diag_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    before: ArrayView1<'_, f64>,
    out: ArrayViewMut1<'_, f64>,
) {
    if gaps.is_empty() {
        return;
    }
    let e = super::regression::residuals(x, u, coef, intercept);
    let zero = Array1::zeros(x.ncols());
    mvn_diag_log_density(e.view(), gaps, zero.view(), var, before, out);
}

/// Multivariate regression, diagonal covariance: a missing coordinate's residual has
/// conditional mean zero and variance `v_j` (the coordinates are independent given the
/// component): adds `r a aᵀ`, `r a êᵀ`, `r ê_j²` or `r v_j`, and `r ½ ln 2πe v_j` per missing
/// cell.
#[allow(clippy::too_many_arguments)]
pub fn mv_regression_diag_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    u: ArrayView2<'_, f64>,
    coef: ArrayView2<'_, f64>,
    intercept: ArrayView1<'_, f64>,
    var: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    scatter: ArrayViewMut2<'_, f64>,
    cross: ArrayViewMut2<'_, f64>,
    mut sq: ArrayViewMut1<'_, f64>,
    entropy: &mut f64,
) {
    if gaps.is_empty() {
        return;
    }
    let e = super::regression::residuals(x, u, coef, intercept);
    let d = x.ncols();
    let (mut rows, mut rs, mut weighted) = (Vec::new(), Vec::new(), Vec::new());
    for (i, missing) in gaps.iter() {
        let r = resp[i];
        if r == 0.0 {
            continue;
        }
        let start = weighted.len();
        weighted.resize(start + d, 0.0);
        for j in observed_of(d, missing) {
            let v = e[[i, j]];
            weighted[start + j] = r * v;
            sq[j] += r * v * v;
        }
        for &j in missing {
            sq[j] += r * var[j];
            *entropy += r * 0.5 * (LN_2PI_E + var[j].ln());
        }
        rows.push(i);
        rs.push(r);
    }
    if !rows.is_empty() {
        add_design(u, &rows, &rs, &weighted, scatter, cross);
    }
}

/// Geometric: a missing count adds `r (1 − p) / p` to `Σ r x` and `r H(Geometric(p))` to
/// `entropy`.
pub fn geometric_accumulate(
    gaps: &GapsIn<'_>,
    prob: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    entropy: &mut f64,
) {
    let h = super::discrete::geometric_entropy(prob);
    add_per_missing_cell(gaps, resp, ((1.0 - prob) / prob, sum), (h, entropy));
}

/// Gamma of known shape `a`: a missing value adds `r a / b` to `Σ r x`, `r (ψ(a) − ln b)` to
/// `Σ r ln x` and `r H(Gamma(a, b))` to `entropy`.
pub fn gamma_accumulate(
    gaps: &GapsIn<'_>,
    shape: f64,
    rate: f64,
    resp: ArrayView1<'_, f64>,
    sum: &mut f64,
    log_sum: &mut f64,
    entropy: &mut f64,
) {
    let h = super::exponential::gamma_entropy(shape, rate);
    add_per_missing_cell(gaps, resp, (shape / rate, sum), (h, entropy));
    let mut unused = 0.0;
    let mean_log = super::exponential::gamma_mean_log(shape, rate);
    add_per_missing_cell(gaps, resp, (mean_log, log_sum), (0.0, &mut unused));
}

/// Categorical: a missing category adds `r p` to the counts and `r H(p)` to `entropy`.
pub fn categorical_accumulate(
    gaps: &GapsIn<'_>,
    prob: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut counts: ArrayViewMut1<'_, f64>,
    entropy: &mut f64,
) {
    let h: f64 = prob.iter().map(|&p| -xlny(p, p)).sum();
    for (i, _) in gaps.iter() {
        let r = resp[i];
        if r != 0.0 {
            counts.scaled_add(r, &prob);
            *entropy += r * h;
        }
    }
}

/// Bernoulli: `out[b] = before[b] + Σ_{j observed} [x_bj ln p_j + (1 − x_bj) ln(1 − p_j)]`.
pub fn bernoulli_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    prob: ArrayView1<'_, f64>,
    before: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    for ((i, missing), &b) in gaps.iter().zip(before.iter()) {
        let mut v = b;
        for j in observed_of(x.ncols(), missing) {
            let p = prob[j];
            v += if x[[i, j]] == 1.0 {
                p.ln()
            } else {
                (-p).ln_1p()
            };
        }
        out[i] = v;
    }
}

/// Bernoulli: adds `r x_bj`, or `r p_j` for a missing bit, to `sum[j]`, and
/// `r Σ_{j missing} H(p_j)` to `entropy`.
pub fn bernoulli_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    prob: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    entropy: &mut f64,
) {
    for (i, missing) in gaps.iter() {
        let r = resp[i];
        if r == 0.0 {
            continue;
        }
        for j in observed_of(x.ncols(), missing) {
            sum[j] += r * x[[i, j]];
        }
        for &j in missing {
            let p = prob[j];
            sum[j] += r * p;
            *entropy += r * -(xlny(p, p) + xlny(1.0 - p, 1.0 - p));
        }
    }
}

/// A linear-Gaussian block's posterior for one pattern of missing coordinates: the block
/// restricted to the observed coordinates (`None` with no observed coordinate, or if it
/// cannot be prepared).
struct FactorPattern {
    observed: Vec<usize>,
    post: Option<FactorPosterior>,
}

fn factor_pattern(
    w: ArrayView2<'_, f64>,
    psi: ArrayView1<'_, f64>,
    missing: &[usize],
) -> FactorPattern {
    let observed = observed_of(w.nrows(), missing);
    let post = (!observed.is_empty())
        .then(|| {
            FactorPosterior::new(
                w.select(Axis(0), &observed).view(),
                psi.select(Axis(0), &observed).view(),
            )
            .ok()
        })
        .flatten();
    FactorPattern { observed, post }
}

/// Linear-Gaussian block `x = W h + μ + ε`: `out[b] = before[b] + ln N(x_o | μ_o, W_o W_oᵀ +
/// Ψ_o)`, the marginal of the observed coordinates (Woodbury, as
/// [`linear::factor_add_log_density`](super::linear::factor_add_log_density)).
pub fn factor_log_density(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    w: ArrayView2<'_, f64>,
    psi: ArrayView1<'_, f64>,
    before: ArrayView1<'_, f64>,
    mut out: ArrayViewMut1<'_, f64>,
) {
    let mut seen: HashMap<&[usize], FactorPattern> = HashMap::new();
    for ((i, missing), &b) in gaps.iter().zip(before.iter()) {
        let pat = seen
            .entry(missing)
            .or_insert_with(|| factor_pattern(w, psi, missing));
        out[i] = match (&pat.post, pat.observed.is_empty()) {
            (_, true) => b,
            (None, false) => f64::NEG_INFINITY,
            (Some(post), false) => {
                let e: Array1<f64> = pat.observed.iter().map(|&j| x[[i, j]] - mean[j]).collect();
                let wo = w.select(Axis(0), &pat.observed);
                let po = psi.select(Axis(0), &pat.observed);
                // u = W_oᵀ Ψ_o⁻¹ e, E[h | x_o] = G u, and eᵀ C_o⁻¹ e = Σ e²/ψ − uᵀ G u.
                let scaled = &e / &po;
                let u = wo.t().dot(&scaled);
                let h = post.posterior_cov().dot(&u);
                let quad = (e.dot(&scaled) - u.dot(&h)).max(0.0);
                b - 0.5 * (pat.observed.len() as f64 * LN_2PI + post.log_det_marginal() + quad)
            }
        };
    }
}

/// Linear-Gaussian block: replaces the factor scores (`rows × L`, from
/// [`FactorPosterior::posterior_means`] of the placeholder-filled rows) of each row with a gap
/// by `E[h | x_o] = G_o W_oᵀ Ψ_o⁻¹ (x_o − μ_o)`, the posterior mean given its observed
/// coordinates alone (0, the prior's mean, when none is observed).
pub fn factor_scores(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    w: ArrayView2<'_, f64>,
    psi: ArrayView1<'_, f64>,
    mut scores: ArrayViewMut2<'_, f64>,
) {
    let mut seen: HashMap<&[usize], FactorPattern> = HashMap::new();
    for (i, missing) in gaps.iter() {
        let pat = seen
            .entry(missing)
            .or_insert_with(|| factor_pattern(w, psi, missing));
        let m = match (&pat.post, pat.observed.is_empty()) {
            (_, true) => Array1::zeros(w.ncols()),
            (None, false) => Array1::from_elem(w.ncols(), f64::NAN),
            (Some(p), false) => {
                let e: Array1<f64> = pat.observed.iter().map(|&j| x[[i, j]] - mean[j]).collect();
                p.projection().dot(&e)
            }
        };
        scores.row_mut(i).assign(&m);
    }
}

/// Linear-Gaussian block: adds each row's statistics (see [`super::linear`]) under the joint
/// posterior of `h` and the missing coordinates given the observed ones — `h | x_o ~
/// N(m_o, G_o)` from the observed coordinates alone, and `x_m = μ_m + W°_m h + ε_m` — so that
/// a missing coordinate adds `W°_j m_o` to the sum, its noise variance `ψ_j` to the expected
/// squared residual and nothing to the cross statistic. `entropy` takes the part of the
/// posterior's entropy the block's expected log-joint does not hold:
/// `½ (ln |M| − ln |M_o|)` (it counts `−½ ln |M|` of the complete rows' posterior `post`)
/// and `½ ln 2πe ψ_j` per missing coordinate.
#[allow(clippy::too_many_arguments)]
pub fn factor_accumulate(
    x: ArrayView2<'_, f64>,
    gaps: &GapsIn<'_>,
    mean: ArrayView1<'_, f64>,
    w: ArrayView2<'_, f64>,
    psi: ArrayView1<'_, f64>,
    post: &FactorPosterior,
    resp: ArrayView1<'_, f64>,
    mut sum: ArrayViewMut1<'_, f64>,
    mut resid_sq: ArrayViewMut1<'_, f64>,
    mut h_sum: ArrayViewMut1<'_, f64>,
    mut cross: ArrayViewMut2<'_, f64>,
    mut h_scatter: ArrayViewMut2<'_, f64>,
    entropy: &mut f64,
) {
    let l = w.ncols();
    let mut seen: HashMap<&[usize], FactorPattern> = HashMap::new();
    for (i, missing) in gaps.iter() {
        let r = resp[i];
        if r == 0.0 {
            continue;
        }
        let pat = seen
            .entry(missing)
            .or_insert_with(|| factor_pattern(w, psi, missing));
        let (m, g, log_det_precision) = match (&pat.post, pat.observed.is_empty()) {
            // Nothing observed: the prior N(0, I).
            (_, true) => (Array1::zeros(l), Array2::eye(l), 0.0),
            (None, false) => continue,
            (Some(p), false) => {
                let e: Array1<f64> = pat.observed.iter().map(|&j| x[[i, j]] - mean[j]).collect();
                (
                    p.projection().dot(&e),
                    p.posterior_cov().to_owned(),
                    p.log_det_precision(),
                )
            }
        };
        h_sum.scaled_add(r, &m);
        for a in 0..l {
            for b in 0..l {
                h_scatter[[a, b]] += r * (g[[a, b]] + m[a] * m[b]);
            }
        }
        for &j in &pat.observed {
            let wj = w.row(j);
            let e = x[[i, j]] - mean[j];
            let resid = e - wj.dot(&m);
            let gw = g.dot(&wj);
            sum[j] += r * e;
            resid_sq[j] += r * (resid * resid + wj.dot(&gw));
            for a in 0..l {
                cross[[a, j]] += r * (m[a] * resid - gw[a]);
            }
        }
        let mut h = 0.5 * (post.log_det_precision() - log_det_precision);
        for &j in missing {
            sum[j] += r * w.row(j).dot(&m);
            resid_sq[j] += r * psi[j];
            h += 0.5 * (LN_2PI_E + psi[j].ln());
        }
        *entropy += r * h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gaps::Gaps;
    use approx::assert_relative_eq;
    use ndarray::array;

    fn mvn_log_density(x: &[f64], mean: &[f64], cov: ArrayView2<'_, f64>) -> f64 {
        let c = Cholesky::new(cov).unwrap();
        let e: Vec<f64> = x.iter().zip(mean).map(|(a, b)| a - b).collect();
        let d = e.len();
        let mut y = faer::Mat::from_fn(d, 1, |i, _| e[i]);
        c.solve_lower_in_place(y.as_mut());
        let q: f64 = (0..d).map(|i| y[(i, 0)] * y[(i, 0)]).sum();
        -0.5 * (d as f64 * LN_2PI + c.log_det() + q)
    }

    #[test]
    fn full_marginal_is_the_density_of_the_observed_block() {
        let cov = array![[2.0, 0.6, 0.3], [0.6, 1.5, -0.4], [0.3, -0.4, 1.0]];
        let mean = array![1.0, -1.0, 0.5];
        let x = array![
            [1.5, f64::NAN, 0.0],
            [f64::NAN, f64::NAN, f64::NAN],
            [0.2, 0.3, f64::NAN]
        ];
        let gaps = Gaps::find(x.view());
        let chunk = gaps.within(0..3);
        let before = array![1.0, 2.0, 3.0];
        let mut out = Array1::<f64>::zeros(3);
        mvn_full_log_density(
            x.view(),
            &chunk,
            mean.view(),
            cov.view(),
            before.view(),
            out.view_mut(),
            &mut Workspace::default(),
        );
        let sub = |o: &[usize]| cov.select(Axis(0), o).select(Axis(1), o);
        let m0 = mvn_log_density(&[1.5, 0.0], &[1.0, 0.5], sub(&[0, 2]).view());
        let m2 = mvn_log_density(&[0.2, 0.3], &[1.0, -1.0], sub(&[0, 1]).view());
        assert_relative_eq!(out[0], 1.0 + m0, epsilon = 1e-12);
        assert_eq!(out[1], 2.0);
        assert_relative_eq!(out[2], 3.0 + m2, epsilon = 1e-12);
    }

    #[test]
    fn full_statistics_are_conditional_moments() {
        // One coordinate missing of two: E[x₁ | x₀] = μ₁ + Σ₁₀/Σ₀₀ (x₀ − μ₀) and
        // Var[x₁ | x₀] = Σ₁₁ − Σ₁₀²/Σ₀₀.
        let cov = array![[2.0, 0.8], [0.8, 1.0]];
        let mean = array![1.0, -1.0];
        let x = array![[2.0, f64::NAN]];
        let gaps = Gaps::find(x.view());
        let (mut sum, mut scatter, mut h) =
            (Array1::<f64>::zeros(2), Array2::<f64>::zeros((2, 2)), 0.0);
        mvn_full_accumulate(
            x.view(),
            &gaps.within(0..1),
            mean.view(),
            cov.view(),
            array![0.5].view(),
            sum.view_mut(),
            scatter.view_mut(),
            &mut h,
            &mut Workspace::default(),
        );
        let (e0, e1): (f64, f64) = (1.0, 0.8 / 2.0 * 1.0);
        let v: f64 = 1.0 - 0.8 * 0.8 / 2.0;
        let want_sum = [0.5 * e0, 0.5 * e1];
        let want_scatter = [
            [0.5 * e0 * e0, 0.5 * e0 * e1],
            [0.5 * e0 * e1, 0.5 * (e1 * e1 + v)],
        ];
        for a in 0..2 {
            assert_relative_eq!(sum[a], want_sum[a], epsilon = 1e-14);
            for b in 0..2 {
                assert_relative_eq!(scatter[[a, b]], want_scatter[a][b], epsilon = 1e-14);
            }
        }
        assert_relative_eq!(h, 0.5 * 0.5 * (LN_2PI_E + v.ln()), epsilon = 1e-14);
    }

    #[test]
    fn diagonal_and_column_gaps() {
        let x = array![[1.0, f64::NAN]];
        let gaps = Gaps::find(x.view());
        let chunk = gaps.within(0..1);
        let mut out = array![0.0];
        mvn_diag_log_density(
            x.view(),
            &chunk,
            array![0.0, 5.0].view(),
            array![4.0, 9.0].view(),
            array![0.5].view(),
            out.view_mut(),
        );
        assert_relative_eq!(
            out[0],
            0.5 - 0.5 * (LN_2PI + 4f64.ln() + 0.25),
            epsilon = 1e-14
        );
        let (mut sum, mut sq, mut h) = (Array1::<f64>::zeros(2), Array1::<f64>::zeros(2), 0.0);
        mvn_diag_accumulate(
            x.view(),
            &chunk,
            array![0.0, 5.0].view(),
            array![4.0, 9.0].view(),
            array![2.0].view(),
            sum.view_mut(),
            sq.view_mut(),
            &mut h,
        );
        assert_eq!(sum, array![2.0, 0.0]);
        assert_eq!(sq, array![2.0, 18.0]);
        assert_relative_eq!(h, 2.0 * 0.5 * (LN_2PI_E + 9f64.ln()), epsilon = 1e-14);
        let (mut s, mut e) = (0.0, 0.0);
        poisson_accumulate(&chunk, 3.0, array![1.0].view(), &mut s, &mut e);
        assert_eq!(s, 3.0);
        assert_relative_eq!(e, 3.0 - 3.0 * 3f64.ln(), epsilon = 1e-14);
    }
}
