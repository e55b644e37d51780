//! The EM driver: E-step over fixed chunks in parallel, M-step, ELBO trace, convergence,
//! the monotonicity guard, re-seeding of empty components, initialisation and restarts.
//!
//! **Objective.** EM maximises `J(θ) = ln p(x | θ) + ln p(θ)`, where `ln p(θ)` is the
//! regularising prior of the variances and covariances ([`MStepConfig::reg_covar`];
//! [`MixtureModel::log_prior`]) — the regularised covariance update is the exact M-step of
//! this penalised objective, so the objective, not the bare likelihood, is what never falls.
//! `FitResult::elbo_trace` records `J`; `log_likelihood` and `log_prior` report its parts.
//!
//! **Convergence rule.** Iteration `t` computes `J_t = ln p(x | θ_t) + ln p(θ_t)` in its
//! E-step (the ELBO right after the E-step, where the bound is tight, plus the prior). The
//! fit stops as converged at the first `t ≥ 1` with `J_t − J_{t−1} < tol · N` (the mean gain
//! per row is below `tol`), or unconverged after `max_iter` M-steps. The returned parameters
//! are those whose objective is the last entry of the trace.
//!
//! **Hard E-step** ([`EStepMode::Hard`]). `q(z)` puts all mass on each row's most probable
//! component (a chain's Viterbi path), so `H(q) = 0` and `J_t = max_z ln p(x, z | θ_t) +
//! ln p(θ_t)`, which neither step decreases; the guard below applies unchanged. The fit has
//! converged at the first `t ≥ 1` whose assignments equal those of `t − 1` (unless
//! `tol = −∞`), where the next M-step would return the same parameters. For a mixture,
//! `ln p(x, z* | θ_t)` is evaluated from the statistics, as the guard evaluates `F`; the
//! argmax may come from the model's faster scores ([`MixtureModel::log_joint_bounded`]),
//! rows within their round-off bound of a tie being recomputed exactly, and the statistics
//! from [`MixtureModel::accumulate_assigned`]; or all three from one pass
//! ([`MixtureModel::hard_step`]), which leaves the rows within its bound to the driver.
//!
//! **Monotonicity guard.** After each M-step the penalised ELBO `F(q_t, θ_{t+1}) + ln
//! p(θ_{t+1})` is recomputed from the statistics; EM guarantees `J_t ≤ F(q_t, θ_{t+1}) + ln
//! p(θ_{t+1}) ≤ J_{t+1}`. A violation larger than round-off (`1e-8 · (|J| + N)`) is a bug in
//! the derived updates and stops the fit with [`FitError::NotMonotone`].
//!
//! **Determinism.** Rows are cut into chunks of [`TASK_ROWS`] independent of the thread
//! count and the per-chunk statistics are merged in chunk order, so a seed gives the same
//! bits with one thread or many. Restart `r` draws from stream `r` of a ChaCha8 generator
//! seeded with the user's seed.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ndarray::{
    s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, ShapeBuilder,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::chain::{self, ChainPosterior};
use crate::error::{FitError, NumericalIssue};
use crate::init;
use crate::kernels::lanes::{self, Lanes, LANES};
use crate::kernels::tiles::top_two;
use crate::kernels::xlny;
use crate::mixture::{
    add_counts, near_tie, normalise_rows, normalise_rows_counting,
    normalise_rows_counting_without_entropy, Assigned, ChainPrior, LatentStats, MStepConfig,
    MixtureModel, Workspace,
};
use crate::scratch;

/// Rows per parallel task; fixed so results do not depend on the thread count.
pub const TASK_ROWS: usize = 4096;
/// Rows per block inside a task: the interpreted program's per-call costs (views, operand
/// lookups) are paid once per block and component, and the block's log-joint (8 KB per
/// component) and the data's columns stay in the L2 cache. (1024 against 256 took the
/// N=1e5, D=8, K=8 benchmark from 9.4 to 7.3 ms per iteration, full covariance, and from 5.6
/// to 3.9 ms, diagonal.)
pub const BLOCK_ROWS: usize = 1024;
/// Rows per block of the hard E-step's one pass ([`MixtureModel::hard_step`]), which writes
/// no log-joint: as large as the soft E-step's, which shares its buffers.
const HARD_BLOCK_ROWS: usize = 1024;
// The row buffers are `HARD_BLOCK_ROWS` long, and tasks are whole blocks.
const _: () = assert!(BLOCK_ROWS <= HARD_BLOCK_ROWS && TASK_ROWS.is_multiple_of(BLOCK_ROWS));
/// A component whose responsibilities sum to less than this is empty and is re-seeded.
pub const EMPTY_COUNT: f64 = 1e-6;

/// How to choose starting parameters.
#[derive(Debug, Clone)]
pub enum InitStrategy<P> {
    /// k-means++ seeding on standardised features, refined by Lloyd iterations, then one
    /// M-step from the hard assignments.
    KMeansPlusPlus,
    /// `K` random rows as centres, nearest-centre assignments, then one M-step.
    RandomFromData,
    /// Exactly these parameters (restarts then all coincide, so only one is run).
    Params(P),
}

/// Progress of a running fit, passed to [`FitOptions::progress`].
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Which restart.
    pub restart: usize,
    /// Iteration (number of M-steps done).
    pub iteration: usize,
    /// `ln p(x | θ_iteration)`.
    pub log_likelihood: f64,
}

/// Callback receiving [`Progress`].
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// What the E-step puts in `q(z)`, the distribution over the discrete latent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EStepMode {
    /// The posterior `p(z | x, θ)`: EM, which maximises the log-likelihood.
    #[default]
    Soft,
    /// All mass on the most probable value — for a mixture each row's most probable
    /// component (the lowest on a tie), for a chain the Viterbi path of each sequence:
    /// classification (hard) EM, which maximises the complete-data log-likelihood
    /// `max_z ln p(x, z | θ)`. A continuous latent stays integrated out. With unit
    /// covariances and equal weights this is k-means (Lloyd's algorithm).
    Hard,
}

impl EStepMode {
    /// `soft` or `hard`.
    pub fn name(self) -> &'static str {
        match self {
            EStepMode::Soft => "soft",
            EStepMode::Hard => "hard",
        }
    }
}

/// Options of [`fit`].
#[derive(Clone)]
pub struct FitOptions<P> {
    /// Maximum number of M-steps (default 500). 0 evaluates the starting parameters: the
    /// result holds them, their log-likelihood and their responsibilities.
    pub max_iter: usize,
    /// Convergence tolerance on the mean log-likelihood gain per row (default 1e-6): a
    /// finite number at least 0, or `f64::NEG_INFINITY` to run exactly `max_iter` M-steps.
    pub tol: f64,
    /// Seed of the random initialisation (default 0).
    pub seed: u64,
    /// Number of independent starts, at least 1; the best final log-likelihood is kept, the
    /// earliest among those equal to round-off (1e-12 relative) (default 1).
    pub restarts: usize,
    /// Worker threads, at least 1; `None` uses rayon's global pool.
    pub threads: Option<usize>,
    /// Starting parameters.
    pub init: InitStrategy<P>,
    /// M-step settings.
    pub m_step: MStepConfig,
    /// Lloyd rounds after k-means++ seeding (default 20).
    pub lloyd_iters: usize,
    /// Stop with an error when the ELBO decreases beyond round-off (default true).
    pub check_monotone: bool,
    /// Called after every E-step.
    pub progress: Option<ProgressFn>,
    /// Soft (EM) or hard (classification EM) E-step; `None` (the default) takes the
    /// model's own ([`MixtureModel::e_step_mode`], `estep hard` in a model file).
    pub e_step: Option<EStepMode>,
}

impl<P> Default for FitOptions<P> {
    fn default() -> Self {
        Self {
            max_iter: 500,
            tol: 1e-6,
            seed: 0,
            restarts: 1,
            threads: None,
            init: InitStrategy::KMeansPlusPlus,
            m_step: MStepConfig::default(),
            lloyd_iters: 20,
            check_monotone: true,
            progress: None,
            e_step: None,
        }
    }
}

/// A builder in the style of linfa and scikit-learn: each setter returns the options, and
/// [`FitOptions::build`] checks them all.
///
/// ```
/// use jensen_runtime::{FitOptions, InitStrategy};
/// let opts = FitOptions::<()>::default()
///     .restarts(8)
///     .tol(1e-8)
///     .max_iter(1000)
///     .seed(42)
///     .reg_covar(1e-4)
///     .build()
///     .expect("valid options");
/// assert_eq!(opts.restarts, 8);
/// // A bad value is refused by `build`, naming the option and what it must be.
/// let err = FitOptions::<()>::default().restarts(0).build().unwrap_err();
/// assert!(err.to_string().contains("restarts"));
/// ```
impl<P> FitOptions<P> {
    /// Maximum number of M-steps.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Convergence tolerance on the mean log-likelihood gain per row.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Exactly `n` M-steps, the convergence rule off (for benchmarks and trajectories): sets
    /// `max_iter = n` and `tol = −∞`, so a later [`FitOptions::tol`] or
    /// [`FitOptions::max_iter`] changes them again.
    pub fn iterations(mut self, n: usize) -> Self {
        self.max_iter = n;
        self.tol = f64::NEG_INFINITY;
        self
    }

    /// Seed of the random initialisation.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Independent starts; the best final objective is kept (the earliest among those equal
    /// to round-off).
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Worker threads (a pool of its own; without, rayon's global pool).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Starting parameters: k-means++, rows at random, or given parameters.
    pub fn init(mut self, init: InitStrategy<P>) -> Self {
        self.init = init;
        self
    }

    /// The regularising prior on variances and covariances, relative to each column's
    /// variance ([`MStepConfig::reg_covar`]).
    pub fn reg_covar(mut self, reg_covar: f64) -> Self {
        self.m_step.reg_covar = reg_covar;
        self
    }

    /// The soft (EM) or hard (classification EM) E-step, whatever the model's default.
    pub fn e_step(mut self, mode: EStepMode) -> Self {
        self.e_step = Some(mode);
        self
    }

    /// Called after every E-step (e.g. to draw progress).
    pub fn progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The options, checked ([`FitOptions::check`]).
    pub fn build(self) -> Result<Self, FitError> {
        self.check()?;
        Ok(self)
    }

    /// Fails with [`FitError::InvalidOption`] on a value the driver cannot honour:
    /// `threads = Some(0)`, `restarts = 0`, a `tol` that is NaN, negative or `+∞` (only
    /// `−∞`, "never converged", is allowed below 0), or an invalid `m_step`
    /// ([`MStepConfig::check`]). `max_iter = 0` and `lloyd_iters = 0` are valid. [`fit`]
    /// calls this first.
    pub fn check(&self) -> Result<(), FitError> {
        if self.threads == Some(0) {
            return Err(FitError::InvalidOption {
                option: "threads",
                value: "Some(0)".into(),
                reason: "the number of worker threads must be at least 1 (or None for rayon's global pool)",
            });
        }
        if self.restarts == 0 {
            return Err(FitError::InvalidOption {
                option: "restarts",
                value: "0".into(),
                reason: "the number of restarts must be at least 1",
            });
        }
        let tol_ok = (self.tol.is_finite() && self.tol >= 0.0) || self.tol == f64::NEG_INFINITY;
        if !tol_ok {
            return Err(FitError::InvalidOption {
                option: "tol",
                value: self.tol.to_string(),
                reason: "the tolerance must be a finite number at least 0 (or −∞ to run exactly max_iter iterations)",
            });
        }
        self.m_step.check()
    }
}

impl<P> std::fmt::Debug for FitOptions<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("max_iter", &self.max_iter)
            .field("tol", &self.tol)
            .field("seed", &self.seed)
            .field("restarts", &self.restarts)
            .field("threads", &self.threads)
            .field("m_step", &self.m_step)
            .finish_non_exhaustive()
    }
}

/// A component replaced during the fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReseedEvent {
    /// Iteration after whose M-step the component was replaced (0 = at initialisation).
    pub iteration: usize,
    /// The component.
    pub component: usize,
    /// The row it was centred on.
    pub row: usize,
    /// `"empty"` (no responsibility left) or `"singular"` (covariance not positive definite).
    pub reason: &'static str,
}

/// Something about a finished fit that makes its result doubtful, though not an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FitWarning {
    /// A variance or covariance sits at the regularisation floor: its component's rows are
    /// (nearly) identical in some direction, so the likelihood is unbounded there and the
    /// fitted value is set by `reg_covar`, not by the data.
    AtFloor {
        /// The parameter.
        param: String,
        /// Its component, for a per-component parameter.
        component: Option<usize>,
        /// The prior's share of the variance in the worst direction (`0.5..=1`).
        share: f64,
    },
    /// Components kept being re-seeded: the data support fewer components than asked for.
    Unsettled {
        /// Re-seeds after initialisation.
        reseeds: usize,
        /// Whether the last M-step re-seeded (the returned parameters are a fresh start).
        at_the_end: bool,
    },
}

impl std::fmt::Display for FitWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitWarning::AtFloor {
                param,
                component,
                share,
            } => {
                let which = match component {
                    Some(k) => format!("`{param}` of component {k}"),
                    None => format!("`{param}`"),
                };
                write!(
                    f,
                    "{which} sits at the regularisation floor ({:.0}% of it comes from the \
                     prior): its rows are (nearly) identical in some direction, where the \
                     likelihood is unbounded; the value is set by --reg-covar, not by the data. \
                     Remove duplicated or constant columns, or use fewer components",
                    100.0 * share
                )
            }
            FitWarning::Unsettled {
                reseeds,
                at_the_end,
            } => {
                write!(
                    f,
                    "components were re-seeded {reseeds} times after initialisation{}: the \
                     data support fewer components than the model asks for (too few distinct \
                     rows?); use fewer components",
                    if *at_the_end {
                        ", the last time in the final iteration"
                    } else {
                        ""
                    }
                )
            }
        }
    }
}

/// How a fit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FitStatus {
    /// The convergence rule was met and nothing is doubtful.
    Converged,
    /// `max_iter` M-steps ran without meeting the convergence rule.
    NotConverged,
    /// Some variance sits at the regularisation floor ([`FitWarning::AtFloor`]).
    Degenerate,
    /// Components kept being re-seeded ([`FitWarning::Unsettled`]).
    Unsettled,
}

impl FitStatus {
    /// The status as written in the JSON document and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            FitStatus::Converged => "converged",
            FitStatus::NotConverged => "not_converged",
            FitStatus::Degenerate => "degenerate",
            FitStatus::Unsettled => "unsettled",
        }
    }
}

/// Wall-clock time of the phases of the kept run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    /// Initialisation, seconds.
    pub init_seconds: f64,
    /// The EM loop, seconds.
    pub em_seconds: f64,
    /// `em_seconds` per iteration (E-step plus M-step).
    pub seconds_per_iteration: f64,
}

/// The outcome of a fit.
#[derive(Debug, Clone)]
pub struct FitResult<P> {
    /// Fitted parameters.
    pub params: P,
    /// `ln p(x | params)` (BIC and AIC use it), in either E-step mode.
    pub log_likelihood: f64,
    /// The E-step the fit used.
    pub e_step: EStepMode,
    /// A hard E-step's objective without the prior: the complete-data log-likelihood
    /// `ln p(x, z* | params)` at the final assignments `z*` ([`FitResult::assignments`]).
    /// `None` for a soft E-step.
    pub complete_log_likelihood: Option<f64>,
    /// For a hard E-step on a model with known covariances `c I` and equal weights
    /// (k-means), the within-cluster sum of squares at the final assignments
    /// ([`MixtureModel::inertia`]).
    pub inertia: Option<f64>,
    /// `ln p(params)`, the regularising prior at the returned parameters (see
    /// [`MStepConfig::reg_covar`]); `0` when nothing is regularised.
    pub log_prior: f64,
    /// The objective the fit maximises, for `t = 0..=iterations`, after each E-step: for a
    /// soft E-step `ln p(x | θ_t) + ln p(θ_t)`, the ELBO where it is tight plus the
    /// regularising prior, whose last entry is `log_likelihood + log_prior`; for a hard one
    /// `max_z ln p(x, z | θ_t) + ln p(θ_t)`, whose last entry is
    /// `complete_log_likelihood + log_prior`.
    pub elbo_trace: Vec<f64>,
    /// Number of M-steps.
    pub iterations: usize,
    /// Whether the convergence rule was met before `max_iter`.
    pub converged: bool,
    /// Number of rows.
    pub n_rows: usize,
    /// Free parameters counted from the model.
    pub free_parameters: usize,
    /// `-2 ℓ + p ln N`.
    pub bic: f64,
    /// `-2 ℓ + 2 p`.
    pub aic: f64,
    /// Index of the kept restart.
    pub restart: usize,
    /// Final objective (`elbo_trace`'s last entry) of every restart (`NaN` for one that
    /// failed numerically); the restart with the largest is kept.
    pub restart_log_likelihoods: Vec<f64>,
    /// `p(z_n = k | x_n, params)`, `N × K`.
    pub responsibilities: Array2<f64>,
    /// `argmax_k` of the responsibilities; for a hard E-step, its last assignments (for a
    /// chain, the Viterbi path of each sequence).
    pub assignments: Vec<usize>,
    /// `ln p(x_n | params)` per row.
    pub point_log_likelihood: Array1<f64>,
    /// Components re-seeded during the kept run.
    pub reseeds: Vec<ReseedEvent>,
    /// What makes the kept run doubtful (see [`FitResult::status`]).
    pub warnings: Vec<FitWarning>,
    /// Timing of the kept run.
    pub timing: Timing,
}

