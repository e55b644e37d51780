//! The contract between a mixture model (generated or executed from a plan) and the EM driver.
//!
//! A model supplies the per-block pieces — the log-joint `ln p(x_n, z_n = k)` for a block of
//! rows, the weighted sufficient statistics, the M-step and the expected complete-data
//! log-likelihood — and the driver in [`crate::em`] does everything that is the same for
//! every mixture: chunking, the log-space normalisation, parallel reduction, convergence,
//! the monotonicity guard, initialisation and restarts.

use std::fmt::Debug;
use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};
use rand::RngCore;
use smallvec::SmallVec;

use crate::error::{FitError, NumericalIssue};
use crate::kernels::lanes::{self, Lanes, LANES};
use crate::kernels::SlicesMut;

/// A variance or covariance whose value comes mostly from the regularising prior: the rows
/// of its component are (nearly) identical in some direction, where the likelihood alone
/// would be unbounded.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorHit {
    /// The parameter.
    pub param: String,
    /// Its component, for a per-component parameter.
    pub component: Option<usize>,
    /// The prior's share of the variance in the worst direction.
    pub share: f64,
}

/// Settings of the M-step that are not part of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MStepConfig {
    /// Strength `ε` of the regularising prior on every variance and covariance, relative to
    /// each data column's scale `s_d` (its variance): the prior `ln p(Σ) = −½ ε Σ_d s_d
    /// (Σ⁻¹)_dd` adds `ε·diag(s)` to the scatter in each covariance M-step, `Σ = (S +
    /// ε·diag(s)) / N_k`. It keeps covariances positive definite when a component sits on
    /// fewer points than dimensions, keeps the penalised objective bounded, and — being
    /// relative to the columns' scales — leaves a fit unchanged when a column's units change.
    /// `0` is maximum likelihood. Must be finite and at least 0.
    pub reg_covar: f64,
}

impl MStepConfig {
    /// Fails with [`FitError::InvalidOption`] unless `reg_covar` is a finite number at
    /// least 0. Called by every entry point of [`crate::em`] that takes a configuration.
    pub fn check(&self) -> Result<(), FitError> {
        if self.reg_covar.is_finite() && self.reg_covar >= 0.0 {
            Ok(())
        } else {
            Err(FitError::InvalidOption {
                option: "reg_covar",
                value: self.reg_covar.to_string(),
                reason: "the covariance regularisation must be a finite number at least 0",
            })
        }
    }
}

impl Default for MStepConfig {
    fn default() -> Self {
        Self { reg_covar: 1e-6 }
    }
}

/// Scratch buffers reused across blocks of rows, so the E-step allocates nothing per point.
#[derive(Debug, Default)]
pub struct Workspace {
    a: Vec<f64>,
    b: Vec<f64>,
    /// The conditionals of the missing-coordinate patterns met in this pass.
    pub(crate) patterns: crate::kernels::missing::PatternCache,
    /// A value computed from parameters, after the parameters it was computed from (see
    /// [`Workspace::memo_single`]).
    memo: Vec<f64>,
    /// Single-precision values computed with the memo, and
    /// single-precision scratch after them.
    single: Vec<f32>,
}

impl Workspace {
    /// Two scratch slices of the requested lengths (contents unspecified).
    pub fn two(&mut self, len_a: usize, len_b: usize) -> (&mut [f64], &mut [f64]) {
        if self.a.len() < len_a {
            self.a.resize(len_a, 0.0);
        }
        if self.b.len() < len_b {
            self.b.resize(len_b, 0.0);
        }
        (&mut self.a[..len_a], &mut self.b[..len_b])
    }

    /// `N` scratch slices of the requested lengths (contents unspecified), cut from one
    /// buffer.
    pub fn slices<const N: usize>(&mut self, lens: [usize; N]) -> [&mut [f64]; N] {
        cut(&mut self.a, lens)
    }

    /// A slice of `len` values computed from the numbers `key` (a kernel's parameters),
    /// kept from one block of rows to the next: `true` when it holds what was computed for
    /// the same numbers (so the kernel may skip computing it again), `false` when it is to be
    /// filled. Also `N` scratch slices, as [`Workspace::slices`]; and `single` values in
    /// `f32` kept with the memo (to be filled with it; the key must tell apart kernels that
    /// keep different counts of them), and `single_scratch` values of `f32` scratch.
    #[allow(clippy::type_complexity)]
    pub(crate) fn memo_single<const N: usize>(
        &mut self,
        key: &[&[f64]],
        len: usize,
        lens: [usize; N],
        single: usize,
        single_scratch: usize,
    ) -> (bool, &mut [f64], [&mut [f64]; N], (&mut [f32], &mut [f32])) {
        let key_len: usize = key.iter().map(|k| k.len()).sum();
        // Bitwise equality, part by part.
        let same = self.memo.len() == key_len + len && {
            let mut at = 0;
            key.iter().all(|part| {
                let stored = &self.memo[at..at + part.len()];
                at += part.len();
                stored
                    .iter()
                    .zip(part.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            })
        };
        // (A memo filled without single values, or with fewer, is not the same.)
        let same = same && self.single.len() >= single + single_scratch;
        if !same {
            self.memo.clear();
            for part in key {
                self.memo.extend_from_slice(part);
            }
            self.memo.resize(key_len + len, 0.0);
        }
        if self.single.len() < single + single_scratch {
            self.single.resize(single + single_scratch, 0.0);
        }
        let singles = self.single[..single + single_scratch].split_at_mut(single);
        (
            same,
            &mut self.memo[key_len..],
            cut(&mut self.a, lens),
            singles,
        )
    }
}

/// `N` slices of the requested lengths cut from `buf` (grown as needed).
fn cut<const N: usize>(buf: &mut Vec<f64>, lens: [usize; N]) -> [&mut [f64]; N] {
    let total: usize = lens.iter().sum();
    if buf.len() < total {
        buf.resize(total, 0.0);
    }
    let mut rest = &mut buf[..total];
    lens.map(|len| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        head
    })
}

/// Each row's two best scores of a block, as the hard E-step's argmax reads them (the
/// spherical scores' double-precision pass, see [`MixtureModel::hard_step`]).
#[derive(Debug)]
pub struct TopTwo<'a> {
    /// The best component of each row (the lowest index on a tie; `0` when no score is
    /// above `−∞`).
    pub at: &'a mut [u64],
    /// Its score.
    pub best: &'a mut [f64],
    /// The second best score (equal to `best` on a tie, `−∞` with one component).
    pub second: &'a mut [f64],
    /// Whether a score was NaN (the caller then takes every row's exact values).
    pub nan: bool,
}

/// What the hard E-step's one pass ([`MixtureModel::hard_step`]) writes for a block of rows.
#[derive(Debug)]
pub struct Assigned<'a> {
    /// Each row's component.
    pub at: &'a mut [u64],
    /// `ln p(x_n, z_n)` at it, within the pass's round-off bound.
    pub best: &'a mut [f64],
    /// The rows (offsets in the block) the pass left to the caller: their entries of `at`
    /// and `best` are unspecified, and their statistics were not added. The caller hands it
    /// over empty; the pass only pushes to it.
    pub deferred: &'a mut Vec<u32>,
}

/// Whether a row's best and second best approximate values, each within `bound` of the
/// exact one, may belong to a tie of the exact values (or are not numbers, or the best is
/// `−∞`, which an approximation may reach by overflow where the exact value is finite): the
/// hard E-step then takes the row's exact values. The allowance beyond `2 · bound` covers the
/// rounding of adding the scores to the log-joint in both computations.
pub fn near_tie(best: f64, second: f64, bound: f64) -> bool {
    let slack = 2.0 * bound + 8.0 * f64::EPSILON * (best.abs() + second.abs());
    let gap = best - second;
    gap <= slack || gap.is_nan() || best == f64::NEG_INFINITY
}

/// Expected statistics of the discrete latent itself, handed to the M-step beside the
/// emission statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentStats {
    /// `N_k = Σ_n q(z_n = k)`.
    pub counts: Array1<f64>,
    /// Chains: `Σ_sequences q(z_0 = k)`, the statistics of the initial distribution.
    /// Zero for mixtures.
    pub initial: Array1<f64>,
    /// Chains: `Σ_t q(z_t = i, z_{t+1} = j)`, `K × K` (row = from). Zero for mixtures.
    pub transitions: Array2<f64>,
}

impl LatentStats {
    /// No data yet, for `k` components.
    pub fn zeros(k: usize) -> Self {
        Self {
            counts: Array1::zeros(k),
            initial: Array1::zeros(k),
            transitions: Array2::zeros((k, k)),
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Self) {
        self.counts += &other.counts;
        self.initial += &other.initial;
        self.transitions += &other.transitions;
    }
}

/// The prior of a chain-structured latent, in log space, as prepared for one iteration.
#[derive(Debug, Clone, Copy)]
pub struct ChainPrior<'c> {
    /// `ln π_k`, the initial distribution.
    pub log_initial: ArrayView1<'c, f64>,
    /// `ln A_ij`, the transition matrix (row = from).
    pub log_transition: ArrayView2<'c, f64>,
}

/// A latent-variable model with a discrete latent `z_n ∈ 0..K` per row — independent across
/// rows (a mixture) or a Markov chain along each sequence (a hidden Markov model) — and any
/// product of emission blocks. Implemented by generated code and by the plan executor.
pub trait MixtureModel: Sync {
    /// Parameters, as named in the model file.
    type Params: Clone + Debug + Send + Sync;
    /// Quantities derived from the parameters once per iteration (Cholesky factors, logs).
    type Cache: Sync;
    /// Expected sufficient statistics: a monoid under [`MixtureModel::merge`].
    type Stats: Clone + Send;

