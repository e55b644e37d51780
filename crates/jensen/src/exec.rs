//! Direct execution of a model: a [`MixtureModel`] over dynamically shaped arrays that
//! interprets the model's lowered [`Program`] — the same kernel calls, with the same operands
//! and in the same order, that the generated code prints. `jensen fit` uses it, so a model
//! file is fitted without cargo. Nothing here decides what a model means: every arm below is
//! one runtime kernel.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{
    s, Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, ArrayViewMut1, ArrayViewMut2,
    ArrayViewMutD, Axis, CowArray, Ix0, Ix1, Ix2, IxDyn,
};

use jensen_lang::check::render_summary;
use jensen_lang::ir::{EStepKind, ElemType, Fixed, Method, Summary, VarId};
use jensen_lang::plan::{BlockKind, Cov, PRef, Trials};
use jensen_lang::program::{
    At, BlockProgram, Call, DerivedKind, Elem, HyperSlot, Kernel, Operand, Reseed, RowTerms, Src,
    Start, TermValue, UpdateValue,
};
use jensen_lang::{Plan, Program};
use jensen_runtime::chain;
use jensen_runtime::gaps::{self, GapsIn};
use jensen_runtime::kernels::hyper::{Means, PerCoordinate, ScalarMeans, ScaleMatrix};
use jensen_runtime::kernels::linear::{self, FactorPosterior};
use jensen_runtime::kernels::{
    discrete, exponential, gaussian, missing, moments, regression, robust, vb,
};
use jensen_runtime::linalg::Cholesky;
use jensen_runtime::mixture::{
    add_log_weights, inertia, one_hot, reseed_weight_of, set_log_uniform, set_log_weights,
    Assigned, FloorHit,
};
use jensen_runtime::{
    ChainPrior, LatentStats, MStepConfig, MixtureModel, NumericalIssue, RngCore, Workspace,
};

use crate::bind::Bound;
use crate::params::DynParams;

/// A plan bound to data, ready for [`jensen_runtime::fit`].
#[derive(Debug)]
pub struct PlanModel<'a> {
    plan: &'a Plan,
    program: Program,
    /// The rows: borrowed, or owned by a model of one chunk of the data.
    data: Cow<'a, Bound>,
    /// What the model knows of the whole data: the rows' own, or the whole data's when the
    /// model holds a chunk of it ([`PlanModel::with_rows`]).
    context: Arc<DataContext>,
    /// Column-major copies of the data items (by variable id) that are not column-major
    /// already, for the kernels; `None` where the bound values are read in place (every item
    /// bound from a table, see [`Self::column_major_item`]).
    columns: Vec<Option<Array2<f64>>>,
    k: usize,
    /// Each block's per-row terms of the data alone ([`BlockProgram::row_terms`]: `ln x!`,
    /// `ln C(T, x)`, …), zero at a missing cell; `None` for a block without them.
    row_terms: Vec<Option<Array1<f64>>>,
    /// Whether the E-step runs on the data's summaries (one component, only linear-Gaussian
    /// blocks, more rows than columns).
    summarised: bool,
    /// Scatter about the column means of each block's data, computed on the first E-step of
    /// a summarised model (so a fit's timing includes it).
    scatters: OnceLock<Vec<Array2<f64>>>,
    /// The rows' weights, contiguous (`None`: every row weighs 1).
    weights: Option<Vec<f64>>,
    /// The values of the parameters fixed at fit time ([`jensen_lang::ir::Fixed::Given`]).
    given: std::collections::BTreeMap<String, ArrayD<f64>>,
    /// The quantities derived from the last two sets of parameters they were asked for
    /// (see [`PlanModel::derive`]), the most recent first.
    derived_memo: Mutex<Vec<DerivedMemo>>,
}

/// Block `b`'s per-row terms of kind `terms`, computed from its bound data once per fit
/// (the data of a log-scale block are held as `ln x` already); zero at a missing cell.
fn block_row_terms(plan: &Plan, data: &Bound, b: usize, terms: RowTerms) -> Array1<f64> {
    let item = data.item(plan.blocks[b].data);
    let x = item.values.view();
    let values = match terms {
        RowTerms::LogFactorial => discrete::log_factorials(x.column(0)),
        RowTerms::LogValue => x.column(0).to_owned(),
        // (A count vector refuses missing cells.)
        RowTerms::LogCoefficient => discrete::multinomial_log_coefficients(x),
        RowTerms::LogChoose => match plan.blocks[b].kind.trials() {
            Some(Trials::Known(t)) => discrete::binomial_log_coefficients(x.column(0), t),
            Some(Trials::Column(t)) => {
                discrete::binomial_rows_log_coefficients(x.column(0), data.item(t).values.column(0))
            }
            None => unreachable!("binomial coefficients belong to a binomial block"),
        },
    };
    gaps::clear(&item.gaps, values)
}

/// The value of a prior's hyperparameter that summarises data `x` (rows × columns), each row
/// weighted by `w` when the rows have weights.
fn hyper_value(
    h: &HyperSlot,
    x: ArrayView2<'_, f64>,
    w: Option<ArrayView1<'_, f64>>,
) -> ArrayD<f64> {
    use moments::weighted;
    let value = match (h.summary, h.elem, w) {
        (Summary::Mean, Elem::Scalar, None) => DynParams::scalar(moments::column_means(x)[0]),
        (Summary::Mean, Elem::Scalar, Some(w)) => {
            DynParams::scalar(weighted::column_means(x, w)[0])
        }
        (Summary::Mean, _, None) => moments::column_means(x).into_dyn(),
        (Summary::Mean, _, Some(w)) => weighted::column_means(x, w).into_dyn(),
        (Summary::Var, Elem::Scalar, None) => DynParams::scalar(moments::mean_sample_variance(x)),
        (Summary::Var, Elem::Scalar, Some(w)) => {
            DynParams::scalar(weighted::mean_sample_variance(x, w))
        }
        (Summary::Var, _, None) => moments::sample_variances(x).into_dyn(),
        (Summary::Var, _, Some(w)) => weighted::sample_variances(x, w).into_dyn(),
        (Summary::Cov, _, None) => moments::sample_covariance(x).into_dyn(),
        (Summary::Cov, _, Some(w)) => weighted::sample_covariance(x, w).into_dyn(),
    };
    value * h.factor
}

impl Moments {
    /// The whole-data moments of `x` (with `full` its covariance too), each row weighted by
    /// `w` when the rows have weights.
    ///
    /// One pass for the means and one for the squared deviations (and the scatter's, when
    /// `full`), shared by every moment: the same values as `moments::column_means`,
    /// `covariance`, `column_variances` and `column_scales` (or their weighted forms), each
    /// of which would take those passes again.
    fn of(x: ArrayView2<'_, f64>, full: bool, w: Option<ArrayView1<'_, f64>>) -> Self {
        let floor = moments::RESEED_FLOOR;
        let summary = moments::Summary::of(x, w, full);
        Moments {
            mean: summary.means(),
            cov: full.then(|| summary.covariance(floor)),
            var: summary.variances(floor),
            scale: summary.scales(),
        }
    }
}

/// What a model of some of the rows must know of the whole data: the moments of each block's
/// data, the priors' hyperparameters that summarise the data, the sums of the per-row terms,
/// the number of rows and observations. A model of all the rows computes it from them
/// ([`PlanModel::new`]); a fit read chunk by chunk accumulates it in a first pass over the
/// chunks ([`ContextBuilder`]) and gives it to the model of every chunk
/// ([`PlanModel::with_context`]). It serialises (to JSON, say) for a model of some rows built
/// elsewhere, as a query engine's workers build one per batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataContext {
    /// Whole-data moments of each block's data.
    moments: Vec<Moments>,
    /// The priors' hyperparameters that summarise the data ([`Program::hypers`]), checked by
    /// [`PlanModel::check_priors`].
    hypers: Vec<ArrayD<f64>>,
    /// The signed (weighted) sum of each block's per-row terms, `−Σ_n ln x_n!` and the like.
    row_terms_total: Vec<f64>,
    /// Each binomial block's (weighted) mean number of trials (`NaN` for other blocks).
    #[serde(with = "nan_as_null")]
    trials_mean: Vec<f64>,
    /// The number of rows.
    rows: usize,
    /// The number of rows, or the sum of their weights.
    total_weight: f64,
    /// The (weighted) number of missing cells of the blocks' data.
    missing_cells: f64,
    /// The number of rows of weight zero.
    zero_weight_rows: usize,
    /// A chain's number of sequences (0 for a mixture).
    #[serde(default)]
    sequences: usize,
    /// A chain's [`Bound::sequence_check`] of every row (0 for a mixture).
    #[serde(default)]
    sequence_check: u64,
}

/// The number of rows of `data` whose weight is zero.
fn zero_weight_rows(data: &Bound) -> usize {
    data.weights
        .as_ref()
        .map_or(0, |w| w.values.iter().filter(|&&v| v == 0.0).count())
}

impl DataContext {
    /// The context of `data`, all of the rows.
    fn of(plan: &Plan, program: &Program, data: &Bound) -> Self {
        let w = data.weights.as_ref().map(|w| w.values.view());
        let moments = plan
            .blocks
            .iter()
            .map(|b| Moments::of(data.item(b.data).values.view(), b.kind.full_scatter(), w))
            .collect();
        let row_terms_total = program
            .blocks
            .iter()
            .map(|b| {
                b.row_terms.map_or(0.0, |t| {
                    let l = block_row_terms(plan, data, b.block, t);
                    match w {
                        None => t.sign() * l.sum(),
                        Some(w) => t.sign() * moments::weighted::sum(l.view(), w),
                    }
                })
            })
            .collect();
        let hypers = program
            .hypers
            .iter()
            .map(|h| hyper_value(h, data.item(h.data).values.view(), w))
            .collect();
        let trials_mean = plan
            .blocks
            .iter()
            .map(|b| match b.kind.trials() {
                Some(Trials::Known(t)) => t,
                Some(Trials::Column(t)) => {
                    let t = data.item(t).values.view();
                    match w {
                        None => moments::column_means(t)[0],
                        Some(w) => moments::weighted::column_means(t, w)[0],
                    }
                }
                None => f64::NAN,
            })
            .collect();
        DataContext {
            moments,
            hypers,
            row_terms_total,
            trials_mean,
            rows: data.n_rows,
            total_weight: data
                .weights
                .as_ref()
                .map_or(data.n_rows as f64, |w| w.total),
            missing_cells: missing_cells(program, data),
            zero_weight_rows: zero_weight_rows(data),
            sequences: if plan.latent.is_chain() {
                data.sequences.len()
            } else {
                0
            },
            sequence_check: if plan.latent.is_chain() {
                data.sequence_check()
            } else {
                0
            },
        }
    }

    /// The number of rows of the whole data.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of rows, or the sum of their weights.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The number of rows of weight zero.
    pub fn zero_weight_rows(&self) -> usize {
        self.zero_weight_rows
    }

    /// A chain's number of sequences (0 for a mixture).
    pub fn sequences(&self) -> usize {
        self.sequences
    }

    /// A chain's [`Bound::sequence_check`] of every row (0 for a mixture): the rows of
    /// a pass elsewhere, in whole sequences, must give the same.
    pub fn sequence_check(&self) -> u64 {
        self.sequence_check
    }
}

/// The (weighted) number of missing cells of the blocks' data.
fn missing_cells(program: &Program, data: &Bound) -> f64 {
    let gaps: Vec<&jensen_runtime::gaps::Gaps> = (program.blocks.iter())
        .map(|b| &data.item(b.data).gaps)
        .collect();
    let w = data
        .weights
        .as_ref()
        .map(|w| w.values.as_slice().expect("contiguous"));
    jensen_runtime::gaps::missing_cells(&gaps, w)
}

/// The [`DataContext`] of data read chunk by chunk: [`ContextBuilder::add`] each chunk (bound
/// to the same plan), then [`ContextBuilder::finish`]. The moments merge exactly
/// ([`moments::Summary`]); the result equals the in-memory context to round-off.
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    program: Program,
    blocks: Vec<moments::Summary>,
    hypers: Vec<moments::Summary>,
    trials: Vec<Option<moments::Summary>>,
    row_terms_total: Vec<f64>,
    rows: usize,
    total_weight: f64,
    missing_cells: f64,
    zero_weight_rows: usize,
    sequences: usize,
    sequence_check: u64,
}

impl ContextBuilder {
    /// An empty builder for `plan`.
    pub fn new(plan: &Plan) -> Self {
        let program = Program::lower(plan);
        let empty = |full: bool| moments::Summary {
            rows: 0,
            total: 0.0,
            weighted: false,
            mean: Array1::zeros(0),
            sq_dev: Array1::zeros(0),
            scatter: full.then(|| Array2::zeros((0, 0))),
        };
        ContextBuilder {
            blocks: plan
                .blocks
                .iter()
                .map(|b| empty(b.kind.full_scatter()))
                .collect(),
            hypers: program
                .hypers
                .iter()
                .map(|h| empty(h.summary == Summary::Cov))
                .collect(),
            trials: plan
                .blocks
                .iter()
                .map(|b| matches!(b.kind.trials(), Some(Trials::Column(_))).then(|| empty(false)))
                .collect(),
            row_terms_total: vec![0.0; program.blocks.len()],
            program,
            rows: 0,
            total_weight: 0.0,
            missing_cells: 0.0,
            zero_weight_rows: 0,
            sequences: 0,
            sequence_check: 0,
        }
    }

    /// The number of rows added, or the sum of their weights.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Adds the rows of `data`.
    pub fn add(&mut self, plan: &Plan, data: &Bound) {
        let w = data.weights.as_ref().map(|w| w.values.view());
        for (s, b) in self.blocks.iter_mut().zip(&plan.blocks) {
            let x = data.item(b.data).values.view();
            s.merge(&moments::Summary::of(x, w, b.kind.full_scatter()));
        }
        for (s, h) in self.hypers.iter_mut().zip(&self.program.hypers) {
            let x = data.item(h.data).values.view();
            s.merge(&moments::Summary::of(x, w, h.summary == Summary::Cov));
        }
        for (s, b) in self.trials.iter_mut().zip(&plan.blocks) {
            if let (Some(s), Some(Trials::Column(t))) = (s, b.kind.trials()) {
                s.merge(&moments::Summary::of(data.item(t).values.view(), w, false));
            }
        }
        for (total, b) in self.row_terms_total.iter_mut().zip(&self.program.blocks) {
            if let Some(t) = b.row_terms {
                let l = block_row_terms(plan, data, b.block, t);
                *total += match w {
                    None => t.sign() * l.sum(),
                    Some(w) => t.sign() * moments::weighted::sum(l.view(), w),
                };
            }
        }
        self.rows += data.n_rows;
        self.total_weight += data
            .weights
            .as_ref()
            .map_or(data.n_rows as f64, |w| w.total);
        self.missing_cells += missing_cells(&self.program, data);
        self.zero_weight_rows += zero_weight_rows(data);
        if plan.latent.is_chain() {
            self.sequences += data.sequences.len();
            self.sequence_check = self.sequence_check.wrapping_add(data.sequence_check());
        }
    }

    /// The context of every row added.
    pub fn finish(self, plan: &Plan) -> DataContext {
        let floor = moments::RESEED_FLOOR;
        DataContext {
            moments: self
                .blocks
                .iter()
                .zip(&plan.blocks)
                .map(|(s, b)| Moments {
                    mean: s.means(),
                    cov: b.kind.full_scatter().then(|| s.covariance(floor)),
                    var: s.variances(floor),
                    scale: s.scales(),
                })
                .collect(),
            hypers: self
                .hypers
                .iter()
                .zip(&self.program.hypers)
                .map(|(s, h)| {
                    let value = match (h.summary, h.elem) {
                        (Summary::Mean, Elem::Scalar) => DynParams::scalar(s.means()[0]),
                        (Summary::Mean, _) => s.means().into_dyn(),
                        (Summary::Var, Elem::Scalar) => DynParams::scalar(s.mean_sample_variance()),
                        (Summary::Var, _) => s.sample_variances().into_dyn(),
                        (Summary::Cov, _) => s.sample_covariance().into_dyn(),
                    };
                    value * h.factor
                })
                .collect(),
            row_terms_total: self.row_terms_total,
            trials_mean: self
                .trials
                .iter()
                .zip(&plan.blocks)
                .map(|(s, b)| match (s, b.kind.trials()) {
                    (Some(s), _) => s.means()[0],
                    (None, Some(Trials::Known(t))) => t,
                    (None, _) => f64::NAN,
                })
                .collect(),
            rows: self.rows,
            total_weight: self.total_weight,
            missing_cells: self.missing_cells,
            zero_weight_rows: self.zero_weight_rows,
            sequences: self.sequences,
            sequence_check: self.sequence_check,
        }
    }
}