impl<P> FitResult<P> {
    /// How the fit ended: a warning outranks the convergence rule (an unsettled fit before
    /// a degenerate one).
    pub fn status(&self) -> FitStatus {
        if self
            .warnings
            .iter()
            .any(|w| matches!(w, FitWarning::Unsettled { .. }))
        {
            FitStatus::Unsettled
        } else if !self.warnings.is_empty() {
            FitStatus::Degenerate
        } else if self.converged {
            FitStatus::Converged
        } else {
            FitStatus::NotConverged
        }
    }
}

/// The E-step over all rows: statistics, latent statistics, `ln p(x)`, `H(q)`, and the
/// worst-fit row.
struct EStep<S> {
    stats: S,
    latent: LatentStats,
    /// `ln p(x | θ)`, or `ln p(x, z* | θ)` for a hard E-step.
    loglik: f64,
    entropy: f64,
    worst: (f64, usize),
    /// The hard E-step's assignment of every row (empty for a soft one).
    assignments: Vec<u32>,
}

impl<S> EStep<S> {
    fn empty(stats: S, k: usize, first_row: usize) -> Self {
        Self {
            stats,
            latent: LatentStats::zeros(k),
            loglik: 0.0,
            entropy: 0.0,
            worst: (f64::INFINITY, first_row),
            assignments: Vec::new(),
        }
    }
}

/// Clamps the labelled rows of a block of the log-joint (rows `start..`) to their given
/// latent value: every other column becomes `−∞`, so that the row's posterior puts all its
/// mass there and its term of the objective is `ln p(x_n, z_n = label)`.
fn clamp_labels(start: usize, mut block: ArrayViewMut2<'_, f64>, labels: Option<&[Option<u32>]>) {
    let Some(labels) = labels else { return };
    for (i, mut row) in block.rows_mut().into_iter().enumerate() {
        if let Some(l) = labels[start + i] {
            for (c, v) in row.iter_mut().enumerate() {
                if c != l as usize {
                    *v = f64::NEG_INFINITY;
                }
            }
        }
    }
}

/// [`MixtureModel::log_joint`] with the labelled rows clamped ([`clamp_labels`]).
fn log_joint<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    rows: Range<usize>,
    mut out: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    let start = rows.start;
    model.log_joint(cache, rows, out.view_mut(), ws);
    clamp_labels(start, out, model.row_labels());
}

fn tasks(n: usize) -> Vec<Range<usize>> {
    pieces(0..n)
}

/// `rows` in pieces of [`TASK_ROWS`] from its start (the last shorter).
fn pieces(rows: Range<usize>) -> Vec<Range<usize>> {
    rows.clone()
        .step_by(TASK_ROWS)
        .map(|s| s..(s + TASK_ROWS).min(rows.end))
        .collect()
}

/// The buffers of [`e_step_rows`], kept from one task to the next on a thread (every task
/// writes before it reads, except the workspace's memo of values computed from the
/// parameters, which is kept on purpose).
struct RowScratch {
    ws: Workspace,
    /// The block's log-joint, column by column: each component's kernels write one
    /// contiguous column, and the normalisation runs across rows (see `top_two` for the
    /// hard E-step's use).
    lj: Array2<f64>,
    row_ll: Vec<f64>,
    bound: Array1<f64>,
    exact: Array2<f64>,
    at: Vec<u64>,
    second: Vec<f64>,
    deferred: Vec<u32>,
    /// The hard E-step's tallies of each component's rows, four copies of `K` (see
    /// [`tally_components`]).
    tally: Vec<u32>,
    /// The pass of [`e_step_parts`] this scratch serves (see [`RowScratch::of_thread`]).
    pass: u64,
}

impl RowScratch {
    /// The thread's kept scratch when it has one for `k` components, else a new one. (Kept
    /// from one task, and one iteration, to the next: made anew for each of rayon's splits, it
    /// was allocated and zeroed some ten times per iteration on two threads.) The conditionals
    /// of missing-coordinate patterns belong to one pass, `pass`, and are dropped when a new
    /// one starts; the workspace's memo is checked against the parameters it was computed
    /// from, so it is kept. (A task that starts on this thread while another waits here
    /// finds no kept scratch and makes its own.)
    fn of_thread(k: usize, pass: u64) -> Self {
        match KEPT_SCRATCH.take() {
            Some(mut scratch) if scratch.lj.ncols() == k => {
                if scratch.pass != pass {
                    scratch.ws.patterns = Default::default();
                }
                scratch.pass = pass;
                scratch
            }
            _ => Self {
                pass,
                ..Self::new(k)
            },
        }
    }

    /// Keeps this scratch for the thread's next task.
    fn keep(self) {
        KEPT_SCRATCH.set(Some(self));
    }

    fn new(k: usize) -> Self {
        Self {
            ws: Workspace::default(),
            lj: crate::data::zeros_aligned_f(BLOCK_ROWS, k),
            row_ll: vec![0.0; HARD_BLOCK_ROWS],
            bound: Array1::<f64>::zeros(BLOCK_ROWS),
            exact: Array2::<f64>::zeros((1, k)),
            at: vec![0; HARD_BLOCK_ROWS],
            second: vec![0.0; BLOCK_ROWS],
            deferred: Vec::new(),
            tally: vec![0; 4 * k],
            pass: 0,
        }
    }
}

/// Adds to `counts[c]` how many of `at` are `c` (every entry below `counts.len()`), through
/// `tally` (`4 · K` integers): row `i` is tallied in copy `i mod 4`, so that neighbouring rows
/// of one component do not each wait for the other's store to reach memory (adding `1.0` per
/// row in place took half of the hard E-step's bookkeeping). The tallies are exact, and so is
/// each count's one addition of their sum (below 2⁵³): the same values as adding `1.0` per row.
fn tally_components<T: Copy + Into<u64>>(at: &[T], tally: &mut [u32], counts: &mut [f64]) {
    let k = counts.len();
    tally[..4 * k].fill(0);
    let (quads, rest) = at.as_chunks::<4>();
    for quad in quads {
        for (copy, &c) in quad.iter().enumerate() {
            tally[copy * k + c.into() as usize] += 1;
        }
    }
    for &c in rest {
        tally[c.into() as usize] += 1;
    }
    for (c, count) in counts.iter_mut().enumerate() {
        let n = (tally[c] + tally[k + c]) + (tally[2 * k + c] + tally[3 * k + c]);
        *count += f64::from(n);
    }
}

/// The E-step of one task's `rows`, a block at a time; a hard E-step writes each row's
/// assignment into `assignments` (the task's rows, in order; empty for a soft E-step).
fn e_step_rows<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    rows: Range<usize>,
    mode: EStepMode,
    weights: Option<&[f64]>,
    takes: Takes,
    scratch: &mut RowScratch,
    assignments: &mut [u32],
) -> EStep<M::Stats> {
    let k = model.n_components();
    let mut out = EStep::empty(model.zero_stats(), k, rows.start);
    let RowScratch {
        ws,
        lj,
        row_ll,
        bound,
        exact,
        at,
        second,
        deferred,
        tally,
        pass: _,
    } = scratch;
    // The hard E-step's argmax in one pass needs every row's prior to be the same, and no
    // missing cell.
    let one_pass = model.row_labels().is_none() && !model.has_gaps();
    // Whether to try the hard E-step's one pass (the model may have none: it then says so on
    // the first block, which is taken again in the smaller blocks of the other forms).
    let mut try_fused = mode == EStepMode::Hard && one_pass && weights.is_none();
    let mut start = rows.start;
    while start < rows.end {
        let len = if try_fused {
            HARD_BLOCK_ROWS
        } else {
            BLOCK_ROWS
        };
        let block = start..(start + len).min(rows.end);
        let (m, next) = (block.len(), block.end);
        // Whether the hard E-step's one pass added the block's statistics.
        let mut fused = false;
        if try_fused {
            deferred.clear();
            let mut assigned = Assigned {
                at: &mut at[..m],
                best: &mut row_ll[..m],
                deferred: &mut *deferred,
            };
            fused = model.hard_step(cache, block.clone(), &mut assigned, &mut out.stats, ws);
            if !fused {
                try_fused = false;
                continue;
            }
        }
        // (Blocks past the log-joint's rows only under the one pass, which writes none.)
        let mut view = lj.slice_mut(s![..m.min(BLOCK_ROWS), ..]);
        if mode == EStepMode::Soft && !model.log_joint_writes() {
            view.fill(0.0);
        }
        match mode {
            EStepMode::Soft => {
                log_joint(model, cache, block.clone(), view.view_mut(), ws);
                // Without weights the expected counts are summed as the responsibilities are
                // written (the values `add_counts` would add after, without its pass).
                let (ll, h) = match (weights, takes) {
                    (None, Takes::RowEntropy) => normalise_rows_counting(
                        view.view_mut(),
                        &mut row_ll[..m],
                        &mut out.latent.counts,
                    ),
                    (None, Takes::Statistics | Takes::Objective) => {
                        let ll = normalise_rows_counting_without_entropy(
                            view.view_mut(),
                            &mut row_ll[..m],
                            &mut out.latent.counts,
                        );
                        (ll, 0.0)
                    }
                    (Some(_), _) => normalise_rows(view.view_mut(), &mut row_ll[..m]),
                };
                match weights {
                    None => {
                        out.loglik += ll;
                        out.entropy += h;
                    }
                    // Each row's terms and responsibilities times its weight (a row of weight
                    // zero contributes nothing, even a log-likelihood of −∞).
                    Some(w) => {
                        for (i, mut r) in view.rows_mut().into_iter().enumerate() {
                            let wi = w[start + i];
                            if wi == 0.0 {
                                r.fill(0.0);
                                continue;
                            }
                            out.loglik += wi * row_ll[i];
                            if takes == Takes::RowEntropy {
                                let h: f64 = r.iter().map(|&p| -xlny(p, p)).sum();
                                out.entropy += wi * h;
                            }
                            r.mapv_inplace(|p| p * wi);
                        }
                    }
                }
            }
            EStepMode::Hard => {
                // After the one pass (above), the rows it could not tell apart from a tie take
                // their exact values.
                if fused {
                    for &i in deferred.iter() {
                        let (i, row) = (i as usize, start + i as usize);
                        (at[i], row_ll[i]) = exact_argmax(model, cache, row, exact.view_mut(), ws);
                        let c = [at[i] as u32];
                        model.accumulate_assigned(cache, row..row + 1, &c, &mut out.stats, ws);
                    }
                } else {
                    hard_scores(
                        model,
                        cache,
                        block.clone(),
                        view.view_mut(),
                        Scratch {
                            at: &mut at[..m],
                            best: &mut row_ll[..m],
                            second: &mut second[..m],
                            bound: bound.slice_mut(s![..m]),
                            exact: exact.view_mut(),
                        },
                        ws,
                    );
                }
                let (at, best) = (&mut at[..m], &mut row_ll[..m]);
                let counts = out.latent.counts.as_slice_mut().expect("contiguous counts");
                // The sum in registers.
                let mut loglik = out.loglik;
                match weights {
                    None => {
                        // Four running sums, so that the additions do not wait on each other.
                        let mut sums = [0.0; 4];
                        let quads = best.chunks_exact(4);
                        let tail: f64 = quads.remainder().iter().sum();
                        for q in quads {
                            for (s, &b) in sums.iter_mut().zip(q) {
                                *s += b;
                            }
                        }
                        loglik += ((sums[0] + sums[1]) + (sums[2] + sums[3])) + tail;
                        tally_components(at, tally, counts);
                    }
                    Some(w) => {
                        for ((&c, &b), &wi) in at.iter().zip(best.iter()).zip(&w[block.clone()]) {
                            if wi != 0.0 {
                                loglik += wi * b;
                                counts[c as usize] += wi;
                            }
                        }
                    }
                }
                out.loglik = loglik;
                for (out, &c) in assignments[start - rows.start..].iter_mut().zip(at.iter()) {
                    *out = c as u32;
                }
            }
        }
        match weights {
            None => {
                if let Some(i) = first_below(&row_ll[..m], out.worst.0) {
                    out.worst = (row_ll[i], start + i);
                }
            }
            Some(w) => {
                for (i, &v) in row_ll[..m].iter().enumerate() {
                    if v < out.worst.0 && w[start + i] > 0.0 {
                        out.worst = (v, start + i);
                    }
                }
            }
        }
        match mode {
            EStepMode::Soft => {
                if weights.is_some() {
                    add_counts(view.view(), &mut out.latent.counts);
                }
                if takes != Takes::Objective {
                    model.accumulate(cache, block, view.view(), &mut out.stats, ws);
                }
            }
            // (The one pass added them.)
            EStepMode::Hard if fused => {}
            EStepMode::Hard => {
                let assigned = &assignments[start - rows.start..][..m];
                if weights.is_none() && !model.has_gaps() {
                    model.accumulate_assigned(cache, block, assigned, &mut out.stats, ws)
                } else {
                    // The assignment as responsibilities, one (weighted) entry per row: the
                    // gap kernels take responsibilities.
                    view.fill(0.0);
                    for (i, &c) in assigned.iter().enumerate() {
                        view[[i, c as usize]] = weights.map_or(1.0, |w| w[start + i]);
                    }
                    model.accumulate(cache, block, view.view(), &mut out.stats, ws);
                }
            }
        }
        start = next;
    }
    out
}

/// The first of the smallest of `values` if it is below `bound` (a NaN is never below
/// anything): the row a sequence of `if v < worst` updates would end on, found by a minimum
/// in vector registers ([`Least`]), then one search for where it is.
fn first_below(values: &[f64], bound: f64) -> Option<usize> {
    let least = lanes::dispatch(Least(values));
    // (Not `least >= bound`: a NaN is never below.)
    let below = least < bound;
    if !below {
        return None;
    }
    // Runs of 32 tested whole (no early exit within a run, so that the test is vectorised;
    // the scan one value at a time was 1.4 % of the diagonal mixture's iteration), then the
    // first run that holds it searched.
    const RUN: usize = 32;
    let (runs, rest) = values.as_chunks::<RUN>();
    let hit = runs
        .iter()
        .position(|run| run.iter().fold(false, |any, &v| any | (v == least)));
    let (offset, within) = match hit {
        Some(r) => (r * RUN, &runs[r][..]),
        None => (runs.len() * RUN, rest),
    };
    within.iter().position(|&v| v == least).map(|i| offset + i)
}

/// The smallest of the values (`+∞` for none; a NaN never the smallest), four vectors of
/// [`LANES`] at a time, dispatched as the kernels are (compiled for the build's baseline, the
/// scan was 1 % of the diagonal mixture's iteration).
struct Least<'a>(&'a [f64]);

impl lanes::Kernel for Least<'_> {
    type Output = f64;

    #[inline(always)]
    fn run<V: Lanes>(self) -> f64 {
        const RUN: usize = 4 * LANES;
        let (runs, rest) = self.0.as_chunks::<RUN>();
        let mut least = [V::splat(f64::INFINITY); 4];
        for run in runs {
            for (l, tile) in least.iter_mut().zip(run.as_chunks::<LANES>().0) {
                // (`min_of` keeps its second argument where the first is NaN.)
                *l = V::load(tile).min_of(*l);
            }
        }
        let mut values = [0.0; RUN];
        for (l, out) in least.iter().zip(values.as_chunks_mut::<LANES>().0) {
            l.store(out);
        }
        values
            .into_iter()
            .chain(rest.iter().copied())
            .fold(f64::INFINITY, |l, v| if v < l { v } else { l })
    }
}

/// Scratch of the hard E-step's scores for one block ([`hard_scores`]).
struct Scratch<'a> {
    at: &'a mut [u64],
    best: &'a mut [f64],
    second: &'a mut [f64],
    bound: ArrayViewMut1<'a, f64>,
    exact: ArrayViewMut2<'a, f64>,
}

/// The hard E-step's assignment of a block without the one pass: each row's most probable
/// component and its log-joint into `s.at` and `s.best`, from the model's faster scores when
/// it has them (rows whose two best scores lie within round-off of each other take their
/// exact values, as does every row of a block with a NaN score), else from the log-joint.
/// `view` is the block's log-joint, column-major.
fn hard_scores<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    block: Range<usize>,
    mut view: ArrayViewMut2<'_, f64>,
    s: Scratch<'_>,
    ws: &mut Workspace,
) {
    let Scratch {
        at,
        best,
        second,
        mut bound,
        mut exact,
    } = s;
    let start = block.start;
    bound.fill(0.0);
    view.fill(0.0);
    // The faster scores (which have no form for a row with a missing cell).
    let scored = !model.has_gaps()
        && model.log_joint_bounded(cache, block.clone(), view.view_mut(), bound.view_mut(), ws);
    if scored {
        clamp_labels(start, view.view_mut(), model.row_labels());
    } else {
        log_joint(model, cache, block, view.view_mut(), ws);
    }
    let nan = top_two(view.view(), at, best, second);
    if !scored {
        return;
    }
    let bound = bound.as_slice().expect("a contiguous bound");
    for (i, ((a, b), (&s, &slack))) in at
        .iter_mut()
        .zip(best.iter_mut())
        .zip(second.iter().zip(bound))
        .enumerate()
    {
        if nan || near_tie(*b, s, slack) {
            (*a, *b) = exact_argmax(model, cache, start + i, exact.view_mut(), ws);
        }
    }
}

/// Row `row`'s most probable component (the lowest index on a tie) and its log-joint, from
/// the exact log-joint (`exact`: a `1 × K` buffer).
fn exact_argmax<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    row: usize,
    mut exact: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) -> (u64, f64) {
    exact.fill(0.0);
    log_joint(model, cache, row..row + 1, exact.view_mut(), ws);
    let c = argmax(exact.row(0));
    (c as u64, exact[[0, c]])
}