    /// Number of rows (independent observations).
    fn n_rows(&self) -> usize;
    /// Number of mixture components `K`.
    fn n_components(&self) -> usize;
    /// Factors covariances and takes logs; fails on parameters outside their constraints.
    fn prepare(&self, params: &Self::Params) -> Result<Self::Cache, NumericalIssue>;
    /// Adds `ln p(x_n, z_n = k)` to `out[[n - rows.start, k]]` (the buffer starts zeroed; or
    /// writes it, whatever the buffer held, when [`MixtureModel::log_joint_writes`] says so).
    /// For a chain the prior of `z` is applied by forward–backward, so this adds only the
    /// emissions `ln p(x_n | z_n = k)`.
    fn log_joint(
        &self,
        cache: &Self::Cache,
        rows: Range<usize>,
        out: ArrayViewMut2<'_, f64>,
        ws: &mut Workspace,
    );
    /// Statistics of no data.
    fn zero_stats(&self) -> Self::Stats;
    /// Adds the statistics of `rows` weighted by the responsibilities `resp` (`rows × K`).
    fn accumulate(
        &self,
        cache: &Self::Cache,
        rows: Range<usize>,
        resp: ArrayView2<'_, f64>,
        stats: &mut Self::Stats,
        ws: &mut Workspace,
    );
    /// Whether [`log_joint`] writes every entry of `out`, whatever it held (its first term
    /// sets the block, as a mixture's prior of `z` does, and the rest add to it), so that the
    /// E-step need not zero the buffer first: one pass less over each block. The default,
    /// `false`, keeps [`log_joint`]'s contract of adding to zeros.
    ///
    /// [`log_joint`]: MixtureModel::log_joint
    fn log_joint_writes(&self) -> bool {
        false
    }
    /// The hard E-step's scores, when the model has a faster form of [`log_joint`] for them
    /// (every component at once): adds to `out` (zeroed by the caller) values within `bound[b]` of
    /// `ln p(x_n, z_n = k)` and returns `true`. The hard E-step takes its argmax from them
    /// and recomputes with [`log_joint`] the rows whose two best values are closer than
    /// twice the bound. The default, with no faster form, returns `false`.
    ///
    /// [`log_joint`]: MixtureModel::log_joint
    fn log_joint_bounded(
        &self,
        _cache: &Self::Cache,
        _rows: Range<usize>,
        _out: ArrayViewMut2<'_, f64>,
        _bound: ArrayViewMut1<'_, f64>,
        _ws: &mut Workspace,
    ) -> bool {
        false
    }
    /// The hard E-step of unweighted rows in one pass, when the model has one (a mixture of
    /// one block with scores of every component at once, and a prior of the latent that is
    /// the same for every row): writes into `assigned` each row's most probable component
    /// and `ln p(x_n, z_n)` there (within a round-off bound: the objective is evaluated from
    /// the statistics), adds the row's statistics under that assignment to `stats` (as
    /// [`accumulate_assigned`] would), and returns `true`. Rows whose component the pass
    /// cannot tell apart from the runner-up within its error bound are listed in
    /// `assigned.deferred` instead, with nothing written or added: the caller assigns them
    /// with [`log_joint`]. The default, with no such pass, returns `false`.
    ///
    /// [`log_joint`]: MixtureModel::log_joint
    /// [`accumulate_assigned`]: MixtureModel::accumulate_assigned
    fn hard_step(
        &self,
        _cache: &Self::Cache,
        _rows: Range<usize>,
        _assigned: &mut Assigned<'_>,
        _stats: &mut Self::Stats,
        _ws: &mut Workspace,
    ) -> bool {
        false
    }
    /// [`accumulate`](MixtureModel::accumulate) under a hard E-step: row `rows.start + b`
    /// belongs to component `assignments[b]` alone. The default accumulates [`one_hot`]
    /// responsibilities; models with a faster form for the statistics of an assignment
    /// override it.
    fn accumulate_assigned(
        &self,
        cache: &Self::Cache,
        rows: Range<usize>,
        assignments: &[u32],
        stats: &mut Self::Stats,
        ws: &mut Workspace,
    ) {
        let resp = one_hot(assignments, self.n_components());
        self.accumulate(cache, rows, resp.view(), stats, ws);
    }
    /// Adds `other` into `into`.
    fn merge(&self, into: &mut Self::Stats, other: &Self::Stats);
    /// The closed-form M-step. Components with zero count keep their previous parameters;
    /// the driver re-seeds them.
    fn m_step(
        &self,
        stats: &Self::Stats,
        latent: &LatentStats,
        prev: &Self::Params,
        config: &MStepConfig,
    ) -> Result<Self::Params, NumericalIssue>;
    /// `E_q[ln p(x, z | θ)]` from the statistics, for the ELBO `E_q[ln p(x, z | θ)] + H(q)`.
    /// `centre` are the parameters the statistics were accumulated under. A continuous
    /// latent `h` (linear-Gaussian blocks) is part of the expectation, and the entropy of its
    /// posterior `q(h | x, z)`, fixed by `centre`, is included here, so that `H(q)` of the
    /// driver is that of the discrete latent alone.
    fn expected_log_joint(
        &self,
        stats: &Self::Stats,
        latent: &LatentStats,
        centre: &Self::Params,
        params: &Self::Params,
    ) -> Result<f64, NumericalIssue>;
    /// The log-density of the regularising prior at `params` (`−½ ε Σ s/σ²` over every
    /// regularised variance and covariance, see [`crate::kernels::gaussian`]): EM maximises
    /// `ln p(x | θ) + ln p(θ)`, so the driver monitors that sum. Zero for a model without
    /// regularised updates.
    fn log_prior(&self, params: &Self::Params, config: &MStepConfig) -> f64 {
        let _ = (params, config);
        0.0
    }
    /// The variances and covariances at `params` that sit at the regularisation floor: the
    /// prior makes up more than [`crate::kernels::gaussian::FLOOR_SHARE`] of them in some
    /// direction (`latent.counts` weigh each component). Empty for a model without
    /// regularised updates.
    fn floor_hits(
        &self,
        params: &Self::Params,
        latent: &LatentStats,
        config: &MStepConfig,
    ) -> Vec<FloorHit> {
        let _ = (params, latent, config);
        Vec::new()
    }
    /// The E-step a fit uses unless [`crate::FitOptions::e_step`] chooses: soft (EM) by
    /// default, hard for a model written with `estep hard` (k-means).
    fn e_step_mode(&self) -> crate::EStepMode {
        crate::EStepMode::Soft
    }
    /// The within-cluster sum of squares for the complete-data log-likelihood `complete`,
    /// for a model in which it is an affine function of it (known covariances `c I` and
    /// equal weights: k-means; [`inertia`]); `None` for other models.
    fn inertia(&self, _complete: f64) -> Option<f64> {
        None
    }
    /// The largest number of factors (latent dimensions) of a linear-Gaussian block; 0 for
    /// none. The driver refuses fewer than that plus two rows.
    fn factors(&self) -> usize {
        0
    }
    /// Number of free parameters, for BIC and AIC.
    fn free_parameters(&self) -> usize;
    /// Size of terms that cancel in the log-likelihood (e.g. `Σ ln x!` of count data), so
    /// the monotonicity guard allows for their round-off. Zero for most models.
    fn log_density_magnitude(&self) -> f64 {
        0.0
    }
    /// Parameters used only as the centre of the statistics during initialisation
    /// (component means at the data mean, unit variances, uniform weights).
    fn neutral_params(&self) -> Self::Params;
    /// Draws what hard labels cannot determine in the starting parameters — the loadings of
    /// a continuous latent — into the neutral parameters before the initial M-step, so that
    /// restarts differ there too. Nothing to draw by default.
    fn randomise_neutral(&self, _params: &mut Self::Params, _rng: &mut dyn RngCore) {}
    /// Numeric features (one row per observation) on which k-means++ seeding runs.
    fn init_features(&self) -> Array2<f64>;
    /// [`MixtureModel::init_features`] as a view of what the model holds, when it holds them
    /// as one column-major array: the seeding then gathers its sample's rows from it and
    /// scales every row block by block, without copying all the data twice. `None` (the
    /// default) takes the copies of [`MixtureModel::init_features`].
    fn init_features_view(&self) -> Option<ArrayView2<'_, f64>> {
        None
    }
    /// Whether seeding runs on the features as they are rather than standardised: for a
    /// model with a known covariance `c I` (k-means), whose objective is measured in the
    /// data's units, so that seeding sees the distances the fit will.
    fn init_in_data_units(&self) -> bool {
        false
    }
    /// Whether a component that loses its rows is kept as it is rather than re-seeded:
    /// under variational Bayes an empty component falls back to its prior, which is how
    /// surplus components are pruned.
    fn keeps_empty_components(&self) -> bool {
        false
    }
    /// Replaces component `k` by a broad component centred on row `row`, with a small weight.
    fn reseed(&self, params: &mut Self::Params, k: usize, row: usize);
    /// The E-step from summaries of the data that the model keeps, without a pass over the
    /// rows, for a single-component model (`n_components() == 1`) whose statistics are all
    /// functions of them — a linear-Gaussian model without a discrete latent, whose
    /// statistics and log-likelihood are linear in the sample mean and scatter. Returns the
    /// statistics and `ln p(x | θ)`. `None` (the default) runs the E-step over the rows.
    fn e_step_from_summaries(&self, _cache: &Self::Cache) -> Option<(Self::Stats, f64)> {
        None
    }
    /// A weight per row (`data w[N]: weight`), multiplying the row's statistics and its terms
    /// of the objective: a row of weight 2 counts as two copies of it, a row of weight 0 as
    /// none. In a chain every row of a sequence has the sequence's weight. `None`: every row
    /// weighs 1.
    fn row_weights(&self) -> Option<&[f64]> {
        None
    }
    /// The latent's value where the data give it (`latent z[N]: 0..K from (col)`, partial
    /// labels): those rows' posteriors are clamped to it, and their terms of the objective are
    /// `ln p(x_n, z_n)`. `None` where a row is unlabelled; `None` overall without labels.
    fn row_labels(&self) -> Option<&[Option<u32>]> {
        None
    }
    /// Whether a data item has a missing cell ([`crate::gaps`]). The driver then takes the
    /// general forms ([`log_joint`](MixtureModel::log_joint) and
    /// [`accumulate`](MixtureModel::accumulate)) where a faster one has no form for a gap.
    fn has_gaps(&self) -> bool {
        false
    }
    /// The sequences of a chain-structured latent: ordered, contiguous row ranges covering
    /// every row. `None` for a mixture (rows independent).
    fn sequences(&self) -> Option<&[Range<usize>]> {
        None
    }
    /// The chain's prior under prepared parameters (`None` for a mixture).
    fn chain_prior<'c>(&self, _cache: &'c Self::Cache) -> Option<ChainPrior<'c>> {
        None
    }
}