/// `Vec<f64>` with `NaN` as JSON's `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|x| (!x.is_nan()).then_some(*x))
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

/// Whole-data moments of one block's data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Moments {
    /// Column means.
    mean: Array1<f64>,
    /// The covariance, floored (full blocks only).
    cov: Option<Array2<f64>>,
    /// Column variances, floored.
    var: Array1<f64>,
    /// Column scales: the regularising prior's unit.
    scale: Array1<f64>,
}

/// The quantities derived from one set of parameters ([`PlanModel::derive`]).
#[derive(Debug)]
struct DerivedMemo {
    params: DynParams,
    values: Vec<(DerivedKind, DerivedValue)>,
}

/// Sets of parameters [`PlanModel::derive`] remembers per run of EM: an iteration's check of
/// the M-step derives from the parameters before it and after it, and the next iteration's
/// preparation from the latter again. The memo holds this many for each of the threads, up
/// to [`MEMO_THREADS`] (restarts run in parallel, each with its own parameters, and would
/// otherwise push each other's out).
const MEMO_PARAMS: usize = 2;

/// The most threads the memo keeps [`MEMO_PARAMS`] sets for: each set holds a copy of the
/// parameters and their factors, so on a machine of many threads running one fit (or a
/// chunked fit, whose restarts run in turn) the memo stays small; a miss costs one
/// factorisation.
const MEMO_THREADS: usize = 4;

/// A quantity derived from the parameters ([`DerivedKind`]).
#[derive(Debug, Clone)]
enum DerivedValue {
    Vector(Array1<f64>),
    Matrix(Array2<f64>),
    Cholesky(Vec<Cholesky>),
    Posteriors(Vec<FactorPosterior>),
}

/// A prior's hyperparameter computed from the data ([`PlanModel::data_hyperparameters`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataHyperparameter {
    /// Its name in the generated model, e.g. `Sigma_prior_scale`.
    pub name: String,
    /// The summary as written in the model file, e.g. `0.5 * cov(x)`.
    pub summary: String,
    /// Its value on the bound data.
    #[serde(with = "jensen_runtime::nested")]
    pub value: ArrayD<f64>,
}

/// A parameter's posterior mean under variational Bayes ([`PlanModel::posterior_means`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PosteriorMean {
    /// The parameter.
    pub name: String,
    /// One value per component (else one value).
    pub per_component: bool,
    /// The mean of each component, `None` where it does not exist.
    #[serde(with = "optional_arrays")]
    pub components: Vec<Option<ArrayD<f64>>>,
}

/// `Vec<Option<ArrayD>>` as a list of nested arrays or `null`.
mod optional_arrays {
    use jensen_runtime::nested::Nested;
    use ndarray::ArrayD;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[Option<ArrayD<f64>>], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|a| a.as_ref().map(Nested::from_array))
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Option<ArrayD<f64>>>, D::Error> {
        Vec::<Option<Nested>>::deserialize(d)?
            .into_iter()
            .map(|n| {
                n.map(|n| n.to_array().map_err(serde::de::Error::custom))
                    .transpose()
            })
            .collect()
    }
}

/// Per-iteration quantities derived from the parameters: the program's derived slots.
#[derive(Debug)]
pub struct ExecCache {
    params: DynParams,
    /// Variational Bayes: the parameters the E-step reads (the effective values in place of
    /// the posteriors' means).
    effective: Option<DynParams>,
    /// Variational Bayes: the blocks' offsets summed, one per component.
    offsets: Option<Array1<f64>>,
    derived: Vec<DerivedValue>,
}

/// Statistics: one array per slot of the program's layout, with a leading component axis.
#[derive(Debug, Clone)]
pub struct ExecStats {
    slots: Vec<ArrayD<f64>>,
}

impl ExecStats {
    /// The statistic in slot `i` of the program's layout.
    pub fn slot(&self, i: usize) -> &ArrayD<f64> {
        &self.slots[i]
    }

    /// Every slot, in the program's layout.
    pub fn slots(&self) -> &[ArrayD<f64>] {
        &self.slots
    }

    /// Each slot's shape.
    pub fn shapes(&self) -> Vec<Vec<usize>> {
        self.slots.iter().map(|s| s.shape().to_vec()).collect()
    }

    /// Statistics from the values of their slots (as [`ExecStats::slots`] gave them, sent
    /// over a wire, say): `None` unless each has the shape `shapes` gives (a model's
    /// [`ExecStats::shapes`] of its `zero_stats`), which the M-step expects.
    pub fn from_slots(slots: Vec<ArrayD<f64>>, shapes: &[Vec<usize>]) -> Option<ExecStats> {
        let fits = slots.len() == shapes.len()
            && (slots.iter().zip(shapes)).all(|(a, b)| a.shape() == b.as_slice());
        fits.then_some(ExecStats { slots })
    }

    /// Adds `other`, of the same shapes.
    pub fn add(&mut self, other: &ExecStats) {
        for (a, b) in self.slots.iter_mut().zip(&other.slots) {
            *a += b;
        }
    }
}

impl ExecCache {
    /// The parameters this cache was prepared from.
    pub fn params(&self) -> &DynParams {
        &self.params
    }
}

/// What a kernel returns.
enum Value {
    Number(f64),
    Array(ArrayD<f64>),
}

impl Value {
    fn into_array(self) -> ArrayD<f64> {
        match self {
            Value::Number(v) => DynParams::scalar(v),
            Value::Array(a) => a,
        }
    }
}

/// Everything an operand can be read from, for one method call.
#[derive(Default)]
struct Env<'e> {
    k: usize,
    block: usize,
    rows: Option<Range<usize>>,
    resp: Option<ArrayView2<'e, f64>>,
    /// The hard E-step's component of each row in `rows`.
    assignments: Option<&'e [u32]>,
    cache: Option<&'e ExecCache>,
    prev: Option<&'e DynParams>,
    next: Option<&'e DynParams>,
    params: Option<&'e DynParams>,
    centre: Option<&'e DynParams>,
    /// Derived quantities computed in this call, with the source they were computed from.
    locals: Vec<(usize, Src, DerivedValue)>,
    stats: Option<&'e ExecStats>,
    latent: Option<&'e LatentStats>,
    pooled: Option<(ArrayD<f64>, f64)>,
    reg: f64,
    /// The rows of `rows` with a missing cell of the block's data.
    gaps: Option<GapsIn<'e>>,
    /// The log-joint at those rows before the block's ordinary kernel.
    before: Option<Array2<f64>>,
    /// `resp` with those rows zero.
    complete: Option<CowArray<'e, f64, Ix2>>,
}

impl<'a> PlanModel<'a> {
    /// Adds `block`'s log-density of every component to `out`: its form for every component
    /// at once when it has one, else its per-component call for each `k`.
    fn add_densities(
        &self,
        block: &BlockProgram,
        env: &mut Env<'_>,
        out: &mut ArrayViewMut2<'_, f64>,
        ws: &mut Workspace,
    ) {
        match &block.log_densities {
            Some(all) => {
                self.run(all, env, Some(out), None, Some(ws), None);
            }
            None => {
                for k in 0..self.k {
                    env.k = k;
                    self.run(&block.log_density, env, Some(out), None, Some(ws), None);
                }
            }
        }
    }