/// The statistics and `ln p(x)` of the E-step at the parameters `cache` was prepared from,
/// from the data's summaries, when the model offers them
/// ([`MixtureModel::e_step_from_summaries`]) and no cell is missing (the summaries cannot
/// integrate one out).
fn summaries<M: MixtureModel>(model: &M, cache: &M::Cache) -> Option<(M::Stats, f64)> {
    (!model.has_gaps())
        .then(|| model.e_step_from_summaries(cache))
        .flatten()
}

/// The E-step at `params` (prepared as `cache`): from the data's summaries when the model
/// offers it (one linear-Gaussian component), else per-row normalisation for a mixture and
/// forward–backward along every sequence for a chain.
fn e_step<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    params: &M::Params,
    mode: EStepMode,
    takes: Takes,
) -> EStep<M::Stats> {
    let weights = model.row_weights();
    if let Some((stats, loglik)) = summaries(model, cache) {
        // One component: a hard E-step is the soft one. (The summaries are of the weighted
        // rows when the rows have weights.)
        debug_assert_eq!(model.n_components(), 1, "summaries are for one component");
        let mut out = EStep::empty(stats, 1, 0);
        out.latent.counts[0] = observations(model);
        out.loglik = loglik;
        if mode == EStepMode::Hard {
            out.assignments = vec![0; model.n_rows()];
        }
        return out;
    }
    if let (Some(sequences), Some(prior)) = (model.sequences(), model.chain_prior(cache)) {
        return e_step_chain(model, cache, params, sequences, prior, mode);
    }
    let mut total = EStep::empty(model.zero_stats(), model.n_components(), 0);
    let (parts, assignments) = e_step_parts(model, cache, mode, weights, takes);
    merge_parts(model, &mut total, parts);
    total.assignments = assignments;
    complete_from_stats(model, &mut total, params, mode);
    total.entropy = match takes {
        Takes::RowEntropy => total.entropy,
        Takes::Statistics => entropy_from_totals(model, &total, params, mode),
        Takes::Objective => f64::NAN,
    };
    total
}

/// What a soft E-step of a mixture takes besides `ln p(x)`, the expected counts and the
/// worst-explained row. (A chain's takes everything, its `H(q)` always from its totals:
/// [`entropy_from_totals`]; a hard E-step takes its statistics.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Takes {
    /// The statistics, and `H(q)` as each row's `−Σ_k r ln r`, summed: [`elbo`]'s, so that
    /// the bound's equality with `ln p(x)` after an E-step is a check of the E-step rather
    /// than an identity (the property test `elbo_equals_log_likelihood_after_the_e_step`,
    /// on every catalogue model, is then a check that the two entropies agree).
    RowEntropy,
    /// The statistics, and `H(q) = ln p(x) − E_q[ln p(x, z | θ)]` from the totals: a fit's
    /// iteration, which spares every value's term of the rows' sum.
    Statistics,
    /// Neither (`H(q)` NaN, the statistics zero): the closing E-step of a fit that stops at
    /// its iteration limit, whose statistics no M-step reads (scikit-learn's closing E-step
    /// takes none either).
    Objective,
}

/// The E-step of a mixture's rows, one part per task of [`TASK_ROWS`] rows, in row order,
/// and for a hard E-step every row's assignment (else nothing). The tasks write the
/// assignments in place, into a buffer from the thread's pool (where the driver gives back
/// those of the iteration before the last): gathered from the parts into a fresh buffer,
/// they cost a serial millisecond per iteration on a million rows.
fn e_step_parts<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    mode: EStepMode,
    weights: Option<&[f64]>,
    takes: Takes,
) -> (Vec<EStep<M::Stats>>, Vec<u32>) {
    let pass = PASSES.fetch_add(1, Ordering::Relaxed);
    let tasks = tasks(model.n_rows());
    let mut assignments = match mode {
        EStepMode::Hard => scratch::take_u32_written(model.n_rows()),
        EStepMode::Soft => Vec::new(),
    };
    let outputs: Vec<&mut [u32]> = match mode {
        EStepMode::Hard => assignments.chunks_mut(TASK_ROWS).collect(),
        EStepMode::Soft => tasks.iter().map(|_| Default::default()).collect(),
    };
    let parts = crate::tasks::map(tasks.into_iter().zip(outputs).collect(), |(rows, out)| {
        let mut scratch = RowScratch::of_thread(model.n_components(), pass);
        let part = e_step_rows(model, cache, rows, mode, weights, takes, &mut scratch, out);
        scratch.keep();
        part
    });
    (parts, assignments)
}

/// Numbers the passes of [`e_step_parts`], so that a thread's kept [`RowScratch`] knows when
/// a new one starts.
static PASSES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The [`RowScratch`] of the thread's last task.
    static KEPT_SCRATCH: Cell<Option<RowScratch>> = const { Cell::new(None) };
}

/// A hard E-step's `ln p(x, z* | θ)` from the statistics, evaluated as the M-step's guard
/// evaluates `F(q, θ')`: exact even when the rows' scores came from the faster approximation.
fn complete_from_stats<M: MixtureModel>(
    model: &M,
    total: &mut EStep<M::Stats>,
    params: &M::Params,
    mode: EStepMode,
) {
    if mode == EStepMode::Hard {
        if let Ok(complete) = model.expected_log_joint(&total.stats, &total.latent, params, params)
        {
            total.loglik = complete;
        }
    }
}

/// Merges `parts` into `total`, in order (the statistics of a fixed sequence of tasks are
/// added in the same order however the rows reached them: in memory or chunk by chunk).
fn merge_parts<M: MixtureModel>(
    model: &M,
    total: &mut EStep<M::Stats>,
    parts: Vec<EStep<M::Stats>>,
) {
    for p in parts {
        model.merge(&mut total.stats, &p.stats);
        total.latent.merge(&p.latent);
        total.loglik += p.loglik;
        total.entropy += p.entropy;
        if p.worst.0 < total.worst.0 {
            total.worst = p.worst;
        }
        total.assignments.extend(p.assignments);
    }
}

/// `ln p(x_n | z_n = k)` for every row (the chain's emissions), `N × K` row-major (as
/// Viterbi and the general forward–backward read them), computed by [`emission_blocks`] and
/// copied row by row into their rows: one pass of sequential writes instead of every
/// component's strided writes into the large array. Also the row no state explains well per
/// task ([`emission_blocks`]).
fn emissions<M: MixtureModel>(model: &M, cache: &M::Cache) -> (Array2<f64>, Vec<(f64, usize)>) {
    let (n, k) = (model.n_rows(), model.n_components());
    // Every value is written by the copy below.
    let mut log_b = Array2::from_shape_vec((n, k), scratch::take_written(n * k)).expect("N × K");
    let worst = emission_blocks(
        model,
        cache,
        log_b.axis_chunks_iter_mut(Axis(0), TASK_ROWS),
        |chunk, start, columns, best| {
            let end = start + columns.nrows();
            copy_into_rows(columns, chunk.slice_mut(s![start..end, ..]));
            // Each row's best state, across the rows a column at a time (as `f64::max`
            // folds a row from −∞: a NaN never wins the comparison).
            best.fill(f64::NEG_INFINITY);
            for col in columns.columns() {
                let col = col.to_slice().expect("a contiguous column");
                for (b, &v) in best.iter_mut().zip(col) {
                    *b = if v > *b { v } else { *b };
                }
            }
        },
    );
    (log_b, worst)
}

/// A chain's emissions as its soft E-step hands them to forward–backward.
enum Emissions<'m> {
    /// `ln p(x_n | z_n = k)`, `N × K` row-major ([`emissions`]), and the row no state
    /// explains well.
    Rows(Array2<f64>, (f64, usize)),
    /// For at most [`LANES`] states, rescaled as the eight-lane recursions read them
    /// ([`chain::scale_block`]), a batch of sequences at a time, in the batch's own task and
    /// while its recursions run ([`ScaleRows`]).
    Scaled(Box<ScaleRows<'m>>),
}

/// The rescaled emissions of `rows` (a batch of whole sequences, [`batches`]), into `tiles`
/// and `shift` (the tiles of `exp(ℓ_t − m_t)` and the shifts `m_t`, one per row), and their
/// row no state explains well (as [`emission_blocks`] finds it). Made in the batch's task,
/// into the thread's scratch, they are read by its recursions while they are in cache, and a
/// fit holds only the running batches'.
type ScaleRows<'m> =
    dyn Fn(Range<usize>, &mut [[f64; LANES]], &mut [f64]) -> (f64, usize) + Sync + 'm;

impl<'m> Emissions<'m> {
    /// The emissions for the soft E-step: rescaled for at most [`LANES`] states, else the
    /// log-densities of every row. (The rescaled form holds eight lanes a row whatever `K`,
    /// but only for the running batches; the recursions on the log-densities' form take eight
    /// lanes a step of those too, beside `N × K` log-densities.)
    fn of<M: MixtureModel>(model: &'m M, cache: &'m M::Cache) -> Self {
        let k = model.n_components();
        if k == 0 || k > LANES {
            let (log_b, worst) = emissions(model, cache);
            return Self::Rows(log_b, first_worst(worst, 0));
        }
        Self::Scaled(Box::new(move |rows, tiles, shift| {
            // A long sequence's emissions in parallel pieces of `TASK_ROWS` from its start.
            let pieces = tiles
                .chunks_mut(TASK_ROWS)
                .zip(shift.chunks_mut(TASK_ROWS))
                .enumerate()
                .collect();
            let worst = crate::tasks::map(pieces, |(p, (tiles, shift))| {
                let first = rows.start + p * TASK_ROWS;
                emission_task(
                    model,
                    cache,
                    first..first + shift.len(),
                    &mut (tiles, shift),
                    scale_into,
                )
            });
            first_worst(worst, rows.start)
        }))
    }

    /// Back to the scratch pool, for the next iteration.
    fn give(self) {
        if let Self::Rows(log_b, _) = self {
            scratch::give(log_b.into_raw_vec_and_offset().0);
        }
    }
}

/// [`emission_task`]'s `write` for the rescaled form: a block's columns into its rows' tiles
/// and shifts ([`chain::scale_block`]).
fn scale_into(
    (tiles, shift): &mut (&mut [[f64; LANES]], &mut [f64]),
    start: usize,
    columns: ArrayView2<'_, f64>,
    best: &mut [f64],
) {
    let end = start + columns.nrows();
    let columns: Vec<&[f64]> = columns
        .columns()
        .into_iter()
        .map(|c| c.to_slice().expect("a contiguous column"))
        .collect();
    chain::scale_block(
        &columns,
        &mut tiles[start..end],
        &mut shift[start..end],
        best,
    );
}

/// The first of the least of `worst` (rows' values in order; `(∞, first)` when none is
/// below `∞`), as a sequence of `if v < worst` updates from `(∞, first)` ends.
fn first_worst(worst: impl IntoIterator<Item = (f64, usize)>, first: usize) -> (f64, usize) {
    worst
        .into_iter()
        .fold((f64::INFINITY, first), |w, v| if v.0 < w.0 { v } else { w })
}

/// The chain's emissions `ln p(x_n | z_n = k)`, over the same fixed chunks as the mixture
/// E-step, in parallel: each block is computed column by column, as a mixture's log-joint is
/// (every component's kernels write one contiguous column, in a buffer that stays in
/// cache), and handed to `write` with its task's output (`outputs`, one per task of
/// [`TASK_ROWS`] rows), the block's first row within the task, and a buffer for each row's
/// best value (its maximum over the states, NaN ignored), which `write` fills.
///
/// Returns, per task, the row no state explains well (the least of the rows' best
/// emissions, NaN ignored, the first such row; rows of weight zero skipped), where an empty
/// state is re-seeded: found while each block is in cache.
fn emission_blocks<M, O>(
    model: &M,
    cache: &M::Cache,
    outputs: impl Iterator<Item = O>,
    write: impl Fn(&mut O, usize, ArrayView2<'_, f64>, &mut [f64]) + Sync,
) -> Vec<(f64, usize)>
where
    M: MixtureModel,
    O: Send,
{
    crate::tasks::map(outputs.enumerate().collect(), |(task, mut output)| {
        let first = task * TASK_ROWS;
        let rows = first..(first + TASK_ROWS).min(model.n_rows());
        emission_task(model, cache, rows, &mut output, &write)
    })
}

/// [`emission_blocks`] of one range of `rows` (a task's, or a piece of a sequence's) into
/// `output`: `write` takes each block's first row within `rows`. Returns the first row of
/// `rows` no state explains well (`(∞, rows.start)` when none is below `∞`).
fn emission_task<M: MixtureModel, O>(
    model: &M,
    cache: &M::Cache,
    rows: Range<usize>,
    output: &mut O,
    write: impl Fn(&mut O, usize, ArrayView2<'_, f64>, &mut [f64]),
) -> (f64, usize) {
    let k = model.n_components();
    let weights = model.row_weights();
    let mut ws = Workspace::default();
    let mut block = Array2::<f64>::zeros((BLOCK_ROWS, k).f());
    let mut best = vec![f64::NEG_INFINITY; BLOCK_ROWS];
    let first = rows.start;
    let mut worst = (f64::INFINITY, first);
    let m = rows.len();
    for start in (0..m).step_by(BLOCK_ROWS) {
        let end = (start + BLOCK_ROWS).min(m);
        let mut columns = block.slice_mut(s![..end - start, ..]);
        columns.fill(0.0);
        log_joint(
            model,
            cache,
            first + start..first + end,
            columns.view_mut(),
            &mut ws,
        );
        let best = &mut best[..end - start];
        write(output, start, columns.view(), best);
        for (t, &b) in (first + start..).zip(best.iter()) {
            if b < worst.0 && !weights.is_some_and(|w| w[t] <= 0.0) {
                worst = (b, t);
            }
        }
    }
    worst
}

/// `rows = columns` for a column-major block and a row-major one of the same shape (or any
/// layouts, more slowly), each row of `rows` written whole.
fn copy_into_rows(columns: ArrayView2<'_, f64>, mut rows: ArrayViewMut2<'_, f64>) {
    let k = columns.ncols();
    let sources: Option<Vec<&[f64]>> = columns
        .columns()
        .into_iter()
        .map(|c| c.to_slice())
        .collect();
    match (sources, rows.as_slice_mut()) {
        (Some(sources), Some(out)) if k > 0 => {
            for (t, row) in out.chunks_exact_mut(k).enumerate() {
                for (o, col) in row.iter_mut().zip(&sources) {
                    *o = col[t];
                }
            }
        }
        _ => rows.assign(&columns),
    }
}

/// What [`chain_posterior`] finds: what `after` made of each batch of sequences (in
/// order, see [`batches`]), the latent statistics, `ln p(x)` and the row no state explains
/// well.
struct ChainFit<T> {
    per_batch: Vec<T>,
    latent: LatentStats,
    loglik: f64,
    worst: (f64, usize),
}

/// Where [`chain_posterior`] writes the state posteriors `γ` (and each row's predictive
/// log-likelihood).
enum Posteriors<'a> {
    /// Into these `N × K` posteriors and `N` values (the posterior a fit returns).
    Into(ArrayViewMut2<'a, f64>, ArrayViewMut1<'a, f64>),
    /// Into a buffer per batch of sequences from the thread's scratch, column-major, for
    /// `after` to read while it is in cache; no per-row values (the E-step).
    PerBatch,
}

/// The tasks of [`chain_posterior`]: runs of consecutive whole sequences (as ranges of their
/// indices) of at most [`TASK_ROWS`] rows together, a longer sequence alone; from the lengths
/// alone, so that the results do not depend on the threads.
fn batches(sequences: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut first, mut rows) = (0, 0);
    for (i, seq) in sequences.iter().enumerate() {
        if i > first && rows + seq.len() > TASK_ROWS {
            out.push(first..i);
            (first, rows) = (i, 0);
        }
        rows += seq.len();
    }
    if first < sequences.len() {
        out.push(first..sequences.len());
    }
    out
}