/// Turns each row of a log-joint block into responsibilities, in place.
///
/// Returns `(Σ_n ln p(x_n), H(q))` for the block and writes `ln p(x_n)` into `row_ll`.
pub fn normalise_rows(lj: ArrayViewMut2<'_, f64>, row_ll: &mut [f64]) -> (f64, f64) {
    normalise_rows_into(lj, row_ll, None, true)
}

/// [`normalise_rows`], and each column's sum of the responsibilities (the block's expected
/// counts) added to `counts`, the values [`add_counts`] adds: a column-major block's sums are
/// taken as its responsibilities are written, without a second pass over the block.
pub fn normalise_rows_counting(
    lj: ArrayViewMut2<'_, f64>,
    row_ll: &mut [f64],
    counts: &mut Array1<f64>,
) -> (f64, f64) {
    normalise_rows_into(lj, row_ll, Some(counts), true)
}

/// [`normalise_rows_counting`] without the entropy: only `Σ_n ln p(x_n)`. A fit takes `H(q)`
/// from its totals instead (`ln p(x) − E_q[ln p(x, z)]`, [`crate::em`]), which spares each
/// value's term of it (`e · (ℓ − max)`: a multiplication, a comparison and an addition).
pub(crate) fn normalise_rows_counting_without_entropy(
    lj: ArrayViewMut2<'_, f64>,
    row_ll: &mut [f64],
    counts: &mut Array1<f64>,
) -> f64 {
    normalise_rows_into(lj, row_ll, Some(counts), false).0
}

/// The normalisations; `entropy: false` may leave `H` out (returning 0 for it).
fn normalise_rows_into(
    mut lj: ArrayViewMut2<'_, f64>,
    row_ll: &mut [f64],
    counts: Option<&mut Array1<f64>>,
    entropy: bool,
) -> (f64, f64) {
    let Some(counts) = counts else {
        return normalise_rows_any(lj, row_ll);
    };
    if column_form(&lj) {
        if let Some(counts) = counts.as_slice_mut() {
            return normalise_columns(lj, row_ll, Some(counts), entropy);
        }
    }
    let totals = normalise_rows_any(lj.view_mut(), row_ll);
    add_counts(lj.view(), counts);
    totals
}

/// Whether a block goes through [`normalise_columns`]: column-major, with more than one row
/// and component.
fn column_form(lj: &ArrayViewMut2<'_, f64>) -> bool {
    let (m, k) = lj.dim();
    m > 1 && k > 1 && lj.stride_of(Axis(0)) == 1
}

/// [`normalise_rows`] of any layout.
fn normalise_rows_any(mut lj: ArrayViewMut2<'_, f64>, row_ll: &mut [f64]) -> (f64, f64) {
    if column_form(&lj) {
        return normalise_columns(lj, row_ll, None, true);
    }
    let (m, k) = lj.dim();
    // Shift every row by its maximum, then take all exponentials of the block in one
    // vectorised pass: e = exp(ℓ − max), r = e / Σe, ln p(x) = max + ln Σe.
    let mut shifted = vec![f64::NEG_INFINITY; (m * k).div_ceil(4) * 4];
    let mut bad = vec![false; m];
    for (b, row) in lj.rows().into_iter().enumerate() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row_ll[b] = max;
        bad[b] = !max.is_finite();
        if row.iter().any(|v| v.is_nan()) {
            row_ll[b] = f64::NAN;
            bad[b] = true;
        }
        for (s, &v) in shifted[b * k..(b + 1) * k].iter_mut().zip(row.iter()) {
            *s = v - max;
        }
    }
    let mut exps = vec![0.0; shifted.len()];
    exp_in_place(&shifted, &mut exps);
    // Row b's terms go to lane b mod NORM_TILE, summed at the end: the column form's order.
    let (mut loglik, mut entropy) = ([0.0; NORM_TILE], [0.0; NORM_TILE]);
    for (b, mut row) in lj.rows_mut().into_iter().enumerate() {
        if bad[b] {
            // No component can explain this row (or a value is NaN): report it through the
            // log-likelihood, which the driver checks, and leave a usable distribution.
            let ll = if row_ll[b].is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
            row_ll[b] = ll;
            row.fill(1.0 / k as f64);
            loglik[b % NORM_TILE] += ll;
            continue;
        }
        let e = &exps[b * k..(b + 1) * k];
        let sh = &shifted[b * k..(b + 1) * k];
        let mut sum = 0.0;
        let mut weighted = 0.0;
        for (&ev, &sv) in e.iter().zip(sh) {
            sum += ev;
            weighted += if ev > 0.0 { ev * sv } else { 0.0 };
        }
        let log_sum = ln_lane(sum);
        let inv = 1.0 / sum;
        for (v, &ev) in row.iter_mut().zip(e) {
            *v = ev * inv;
        }
        // H = −Σ r ln r = −Σ (e/S)(shifted − ln S) = ln S − (Σ e·shifted)/S.
        entropy[b % NORM_TILE] += log_sum - weighted * inv;
        row_ll[b] += log_sum;
        loglik[b % NORM_TILE] += row_ll[b];
    }
    (lane_total(&loglik), lane_total(&entropy))
}

/// `Σ` of a row tile's per-lane sums, in a fixed order (a tree).
#[inline(always)]
fn lane_total(v: &[f64; NORM_TILE]) -> f64 {
    let mut w = *v;
    let mut width = NORM_TILE;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            w[i] += w[i + width];
        }
    }
    w[0]
}

/// [`normalise_rows`] of a column-major block: the same operations on every value, and every
/// row's sums over the components in the same order, so the results are identical; but each
/// step runs across [`NORM_TILE`] rows at a time, in vector registers, every component's
/// column of the tile before the next tile (one pass over the block, no buffers). Without
/// `entropy`, `H` is left out (0).
fn normalise_columns(
    lj: ArrayViewMut2<'_, f64>,
    row_ll: &mut [f64],
    counts: Option<&mut [f64]>,
    entropy: bool,
) -> (f64, f64) {
    // (Two kernels, each compiled on its own.)
    if entropy {
        lanes::dispatch(NormaliseColumns::<true> { lj, row_ll, counts })
    } else {
        lanes::dispatch(NormaliseColumns::<false> { lj, row_ll, counts })
    }
}

/// [`normalise_columns`] as a kernel: the exponentials in vectors of [`LANES`], the rest of
/// each step as plain loops over the tile's rows, which the compiler vectorises for the same
/// instructions.
struct NormaliseColumns<'a, 'b, const ENTROPY: bool> {
    lj: ArrayViewMut2<'a, f64>,
    row_ll: &'b mut [f64],
    /// Where to add each column's sum, if wanted.
    counts: Option<&'b mut [f64]>,
}

impl<const ENTROPY: bool> lanes::Kernel for NormaliseColumns<'_, '_, ENTROPY> {
    type Output = (f64, f64);

    #[inline(always)]
    fn run<V: Lanes>(self) -> (f64, f64) {
        normalise_columns_lanes::<V, ENTROPY>(self.lj, self.row_ll, self.counts)
    }
}

/// Rows per step of [`normalise_columns`]: four vectors of eight, one block of
/// [`exp_tiles`].
const NORM_TILE: usize = EXP_BLOCK;