    /// The rows of `rows` with a missing cell of `block`'s data, when the block integrates
    /// them out.
    fn gaps_within(&self, block: &BlockProgram, rows: &Range<usize>) -> Option<GapsIn<'_>> {
        block
            .missing
            .as_ref()
            .map(|_| self.data.item(block.data).gaps.within(rows.clone()))
    }

    /// Binds a plan to data.
    pub fn new(plan: &'a Plan, data: &'a Bound) -> Self {
        let program = Program::lower(plan);
        let context = DataContext::of(plan, &program, data);
        // Every statistic is linear in the sample mean and scatter, so with more rows than
        // columns the E-step needs no pass over the rows.
        let summarised = program.summary.is_some()
            && plan
                .blocks
                .iter()
                .all(|b| data.n_rows > data.item(b.data).values.ncols());
        Self::build(
            plan,
            program,
            Cow::Borrowed(data),
            Arc::new(context),
            summarised,
        )
    }

    /// A model of `rows` (a chunk of the data, bound to the same plan with the same sizes)
    /// that knows what this one knows of the whole data — its moments, the priors'
    /// hyperparameters, the number of rows, the fixed parameters — so that its M-step and
    /// objective are the whole data's: the chunks of a fit read chunk by chunk
    /// ([`jensen_runtime::fit_chunked`]). Its E-step passes over its own rows.
    pub fn with_rows(&self, rows: Bound) -> PlanModel<'a> {
        self.with_context(rows, self.context.clone())
    }

    /// A model of `rows`, one chunk of data whose whole has the context `context`
    /// ([`ContextBuilder`]); further chunks' models come from it ([`PlanModel::with_rows`]).
    pub fn of_chunk(plan: &'a Plan, rows: Bound, context: Arc<DataContext>) -> PlanModel<'a> {
        Self::build(plan, Program::lower(plan), Cow::Owned(rows), context, false)
    }

    /// [`PlanModel::with_rows`] with the whole data's context given.
    pub fn with_context(&self, rows: Bound, context: Arc<DataContext>) -> PlanModel<'a> {
        let mut model = Self::build(
            self.plan,
            self.program.clone(),
            Cow::Owned(rows),
            context,
            false,
        );
        model.given = self.given.clone();
        model
    }

    /// The model of `data` given its context.
    fn build(
        plan: &'a Plan,
        program: Program,
        data: Cow<'a, Bound>,
        context: Arc<DataContext>,
        summarised: bool,
    ) -> Self {
        let k = program.k(&data.sizes);
        let row_terms: Vec<Option<Array1<f64>>> = program
            .blocks
            .iter()
            .map(|b| {
                b.row_terms
                    .map(|t| block_row_terms(plan, &data, b.block, t))
            })
            .collect();
        let columns = data
            .items
            .iter()
            .map(|i| {
                i.as_ref()
                    .filter(|i| !i.values.t().is_standard_layout())
                    .map(|i| jensen_runtime::data::column_major(i.values.clone()))
            })
            .collect();
        let weights = data.weights.as_ref().map(|w| w.values.to_vec());
        Self {
            plan,
            program,
            data,
            context,
            columns,
            k,
            row_terms,
            summarised,
            scatters: OnceLock::new(),
            weights,
            given: Default::default(),
            derived_memo: Mutex::default(),
        }
    }

    /// What this model knows of the whole data.
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }

    /// The whole data's context.
    pub fn context(&self) -> &Arc<DataContext> {
        &self.context
    }

    /// The rows it holds.
    pub fn bound(&self) -> &Bound {
        &self.data
    }

    /// The number of rows, or the sum of their weights, of the whole data.
    pub fn total_weight(&self) -> f64 {
        self.context.total_weight
    }

    /// The lowered program this model interprets.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Shape of every parameter, in declaration order.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.program
            .params
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    self.program.param_shape(p, &self.data.sizes),
                )
            })
            .collect()
    }

    fn shape(&self, v: VarId) -> Vec<usize> {
        self.program
            .param_shape(self.program.param(v), &self.data.sizes)
    }

    fn name(&self, p: PRef) -> &str {
        self.plan.name(p.param)
    }

    /// Data item `var`, column-major: the bound values, or their copy.
    fn column_major_item(&self, var: VarId) -> &Array2<f64> {
        self.columns[var]
            .as_ref()
            .unwrap_or_else(|| &self.data.item(var).values)
    }

    /// The block's rows, as a matrix (a scalar item is one column).
    fn rows_matrix(&self, b: usize, rows: &Range<usize>) -> ArrayView2<'_, f64> {
        self.column_major_item(self.plan.blocks[b].data)
            .slice(s![rows.clone(), ..])
    }

    /// The (weighted) mean number of trials of binomial block `b` over the whole data.
    fn mean_trials(&self, b: usize) -> f64 {
        self.context.trials_mean[b]
    }

    fn rows_column(&self, b: usize, rows: &Range<usize>) -> ArrayView1<'_, f64> {
        self.column_major_item(self.plan.blocks[b].data)
            .slice(s![rows.clone(), 0])
    }

    /// Computes a derived quantity from `params`, failing with the parameter at fault; the
    /// value of the same quantity from equal parameters when one of the last sets asked for
    /// ([`MEMO_PARAMS`] per thread) gave it (the M-step's check derives from the new
    /// parameters, and the next iteration prepares them: a loading matrix's SVD, a
    /// covariance's Cholesky factor).
    fn derive(
        &self,
        kind: DerivedKind,
        params: &DynParams,
    ) -> Result<DerivedValue, NumericalIssue> {
        let known = |memo: &[DerivedMemo]| {
            let at = memo.iter().find(|m| m.params == *params)?;
            let (_, value) = at.values.iter().find(|(k, _)| *k == kind)?;
            Some(value.clone())
        };
        if let Some(value) = known(&self.derived_memo.lock().expect("not poisoned")) {
            return Ok(value);
        }
        let value = self.derive_anew(kind, params)?;
        let mut memo = self.derived_memo.lock().expect("not poisoned");
        match memo.iter().position(|m| m.params == *params) {
            Some(i) => {
                let mut entry = memo.remove(i);
                entry.values.push((kind, value.clone()));
                memo.insert(0, entry);
            }
            None => {
                memo.truncate(
                    MEMO_PARAMS * rayon::current_num_threads().clamp(1, MEMO_THREADS) - 1,
                );
                memo.insert(
                    0,
                    DerivedMemo {
                        params: params.clone(),
                        values: vec![(kind, value.clone())],
                    },
                );
            }
        }
        Ok(value)
    }

    /// [`PlanModel::derive`] without the memo.
    fn derive_anew(
        &self,
        kind: DerivedKind,
        params: &DynParams,
    ) -> Result<DerivedValue, NumericalIssue> {
        let get = |v: VarId| params.get(self.plan.name(v)).expect("checked");
        Ok(match kind {
            DerivedKind::LogVector(v) => DerivedValue::Vector(
                get(v)
                    .view()
                    .into_dimensionality::<Ix1>()
                    .expect("vector")
                    .mapv(f64::ln),
            ),
            DerivedKind::LogMatrix(v) => DerivedValue::Matrix(
                get(v)
                    .view()
                    .into_dimensionality::<Ix2>()
                    .expect("matrix")
                    .mapv(f64::ln),
            ),
            DerivedKind::LogRows(p) => {
                let c = *self.shape(p.param).last().expect("simplex");
                let mut m = Array2::zeros((self.k, c));
                for k in 0..self.k {
                    m.row_mut(k)
                        .assign(&vec_of(params, p, self.name(p), k).mapv(f64::ln));
                }
                DerivedValue::Matrix(m)
            }
            DerivedKind::Cholesky(p) => {
                let copies = if p.per_component { self.k } else { 1 };
                DerivedValue::Cholesky(
                    (0..copies)
                        .map(|k| {
                            let m = part(params, self.name(p), p.per_component, k)
                                .into_dimensionality::<Ix2>()
                                .expect("matrix");
                            Cholesky::new(m).ok_or_else(|| NumericalIssue::NotPositiveDefinite {
                                param: self.name(p).to_string(),
                                component: p.per_component.then_some(k),
                            })
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            DerivedKind::Posteriors {
                loading,
                noise,
                row_cov,
            } => DerivedValue::Posteriors(self.factor_posteriors(params, loading, noise, row_cov)?),
        })
    }

    /// The posteriors of the continuous latent under a linear-Gaussian block, one per
    /// component, failing with the parameter at fault (noise not positive, loadings not
    /// finite).
    fn factor_posteriors(
        &self,
        params: &DynParams,
        loading: PRef,
        noise: Cov,
        row_cov: Option<usize>,
    ) -> Result<Vec<FactorPosterior>, NumericalIssue> {
        let np = noise.pref().expect("linear-Gaussian noise is a parameter");
        (0..self.k)
            .map(|k| {
                let w = part(params, self.name(loading), loading.per_component, k)
                    .into_dimensionality::<Ix2>()
                    .expect("matrix");
                // Variational Bayes: the rows' covariance factor of the loadings' posterior.
                let v = row_cov.map(|slot| {
                    let name = &self.program.params[slot].name;
                    part(params, name, loading.per_component, k)
                        .into_dimensionality::<Ix2>()
                        .expect("matrix")
                });
                let post = match (noise, v) {
                    (Cov::Spherical(_), None) => {
                        FactorPosterior::isotropic(w, scalar_of(params, np, self.name(np), k))
                    }
                    (Cov::Spherical(_), Some(v)) => FactorPosterior::isotropic_with_row_cov(
                        w,
                        scalar_of(params, np, self.name(np), k),
                        v,
                    ),
                    (_, None) => FactorPosterior::new(w, vec_of(params, np, self.name(np), k)),
                    (_, Some(v)) => {
                        FactorPosterior::with_row_cov(w, vec_of(params, np, self.name(np), k), v)
                    }
                };
                post.map_err(|e| {
                    e.issue(
                        self.name(loading),
                        loading.per_component.then_some(k),
                        self.name(np),
                        np.per_component.then_some(k),
                    )
                })
            })
            .collect()
    }

    /// `E[h_n | x_n]` of the continuous latent for every row (the factor scores) under
    /// `params`, averaged over the discrete latent's posterior `resp` (`N × K`):
    /// `Σ_k resp[n, k] · B_k (x_n − μ_k)`. `None` for a model without a continuous latent.
    pub fn latent_means(
        &self,
        params: &DynParams,
        resp: ArrayView2<'_, f64>,
    ) -> Result<Option<Array2<f64>>, NumericalIssue> {
        let Some((b, loading, mean, noise)) =
            self.plan
                .blocks
                .iter()
                .enumerate()
                .find_map(|(b, block)| match block.kind {
                    BlockKind::LinearGaussian {
                        loading,
                        mean,
                        noise,
                    } => Some((b, loading, mean, noise)),
                    _ => None,
                })
        else {
            return Ok(None);
        };
        // (Variational Bayes: the posterior under q(W, Ψ), as the E-step has it.)
        let row_cov = self.program.derived.iter().find_map(|d| match d.kind {
            DerivedKind::Posteriors {
                loading: l,
                row_cov,
                ..
            } if l == loading => row_cov,
            _ => None,
        });
        let posts = self.factor_posteriors(params, loading, noise, row_cov)?;
        let item = self.data.item(self.plan.blocks[b].data);
        let x = item.values.view();
        let gaps = item.gaps.within(0..x.nrows());
        let mut out = Array2::zeros((x.nrows(), posts[0].latent_dim()));
        for (k, post) in posts.iter().enumerate() {
            let mu = vec_of(params, mean, self.name(mean), k);
            let mut means = post.posterior_means(x, mu);
            // A row with a gap: the posterior given its observed coordinates.
            let w = part(params, self.name(loading), loading.per_component, k)
                .into_dimensionality::<ndarray::Ix2>()
                .expect("loadings");
            let psi = match noise {
                Cov::Spherical(s) => {
                    linear::isotropic(scalar_of(params, s, self.name(s), k), x.ncols())
                }
                _ => {
                    let v = noise.pref().expect("a noise parameter");
                    vec_of(params, v, self.name(v), k).to_owned()
                }
            };
            missing::factor_scores(x, &gaps, mu, w, psi.view(), means.view_mut());
            out += &(&means * &resp.column(k).insert_axis(Axis(1)));
        }
        Ok(Some(out))
    }

    /// Variational Bayes: the posterior mean of every parameter with a posterior, component
    /// by component (`None` under EM). A slot holds its posterior's mean already except for a
    /// covariance, which holds `Ψ / ν` (`E[Σ] = Ψ / (ν − D − 1)`), and a variance, which holds
    /// `b / a` (`E[v] = b / (a − 1)`); a component whose mean does not exist (`ν ≤ D + 1`,
    /// `a ≤ 1`, e.g. one emptied back to a weak prior) has `None`.
    pub fn posterior_means(&self, params: &DynParams) -> Option<Vec<PosteriorMean>> {
        if self.program.method != Method::Vb {
            return None;
        }
        let mut out = Vec::new();
        for slot in &self.program.params {
            let Some(of) = slot.posterior_of else {
                continue;
            };
            // (The loadings' posterior mean is their slot; their strength is a matrix.)
            if slot.elem != Elem::Scalar {
                let own = &self.program.params[of];
                let value = params.get(&own.name).expect("checked");
                out.push(PosteriorMean {
                    name: own.name.clone(),
                    per_component: own.per_component,
                    components: if own.per_component {
                        value.outer_iter().map(|v| Some(v.to_owned())).collect()
                    } else {
                        vec![Some(value.clone())]
                    },
                });
                continue;
            }
            let own = &self.program.params[of];
            let value = params.get(&own.name).expect("checked");
            let strength = params.get(&slot.name).expect("checked");
            let family = self.plan.updates[of].prior.as_ref().map(|p| p.family);
            // The factor from the slot's value to the mean.
            let factor = |s: f64| match family {
                Some(jensen_lang::plan::PriorFamily::InvWishart { .. }) => {
                    let d = *value.shape().last().expect("a matrix") as f64;
                    (s > d + 1.0).then(|| s / (s - d - 1.0))
                }
                Some(jensen_lang::plan::PriorFamily::InvGamma { .. }) => {
                    (s > 1.0).then(|| s / (s - 1.0))
                }
                _ => Some(1.0),
            };
            let components = if own.per_component {
                value
                    .outer_iter()
                    .zip(strength.iter())
                    .map(|(v, &s)| factor(s).map(|f| v.mapv(|x| x * f)))
                    .collect()
            } else {
                let s = *strength.first().expect("a strength");
                vec![factor(s).map(|f| value.mapv(|x| x * f))]
            };
            out.push(PosteriorMean {
                name: own.name.clone(),
                per_component: own.per_component,
                components,
            });
        }
        Some(out)
    }

    /// Checks what the priors need of the data's sizes: under variational Bayes an
    /// inverse-Wishart prior on a `D × D` covariance must be proper, `ν > D − 1`.
    /// The priors' hyperparameters that summarise the data (`mean(x)`, `cov(x)`), with
    /// their values on the bound data.
    pub fn data_hyperparameters(&self) -> Vec<DataHyperparameter> {
        self.program
            .hypers
            .iter()
            .zip(&self.context.hypers)
            .map(|(h, value)| DataHyperparameter {
                name: h.name.clone(),
                summary: render_summary(h.summary, self.plan.name(h.data), h.factor),
                value: value.clone(),
            })
            .collect()
    }

    pub fn check_priors(&self) -> Result<(), String> {
        for (h, value) in self.program.hypers.iter().zip(&self.context.hypers) {
            let param = self.plan.name(h.param);
            let summary = render_summary(h.summary, self.plan.name(h.data), h.factor);
            let checked = match h.elem {
                Elem::Matrix(..) => jensen_runtime::data::prior_scale_matrix(
                    param,
                    &summary,
                    value
                        .view()
                        .into_dimensionality::<Ix2>()
                        .expect("a matrix")
                        .to_owned(),
                )
                .map(drop),
                _ => jensen_runtime::data::prior_vector(
                    param,
                    &summary,
                    value.iter().copied().collect(),
                    if h.summary == Summary::Mean {
                        jensen_runtime::data::PriorRole::Location
                    } else {
                        jensen_runtime::data::PriorRole::Scale
                    },
                )
                .map(drop),
            };
            checked.map_err(|e| e.to_string())?;
        }
        if self.program.method != Method::Vb {
            return Ok(());
        }
        for u in &self.plan.updates {
            let Some(jensen_lang::plan::Prior {
                family: jensen_lang::plan::PriorFamily::InvWishart { dof, .. },
                ..
            }) = u.prior
            else {
                continue;
            };
            let slot = self.program.param(u.param);
            let d = *self
                .program
                .param_shape(slot, &self.data.sizes)
                .last()
                .expect("a covariance has a shape");
            if dof <= d as f64 - 1.0 {
                return Err(format!(
                    "the inverse-Wishart prior on `{}` has {dof} degrees of freedom, but variational Bayes needs a proper prior, ν > D − 1 = {} for these {d}-dimensional data; write e.g. `InvWishart({}, …)`",
                    slot.name,
                    d - 1,
                    d + 1
                ));
            }
        }
        Ok(())
    }

    /// Binds the value of parameter `name`, fixed at fit time (the plan marks it
    /// [`jensen_lang::ir::Fixed::Given`], e.g. by `jensen fit --fix NAME=FILE.json`): checked
    /// against its shape and its type's constraint; it is then the parameter's value in every
    /// start, and the M-step keeps it.
    pub fn fix(&mut self, name: &str, value: ArrayD<f64>) -> Result<(), String> {
        let Some(slot) = self.program.params.iter().find(|s| s.name == name) else {
            return Err(format!("the model has no parameter `{name}`"));
        };
        if slot.fixed != Some(Fixed::Given) {
            return Err(format!(
                "parameter `{name}` is not marked to be fixed at fit time"
            ));
        }
        let shape = self.program.param_shape(slot, &self.data.sizes);
        if value.shape() != shape.as_slice() {
            return Err(format!(
                "the value of `{name}` has shape {:?}, but the parameter's is {shape:?}",
                value.shape()
            ));
        }
        self.given.insert(name.to_string(), value);
        if let Err(e) = self.check_params(&self.neutral_params()) {
            self.given.remove(name);
            return Err(e);
        }
        Ok(())
    }

    /// Checks a user's starting parameters against their shapes and constraints, in
    /// declaration order; a fixed parameter takes its known value whatever the start says.
    pub fn check_params(&self, params: &DynParams) -> Result<DynParams, String> {
        let checked = self.check_given(params)?;
        let fixed: Vec<&str> = self
            .program
            .params
            .iter()
            .filter(|s| s.fixed.is_some())
            .map(|s| s.name.as_str())
            .collect();
        if fixed.is_empty() {
            return Ok(checked);
        }
        let neutral = self.neutral_params();
        let mut out = DynParams::default();
        for (name, value) in checked.iter() {
            match fixed.contains(&name) {
                true => out.insert(name, neutral.get(name).expect("a slot").clone()),
                false => out.insert(name, value.clone()),
            }
        }
        Ok(out)
    }

    fn check_given(&self, params: &DynParams) -> Result<DynParams, String> {
        check_against(self.plan, &self.program, &self.param_shapes(), params)
    }
}

/// Checks parameters against the plan at the given index-set sizes (by set id): their
/// shapes, finiteness and constraints (a simplex sums to one, a covariance is symmetric
/// positive definite, …). Returns them in declaration order. [`PlanModel::check_params`]
/// does this for bound data; this is for parameters without data (sampling from a fit).
pub fn check_param_values(
    plan: &Plan,
    sizes: &[usize],
    params: &DynParams,
) -> Result<DynParams, String> {
    let program = Program::lower(plan);
    let shapes: Vec<(String, Vec<usize>)> = program
        .params
        .iter()
        .map(|p| (p.name.clone(), program.param_shape(p, sizes)))
        .collect();
    check_against(plan, &program, &shapes, params)
}

fn check_against(
    plan: &Plan,
    program: &Program,
    shapes: &[(String, Vec<usize>)],
    params: &DynParams,
) -> Result<DynParams, String> {
    params.check_shapes(shapes)?;
    // Restore declaration order.
    let mut ordered = DynParams::default();
    for (name, _) in shapes {
        ordered.insert(name, params.get(name).expect("checked").clone());
    }
    for slot in &program.params {
        if slot.posterior_of.is_some() {
            let value = ordered.get(&slot.name).expect("checked");
            if let Elem::Matrix(..) = slot.elem {
                // The loadings' row covariance factor: symmetric positive definite (its KL
                // term has ln |V|).
                // (One L × L matrix, or one per component.)
                let l = value.shape()[value.ndim() - 1];
                let ok = value.iter().all(|v| v.is_finite())
                    && value
                        .view()
                        .into_shape_with_order((value.len() / (l * l).max(1), l, l))
                        .map(|all| all.outer_iter().all(positive_definite))
                        .unwrap_or(false);
                if !ok {
                    return Err(format!(
                        "`{}` must be symmetric positive definite (the covariance factor of the loadings' posterior rows)",
                        slot.name
                    ));
                }
                continue;
            }
            // A posterior's strength: a positive count, shape or degrees of freedom.
            if !value.iter().all(|v| v.is_finite() && *v > 0.0) {
                return Err(format!(
                    "`{}` must be positive and finite (a posterior's strength)",
                    slot.name
                ));
            }
            continue;
        }
        let var = &plan.model.vars[slot.var];
        let value = ordered.get(&var.name).expect("checked");
        if value.iter().any(|v| !v.is_finite()) {
            return Err(format!(
                "parameter `{}` has a value that is not finite",
                var.name
            ));
        }
        let ok = match var.ty {
            ElemType::Simplex(_) => value
                .lanes(Axis(value.ndim() - 1))
                .into_iter()
                .all(|l| l.iter().all(|&v| v >= 0.0) && (l.sum() - 1.0).abs() < 1e-6),
            ElemType::Positive | ElemType::PositiveVec(_) => value.iter().all(|&v| v > 0.0),
            ElemType::Prob | ElemType::ProbVec(_) => {
                value.iter().all(|&v| (0.0..=1.0).contains(&v))
            }
            ElemType::Cov(_) => {
                let matrices: Vec<_> = if var.plates.is_empty() {
                    vec![value.view()]
                } else {
                    value.outer_iter().collect()
                };
                for (k, m) in matrices.iter().enumerate() {
                    let m = m
                        .view()
                        .into_dimensionality::<Ix2>()
                        .expect("cov[D] is a matrix");
                    let scale = m
                        .iter()
                        .fold(0.0f64, |a, v| a.max(v.abs()))
                        .max(f64::MIN_POSITIVE);
                    let symmetric = m
                        .indexed_iter()
                        .all(|((i, j), v)| (v - m[[j, i]]).abs() <= 1e-10 * scale);
                    if !symmetric || Cholesky::new(m).is_none() {
                        let which = if var.plates.is_empty() {
                            String::new()
                        } else {
                            format!(" (component {k})")
                        };
                        return Err(format!(
                            "parameter `{}`{which} is not a symmetric positive definite covariance",
                            var.name
                        ));
                    }
                }
                true
            }
            ElemType::Matrix(..) if slot.nonzero_columns => {
                // W = 0 is a fixed point of EM (a saddle of the likelihood): a zero column
                // would never move.
                let matrices: Vec<_> = if var.plates.is_empty() {
                    vec![value.view()]
                } else {
                    value.outer_iter().collect()
                };
                for (k, m) in matrices.iter().enumerate() {
                    let m = m.view().into_dimensionality::<Ix2>().expect("matrix");
                    if let Some(j) = (0..m.ncols()).find(|&j| m.column(j).iter().all(|&v| v == 0.0))
                    {
                        let which = if var.plates.is_empty() {
                            String::new()
                        } else {
                            format!(" (component {k})")
                        };
                        return Err(format!("loadings `{}`{which} have an all-zero column {j}: W = 0 is a fixed point of EM (a saddle of the likelihood), so that factor would never be fitted; start from non-zero loadings (the default initialisation draws them at random)", var.name));
                    }
                }
                true
            }
            _ => true,
        };
        if !ok {
            return Err(format!(
                "parameter `{}` violates its constraint `{}`",
                var.name,
                plan.model.type_name(var.ty)
            ));
        }
    }
    Ok(ordered)
}

/// A symmetric (up to round-off) positive definite matrix.
fn positive_definite(v: ndarray::ArrayView2<'_, f64>) -> bool {
    let scale = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let symmetric = v
        .indexed_iter()
        .all(|((i, j), x)| (x - v[[j, i]]).abs() <= 1e-12 * scale);
    symmetric && jensen_runtime::linalg::Cholesky::new(v).is_some()
}

/// Component `k` of a parameter (all of it when shared).
fn part<'p>(
    params: &'p DynParams,
    name: &str,
    per_component: bool,
    k: usize,
) -> ArrayViewD<'p, f64> {
    let v = params
        .get(name)
        .expect("parameters are checked against the plan");
    if per_component {
        v.index_axis(Axis(0), k)
    } else {
        v.view()
    }
}

fn vec_of<'p>(params: &'p DynParams, p: PRef, name: &str, k: usize) -> ArrayView1<'p, f64> {
    part(params, name, p.per_component, k)
        .into_dimensionality::<Ix1>()
        .expect("vector parameter")
}