/// Forward–backward along every sequence, a batch of sequences per task ([`batches`], in
/// parallel; their results in order): the state posteriors `γ` (written as `out` says, and
/// handed to `after` with the batch's rows), the latent statistics and `ln p(x)`. A batch's
/// rescaled emissions are made in its task and read by its recursions while they are in
/// cache. With `weights` (one per row, the same within a sequence) each sequence's
/// posteriors, statistics and log-likelihood are multiplied by its weight (the per-row
/// values are not). The log-densities' form (`rows`, computed once, after every batch has
/// had its try) takes the sequences the rescaled emissions cannot carry.
fn chain_posterior<'o, T: Send>(
    sequences: &[Range<usize>],
    prior: ChainPrior<'_>,
    emissions: &Emissions<'_>,
    rows: impl FnOnce() -> Array2<f64>,
    weights: Option<&[f64]>,
    out: Posteriors<'o>,
    after: impl Fn(Range<usize>, ArrayView2<'_, f64>) -> T + Sync,
) -> ChainFit<T> {
    let n = sequences.last().map_or(0, |s| s.end);
    let k = prior.log_initial.len();
    let rows_of = |b: &Range<usize>| sequences[b.start].start..sequences[b.end - 1].end;
    let probabilities = chain::Probabilities::of(prior.log_initial, prior.log_transition);
    // Each batch with its piece of `out`, if it is given.
    type Piece<'p> = (
        Range<usize>,
        Option<(ArrayViewMut2<'p, f64>, ArrayViewMut1<'p, f64>)>,
    );
    let mut pieces: Vec<Piece<'o>> = Vec::new();
    match out {
        Posteriors::Into(mut g_rest, mut s_rest) => {
            for b in batches(sequences) {
                let len = rows_of(&b).len();
                let (g, g_next) = g_rest.split_at(Axis(0), len);
                let (st, s_next) = s_rest.split_at(Axis(0), len);
                pieces.push((b, Some((g, st))));
                (g_rest, s_rest) = (g_next, s_next);
            }
        }
        Posteriors::PerBatch => pieces.extend(batches(sequences).into_iter().map(|b| (b, None))),
    }
    // One batch's forward–backward into `g` (and `st`), each sequence weighted by its
    // weight, and what `after` makes of it; the sequences the rescaled emissions cannot
    // carry, by index, when there are any (`general`: the log-densities, for those among
    // `failed`). Also the batch's worst-explained row, where its rescaled emissions are
    // made here.
    struct Done<T> {
        made: T,
        loglik: f64,
        latent: LatentStats,
        worst: Option<(f64, usize)>,
    }
    let run = |batch: &Range<usize>,
               mut g: ArrayViewMut2<'_, f64>,
               mut st: Option<ArrayViewMut1<'_, f64>>,
               general: Option<(&Array2<f64>, &[usize])>|
     -> Result<Done<T>, Vec<usize>> {
        let rows = rows_of(batch);
        let scaled = match emissions {
            Emissions::Rows(..) => None,
            Emissions::Scaled(scale) => {
                // Every value is written by `scale`.
                let mut tiles = scratch::take_written(rows.len() * LANES);
                let mut shift = scratch::take_written(rows.len());
                let worst = scale(rows.clone(), tiles.as_chunks_mut().0, &mut shift);
                Some((tiles, shift, worst))
            }
        };
        let (mut loglik, mut batch_latent) = (0.0, LatentStats::zeros(k));
        let worst = scaled.as_ref().map(|s| s.2);
        let mut failed = Vec::new();
        // Each sequence's counts, from zero (one value for the batch: for short sequences the
        // allocations cost as much as the recursions).
        let mut latent = LatentStats::zeros(k);
        for i in batch.clone() {
            let seq = &sequences[i];
            let local = seq.start - rows.start..seq.end - rows.start;
            latent.initial.fill(0.0);
            latent.transitions.fill(0.0);
            let out = ChainPosterior {
                gamma: g.slice_mut(s![local.clone(), ..]),
                transitions: latent.transitions.view_mut(),
                initial: latent.initial.view_mut(),
                steps: st.as_mut().map(|s| s.slice_mut(s![local.clone()])),
            };
            // As many sequences run side by side as the rows hold of this one's length: a
            // lone long sequence among short ones still splits its recursions.
            let side_by_side = n / seq.len().max(1);
            let ll = match (general, emissions, &scaled) {
                // (The eight-lane form has failed on this sequence.)
                (Some((log_b, among)), _, _) if among.contains(&i) => {
                    Some(chain::forward_backward_general(
                        prior.log_initial,
                        prior.log_transition,
                        log_b.slice(s![seq.clone(), ..]),
                        out,
                    ))
                }
                (_, Emissions::Rows(log_b, _), _) => Some(chain::forward_backward_among(
                    prior.log_initial,
                    prior.log_transition,
                    log_b.slice(s![seq.clone(), ..]),
                    out,
                    side_by_side,
                )),
                (_, Emissions::Scaled(_), Some((tiles, shift, _))) => {
                    chain::forward_backward_scaled(
                        &probabilities,
                        &tiles.as_chunks().0[local.clone()],
                        &shift[local.clone()],
                        out,
                        side_by_side,
                    )
                }
                (_, Emissions::Scaled(_), None) => unreachable!("the batch's emissions"),
            };
            let Some(ll) = ll else {
                failed.push(i);
                continue;
            };
            // A sequence of weight zero contributes nothing, not even a log-likelihood of
            // −∞.
            let weight = weights.map_or(1.0, |w| w[seq.start]);
            let ll = if weight == 1.0 {
                ll
            } else {
                let scale = |v: f64| if weight == 0.0 { 0.0 } else { v * weight };
                g.slice_mut(s![local, ..]).mapv_inplace(scale);
                latent.initial.mapv_inplace(scale);
                latent.transitions.mapv_inplace(scale);
                scale(ll)
            };
            loglik += ll;
            batch_latent.merge(&latent);
        }
        if let Some((tiles, shift, _)) = scaled {
            scratch::give(tiles);
            scratch::give(shift);
        }
        if !failed.is_empty() {
            return Err(failed);
        }
        Ok(Done {
            made: after(rows, g.view()),
            loglik,
            latent: batch_latent,
            worst,
        })
    };
    // A batch's task: into its piece of `out`, or into a buffer of the thread's scratch
    // (column-major, as a mixture's responsibilities are: each state's weights in a block
    // are one contiguous column for the kernels; every value is written).
    let attempt = |(batch, mut given): Piece<'o>, general: Option<(&Array2<f64>, &[usize])>| {
        let done = match &mut given {
            Some((g, st)) => run(&batch, g.view_mut(), Some(st.view_mut()), general),
            None => {
                let len = rows_of(&batch).len();
                let buffer = scratch::take_written(len * k);
                let mut g = state_posteriors(len, k, Layout::Columns, buffer);
                let done = run(&batch, g.view_mut(), None, general);
                scratch::give(g.into_raw_vec_and_offset().0);
                done
            }
        };
        done.map_err(|failed| ((batch, given), failed))
    };
    let mut results: Vec<Option<Done<T>>> = Vec::new();
    let mut redo = Vec::new();
    for (i, result) in crate::tasks::map(pieces, |p| attempt(p, None))
        .into_iter()
        .enumerate()
    {
        match result {
            Ok(done) => results.push(Some(done)),
            Err((piece, failed)) => {
                results.push(None);
                redo.push((i, piece, failed));
            }
        }
    }
    // The batches with a sequence the rescaled emissions could not carry, again: those
    // sequences on the log-densities, the others as before.
    if !redo.is_empty() {
        let log_b = rows();
        for (i, done) in crate::tasks::map(redo, |(i, piece, failed)| {
            (i, attempt(piece, Some((&log_b, &failed))).ok())
        }) {
            results[i] = Some(done.expect("the general form carries every sequence"));
        }
        scratch::give(log_b.into_raw_vec_and_offset().0);
    }
    let mut per_batch = Vec::with_capacity(results.len());
    let (mut loglik, mut latent) = (0.0, LatentStats::zeros(k));
    let mut batch_worst = Vec::with_capacity(results.len());
    for done in results {
        let done = done.expect("every batch is done");
        per_batch.push(done.made);
        loglik += done.loglik;
        latent.merge(&done.latent);
        batch_worst.extend(done.worst);
    }
    // The worst-explained row: the rows' form found it; the rescaled one finds each
    // batch's, the first of the least taken in order.
    let worst = match emissions {
        Emissions::Rows(_, worst) => *worst,
        Emissions::Scaled(_) => first_worst(batch_worst, 0),
    };
    ChainFit {
        per_batch,
        latent,
        loglik,
        worst,
    }
}

/// The Viterbi path of every sequence and its `ln p(x, z*)`, in parallel, in sequence order.
fn viterbi_paths(
    sequences: &[Range<usize>],
    prior: ChainPrior<'_>,
    log_b: &Array2<f64>,
) -> Vec<(Vec<usize>, f64)> {
    sequences
        .par_iter()
        .map(|seq| {
            chain::viterbi(
                prior.log_initial,
                prior.log_transition,
                log_b.slice(s![seq.clone(), ..]),
            )
        })
        .collect()
}

/// The Viterbi path of every sequence (in parallel, in sequence order) as one-hot state
/// posteriors, its statistics of the initial state and the transitions, the path itself and
/// `Σ ln p(x, z*)` over the sequences.
fn chain_hard(
    sequences: &[Range<usize>],
    prior: ChainPrior<'_>,
    log_b: &Array2<f64>,
    weights: Option<&[f64]>,
) -> (Array2<f64>, LatentStats, Vec<u32>, f64) {
    let (n, k) = log_b.dim();
    let paths = viterbi_paths(sequences, prior, log_b);
    let mut gamma = state_posteriors(n, k, Layout::Columns, scratch::take(n * k, 0.0));
    let mut latent = LatentStats::zeros(k);
    let mut path = Vec::with_capacity(n);
    let mut score = 0.0;
    for (seq, (states, s)) in sequences.iter().zip(paths) {
        let weight = weights.map_or(1.0, |w| w[seq.start]);
        if weight != 0.0 {
            score += weight * s;
        }
        for (i, &state) in states.iter().enumerate() {
            gamma[[seq.start + i, state]] = weight;
            if i == 0 {
                latent.initial[state] += weight;
            } else {
                latent.transitions[[states[i - 1], state]] += weight;
            }
        }
        path.extend(states.iter().map(|&z| z as u32));
    }
    (gamma, latent, path, score)
}

fn e_step_chain<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    params: &M::Params,
    sequences: &[Range<usize>],
    prior: ChainPrior<'_>,
    mode: EStepMode,
) -> EStep<M::Stats> {
    let mut total = chain_rows(model, cache, sequences, prior, mode);
    total.entropy = entropy_from_totals(model, &total, params, mode);
    total
}

/// `H(q)` of the posterior over every row, whose E-step is `total`: from
/// `ℓ = E_q[ln p(x, z | θ)] + H(q)` at the E-step's `θ` (`params`); a point mass has none.
/// A chain's is not a sum over the rows, and a mixture's sum over the rows would take a
/// term of every value ([`Takes::RowEntropy`]), so a fit computes it once, from the totals
/// (`NaN` where the expectation cannot be taken: the driver then has no bound to check).
fn entropy_from_totals<M: MixtureModel>(
    model: &M,
    total: &EStep<M::Stats>,
    params: &M::Params,
    mode: EStepMode,
) -> f64 {
    match mode {
        EStepMode::Soft => model
            .expected_log_joint(&total.stats, &total.latent, params, params)
            .map_or(f64::NAN, |expected| total.loglik - expected),
        EStepMode::Hard => 0.0,
    }
}

/// The E-step of a chain's rows (whole sequences), all but the entropy ([`entropy_from_totals`]):
/// the statistics, the latent statistics, `ln p(x)` (a hard E-step: `Σ ln p(x, z*)`), the
/// worst-explained row and, for a hard E-step, the Viterbi path.
fn chain_rows<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    sequences: &[Range<usize>],
    prior: ChainPrior<'_>,
    mode: EStepMode,
) -> EStep<M::Stats> {
    let weights = model.row_weights();
    // The statistics of the emissions weighted by `γ`, the latent statistics, `ln p(x)`, the
    // row no state explains well (where an empty state is re-seeded) and the path.
    let (parts, latent, loglik, worst, path) = match mode {
        EStepMode::Soft => {
            let form = Emissions::of(model, cache);
            let rows = || emissions(model, cache).0;
            // Each batch's statistics from its posteriors while they are in cache.
            let fit = chain_posterior(
                sequences,
                prior,
                &form,
                rows,
                weights,
                Posteriors::PerBatch,
                |rows, gamma| weighted_stats(model, cache, rows, gamma, None),
            );
            form.give();
            let parts = fit.per_batch.into_iter().flatten().collect();
            (parts, fit.latent, fit.loglik, fit.worst, Vec::new())
        }
        EStepMode::Hard => {
            let (log_b, worst) = emissions(model, cache);
            let (gamma, latent, path, loglik) = chain_hard(sequences, prior, &log_b, weights);
            scratch::give(log_b.into_raw_vec_and_offset().0);
            // With weights or gaps, the statistics of the path as a weighted one-hot `γ`.
            let path_form = weights.is_none() && !model.has_gaps();
            let parts = weighted_stats(
                model,
                cache,
                0..model.n_rows(),
                gamma.view(),
                path_form.then_some(&path[..]),
            );
            // The next iteration reuses this buffer.
            scratch::give(gamma.into_raw_vec_and_offset().0);
            (parts, latent, loglik, first_worst(worst, 0), path)
        }
    };
    let mut total = EStep::empty(model.zero_stats(), model.n_components(), 0);
    merge_parts(model, &mut total, parts);
    total.worst = worst;
    total.latent.initial = latent.initial;
    total.latent.transitions = latent.transitions;
    total.loglik = loglik;
    total.assignments = path;
    total
}

/// The statistics of the emissions of `rows` (a batch's, or every row), weighted by their
/// state posteriors `gamma` (column-major: each state's weights in a block are one
/// contiguous column for the kernels), in pieces of [`TASK_ROWS`] from `rows.start` (in
/// parallel; the parts in order) and blocks of [`BLOCK_ROWS`]; or with `path`, a hard
/// E-step's states of those rows, by the form for assignments.
fn weighted_stats<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    rows: Range<usize>,
    gamma: ArrayView2<'_, f64>,
    path: Option<&[u32]>,
) -> Vec<EStep<M::Stats>> {
    crate::tasks::map(pieces(rows.clone()), |piece: Range<usize>| {
        let mut out = EStep::empty(model.zero_stats(), model.n_components(), piece.start);
        let mut ws = Workspace::default();
        for start in piece.clone().step_by(BLOCK_ROWS) {
            let block = start..(start + BLOCK_ROWS).min(piece.end);
            let local = block.start - rows.start..block.end - rows.start;
            let resp = gamma.slice(s![local.clone(), ..]);
            add_counts(resp, &mut out.latent.counts);
            match path {
                Some(path) => {
                    model.accumulate_assigned(cache, block, &path[local], &mut out.stats, &mut ws)
                }
                None => model.accumulate(cache, block, resp, &mut out.stats, &mut ws),
            }
        }
        out
    })
}

/// How a chain's state posteriors `γ` (`N × K`) are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Row-major, as [`posterior`] returns them.
    Rows,
    /// Column-major, as the E-step's kernels read responsibilities.
    Columns,
}

/// `N × K` state posteriors over `buffer` (`N·K` values) in `layout`.
fn state_posteriors(n: usize, k: usize, layout: Layout, buffer: Vec<f64>) -> Array2<f64> {
    Array2::from_shape_vec((n, k).set_f(layout == Layout::Columns), buffer).expect("N × K values")
}

/// Responsibilities and per-row log-likelihood under prepared parameters. For a chain the
/// responsibilities are the state posteriors `p(z_t = k | x)` of forward–backward and the
/// per-row value is `ln p(x_t | x_0..x_{t-1})` within the row's sequence (the rows of a
/// sequence sum to its log-likelihood).
pub fn posterior<M: MixtureModel>(model: &M, cache: &M::Cache) -> (Array2<f64>, Array1<f64>) {
    if let (Some(sequences), Some(prior)) = (model.sequences(), model.chain_prior(cache)) {
        let form = Emissions::of(model, cache);
        let rows = || emissions(model, cache).0;
        let n = model.n_rows();
        let mut gamma = state_posteriors(
            n,
            model.n_components(),
            Layout::Rows,
            scratch::take_written(n * model.n_components()),
        );
        let mut steps = Array1::<f64>::zeros(n);
        let out = Posteriors::Into(gamma.view_mut(), steps.view_mut());
        chain_posterior(sequences, prior, &form, rows, None, out, |_, _| ());
        form.give();
        return (gamma, steps);
    }
    let k = model.n_components();
    // Each task writes its rows of the one `N × K` array in place (no per-task copies to
    // assemble: the responsibilities are the largest allocation of a fit).
    let mut resp = Array2::zeros((model.n_rows(), k));
    let mut ll = vec![0.0; model.n_rows()];
    let mut parts = Vec::new();
    let (mut resp_rest, mut ll_rest) = (resp.view_mut(), ll.as_mut_slice());
    for rows in tasks(model.n_rows()) {
        let (r, r_rest) = resp_rest.split_at(Axis(0), rows.len());
        let (l, l_rest) = ll_rest.split_at_mut(rows.len());
        parts.push((rows, r, l));
        (resp_rest, ll_rest) = (r_rest, l_rest);
    }
    parts.into_par_iter().for_each(|(rows, mut resp, ll)| {
        let mut ws = Workspace::default();
        // Each block column by column, as the E-step computes it (the kernels' and the
        // normalisation's fast forms), then into the rows of the result.
        let mut lj = Array2::<f64>::zeros((BLOCK_ROWS, k).f());
        for start in rows.clone().step_by(BLOCK_ROWS) {
            let block = start..(start + BLOCK_ROWS).min(rows.end);
            let local = (block.start - rows.start)..(block.end - rows.start);
            let mut view = lj.slice_mut(s![..block.len(), ..]);
            view.fill(0.0);
            log_joint(model, cache, block, view.view_mut(), &mut ws);
            normalise_rows(view.view_mut(), &mut ll[local.clone()]);
            resp.slice_mut(s![local, ..]).assign(&view);
        }
    });
    (resp, Array1::from(ll))
}

/// `E_q[ln p(x, z | params)] + H(q)` with `q` the posterior under `at`: equal to
/// `ln p(x | at)` when `params == at` (the bound is tight after an E-step).
pub fn elbo<M: MixtureModel>(
    model: &M,
    at: &M::Params,
    params: &M::Params,
) -> Result<f64, NumericalIssue> {
    let cache = model.prepare(at)?;
    let e = e_step(model, &cache, at, EStepMode::Soft, Takes::RowEntropy);
    Ok(model.expected_log_joint(&e.stats, &e.latent, at, params)? + e.entropy)
}