#[inline(always)]
fn normalise_columns_lanes<V: Lanes, const ENTROPY: bool>(
    mut lj: ArrayViewMut2<'_, f64>,
    row_ll: &mut [f64],
    counts: Option<&mut [f64]>,
) -> (f64, f64) {
    let (m, k) = lj.dim();
    let uniform = 1.0 / k as f64;
    let mut columns: SlicesMut<'_> = lj
        .columns_mut()
        .into_iter()
        .map(|c| c.into_slice().expect("a contiguous column"))
        .collect();
    // Each column's partial sums as `ColumnSum` keeps them (vector `i` of a tile is tile
    // `i mod 4` of the column), when the counts are wanted.
    let mut sums: SmallVec<[[V; NORM_VECTORS]; 16]> =
        smallvec::smallvec![[V::splat(0.0); NORM_VECTORS]; if counts.is_some() { k } else { 0 }];
    // Each row's terms of `Σ ln p(x)` and `H` in its lane of the tile, summed at the end.
    let (mut loglik, mut entropy) = ([0.0; NORM_TILE], [0.0; NORM_TILE]);
    let whole = m / NORM_TILE * NORM_TILE;
    for start in (0..whole).step_by(NORM_TILE) {
        let (ll, h) = normalise_tile::<V, ENTROPY>(&mut columns, start, uniform, &mut sums);
        row_ll[start..start + NORM_TILE].copy_from_slice(&ll);
        for (((total, ll), sum), h) in loglik.iter_mut().zip(ll).zip(&mut entropy).zip(h) {
            *total += ll;
            *sum += h;
        }
    }
    if whole < m {
        // The last, partial tile through a padded copy (rows of 0, whose results are not
        // read).
        let len = m - whole;
        let mut padded = vec![[0.0; NORM_TILE]; k];
        for (tile, col) in padded.iter_mut().zip(&columns) {
            tile[..len].copy_from_slice(&col[whole..]);
        }
        let mut tiles: Vec<&mut [f64]> = padded.iter_mut().map(|t| &mut t[..]).collect();
        let (ll, h) = normalise_tile::<V, ENTROPY>(&mut tiles, 0, uniform, &mut []);
        for (col, tile) in columns.iter_mut().zip(&padded) {
            col[whole..].copy_from_slice(&tile[..len]);
        }
        // The rest of each column's sum in zero-padded tiles, as `ColumnSum` takes it.
        for (col, sums) in columns.iter().zip(&mut sums) {
            for (s, part) in sums.iter_mut().zip(col[whole..].chunks(LANES)) {
                let mut tile = [0.0; LANES];
                tile[..part.len()].copy_from_slice(part);
                *s = s.add(V::load(&tile));
            }
        }
        row_ll[whole..].copy_from_slice(&ll[..len]);
        for (((total, ll), sum), h) in loglik.iter_mut().zip(ll).zip(&mut entropy).zip(h).take(len)
        {
            *total += ll;
            *sum += h;
        }
    }
    if let Some(counts) = counts {
        for (c, s) in counts.iter_mut().zip(&sums) {
            *c += column_total(s);
        }
    }
    (lane_total(&loglik), lane_total(&entropy))
}

/// The rows `start..start + NORM_TILE` of `columns` (one per component) into
/// responsibilities: every step across the tile's rows, each component's column in turn.
/// Returns each row's `ln p(x)` and its term of `H` (0 for a bad row, and for every row
/// without `ENTROPY`).
#[inline(always)]
fn normalise_tile<V: Lanes, const ENTROPY: bool>(
    columns: &mut [&mut [f64]],
    start: usize,
    uniform: f64,
    sums: &mut [[V; NORM_VECTORS]],
) -> ([f64; NORM_TILE], [f64; NORM_TILE]) {
    // The steps over every column hold the tile's rows in vectors: as plain arrays, which
    // the compiler vectorised too, the maxima were also shuffled into another layout at
    // every column.
    // Each row's maximum (NaN never wins a comparison).
    let mut max_v = [V::splat(f64::NEG_INFINITY); NORM_VECTORS];
    for col in columns.iter() {
        for (m, x) in max_v.iter_mut().zip(run(col, start)) {
            *m = V::load(x).max_of(*m);
        }
    }
    let mut max = [0.0; NORM_TILE];
    store_run(&max_v, &mut max);
    // The exponentials below take no clamp above (`exp_clamped` without `ABOVE`): a row
    // with a finite maximum passes them values at most 0 (or `−∞`, or NaN), and a row
    // without one, shifted by 0, has its values clamped here instead (its responsibilities
    // are replaced anyway; only a NaN among them must stay NaN, which the comparison keeps).
    let all_finite = max.iter().fold(true, |all, m| all & m.is_finite());
    if !all_finite {
        for col in columns.iter_mut() {
            for (v, m) in col[start..start + NORM_TILE].iter_mut().zip(&max) {
                if !m.is_finite() && *v > EXP_ABOVE {
                    *v = EXP_ABOVE;
                }
            }
        }
    }
    // A row without a finite maximum is shifted by 0 instead, so that every row's sum
    // below is NaN exactly where the row has a NaN.
    let mut shift_v = max_v;
    for s in &mut shift_v {
        *s = s.finite_or_zero();
    }
    // Σ_k e_k and Σ_k e_k · shifted_k per row; the column then holds e = exp(ℓ − shift).
    let (mut sum_v, mut weighted_v) =
        ([V::splat(0.0); NORM_VECTORS], [V::splat(0.0); NORM_VECTORS]);
    for col in columns.iter_mut() {
        exponentiate_tile::<V, ENTROPY>(run_mut(col, start), &shift_v, &mut sum_v, &mut weighted_v);
    }
    let (mut sum, mut weighted) = ([0.0; NORM_TILE], [0.0; NORM_TILE]);
    store_run(&sum_v, &mut sum);
    store_run(&weighted_v, &mut weighted);
    let log_sum = ln_block(&sum);
    let (mut scale, mut ll, mut h) = ([0.0; NORM_TILE], [0.0; NORM_TILE], [0.0; NORM_TILE]);
    // Every row good (the usual case): the same values as the general steps below take for
    // a good row, without their tests at every row and value.
    let good = all_finite && sum.iter().fold(true, |good, s| good & !s.is_nan());
    if good {
        for b in 0..NORM_TILE {
            let inv = 1.0 / sum[b];
            ll[b] = max[b] + log_sum[b];
            if ENTROPY {
                h[b] = log_sum[b] - weighted[b] * inv;
            }
            scale[b] = inv;
        }
        let mut scale_v = [V::splat(0.0); NORM_VECTORS];
        for (v, s) in scale_v.iter_mut().zip(scale.as_chunks::<LANES>().0) {
            *v = V::load(s);
        }
        if sums.is_empty() {
            for col in columns.iter_mut() {
                for (c, s) in run_mut(col, start).iter_mut().zip(&scale_v) {
                    V::load(c).mul(*s).store(c);
                }
            }
        } else {
            for (col, sums) in columns.iter_mut().zip(sums.iter_mut()) {
                for ((c, s), sum) in run_mut(col, start).iter_mut().zip(&scale_v).zip(sums) {
                    let r = V::load(c).mul(*s);
                    r.store(c);
                    *sum = sum.add(r);
                }
            }
        }
        return (ll, h);
    }
    for b in 0..NORM_TILE {
        // As in `normalise_rows`: a bad row is reported through the log-likelihood, and a
        // uniform distribution left in it (marked by a NaN scale).
        let nan = sum[b].is_nan();
        let bad = nan || !max[b].is_finite();
        let inv = 1.0 / sum[b];
        ll[b] = if nan {
            f64::NAN
        } else if bad {
            f64::NEG_INFINITY
        } else {
            max[b] + log_sum[b]
        };
        h[b] = if bad || !ENTROPY {
            0.0
        } else {
            log_sum[b] - weighted[b] * inv
        };
        scale[b] = if bad { f64::NAN } else { inv };
    }
    for col in columns.iter_mut() {
        let values: &mut [f64; NORM_TILE] = (&mut col[start..start + NORM_TILE])
            .try_into()
            .expect("a whole tile");
        scale_tile(values, &scale, uniform);
    }
    for (col, sums) in columns.iter().zip(sums.iter_mut()) {
        for (c, sum) in run(col, start).iter().zip(sums) {
            *sum = sum.add(V::load(c));
        }
    }
    (ll, h)
}

/// A component's column of a tile of rows into responsibilities: `e · inv` for each row, or
/// `uniform` where the row's `inv` is NaN (a bad row).
///
/// The product is taken before the test, for every row: written as the test's branch (`if
/// inv.is_nan() { uniform } else { e * inv }`) the compiler kept this loop scalar, 32
/// multiplications one at a time, which cost as much as the tile's exponentials.
#[inline(always)]
fn scale_tile(values: &mut [f64; NORM_TILE], scale: &[f64; NORM_TILE], uniform: f64) {
    for (c, &inv) in values.iter_mut().zip(scale) {
        let p = *c * inv;
        *c = if inv.is_nan() { uniform } else { p };
    }
}

/// Vectors of a tile of [`normalise_columns`].
const NORM_VECTORS: usize = NORM_TILE / LANES;

/// Rows `start..start + NORM_TILE` of a column, as vectors' worth.
#[inline(always)]
fn run(col: &[f64], start: usize) -> &[[f64; LANES]; NORM_VECTORS] {
    col[start..start + NORM_TILE]
        .as_chunks::<LANES>()
        .0
        .try_into()
        .expect("a whole tile")
}

/// [`run`], to write.
#[inline(always)]
fn run_mut(col: &mut [f64], start: usize) -> &mut [[f64; LANES]; NORM_VECTORS] {
    col[start..start + NORM_TILE]
        .as_chunks_mut::<LANES>()
        .0
        .try_into()
        .expect("a whole tile")
}

/// Vectors into a tile's values.
#[inline(always)]
fn store_run<V: Lanes>(v: &[V; NORM_VECTORS], out: &mut [f64; NORM_TILE]) {
    for (v, o) in v.iter().zip(out.as_chunks_mut::<LANES>().0) {
        v.store(o);
    }
}