fn scalar_of(params: &DynParams, p: PRef, name: &str, k: usize) -> f64 {
    *part(params, name, p.per_component, k)
        .first()
        .expect("scalar parameter")
}

/// The component an operand reads: `k`, `0`, or none (the whole value).
fn index(at: At, k: usize) -> Option<usize> {
    match at {
        At::K => Some(k),
        At::Zero => Some(0),
        At::Whole => None,
    }
}

/// Component `k` of the statistics written by arguments `from..` of a call (all components
/// for a statistic read whole), in order (at most six; the rest `None`). No allocation: this runs for every block of rows.
fn written<'s>(
    a: &[Operand],
    k: usize,
    from: usize,
    stats: &'s mut ExecStats,
) -> [Option<ArrayViewMutD<'s, f64>>; 6] {
    let mut wanted = [usize::MAX; 6];
    let mut count = 0;
    let mut at: Option<At> = None;
    for o in &a[from..] {
        if let Operand::Stat {
            slot,
            at: which,
            mutable,
        } = o
        {
            at = at.or(Some(*which));
            if *mutable {
                wanted[count] = *slot;
                count += 1;
            }
        }
    }
    let at = index(at.expect("a statistic"), k);
    let mut out: [Option<ArrayViewMutD<'s, f64>>; 6] = Default::default();
    for (i, slot) in stats.slots.iter_mut().enumerate() {
        if let Some(pos) = wanted[..count].iter().position(|&w| w == i) {
            out[pos] = Some(match at {
                Some(k) => slot.index_axis_mut(Axis(0), k),
                None => slot.view_mut(),
            });
        }
    }
    out
}

/// A whole parameter, as a view of known dimension.
fn param_view<'p, D: ndarray::Dimension>(
    params: &'p DynParams,
    name: &str,
) -> ndarray::ArrayView<'p, f64, D> {
    params
        .get(name)
        .expect("checked")
        .view()
        .into_dimensionality::<D>()
        .expect("parameter of the planned shape")
}

fn vector_mut(a: ArrayViewMutD<'_, f64>) -> ndarray::ArrayViewMut1<'_, f64> {
    a.into_dimensionality().expect("vector statistic")
}

fn matrix_mut(a: ArrayViewMutD<'_, f64>) -> ndarray::ArrayViewMut2<'_, f64> {
    a.into_dimensionality().expect("matrix statistic")
}

fn number_mut(a: ArrayViewMutD<'_, f64>) -> &mut f64 {
    a.into_dimensionality::<Ix0>()
        .expect("scalar statistic")
        .into_scalar()
}

/// Operand readers: the program's operands as views of the environment.
impl PlanModel<'_> {
    /// The seeding's features, item by item: the modelled data (the rows' weights weigh the
    /// seeding instead).
    fn init_items(&self) -> impl Iterator<Item = ArrayView2<'_, f64>> {
        (0..self.plan.model.vars.len())
            .filter(|&v| Some(v) != self.plan.row_weights)
            .filter_map(|v| self.data.items[v].as_ref().map(|i| i.values.view()))
    }

    fn source<'s>(&self, env: &'s Env<'_>, src: Src) -> &'s DynParams {
        match src {
            Src::Cache => env.cache.map(|c| c.effective.as_ref().unwrap_or(&c.params)),
            Src::Prev => env.prev,
            Src::Next => env.next,
            Src::Params => env.params,
            Src::Centre => env.centre,
        }
        .expect("the program reads parameters its method has")
    }

    fn array<'s>(&'s self, env: &'s Env<'_>, op: &Operand) -> ArrayViewD<'s, f64> {
        match op {
            Operand::Param { src, var, at, .. } => {
                let value = self
                    .source(env, *src)
                    .get(self.plan.name(*var))
                    .expect("parameters are checked against the program");
                match index(*at, env.k) {
                    Some(k) => value.index_axis(Axis(0), k),
                    None => value.view(),
                }
            }
            Operand::Slot { src, slot, at } => {
                let value = self
                    .source(env, *src)
                    .get(&self.program.params[*slot].name)
                    .expect("parameters are checked against the program");
                match index(*at, env.k) {
                    Some(k) => value.index_axis(Axis(0), k),
                    None => value.view(),
                }
            }
            Operand::Stat { slot, at, .. } => {
                let all = &env.stats.expect("statistics").slots[*slot];
                all.index_axis(Axis(0), index(*at, env.k).expect("a component"))
            }
            Operand::Pooled => env.pooled.as_ref().expect("pooled").0.view(),
            other => unreachable!("not an array operand: {other:?}"),
        }
    }

    fn number(&self, env: &Env<'_>, op: &Operand) -> f64 {
        match op {
            Operand::Count(at) => {
                env.latent.expect("latent statistics").counts[index(*at, env.k).unwrap_or(0)]
            }
            Operand::RowCount => self.total_weight(),
            Operand::Number(v) => *v,
            Operand::Hyper(h) => *self.context.hypers[*h].first().expect("a number"),
            Operand::Reg => env.reg,
            Operand::PooledCount => env.pooled.as_ref().expect("pooled").1,
            Operand::LogDetPrecision(post) => self.posterior(env, post).log_det_precision(),
            _ => *self.array(env, op).first().expect("a number"),
        }
    }

    fn vector<'s>(&'s self, env: &'s Env<'_>, op: &Operand) -> CowArray<'s, f64, Ix1> {
        let rows = || env.rows.clone().expect("rows");
        match op {
            Operand::Param {
                as_vector: true, ..
            } => Array1::from_elem(1, self.number(env, op)).into(),
            Operand::AsVector(value) => Array1::from_elem(1, self.number(env, value)).into(),
            Operand::LogUniform => Array1::from_elem(1, -(self.k as f64).ln()).into(),
            Operand::Isotropic(var, like) => {
                linear::isotropic(self.number(env, var), self.vector(env, like).len()).into()
            }
            Operand::Rows => self.rows_column(env.block, &rows()).into(),
            Operand::RowTerms => self.row_terms[env.block]
                .as_ref()
                .expect("the block's per-row terms")
                .slice(s![rows()])
                .into(),
            Operand::Column(var) => self.column_major_item(*var).slice(s![rows(), 0]).into(),
            Operand::Resp => env
                .resp
                .as_ref()
                .expect("responsibilities")
                .column(env.k)
                .into(),
            Operand::CompleteResp => env
                .complete
                .as_ref()
                .expect("responsibilities without the rows with a gap")
                .column(env.k)
                .into(),
            Operand::Before => env
                .before
                .as_ref()
                .expect("the log-joint before the block")
                .column(env.k)
                .into(),
            Operand::DataMean => self.context.moments[env.block].mean.view().into(),
            Operand::DataScale(b) => self.context.moments[*b].scale.view().into(),
            Operand::Hyper(h) => self.context.hypers[*h]
                .view()
                .into_dimensionality::<Ix1>()
                .expect("a vector")
                .into(),
            Operand::LatentCounts => env.latent.expect("latent").counts.view().into(),
            Operand::LatentInitial => env.latent.expect("latent").initial.view().into(),
            Operand::Derived { .. } => match self.derived(env, op) {
                (DerivedValue::Vector(v), _) => v.view().into(),
                (DerivedValue::Matrix(m), Some(k)) => m.row(k).into(),
                _ => unreachable!("a vector"),
            },
            _ => self
                .array(env, op)
                .into_dimensionality::<Ix1>()
                .expect("a vector")
                .into(),
        }
    }

    fn matrix<'s>(&'s self, env: &'s Env<'_>, op: &Operand) -> ArrayView2<'s, f64> {
        match op {
            Operand::Rows => self.rows_matrix(env.block, env.rows.as_ref().expect("rows")),
            Operand::Covariates(var) => self
                .column_major_item(*var)
                .slice(s![env.rows.clone().expect("rows"), ..]),
            Operand::DataScatterRoot => self.scatters.get().expect("scatter")[env.block].view(),
            Operand::RespAll => env.resp.as_ref().expect("responsibilities").view(),
            Operand::CompleteRespAll => env
                .complete
                .as_ref()
                .expect("responsibilities without the rows with a gap")
                .view(),
            Operand::LatentTransitions => env.latent.expect("latent").transitions.view(),
            Operand::Hyper(h) => self.context.hypers[*h]
                .view()
                .into_dimensionality::<Ix2>()
                .expect("a matrix"),
            Operand::Derived { .. } => match self.derived(env, op) {
                (DerivedValue::Matrix(m), None) => m.view(),
                _ => unreachable!("a matrix"),
            },
            _ => self
                .array(env, op)
                .into_dimensionality::<Ix2>()
                .expect("a matrix"),
        }
    }

    /// A derived quantity, from the cache or from this call's locals, and the component.
    fn derived<'s>(&self, env: &'s Env<'_>, op: &Operand) -> (&'s DerivedValue, Option<usize>) {
        let Operand::Derived { id, src, at } = op else {
            unreachable!("a derived operand")
        };
        let value = match src {
            Src::Cache => &env.cache.expect("cache").derived[*id],
            _ => {
                &env.locals
                    .iter()
                    .find(|(i, s, _)| i == id && s == src)
                    .expect("computed before use")
                    .2
            }
        };
        (value, index(*at, env.k))
    }

    fn cholesky<'s>(&self, env: &'s Env<'_>, op: &Operand) -> &'s Cholesky {
        match self.derived(env, op) {
            (DerivedValue::Cholesky(c), k) => &c[k.unwrap_or(0)],
            _ => unreachable!("Cholesky factors"),
        }
    }

    fn posterior<'s>(&self, env: &'s Env<'_>, op: &Operand) -> &'s FactorPosterior {
        match self.derived(env, op) {
            (DerivedValue::Posteriors(p), k) => &p[k.unwrap_or(0)],
            _ => unreachable!("posteriors"),
        }
    }
}