/// The most probable latent values under `params` and their joint log-probability
/// `ln p(x, z*)`: the Viterbi path of every sequence for a chain, the most probable component
/// of every row for a mixture.
pub fn decode<M: MixtureModel>(
    model: &M,
    params: &M::Params,
) -> Result<(Vec<usize>, f64), NumericalIssue> {
    let cache = model.prepare(params)?;
    let (n, k) = (model.n_rows(), model.n_components());
    if let (Some(sequences), Some(prior)) = (model.sequences(), model.chain_prior(&cache)) {
        let (log_b, _) = emissions(model, &cache);
        let parts = viterbi_paths(sequences, prior, &log_b);
        let score = parts.iter().map(|p| p.1).sum();
        return Ok((parts.into_iter().flat_map(|p| p.0).collect(), score));
    }
    let mut ws = Workspace::default();
    let mut path = Vec::with_capacity(n);
    let mut score = 0.0;
    let mut lj = Array2::<f64>::zeros((BLOCK_ROWS, k));
    for start in (0..n).step_by(BLOCK_ROWS) {
        let block = start..(start + BLOCK_ROWS).min(n);
        let mut view = lj.slice_mut(s![..block.len(), ..]);
        view.fill(0.0);
        log_joint(model, &cache, block, view.view_mut(), &mut ws);
        for row in view.rows() {
            let best = argmax(row);
            path.push(best);
            score += row[best];
        }
    }
    Ok((path, score))
}

/// One EM step from `params`: the log-likelihood at `params` and the updated parameters.
/// The configuration is checked first ([`MStepConfig::check`]); a numerical problem is
/// reported as [`FitError::Numerical`] at iteration 0.
pub fn em_step<M: MixtureModel>(
    model: &M,
    params: &M::Params,
    config: &MStepConfig,
) -> Result<(f64, M::Params), FitError> {
    config.check()?;
    let numerical = |issue| FitError::Numerical {
        issue,
        iteration: 0,
    };
    let cache = model.prepare(params).map_err(numerical)?;
    let e = e_step(model, &cache, params, EStepMode::Soft, Takes::Statistics);
    let next = model
        .m_step(&e.stats, &e.latent, params, config)
        .map_err(numerical)?;
    Ok((e.loglik, next))
}

/// Starting parameters from hard assignments: one M-step with one-hot responsibilities.
/// The configuration is checked first ([`MStepConfig::check`]); a numerical problem is
/// reported as [`FitError::Numerical`] at iteration 0.
pub fn params_from_labels<M: MixtureModel>(
    model: &M,
    labels: &[usize],
    config: &MStepConfig,
    rng: &mut dyn RngCore,
) -> Result<(M::Params, Array1<f64>), FitError> {
    config.check()?;
    let k = model.n_components();
    if labels.len() != model.n_rows() {
        return Err(FitError::InvalidInit(format!(
            "{} labels for {} rows",
            labels.len(),
            model.n_rows()
        )));
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= k) {
        return Err(FitError::InvalidInit(format!(
            "label {l} is not a component (there are {k})"
        )));
    }
    params_from_labels_unchecked(model, labels, config, rng).map_err(|issue| FitError::Numerical {
        issue,
        iteration: 0,
    })
}

fn params_from_labels_unchecked<M: MixtureModel>(
    model: &M,
    labels: &[usize],
    config: &MStepConfig,
    rng: &mut dyn RngCore,
) -> Result<(M::Params, Array1<f64>), NumericalIssue> {
    params_from_weighted_labels(model, labels, config, rng, model.row_weights())
}

/// [`params_from_labels_unchecked`] with each row's one-hot responsibility times `weights`
/// (the chain's initial and transition counts weigh each sequence by the model's weights).
fn params_from_weighted_labels<M: MixtureModel>(
    model: &M,
    labels: &[usize],
    config: &MStepConfig,
    rng: &mut dyn RngCore,
    weights: Option<&[f64]>,
) -> Result<(M::Params, Array1<f64>), NumericalIssue> {
    let k = model.n_components();
    let mut neutral = model.neutral_params();
    model.randomise_neutral(&mut neutral, rng);
    let cache = model.prepare(&neutral)?;
    let mut latent = LatentStats::zeros(k);
    // One component whose rows weigh what the model's weights say: every row's label is that
    // component, so the statistics are the E-step's, which the data's summaries give
    // without a pass over the rows (the summaries are then ready for the first iteration).
    // The callers pass either the model's own weights (the same slice) or weights of their
    // own, which the summaries do not know.
    let own_weights = match (weights, model.row_weights()) {
        (None, None) => true,
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => false,
    };
    let summarised = (k == 1 && own_weights && model.sequences().is_none())
        .then(|| summaries(model, &cache))
        .flatten();
    let stats = match summarised {
        Some((stats, _)) => {
            latent.counts[0] = observations(model);
            stats
        }
        None => {
            let mut stats = model.zero_stats();
            accumulate_labels(model, &cache, labels, weights, &mut stats, &mut latent);
            stats
        }
    };
    if let Some(sequences) = model.sequences() {
        // One pseudo-count per initial state and transition: a chain's zero probabilities
        // would stay zero under Baum–Welch.
        (latent.initial, latent.transitions) =
            chain::weighted_label_counts(labels, sequences, k, 1.0, model.row_weights());
    }
    let params = model.m_step(&stats, &latent, &neutral, config)?;
    Ok((params, latent.counts))
}

/// Adds the statistics of a chunk's rows (`model`'s) as members of the components `labels`
/// alone, weighted by the rows' weights: the counts and, for a chain (whose chunks hold whole
/// sequences), its initial states and transitions, without pseudo-counts.
fn add_label_stats<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    labels: &[usize],
    stats: &mut M::Stats,
    latent: &mut LatentStats,
) {
    let w = model.row_weights();
    accumulate_labels(model, cache, labels, w, stats, latent);
    if let Some(sequences) = model.sequences() {
        let k = model.n_components();
        let (initial, transitions) = chain::weighted_label_counts(labels, sequences, k, 0.0, w);
        latent.initial += &initial;
        latent.transitions += &transitions;
    }
}

/// The start's statistics of `model`'s rows (a chunk: a chain's hold whole sequences), each
/// row a member of the component of its nearest centre among `centres` (its seeding features
/// scaled by `scaling`) alone, under the parameters `cache` was prepared from (the neutral
/// start's): the statistics and the counts ([`PassStats::stats`], [`PassStats::latent`]),
/// no log-likelihood. Partitions computed anywhere merge ([`PassStats::merge`]) into the
/// statistics of every row, whose M-step is the start ([`Chunks::start_pass`]).
pub fn start_stats<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    scaling: &init::Scaling,
    centres: &Array2<f64>,
) -> PassStats<M::Stats> {
    let x = scaling.apply(model.init_features());
    let labels = init::nearest(x.view(), centres.view());
    let mut pass = PassStats::empty(model);
    add_label_stats(model, cache, &labels, &mut pass.stats, &mut pass.latent);
    pass
}

/// Adds the statistics of every row of `model` as a member of component `labels[n]` alone
/// (weighted by `weights`), with the counts: block by block in tasks of [`TASK_ROWS`] rows
/// in parallel, each task's sums added in task order (as the E-step's).
fn accumulate_labels<M: MixtureModel>(
    model: &M,
    cache: &M::Cache,
    labels: &[usize],
    weights: Option<&[f64]>,
    stats: &mut M::Stats,
    latent: &mut LatentStats,
) {
    let k = model.n_components();
    let parts = crate::tasks::map(tasks(model.n_rows()), |rows| {
        let mut stats = model.zero_stats();
        let mut counts = Array1::zeros(k);
        let mut ws = Workspace::default();
        let mut resp = Array2::zeros((BLOCK_ROWS, k));
        let (mut assigned, mut tally) = (Vec::with_capacity(BLOCK_ROWS), vec![0; 4 * k]);
        for start in rows.clone().step_by(BLOCK_ROWS) {
            let block = start..(start + BLOCK_ROWS).min(rows.end);
            if weights.is_none() && !model.has_gaps() {
                // The statistics of an assignment, in the model's form for them (one pass over
                // the block's rows, where one-hot responsibilities take one per component).
                // (Not with missing cells, whose forms the generated code and the executor
                // take in different orders.)
                assigned.clear();
                assigned.extend(labels[block.clone()].iter().map(|&l| l as u32));
                let counts = counts.as_slice_mut().expect("contiguous counts");
                tally_components(&assigned, &mut tally, counts);
                model.accumulate_assigned(cache, block, &assigned, &mut stats, &mut ws);
                continue;
            }
            let mut resp = resp.slice_mut(s![..block.len(), ..]);
            resp.fill(0.0);
            for (i, (mut r, &l)) in resp
                .rows_mut()
                .into_iter()
                .zip(&labels[block.clone()])
                .enumerate()
            {
                r[l] = weights.map_or(1.0, |w| w[block.start + i]);
            }
            add_counts(resp.view(), &mut counts);
            model.accumulate(cache, block, resp.view(), &mut stats, &mut ws);
        }
        (stats, counts)
    });
    for (part, counts) in parts {
        model.merge(stats, &part);
        latent.counts += &counts;
    }
}

struct Run<P> {
    params: P,
    /// The penalised objective after each E-step.
    trace: Vec<f64>,
    /// `ln p(x | params)` and `ln p(params)` of the returned parameters.
    log_likelihood: f64,
    /// A hard E-step's `ln p(x, z* | params)`.
    complete_log_likelihood: Option<f64>,
    /// A hard E-step's last assignments.
    hard_assignments: Vec<u32>,
    e_step: EStepMode,
    log_prior: f64,
    warnings: Vec<FitWarning>,
    iterations: usize,
    converged: bool,
    responsibilities: Array2<f64>,
    point_ll: Array1<f64>,
    reseeds: Vec<ReseedEvent>,
    timing: Timing,
}

/// Above this many rows (or [`SEED_SAMPLE_PER_COMPONENT`] per component, if more), k-means++
/// seeding and Lloyd's rounds run on a uniform sample of this size, and every row takes its
/// nearest centre: on 2,000,000 rows the seeding is then a few passes over 100,000.
pub const SEED_SAMPLE: usize = 100_000;

/// Rows of the seeding's sample per component (see [`SEED_SAMPLE`]).
pub const SEED_SAMPLE_PER_COMPONENT: usize = 100;

/// The size of the seeding's sample for `k` components (see [`SEED_SAMPLE`]).
fn seed_sample(k: usize) -> usize {
    SEED_SAMPLE.max(SEED_SAMPLE_PER_COMPONENT * k)
}

/// Relative margin by which a later restart's objective must exceed the best so far to
/// replace it (see [`fit`]).
const RESTART_TIE: f64 = 1e-12;

/// Round-off allowance of the monotonicity guard: relative to the log-likelihood and the
/// number of rows, plus a share of the magnitude of terms that cancel in it (large counts).
fn guard_tol(value: f64, n: f64, magnitude: f64) -> f64 {
    1e-8 * (value.abs() + n) + 1e-12 * magnitude
}

/// The number of observations: the rows, or the sum of their weights.
fn observations<M: MixtureModel>(model: &M) -> f64 {
    model
        .row_weights()
        .map_or(model.n_rows() as f64, |w| w.iter().sum())
}

/// Whether two hard assignments agree on every row of weight above zero.
fn same_assignments(a: &[u32], b: &[u32], weights: Option<&[f64]>) -> bool {
    match weights {
        None => a == b,
        Some(w) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .zip(w)
                    .all(|((x, y), &w)| w == 0.0 || x == y)
        }
    }
}

/// A row to re-seed a component on, drawn with probability proportional to its weight
/// (uniformly without weights). With whole-number weights the draw is of a whole number
/// below `Σ w`, the row whose copies it falls among: the row the same draw picks from the
/// data with each row repeated `w` times.
fn random_row(rng: &mut ChaCha8Rng, n: usize, weights: Option<&[f64]>) -> usize {
    let Some(w) = weights else {
        return rng.random_range(0..n);
    };
    let total: f64 = w.iter().sum();
    let target = weighted_target(rng, total, w.iter().all(|v| v.fract() == 0.0));
    let mut below = 0.0;
    for (i, &v) in w.iter().enumerate() {
        below += v;
        if target < below {
            return i;
        }
    }
    // Round-off at the top end: the last row of weight above zero.
    w.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

/// The rows an EM run passes over: a model's own rows in memory ([`InMemory`]), or a
/// [`Chunks`] source read one chunk per pass ([`Chunked`]). The driver's loop, its
/// initialisation and its re-seeding are written once over it.
trait Rows<M: MixtureModel>: Sync {
    /// The model that prepares parameters, runs the M-step and evaluates the objective.
    fn model(&self) -> &M;
    /// The number of rows.
    fn n_rows(&self) -> usize;
    /// The number of observations: the rows, or the sum of their weights.
    fn observations(&self) -> f64;
    /// Whether the rows are held in memory, so that the result has a value per row.
    fn in_memory(&self) -> bool;
    /// The seeding's features ([`MixtureModel::init_features`], column-major, not scaled)
    /// and weights of the rows `at` (ascending), or of every row.
    fn features(&self, at: Option<&[usize]>) -> Result<(Array2<f64>, Option<Vec<f64>>), FitError>;
    /// Starting parameters from the seeding's assignment of every row (one M-step), with
    /// the (weighted) number of rows each component received.
    fn start_from(
        &self,
        seeding: Seeding,
        config: &MStepConfig,
        rng: &mut ChaCha8Rng,
        restart: usize,
    ) -> Result<(M::Params, Array1<f64>), FitError>;
    /// The E-step over every row, a soft one of a mixture taking what `takes` asks for (or
    /// more).
    fn e_step(
        &self,
        cache: &M::Cache,
        params: &M::Params,
        mode: EStepMode,
        takes: Takes,
    ) -> Result<EStep<M::Stats>, FitError>;
    /// Whether two hard E-steps' assignments (as [`Rows::e_step`] records them) agree on
    /// every row of weight above zero.
    fn settled(&self, a: &[u32], b: &[u32]) -> bool;
    /// A row drawn with probability proportional to its weight ([`random_row`]).
    fn random_row(&self, rng: &mut ChaCha8Rng) -> Result<usize, FitError>;
    /// [`MixtureModel::reseed`] of component `k` on row `row`.
    fn reseed(&self, params: &mut M::Params, k: usize, row: usize) -> Result<(), FitError>;
    /// The posterior at the final parameters: the responsibilities and `ln p(x_n)` of every
    /// row (empty when the rows are not held), and, when `total`, `Σ_n w_n ln p(x_n)`.
    fn posterior(
        &self,
        cache: &M::Cache,
        total: bool,
    ) -> Result<(Array2<f64>, Array1<f64>, f64), FitError>;
}

/// A model's own rows, in memory.
struct InMemory<'m, M>(&'m M);

impl<M: MixtureModel> Rows<M> for InMemory<'_, M> {
    fn model(&self) -> &M {
        self.0
    }

    fn n_rows(&self) -> usize {
        self.0.n_rows()
    }

    fn observations(&self) -> f64 {
        observations(self.0)
    }

    fn in_memory(&self) -> bool {
        true
    }

    fn features(&self, at: Option<&[usize]>) -> Result<(Array2<f64>, Option<Vec<f64>>), FitError> {
        let w = self.0.row_weights();
        if let (Some(at), Some(x)) = (at, self.0.init_features_view()) {
            let w = w.map(|w| at.iter().map(|&i| w[i]).collect());
            return Ok((init::gather_rows(x, at), w));
        }
        let x = self.0.init_features();
        Ok(match at {
            None => (crate::data::column_major(x), w.map(<[f64]>::to_vec)),
            Some(at) => (
                crate::data::column_major(x.select(Axis(0), at)),
                w.map(|w| at.iter().map(|&i| w[i]).collect()),
            ),
        })
    }

    fn start_from(
        &self,
        seeding: Seeding,
        config: &MStepConfig,
        rng: &mut ChaCha8Rng,
        restart: usize,
    ) -> Result<(M::Params, Array1<f64>), FitError> {
        start_in_memory(self.0, seeding, config, rng, restart)
    }

    fn e_step(
        &self,
        cache: &M::Cache,
        params: &M::Params,
        mode: EStepMode,
        takes: Takes,
    ) -> Result<EStep<M::Stats>, FitError> {
        Ok(e_step(self.0, cache, params, mode, takes))
    }

    fn settled(&self, a: &[u32], b: &[u32]) -> bool {
        same_assignments(a, b, self.0.row_weights())
    }

    fn random_row(&self, rng: &mut ChaCha8Rng) -> Result<usize, FitError> {
        Ok(random_row(rng, self.0.n_rows(), self.0.row_weights()))
    }

    fn reseed(&self, params: &mut M::Params, k: usize, row: usize) -> Result<(), FitError> {
        self.0.reseed(params, k, row);
        Ok(())
    }

    fn posterior(
        &self,
        cache: &M::Cache,
        total: bool,
    ) -> Result<(Array2<f64>, Array1<f64>, f64), FitError> {
        let (resp, ll) = posterior(self.0, cache);
        let sum = if total {
            weighted_sum(&ll, self.0.row_weights())
        } else {
            0.0
        };
        Ok((resp, ll, sum))
    }
}

/// Data read one chunk at a time, for a fit that never holds every row ([`fit_chunked`]):
/// each EM iteration is one pass over the chunks, in order, and only the statistics (a
/// monoid) and one chunk at a time are in memory.
///
/// Every chunk is a model of the same type over its own rows, built with the whole data's
/// context — the moments of the data and the priors' hyperparameters computed from them, the
/// number of rows, the sums of per-row terms — so that the M-step and the objective of any
/// chunk are those of the whole data. With chunks of a multiple of [`TASK_ROWS`] rows the
/// statistics are added in the order of the in-memory fit. A chain's chunks each hold whole
/// sequences (its own [`MixtureModel::sequences`]): forward–backward runs along each.
pub trait Chunks: Sync {
    /// The model of each chunk.
    type Model: MixtureModel;
    /// A model with the whole data's context (the first chunk, say): it prepares the
    /// parameters, runs the M-step and evaluates the objective, none of which reads its rows.
    fn head(&self) -> &Self::Model;
    /// The number of rows of every chunk together.
    fn n_rows(&self) -> usize;
    /// The number of observations: the rows, or the sum of their weights.
    fn observations(&self) -> f64;
    /// Calls `f(first, chunk)` on each chunk in order, `first` the index of its first row
    /// among all rows; stops early when `f` returns `Ok(false)`, and at the first error
    /// (`f`'s, or one reading a chunk: [`FitError::Source`]).
    #[allow(clippy::type_complexity)]
    fn for_each(
        &self,
        f: &mut dyn FnMut(usize, &Self::Model) -> Result<bool, FitError>,
    ) -> Result<(), FitError>;
    /// A model of the rows `at` (ascending indices among all rows) with the whole data's
    /// context: the seeding's sample.
    fn gather(&self, at: &[usize]) -> Result<Self::Model, FitError>;