/// One component's column of a tile of rows: `e = exp(ℓ − shift)` in place, and its terms of
/// each row's `Σ e` and `Σ e · (ℓ − shift)` (0 where `e` is 0: not `0 · −∞`; `e` is 0 or a
/// normal number, [`exp_v`]). Vector by vector, each stored as soon as it is made: the
/// compiler interleaves the four exponentials either way, and this form was the faster (the
/// diagonal mixture's iteration 2.56 → 2.50 ms on one AMD EPYC thread, against every
/// exponential before any store). Taking one vector of rows through every column before the
/// next, so that fewer sums stay in registers, was slower (2.74 → 2.97 ms). Without
/// `ENTROPY` the second sum is left alone. The values are at most [`EXP_ABOVE`] (or NaN),
/// so the exponential takes no clamp above.
#[inline(always)]
fn exponentiate_tile<V: Lanes, const ENTROPY: bool>(
    tile: &mut [[f64; LANES]; NORM_VECTORS],
    shift: &[V; NORM_VECTORS],
    sum: &mut [V; NORM_VECTORS],
    weighted: &mut [V; NORM_VECTORS],
) {
    let smallest = V::splat(f64::MIN_POSITIVE);
    for (((c, &m), s), w) in tile
        .iter_mut()
        .zip(shift)
        .zip(sum.iter_mut())
        .zip(weighted.iter_mut())
    {
        let sv = V::load(c).sub(m);
        let ev = exp_clamped::<V, false>(sv);
        *s = s.add(ev);
        if ENTROPY {
            *w = w.add(ev.mul(sv).zero_where_below(ev, smallest));
        }
        ev.store(c);
    }
}

/// `out = exp(x)` elementwise (over the shorter of the two); `exp(-∞) = 0`.
///
/// Each value takes the same operations ([`exp_v`]: no branch, no division) whichever
/// vector width runs them, so the results do not depend on the CPU: eight lanes at a time
/// on AVX-512 or AVX2 (chosen at run time), or plain arrays. (Except in a build whose target
/// lacks FMA, where the plain arrays round their multiply-adds twice: see `lanes::fused`.)
pub(crate) fn exp_in_place(x: &[f64], out: &mut [f64]) {
    let n = x.len().min(out.len());
    lanes::dispatch(ExpInto {
        x: &x[..n],
        out: &mut out[..n],
    });
}

/// `v = exp(v)` elementwise, as [`exp_in_place`].
pub(crate) fn exp_each(v: &mut [f64]) {
    lanes::dispatch(ExpEach(v));
}

/// Values per step of [`ExpInto`] and [`ExpEach`]: four vectors of eight, whose polynomial
/// chains are independent, so the evaluation is not bound by the latency of one chain.
const EXP_BLOCK: usize = 32;

/// [`exp_in_place`] of `x.len() == out.len()` values.
struct ExpInto<'a> {
    x: &'a [f64],
    out: &'a mut [f64],
}

impl lanes::Kernel for ExpInto<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let (xs, rest) = self.x.as_chunks::<EXP_BLOCK>();
        let (outs, out_rest) = self.out.as_chunks_mut::<EXP_BLOCK>();
        for (x, out) in xs.iter().zip(outs) {
            *out = exp_tiles::<V>(x);
        }
        for (x, out) in rest.chunks(LANES).zip(out_rest.chunks_mut(LANES)) {
            let len = out.len();
            out.copy_from_slice(&exp_tile_of::<V>(x)[..len]);
        }
    }
}

/// [`exp_each`].
struct ExpEach<'a>(&'a mut [f64]);

impl lanes::Kernel for ExpEach<'_> {
    type Output = ();

    #[inline(always)]
    fn run<V: Lanes>(self) {
        let (blocks, rest) = self.0.as_chunks_mut::<EXP_BLOCK>();
        for block in blocks {
            *block = exp_tiles::<V>(block);
        }
        for v in rest.chunks_mut(LANES) {
            let e = exp_tile_of::<V>(v);
            let len = v.len();
            v.copy_from_slice(&e[..len]);
        }
    }
}

/// [`exp_v`] of a block of [`EXP_BLOCK`] values: every vector's exponential before any is
/// stored, so that their polynomial chains are in flight together. (Loops, not
/// `array::from_fn`, whose closure might be compiled out of line, without the kernel's
/// instructions.)
#[inline(always)]
fn exp_tiles<V: Lanes>(x: &[f64; EXP_BLOCK]) -> [f64; EXP_BLOCK] {
    let mut values = [V::splat(0.0); EXP_BLOCK / LANES];
    let tiles = x.as_chunks::<LANES>().0;
    for (v, x) in values.iter_mut().zip(tiles) {
        *v = exp_v(V::load(x));
    }
    let mut out = [0.0; EXP_BLOCK];
    for (v, o) in values.iter().zip(out.as_chunks_mut::<LANES>().0) {
        v.store(o);
    }
    out
}

/// [`exp_v`] of at most [`LANES`] values, padded with zeros.
#[inline(always)]
fn exp_tile_of<V: Lanes>(x: &[f64]) -> [f64; LANES] {
    let mut tile = [0.0; LANES];
    tile[..x.len()].copy_from_slice(x);
    exp_v(V::load(&tile)).store(&mut tile);
    tile
}

/// `exp(x)`: [`exp_v`] of one value (in every lane of the plain-array form).
#[cfg(test)]
fn exp_lane(x: f64) -> f64 {
    exp_v([x; LANES])[0]
}

/// `2^(j/16)`, `j = 0..15`, each the nearest double.
const EXP2_SIXTEENTHS: [f64; 16] = [
    f64::from_bits(0x3ff0_0000_0000_0000),
    f64::from_bits(0x3ff0_b558_6cf9_890f),
    f64::from_bits(0x3ff1_72b8_3c7d_517b),
    f64::from_bits(0x3ff2_387a_6e75_6238),
    f64::from_bits(0x3ff3_06fe_0a31_b715),
    f64::from_bits(0x3ff3_dea6_4c12_3422),
    f64::from_bits(0x3ff4_bfda_d536_2a27),
    f64::from_bits(0x3ff5_ab07_dd48_5429),
    f64::from_bits(0x3ff6_a09e_667f_3bcd),
    f64::from_bits(0x3ff7_a114_73eb_0187),
    f64::from_bits(0x3ff8_ace5_422a_a0db),
    f64::from_bits(0x3ff9_c491_82a3_f090),
    f64::from_bits(0x3ffa_e89f_995a_d3ad),
    f64::from_bits(0x3ffc_199b_dd85_529c),
    f64::from_bits(0x3ffd_5818_dcfb_a487),
    f64::from_bits(0x3ffe_a4af_a2a4_90da),
];

/// [`EXP2_SIXTEENTHS`] as bit patterns less `j · 2⁴⁸ + 1023 · 2⁵²` (wrapping; most are NaN
/// patterns, never used as numbers): adding the low 16 bits of `exp_v`'s rounding,
/// `16 (n + 1023) + j`, on top (`Lanes::add_low_bits_on_top`) gives `2ⁿ · 2^(j/16)`, so the
/// scaling by `2ⁿ` is one integer addition instead of a multiplication and two shifts.
const EXP2_SIXTEENTHS_LESS_OFFSETS: [f64; 16] = {
    let mut table = [0.0; 16];
    let mut j = 0;
    while j < 16 {
        let offset = ((j as u64) << 48) + (1023 << 52);
        table[j] = f64::from_bits(EXP2_SIXTEENTHS[j].to_bits().wrapping_sub(offset));
        j += 1;
    }
    table
};

/// `exp(x)` of eight values to within about two units in the last place (one, measured
/// against correctly rounded values, is typical), in straight-line arithmetic without a branch
/// or a division: `x = (16 n + j) ln 2 / 16 + r` with `|r| ≤ ln 2 / 32` (Cody and Waite's
/// two-part `ln 2`), so `exp(x) = 2ⁿ · 2^(j/16) · exp(r)`; `2^(j/16)` from a table of
/// sixteen (a permutation of two registers on AVX-512) with `2ⁿ` put in its exponent by an
/// integer addition of the rounding's bits (the argument clamped to the flushing bound first,
/// so that `t` stays normal), `exp(r) − 1` by a polynomial of degree 6 whose coefficients
/// minimise the largest relative error over `|r| ≤ ln 2 / 32` (1.2e-17, a twentieth of a
/// unit in the last place; [`EXP_COEFFICIENTS`]), and `2ⁿ 2^(j/16) (1 + q)` rounded once.
/// (It was Taylor's polynomial of degree 7, one multiply-add more per value for an error
/// below 2e-18 that the final rounding hides either way; and before that a polynomial of
/// degree 13 over `|r| ≤ ln 2 / 2`.) Results below the normal range
/// are flushed: below −707.7 (where
/// `exp(x) < 4.5e-308`) the result is 0. The callers shift their arguments so that the
/// largest is 0, and a mixture's row sums that term of 1 with the flushed ones; a chain's
/// step can instead multiply them by its forward weights, so a sequence whose only
/// reachable states lie so far below the best one is reported impossible. `exp(0) = 1`
/// exactly; NaN gives NaN. (Arguments above 709 are clamped: the callers pass values at most
/// 0.)
#[inline(always)]
pub(crate) fn exp_v<V: Lanes>(x: V) -> V {
    exp_clamped::<V, true>(x)
}

/// `p(r) = (exp(r) − 1 − r) / r²` on `|r| ≤ ln 2 / 32` as `c₀ + c₁ r + c₂ r² + c₃ r³ + c₄ r⁴`:
/// the coefficients that minimise the largest relative error of `1 + r + r² p(r)` against
/// `exp(r)` (Taylor's `1/(j + 2)!` corrected by a linear programme over 2001 points,
/// checked in exact rational arithmetic at 20001 others: at most 1.2e-17 with the
/// coefficients rounded to doubles). `bench/exp_coefficients.py` computes them.
const EXP_COEFFICIENTS: [f64; 5] = [
    f64::from_bits(0x3fdf_ffff_ffff_ffc0),
    f64::from_bits(0x3fc5_5555_5548_f6f9),
    f64::from_bits(0x3fa5_5555_558b_e7cb),
    f64::from_bits(0x3f81_1123_abd8_2a7a),
    f64::from_bits(0x3f56_c14e_78ba_496b),
];