/// The interpreter: one arm per kernel.
impl PlanModel<'_> {
    fn run(
        &self,
        call: &Call,
        env: &Env<'_>,
        out: Option<&mut ArrayViewMut2<'_, f64>>,
        stats: Option<&mut ExecStats>,
        ws: Option<&mut Workspace>,
        bound: Option<&mut ArrayViewMut1<'_, f64>>,
    ) -> Value {
        use Kernel::*;
        let a = &call.args;
        let k = env.k;
        let n = |i: usize| self.number(env, &a[i]);
        let v = |i: usize| self.vector(env, &a[i]);
        let m = |i: usize| self.matrix(env, &a[i]);
        // A prior mean or inverse-Gamma scale: a number for every coordinate, or a summary
        // of the data per coordinate; an inverse-Wishart scale: `c I` or a summary matrix.
        let pc = |i: usize| match &a[i] {
            Operand::Hyper(h) if self.context.hypers[*h].ndim() == 1 => PerCoordinate::Each(
                self.context.hypers[*h]
                    .view()
                    .into_dimensionality::<Ix1>()
                    .expect("a vector"),
            ),
            // A parameter or a statistic: a vector per coordinate, or one number.
            op @ (Operand::Param { .. } | Operand::Slot { .. } | Operand::Stat { .. }) => {
                let value = self.array(env, op);
                match value.ndim() {
                    1 => PerCoordinate::Each(value.into_dimensionality::<Ix1>().expect("a vector")),
                    _ => PerCoordinate::All(*value.first().expect("a number")),
                }
            }
            op => PerCoordinate::All(self.number(env, op)),
        };
        let sm = |i: usize| match &a[i] {
            Operand::Hyper(h) if self.context.hypers[*h].ndim() == 2 => ScaleMatrix::Matrix(
                self.context.hypers[*h]
                    .view()
                    .into_dimensionality::<Ix2>()
                    .expect("a matrix"),
            ),
            op => ScaleMatrix::Identity(self.number(env, op)),
        };
        // The mean under a prior scaled by a covariance: one component's, or every
        // component's (rows) when they share the covariance.
        let means = |i: usize| {
            let v = self.array(env, &a[i]);
            match v.ndim() {
                2 => Means::Each(v.into_dimensionality::<Ix2>().expect("a matrix")),
                _ => Means::One(v.into_dimensionality::<Ix1>().expect("a vector")),
            }
        };
        let scalar_means = |i: usize| {
            let v = self.array(env, &a[i]);
            match v.ndim() {
                1 => ScalarMeans::Each(v.into_dimensionality::<Ix1>().expect("a vector")),
                _ => ScalarMeans::One(*v.first().expect("a number")),
            }
        };
        macro_rules! ws {
            () => {
                ws.expect("workspace")
            };
        }
        macro_rules! col {
            () => {
                out.expect("log-joint").column_mut(k)
            };
        }
        macro_rules! gaps {
            () => {
                env.gaps.as_ref().expect("the rows with a gap")
            };
        }
        let number = Value::Number;
        let array = |x: ArrayD<f64>| Value::Array(x);
        match call.kernel {
            SetLogWeights => {
                set_log_weights(out.expect("log-joint").view_mut(), v(1).view());
                number(0.0)
            }
            SetLogUniform => {
                set_log_uniform(out.expect("log-joint").view_mut());
                number(0.0)
            }
            MvnFullAddLogDensity => {
                gaussian::mvn_full_add_log_density(
                    m(0),
                    v(1).view(),
                    self.cholesky(env, &a[2]),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MvnDiagAddLogDensity => {
                gaussian::mvn_diag_add_log_density(m(0), v(1).view(), v(2).view(), col!());
                number(0.0)
            }
            MvnDiagAddLogDensities => {
                gaussian::mvn_diag_add_log_densities(
                    m(0),
                    m(1),
                    m(2),
                    out.expect("log-joint").view_mut(),
                    ws!(),
                );
                number(0.0)
            }
            MvnDiagSetLogJoint => {
                gaussian::mvn_diag_set_log_joint(
                    m(0),
                    v(1).view(),
                    m(2),
                    m(3),
                    out.expect("log-joint").view_mut(),
                    ws!(),
                );
                number(0.0)
            }
            MvtFullAddLogDensity => {
                robust::mvt_full_add_log_density(
                    m(0),
                    v(1).view(),
                    self.cholesky(env, &a[2]),
                    n(3),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MvnSphericalAddLogDensity => {
                gaussian::mvn_spherical_add_log_density(m(0), v(1).view(), n(2), col!());
                number(0.0)
            }
            // Writes the assignments, which no other kernel does: see `hard_step`.
            MvnSphericalHardStep => unreachable!("the one-pass hard E-step runs in hard_step"),
            MvnSphericalAddLogDensities => {
                gaussian::mvn_spherical_add_log_densities(
                    m(0),
                    m(1),
                    v(2).view(),
                    out.expect("log-joint").view_mut(),
                    bound.expect("round-off bounds").view_mut(),
                    ws!(),
                );
                number(0.0)
            }
            NormalAddLogDensity => {
                gaussian::normal_add_log_density(v(0).view(), n(1), n(2), col!());
                number(0.0)
            }
            LogNormalAddLogDensity => {
                gaussian::lognormal_add_log_density(v(0).view(), n(1), n(2), col!());
                number(0.0)
            }
            PoissonAddLogDensity => {
                discrete::poisson_add_log_density(v(0).view(), v(1).view(), n(2), col!());
                number(0.0)
            }
            ExponentialAddLogDensity => {
                exponential::exponential_add_log_density(v(0).view(), n(1), col!());
                number(0.0)
            }
            BinomialAddLogDensity => {
                discrete::binomial_add_log_density(v(0).view(), v(1).view(), n(2), n(3), col!());
                number(0.0)
            }
            RegressionAddLogDensity => {
                regression::regression_add_log_density(
                    v(0).view(),
                    m(1),
                    v(2).view(),
                    n(3),
                    n(4),
                    col!(),
                );
                number(0.0)
            }
            MvRegressionFullAddLogDensity => {
                regression::mv_regression_full_add_log_density(
                    m(0),
                    m(1),
                    m(2),
                    v(3).view(),
                    self.cholesky(env, &a[4]),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MvRegressionDiagAddLogDensity => {
                regression::mv_regression_diag_add_log_density(
                    m(0),
                    m(1),
                    m(2),
                    v(3).view(),
                    v(4).view(),
                    col!(),
                );
                number(0.0)
            }
            BinomialRowsAddLogDensity => {
                discrete::binomial_rows_add_log_density(
                    v(0).view(),
                    v(1).view(),
                    v(2).view(),
                    n(3),
                    col!(),
                );
                number(0.0)
            }
            GeometricAddLogDensity => {
                discrete::geometric_add_log_density(v(0).view(), n(1), col!());
                number(0.0)
            }
            GammaAddLogDensity => {
                exponential::gamma_add_log_density(v(0).view(), n(1), n(2), col!());
                number(0.0)
            }
            BernoulliAddLogDensity => {
                discrete::bernoulli_add_log_density(m(0), v(1).view(), col!());
                number(0.0)
            }
            CategoricalAddLogDensity => {
                discrete::categorical_add_log_density(v(0).view(), v(1).view(), col!());
                number(0.0)
            }
            MultinomialAddLogDensity => {
                discrete::multinomial_add_log_density(m(0), v(1).view(), v(2).view(), col!());
                number(0.0)
            }
            FactorAddLogDensity => {
                linear::factor_add_log_density(
                    m(0),
                    v(1).view(),
                    self.posterior(env, &a[2]),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MissingMvRegressionFullLogDensity => {
                missing::mv_regression_full_log_density(
                    m(0),
                    gaps!(),
                    m(2),
                    m(3),
                    v(4).view(),
                    m(5),
                    v(6).view(),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MissingMvRegressionDiagLogDensity => {
                missing::mv_regression_diag_log_density(
                    m(0),
                    gaps!(),
                    m(2),
                    m(3),
                    v(4).view(),
                    v(5).view(),
                    v(6).view(),
                    col!(),
                );
                number(0.0)
            }
            MissingMvRegressionFullAccumulate => {
                let [Some(scatter), Some(cross), Some(residual), Some(h), ..] =
                    written(a, k, 7, stats.expect("statistics"))
                else {
                    unreachable!("a design scatter, a cross, a residual scatter and an entropy")
                };
                missing::mv_regression_full_accumulate(
                    m(0),
                    gaps!(),
                    m(2),
                    m(3),
                    v(4).view(),
                    m(5),
                    v(6).view(),
                    matrix_mut(scatter),
                    matrix_mut(cross),
                    matrix_mut(residual),
                    number_mut(h),
                    ws!(),
                );
                number(0.0)
            }
            MissingMvRegressionDiagAccumulate => {
                let [Some(scatter), Some(cross), Some(sq), Some(h), ..] =
                    written(a, k, 7, stats.expect("statistics"))
                else {
                    unreachable!("a design scatter, a cross, squared residuals and an entropy")
                };
                missing::mv_regression_diag_accumulate(
                    m(0),
                    gaps!(),
                    m(2),
                    m(3),
                    v(4).view(),
                    v(5).view(),
                    v(6).view(),
                    matrix_mut(scatter),
                    matrix_mut(cross),
                    vector_mut(sq),
                    number_mut(h),
                );
                number(0.0)
            }
            MissingMvnFullLogDensity => {
                missing::mvn_full_log_density(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    m(3),
                    v(4).view(),
                    col!(),
                    ws!(),
                );
                number(0.0)
            }
            MissingMvnDiagLogDensity => {
                missing::mvn_diag_log_density(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    v(3).view(),
                    v(4).view(),
                    col!(),
                );
                number(0.0)
            }
            MissingMvnSphericalLogDensity => {
                missing::mvn_spherical_log_density(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    n(3),
                    v(4).view(),
                    col!(),
                );
                number(0.0)
            }
            MissingColumnLogDensity => {
                missing::column_log_density(gaps!(), v(1).view(), col!());
                number(0.0)
            }
            MissingBernoulliLogDensity => {
                missing::bernoulli_log_density(m(0), gaps!(), v(2).view(), v(3).view(), col!());
                number(0.0)
            }
            MissingMvnFullAccumulate => {
                let [Some(sum), Some(scatter), Some(h), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("a sum, a scatter and an entropy")
                };
                missing::mvn_full_accumulate(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    m(3),
                    v(4).view(),
                    vector_mut(sum),
                    matrix_mut(scatter),
                    number_mut(h),
                    ws!(),
                );
                number(0.0)
            }
            MissingMvnDiagAccumulate | MissingMvnSphericalAccumulate => {
                let [Some(sum), Some(sq), Some(h), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("a sum, squares and an entropy")
                };
                let var = match call.kernel {
                    MissingMvnDiagAccumulate => v(3),
                    _ => Array1::from_elem(m(0).ncols(), n(3)).into(),
                };
                missing::mvn_diag_accumulate(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    var.view(),
                    v(4).view(),
                    vector_mut(sum),
                    vector_mut(sq),
                    number_mut(h),
                );
                number(0.0)
            }
            MissingNormalAccumulate
            | MissingPoissonAccumulate
            | MissingExponentialAccumulate
            | MissingGeometricAccumulate => {
                let [Some(s), Some(h), ..] = written(a, k, 3, stats.expect("statistics")) else {
                    unreachable!("a statistic and an entropy")
                };
                let f = match call.kernel {
                    MissingNormalAccumulate => missing::normal_accumulate,
                    MissingPoissonAccumulate => missing::poisson_accumulate,
                    MissingGeometricAccumulate => missing::geometric_accumulate,
                    _ => missing::exponential_accumulate,
                };
                f(gaps!(), n(1), v(2).view(), number_mut(s), number_mut(h));
                number(0.0)
            }
            MissingBinomialAccumulate | MissingBinomialRowsAccumulate => {
                let [Some(s), Some(t), Some(h), ..] = written(a, k, 4, stats.expect("statistics"))
                else {
                    unreachable!("a sum, the trials and an entropy")
                };
                if call.kernel == MissingBinomialAccumulate {
                    missing::binomial_accumulate(
                        gaps!(),
                        n(1),
                        n(2),
                        v(3).view(),
                        number_mut(s),
                        number_mut(t),
                        number_mut(h),
                    );
                } else {
                    missing::binomial_rows_accumulate(
                        gaps!(),
                        v(1).view(),
                        n(2),
                        v(3).view(),
                        number_mut(s),
                        number_mut(t),
                        number_mut(h),
                    );
                }
                number(0.0)
            }
            MissingGammaAccumulate => {
                let [Some(s), Some(l), Some(h), ..] = written(a, k, 4, stats.expect("statistics"))
                else {
                    unreachable!("two statistics and an entropy")
                };
                missing::gamma_accumulate(
                    gaps!(),
                    n(1),
                    n(2),
                    v(3).view(),
                    number_mut(s),
                    number_mut(l),
                    number_mut(h),
                );
                number(0.0)
            }
            MissingCategoricalAccumulate => {
                let [Some(counts), Some(h), ..] = written(a, k, 3, stats.expect("statistics"))
                else {
                    unreachable!("counts and an entropy")
                };
                missing::categorical_accumulate(
                    gaps!(),
                    v(1).view(),
                    v(2).view(),
                    vector_mut(counts),
                    number_mut(h),
                );
                number(0.0)
            }
            MissingBernoulliAccumulate => {
                let [Some(sum), Some(h), ..] = written(a, k, 4, stats.expect("statistics")) else {
                    unreachable!("a sum and an entropy")
                };
                missing::bernoulli_accumulate(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    v(3).view(),
                    vector_mut(sum),
                    number_mut(h),
                );
                number(0.0)
            }
            MissingFactorLogDensity => {
                missing::factor_log_density(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    m(3),
                    v(4).view(),
                    v(5).view(),
                    col!(),
                );
                number(0.0)
            }
            MissingFactorAccumulate => {
                let [Some(sum), Some(sq), Some(hs), Some(cr), Some(hh), Some(h)] =
                    written(a, k, 7, stats.expect("statistics"))
                else {
                    unreachable!("five statistics and an entropy")
                };
                missing::factor_accumulate(
                    m(0),
                    gaps!(),
                    v(2).view(),
                    m(3),
                    v(4).view(),
                    self.posterior(env, &a[5]),
                    v(6).view(),
                    vector_mut(sum),
                    vector_mut(sq),
                    vector_mut(hs),
                    matrix_mut(cr),
                    matrix_mut(hh),
                    number_mut(h),
                );
                number(0.0)
            }
            MvtFullAccumulate => {
                let [Some(weight), Some(sum), Some(scatter), Some(constant), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("a weight, a sum, a scatter and a constant")
                };
                robust::mvt_full_accumulate(
                    m(0),
                    v(1).view(),
                    self.cholesky(env, &a[2]),
                    n(3),
                    v(4).view(),
                    number_mut(weight),
                    vector_mut(sum),
                    matrix_mut(scatter),
                    number_mut(constant),
                    ws!(),
                );
                number(0.0)
            }
            AccumulateScatter => {
                let [Some(sum), Some(scatter), ..] = written(a, k, 3, stats.expect("statistics"))
                else {
                    unreachable!("a sum and a scatter")
                };
                gaussian::accumulate_scatter(
                    m(0),
                    v(1).view(),
                    v(2).view(),
                    vector_mut(sum),
                    matrix_mut(scatter),
                    ws!(),
                );
                number(0.0)
            }
            AccumulateDiag => {
                let [Some(sum), Some(sq), ..] = written(a, k, 3, stats.expect("statistics")) else {
                    unreachable!("a sum and squares")
                };
                gaussian::accumulate_diag(
                    m(0),
                    v(1).view(),
                    v(2).view(),
                    vector_mut(sum),
                    vector_mut(sq),
                );
                number(0.0)
            }
            AccumulateDiagAll => {
                let [Some(sum), Some(sq), ..] = written(a, k, 3, stats.expect("statistics")) else {
                    unreachable!("a sum and squares")
                };
                gaussian::accumulate_diag_all(m(0), m(1), m(2), matrix_mut(sum), matrix_mut(sq));
                number(0.0)
            }
            AccumulateDiagAssigned => {
                let [Some(sum), Some(sq), ..] = written(a, k, 3, stats.expect("statistics")) else {
                    unreachable!("a sum and squares")
                };
                gaussian::accumulate_diag_assigned(
                    m(0),
                    m(1),
                    env.assignments.expect("assignments"),
                    matrix_mut(sum),
                    matrix_mut(sq),
                );
                number(0.0)
            }
            AccumulateScalar => {
                let [Some(sum), Some(sq), ..] = written(a, k, 3, stats.expect("statistics")) else {
                    unreachable!("a sum and squares")
                };
                gaussian::accumulate_scalar(
                    v(0).view(),
                    n(1),
                    v(2).view(),
                    number_mut(sum),
                    number_mut(sq),
                );
                number(0.0)
            }
            RegressionAccumulate => {
                let [Some(scatter), Some(cross), Some(sq), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("a design scatter, a cross and squared residuals")
                };
                regression::regression_accumulate(
                    v(0).view(),
                    m(1),
                    v(2).view(),
                    n(3),
                    v(4).view(),
                    matrix_mut(scatter),
                    vector_mut(cross),
                    number_mut(sq),
                );
                number(0.0)
            }
            MvRegressionFullAccumulate | MvRegressionDiagAccumulate => {
                let [Some(scatter), Some(cross), Some(residual), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("a design scatter, a cross and the residuals' scatter")
                };
                let (x, u, coef, c, r) = (m(0), m(1), m(2), v(3), v(4));
                let (scatter, cross) = (matrix_mut(scatter), matrix_mut(cross));
                if call.kernel == MvRegressionFullAccumulate {
                    regression::mv_regression_full_accumulate(
                        x,
                        u,
                        coef,
                        c.view(),
                        r.view(),
                        scatter,
                        cross,
                        matrix_mut(residual),
                    );
                } else {
                    regression::mv_regression_diag_accumulate(
                        x,
                        u,
                        coef,
                        c.view(),
                        r.view(),
                        scatter,
                        cross,
                        vector_mut(residual),
                    );
                }
                number(0.0)
            }
            MissingRegressionAccumulate => {
                let [Some(scatter), Some(sq), Some(h), ..] =
                    written(a, k, 4, stats.expect("statistics"))
                else {
                    unreachable!("a design scatter, squared residuals and an entropy")
                };
                missing::regression_accumulate(
                    gaps!(),
                    m(1),
                    n(2),
                    v(3).view(),
                    matrix_mut(scatter),
                    number_mut(sq),
                    number_mut(h),
                );
                number(0.0)
            }
            BinomialAccumulate | BinomialRowsAccumulate => {
                let [Some(sum), Some(trials), ..] = written(a, k, 3, stats.expect("statistics"))
                else {
                    unreachable!("a sum and the expected trials")
                };
                if call.kernel == BinomialAccumulate {
                    discrete::binomial_accumulate(
                        v(0).view(),
                        n(1),
                        v(2).view(),
                        number_mut(sum),
                        number_mut(trials),
                    );
                } else {
                    discrete::binomial_rows_accumulate(
                        v(0).view(),
                        v(1).view(),
                        v(2).view(),
                        number_mut(sum),
                        number_mut(trials),
                    );
                }
                number(0.0)
            }
            GammaAccumulate => {
                let [Some(sum), Some(log_sum), ..] = written(a, k, 2, stats.expect("statistics"))
                else {
                    unreachable!("a sum and a sum of logarithms")
                };
                exponential::gamma_accumulate(
                    v(0).view(),
                    v(1).view(),
                    number_mut(sum),
                    number_mut(log_sum),
                );
                number(0.0)
            }
            AccumulateWeightedSum => {
                let [Some(sum), ..] = written(a, k, 2, stats.expect("statistics")) else {
                    unreachable!("a sum")
                };
                discrete::accumulate_weighted_sum(v(0).view(), v(1).view(), number_mut(sum));
                number(0.0)
            }
            AccumulateWeightedRows => {
                let [Some(sum), ..] = written(a, k, 2, stats.expect("statistics")) else {
                    unreachable!("a sum")
                };
                discrete::accumulate_weighted_rows(m(0), v(1).view(), vector_mut(sum));
                number(0.0)
            }
            MultinomialAccumulate => {
                let [Some(counts), ..] = written(a, k, 2, stats.expect("statistics")) else {
                    unreachable!("counts")
                };
                discrete::multinomial_accumulate(m(0), v(1).view(), vector_mut(counts));
                number(0.0)
            }
            AccumulateCategoryCounts => {
                let [Some(counts), ..] = written(a, k, 2, stats.expect("statistics")) else {
                    unreachable!("counts")
                };
                discrete::accumulate_category_counts(v(0).view(), v(1).view(), vector_mut(counts));
                number(0.0)
            }
            AccumulateFactor => {
                let [Some(sum), Some(sq), Some(hs), Some(cr), Some(hh), ..] =
                    written(a, k, 4, stats.expect("statistics"))
                else {
                    unreachable!("five statistics")
                };
                linear::accumulate_factor(
                    m(0),
                    v(1).view(),
                    v(2).view(),
                    self.posterior(env, &a[3]),
                    vector_mut(sum),
                    vector_mut(sq),
                    vector_mut(hs),
                    matrix_mut(cr),
                    matrix_mut(hh),
                    ws!(),
                );
                number(0.0)
            }
            FactorSummaryStatistics => {
                let [Some(sum), Some(sq), Some(hs), Some(cr), Some(hh), ..] =
                    written(a, k, 5, stats.expect("statistics"))
                else {
                    unreachable!("five statistics")
                };
                number(linear::factor_summary_statistics(
                    n(0),
                    v(1).view(),
                    m(2),
                    v(3).view(),
                    self.posterior(env, &a[4]),
                    vector_mut(sum),
                    vector_mut(sq),
                    vector_mut(hs),
                    matrix_mut(cr),
                    matrix_mut(hh),
                ))
            }
            SimplexFromCounts => array(discrete::simplex_from_counts(v(0).view()).into_dyn()),
            SimplexModeFromCounts => {
                array(discrete::simplex_mode_from_counts(v(0).view(), n(1)).into_dyn())
            }
            TransitionsFromCounts => array(chain::transitions_from_counts(m(0), m(1)).into_dyn()),
            TransitionsModeFromCounts => {
                array(chain::transitions_mode_from_counts(m(0), m(1), n(2)).into_dyn())
            }
            PseudoCount => number(vb::pseudo_count(n(0), n(1))),
            InvGammaShape => number(vb::inv_gamma_shape(n(0), n(1))),
            DirichletPosteriorMean => {
                array(vb::dirichlet_posterior_mean(v(0).view(), n(1)).into_dyn())
            }
            DirichletPosteriorTotal => number(vb::dirichlet_posterior_total(v(0).view(), n(1))),
            TransitionsPosteriorMean => {
                array(vb::transitions_posterior_mean(m(0), n(1)).into_dyn())
            }
            TransitionsPosteriorTotal => {
                array(vb::transitions_posterior_total(m(0), n(1)).into_dyn())
            }
            DirichletGeometricMean => {
                array(vb::dirichlet_geometric_mean(v(0).view(), n(1)).into_dyn())
            }
            DirichletKl => number(vb::dirichlet_kl(v(0).view(), n(1), n(2))),
            PoissonRatePosterior => number(vb::poisson_rate_posterior(n(0), n(1), n(2), n(3))),
            ExponentialRatePosterior => {
                number(vb::exponential_rate_posterior(n(0), n(1), n(2), n(3)))
            }
            BinomialPosteriorMean => number(vb::binomial_posterior_mean(n(0), n(1), n(2), n(3))),
            BinomialOffset => number(vb::binomial_offset(v(0).view(), n(1), n(2))),
            GeometricPosteriorMean => number(vb::geometric_posterior_mean(n(0), n(1), n(2), n(3))),
            GeometricPseudoCount => number(vb::geometric_pseudo_count(n(0), n(1), n(2))),
            GeometricEffective => number(vb::geometric_effective(n(0), n(1))),
            GeometricOffset => number(vb::geometric_offset(n(0), n(1))),
            GammaRatePosterior => number(vb::gamma_rate_posterior(n(0), n(1), n(2), n(3), n(4))),
            GammaPseudoCount => number(vb::gamma_pseudo_count(n(0), n(1), n(2))),
            GammaShapeLogOffset => number(vb::gamma_shape_log_offset(n(0), n(1))),
            GammaGeometricMean => number(vb::gamma_geometric_mean(n(0), n(1))),
            PoissonRateOffset => number(vb::poisson_rate_offset(n(0), n(1))),
            GammaLogOffset => number(vb::gamma_log_offset(n(0))),
            GammaKl => number(vb::gamma_kl(n(0), n(1), n(2), n(3))),
            BetaPosteriorMean => {
                array(vb::beta_posterior_mean(v(0).view(), n(1), n(2), n(3)).into_dyn())
            }
            BetaEffective => array(vb::beta_effective(v(0).view(), n(1)).into_dyn()),
            BetaOffset => number(vb::beta_offset(v(0).view(), n(1))),
            BetaKl => number(vb::beta_kl(v(0).view(), n(1), n(2), n(3))),
            CovariancePosterior => {
                array(vb::covariance_posterior(m(0), n(1), n(2), sm(3)).into_dyn())
            }
            CovariancePosteriorWithMeanPrior => array(
                vb::covariance_posterior_with_mean_prior(
                    m(0),
                    n(1),
                    n(2),
                    sm(3),
                    means(4),
                    n(5),
                    pc(6),
                )
                .into_dyn(),
            ),
            VariancesPosterior => {
                array(vb::variances_posterior(v(0).view(), n(1), n(2), pc(3)).into_dyn())
            }
            VariancePosterior => number(vb::variance_posterior(n(0), n(1), n(2), n(3))),
            VariancesPosteriorWithMeanPrior => array(
                vb::variances_posterior_with_mean_prior(
                    v(0).view(),
                    n(1),
                    n(2),
                    pc(3),
                    means(4),
                    n(5),
                    pc(6),
                )
                .into_dyn(),
            ),
            VariancePosteriorWithMeanPrior => number(vb::variance_posterior_with_mean_prior(
                n(0),
                n(1),
                n(2),
                n(3),
                scalar_means(4),
                n(5),
                n(6),
            )),
            WishartOffset => number(vb::wishart_offset(m(0), n(1))),
            InvGammaOffset => number(vb::inv_gamma_offset(v(0).view(), n(1))),
            InvGammaScalarOffset => number(vb::inv_gamma_scalar_offset(n(0))),
            MeanOffset => number(vb::mean_offset(v(0).view(), n(1))),
            ScalarMeanOffset => number(vb::scalar_mean_offset(n(0))),
            InvWishartKl => number(vb::inv_wishart_kl(m(0), n(1), n(2), sm(3))),
            InvGammaKl => number(vb::inv_gamma_kl(n(0), n(1), n(2), n(3))),
            InvGammasKl => number(vb::inv_gammas_kl(v(0).view(), n(1), n(2), pc(3))),
            MvnMeanKl => number(vb::mvn_mean_kl(v(0).view(), n(1), m(2), pc(3), n(4))),
            DiagMeanKl => number(vb::diag_mean_kl(
                v(0).view(),
                n(1),
                v(2).view(),
                pc(3),
                n(4),
            )),
            NormalMeanKl => number(vb::normal_mean_kl(n(0), n(1), n(2), n(3), n(4))),
            DirichletLogDensity => number(discrete::dirichlet_log_density(v(0).view(), n(1))),
            CovarianceModeFromScatter => {
                array(gaussian::covariance_mode_from_scatter(m(0), n(1), n(2), sm(3)).into_dyn())
            }
            VariancesModeFromScatter => array(
                gaussian::variances_mode_from_scatter(v(0).view(), n(1), n(2), pc(3)).into_dyn(),
            ),
            VarianceModeFromScatter => {
                number(gaussian::variance_mode_from_scatter(n(0), n(1), n(2), n(3)))
            }
            InvGammaLogDensity => number(gaussian::inv_gamma_log_density(n(0), n(1), n(2))),
            InvGammaLogDensities => {
                number(gaussian::inv_gamma_log_densities(v(0).view(), n(1), pc(2)))
            }
            InvWishartLogDensity => number(gaussian::inv_wishart_log_density(m(0), n(1), sm(2))),
            MeanFromStats => {
                array(gaussian::mean_from_stats(v(0).view(), v(1).view(), n(2)).into_dyn())
            }
            ScalarMeanFromStats => number(gaussian::scalar_mean_from_stats(n(0), n(1), n(2))),
            LoadingsFromStats => array(
                linear::loadings_from_stats(m(0), n(1), v(2).view(), v(3).view(), m(4), m(5))
                    .into_dyn(),
            ),
            LoadingsModeFromStats => array(
                linear::loadings_mode_from_stats(
                    m(0),
                    n(1),
                    v(2).view(),
                    v(3).view(),
                    m(4),
                    m(5),
                    n(6),
                )
                .into_dyn(),
            ),
            LoadingsRowCov => array(linear::loadings_row_cov(m(0), n(1)).into_dyn()),
            LoadingsOffset => number(linear::loadings_offset(m(0), m(1))),
            LoadingsKl => number(linear::loadings_kl(m(0), m(1), n(2), pc(3))),
            NoiseVariancesPosteriorWithLoadingPrior => array(
                linear::noise_variances_posterior_with_loading_prior(
                    v(0).view(),
                    n(1),
                    n(2),
                    pc(3),
                    self.array(env, &a[4]),
                    n(5),
                )
                .into_dyn(),
            ),
            NoiseVariancePosteriorWithLoadingPrior => {
                number(linear::noise_variance_posterior_with_loading_prior(
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    self.array(env, &a[4]),
                    n(5),
                ))
            }
            NoiseVariancesModeWithLoadingPrior => array(
                linear::noise_variances_mode_with_loading_prior(
                    v(0).view(),
                    n(1),
                    n(2),
                    pc(3),
                    self.array(env, &a[4]),
                    n(5),
                )
                .into_dyn(),
            ),
            NoiseVarianceModeWithLoadingPrior => {
                number(linear::noise_variance_mode_with_loading_prior(
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    self.array(env, &a[4]),
                    n(5),
                ))
            }
            LoadingsPriorLogDensity => {
                number(linear::loadings_prior_log_density(m(0), n(1), pc(2)))
            }
            FactorMeanFromStats => array(
                linear::factor_mean_from_stats(v(0).view(), v(1).view(), v(2).view(), n(3), m(4))
                    .into_dyn(),
            ),
            ScatterAbout => array(
                gaussian::scatter_about(v(0).view(), v(1).view(), m(2), n(3), v(4).view())
                    .into_dyn(),
            ),
            DiagScatterAbout => array(
                gaussian::diag_scatter_about(
                    v(0).view(),
                    v(1).view(),
                    v(2).view(),
                    n(3),
                    v(4).view(),
                )
                .into_dyn(),
            ),
            ScalarScatterAbout => {
                number(gaussian::scalar_scatter_about(n(0), n(1), n(2), n(3), n(4)))
            }
            RegressionExpected => number(regression::regression_expected(
                n(0),
                v(1).view(),
                n(2),
                m(3),
                v(4).view(),
                n(5),
                v(6).view(),
                n(7),
                n(8),
            )),
            RegressionCoefficientsGivenIntercept => array(
                regression::regression_coefficients_given_intercept(v(0).view(), m(1), v(2).view())
                    .into_dyn(),
            ),
            RegressionCoefficientsFromStats => array(
                regression::regression_coefficients_from_stats(v(0).view(), m(1), v(2).view())
                    .into_dyn(),
            ),
            RegressionInterceptFromStats => number(regression::regression_intercept_from_stats(
                n(0),
                v(1).view(),
                v(2).view(),
                m(3),
                v(4).view(),
            )),
            MvRegressionFullExpected => number(regression::mv_regression_full_expected(
                n(0),
                m(1),
                v(2).view(),
                m(3),
                m(4),
                m(5),
                m(6),
                v(7).view(),
                self.cholesky(env, &a[8]),
            )),
            MvRegressionDiagExpected => number(regression::mv_regression_diag_expected(
                n(0),
                m(1),
                v(2).view(),
                m(3),
                m(4),
                v(5).view(),
                m(6),
                v(7).view(),
                v(8).view(),
            )),
            MvRegressionCoefficientsFromStats => array(
                regression::mv_regression_coefficients_from_stats(m(0), m(1), m(2)).into_dyn(),
            ),
            MvRegressionCoefficientsGivenIntercept => array(
                regression::mv_regression_coefficients_given_intercept(m(0), m(1), m(2)).into_dyn(),
            ),
            MvRegressionInterceptFromStats => array(
                regression::mv_regression_intercept_from_stats(v(0).view(), m(1), m(2), m(3), m(4))
                    .into_dyn(),
            ),
            MvRegressionResidualScatter => array(
                regression::mv_regression_residual_scatter(
                    m(0),
                    v(1).view(),
                    m(2),
                    m(3),
                    m(4),
                    m(5),
                    v(6).view(),
                )
                .into_dyn(),
            ),
            MvRegressionResidualSumsq => array(
                regression::mv_regression_residual_sumsq(
                    m(0),
                    v(1).view(),
                    m(2),
                    m(3),
                    v(4).view(),
                    m(5),
                    v(6).view(),
                )
                .into_dyn(),
            ),
            RegressionResidual => number(regression::regression_residual(
                v(0).view(),
                n(1),
                m(2),
                v(3).view(),
                n(4),
                v(5).view(),
                n(6),
            )),
            FactorResidual => array(
                linear::factor_residual(
                    v(0).view(),
                    v(1).view(),
                    v(2).view(),
                    v(3).view(),
                    m(4),
                    m(5),
                    n(6),
                    m(7),
                    v(8).view(),
                    m(9),
                )
                .into_dyn(),
            ),
            CovarianceFromScatter => {
                array(gaussian::covariance_from_scatter(m(0), n(1), n(2), v(3).view()).into_dyn())
            }
            VariancesFromScatter => array(
                gaussian::variances_from_scatter(v(0).view(), n(1), n(2), v(3).view()).into_dyn(),
            ),
            VarianceFromScatter => number(gaussian::variance_from_scatter(
                n(0),
                n(1),
                n(2),
                v(3).view(),
            )),
            CovarianceLogPrior => number(gaussian::covariance_log_prior(m(0), n(1), v(2).view())),
            VariancesLogPrior => number(gaussian::variances_log_prior(
                v(0).view(),
                n(1),
                v(2).view(),
            )),
            VarianceLogPrior => number(gaussian::variance_log_prior(n(0), n(1), v(2).view())),
            CovariancePriorShare => number(gaussian::covariance_prior_share(
                m(0),
                n(1),
                n(2),
                v(3).view(),
            )),
            VariancesPriorShare => number(gaussian::variances_prior_share(
                v(0).view(),
                n(1),
                n(2),
                v(3).view(),
            )),
            VariancePriorShare => number(gaussian::variance_prior_share(
                n(0),
                n(1),
                n(2),
                v(3).view(),
            )),
            RateFromStats => number(discrete::rate_from_stats(n(0), n(1))),
            RateModeFromStats => number(discrete::rate_mode_from_stats(n(0), n(1), n(2), n(3))),
            ExponentialRateModeFromStats => number(exponential::exponential_rate_mode_from_stats(
                n(0),
                n(1),
                n(2),
                n(3),
            )),
            ProbsModeFromStats => {
                array(discrete::probs_mode_from_stats(v(0).view(), n(1), n(2), n(3)).into_dyn())
            }
            GammaLogDensity => number(discrete::gamma_log_density(n(0), n(1), n(2))),
            MeanModeFromStats => array(
                gaussian::mean_mode_from_stats(v(0).view(), v(1).view(), n(2), n(3), pc(4))
                    .into_dyn(),
            ),
            ScalarMeanModeFromStats => number(gaussian::scalar_mean_mode_from_stats(
                n(0),
                n(1),
                n(2),
                n(3),
                n(4),
            )),
            CovarianceModeWithMeanPrior => array(
                gaussian::covariance_mode_with_mean_prior(
                    m(0),
                    n(1),
                    n(2),
                    sm(3),
                    means(4),
                    n(5),
                    pc(6),
                )
                .into_dyn(),
            ),
            VariancesModeWithMeanPrior => array(
                gaussian::variances_mode_with_mean_prior(
                    v(0).view(),
                    n(1),
                    n(2),
                    pc(3),
                    means(4),
                    n(5),
                    pc(6),
                )
                .into_dyn(),
            ),
            SphericalVarianceModeWithMeanPrior => {
                number(gaussian::spherical_variance_mode_with_mean_prior(
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    means(4),
                    n(5),
                    pc(6),
                ))
            }
            SphericalMeanPriorLogDensity => number(gaussian::spherical_mean_prior_log_density(
                v(0).view(),
                pc(1),
                n(2),
                n(3),
            )),
            SphericalVariancePosteriorWithMeanPrior => {
                number(vb::spherical_variance_posterior_with_mean_prior(
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    means(4),
                    n(5),
                    pc(6),
                ))
            }
            SphericalMeanKl => number(vb::spherical_mean_kl(v(0).view(), n(1), n(2), pc(3), n(4))),
            VarianceModeWithMeanPrior => number(gaussian::variance_mode_with_mean_prior(
                n(0),
                n(1),
                n(2),
                n(3),
                scalar_means(4),
                n(5),
                n(6),
            )),
            MvnMeanPriorLogDensity => number(gaussian::mvn_mean_prior_log_density(
                v(0).view(),
                pc(1),
                n(2),
                m(3),
            )),
            DiagMeanPriorLogDensity => number(gaussian::diag_mean_prior_log_density(
                v(0).view(),
                pc(1),
                n(2),
                v(3).view(),
            )),
            NormalMeanPriorLogDensity => number(gaussian::normal_mean_prior_log_density(
                n(0),
                n(1),
                n(2),
                n(3),
            )),
            BetaLogDensity => number(discrete::beta_log_density(n(0), n(1), n(2))),
            BetaLogDensities => number(discrete::beta_log_densities(v(0).view(), n(1), n(2))),
            ExponentialRateFromStats => {
                number(exponential::exponential_rate_from_stats(n(0), n(1)))
            }
            BinomialProbFromStats => number(discrete::binomial_prob_from_stats(n(0), n(1))),
            BinomialProbModeFromStats => number(discrete::binomial_prob_mode_from_stats(
                n(0),
                n(1),
                n(2),
                n(3),
            )),
            GeometricProbFromStats => number(discrete::geometric_prob_from_stats(n(0), n(1))),
            GeometricProbModeFromStats => number(discrete::geometric_prob_mode_from_stats(
                n(0),
                n(1),
                n(2),
                n(3),
            )),
            GammaRateFromStats => number(exponential::gamma_rate_from_stats(n(0), n(1), n(2))),
            GammaRateModeFromStats => number(exponential::gamma_rate_mode_from_stats(
                n(0),
                n(1),
                n(2),
                n(3),
                n(4),
            )),
            ProbsFromStats => array(discrete::probs_from_stats(v(0).view(), n(1)).into_dyn()),
            CategoricalExpected => number(discrete::categorical_expected(v(0).view(), v(1).view())),
            UniformExpected => number(discrete::uniform_expected(v(0).view())),
            TransitionsExpected => number(chain::transitions_expected(m(0), m(1))),
            MvtFullExpected => number(robust::mvt_full_expected(
                n(0),
                n(1),
                v(2).view(),
                v(3).view(),
                m(4),
                n(5),
                v(6).view(),
                self.cholesky(env, &a[7]),
                n(8),
            )),
            MvnFullExpected => number(gaussian::mvn_full_expected(
                n(0),
                v(1).view(),
                v(2).view(),
                m(3),
                v(4).view(),
                self.cholesky(env, &a[5]),
            )),
            MvnDiagExpected => number(gaussian::mvn_diag_expected(
                n(0),
                v(1).view(),
                v(2).view(),
                v(3).view(),
                v(4).view(),
                v(5).view(),
            )),
            MvnSphericalExpected => number(gaussian::mvn_spherical_expected(
                n(0),
                v(1).view(),
                v(2).view(),
                v(3).view(),
                v(4).view(),
                n(5),
            )),
            NormalExpected => number(gaussian::normal_expected(
                n(0),
                n(1),
                n(2),
                n(3),
                n(4),
                n(5),
            )),
            PoissonExpected => number(discrete::poisson_expected(n(0), n(1), n(2))),
            ExponentialExpected => number(exponential::exponential_expected(n(0), n(1), n(2))),
            BinomialExpected => number(discrete::binomial_expected(n(0), n(1), n(2))),
            GeometricExpected => number(discrete::geometric_expected(n(0), n(1), n(2))),
            GammaExpected => number(exponential::gamma_expected(n(0), n(1), n(2), n(3), n(4))),
            BernoulliExpected => {
                number(discrete::bernoulli_expected(n(0), v(1).view(), v(2).view()))
            }
            FactorExpected => number(linear::factor_expected(
                n(0),
                v(1).view(),
                v(2).view(),
                v(3).view(),
                v(4).view(),
                m(5),
                m(6),
                m(7),
                v(8).view(),
                v(9).view(),
                n(10),
                m(11),
            )),
            FactorExpectedWithRowCov => number(linear::factor_expected_with_row_cov(
                n(0),
                v(1).view(),
                v(2).view(),
                v(3).view(),
                v(4).view(),
                m(5),
                m(6),
                m(7),
                v(8).view(),
                v(9).view(),
                n(10),
                m(11),
                m(12),
            )),
        }
    }

    /// Variational Bayes: the parameters with each posterior's mean replaced by the effective
    /// value the E-step reads (`None` when no parameter has one).
    fn effective(&self, params: &DynParams) -> Option<DynParams> {
        if self.program.effective.is_empty() {
            return None;
        }
        let mut out = params.clone();
        let mut env = Env {
            params: Some(params),
            ..Env::default()
        };
        for step in &self.program.effective {
            let name = &self.program.params[step.param].name;
            env.k = 0;
            let one = |env: &Env<'_>| {
                let v = self
                    .run(&step.call, env, None, None, None, None)
                    .into_array();
                if step.first_element {
                    DynParams::scalar(v[[0]])
                } else {
                    v
                }
            };
            let value = if step.per_component {
                let mut value = params.get(name).expect("parameter").clone();
                for k in 0..self.k {
                    env.k = k;
                    value.index_axis_mut(Axis(0), k).assign(&one(&env));
                }
                value
            } else {
                one(&env)
            };
            out.insert(name, value);
        }
        Some(out)
    }

    /// Variational Bayes: the blocks' offsets summed per component (`None` under EM).
    fn offsets(&self, params: &DynParams) -> Option<Array1<f64>> {
        if self.program.offsets.is_empty() {
            return None;
        }
        let mut env = Env {
            params: Some(params),
            ..Env::default()
        };
        Some(Array1::from_shape_fn(self.k, |k| {
            env.k = k;
            self.program
                .offsets
                .iter()
                .map(|c| match self.run(c, &env, None, None, None, None) {
                    Value::Number(v) => v,
                    Value::Array(a) => a.sum(),
                })
                .sum()
        }))
    }

    /// The value of one update for the components `ks` (one component, or all of them for
    /// a shared parameter).
    fn update_value(
        &self,
        step: &jensen_lang::program::UpdateStep,
        env: &mut Env<'_>,
        ks: Range<usize>,
    ) -> ArrayD<f64> {
        let value = match &step.value {
            UpdateValue::Fixed => unreachable!("a fixed parameter has no update"),
            UpdateValue::Call(c) => {
                env.k = ks.start;
                self.run(c, env, None, None, None, None).into_array()
            }
            UpdateValue::Pooled { acc, terms, finish } => {
                let shape: Vec<usize> = acc
                    .dims()
                    .into_iter()
                    .map(|d| d.eval(&self.data.sizes))
                    .collect();
                let mut sum = ArrayD::zeros(IxDyn(&shape));
                let mut count = 0.0;
                for k in ks.clone() {
                    env.k = k;
                    let n = env.latent.expect("latent").counts[k];
                    for t in terms {
                        let v = match &t.value {
                            TermValue::Operand(op) => self.array(env, op).to_owned(),
                            TermValue::Call(c) => {
                                self.run(c, env, None, None, None, None).into_array()
                            }
                        };
                        let n = t.count.as_ref().map_or(n, |c| self.number(env, c));
                        if t.sum_elements {
                            *sum.first_mut().expect("a number") += v.sum();
                            count += n * v.len() as f64;
                        } else {
                            sum += &v;
                            count += n;
                        }
                    }
                }
                env.k = ks.start;
                env.pooled = Some((sum, count));
                let value = self.run(finish, env, None, None, None, None).into_array();
                env.pooled = None;
                value
            }
        };
        if step.first_element {
            DynParams::scalar(value[[0]])
        } else {
            value
        }
    }
}

impl MixtureModel for PlanModel<'_> {
    type Params = DynParams;
    type Cache = ExecCache;
    type Stats = ExecStats;

    fn n_rows(&self) -> usize {
        self.data.n_rows
    }

    fn row_weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    fn row_labels(&self) -> Option<&[Option<u32>]> {
        self.data.labels.as_ref().map(|l| l.values.as_slice())
    }

    fn n_components(&self) -> usize {
        self.k
    }

    fn prepare(&self, params: &DynParams) -> Result<ExecCache, NumericalIssue> {
        let effective = self.effective(params);
        let derived = self
            .program
            .derived
            .iter()
            .map(|d| self.derive(d.kind, effective.as_ref().unwrap_or(params)))
            .collect::<Result<_, _>>()?;
        Ok(ExecCache {
            params: params.clone(),
            effective,
            offsets: self.offsets(params),
            derived,
        })
    }

    fn log_joint_writes(&self) -> bool {
        self.program.log_joint_writes()
    }

    fn log_joint(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        mut out: ArrayViewMut2<'_, f64>,
        ws: &mut Workspace,
    ) {
        let mut env = Env {
            cache: Some(cache),
            rows: Some(rows.clone()),
            ..Env::default()
        };
        // (The latent's prior, when there is one, sets the block, `log_joint_writes`: its own
        // call, or the first block's densities.)
        let in_block = self.program.log_prior_in_block;
        if let (Some(prior), false) = (&self.program.log_prior, in_block) {
            self.run(prior, &env, Some(&mut out), None, None, None);
        }
        if let Some(offsets) = &cache.offsets {
            add_log_weights(out.view_mut(), offsets.view());
        }
        for (b, block) in self.program.blocks.iter().enumerate() {
            env.block = block.block;
            env.gaps = self.gaps_within(block, &rows);
            // What the gap kernels add to: the block as it was, or the prior it sets.
            let before = match (env.gaps, in_block && b == 0) {
                (Some(g), true) => {
                    let sets = block.log_densities.as_ref().expect("the call that sets it");
                    Some(g.prior_rows(self.vector(&env, &sets.args[1]).view(), self.k))
                }
                (g, _) => g.map(|g| g.rows_of(out.view())),
            };
            env.before = before;
            self.add_densities(block, &mut env, &mut out, ws);
            // (Skipped, operands and all, in a chunk without a gap. Each component's gap
            // kernel reads and writes its own column only.)
            if let (Some(m), Some(false)) = (&block.missing, env.gaps.map(|g| g.is_empty())) {
                for k in 0..self.k {
                    env.k = k;
                    self.run(&m.log_density, &env, Some(&mut out), None, Some(ws), None);
                }
            }
        }
    }

    fn zero_stats(&self) -> ExecStats {
        let slots = self
            .program
            .stats
            .iter()
            .map(|s| ArrayD::zeros(IxDyn(&self.program.stat_shape(s, &self.data.sizes))))
            .collect();
        ExecStats { slots }
    }

    fn accumulate(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        resp: ArrayView2<'_, f64>,
        stats: &mut ExecStats,
        ws: &mut Workspace,
    ) {
        let mut env = Env {
            cache: Some(cache),
            rows: Some(rows.clone()),
            resp: Some(resp.view()),
            ..Env::default()
        };
        for block in &self.program.blocks {
            env.block = block.block;
            env.gaps = self.gaps_within(block, &rows);
            env.complete = env.gaps.map(|g| g.zero_rows(resp.view()));
            if let Some(all) = &block.accumulate_all {
                self.run(all, &env, None, Some(stats), Some(ws), None);
            }
            for k in 0..self.k {
                env.k = k;
                if block.accumulate_all.is_none() {
                    self.run(&block.accumulate, &env, None, Some(stats), Some(ws), None);
                }
                if let (Some(m), Some(false)) = (&block.missing, env.gaps.map(|g| g.is_empty())) {
                    self.run(&m.accumulate, &env, None, Some(stats), Some(ws), None);
                }
            }
        }
    }

    fn has_gaps(&self) -> bool {
        self.data.items.iter().flatten().any(|i| !i.gaps.is_empty())
    }

    fn hard_step(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        assigned: &mut Assigned<'_>,
        stats: &mut ExecStats,
        ws: &mut Workspace,
    ) -> bool {
        let Some((block, call)) = self
            .program
            .blocks
            .iter()
            .find_map(|b| b.hard_step.as_ref().map(|c| (b.block, c)))
        else {
            return false;
        };
        let env = Env {
            cache: Some(cache),
            rows: Some(rows),
            block,
            ..Env::default()
        };
        let a = &call.args;
        debug_assert_eq!(call.kernel, Kernel::MvnSphericalHardStep);
        debug_assert!(matches!(
            a[4..],
            [
                Operand::Assigned,
                Operand::Stat { .. },
                Operand::Stat { .. },
                Operand::Workspace
            ]
        ));
        let [Some(sum), Some(sq), ..] = written(a, 0, 5, stats) else {
            unreachable!("a sum and squares")
        };
        gaussian::mvn_spherical_hard_step(
            self.matrix(&env, &a[0]),
            self.matrix(&env, &a[1]),
            self.vector(&env, &a[2]).view(),
            self.vector(&env, &a[3]).view(),
            assigned,
            matrix_mut(sum),
            matrix_mut(sq),
            ws,
        )
    }

    fn log_joint_bounded(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        mut out: ArrayViewMut2<'_, f64>,
        mut bound: ArrayViewMut1<'_, f64>,
        ws: &mut Workspace,
    ) -> bool {
        if self.program.blocks.iter().all(|b| b.scores.is_none()) {
            return false;
        }
        let mut env = Env {
            cache: Some(cache),
            rows: Some(rows),
            ..Env::default()
        };
        if let (Some(prior), false) = (&self.program.log_prior, self.program.log_prior_in_block) {
            self.run(prior, &env, Some(&mut out), None, None, None);
        }
        for block in &self.program.blocks {
            env.block = block.block;
            match &block.scores {
                Some(scores) => {
                    self.run(
                        scores,
                        &env,
                        Some(&mut out),
                        None,
                        Some(ws),
                        Some(&mut bound),
                    );
                }
                None => self.add_densities(block, &mut env, &mut out, ws),
            }
        }
        true
    }

    fn accumulate_assigned(
        &self,
        cache: &ExecCache,
        rows: Range<usize>,
        assignments: &[u32],
        stats: &mut ExecStats,
        ws: &mut Workspace,
    ) {
        // One-hot responsibilities only for the blocks without the assigned form.
        let resp = self
            .program
            .blocks
            .iter()
            .any(|b| b.accumulate_assigned.is_none())
            .then(|| one_hot(assignments, self.k));
        let mut env = Env {
            cache: Some(cache),
            rows: Some(rows),
            resp: resp.as_ref().map(|r| r.view()),
            // Only called without gaps (`has_gaps`): every row is complete.
            complete: resp.as_ref().map(|r| r.view().into()),
            assignments: Some(assignments),
            ..Env::default()
        };
        for block in &self.program.blocks {
            env.block = block.block;
            match &block.accumulate_assigned {
                Some(call) => {
                    self.run(call, &env, None, Some(stats), Some(ws), None);
                }
                None => {
                    for k in 0..self.k {
                        env.k = k;
                        self.run(&block.accumulate, &env, None, Some(stats), Some(ws), None);
                    }
                }
            }
        }
    }

    fn e_step_from_summaries(&self, cache: &ExecCache) -> Option<(ExecStats, f64)> {
        let calls = self.program.summary.as_ref().filter(|_| self.summarised)?;
        self.scatters.get_or_init(|| {
            self.plan
                .blocks
                .iter()
                .map(|b| {
                    let x = self.data.item(b.data).values.view();
                    match &self.data.weights {
                        None => moments::scatter_root(x),
                        Some(w) => moments::weighted::scatter_root(x, w.values.view()),
                    }
                })
                .collect()
        });
        let mut stats = self.zero_stats();
        let mut loglik = 0.0;
        let mut env = Env {
            cache: Some(cache),
            ..Env::default()
        };
        for (b, c) in calls.iter().enumerate() {
            env.block = b;
            match self.run(c, &env, None, Some(&mut stats), None, None) {
                Value::Number(v) => loglik += v,
                Value::Array(_) => unreachable!("a log-likelihood"),
            }
        }
        Some((stats, loglik))
    }

    fn merge(&self, into: &mut ExecStats, other: &ExecStats) {
        into.add(other);
    }

    fn m_step(
        &self,
        stats: &ExecStats,
        latent: &LatentStats,
        prev: &DynParams,
        config: &MStepConfig,
    ) -> Result<DynParams, NumericalIssue> {
        let mut next = prev.clone();
        for step in &self.program.m_step {
            // (A fixed parameter keeps its value.)
            if step.value == UpdateValue::Fixed {
                continue;
            }
            let slot = &self.program.params[step.param];
            let value = {
                let mut env = Env {
                    stats: Some(stats),
                    latent: Some(latent),
                    prev: Some(prev),
                    next: Some(&next),
                    reg: config.reg_covar,
                    ..Env::default()
                };
                if step.per_component {
                    let mut value = next.get(&slot.name).expect("parameter").clone();
                    for k in 0..self.k {
                        let new = self.update_value(step, &mut env, k..k + 1);
                        value.index_axis_mut(Axis(0), k).assign(&new);
                    }
                    value
                } else {
                    self.update_value(step, &mut env, 0..self.k)
                }
            };
            next.insert(&slot.name, value);
        }
        Ok(next)
    }

    fn expected_log_joint(
        &self,
        stats: &ExecStats,
        latent: &LatentStats,
        centre: &DynParams,
        params: &DynParams,
    ) -> Result<f64, NumericalIssue> {
        // Variational Bayes: the expectation under the posteriors is the expected
        // log-likelihood at the effective parameters plus each component's offsets.
        let offsets = self.offsets(params);
        let effective = self.effective(params);
        let params = effective.as_ref().unwrap_or(params);
        let mut env = Env {
            stats: Some(stats),
            latent: Some(latent),
            params: Some(params),
            centre: Some(centre),
            ..Env::default()
        };
        let mut total = offsets.map_or(0.0, |o| o.dot(&latent.counts));
        for c in &self.program.expected_prior {
            if let Value::Number(v) = self.run(c, &env, None, None, None, None) {
                total += v;
            }
        }
        for block in &self.program.blocks {
            env.block = block.block;
            env.locals = block
                .expected_locals
                .iter()
                .map(|&(id, src)| {
                    let at = if src == Src::Centre { centre } else { params };
                    Ok((id, src, self.derive(self.program.derived[id].kind, at)?))
                })
                .collect::<Result<_, NumericalIssue>>()?;
            if block.row_terms.is_some() {
                total += self.context.row_terms_total[block.block];
            }
            for k in 0..self.k {
                env.k = k;
                if let Value::Number(v) = self.run(&block.expected, &env, None, None, None, None) {
                    total += v;
                }
            }
            // The entropy of the missing cells, which the statistics hold at their
            // conditional expectations.
            if let Some(m) = &block.missing {
                total += stats.slots[m.entropy].sum();
            }
        }
        Ok(total)
    }

    fn log_prior(&self, params: &DynParams, config: &MStepConfig) -> f64 {
        let mut env = Env {
            params: Some(params),
            reg: config.reg_covar,
            ..Env::default()
        };
        let mut total = 0.0;
        let terms = (self.program.penalties.iter())
            .map(|p| (&p.call, p.per_component))
            .chain(
                self.program
                    .priors
                    .iter()
                    .map(|p| (&p.call, p.per_component)),
            );
        for (call, per_component) in terms {
            let ks = if per_component { self.k } else { 1 };
            for k in 0..ks {
                env.k = k;
                if let Value::Number(v) = self.run(call, &env, None, None, None, None) {
                    total += v;
                }
            }
        }
        // Variational Bayes: the ELBO subtracts every posterior's divergence from its prior.
        for term in &self.program.kl {
            let ks = if term.per_component { self.k } else { 1 };
            for k in 0..ks {
                env.k = k;
                if let Value::Number(v) = self.run(&term.call, &env, None, None, None, None) {
                    total -= v;
                }
            }
        }
        total
    }

    fn floor_hits(
        &self,
        params: &DynParams,
        latent: &LatentStats,
        config: &MStepConfig,
    ) -> Vec<FloorHit> {
        let mut env = Env {
            params: Some(params),
            latent: Some(latent),
            reg: config.reg_covar,
            ..Env::default()
        };
        let mut hits = Vec::new();
        for penalty in &self.program.penalties {
            let ks = if penalty.per_component { self.k } else { 1 };
            for k in 0..ks {
                env.k = k;
                if let Value::Number(share) = self.run(&penalty.share, &env, None, None, None, None)
                {
                    if share > gaussian::FLOOR_SHARE {
                        hits.push(FloorHit {
                            param: self.program.params[penalty.param].name.clone(),
                            component: penalty.per_component.then_some(k),
                            share,
                        });
                    }
                }
            }
        }
        hits
    }

    fn log_density_magnitude(&self) -> f64 {
        self.context.row_terms_total.iter().map(|v| v.abs()).sum()
    }

    fn factors(&self) -> usize {
        self.program.factors(&self.data.sizes)
    }

    fn keeps_empty_components(&self) -> bool {
        self.program.method == Method::Vb
    }

    fn init_in_data_units(&self) -> bool {
        self.program.init_in_data_units
    }

    fn inertia(&self, complete: f64) -> Option<f64> {
        let form = self.program.inertia.as_ref()?;
        let d = form.dims.iter().map(|d| d.eval(&self.data.sizes)).sum();
        Some(inertia(
            complete,
            self.total_weight(),
            self.n_components(),
            d,
            form.scale,
            self.context.missing_cells,
        ))
    }

    fn e_step_mode(&self) -> jensen_runtime::EStepMode {
        match self.program.e_step {
            EStepKind::Soft => jensen_runtime::EStepMode::Soft,
            EStepKind::Hard => jensen_runtime::EStepMode::Hard,
        }
    }

    fn free_parameters(&self) -> usize {
        self.program
            .free_parameters(&self.data.sizes)
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    fn chain_prior<'c>(&self, cache: &'c ExecCache) -> Option<ChainPrior<'c>> {
        let (p0, a) = self.plan.chain()?;
        let find = |kind| self.program.derived.iter().position(|d| d.kind == kind);
        let (i, t) = (
            find(DerivedKind::LogVector(p0))?,
            find(DerivedKind::LogMatrix(a))?,
        );
        match (&cache.derived[i], &cache.derived[t]) {
            (DerivedValue::Vector(p0), DerivedValue::Matrix(a)) => Some(ChainPrior {
                log_initial: p0.view(),
                log_transition: a.view(),
            }),
            _ => None,
        }
    }

    fn neutral_params(&self) -> DynParams {
        let mut p = DynParams::default();
        for slot in &self.program.params {
            let shape = self.program.param_shape(slot, &self.data.sizes);
            let last = shape.last().copied().unwrap_or(1);
            let moments = |b: usize| &self.context.moments[b];
            // One component's value, repeated over the components below.
            let one: ArrayD<f64> = match slot.start {
                Start::Uniform => ArrayD::from_elem(IxDyn(&shape), 1.0 / last as f64),
                Start::Fill(v) => ArrayD::from_elem(IxDyn(&shape), v),
                Start::Zeros => ArrayD::zeros(IxDyn(&shape)),
                Start::Identity => Array2::<f64>::eye(last).into_dyn(),
                Start::ScaledIdentity(c) => (Array2::<f64>::eye(last) * c).into_dyn(),
                // (The whole value, components included.)
                Start::Given => {
                    let value = self.given.get(&slot.name).cloned();
                    p.insert(
                        &slot.name,
                        value.unwrap_or_else(|| ArrayD::from_elem(IxDyn(&shape), f64::NAN)),
                    );
                    continue;
                }
                Start::DataMean(b) if slot.elem == Elem::Scalar => {
                    DynParams::scalar(moments(b).mean[0])
                }
                Start::DataMean(b) => moments(b).mean.clone().into_dyn(),
                Start::DataMeanFloored(b) => {
                    DynParams::scalar(moments(b).mean[0].max(jensen_runtime::kernels::PROB_FLOOR))
                }
                Start::DataVariances(b) => moments(b).var.clone().into_dyn(),
                Start::DataCovariance(b) => moments(b)
                    .cov
                    .clone()
                    .expect("a full covariance's block keeps the data's covariance")
                    .into_dyn(),
                Start::DataVarianceMean(b) => {
                    DynParams::scalar(moments(b).var.mean().unwrap_or(1.0))
                }
                Start::DataMeanInverse(b) => {
                    DynParams::scalar(exponential::inverse_rate(moments(b).mean[0]))
                }
                Start::DataMeanBinomial(b) => DynParams::scalar(discrete::binomial_prob_of_mean(
                    moments(b).mean[0],
                    self.mean_trials(b),
                )),
                Start::DataMeanGeometric(b) => {
                    DynParams::scalar(discrete::geometric_prob_of_mean(moments(b).mean[0]))
                }
                Start::DataMeanGammaRate(b) => DynParams::scalar(exponential::gamma_rate_of_mean(
                    moments(b).mean[0],
                    self.plan.blocks[b]
                        .kind
                        .gamma_shape()
                        .expect("a Gamma block"),
                )),
            };
            let value = if one.shape() == shape.as_slice() {
                one
            } else {
                one.broadcast(IxDyn(&shape))
                    .expect("a component's value repeats over the components")
                    .to_owned()
            };
            p.insert(&slot.name, value);
        }
        p
    }

    fn randomise_neutral(&self, params: &mut DynParams, rng: &mut dyn RngCore) {
        for slot in &self.program.params {
            let Some(b) = slot.random else { continue };
            let scale = self.context.moments[b].var.mapv(f64::sqrt);
            let l = *self
                .program
                .param_shape(slot, &self.data.sizes)
                .last()
                .expect("matrix");
            let value = params.get_mut(&slot.name).expect("loadings");
            if slot.per_component {
                for mut w in value.outer_iter_mut() {
                    w.assign(&linear::random_loadings(rng, scale.view(), l));
                }
            } else {
                value.assign(&linear::random_loadings(rng, scale.view(), l));
            }
        }
    }

    fn init_features_view(&self) -> Option<ArrayView2<'_, f64>> {
        let mut items = self.init_items();
        let x = items.next()?;
        (items.next().is_none() && x.t().is_standard_layout()).then_some(x)
    }

    fn init_features(&self) -> Array2<f64> {
        let items: Vec<ArrayView2<'_, f64>> = self.init_items().collect();
        // Column-major, as the seeding standardises and reads them (in place: no second copy).
        let width: usize = items.iter().map(|x| x.ncols()).sum();
        let mut out = Array2::zeros(ndarray::ShapeBuilder::f((self.data.n_rows, width)));
        let mut at = 0;
        for x in items {
            out.slice_mut(s![.., at..at + x.ncols()]).assign(&x);
            at += x.ncols();
        }
        out
    }

    fn sequences(&self) -> Option<&[Range<usize>]> {
        self.plan
            .latent
            .is_chain()
            .then_some(self.data.sequences.as_slice())
    }

    fn reseed(&self, params: &mut DynParams, k: usize, row: usize) {
        let n = self.total_weight();
        for slot in &self.program.params {
            let x = |b: usize| self.data.item(self.plan.blocks[b].data).values.row(row);
            let new: ArrayD<f64> = match slot.reseed {
                Reseed::Keep => continue,
                Reseed::Weight => {
                    let mut w = param_view::<Ix1>(params, &slot.name).to_owned();
                    reseed_weight_of(&mut w, k, n);
                    params.insert(&slot.name, w.into_dyn());
                    continue;
                }
                Reseed::ChainState(initial) => {
                    let p0_name = &self.program.params[initial].name;
                    let mut p0 = param_view::<Ix1>(params, p0_name).to_owned();
                    let mut a = param_view::<Ix2>(params, &slot.name).to_owned();
                    chain::reseed_state_of(&mut p0, &mut a, k, n);
                    params.insert(p0_name, p0.into_dyn());
                    params.insert(&slot.name, a.into_dyn());
                    continue;
                }
                Reseed::Row(b) if slot.elem == Elem::Scalar => DynParams::scalar(x(b)[0]),
                Reseed::Row(b) => x(b).to_owned().into_dyn(),
                Reseed::RowFloored(b) => {
                    DynParams::scalar(x(b)[0].max(jensen_runtime::kernels::PROB_FLOOR))
                }
                Reseed::RowInverse(b) => DynParams::scalar(exponential::inverse_rate(x(b)[0])),
                Reseed::RowRegression(b)
                    if matches!(self.plan.blocks[b].kind, BlockKind::MvRegression { .. }) =>
                {
                    let (_, intercept, covariates) = self.plan.blocks[b]
                        .kind
                        .regression()
                        .expect("a regression block");
                    let u = self.data.item(covariates).values.row(row);
                    regression::mv_regression_coefficients_at_row(u, x(b), intercept.is_some())
                        .into_dyn()
                }
                Reseed::RowRegression(b) => {
                    let BlockKind::Regression {
                        covariates,
                        intercept,
                        ..
                    } = self.plan.blocks[b].kind
                    else {
                        unreachable!("a regression block")
                    };
                    let u = self.data.item(covariates).values.row(row);
                    let value =
                        regression::regression_coefficients_at_row(u, x(b)[0], intercept.is_some());
                    if slot.elem == Elem::Scalar {
                        DynParams::scalar(value[0])
                    } else {
                        value.into_dyn()
                    }
                }
                Reseed::RowBinomial(b) => DynParams::scalar(discrete::binomial_prob_at_row(
                    x(b)[0],
                    match self.plan.blocks[b].kind.trials() {
                        Some(Trials::Known(t)) => t,
                        Some(Trials::Column(t)) => self.data.item(t).values[[row, 0]],
                        None => unreachable!("a binomial block"),
                    },
                )),
                Reseed::RowGeometric(b) => {
                    DynParams::scalar(discrete::geometric_prob_of_mean(x(b)[0]))
                }
                Reseed::RowGammaRate(b) => DynParams::scalar(exponential::gamma_rate_of_mean(
                    x(b)[0],
                    self.plan.blocks[b]
                        .kind
                        .gamma_shape()
                        .expect("a Gamma block"),
                )),
                Reseed::RowProbability(b) => {
                    let v = x(b).mapv(|bit| 0.25 + 0.5 * bit);
                    if slot.elem == Elem::Scalar {
                        DynParams::scalar(v[0])
                    } else {
                        v.into_dyn()
                    }
                }
                Reseed::RowCategory(b) => {
                    let c = *self
                        .program
                        .param_shape(slot, &self.data.sizes)
                        .last()
                        .expect("simplex");
                    discrete::categorical_probs_at_row(x(b)[0], c).into_dyn()
                }
                Reseed::RowCounts(b) => discrete::multinomial_probs_at_row(x(b)).into_dyn(),
                Reseed::DataCovariance(b) => self.context.moments[b]
                    .cov
                    .clone()
                    .expect("full blocks keep the covariance")
                    .into_dyn(),
                Reseed::DataVariances(b) => self.context.moments[b].var.clone().into_dyn(),
                Reseed::DataVarianceMean(b) => {
                    DynParams::scalar(self.context.moments[b].var.mean().unwrap_or(1.0))
                }
            };
            params
                .get_mut(&slot.name)
                .expect("parameter")
                .index_axis_mut(Axis(0), k)
                .assign(&new);
        }
    }
}