    /// The soft E-step over every row under `params`, computed elsewhere — by a query engine
    /// next to the data, say, each partition's [`PassStats::of`] merged — instead of by
    /// reading every chunk here with [`Chunks::for_each`]. `None` (the default): read the
    /// chunks. A pass that leaves a component empty is read again here, chunk by chunk,
    /// to find the row that reseeds it; a hard E-step always reads the chunks.
    #[allow(clippy::type_complexity)]
    fn e_step_pass(
        &self,
        params: &<Self::Model as MixtureModel>::Params,
    ) -> Option<Result<PassStats<<Self::Model as MixtureModel>::Stats>, FitError>> {
        let _ = params;
        None
    }

    /// The start's statistics over every row ([`start_stats`] of each part, merged),
    /// computed elsewhere — by a query engine next to the data, say — instead of by reading
    /// every chunk here: each row assigned to its nearest centre among `centres` (its
    /// seeding features scaled by `scaling`), under the neutral parameters `neutral`. `None`
    /// (the default): read the chunks.
    #[allow(clippy::type_complexity)]
    fn start_pass(
        &self,
        neutral: &<Self::Model as MixtureModel>::Params,
        scaling: &init::Scaling,
        centres: &Array2<f64>,
    ) -> Option<Result<PassStats<<Self::Model as MixtureModel>::Stats>, FitError>> {
        let _ = (neutral, scaling, centres);
        None
    }
}

/// The soft E-step's sums over some rows under fixed parameters — the statistics, the
/// latent statistics and `ln p(x | θ)` — and the lowest `ln p(x_n)` among them: a monoid, so
/// partitions of the rows computed anywhere merge into the E-step of all of them
/// ([`Chunks::e_step_pass`]). The merge adds in the order it is called: the same rows split
/// otherwise agree to round-off. (The entropy of `q(z)` is not among them: the driver takes
/// it from the merged totals.)
#[derive(Debug, Clone, PartialEq)]
pub struct PassStats<S> {
    /// The model's expected sufficient statistics.
    pub stats: S,
    /// The latent's expected statistics.
    pub latent: LatentStats,
    /// `Σ_n w_n ln p(x_n | θ)`.
    pub loglik: f64,
    /// The lowest `ln p(x_n | θ)` of a row of weight above zero (`+∞` for none).
    pub worst: f64,
}

impl<S> PassStats<S> {
    /// No rows yet.
    pub fn empty<M: MixtureModel<Stats = S>>(model: &M) -> Self {
        PassStats {
            stats: model.zero_stats(),
            latent: LatentStats::zeros(model.n_components()),
            loglik: 0.0,
            worst: f64::INFINITY,
        }
    }

    /// The soft E-step of `model`'s rows under the parameters `cache` was prepared from,
    /// over the fit's fixed tasks (a chain's: its batches of whole sequences): a mixture's on
    /// this thread (an engine runs its partitions in parallel), a chain's by forward–backward
    /// along each of its sequences, which must be whole.
    pub fn of<M: MixtureModel<Stats = S>>(model: &M, cache: &M::Cache) -> Self {
        if let (Some(sequences), Some(prior)) = (model.sequences(), model.chain_prior(cache)) {
            let e = chain_rows(model, cache, sequences, prior, EStepMode::Soft);
            return PassStats {
                stats: e.stats,
                latent: e.latent,
                loglik: e.loglik,
                worst: e.worst.0,
            };
        }
        let mut total = PassStats::empty(model);
        let mut scratch = RowScratch::new(model.n_components());
        for rows in tasks(model.n_rows()) {
            let w = model.row_weights();
            let p = e_step_rows(
                model,
                cache,
                rows,
                EStepMode::Soft,
                w,
                Takes::Statistics,
                &mut scratch,
                &mut [],
            );
            total.add(
                |a, b| model.merge(a, b),
                &p.stats,
                &p.latent,
                p.loglik,
                p.worst.0,
            );
        }
        total
    }

    /// Adds the rows of `other`.
    pub fn merge<M: MixtureModel<Stats = S>>(&mut self, model: &M, other: &Self) {
        self.merge_with(other, |a, b| model.merge(a, b));
    }

    /// Adds the rows of `other`, its statistics added to these by `add_stats` (where no
    /// model is at hand: a worker merging partitions' statistics of a checked layout).
    pub fn merge_with(&mut self, other: &Self, add_stats: impl FnOnce(&mut S, &S)) {
        self.add(
            add_stats,
            &other.stats,
            &other.latent,
            other.loglik,
            other.worst,
        );
    }

    fn add(
        &mut self,
        add_stats: impl FnOnce(&mut S, &S),
        stats: &S,
        latent: &LatentStats,
        loglik: f64,
        worst: f64,
    ) {
        add_stats(&mut self.stats, stats);
        self.latent.merge(latent);
        self.loglik += loglik;
        self.worst = self.worst.min(worst);
    }
}

/// The rows of a [`Chunks`] source.
struct Chunked<'c, C>(&'c C);

/// A key of a task's hard assignments (FNV-1a over each row's component, a row of weight
/// zero counting as none), two words: passes compare keys instead of holding every row's.
fn assignment_key(assignments: &[u32], weights: Option<&[f64]>) -> [u32; 2] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &a) in assignments.iter().enumerate() {
        let a = if weights.is_some_and(|w| w[i] == 0.0) {
            u32::MAX
        } else {
            a
        };
        for byte in a.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    [(h >> 32) as u32, h as u32]
}

impl<C: Chunks> Rows<C::Model> for Chunked<'_, C> {
    fn model(&self) -> &C::Model {
        self.0.head()
    }

    fn n_rows(&self) -> usize {
        self.0.n_rows()
    }

    fn observations(&self) -> f64 {
        self.0.observations()
    }

    fn in_memory(&self) -> bool {
        false
    }

    fn features(&self, at: Option<&[usize]>) -> Result<(Array2<f64>, Option<Vec<f64>>), FitError> {
        let every: Vec<usize>;
        let at = match at {
            Some(at) => at,
            None => {
                every = (0..self.0.n_rows()).collect();
                &every
            }
        };
        let sample = self.0.gather(at)?;
        Ok((
            crate::data::column_major(sample.init_features()),
            sample.row_weights().map(<[f64]>::to_vec),
        ))
    }

    fn start_from(
        &self,
        seeding: Seeding,
        config: &MStepConfig,
        rng: &mut ChaCha8Rng,
        _restart: usize,
    ) -> Result<(<C::Model as MixtureModel>::Params, Array1<f64>), FitError> {
        // As `params_from_weighted_labels`, chunk by chunk.
        let model = self.0.head();
        let numerical = |issue| FitError::Numerical {
            issue,
            iteration: 0,
        };
        let mut neutral = model.neutral_params();
        model.randomise_neutral(&mut neutral, rng);
        let cache = model.prepare(&neutral).map_err(numerical)?;
        let k = model.n_components();
        let mut stats = model.zero_stats();
        let mut latent = LatentStats::zeros(k);
        // A chain's one pseudo-count per initial state and transition, once.
        let chain = model.sequences().is_some();
        if chain {
            latent.initial.fill(1.0);
            latent.transitions.fill(1.0);
        }
        // Each row's nearest centre, computed next to the data when the source can.
        let elsewhere = match &seeding {
            Seeding::Nearest(scaling, centres) => self.0.start_pass(&neutral, scaling, centres),
            Seeding::Labels(_) => None,
        };
        if let Some(pass) = elsewhere {
            let pass = pass?;
            model.merge(&mut stats, &pass.stats);
            latent.merge(&pass.latent);
        } else {
            self.0.for_each(&mut |first, chunk| {
                let labels = match &seeding {
                    Seeding::Labels(labels) => labels[first..first + chunk.n_rows()].to_vec(),
                    Seeding::Nearest(scaling, centres) => {
                        let x = scaling.apply(chunk.init_features());
                        init::nearest(x.view(), centres.view())
                    }
                };
                add_label_stats(chunk, &cache, &labels, &mut stats, &mut latent);
                Ok(true)
            })?;
        }
        let params = model
            .m_step(&stats, &latent, &neutral, config)
            .map_err(numerical)?;
        Ok((params, latent.counts))
    }

    fn e_step(
        &self,
        cache: &<C::Model as MixtureModel>::Cache,
        params: &<C::Model as MixtureModel>::Params,
        mode: EStepMode,
        takes: Takes,
    ) -> Result<EStep<<C::Model as MixtureModel>::Stats>, FitError> {
        let model = self.0.head();
        let chain = model.sequences().is_some();
        if mode == EStepMode::Soft {
            if let Some(pass) = self.0.e_step_pass(params) {
                let pass = pass?;
                let empty = (0..model.n_components()).any(|k| {
                    pass.latent.counts[k] < EMPTY_COUNT && !model.keeps_empty_components()
                });
                // A component left empty is reseeded at the worst-fit row, which only a pass
                // here can name.
                if !empty {
                    let mut total = EStep {
                        stats: pass.stats,
                        latent: pass.latent,
                        loglik: pass.loglik,
                        entropy: 0.0,
                        worst: (pass.worst, 0),
                        assignments: Vec::new(),
                    };
                    total.entropy = entropy_from_totals(model, &total, params, mode);
                    return Ok(total);
                }
            }
        }
        let mut total = EStep::empty(model.zero_stats(), model.n_components(), 0);
        let mut keys = Vec::new();
        self.0.for_each(&mut |first, chunk| {
            let w = chunk.row_weights();
            // A chain's chunk holds whole sequences.
            // Each part's assignments (the chain's part: its path), as one key per part.
            let (mut parts, assignments, per_part) =
                match (chunk.sequences(), chunk.chain_prior(cache)) {
                    (Some(sequences), Some(prior)) => {
                        let mut part = chain_rows(chunk, cache, sequences, prior, mode);
                        let path = std::mem::take(&mut part.assignments);
                        let rows = path.len().max(1);
                        (vec![part], path, rows)
                    }
                    _ => {
                        let (parts, assignments) = e_step_parts(chunk, cache, mode, w, takes);
                        (parts, assignments, TASK_ROWS)
                    }
                };
            for p in &mut parts {
                p.worst.1 += first;
            }
            for (i, part) in assignments.chunks(per_part).enumerate() {
                let at = i * per_part;
                keys.extend(assignment_key(part, w.map(|w| &w[at..at + part.len()])));
            }
            scratch::give_u32(assignments);
            merge_parts(model, &mut total, parts);
            Ok(true)
        })?;
        total.assignments = keys;
        if !chain {
            complete_from_stats(model, &mut total, params, mode);
        }
        total.entropy = match takes {
            Takes::Objective if !chain => f64::NAN,
            _ => entropy_from_totals(model, &total, params, mode),
        };
        Ok(total)
    }

    fn settled(&self, a: &[u32], b: &[u32]) -> bool {
        a == b
    }

    fn random_row(&self, rng: &mut ChaCha8Rng) -> Result<usize, FitError> {
        let n = self.0.n_rows();
        if self.0.head().row_weights().is_none() {
            return Ok(random_row(rng, n, None));
        }
        // As `random_row` draws with weights: their sum and whether they are whole numbers
        // (one pass), then the row whose weight the draw falls in (a second).
        let (mut total, mut whole) = (0.0, true);
        self.0.for_each(&mut |_, chunk| {
            let w = chunk.row_weights().unwrap_or(&[]);
            total += w.iter().sum::<f64>();
            whole &= w.iter().all(|v| v.fract() == 0.0);
            Ok(true)
        })?;
        let target = weighted_target(rng, total, whole);
        let (mut below, mut found, mut last) = (0.0, None, 0);
        self.0.for_each(&mut |first, chunk| {
            for (i, &v) in chunk.row_weights().unwrap_or(&[]).iter().enumerate() {
                below += v;
                if v > 0.0 {
                    last = first + i;
                }
                if target < below {
                    found = Some(first + i);
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        // Round-off at the top end: the last row of weight above zero.
        Ok(found.unwrap_or(last))
    }

    fn reseed(
        &self,
        params: &mut <C::Model as MixtureModel>::Params,
        k: usize,
        row: usize,
    ) -> Result<(), FitError> {
        self.0.for_each(&mut |first, chunk| {
            if (first..first + chunk.n_rows()).contains(&row) {
                chunk.reseed(params, k, row - first);
                return Ok(false);
            }
            Ok(true)
        })
    }

    fn posterior(
        &self,
        cache: &<C::Model as MixtureModel>::Cache,
        total: bool,
    ) -> Result<(Array2<f64>, Array1<f64>, f64), FitError> {
        let k = self.0.head().n_components();
        let mut sum = 0.0;
        if total {
            self.0.for_each(&mut |_, chunk| {
                let (_, ll) = posterior(chunk, cache);
                sum += weighted_sum(&ll, chunk.row_weights());
                Ok(true)
            })?;
        }
        Ok((Array2::zeros((0, k)), Array1::zeros(0), sum))
    }
}

/// How the seeding assigns every row to a starting component.
enum Seeding {
    /// A component per row (the seeding ran on every row).
    Labels(Vec<usize>),
    /// Each row's nearest centre, its features scaled as given (the seeding ran on a sample).
    Nearest(init::Scaling, Array2<f64>),
}

/// The scaling of the seeding's features `x`: none when the model measures distances in the
/// data's units ([`MixtureModel::init_in_data_units`]), else each column standardised.
fn seeding_scaling<M: MixtureModel>(
    model: &M,
    x: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
) -> init::Scaling {
    if model.init_in_data_units() {
        init::Scaling::identity(x.ncols())
    } else {
        init::Scaling::of(x, weights)
    }
}

/// The draw of [`random_row`] below the weights' sum `total`: a whole number when every
/// weight is one (`whole`) and the sum is exact in `f64`, else a uniform number.
fn weighted_target(rng: &mut ChaCha8Rng, total: f64, whole: bool) -> f64 {
    if whole && total < 2f64.powi(53) {
        rng.random_range(0..total as u64) as f64
    } else {
        rng.random::<f64>() * total
    }
}

fn initial_params<M: MixtureModel, R: Rows<M>>(
    rows: &R,
    opts: &FitOptions<M::Params>,
    rng: &mut ChaCha8Rng,
    reseeds: &mut Vec<ReseedEvent>,
    restart: usize,
) -> Result<M::Params, FitError> {
    let model = rows.model();
    let k = model.n_components();
    let seeding = match &opts.init {
        InitStrategy::Params(p) => return Ok(p.clone()),
        InitStrategy::KMeansPlusPlus if k == 1 && rows.in_memory() => {
            // One component takes every row, with nothing to seed. The seeding's draws (its
            // sample, its first centre) are made all the same, so that the rest of the start
            // draws what it would have.
            let n = rows.n_rows();
            let weights = model.row_weights();
            let sample = seed_sample(1);
            if n > sample {
                let mut at = rand::seq::index::sample(rng, n, sample).into_vec();
                at.sort_unstable();
                let ws = weights.map(|w| at.iter().map(|&i| w[i]).collect::<Vec<f64>>());
                init::first_centre(sample, ws.as_deref(), rng);
            } else {
                init::first_centre(n, weights, rng);
            }
            Seeding::Labels(vec![0; n])
        }
        InitStrategy::KMeansPlusPlus => {
            let sample = seed_sample(k);
            if rows.n_rows() > sample {
                // k-means++ and Lloyd's rounds on a uniform sample of the rows (with their
                // weights), standardised by the sample's moments; every row then takes its
                // nearest centre, in one pass.
                let mut at = rand::seq::index::sample(rng, rows.n_rows(), sample).into_vec();
                at.sort_unstable();
                let (xs, ws) = rows.features(Some(&at))?;
                let scaling = seeding_scaling(model, xs.view(), ws.as_deref());
                let xs = scaling.apply(xs);
                let centres = init::kmeans_plus_plus(xs.view(), k, rng, ws.as_deref());
                let (centres, _) =
                    init::lloyd_centres(xs.view(), centres, opts.lloyd_iters, ws.as_deref());
                Seeding::Nearest(scaling, centres)
            } else {
                let (x, w) = rows.features(None)?;
                let x = seeding_scaling(model, x.view(), w.as_deref()).apply(x);
                let centres = init::kmeans_plus_plus(x.view(), k, rng, w.as_deref());
                Seeding::Labels(init::lloyd(
                    x.view(),
                    centres,
                    opts.lloyd_iters,
                    w.as_deref(),
                ))
            }
        }
        InitStrategy::RandomFromData => {
            let (x, w) = rows.features(None)?;
            let x = seeding_scaling(model, x.view(), w.as_deref()).apply(x);
            let centres = init::random_rows(x.view(), k, rng, w.as_deref());
            Seeding::Labels(init::nearest(x.view(), centres.view()))
        }
    };
    opts.m_step.check()?;
    let (mut params, counts) = rows.start_from(seeding, &opts.m_step, rng, restart)?;
    for (c, &count) in counts.iter().enumerate() {
        if count < EMPTY_COUNT && !model.keeps_empty_components() {
            let row = rows.random_row(rng)?;
            rows.reseed(&mut params, c, row)?;
            reseeds.push(ReseedEvent {
                iteration: 0,
                component: c,
                row,
                reason: "empty",
            });
        }
    }
    Ok(params)
}

/// Starting parameters of a model in memory from the seeding's assignment of every row, with
/// partial labels in place of the seeding's where the model has them: the first start, when
/// every component has a labelled row, takes the labelled rows alone (the supervised
/// estimates), the others weighing nothing; further restarts start from the seeding with the
/// labels in place.
fn start_in_memory<M: MixtureModel>(
    model: &M,
    seeding: Seeding,
    config: &MStepConfig,
    rng: &mut ChaCha8Rng,
    restart: usize,
) -> Result<(M::Params, Array1<f64>), FitError> {
    let k = model.n_components();
    let weights = model.row_weights();
    let labels = match seeding {
        Seeding::Labels(labels) => labels,
        Seeding::Nearest(scaling, centres) => match model.init_features_view() {
            Some(x) => init::nearest_scaled(x, &scaling, centres.view()),
            None => {
                let x = scaling.apply(model.init_features());
                init::nearest(x.view(), centres.view())
            }
        },
    };
    let (labels, start_weights) = match model.row_labels() {
        None => (labels, None),
        Some(given) => {
            let labels: Vec<usize> = labels
                .iter()
                .zip(given)
                .map(|(&l, g)| g.map_or(l, |g| g as usize))
                .collect();
            let mut seen = vec![false; k];
            for g in given.iter().flatten() {
                seen[*g as usize] = true;
            }
            let only_labelled = (restart == 0 && seen.iter().all(|&s| s)).then(|| {
                given
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        if g.is_some() {
                            weights.map_or(1.0, |w| w[i])
                        } else {
                            0.0
                        }
                    })
                    .collect::<Vec<f64>>()
            });
            (labels, only_labelled)
        }
    };
    params_from_weighted_labels(
        model,
        &labels,
        config,
        rng,
        start_weights.as_deref().or(weights),
    )
    .map_err(|issue| FitError::Numerical {
        issue,
        iteration: 0,
    })
}

/// Prepares `params`, re-seeding a component whose covariance is not positive definite
/// (at most `K` times) instead of failing.
fn prepare_repairing<M: MixtureModel, R: Rows<M>>(
    rows: &R,
    params: &mut M::Params,
    iteration: usize,
    rng: &mut ChaCha8Rng,
    reseeds: &mut Vec<ReseedEvent>,
) -> Result<M::Cache, FitError> {
    let model = rows.model();
    let mut attempts = 0;
    loop {
        match model.prepare(params) {
            Ok(cache) => return Ok(cache),
            Err(issue) => match issue.component() {
                Some(k) if attempts < model.n_components() => {
                    attempts += 1;
                    let row = rows.random_row(rng)?;
                    rows.reseed(params, k, row)?;
                    reseeds.push(ReseedEvent {
                        iteration,
                        component: k,
                        row,
                        reason: "singular",
                    });
                }
                _ => return Err(FitError::Numerical { issue, iteration }),
            },
        }
    }
}

fn run_one<M: MixtureModel, R: Rows<M>>(
    rows: &R,
    opts: &FitOptions<M::Params>,
    restart: usize,
) -> Result<Run<M::Params>, FitError> {
    let model = rows.model();
    let n = rows.observations();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(restart as u64);
    let mut reseeds = Vec::new();
    let started = Instant::now();
    let mut params = initial_params(rows, opts, &mut rng, &mut reseeds, restart)?;
    let init_seconds = started.elapsed().as_secs_f64();
    let em_started = Instant::now();

    let mut trace: Vec<f64> = Vec::new();
    let mut last: (f64, f64);
    let mut last_latent: LatentStats;
    let mut last_assignments: Vec<u32> = Vec::new();
    let mode = opts.e_step.unwrap_or_else(|| model.e_step_mode());
    let mut elbo_after_m: Option<f64> = None;
    let mut iteration = 0;
    let mut converged = false;
    let magnitude = model.log_density_magnitude();
    // Set when a component was re-seeded since the last E-step: the log-likelihood may then
    // fall, which is neither a bug nor convergence.
    let mut reseeded = !reseeds.is_empty();
    let user_init = matches!(opts.init, InitStrategy::Params(_));
    let cache = loop {
        let reseeds_before = reseeds.len();
        let cache = if iteration == 0 && user_init {
            // The user's parameters are used exactly as given, never re-seeded.
            model
                .prepare(&params)
                .map_err(|issue| FitError::InvalidInit(issue.to_string()))?
        } else {
            prepare_repairing(rows, &mut params, iteration, &mut rng, &mut reseeds)?
        };
        if reseeds.len() != reseeds_before {
            elbo_after_m = None;
            reseeded = true;
        }
        // The closing E-step of a run that stops at its limit feeds no M-step: a soft one
        // takes only the objective (and what the result reports: the expected counts).
        let takes = match mode {
            EStepMode::Soft if iteration >= opts.max_iter => Takes::Objective,
            _ => Takes::Statistics,
        };
        let e = rows.e_step(&cache, &params, mode, takes)?;
        let log_prior = model.log_prior(&params, &opts.m_step);
        // The objective EM maximises: the log-likelihood plus the regularising prior.
        let objective = e.loglik + log_prior;
        if !objective.is_finite() {
            return Err(FitError::NonFinite {
                value: objective,
                iteration,
            });
        }
        if let (Some(f), true) = (elbo_after_m, opts.check_monotone) {
            if objective < f - guard_tol(f, n, magnitude) {
                return Err(FitError::NotMonotone {
                    iteration,
                    stage: "E-step",
                    before: f,
                    after: objective,
                });
            }
        }
        trace.push(objective);
        last = (e.loglik, log_prior);
        last_latent = e.latent.clone();
        // A hard E-step has converged when no row changes its assignment: the M-step would
        // return the same parameters.
        let settled = mode == EStepMode::Hard && rows.settled(&e.assignments, &last_assignments);
        scratch::give_u32(std::mem::replace(&mut last_assignments, e.assignments));
        if let Some(progress) = &opts.progress {
            progress(Progress {
                restart,
                iteration,
                log_likelihood: objective,
            });
        }
        let small_gain = match mode {
            EStepMode::Soft => objective - trace[trace.len().saturating_sub(2)] < opts.tol * n,
            // `tol = −∞` runs exactly `max_iter` iterations in either mode.
            EStepMode::Hard => settled && opts.tol.is_finite(),
        };
        if iteration > 0 && !reseeded && small_gain {
            converged = true;
            break cache;
        }
        reseeded = false;
        if iteration >= opts.max_iter {
            break cache;
        }
        let mut next = model
            .m_step(&e.stats, &e.latent, &params, &opts.m_step)
            .map_err(|issue| FitError::Numerical { issue, iteration })?;
        let empty: Vec<usize> = (0..model.n_components())
            .filter(|&k| e.latent.counts[k] < EMPTY_COUNT && !model.keeps_empty_components())
            .collect();
        for (i, &k) in empty.iter().enumerate() {
            let row = if i == 0 {
                e.worst.1
            } else {
                rows.random_row(&mut rng)?
            };
            rows.reseed(&mut next, k, row)?;
            reseeds.push(ReseedEvent {
                iteration: iteration + 1,
                component: k,
                row,
                reason: "empty",
            });
        }
        reseeded |= !empty.is_empty();
        elbo_after_m = None;
        // (An entropy of NaN: the expectation under the E-step's parameters could not be
        // taken, and there is no bound to check.)
        if empty.is_empty() && opts.check_monotone && !e.entropy.is_nan() {
            match model.expected_log_joint(&e.stats, &e.latent, &params, &next) {
                Ok(expected) => {
                    let f = expected + e.entropy + model.log_prior(&next, &opts.m_step);
                    if f < objective - guard_tol(objective, n, magnitude) {
                        return Err(FitError::NotMonotone {
                            iteration,
                            stage: "M-step",
                            before: objective,
                            after: f,
                        });
                    }
                    elbo_after_m = Some(f);
                }
                // A component that collapsed in this M-step is re-seeded when the next
                // iteration prepares the parameters; there is no ELBO to check until then.
                Err(issue) if issue.component().is_some() => {}
                Err(issue) => return Err(FitError::Numerical { issue, iteration }),
            }
        }
        params = next;
        iteration += 1;
    };
    let em_seconds = em_started.elapsed().as_secs_f64();
    let mut warnings: Vec<FitWarning> = model
        .floor_hits(&params, &last_latent, &opts.m_step)
        .into_iter()
        .map(|h| FitWarning::AtFloor {
            param: h.param,
            component: h.component,
            share: h.share,
        })
        .collect();
    let later = reseeds.iter().filter(|r| r.iteration > 0).count();
    let at_the_end = reseeds
        .iter()
        .any(|r| r.iteration > 0 && r.iteration >= iteration);
    if later > model.n_components() || at_the_end {
        warnings.push(FitWarning::Unsettled {
            reseeds: later,
            at_the_end,
        });
    }
    // A hard E-step's objective is the complete-data log-likelihood; the log-likelihood
    // (for BIC and AIC) is that of the returned parameters, from the posterior.
    let (responsibilities, point_ll, total) = rows.posterior(&cache, mode == EStepMode::Hard)?;
    let (log_likelihood, complete) = match mode {
        EStepMode::Soft => (last.0, None),
        EStepMode::Hard => (total, Some(last.0)),
    };
    Ok(Run {
        params,
        trace,
        log_likelihood,
        complete_log_likelihood: complete,
        hard_assignments: last_assignments,
        e_step: mode,
        log_prior: last.1,
        warnings,
        iterations: iteration,
        converged,
        responsibilities,
        point_ll,
        reseeds,
        timing: Timing {
            init_seconds,
            em_seconds,
            seconds_per_iteration: em_seconds / iteration.max(1) as f64,
        },
    })
}

/// A model's row weights must match the rows, be finite and non-negative, not all zero,
/// and in a chain the same within each sequence. (Models built from a model file check their
/// weights when they are bound; this guards any other implementation of [`MixtureModel`].)
fn check_weights<M: MixtureModel>(model: &M, weights: Option<&[f64]>) -> Result<(), FitError> {
    let Some(w) = weights else { return Ok(()) };
    let fail = |value: String, reason: &'static str| {
        Err(FitError::InvalidOption {
            option: "row weights",
            value,
            reason,
        })
    };
    if w.len() != model.n_rows() {
        return fail(
            format!("{} weights for {} rows", w.len(), model.n_rows()),
            "give one weight per row",
        );
    }
    if let Some((i, v)) = w
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return fail(
            format!("{v} (row {i})"),
            "a weight must be a finite number at least 0",
        );
    }
    if w.iter().sum::<f64>().partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return fail("all zero".into(), "at least one row must weigh more than 0");
    }
    if let Some(seq) = model.sequences().and_then(|s| {
        s.iter()
            .find(|s| w[s.start..s.end].iter().any(|&v| v != w[s.start]))
    }) {
        return fail(
            format!("rows {}..{}", seq.start, seq.end),
            "a chain takes one weight per sequence, the same on each of its rows",
        );
    }
    Ok(())
}