/// The largest argument [`exp_v`] takes as it is (larger ones are clamped to it).
const EXP_ABOVE: f64 = 709.0;

/// [`exp_v`] with `ABOVE`; without, of arguments at most [`EXP_ABOVE`] (or NaN) only, the
/// same bits without the clamp that only a larger argument needs.
#[inline(always)]
fn exp_clamped<V: Lanes, const ABOVE: bool>(x: V) -> V {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // fdlibm's split of ln 2 (the high part has 32 significant bits, so N · LN2_HI / 16 is
    // exact for |N| < 2²¹), over 16.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000) / 16.0;
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76) / 16.0;
    // 1.5 · 2⁵² + 16 · 1023: adding it rounds to an integer N = 16 n + j, and the low 16
    // bits then hold N + 16 · 1023 = 16 (n + 1023) + j (from 32 to 32734 over the clamped
    // range): j for the table, n + 1023 for the exponent of 2ⁿ.
    const ROUND: f64 = 6_755_399_441_055_744.0 + 16.0 * 1023.0;
    const C: [f64; 5] = EXP_COEFFICIENTS;
    // Below this, n ≤ −1021 and 2ⁿ · 2^(j/16) (1 + q) would leave the normal range.
    const FLUSH: f64 = -707.7;
    let flush = V::splat(FLUSH);
    // `max_of` and `min_of` keep a NaN argument. (Without the lower clamp the values below
    // the bound, replaced by 0 at the end anyway, would put arbitrary exponents into `t`,
    // subnormal ones among them, which some CPUs multiply slowly.)
    let clamped = if ABOVE {
        V::splat(EXP_ABOVE).min_of(flush.max_of(x))
    } else {
        flush.max_of(x)
    };
    let rounded = clamped.mul_add(V::splat(16.0 * LOG2_E), V::splat(ROUND));
    let big_n = rounded.sub(V::splat(ROUND));
    let r = big_n.neg_mul_add(V::splat(LN2_HI), clamped);
    let r = big_n.neg_mul_add(V::splat(LN2_LO), r);
    // q = exp(r) − 1 = r + r² p(r), p's even and odd parts in r² as two independent chains.
    let r2 = r.mul(r);
    let even = V::splat(C[4])
        .mul_add(r2, V::splat(C[2]))
        .mul_add(r2, V::splat(C[0]));
    let odd = V::splat(C[3]).mul_add(r2, V::splat(C[1]));
    let q = r2.mul_add(odd.mul_add(r, even), r);
    // t = 2ⁿ 2^(j/16), a normal number for n in [−1021, 1022].
    let t = rounded
        .lookup16(&EXP2_SIXTEENTHS_LESS_OFFSETS)
        .add_low_bits_on_top(rounded);
    // t (1 + q); a NaN argument's q is NaN, and so is the result.
    t.mul_add(q, t).zero_where_below(x, flush)
}

/// `v = ln(v)` elementwise: [`ln_block`] (within one unit in the last place) for positive
/// normal values, dispatched as [`exp_in_place`] is; the standard library's `ln` for any
/// other (zero, subnormal, infinite, negative or NaN), so that those keep their meaning
/// (`ln 0 = −∞`).
pub(crate) fn ln_each(v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::tiles::avx512() {
        // SAFETY: the CPU has AVX-512F (checked at run time by `avx512`).
        unsafe { ln_each_avx512(v) };
        return;
    }
    ln_each_lanes(v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn ln_each_avx512(v: &mut [f64]) {
    ln_each_lanes(v);
}

#[inline(always)]
fn ln_each_lanes(v: &mut [f64]) {
    let mut blocks = v.chunks_exact_mut(EXP_BLOCK);
    for block in &mut blocks {
        let block: &mut [f64; EXP_BLOCK] = block.try_into().expect("a whole block");
        // (Tested first for the whole block: a select between the two forms per value would
        // call the library's `ln` for every value.)
        if block.iter().all(|x| x.is_normal() && *x > 0.0) {
            *block = ln_block(block);
            continue;
        }
        for x in block.iter_mut() {
            *x = ln_any(*x);
        }
    }
    // The rest in tiles of `LANES`, the last padded with ones. (One value at a time, the
    // compiler took the library's `ln` of every value, as the select above would: `llvm.log`
    // may be evaluated where its result is not used. On ten thousand sequences of ten steps
    // those calls were 2 % of the fit.)
    for rest in blocks.into_remainder().chunks_mut(LANES) {
        let mut tile = [1.0; LANES];
        tile[..rest.len()].copy_from_slice(rest);
        if tile.iter().all(|x| x.is_normal() && *x > 0.0) {
            rest.copy_from_slice(&ln_block(&tile)[..rest.len()]);
        } else {
            for x in rest.iter_mut() {
                *x = ln_any(*x);
            }
        }
    }
}

/// [`ln_each`] of one value.
#[inline(always)]
fn ln_any(x: f64) -> f64 {
    if x.is_normal() && x > 0.0 {
        ln_lane(x)
    } else {
        x.ln()
    }
}

/// `ln(x)`: [`ln_block`] of one value.
#[inline(always)]
pub(crate) fn ln_lane(x: f64) -> f64 {
    ln_block(&[x])[0]
}

/// `ln(x)` of every value, for positive normal `x` (the normalisation's sums, at least 1),
/// within one unit in the last place: fdlibm's (and musl's) algorithm without its branches,
/// so that the compiler vectorises it. `x = 2^k (1 + f)` with
/// `1 + f` in `[√2/2, √2)`, `s = f / (2 + f)`, and `ln(1 + f) = 2 atanh(s)` by a polynomial in
/// `s²` (error below 2⁻⁵⁸). Zero, subnormal, infinite and NaN arguments give unspecified
/// values.
#[inline(always)]
fn ln_block<const N: usize>(x: &[f64; N]) -> [f64; N] {
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const TWO52: f64 = 4_503_599_627_370_496.0;
    const LG: [f64; 7] = [
        f64::from_bits(0x3fe5_5555_5555_5593),
        f64::from_bits(0x3fd9_9999_9997_fa04),
        f64::from_bits(0x3fd2_4924_9422_9359),
        f64::from_bits(0x3fcc_71c5_1d8e_78af),
        f64::from_bits(0x3fc7_4664_96cb_03de),
        f64::from_bits(0x3fc3_9a09_d078_c69f),
        f64::from_bits(0x3fc2_f112_df3e_5244),
    ];
    let mut out = [0.0; N];
    for (o, &x) in out.iter_mut().zip(x) {
        // Move the mantissa to [√2/2, √2) and the exponent to k (musl's integer steps).
        let bits = x.to_bits();
        let hi = (bits >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
        // k as a double without an integer conversion: (2⁵² + e) − (2⁵² + 1023), exact.
        let k = f64::from_bits(0x4330_0000_0000_0000 | (hi >> 20)) - (TWO52 + 1023.0);
        let hi = (hi & 0x000f_ffff) + 0x3fe6_a09e;
        let m = f64::from_bits((hi << 32) | (bits & 0xffff_ffff));
        let f = m - 1.0;
        let hfsq = 0.5 * f * f;
        let s = f / (2.0 + f);
        let z = s * s;
        let w = z * z;
        let t1 = w * (LG[1] + w * (LG[3] + w * LG[5]));
        let t2 = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])));
        let r = t2 + t1;
        *o = s * (hfsq + r) + k * LN2_LO - hfsq + f + k * LN2_HI;
    }
    out
}

/// Sets every row of column `k` of a log-joint block to `ln w_k` (the prior
/// `z_n ~ Categorical(w)`, the first term of a mixture's log-joint, whatever the block held:
/// see [`MixtureModel::log_joint_writes`]).
pub fn set_log_weights(mut out: ArrayViewMut2<'_, f64>, log_w: ArrayView1<'_, f64>) {
    for (mut col, &l) in out.columns_mut().into_iter().zip(log_w.iter()) {
        col.fill(l);
    }
}

/// Sets every entry of the `rows × K` log-joint block to `ln (1/K)`: equal, fixed weights
/// (`z[n] ~ Categorical(1 / K)`), the first term of the log-joint, as [`set_log_weights`].
pub fn set_log_uniform(mut out: ArrayViewMut2<'_, f64>) {
    out.fill(-(out.ncols().max(1) as f64).ln());
}

/// Adds `ln w_k` to every row of column `k` of a log-joint block (variational Bayes's
/// per-component offsets, after the prior).
pub fn add_log_weights(mut out: ArrayViewMut2<'_, f64>, log_w: ArrayView1<'_, f64>) {
    for (mut col, &l) in out.columns_mut().into_iter().zip(log_w.iter()) {
        col += l;
    }
}

/// The within-cluster sum of squares `Σ_n ‖x_n − μ_{z_n}‖²` of a model whose blocks all have
/// the known covariance `c I` (`d` dimensions in all) and whose `k` weights are equal, from
/// its complete-data log-likelihood over `n` rows (or rows of total weight `n`, the inertia
/// then weighing each row's squared distance):
/// `−2c (ln p(x, z) + n ln k + (n d − m)/2 · ln 2πc)`, where `m` is the number of missing
/// cells (weighted like the rows; [`crate::gaps::missing_cells`]), which have no term.
pub fn inertia(complete: f64, n: f64, k: usize, d: usize, c: f64, missing: f64) -> f64 {
    let cells = n * d as f64 - missing;
    -2.0 * c
        * (complete + n * (k.max(1) as f64).ln() + 0.5 * cells * (std::f64::consts::TAU * c).ln())
}

/// Re-seeds the weight of component `k` at `1/N` and renormalises.
pub fn reseed_weight(w: &mut Array1<f64>, k: usize, n_rows: usize) {
    reseed_weight_of(w, k, n_rows.max(1) as f64);
}

/// Re-seeds the weight of component `k` at one row's share of `rows` (the number of rows, or
/// the sum of their weights), and renormalises.
pub fn reseed_weight_of(w: &mut Array1<f64>, k: usize, rows: f64) {
    w[k] = 1.0 / rows;
    let total = w.sum();
    w.mapv_inplace(|v| v / total);
}

/// The responsibilities of a hard assignment: row `b` is 1 in column `assignments[b]`, 0
/// elsewhere (`assignments.len() × k`).
pub fn one_hot(assignments: &[u32], k: usize) -> Array2<f64> {
    let mut resp = Array2::zeros((assignments.len(), k));
    for (mut row, &z) in resp.rows_mut().into_iter().zip(assignments) {
        row[z as usize] = 1.0;
    }
    resp
}

/// Column sums of a responsibility block, added to `counts`.
pub fn add_counts(resp: ArrayView2<'_, f64>, counts: &mut Array1<f64>) {
    debug_assert_eq!(resp.ncols(), counts.len());
    if let (Some(rows), Some(counts)) = (resp.as_slice(), counts.as_slice_mut()) {
        // Row-major (one-hot labels, say): along the rows, each column's values added in
        // order, as the sum of a strided column adds them.
        let mut sums = vec![0.0; counts.len()];
        for row in rows.chunks_exact(counts.len().max(1)) {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += v;
            }
        }
        for (c, s) in counts.iter_mut().zip(sums) {
            *c += s;
        }
        return;
    }
    for (c, col) in counts.iter_mut().zip(resp.columns()) {
        *c += match col.as_slice() {
            // Column-major (the E-step's blocks): in register lanes.
            Some(values) => lanes::dispatch(ColumnSum { values }),
            None => col.sum(),
        };
    }
}

/// `Σ values` in 32 partial sums (four vectors of lanes, each adding every fourth tile), then
/// the lanes pairwise: a fixed order whatever the vector width, and four independent chains
/// of additions. (ndarray's `sum` of a column, used before, took 3 % of an HMM iteration; the
/// order of the additions changed with it, and so did the counts' last bits.)
struct ColumnSum<'a> {
    values: &'a [f64],
}

impl lanes::Kernel for ColumnSum<'_> {
    type Output = f64;

    #[inline(always)]
    fn run<V: lanes::Lanes>(self) -> f64 {
        const TILES: usize = 4;
        // (The normalisation's counts keep these sums too, a tile's vector in each.)
        const { assert!(TILES == NORM_VECTORS) };
        let (quads, rest) = self.values.as_chunks::<{ TILES * lanes::LANES }>();
        let mut sums = [V::splat(0.0); TILES];
        for quad in quads {
            let (tiles, _) = quad.as_chunks::<{ lanes::LANES }>();
            for (s, tile) in sums.iter_mut().zip(tiles) {
                *s = s.add(V::load(tile));
            }
        }
        // The rest (fewer than 32 values) in zero-padded tiles, into the same sums.
        for (s, part) in sums.iter_mut().zip(rest.chunks(lanes::LANES)) {
            let mut tile = [0.0; lanes::LANES];
            tile[..part.len()].copy_from_slice(part);
            *s = s.add(V::load(&tile));
        }
        column_total(&sums)
    }
}