/// `Σ w_n v_n` over the rows of weight above zero (every row without weights).
fn weighted_sum(values: &Array1<f64>, weights: Option<&[f64]>) -> f64 {
    match weights {
        None => values.sum(),
        Some(w) => values
            .iter()
            .zip(w)
            .filter(|(_, &w)| w > 0.0)
            .map(|(v, w)| v * w)
            .sum(),
    }
}

fn fit_in_pool<M: MixtureModel, R: Rows<M>>(
    rows: &R,
    opts: &FitOptions<M::Params>,
) -> Result<FitResult<M::Params>, FitError> {
    let model = rows.model();
    let n = rows.n_rows();
    let k = model.n_components();
    if n < k {
        return Err(FitError::TooFewRows {
            rows: n,
            components: k,
        });
    }
    let factors = model.factors();
    if factors > 0 && n < factors + 2 {
        return Err(FitError::TooFewRowsForFactors { rows: n, factors });
    }
    let restarts = match opts.init {
        InitStrategy::Params(_) => 1,
        _ => opts.restarts,
    };
    // Rows in memory: the restarts in parallel. Chunks: one after the other, so that memory
    // holds one chunk at a time (each E-step is parallel within its chunk).
    let runs: Vec<Result<Run<M::Params>, FitError>> = if rows.in_memory() {
        (0..restarts)
            .into_par_iter()
            .map(|r| run_one(rows, opts, r))
            .collect()
    } else {
        (0..restarts).map(|r| run_one(rows, opts, r)).collect()
    };
    let finals: Vec<f64> = runs
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|run| *run.trace.last().expect("trace has the initial entry"))
                .unwrap_or(f64::NAN)
        })
        .collect();
    let mut best: Option<(usize, Run<M::Params>)> = None;
    let mut first_error = None;
    for (r, run) in runs.into_iter().enumerate() {
        match run {
            // A decreasing ELBO is a bug, never hidden behind another restart.
            Err(e @ FitError::NotMonotone { .. }) => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
            Ok(run) => {
                // Better beyond round-off: restarts that reach the same optimum (often with
                // the components permuted) keep the earliest, so the choice does not turn on
                // the last bits of two equal objectives (which differ between routes that
                // compute the same fit, and between CPUs).
                let better = match &best {
                    None => true,
                    Some((_, b)) => {
                        let incumbent = *b.trace.last().expect("non-empty");
                        finals[r] > incumbent + RESTART_TIE * incumbent.abs().max(1.0)
                            || incumbent.is_nan() && !finals[r].is_nan()
                    }
                };
                if better {
                    best = Some((r, run));
                }
            }
        }
    }
    let Some((restart, run)) = best else {
        return Err(first_error.expect("every restart failed, so one error was kept"));
    };
    let log_likelihood = run.log_likelihood;
    let p = model.free_parameters();
    let assignments = if !rows.in_memory() {
        Vec::new()
    } else if run.hard_assignments.len() == n {
        run.hard_assignments.iter().map(|&z| z as usize).collect()
    } else {
        run.responsibilities
            .rows()
            .into_iter()
            .map(argmax)
            .collect()
    };
    Ok(FitResult {
        params: run.params,
        log_likelihood,
        complete_log_likelihood: run.complete_log_likelihood,
        inertia: run.complete_log_likelihood.and_then(|c| model.inertia(c)),
        e_step: run.e_step,
        log_prior: run.log_prior,
        iterations: run.iterations,
        converged: run.converged,
        n_rows: n,
        free_parameters: p,
        // With weights, the number of observations is their sum (integer weights: the rows
        // they stand for).
        bic: -2.0 * log_likelihood + p as f64 * rows.observations().ln(),
        aic: -2.0 * log_likelihood + 2.0 * p as f64,
        restart,
        restart_log_likelihoods: finals,
        responsibilities: run.responsibilities,
        assignments,
        point_log_likelihood: run.point_ll,
        reseeds: run.reseeds,
        warnings: run.warnings,
        timing: run.timing,
        elbo_trace: run.trace,
    })
}

/// The first index of the largest value of `row` (a row's most probable component).
pub fn argmax(row: ArrayView1<'_, f64>) -> usize {
    let mut best = (f64::NEG_INFINITY, 0);
    for (k, &v) in row.iter().enumerate() {
        if v > best.0 {
            best = (v, k);
        }
    }
    best.1
}

/// Fits a mixture model by EM; see the module documentation for the rules. The options are
/// checked first ([`FitOptions::check`]).
pub fn fit<M: MixtureModel>(
    model: &M,
    opts: &FitOptions<M::Params>,
) -> Result<FitResult<M::Params>, FitError> {
    opts.check()?;
    check_weights(model, model.row_weights())?;
    if let Some(labels) = model.row_labels() {
        // Models built from a model file check their labels when bound; this guards any
        // other implementation.
        crate::data::check_labels("labels", labels, model.n_components(), model.n_rows())
            .map_err(|e| FitError::InvalidOption {
                option: "row labels",
                value: e.to_string(),
                reason: "give one label per row (`None` where unknown), each a component below the number of components",
            })?;
    }
    in_pool(opts, || fit_in_pool(&InMemory(model), opts))
}

/// Runs `f` in a pool of `opts.threads` threads (rayon's global pool without a count).
fn in_pool<P, T: Send>(
    opts: &FitOptions<P>,
    f: impl FnOnce() -> Result<T, FitError> + Send,
) -> Result<T, FitError> {
    match opts.threads {
        None => f(),
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| FitError::ThreadPool {
                threads,
                message: e.to_string(),
            })?
            .install(f),
    }
}

/// Fits a mixture model by EM over data read chunk by chunk ([`Chunks`]): the rules of
/// [`fit`], with each iteration one pass over the chunks, so that memory does not grow with
/// the number of rows. The seeding's sample (k-means++ and Lloyd's rounds, as [`fit`] seeds
/// more than [`SEED_SAMPLE`] rows) is gathered in one more pass per restart, every row then
/// taking its nearest centre in another; re-seeding a component reads the chunks up to its
/// row. The result has no per-row values (`responsibilities` has no rows, `assignments` and
/// `point_log_likelihood` are empty): [`posterior`] on each chunk gives them.
///
/// A chain's chunks must hold whole sequences (forward–backward runs along each); its
/// entropy is computed once per pass from the merged statistics. Partial labels and the
/// `RandomFromData` start (which read every row at once) are refused.
pub fn fit_chunked<C: Chunks>(
    source: &C,
    opts: &FitOptions<<C::Model as MixtureModel>::Params>,
) -> Result<FitResult<<C::Model as MixtureModel>::Params>, FitError> {
    opts.check()?;
    let head = source.head();
    let refuse = |value: &str, reason: &'static str| {
        Err(FitError::InvalidOption {
            option: "chunked data",
            value: value.to_string(),
            reason,
        })
    };
    if head.row_labels().is_some() {
        return refuse(
            "partial labels",
            "the supervised start reads every label at once: fit labelled rows in memory",
        );
    }
    if matches!(opts.init, InitStrategy::RandomFromData) {
        return refuse(
            "random rows as the start",
            "start from k-means++ (it seeds on a sample) or from given parameters",
        );
    }
    in_pool(opts, || fit_in_pool(&Chunked(source), opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tallies_count_every_row_once() {
        // Lengths around the copies' period, components in runs and alternating, counts that
        // already hold values (a task's earlier blocks).
        let mut seed = 7u64;
        for (len, k) in [
            (0, 1),
            (1, 1),
            (3, 2),
            (4, 3),
            (5, 16),
            (1023, 16),
            (1024, 5),
        ] {
            let at: Vec<u64> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    if i % 7 < 3 {
                        (i / 7) as u64 % k as u64
                    } else {
                        (seed >> 33) % k as u64
                    }
                })
                .collect();
            let mut counts: Vec<f64> = (0..k).map(|c| c as f64 * 0.5).collect();
            let mut want = counts.clone();
            for &c in &at {
                want[c as usize] += 1.0;
            }
            let mut tally = vec![u32::MAX; 4 * k];
            tally_components(&at, &mut tally, &mut counts);
            assert_eq!(counts, want, "{len} rows, K = {k}");
        }
    }
    use ndarray::{ArrayView2, ArrayViewMut2};

    /// Sequences of the given lengths, one after another.
    fn sequences(lengths: &[usize]) -> Vec<Range<usize>> {
        let mut start = 0;
        lengths
            .iter()
            .map(|&len| {
                start += len;
                start - len..start
            })
            .collect()
    }

    /// A chain's batches are runs of whole sequences of at most `TASK_ROWS` rows together, a
    /// longer sequence alone, covering every sequence in order.
    #[test]
    // (Lists of ranges, some of one.)
    #[allow(clippy::single_range_in_vec_init)]
    fn a_chains_batches_hold_whole_sequences_of_about_a_task() {
        let t = TASK_ROWS;
        let cases: [(&[usize], &[Range<usize>]); 6] = [
            (&[], &[]),
            (&[5], &[0..1]),
            (
                &[3001, 7, 12345, 40000, 27, 44620],
                &[0..2, 2..3, 3..4, 4..5, 5..6],
            ),
            (&[t - 96, 96, 1], &[0..2, 2..3]),
            (&[t - 96, 97, t + 1, 3], &[0..1, 1..2, 2..3, 3..4]),
            (&[1; 10], &[0..10]),
        ];
        for (lengths, expected) in cases {
            assert_eq!(batches(&sequences(lengths)), expected, "{lengths:?}");
        }
        // Ten thousand sequences of ten rows: 409 to a batch, the last batch the rest.
        let many = batches(&sequences(&[10; 10_000]));
        assert_eq!(many.len(), 10_000usize.div_ceil(t / 10));
        assert!(many.iter().all(|b| b.len() <= t / 10));
        assert!(many.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!((many[0].start, many.last().unwrap().end), (0, 10_000));
    }

    /// `first_below` ends on the row a scan of `if v < worst` updates ends on, and that row's
    /// bits, with NaN, ±∞, ±0, ties and every tail length.
    #[test]
    fn the_worst_row_is_the_scans() {
        let pool = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            -3.5,
            -3.5,
            2.0,
            -1e300,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        // (Up to two runs of the vector minimum and a remainder.)
        for len in 0..72 {
            for _ in 0..200 {
                let values: Vec<f64> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        pool[(state % pool.len() as u64) as usize]
                    })
                    .collect();
                for bound in [f64::INFINITY, 0.0, -3.5, -2.0] {
                    let mut scan = None;
                    let mut worst = bound;
                    for (i, &v) in values.iter().enumerate() {
                        if v < worst {
                            (worst, scan) = (v, Some(i));
                        }
                    }
                    let found = first_below(&values, bound);
                    assert_eq!(found, scan, "{values:?} below {bound}");
                    if let Some(i) = found {
                        assert_eq!(values[i].to_bits(), worst.to_bits());
                    }
                }
            }
        }
    }

    /// The tiled `top_two` against a plain row-by-row scan, on blocks with ties, `−∞`, NaN and
    /// every tail length.
    #[test]
    fn top_two_is_the_row_by_row_scan() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for m in [1usize, 7, 8, 9, 16, 23, 256] {
            for k in [1usize, 2, 5, 16] {
                let mut lj = Array2::<f64>::zeros((m, k).f());
                for v in lj.iter_mut() {
                    *v = match next() % 10 {
                        0 => f64::NEG_INFINITY,
                        1 => 0.5, // ties
                        2 if m == 9 => f64::NAN,
                        r => r as f64 - (next() % 1000) as f64 / 100.0,
                    };
                }
                let (mut at, mut first, mut second) = (vec![9; m], vec![0.0; m], vec![0.0; m]);
                let nan = top_two(lj.view(), &mut at, &mut first, &mut second);
                assert_eq!(nan, lj.iter().any(|v| v.is_nan()), "m = {m}, k = {k}");
                if nan {
                    // The caller takes every row's exact scores then.
                    continue;
                }
                for (b, row) in lj.rows().into_iter().enumerate() {
                    let (mut f, mut s, mut a) = (f64::NEG_INFINITY, f64::NEG_INFINITY, 0);
                    for (c, &v) in row.iter().enumerate() {
                        if v > f {
                            s = f;
                            (f, a) = (v, c);
                        } else if v > s {
                            s = v;
                        }
                    }
                    assert_eq!((at[b], first[b], second[b]), (a as u64, f, s), "{row}");
                }
            }
        }
    }

    /// A one-dimensional Gaussian mixture: the smallest model the driver can fit.
    struct Gmm1 {
        x: Vec<f64>,
        k: usize,
        /// The rows' weights, if any.
        w: Option<Vec<f64>>,
    }

    #[derive(Debug, Clone, PartialEq)]
    struct P {
        w: Vec<f64>,
        mu: Vec<f64>,
        var: Vec<f64>,
    }

    /// `Σ r x` and `Σ r x²` per component (the counts come with the latent statistics).
    #[derive(Debug, Clone)]
    struct S {
        sx: Vec<f64>,
        sxx: Vec<f64>,
    }

    impl Gmm1 {
        fn two_clusters() -> Self {
            let x = (0..40)
                .map(|i| {
                    let centre = if i < 20 { -3.0 } else { 3.0 };
                    centre + ((i * 37) % 11) as f64 / 10.0 - 0.5
                })
                .collect();
            Self { x, k: 2, w: None }
        }
    }

    impl MixtureModel for Gmm1 {
        type Params = P;
        type Cache = P;
        type Stats = S;

        fn n_rows(&self) -> usize {
            self.x.len()
        }
        fn n_components(&self) -> usize {
            self.k
        }
        fn row_weights(&self) -> Option<&[f64]> {
            self.w.as_deref()
        }
        fn prepare(&self, p: &P) -> Result<P, NumericalIssue> {
            match p.var.iter().position(|&v| v.is_nan() || v <= 0.0) {
                Some(k) => Err(NumericalIssue::NotPositiveDefinite {
                    param: "var".into(),
                    component: Some(k),
                }),
                None => Ok(p.clone()),
            }
        }
        fn log_joint(
            &self,
            c: &P,
            rows: Range<usize>,
            mut out: ArrayViewMut2<'_, f64>,
            _ws: &mut Workspace,
        ) {
            for (i, n) in rows.enumerate() {
                for k in 0..self.k {
                    let d = self.x[n] - c.mu[k];
                    out[[i, k]] += c.w[k].ln()
                        - 0.5 * ((2.0 * std::f64::consts::PI * c.var[k]).ln() + d * d / c.var[k]);
                }
            }
        }
        fn zero_stats(&self) -> S {
            S {
                sx: vec![0.0; self.k],
                sxx: vec![0.0; self.k],
            }
        }
        fn accumulate(
            &self,
            _c: &P,
            rows: Range<usize>,
            resp: ArrayView2<'_, f64>,
            s: &mut S,
            _ws: &mut Workspace,
        ) {
            for (i, n) in rows.enumerate() {
                for k in 0..self.k {
                    s.sx[k] += resp[[i, k]] * self.x[n];
                    s.sxx[k] += resp[[i, k]] * self.x[n] * self.x[n];
                }
            }
        }
        fn merge(&self, into: &mut S, other: &S) {
            for k in 0..self.k {
                into.sx[k] += other.sx[k];
                into.sxx[k] += other.sxx[k];
            }
        }
        fn m_step(
            &self,
            s: &S,
            latent: &LatentStats,
            prev: &P,
            config: &MStepConfig,
        ) -> Result<P, NumericalIssue> {
            let total: f64 = latent.counts.sum();
            let mut next = prev.clone();
            for k in 0..self.k {
                let n = latent.counts[k];
                if n < EMPTY_COUNT {
                    continue;
                }
                next.w[k] = n / total;
                next.mu[k] = s.sx[k] / n;
                // The regularising prior with a unit column scale.
                next.var[k] = (s.sxx[k] - n * next.mu[k] * next.mu[k] + config.reg_covar) / n;
            }
            Ok(next)
        }
        fn expected_log_joint(
            &self,
            s: &S,
            latent: &LatentStats,
            _centre: &P,
            p: &P,
        ) -> Result<f64, NumericalIssue> {
            let c = self.prepare(p)?;
            Ok((0..self.k)
                .map(|k| {
                    let n = latent.counts[k];
                    let sq = s.sxx[k] - 2.0 * c.mu[k] * s.sx[k] + c.mu[k] * c.mu[k] * n;
                    n * c.w[k].ln()
                        - 0.5 * (n * (2.0 * std::f64::consts::PI * c.var[k]).ln() + sq / c.var[k])
                })
                .sum())
        }
        fn log_prior(&self, p: &P, config: &MStepConfig) -> f64 {
            -0.5 * config.reg_covar * p.var.iter().map(|v| 1.0 / v).sum::<f64>()
        }
        fn free_parameters(&self) -> usize {
            3 * self.k - 1
        }
        fn neutral_params(&self) -> P {
            let mean = self.x.iter().sum::<f64>() / self.x.len() as f64;
            P {
                w: vec![1.0 / self.k as f64; self.k],
                mu: vec![mean; self.k],
                var: vec![1.0; self.k],
            }
        }
        fn init_features(&self) -> Array2<f64> {
            Array2::from_shape_vec((self.x.len(), 1), self.x.clone()).unwrap()
        }
        fn reseed(&self, p: &mut P, k: usize, row: usize) {
            p.mu[k] = self.x[row];
            p.var[k] = 1.0;
            p.w[k] = 1e-3;
            let total: f64 = p.w.iter().sum();
            p.w.iter_mut().for_each(|w| *w /= total);
        }
    }

    fn invalid_option<T: std::fmt::Debug>(result: Result<T, FitError>) -> &'static str {
        match result {
            Err(FitError::InvalidOption { option, .. }) => option,
            other => panic!("expected an invalid option, got {other:?}"),
        }
    }

    /// A model of one component starts without a seeding, but draws what the seeding would
    /// have drawn (the sample, when there are more rows than it holds, and the first
    /// centre), so that the start's later draws are those of the seeded start; with row
    /// weights too (the first centre is then drawn in proportion to them).
    #[test]
    fn one_component_draws_what_its_seeding_would() {
        for (n, weighted) in [
            (40, false),
            (SEED_SAMPLE + 5, false),
            (40, true),
            (SEED_SAMPLE + 5, true),
        ] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64).collect();
            // Weights of 0 to 3, some rows of weight 0.
            let w = weighted.then(|| (0..n).map(|i| ((i * 7) % 4) as f64).collect::<Vec<_>>());
            let model = Gmm1 { x, k: 1, w };
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            let p = initial_params(
                &InMemory(&model),
                &FitOptions::default(),
                &mut rng,
                &mut Vec::new(),
                0,
            )
            .unwrap();
            let mut seeded = ChaCha8Rng::seed_from_u64(5);
            let features = model.init_features();
            let mut rows_at = Vec::new();
            let rows = if n > SEED_SAMPLE {
                rows_at = rand::seq::index::sample(&mut seeded, n, SEED_SAMPLE).into_vec();
                rows_at.sort_unstable();
                features.select(Axis(0), &rows_at)
            } else {
                features
            };
            let weights = model.w.as_ref().map(|w| match n > SEED_SAMPLE {
                true => rows_at.iter().map(|&i| w[i]).collect::<Vec<f64>>(),
                false => w.clone(),
            });
            init::kmeans_plus_plus(rows.view(), 1, &mut seeded, weights.as_deref());
            assert_eq!(
                rng.next_u64(),
                seeded.next_u64(),
                "{n} rows, weighted {weighted}"
            );
            let (sum, total) = match &model.w {
                None => (model.x.iter().sum::<f64>(), n as f64),
                Some(w) => (
                    model.x.iter().zip(w).map(|(x, w)| x * w).sum(),
                    w.iter().sum(),
                ),
            };
            let mean = sum / total;
            assert!((p.mu[0] - mean).abs() < 1e-12 && p.w == [1.0], "{p:?}");
        }
    }

    #[test]
    fn invalid_options_are_errors_not_panics() {
        let model = Gmm1::two_clusters();
        let with = |edit: &dyn Fn(&mut FitOptions<P>)| {
            let mut opts = FitOptions::default();
            edit(&mut opts);
            opts
        };
        let cases: Vec<(&str, FitOptions<P>)> = vec![
            ("threads", with(&|o| o.threads = Some(0))),
            ("restarts", with(&|o| o.restarts = 0)),
            ("tol", with(&|o| o.tol = -1e-6)),
            ("tol", with(&|o| o.tol = f64::NAN)),
            ("tol", with(&|o| o.tol = f64::INFINITY)),
            ("reg_covar", with(&|o| o.m_step.reg_covar = -1e-6)),
            ("reg_covar", with(&|o| o.m_step.reg_covar = f64::NAN)),
            ("reg_covar", with(&|o| o.m_step.reg_covar = f64::INFINITY)),
        ];
        for (option, opts) in &cases {
            assert_eq!(invalid_option(opts.check()), *option, "{opts:?}");
            let err = fit(&model, opts).expect_err("refused");
            assert_eq!(invalid_option(Err::<(), _>(err)), *option);
        }
        let text = fit(&model, &cases[0].1).unwrap_err().to_string();
        assert!(text.contains("`threads`") && !text.contains("--"), "{text}");
    }

    #[test]
    fn boundary_options_are_valid() {
        let model = Gmm1::two_clusters();
        // No M-step: the starting parameters are evaluated.
        let start = fit(
            &model,
            &FitOptions {
                max_iter: 0,
                lloyd_iters: 0,
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert_eq!(start.iterations, 0);
        assert_eq!(start.elbo_trace.len(), 1);
        assert!(!start.converged);
        // −∞ never converges: exactly `max_iter` M-steps.
        let exact = fit(
            &model,
            &FitOptions {
                max_iter: 7,
                tol: f64::NEG_INFINITY,
                threads: Some(1),
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert_eq!(exact.iterations, 7);
        assert_eq!(exact.elbo_trace.len(), 8);
        let converged = fit(
            &model,
            &FitOptions {
                tol: 0.0,
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(converged.log_likelihood.is_finite());
        assert!((converged.params.mu[0] - converged.params.mu[1]).abs() > 4.0);
    }

    #[test]
    fn other_entry_points_check_their_configuration() {
        let model = Gmm1::two_clusters();
        let params = model.neutral_params();
        let bad = MStepConfig {
            reg_covar: f64::NAN,
        };
        assert_eq!(invalid_option(em_step(&model, &params, &bad)), "reg_covar");
        let labels: Vec<usize> = (0..model.n_rows()).map(|n| n % 2).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            invalid_option(params_from_labels(&model, &labels, &bad, &mut rng)),
            "reg_covar"
        );
        let good = MStepConfig::default();
        assert!(em_step(&model, &params, &good).is_ok());
        for wrong in [vec![0; 3], vec![2; model.n_rows()]] {
            match params_from_labels(&model, &wrong, &good, &mut rng) {
                Err(FitError::InvalidInit(why)) => assert!(why.contains("label"), "{why}"),
                other => panic!("expected invalid labels, got {other:?}"),
            }
        }
    }

    #[test]
    fn user_starting_parameters_are_never_reseeded() {
        let model = Gmm1::two_clusters();
        let bad = P {
            w: vec![0.5, 0.5],
            mu: vec![-3.0, 3.0],
            var: vec![1.0, -1.0],
        };
        let err = fit(
            &model,
            &FitOptions {
                init: InitStrategy::Params(bad.clone()),
                ..FitOptions::default()
            },
        )
        .expect_err("a negative variance is refused");
        match &err {
            FitError::InvalidInit(why) => assert!(why.contains("`var`"), "{why}"),
            other => panic!("expected invalid starting parameters, got {other:?}"),
        }
        // Valid starting parameters are used exactly as given.
        let good = P {
            var: vec![1.0, 1.0],
            ..bad
        };
        let start = fit(
            &model,
            &FitOptions {
                max_iter: 0,
                init: InitStrategy::Params(good.clone()),
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert_eq!(start.params, good);
        assert!(start.reseeds.is_empty());
    }
}