/// The total of [`ColumnSum`]'s four partial sums: the vectors, then the lanes pairwise.
#[inline(always)]
fn column_total<V: Lanes>(sums: &[V; 4]) -> f64 {
    let mut total = [0.0; lanes::LANES];
    sums[0]
        .add(sums[1])
        .add(sums[2].add(sums[3]))
        .store(&mut total);
    ((total[0] + total[4]) + (total[1] + total[5]))
        + ((total[2] + total[6]) + (total[3] + total[7]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::{array, s, ShapeBuilder};

    #[test]
    fn normalisation_is_a_softmax_and_reports_entropy() {
        let mut lj = array![[1.0, 2.0], [-1000.0, -1001.0]];
        let mut ll = [0.0; 2];
        let (total, h) = normalise_rows(lj.view_mut(), &mut ll);
        assert_relative_eq!(lj.row(0).sum(), 1.0, epsilon = 1e-15);
        assert_relative_eq!(
            ll[1],
            -1000.0 + (1.0 + (-1.0f64).exp()).ln(),
            epsilon = 1e-12
        );
        assert_relative_eq!(total, ll[0] + ll[1]);
        let expect_h: f64 = lj.iter().map(|&r: &f64| -r * r.ln()).sum();
        assert_relative_eq!(h, expect_h, epsilon = 1e-12);
    }

    #[test]
    fn counts_of_column_major_blocks_are_their_column_sums() {
        // Every length around the four tiles of 8 the sum runs in; integers, so the sums are
        // exact in any order; and the same bits from the portable lanes as dispatched.
        for m in [0, 1, 7, 8, 31, 32, 33, 64, 100, 1024] {
            let resp = Array2::from_shape_fn((m, 3).f(), |(i, j)| (i * (j + 1)) as f64);
            let mut counts = Array1::from(vec![0.5, 0.0, -1.0]);
            add_counts(resp.view(), &mut counts);
            for (j, &c) in counts.iter().enumerate() {
                let exact: usize = (0..m).map(|i| i * (j + 1)).sum();
                assert_eq!(c, exact as f64 + [0.5, 0.0, -1.0][j], "m = {m}, column {j}");
            }
            let values: Vec<f64> = (0..m).map(|i| 1.0 / (i as f64 + 3.0)).collect();
            let portable = lanes::Kernel::run::<[f64; lanes::LANES]>(ColumnSum { values: &values });
            let dispatched = lanes::dispatch(ColumnSum { values: &values });
            assert_eq!(portable.to_bits(), dispatched.to_bits(), "m = {m}");
            let naive: f64 = values.iter().sum();
            assert!(
                (portable - naive).abs() <= 1e-14 * naive.abs().max(1.0),
                "m = {m}"
            );
        }
    }

    #[test]
    fn the_logarithm_of_a_slice_keeps_the_meaning_of_special_values() {
        // Blocks of positive normal values take the vector form; a block with any other value
        // takes the library's `ln` for it (ln 0 = −∞, ln of a negative number is NaN).
        let mut normal: Vec<f64> = (1..=70).map(|i| i as f64 * 0.37).collect();
        let want: Vec<f64> = normal.iter().map(|&x| ln_lane(x)).collect();
        ln_each(&mut normal);
        assert_eq!(normal, want);
        let special = [
            0.0,
            -0.0,
            -1.0,
            f64::INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE / 4.0,
        ];
        for (at, &s) in special.iter().enumerate() {
            // The special value inside a whole block, and in the remainder.
            for len in [32, 40] {
                let mut v: Vec<f64> = (1..=len).map(|i| i as f64).collect();
                let place = if len == 32 { at } else { 33 + at % 7 };
                v[place] = s;
                let want: Vec<f64> = v
                    .iter()
                    .map(|&x| {
                        if x.is_normal() && x > 0.0 {
                            ln_lane(x)
                        } else {
                            x.ln()
                        }
                    })
                    .collect();
                ln_each(&mut v);
                for (got, want) in v.iter().zip(&want) {
                    assert!(
                        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                        "ln_each of {s} in a slice of {len}: {got} against {want}"
                    );
                }
            }
        }
        let mut zero = [0.0];
        ln_each(&mut zero);
        assert_eq!(zero[0], f64::NEG_INFINITY);
    }

    #[test]
    fn the_vector_logarithm_is_within_one_ulp_of_libm() {
        // The normalisation's sums (1 to K) densely, then normal numbers across the range.
        let xs: Vec<f64> = (0..200_000)
            .map(|i| 1.0 + 63.0 * i as f64 / 199_999.0)
            .chain((0..200_000).map(|i| 10f64.powf(-307.0 + 614.0 * i as f64 / 199_999.0)))
            .chain([
                1.0,
                2.0,
                0.5,
                std::f64::consts::SQRT_2,
                f64::MIN_POSITIVE,
                f64::MAX,
            ])
            .chain([
                1.0 - f64::EPSILON,
                1.0 + f64::EPSILON,
                0.707_106_781_186_547_5,
            ])
            .collect();
        let mut blocks = xs.chunks_exact(32);
        for block in &mut blocks {
            let block: &[f64; 32] = block.try_into().unwrap();
            for (&x, &l) in block.iter().zip(&ln_block(block)) {
                let want = x.ln();
                let ulp = (l.to_bits() as i64 - want.to_bits() as i64).abs();
                assert!(ulp <= 1, "ln({x}) = {l}, libm {want}");
                assert_eq!(ln_lane(x).to_bits(), l.to_bits(), "ln({x})");
            }
        }
        for &x in blocks.remainder() {
            let ulp = (ln_lane(x).to_bits() as i64 - x.ln().to_bits() as i64).abs();
            assert!(ulp <= 1, "ln({x})");
        }
        assert_eq!(ln_lane(1.0), 0.0);
    }

    #[test]
    fn the_vector_exponential_is_within_two_ulps_of_libm() {
        // A dense sweep of the range the normalisation passes (shifted log-joints, at most
        // 0), past the flushed range, and some positive values.
        let xs: Vec<f64> = (0..400_000)
            .map(|i| -746.0 + 746.0 * i as f64 / 399_999.0)
            .chain((0..1000).map(|i| i as f64 * 0.7))
            .chain([0.0, -0.0, 1e-300, -1e-300, -745.1, -744.4, -708.5, -709.9])
            .collect();
        let mut padded = xs.clone();
        padded.resize(xs.len().div_ceil(4) * 4, 0.0);
        let mut out = vec![0.0; padded.len()];
        exp_in_place(&padded, &mut out);
        for (&x, &e) in xs.iter().zip(&out) {
            let want = x.exp();
            let ulp = |v: f64| (v.to_bits() as i64 - want.to_bits() as i64).abs();
            if x >= -707.7 {
                assert!(ulp(e) <= 2, "exp({x}) = {e}, libm {want}");
            } else {
                // Flushed, a little above the subnormal range.
                assert!(e == 0.0 && want < 4.5e-308, "exp({x}) = {e}, libm {want}");
            }
        }
        assert_eq!(out[xs.len() - 8], 1.0);
        // Whole blocks of values and single values take the same operations.
        for (&x, &e) in xs.iter().zip(&out) {
            assert_eq!(exp_lane(x).to_bits(), e.to_bits(), "exp({x})");
        }
        // The form without the clamp above, for arguments at most 0: the same bits.
        for &x in xs.iter().filter(|&&x| x <= 0.0).chain(&[f64::NEG_INFINITY]) {
            let e = exp_clamped::<_, false>([x; LANES])[0];
            assert_eq!(e.to_bits(), exp_lane(x).to_bits(), "exp({x})");
        }
        // NaN gives NaN, whatever its payload.
        let nans = [
            f64::NAN,
            f64::from_bits(0x7ff8_0000_0000_0fff),
            f64::from_bits(0xfff0_0000_0000_0001),
        ];
        let mut got = [0.0; 3];
        exp_in_place(&nans, &mut got);
        assert!(got.iter().all(|v| v.is_nan()), "{got:?}");
        assert!(nans.iter().all(|&x| exp_lane(x).is_nan()));
        let mut edge = [f64::NEG_INFINITY, -746.5, -1e308, 0.0];
        let mut got = [1.0; 4];
        exp_in_place(&edge, &mut got);
        assert_eq!(got, [0.0, 0.0, 0.0, 1.0]);
        // The portable loop gives the same values as the AVX-512 one.
        edge = [-3.25, -0.125, -700.0, -0.5];
        for (&x, &e) in edge.iter().zip(&{
            exp_in_place(&edge, &mut got);
            got
        }) {
            assert_eq!(exp_lane(x).to_bits(), e.to_bits());
        }
    }

    /// The counts taken as the responsibilities are written are those `add_counts` adds
    /// afterwards, bit for bit: whole tiles and a partial one, bad rows (NaN, no component
    /// explaining the row, a uniform row left in them), column- and row-major blocks.
    #[test]
    fn counts_taken_while_normalising_are_add_counts_bit_for_bit() {
        // And without the entropy: the same values but for the entropy's total (0).
        for (m, k) in [(77, 5), (64, 8), (1000, 8), (31, 3), (1, 4), (40, 1)] {
            let mut values = Array2::from_shape_fn((m, k), |(i, j)| {
                -(((i * 31 + j * 17) % 97) as f64) * 0.73 - (i as f64).sin() * 30.0
            });
            if m > 40 {
                values.row_mut(40).fill(f64::NEG_INFINITY);
                values[[m - 3, k - 1]] = f64::NAN;
                // A row whose maximum is +∞ (shifted by 0: its other values clamped for the
                // exponential), and one whose finite maximum is past the clamp.
                values[[41, 0]] = f64::INFINITY;
                values[[41, k - 1]] += 800.0;
                values[[m - 2, 0]] = 750.0;
            }
            if m > 3 && k > 1 {
                // A component so far below the row's best that its exponential is flushed.
                values[[3, 1]] -= 900.0;
            }
            for column_major in [true, false] {
                let mut a = if column_major {
                    Array2::zeros(values.dim().f())
                } else {
                    Array2::zeros(values.dim())
                };
                a.assign(&values);
                let (mut b, mut c) = (a.clone(), a.clone());
                let (mut ll_a, mut ll_b, mut ll_c) = (vec![0.0; m], vec![0.0; m], vec![0.0; m]);
                let mut counts_a = Array1::from_elem(k, 0.25);
                let (mut counts_b, mut counts_c) = (counts_a.clone(), counts_a.clone());
                let totals_a = normalise_rows(a.view_mut(), &mut ll_a);
                add_counts(a.view(), &mut counts_a);
                let totals_b = normalise_rows_counting(b.view_mut(), &mut ll_b, &mut counts_b);
                let loglik_c =
                    normalise_rows_counting_without_entropy(c.view_mut(), &mut ll_c, &mut counts_c);
                let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
                let what = format!("{m} × {k}, column-major {column_major}");
                assert_eq!(bits(totals_a.0), bits(totals_b.0), "{what}");
                assert_eq!(bits(totals_a.1), bits(totals_b.1), "{what}");
                assert_eq!(bits(totals_a.0), bits(loglik_c), "{what}");
                for (b, ll_b, counts_b) in [(&b, &ll_b, &counts_b), (&c, &ll_c, &counts_c)] {
                    assert_eq!(a.map(|&v| bits(v)), b.map(|&v| bits(v)), "{what}");
                    assert_eq!(
                        ll_a.iter().map(|&v| bits(v)).collect::<Vec<_>>(),
                        ll_b.iter().map(|&v| bits(v)).collect::<Vec<_>>(),
                        "{what}"
                    );
                    assert_eq!(
                        counts_a.map(|&v| v.to_bits()),
                        counts_b.map(|&v| v.to_bits()),
                        "{what}"
                    );
                }
                if m > 41 {
                    // The row with +∞ is reported impossible, as a row without a finite
                    // maximum is, and left uniform; the one past the clamp is normal.
                    assert_eq!(ll_c[41], f64::NEG_INFINITY, "{what}");
                    assert!(c.row(41).iter().all(|&r| r == 1.0 / k as f64), "{what}");
                    assert!(ll_c[m - 2] >= 750.0 && ll_c[m - 2].is_finite(), "{what}");
                }
            }
        }
    }

    #[test]
    fn column_major_blocks_normalise_as_rows_do() {
        // The column form gives the row form's values bit for bit, bad rows included.
        let values = array![
            [1.0, 2.0, -3.0],
            [-1000.0, -1001.0, -1000.5],
            [f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY],
            [0.5, f64::NAN, 0.1],
            [f64::NEG_INFINITY, -2.0, -700.0],
        ];
        let mut rows = values.clone();
        let mut cols = Array2::zeros(values.dim().f());
        cols.assign(&values);
        let (mut ll_r, mut ll_c) = ([0.0; 5], [0.0; 5]);
        let a = normalise_rows(rows.view_mut(), &mut ll_r);
        let b = normalise_rows(cols.view_mut(), &mut ll_c);
        assert_eq!(a.1.to_bits(), b.1.to_bits());
        assert!(a.0.is_nan() && b.0.is_nan());
        for (x, y) in rows.iter().zip(cols.iter()) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        for (x, y) in ll_r.iter().zip(&ll_c) {
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
        }
        // Whole tiles and a partial one, in the first rows of a taller column-major buffer
        // (as the E-step's last block of a fit is), bad rows among them.
        let (m, k) = (77, 5);
        let mut values = Array2::from_shape_fn((m, k), |(i, j)| {
            -(((i * 31 + j * 17) % 97) as f64) * 7.3 - (i as f64).sin() * 1e3
        });
        values.row_mut(40).fill(f64::NEG_INFINITY);
        values[[70, 2]] = f64::NAN;
        let mut rows = values.clone();
        let mut tall = Array2::zeros((96, k).f());
        tall.slice_mut(s![..m, ..]).assign(&values);
        let (mut ll_r, mut ll_c) = (vec![0.0; m], vec![0.0; m]);
        let a = normalise_rows(rows.view_mut(), &mut ll_r);
        let b = normalise_rows(tall.slice_mut(s![..m, ..]), &mut ll_c);
        assert_eq!(a.1.to_bits(), b.1.to_bits());
        assert!(a.0.is_nan() && b.0.is_nan());
        for (x, y) in rows.iter().zip(tall.slice(s![..m, ..]).iter()) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        for (x, y) in ll_r.iter().zip(&ll_c) {
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
        }
        assert!(ll_c[40] == f64::NEG_INFINITY && ll_c[70].is_nan() && ll_c[41].is_finite());
        // Without bad rows, the two forms' totals agree bit for bit too.
        values.row_mut(40).fill(-3.0);
        values[[70, 2]] = -1.0;
        let mut rows = values.clone();
        tall.slice_mut(s![..m, ..]).assign(&values);
        let a = normalise_rows(rows.view_mut(), &mut ll_r);
        let b = normalise_rows(tall.slice_mut(s![..m, ..]), &mut ll_c);
        assert!(a.0.is_finite() && a.1 > 0.0);
        assert_eq!(
            (a.0.to_bits(), a.1.to_bits()),
            (b.0.to_bits(), b.1.to_bits())
        );
        let sum: f64 = ll_r.iter().sum();
        assert!((a.0 - sum).abs() <= 1e-12 * sum.abs());
    }

    #[test]
    fn impossible_rows_are_reported_not_nan() {
        let mut lj = array![[f64::NEG_INFINITY, f64::NEG_INFINITY]];
        let mut ll = [0.0];
        let (total, _) = normalise_rows(lj.view_mut(), &mut ll);
        assert_eq!(total, f64::NEG_INFINITY);
        assert_eq!(lj, array![[0.5, 0.5]]);
    }
}
