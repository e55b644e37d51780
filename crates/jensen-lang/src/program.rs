//! The lowered program: the one place where a derived model's meaning is decided.
//!
//! [`Program::lower`] turns a [`Plan`] into explicit steps: the layout of the parameters,
//! statistics and per-iteration caches (with shapes in terms of the index sets), and for
//! every method of an EM model the list of runtime-kernel calls with their operands — which
//! component each operand is read at, which statistics pool into which update, the M-step
//! already in execution order, and the free-parameter count as a size expression.
//!
//! The back-ends never walk [`BlockKind`] or [`Rule`] to decide what to call: the generated
//! Rust *prints* these steps (`jensen-codegen`), the executor *interprets* them (`jensen`'s
//! `PlanModel`, one arm per [`Kernel`]) and `jensen explain` takes its order, pooling and
//! free-parameter formula from them. A family is added by one arm of `lower_block` (and of
//! `update` for its M-step) and its kernels; ARCHITECTURE.md has the recipe.

use serde::Serialize;

use crate::ir::{EStepKind, ElemType, Fixed, Method, SetId, SetSize, Summary, VarId};
use crate::plan::{
    BlockKind, Cov, Hyper, Latent, PRef, Plan, Prior, PriorFamily, Rule, StatKind, Trials,
};

/// The lowered program of a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Program {
    /// The set of the discrete latent's values (`None`: one component).
    pub components: Option<SetId>,
    /// Every parameter, in declaration order.
    pub params: Vec<ParamSlot>,
    /// Every statistic, block by block (each with a leading component axis).
    pub stats: Vec<StatSlot>,
    /// Quantities derived from the parameters once per iteration (the cache).
    pub derived: Vec<Derived>,
    /// The latent's prior in the log-joint, its first term, which sets the block rather than
    /// adding to it (`None` for a chain or a single component, whose prior enters through the
    /// forward–backward recursions or not at all; their blocks start at zero).
    pub log_prior: Option<Call>,
    /// Whether the first block's form for every component (`log_densities`) sets the
    /// latent's prior with its densities (`gaussian::mvn_diag_set_log_joint`): one pass over
    /// the block instead of two, the same bits. `log_prior` is then not called in the
    /// log-joint, and the first block's gap kernels start from the prior.
    pub log_prior_in_block: bool,
    /// The latent's prior terms of the expected complete-data log-likelihood.
    pub expected_prior: Vec<Call>,
    /// The emission blocks, in statement order.
    pub blocks: Vec<BlockProgram>,
    /// The E-step from the data's mean and scatter, when the model allows it (one component,
    /// only linear-Gaussian blocks): one call per block, each returning its log-likelihood.
    pub summary: Option<Vec<Call>>,
    /// The M-step, in execution order.
    pub m_step: Vec<UpdateStep>,
    /// The regularising prior of every variance and covariance (`ln p(θ)`; EM maximises
    /// `ln p(x | θ) + ln p(θ)`), one term per regularised parameter.
    pub penalties: Vec<Penalty>,
    /// The conjugate priors written in the model file (`w ~ Dirichlet(2.0)`): their
    /// log-densities enter `ln p(θ)` beside the regularising priors.
    pub priors: Vec<PriorTerm>,
    /// The E-step a fit uses unless the caller chooses (`estep hard` in the model file).
    pub e_step: EStepKind,
    /// When the complete-data log-likelihood is an affine function of the within-cluster
    /// sum of squares (k-means): every block a multivariate Normal with the same known
    /// covariance `c I`, and equal, fixed weights.
    pub inertia: Option<InertiaForm>,
    /// Whether k-means++ seeding runs on the data as they are, not standardised: a block has
    /// a known covariance `c I`, so the model's distances are in the data's units.
    pub init_in_data_units: bool,
    /// How the parameters are inferred: EM (point estimates) or variational Bayes.
    pub method: Method,
    /// Variational Bayes: the effective parameters the E-step reads in place of a posterior's
    /// mean (`exp E[ln p]` of a simplex, …), computed once per iteration with the cache.
    pub effective: Vec<EffectiveStep>,
    /// Variational Bayes: the offsets `E_q[ln p(x | θ)] − ln p(x | θ̃)` of every block, each
    /// call one number per component; their sum is added to every row's log-joint.
    pub offsets: Vec<Call>,
    /// Variational Bayes: `KL(q(θ) ‖ p(θ))` of every parameter with a prior, subtracted from
    /// the objective (the ELBO).
    pub kl: Vec<PriorTerm>,
    /// The priors' hyperparameters that are summaries of the data (`mean(x)`, `cov(x)`),
    /// computed when the data are bound.
    pub hypers: Vec<HyperSlot>,
}

/// A prior's hyperparameter computed from the data when they are bound (`mean(x)`,
/// `0.5 * cov(x)`): a field of the generated model, a value of the executor's binding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HyperSlot {
    /// Its name, e.g. `Sigma_prior_scale`.
    pub name: String,
    /// The parameter whose prior it is a hyperparameter of.
    pub param: VarId,
    /// `mean`, `var` or `cov`.
    pub summary: Summary,
    /// The data item summarised.
    pub data: VarId,
    /// The number the summary is multiplied by.
    pub factor: f64,
    /// Its shape: a vector (per coordinate), a matrix (`cov`), or a number (the mean of a real
    /// column; the variance of each coordinate averaged, for one variance they share).
    pub elem: Elem,
}

/// The effective value of a parameter in the variational E-step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveStep {
    /// The parameter (index in [`Program::params`]).
    pub param: usize,
    /// Computed per component.
    pub per_component: bool,
    /// How.
    pub call: Call,
    /// The kernel returns a vector of length one for a scalar parameter: take its element.
    pub first_element: bool,
}

/// `Σ_n ‖x_n − μ_{z_n}‖² = −2c (ln p(x, z) + N (Σ_b D_b / 2 · ln 2πc + ln K))` for a model
/// whose blocks all have the known covariance `c I` and whose weights are equal
/// (`jensen_runtime::mixture::inertia` evaluates it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InertiaForm {
    /// The known variance `c`.
    pub scale: f64,
    /// The dimension of every block.
    pub dims: Vec<Dim>,
}

/// The regularising prior of one parameter: `call` at component `k` of a per-component
/// parameter, summed over the components, or once for a shared one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Penalty {
    /// The parameter (index in [`Program::params`]).
    pub param: usize,
    /// Evaluated per component.
    pub per_component: bool,
    /// The log-density, reading the parameter from [`Src::Params`].
    pub call: Call,
    /// The share of the parameter's variance that comes from the prior, in its worst
    /// direction (above `FLOOR_SHARE` the variance sits at the regularisation floor).
    pub share: Call,
}

/// The log-density of a prior written in the model file: `call` at component `k` of a
/// per-component parameter (each row has the prior), summed over the components, or once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorTerm {
    /// The parameter (index in [`Program::params`]).
    pub param: usize,
    /// Evaluated per component.
    pub per_component: bool,
    /// The log-density, reading the parameter from [`Src::Params`].
    pub call: Call,
    /// The statement (index in `model.factors`).
    pub factor: usize,
}

/// A parameter's storage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSlot {
    /// The parameter.
    pub var: VarId,
    /// Its name.
    pub name: String,
    /// Whether it has a leading component axis (`mu[K]`).
    pub per_component: bool,
    /// The shape of one component's value (or of the whole, when shared).
    pub elem: Elem,
    /// The free parameters it contributes.
    pub free: Size,
    /// Its update rule.
    pub rule: Rule,
    /// Its neutral starting value (before a data-driven initialisation refines it).
    pub start: Start,
    /// What happens to a component's slot when the component is empty and re-seeded.
    pub reseed: Reseed,
    /// The block whose data scale random starting loadings are drawn at (loadings only).
    pub random: Option<usize>,
    /// The check a user-supplied starting value must pass beyond its declared type.
    pub nonzero_columns: bool,
    /// Variational Bayes: this slot is the *strength* of the posterior of parameter
    /// `posterior_of` (index in [`Program::params`]), whose own slot holds its mean (see
    /// `jensen_runtime::kernels::vb`).
    pub posterior_of: Option<usize>,
    /// Held at a known value: not estimated (its M-step keeps it), not counted in BIC/AIC.
    pub fixed: Option<Fixed>,
}

/// A parameter's neutral starting value, repeated over its components.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Start {
    /// `1/n` in every entry, `n` the length of the last axis (a simplex; the rows of a
    /// transition matrix).
    Uniform,
    /// The same number everywhere.
    Fill(f64),
    /// The identity matrix.
    Identity,
    /// The identity matrix times a number (a covariance fixed at `c I`).
    ScaledIdentity(f64),
    /// A value the caller binds (a parameter fixed at fit time, `--fix`).
    Given,
    /// Zeros (loadings, which are then drawn at random).
    Zeros,
    /// The column means of a block's data (a scalar parameter takes the first).
    DataMean(usize),
    /// The mean of a block's data, floored at the probability floor (a rate).
    DataMeanFloored(usize),
    /// The column variances of a block's data.
    DataVariances(usize),
    /// The covariance of a block's data.
    DataCovariance(usize),
    /// The mean of the column variances of a block's data.
    DataVarianceMean(usize),
    /// The inverse of the mean of a block's data (an exponential rate).
    DataMeanInverse(usize),
    /// The known shape of a Gamma block over the mean of its data (its rate).
    DataMeanGammaRate(usize),
    /// `1 / (1 + mean)` of a block's counts (a geometric success probability).
    DataMeanGeometric(usize),
    /// The mean of a binomial block's counts over its trials (its success probability).
    DataMeanBinomial(usize),
}

/// How an empty component's slot of a parameter is re-seeded at a data row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reseed {
    /// Left as it is (shared parameters, loadings, a chain's initial distribution).
    Keep,
    /// The mixing weights give the component one row's share.
    Weight,
    /// A chain's state `k` is made reachable (with the initial distribution, slot given).
    ChainState(usize),
    /// The row's values (a mean or an offset; a scalar takes the first).
    Row(usize),
    /// The row's value floored at the probability floor (a rate).
    RowFloored(usize),
    /// `0.25 + 0.5·x` of the row's bits.
    RowProbability(usize),
    /// Half the mass on the row's category, the rest spread evenly.
    RowCategory(usize),
    /// Half uniform, half the row's proportions of its counts (multinomial probabilities).
    RowCounts(usize),
    /// The data's covariance.
    DataCovariance(usize),
    /// The data's column variances.
    DataVariances(usize),
    /// The mean of the data's column variances.
    DataVarianceMean(usize),
    /// The inverse of the row's value (an exponential rate).
    RowInverse(usize),
    /// The known shape of a Gamma block over the row's value (its rate).
    RowGammaRate(usize),
    /// `1 / (1 + x)` of the row's count (a geometric success probability).
    RowGeometric(usize),
    /// `0.25 + 0.5 x / T` of the row's count (a binomial success probability).
    RowBinomial(usize),
    /// A regression's coefficients through the row: zero with an intercept (which takes the
    /// row's response), else the line through the origin and the row.
    RowRegression(usize),
}

/// The shape of a value: a scalar, a vector or a matrix, with sizes from the index sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Elem {
    /// A number.
    Scalar,
    /// A vector of this length.
    Vector(Dim),
    /// A matrix of these rows and columns.
    Matrix(Dim, Dim),
}

impl Elem {
    /// Number of axes.
    pub fn ndim(self) -> usize {
        match self {
            Elem::Scalar => 0,
            Elem::Vector(_) => 1,
            Elem::Matrix(..) => 2,
        }
    }

    /// The dimensions.
    pub fn dims(self) -> Vec<Dim> {
        match self {
            Elem::Scalar => Vec::new(),
            Elem::Vector(d) => vec![d],
            Elem::Matrix(r, c) => vec![r, c],
        }
    }
}

/// One dimension: the size of an index set, or a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dim {
    /// The size of a set.
    Set(SetId),
    /// A fixed size.
    Lit(usize),
    /// The size of a set plus a fixed number (a regression's design: its covariates and the
    /// intercept).
    SetPlus(SetId, usize),
}

impl Dim {
    /// The size, given the resolved set sizes.
    pub fn eval(self, sizes: &[usize]) -> usize {
        match self {
            Dim::Set(s) => sizes[s],
            Dim::Lit(n) => n,
            Dim::SetPlus(s, n) => sizes[s] + n,
        }
    }
}

/// A size expression over the index sets (free-parameter counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Size {
    /// A dimension.
    Dim(Dim),
    /// A product.
    Mul(Box<Size>, Box<Size>),
    /// A sum.
    Add(Box<Size>, Box<Size>),
    /// A difference, floored at zero.
    Sub(Box<Size>, Box<Size>),
    /// Integer division by a constant.
    Div(Box<Size>, usize),
    /// The smaller of two.
    Min(Box<Size>, Box<Size>),
}

impl Size {
    fn lit(n: usize) -> Size {
        Size::Dim(Dim::Lit(n))
    }
    fn dim(d: Dim) -> Size {
        Size::Dim(d)
    }
    fn mul(a: Size, b: Size) -> Size {
        match (&a, &b) {
            (Size::Dim(Dim::Lit(1)), _) => b,
            (_, Size::Dim(Dim::Lit(1))) => a,
            _ => Size::Mul(Box::new(a), Box::new(b)),
        }
    }
    fn add(a: Size, b: Size) -> Size {
        Size::Add(Box::new(a), Box::new(b))
    }
    fn sub(a: Size, b: Size) -> Size {
        Size::Sub(Box::new(a), Box::new(b))
    }
    fn div(a: Size, n: usize) -> Size {
        Size::Div(Box::new(a), n)
    }
    fn min(a: Size, b: Size) -> Size {
        Size::Min(Box::new(a), Box::new(b))
    }

    /// The value, given the resolved set sizes.
    pub fn eval(&self, sizes: &[usize]) -> usize {
        match self {
            Size::Dim(d) => d.eval(sizes),
            Size::Mul(a, b) => a.eval(sizes) * b.eval(sizes),
            Size::Add(a, b) => a.eval(sizes) + b.eval(sizes),
            Size::Sub(a, b) => a.eval(sizes).saturating_sub(b.eval(sizes)),
            Size::Div(a, n) => a.eval(sizes) / n,
            Size::Min(a, b) => a.eval(sizes).min(b.eval(sizes)),
        }
    }
}

/// A statistic's storage: `K ×` its element shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatSlot {
    /// The block it belongs to.
    pub block: usize,
    /// What it sums.
    pub kind: StatKind,
    /// Its field name (`{block prefix}_{suffix}`).
    pub name: String,
    /// The shape of one component's value.
    pub elem: Elem,
}

/// A quantity derived from the parameters, once per iteration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// Its field name in the cache.
    pub name: String,
    /// How it is computed.
    pub kind: DerivedKind,
}

/// How a derived quantity is computed from the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum DerivedKind {
    /// `ln` of a vector (mixing weights, a chain's initial distribution).
    LogVector(VarId),
    /// `ln` of a matrix (a chain's transition matrix).
    LogMatrix(VarId),
    /// `ln` of categorical probabilities as a `K × C` matrix (rows repeated when shared).
    LogRows(PRef),
    /// Cholesky factors of a full covariance: one per component, or one if tied.
    Cholesky(PRef),
    /// Posteriors of the continuous latent under a linear-Gaussian block, one per component.
    Posteriors {
        /// The loadings.
        loading: PRef,
        /// The noise.
        noise: Cov,
        /// Variational Bayes: the slot (index in [`Program::params`]) of the loadings'
        /// posterior row covariance `V` (`Cov[w_d | ψ_d] = ψ_d V`), which adds `D V` to the
        /// latent's prior precision.
        row_cov: Option<usize>,
    },
}

/// The steps of one emission block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockProgram {
    /// The block (index in [`Plan::blocks`]).
    pub block: usize,
    /// The statement, as written.
    pub statement: String,
    /// The observed data item.
    pub data: VarId,
    /// How the data's rows are read.
    pub form: DataForm,
    /// Terms of each row's log-density that depend on the data alone, added to the expected
    /// log-joint with their sign ([`RowTerms::sign`]: `−Σ_n ln x_n!` of a Poisson block, the
    /// Jacobian `−Σ_n ln x_n` of a log-normal one, `+Σ_n ln C(T_n, x_n)` of a binomial one),
    /// kept per row by the model (a missing cell has none).
    pub row_terms: Option<RowTerms>,
    /// Added to the log-joint for every component `k`.
    pub log_density: Call,
    /// Accumulates the statistics for every component `k`.
    pub accumulate: Call,
    /// `log_density` of every component in one call, when the block has such a form: the
    /// same values bit for bit, with each piece of the rows read once from memory for all
    /// the components (the diagonal Gaussian's). The back-ends call it in place of the loop
    /// over `log_density`.
    pub log_densities: Option<Call>,
    /// `accumulate` of every component in one call, as `log_densities` is for `log_density`
    /// (the same sums, added in the same order).
    pub accumulate_all: Option<Call>,
    /// The hard E-step's scores, when the block has a faster form of its log-density for
    /// them: every component at once, within a round-off bound of `log_density`'s values.
    pub scores: Option<Call>,
    /// The hard E-step in one pass over unweighted rows (each row's component, its value and
    /// its statistics; see `MixtureModel::hard_step`), from the scores' parameters and the
    /// latent's prior: when the block is the model's only one and the prior is the same for
    /// every row (a mixture's weights, or equal weights).
    pub hard_step: Option<Call>,
    /// The statistics of a hard assignment, every component at once, when the block has a
    /// form faster than `accumulate` with one-hot responsibilities.
    pub accumulate_assigned: Option<Call>,
    /// Derived quantities the expected log-joint needs, computed from the new parameters
    /// or the E-step's (`centre`).
    pub expected_locals: Vec<(usize, Src)>,
    /// The expected complete-data log-density for every component `k`.
    pub expected: Call,
    /// The kernels of the rows with a missing cell (`None`: the block refuses gaps).
    pub missing: Option<MissingProgram>,
    /// Why the block refuses missing cells, said after its statement (when `missing` is
    /// `None`): the binder's and the generated code's error.
    pub gaps_refused: Option<String>,
}

/// Per-row terms of a block's log-density that depend on the data alone
/// ([`BlockProgram::row_terms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RowTerms {
    /// `ln x!` of a count (Poisson).
    LogFactorial,
    /// `ln x` of a positive value modelled on the log scale (`LogNormal`: the Jacobian).
    LogValue,
    /// `ln (n! / Π_v x_v!)` of a vector of counts (the multinomial coefficient).
    LogCoefficient,
    /// `ln C(T, x)` of a count of successes in `T` trials (the binomial coefficient).
    LogChoose,
}

impl RowTerms {
    /// The suffix of the per-row array in generated code (`{block}_{suffix}`).
    pub fn suffix(self) -> &'static str {
        match self {
            RowTerms::LogFactorial => "log_factorial",
            RowTerms::LogValue => "log_value",
            RowTerms::LogCoefficient => "log_coefficient",
            RowTerms::LogChoose => "log_choose",
        }
    }

    /// How the terms enter the log-density: subtracted (`−ln x!`, `−ln x`) or added.
    pub fn sign(self) -> f64 {
        match self {
            RowTerms::LogFactorial | RowTerms::LogValue => -1.0,
            RowTerms::LogCoefficient | RowTerms::LogChoose => 1.0,
        }
    }
}

/// How a block treats the rows of its chunk with a missing cell (`jensen_runtime::gaps`):
/// `log_density` and `accumulate` run after the block's ordinary kernels, for every
/// component `k`. The ordinary `accumulate` reads [`Operand::CompleteResp`], zero at those rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingProgram {
    /// Replaces the ordinary log-density of each row with a gap by that of its observed
    /// cells, added to [`Operand::Before`].
    pub log_density: Call,
    /// Adds each such row's statistics, its missing cells at their conditional
    /// expectations, and the entropy of those cells to the statistic `entropy`.
    pub accumulate: Call,
    /// The statistic (index in [`Program::stats`]) that holds `Σ_n r_nk H_nk`; the expected
    /// log-joint adds it for every component.
    pub entropy: usize,
}

/// How a data item's rows are read by a block's kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DataForm {
    /// A `rows × D` matrix.
    Matrix,
    /// One column.
    Column,
    /// One column, as a `rows × 1` matrix.
    ColumnAsMatrix,
}

/// Where parameter values are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Src {
    /// The parameters the cache was prepared from (E-step).
    Cache,
    /// The parameters before the M-step (the centres of the statistics).
    Prev,
    /// The values the M-step has produced so far (earlier updates in its order).
    Next,
    /// The parameters whose expected log-joint is evaluated.
    Params,
    /// The E-step's parameters, about which the statistics are centred.
    Centre,
}

/// Which component of a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum At {
    /// Component `k` of the current loop.
    K,
    /// Component `0` (one component).
    Zero,
    /// The whole value (shared by every component).
    Whole,
}

/// A kernel call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// The runtime kernel.
    pub kernel: Kernel,
    /// Its arguments, in order.
    pub args: Vec<Operand>,
}

/// An argument of a kernel call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
    /// The block's rows in the current chunk, in the block's [`DataForm`].
    Rows,
    /// The per-row terms ([`BlockProgram::row_terms`]) of the block's rows in the current
    /// chunk.
    RowTerms,
    /// The rows of another data item in the current chunk, one column (a binomial's trials).
    Column(VarId),
    /// The rows of another data item in the current chunk as a matrix, one column per
    /// coordinate (a regression's covariates; a `real` item is one column).
    Covariates(VarId),
    /// The log-joint column of component `k` (written).
    Out,
    /// The whole log-joint (written).
    OutAll,
    /// The round-off bound of each row's scores (written).
    Bound,
    /// Each row's component under the hard E-step's one pass, its value, and the rows the
    /// pass left to the caller (written).
    Assigned,
    /// The log-weight of every component under equal weights, `−ln K`, as a vector of
    /// length one.
    LogUniform,
    /// The hard E-step's component of each row in the current chunk.
    Assignments,
    /// A number passed as a vector of length one (a variance shared by every component).
    AsVector(Box<Operand>),
    /// The responsibilities of component `k`.
    Resp,
    /// The responsibilities of component `k` with the rows that have a missing cell of the
    /// block's data set to zero.
    CompleteResp,
    /// The responsibilities of every component (the chunk's rows × `K`).
    RespAll,
    /// [`Operand::CompleteResp`] of every component.
    CompleteRespAll,
    /// The rows of the current chunk with a missing cell of the block's data.
    Gaps,
    /// What the log-joint column of component `k` held, at the rows with a gap, before the
    /// block's ordinary kernel.
    Before,
    /// Scratch space.
    Workspace,
    /// A parameter.
    Param {
        /// Which values.
        src: Src,
        /// The parameter.
        var: VarId,
        /// Which component.
        at: At,
        /// Its element shape.
        elem: Elem,
        /// A scalar passed as a vector of length one.
        as_vector: bool,
    },
    /// A spherical noise variance expanded to a diagonal as long as the vector operand.
    Isotropic(Box<Operand>, Box<Operand>),
    /// A parameter slot by index (a variational posterior's strength, which has no variable
    /// of its own).
    Slot {
        /// Which parameters.
        src: Src,
        /// The slot (index in [`Program::params`]).
        slot: usize,
        /// Which component.
        at: At,
    },
    /// A statistic (index in [`Program::stats`]).
    Stat {
        /// The slot.
        slot: usize,
        /// Which component.
        at: At,
        /// Written.
        mutable: bool,
    },
    /// A derived quantity (index in [`Program::derived`]), from the cache or computed at a
    /// source.
    Derived {
        /// The quantity.
        id: usize,
        /// Where it was computed from.
        src: Src,
        /// Which component.
        at: At,
    },
    /// `ln |precision|` of a derived posterior.
    LogDetPrecision(Box<Operand>),
    /// The expected count of component `k` (or `0`).
    Count(At),
    /// The number of rows, as a number.
    RowCount,
    /// A known value written in the model file (`2.5` of `2.5 * I`).
    Number(f64),
    /// A prior's hyperparameter computed from the data (index in [`Program::hypers`]).
    Hyper(usize),
    /// The column means of the block's data.
    DataMean,
    /// A square root (`D × D`, rows `p_j` with `Σ p_j p_jᵀ` the scatter about the means) of
    /// the scatter of the block's data.
    DataScatterRoot,
    /// The strength `ε` of the regularising prior (`reg_covar`).
    Reg,
    /// The scale (`jensen_runtime::kernels::moments::column_scales`) of each column of a block's
    /// data: the regularising prior of a variance is `ε` times these.
    DataScale(usize),
    /// The latent's expected counts per component (all of them).
    LatentCounts,
    /// A chain's expected initial-state counts.
    LatentInitial,
    /// A chain's expected transition counts.
    LatentTransitions,
    /// The pooled statistic of an update.
    Pooled,
    /// The pooled count of an update.
    PooledCount,
}

/// The runtime kernels a program calls. The generated code prints [`Kernel::path`]; the
/// executor has one arm per variant.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kernel {
    SetLogWeights,
    SetLogUniform,
    MvnFullAddLogDensity,
    MvnDiagAddLogDensity,
    MvnDiagAddLogDensities,
    MvnDiagSetLogJoint,
    MvnSphericalAddLogDensity,
    MvnSphericalAddLogDensities,
    MvnSphericalHardStep,
    NormalAddLogDensity,
    LogNormalAddLogDensity,
    PoissonAddLogDensity,
    BernoulliAddLogDensity,
    ExponentialAddLogDensity,
    BinomialAddLogDensity,
    BinomialRowsAddLogDensity,
    BinomialAccumulate,
    BinomialRowsAccumulate,
    BinomialProbFromStats,
    BinomialProbModeFromStats,
    BinomialExpected,
    BinomialPosteriorMean,
    BinomialOffset,
    MissingBinomialAccumulate,
    MissingBinomialRowsAccumulate,
    MissingRegressionAccumulate,
    MvtFullAddLogDensity,
    MvtFullAccumulate,
    MvtFullExpected,
    RegressionAddLogDensity,
    RegressionAccumulate,
    RegressionExpected,
    RegressionCoefficientsFromStats,
    RegressionCoefficientsGivenIntercept,
    RegressionInterceptFromStats,
    RegressionResidual,
    MvRegressionFullAddLogDensity,
    MvRegressionDiagAddLogDensity,
    MvRegressionFullAccumulate,
    MvRegressionDiagAccumulate,
    MvRegressionFullExpected,
    MvRegressionDiagExpected,
    MvRegressionCoefficientsFromStats,
    MvRegressionCoefficientsGivenIntercept,
    MvRegressionInterceptFromStats,
    MvRegressionResidualScatter,
    MvRegressionResidualSumsq,
    MissingMvRegressionFullLogDensity,
    MissingMvRegressionFullAccumulate,
    MissingMvRegressionDiagLogDensity,
    MissingMvRegressionDiagAccumulate,
    GeometricAddLogDensity,
    GeometricProbFromStats,
    GeometricProbModeFromStats,
    GeometricExpected,
    GeometricPosteriorMean,
    GeometricPseudoCount,
    GeometricEffective,
    GeometricOffset,
    MissingGeometricAccumulate,
    GammaAddLogDensity,
    GammaAccumulate,
    GammaRateFromStats,
    GammaRateModeFromStats,
    GammaExpected,
    GammaRatePosterior,
    GammaPseudoCount,
    GammaShapeLogOffset,
    MissingGammaAccumulate,
    CategoricalAddLogDensity,
    MultinomialAddLogDensity,
    MultinomialAccumulate,
    FactorAddLogDensity,
    AccumulateScatter,
    AccumulateDiag,
    AccumulateDiagAll,
    AccumulateDiagAssigned,
    AccumulateScalar,
    AccumulateWeightedSum,
    AccumulateWeightedRows,
    AccumulateCategoryCounts,
    AccumulateFactor,
    FactorSummaryStatistics,
    SimplexFromCounts,
    SimplexModeFromCounts,
    TransitionsFromCounts,
    TransitionsModeFromCounts,
    DirichletLogDensity,
    MeanFromStats,
    ScalarMeanFromStats,
    LoadingsFromStats,
    LoadingsModeFromStats,
    LoadingsRowCov,
    LoadingsOffset,
    LoadingsKl,
    NoiseVariancesPosteriorWithLoadingPrior,
    NoiseVariancePosteriorWithLoadingPrior,
    FactorExpectedWithRowCov,
    NoiseVariancesModeWithLoadingPrior,
    NoiseVarianceModeWithLoadingPrior,
    LoadingsPriorLogDensity,
    FactorMeanFromStats,
    ScatterAbout,
    DiagScatterAbout,
    ScalarScatterAbout,
    FactorResidual,
    CovarianceFromScatter,
    VariancesFromScatter,
    VarianceFromScatter,
    CovarianceModeFromScatter,
    VariancesModeFromScatter,
    VarianceModeFromScatter,
    InvGammaLogDensity,
    InvGammaLogDensities,
    InvWishartLogDensity,
    RateModeFromStats,
    ExponentialRateModeFromStats,
    ProbsModeFromStats,
    GammaLogDensity,
    BetaLogDensity,
    BetaLogDensities,
    MeanModeFromStats,
    ScalarMeanModeFromStats,
    CovarianceModeWithMeanPrior,
    VariancesModeWithMeanPrior,
    VarianceModeWithMeanPrior,
    MvnMeanPriorLogDensity,
    DiagMeanPriorLogDensity,
    NormalMeanPriorLogDensity,
    RateFromStats,
    ExponentialRateFromStats,
    ProbsFromStats,
    CategoricalExpected,
    UniformExpected,
    TransitionsExpected,
    MvnFullExpected,
    MvnDiagExpected,
    MvnSphericalExpected,
    NormalExpected,
    PoissonExpected,
    BernoulliExpected,
    ExponentialExpected,
    FactorExpected,
    CovarianceLogPrior,
    VariancesLogPrior,
    VarianceLogPrior,
    CovariancePriorShare,
    VariancesPriorShare,
    VariancePriorShare,
    PseudoCount,
    InvGammaShape,
    DirichletPosteriorMean,
    DirichletPosteriorTotal,
    TransitionsPosteriorMean,
    TransitionsPosteriorTotal,
    DirichletGeometricMean,
    DirichletKl,
    PoissonRatePosterior,
    ExponentialRatePosterior,
    GammaGeometricMean,
    PoissonRateOffset,
    GammaLogOffset,
    GammaKl,
    BetaPosteriorMean,
    BetaEffective,
    BetaOffset,
    BetaKl,
    CovariancePosterior,
    CovariancePosteriorWithMeanPrior,
    VariancesPosterior,
    VariancePosterior,
    VariancesPosteriorWithMeanPrior,
    VariancePosteriorWithMeanPrior,
    WishartOffset,
    InvGammaOffset,
    InvGammaScalarOffset,
    MeanOffset,
    ScalarMeanOffset,
    InvWishartKl,
    InvGammaKl,
    InvGammasKl,
    MvnMeanKl,
    DiagMeanKl,
    NormalMeanKl,
    SphericalVarianceModeWithMeanPrior,
    SphericalMeanPriorLogDensity,
    SphericalVariancePosteriorWithMeanPrior,
    SphericalMeanKl,
    MissingMvnFullLogDensity,
    MissingMvnFullAccumulate,
    MissingMvnDiagLogDensity,
    MissingMvnDiagAccumulate,
    MissingMvnSphericalLogDensity,
    MissingMvnSphericalAccumulate,
    MissingColumnLogDensity,
    MissingNormalAccumulate,
    MissingPoissonAccumulate,
    MissingExponentialAccumulate,
    MissingCategoricalAccumulate,
    MissingBernoulliLogDensity,
    MissingBernoulliAccumulate,
    MissingFactorLogDensity,
    MissingFactorAccumulate,
}

impl Kernel {
    /// The kernel's path in `jensen_runtime`.
    pub fn path(self) -> &'static str {
        use Kernel::*;
        match self {
            SetLogWeights => "set_log_weights",
            SetLogUniform => "set_log_uniform",
            MvnFullAddLogDensity => "gaussian::mvn_full_add_log_density",
            MvnDiagAddLogDensity => "gaussian::mvn_diag_add_log_density",
            MvnDiagAddLogDensities => "gaussian::mvn_diag_add_log_densities",
            MvnDiagSetLogJoint => "gaussian::mvn_diag_set_log_joint",
            MvnSphericalAddLogDensity => "gaussian::mvn_spherical_add_log_density",
            MvnSphericalAddLogDensities => "gaussian::mvn_spherical_add_log_densities",
            MvnSphericalHardStep => "gaussian::mvn_spherical_hard_step",
            NormalAddLogDensity => "gaussian::normal_add_log_density",
            LogNormalAddLogDensity => "gaussian::lognormal_add_log_density",
            PoissonAddLogDensity => "discrete::poisson_add_log_density",
            BernoulliAddLogDensity => "discrete::bernoulli_add_log_density",
            ExponentialAddLogDensity => "exponential::exponential_add_log_density",
            BinomialAddLogDensity => "discrete::binomial_add_log_density",
            BinomialRowsAddLogDensity => "discrete::binomial_rows_add_log_density",
            BinomialAccumulate => "discrete::binomial_accumulate",
            BinomialRowsAccumulate => "discrete::binomial_rows_accumulate",
            BinomialProbFromStats => "discrete::binomial_prob_from_stats",
            BinomialProbModeFromStats => "discrete::binomial_prob_mode_from_stats",
            BinomialExpected => "discrete::binomial_expected",
            BinomialPosteriorMean => "vb::binomial_posterior_mean",
            BinomialOffset => "vb::binomial_offset",
            MissingBinomialAccumulate => "missing::binomial_accumulate",
            MissingBinomialRowsAccumulate => "missing::binomial_rows_accumulate",
            MissingRegressionAccumulate => "missing::regression_accumulate",
            MvtFullAddLogDensity => "robust::mvt_full_add_log_density",
            MvtFullAccumulate => "robust::mvt_full_accumulate",
            MvtFullExpected => "robust::mvt_full_expected",
            RegressionAddLogDensity => "regression::regression_add_log_density",
            RegressionAccumulate => "regression::regression_accumulate",
            RegressionExpected => "regression::regression_expected",
            RegressionCoefficientsFromStats => "regression::regression_coefficients_from_stats",
            RegressionCoefficientsGivenIntercept => {
                "regression::regression_coefficients_given_intercept"
            }
            RegressionInterceptFromStats => "regression::regression_intercept_from_stats",
            RegressionResidual => "regression::regression_residual",
            MvRegressionFullAddLogDensity => "regression::mv_regression_full_add_log_density",
            MvRegressionDiagAddLogDensity => "regression::mv_regression_diag_add_log_density",
            MvRegressionFullAccumulate => "regression::mv_regression_full_accumulate",
            MvRegressionDiagAccumulate => "regression::mv_regression_diag_accumulate",
            MvRegressionFullExpected => "regression::mv_regression_full_expected",
            MvRegressionDiagExpected => "regression::mv_regression_diag_expected",
            MvRegressionCoefficientsFromStats => {
                "regression::mv_regression_coefficients_from_stats"
            }
            MvRegressionCoefficientsGivenIntercept => {
                "regression::mv_regression_coefficients_given_intercept"
            }
            MvRegressionInterceptFromStats => "regression::mv_regression_intercept_from_stats",
            MvRegressionResidualScatter => "regression::mv_regression_residual_scatter",
            MvRegressionResidualSumsq => "regression::mv_regression_residual_sumsq",
            MissingMvRegressionFullLogDensity => "missing::mv_regression_full_log_density",
            MissingMvRegressionFullAccumulate => "missing::mv_regression_full_accumulate",
            MissingMvRegressionDiagLogDensity => "missing::mv_regression_diag_log_density",
            MissingMvRegressionDiagAccumulate => "missing::mv_regression_diag_accumulate",
            GeometricAddLogDensity => "discrete::geometric_add_log_density",
            GeometricProbFromStats => "discrete::geometric_prob_from_stats",
            GeometricProbModeFromStats => "discrete::geometric_prob_mode_from_stats",
            GeometricExpected => "discrete::geometric_expected",
            GeometricPosteriorMean => "vb::geometric_posterior_mean",
            GeometricPseudoCount => "vb::geometric_pseudo_count",
            GeometricEffective => "vb::geometric_effective",
            GeometricOffset => "vb::geometric_offset",
            MissingGeometricAccumulate => "missing::geometric_accumulate",
            GammaAddLogDensity => "exponential::gamma_add_log_density",
            GammaAccumulate => "exponential::gamma_accumulate",
            GammaRateFromStats => "exponential::gamma_rate_from_stats",
            GammaRateModeFromStats => "exponential::gamma_rate_mode_from_stats",
            GammaExpected => "exponential::gamma_expected",
            GammaRatePosterior => "vb::gamma_rate_posterior",
            GammaPseudoCount => "vb::gamma_pseudo_count",
            GammaShapeLogOffset => "vb::gamma_shape_log_offset",
            MissingGammaAccumulate => "missing::gamma_accumulate",
            CategoricalAddLogDensity => "discrete::categorical_add_log_density",
            MultinomialAddLogDensity => "discrete::multinomial_add_log_density",
            MultinomialAccumulate => "discrete::multinomial_accumulate",
            FactorAddLogDensity => "linear::factor_add_log_density",
            AccumulateScatter => "gaussian::accumulate_scatter",
            AccumulateDiag => "gaussian::accumulate_diag",
            AccumulateDiagAll => "gaussian::accumulate_diag_all",
            AccumulateDiagAssigned => "gaussian::accumulate_diag_assigned",
            AccumulateScalar => "gaussian::accumulate_scalar",
            AccumulateWeightedSum => "discrete::accumulate_weighted_sum",
            AccumulateWeightedRows => "discrete::accumulate_weighted_rows",
            AccumulateCategoryCounts => "discrete::accumulate_category_counts",
            AccumulateFactor => "linear::accumulate_factor",
            FactorSummaryStatistics => "linear::factor_summary_statistics",
            SimplexFromCounts => "discrete::simplex_from_counts",
            SimplexModeFromCounts => "discrete::simplex_mode_from_counts",
            TransitionsFromCounts => "chain::transitions_from_counts",
            TransitionsModeFromCounts => "chain::transitions_mode_from_counts",
            DirichletLogDensity => "discrete::dirichlet_log_density",
            MeanFromStats => "gaussian::mean_from_stats",
            ScalarMeanFromStats => "gaussian::scalar_mean_from_stats",
            LoadingsFromStats => "linear::loadings_from_stats",
            LoadingsModeFromStats => "linear::loadings_mode_from_stats",
            LoadingsRowCov => "linear::loadings_row_cov",
            LoadingsOffset => "linear::loadings_offset",
            LoadingsKl => "linear::loadings_kl",
            NoiseVariancesPosteriorWithLoadingPrior => {
                "linear::noise_variances_posterior_with_loading_prior"
            }
            NoiseVariancePosteriorWithLoadingPrior => {
                "linear::noise_variance_posterior_with_loading_prior"
            }
            FactorExpectedWithRowCov => "linear::factor_expected_with_row_cov",
            NoiseVariancesModeWithLoadingPrior => "linear::noise_variances_mode_with_loading_prior",
            NoiseVarianceModeWithLoadingPrior => "linear::noise_variance_mode_with_loading_prior",
            LoadingsPriorLogDensity => "linear::loadings_prior_log_density",
            FactorMeanFromStats => "linear::factor_mean_from_stats",
            ScatterAbout => "gaussian::scatter_about",
            DiagScatterAbout => "gaussian::diag_scatter_about",
            ScalarScatterAbout => "gaussian::scalar_scatter_about",
            FactorResidual => "linear::factor_residual",
            CovarianceFromScatter => "gaussian::covariance_from_scatter",
            VariancesFromScatter => "gaussian::variances_from_scatter",
            VarianceFromScatter => "gaussian::variance_from_scatter",
            CovarianceModeFromScatter => "gaussian::covariance_mode_from_scatter",
            VariancesModeFromScatter => "gaussian::variances_mode_from_scatter",
            VarianceModeFromScatter => "gaussian::variance_mode_from_scatter",
            InvGammaLogDensity => "gaussian::inv_gamma_log_density",
            InvGammaLogDensities => "gaussian::inv_gamma_log_densities",
            InvWishartLogDensity => "gaussian::inv_wishart_log_density",
            RateModeFromStats => "discrete::rate_mode_from_stats",
            ExponentialRateModeFromStats => "exponential::exponential_rate_mode_from_stats",
            ProbsModeFromStats => "discrete::probs_mode_from_stats",
            GammaLogDensity => "discrete::gamma_log_density",
            BetaLogDensity => "discrete::beta_log_density",
            BetaLogDensities => "discrete::beta_log_densities",
            MeanModeFromStats => "gaussian::mean_mode_from_stats",
            ScalarMeanModeFromStats => "gaussian::scalar_mean_mode_from_stats",
            CovarianceModeWithMeanPrior => "gaussian::covariance_mode_with_mean_prior",
            VariancesModeWithMeanPrior => "gaussian::variances_mode_with_mean_prior",
            VarianceModeWithMeanPrior => "gaussian::variance_mode_with_mean_prior",
            MvnMeanPriorLogDensity => "gaussian::mvn_mean_prior_log_density",
            DiagMeanPriorLogDensity => "gaussian::diag_mean_prior_log_density",
            NormalMeanPriorLogDensity => "gaussian::normal_mean_prior_log_density",
            RateFromStats => "discrete::rate_from_stats",
            ExponentialRateFromStats => "exponential::exponential_rate_from_stats",
            ProbsFromStats => "discrete::probs_from_stats",
            CategoricalExpected => "discrete::categorical_expected",
            UniformExpected => "discrete::uniform_expected",
            TransitionsExpected => "chain::transitions_expected",
            MvnFullExpected => "gaussian::mvn_full_expected",
            MvnDiagExpected => "gaussian::mvn_diag_expected",
            MvnSphericalExpected => "gaussian::mvn_spherical_expected",
            NormalExpected => "gaussian::normal_expected",
            PoissonExpected => "discrete::poisson_expected",
            BernoulliExpected => "discrete::bernoulli_expected",
            ExponentialExpected => "exponential::exponential_expected",
            FactorExpected => "linear::factor_expected",
            CovarianceLogPrior => "gaussian::covariance_log_prior",
            VariancesLogPrior => "gaussian::variances_log_prior",
            VarianceLogPrior => "gaussian::variance_log_prior",
            CovariancePriorShare => "gaussian::covariance_prior_share",
            VariancesPriorShare => "gaussian::variances_prior_share",
            VariancePriorShare => "gaussian::variance_prior_share",
            PseudoCount => "vb::pseudo_count",
            InvGammaShape => "vb::inv_gamma_shape",
            DirichletPosteriorMean => "vb::dirichlet_posterior_mean",
            DirichletPosteriorTotal => "vb::dirichlet_posterior_total",
            TransitionsPosteriorMean => "vb::transitions_posterior_mean",
            TransitionsPosteriorTotal => "vb::transitions_posterior_total",
            DirichletGeometricMean => "vb::dirichlet_geometric_mean",
            DirichletKl => "vb::dirichlet_kl",
            PoissonRatePosterior => "vb::poisson_rate_posterior",
            ExponentialRatePosterior => "vb::exponential_rate_posterior",
            GammaGeometricMean => "vb::gamma_geometric_mean",
            PoissonRateOffset => "vb::poisson_rate_offset",
            GammaLogOffset => "vb::gamma_log_offset",
            GammaKl => "vb::gamma_kl",
            BetaPosteriorMean => "vb::beta_posterior_mean",
            BetaEffective => "vb::beta_effective",
            BetaOffset => "vb::beta_offset",
            BetaKl => "vb::beta_kl",
            CovariancePosterior => "vb::covariance_posterior",
            CovariancePosteriorWithMeanPrior => "vb::covariance_posterior_with_mean_prior",
            VariancesPosterior => "vb::variances_posterior",
            VariancePosterior => "vb::variance_posterior",
            VariancesPosteriorWithMeanPrior => "vb::variances_posterior_with_mean_prior",
            VariancePosteriorWithMeanPrior => "vb::variance_posterior_with_mean_prior",
            WishartOffset => "vb::wishart_offset",
            InvGammaOffset => "vb::inv_gamma_offset",
            InvGammaScalarOffset => "vb::inv_gamma_scalar_offset",
            MeanOffset => "vb::mean_offset",
            ScalarMeanOffset => "vb::scalar_mean_offset",
            InvWishartKl => "vb::inv_wishart_kl",
            InvGammaKl => "vb::inv_gamma_kl",
            InvGammasKl => "vb::inv_gammas_kl",
            MvnMeanKl => "vb::mvn_mean_kl",
            DiagMeanKl => "vb::diag_mean_kl",
            NormalMeanKl => "vb::normal_mean_kl",
            SphericalVarianceModeWithMeanPrior => {
                "gaussian::spherical_variance_mode_with_mean_prior"
            }
            SphericalMeanPriorLogDensity => "gaussian::spherical_mean_prior_log_density",
            SphericalVariancePosteriorWithMeanPrior => {
                "vb::spherical_variance_posterior_with_mean_prior"
            }
            SphericalMeanKl => "vb::spherical_mean_kl",
            MissingMvnFullLogDensity => "missing::mvn_full_log_density",
            MissingMvnFullAccumulate => "missing::mvn_full_accumulate",
            MissingMvnDiagLogDensity => "missing::mvn_diag_log_density",
            MissingMvnDiagAccumulate => "missing::mvn_diag_accumulate",
            MissingMvnSphericalLogDensity => "missing::mvn_spherical_log_density",
            MissingMvnSphericalAccumulate => "missing::mvn_spherical_accumulate",
            MissingColumnLogDensity => "missing::column_log_density",
            MissingNormalAccumulate => "missing::normal_accumulate",
            MissingPoissonAccumulate => "missing::poisson_accumulate",
            MissingExponentialAccumulate => "missing::exponential_accumulate",
            MissingCategoricalAccumulate => "missing::categorical_accumulate",
            MissingBernoulliLogDensity => "missing::bernoulli_log_density",
            MissingBernoulliAccumulate => "missing::bernoulli_accumulate",
            MissingFactorLogDensity => "missing::factor_log_density",
            MissingFactorAccumulate => "missing::factor_accumulate",
        }
    }
}

/// The M-step of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateStep {
    /// The parameter (index in [`Program::params`]).
    pub param: usize,
    /// The formula (for the math text).
    pub rule: Rule,
    /// The blocks whose statistics are pooled (indices into [`Plan::blocks`]).
    pub sources: Vec<usize>,
    /// Each component's slot is updated from that component's statistics; otherwise the
    /// parameter is shared and pools every component.
    pub per_component: bool,
    /// How the value is computed.
    pub value: UpdateValue,
    /// The kernel returns a vector of length one for a scalar parameter: take its element.
    pub first_element: bool,
}

/// How an update's value is computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum UpdateValue {
    /// One kernel call (at component `k` for a per-component parameter).
    Call(Call),
    /// None: the parameter is fixed at a known value, which the M-step keeps.
    Fixed,
    /// Terms summed over the pooled blocks (and every component of a shared parameter),
    /// then `finish` over [`Operand::Pooled`] and [`Operand::PooledCount`].
    Pooled {
        /// The pooled statistic's shape.
        acc: Elem,
        /// The terms, each evaluated at component `k`.
        terms: Vec<Term>,
        /// The closing call.
        finish: Call,
    },
}

/// One pooled term: a value and the count it adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    /// An operand (a statistic) or a kernel call.
    pub value: TermValue,
    /// The term is a vector whose elements are summed into a scalar, and counts as many
    /// rows as it has elements.
    pub sum_elements: bool,
    /// What the term adds to [`Operand::PooledCount`] in place of the component's expected
    /// count (a binomial block's expected trials `Σ_n r_nk T_n`).
    pub count: Option<Operand>,
}

/// A pooled term's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TermValue {
    /// A statistic.
    Operand(Operand),
    /// A kernel's result.
    Call(Call),
}

/// Shorthands for building operands.
fn param(src: Src, var: VarId, at: At, elem: Elem) -> Operand {
    Operand::Param {
        src,
        var,
        at,
        elem,
        as_vector: false,
    }
}

/// The forms of a block's `log_density` and `accumulate` that take every component at once
/// ([`BlockProgram::log_densities`], [`BlockProgram::accumulate_all`]): the density of a
/// diagonal Gaussian whose mean and variances are both per component, and the sums and
/// squares about a per-component mean (a diagonal Gaussian's, whatever its variances, and
/// the spherical and known-covariance ones').
fn whole_forms(log_density: &Call, accumulate: &Call) -> (Option<Call>, Option<Call>) {
    // A per-component parameter as the whole `K × …` value.
    let param = |op: &Operand| match op {
        Operand::Param {
            src,
            var,
            at: At::K,
            elem,
            as_vector: false,
        } => Some(Operand::Param {
            src: *src,
            var: *var,
            at: At::Whole,
            elem: *elem,
            as_vector: false,
        }),
        _ => None,
    };
    // A per-component statistic written, as the whole `K × …` value.
    let stat = |op: &Operand| match op {
        Operand::Stat {
            slot,
            at: At::K,
            mutable: true,
        } => Some(Operand::Stat {
            slot: *slot,
            at: At::Whole,
            mutable: true,
        }),
        _ => None,
    };
    let densities = match (log_density.kernel, &log_density.args[..]) {
        (Kernel::MvnDiagAddLogDensity, [Operand::Rows, mean, var, Operand::Out]) => {
            param(mean).zip(param(var)).map(|(mean, var)| {
                call(
                    Kernel::MvnDiagAddLogDensities,
                    vec![
                        Operand::Rows,
                        mean,
                        var,
                        Operand::OutAll,
                        Operand::Workspace,
                    ],
                )
            })
        }
        _ => None,
    };
    let all = match (accumulate.kernel, &accumulate.args[..]) {
        (Kernel::AccumulateDiag, [Operand::Rows, centre, resp, sum, sq]) => {
            let resp = match resp {
                Operand::Resp => Some(Operand::RespAll),
                Operand::CompleteResp => Some(Operand::CompleteRespAll),
                _ => None,
            };
            match (param(centre), resp, stat(sum), stat(sq)) {
                (Some(centre), Some(resp), Some(sum), Some(sq)) => Some(call(
                    Kernel::AccumulateDiagAll,
                    vec![Operand::Rows, centre, resp, sum, sq],
                )),
                _ => None,
            }
        }
        _ => None,
    };
    (densities, all)
}

fn call(kernel: Kernel, args: Vec<Operand>) -> Call {
    Call { kernel, args }
}

/// A binomial block's trials as an operand, and whether they are a column (its kernels then
/// read one number of trials per row).
fn trials_operand(trials: Trials) -> (Operand, bool) {
    match trials {
        Trials::Known(t) => (Operand::Number(t), false),
        Trials::Column(var) => (Operand::Column(var), true),
    }
}

impl Program {
    /// Whether the log-joint writes every entry of its block (`MixtureModel::log_joint_writes`):
    /// when it has the latent's prior, its first term, which sets the block; a chain's or a
    /// single component's log-joint adds to zeros. Both back-ends ask this.
    pub fn log_joint_writes(&self) -> bool {
        self.log_prior.is_some()
    }

    /// Lowers a plan.
    pub fn lower(plan: &Plan) -> Program {
        Lowering::new(plan).run()
    }

    /// The free parameters of every parameter, as `(name, count)`, given the set sizes.
    pub fn free_parameters(&self, sizes: &[usize]) -> Vec<(String, usize)> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.free.eval(sizes)))
            .collect()
    }

    /// The statistics of block `b` (indices into [`Program::stats`]).
    pub fn block_stats(&self, b: usize) -> impl Iterator<Item = usize> + '_ {
        self.stats
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.block == b)
            .map(|(i, _)| i)
    }

    /// The slot of a parameter.
    pub fn param(&self, var: VarId) -> &ParamSlot {
        self.params
            .iter()
            .find(|p| p.var == var)
            .expect("every parameter has a slot")
    }

    /// The full shape of a parameter (with its component axis), given the set sizes.
    pub fn param_shape(&self, slot: &ParamSlot, sizes: &[usize]) -> Vec<usize> {
        let mut shape = Vec::new();
        if slot.per_component {
            shape.push(self.k(sizes));
        }
        shape.extend(slot.elem.dims().into_iter().map(|d| d.eval(sizes)));
        shape
    }

    /// The full shape of a statistic, given the set sizes.
    pub fn stat_shape(&self, slot: &StatSlot, sizes: &[usize]) -> Vec<usize> {
        let mut shape = vec![self.k(sizes)];
        shape.extend(slot.elem.dims().into_iter().map(|d| d.eval(sizes)));
        shape
    }

    /// The largest number of factors of a linear-Gaussian block (the columns of its
    /// loadings), given the set sizes; 0 without one.
    pub fn factors(&self, sizes: &[usize]) -> usize {
        self.loadings_factors()
            .map(|d| d.eval(sizes))
            .max()
            .unwrap_or(0)
    }

    /// The factor dimension of every loadings parameter.
    pub fn loadings_factors(&self) -> impl Iterator<Item = Dim> + '_ {
        self.params.iter().filter_map(|p| match (p.rule, p.elem) {
            (Rule::Loadings, Elem::Matrix(_, l)) => Some(l),
            _ => None,
        })
    }

    /// The number of components, given the set sizes.
    pub fn k(&self, sizes: &[usize]) -> usize {
        self.components.map_or(1, |c| sizes[c])
    }
}

struct Lowering<'a> {
    plan: &'a Plan,
    program: Program,
}

impl<'a> Lowering<'a> {
    fn new(plan: &'a Plan) -> Self {
        Self {
            plan,
            program: Program {
                components: plan.components(),
                params: Vec::new(),
                stats: Vec::new(),
                derived: Vec::new(),
                log_prior: None,
                log_prior_in_block: false,
                expected_prior: Vec::new(),
                blocks: Vec::new(),
                summary: None,
                m_step: Vec::new(),
                penalties: Vec::new(),
                priors: Vec::new(),
                e_step: plan.model.e_step,
                method: plan.model.method,
                effective: Vec::new(),
                offsets: Vec::new(),
                kl: Vec::new(),
                hypers: Vec::new(),
                inertia: None,
                init_in_data_units: plan.blocks.iter().any(|b| {
                    matches!(
                        b.kind,
                        BlockKind::MvNormal {
                            cov: Cov::Fixed(_),
                            ..
                        }
                    )
                }),
            },
        }
    }

    fn dim(&self, s: SetId) -> Dim {
        match self.plan.set_size(s) {
            SetSize::Literal(n) => Dim::Lit(n),
            _ => Dim::Set(s),
        }
    }

    /// The width of regression block `b`'s design: its covariates, plus one for the
    /// intercept.
    fn design_dim(&self, b: usize) -> Dim {
        let (_, intercept, covariates) = self.plan.blocks[b]
            .kind
            .regression()
            .expect("a regression block");
        let extra = usize::from(intercept.is_some());
        match self.elem(covariates) {
            Elem::Vector(Dim::Set(s)) if extra > 0 => Dim::SetPlus(s, extra),
            Elem::Vector(Dim::Lit(n)) => Dim::Lit(n + extra),
            Elem::Vector(d) => d,
            _ => Dim::Lit(1 + extra),
        }
    }

    /// A regression's coefficients as a vector (one `real` coefficient as a vector of one;
    /// a matrix for a vector response) and its intercept (`0` without one, a vector of one
    /// for a vector response), from `src`.
    fn regression_params(&self, b: usize, src: Src) -> (Operand, Operand) {
        let kind = &self.plan.blocks[b].kind;
        let (coef, intercept, _) = kind.regression().expect("a regression block");
        let multivariate = matches!(kind, BlockKind::MvRegression { .. });
        // (The coefficients are per component, by derivation.)
        let c = match intercept {
            Some(c) => self.p(src, c),
            None if multivariate => Operand::AsVector(Box::new(Operand::Number(0.0))),
            None => Operand::Number(0.0),
        };
        (self.as_vector(src, coef.param), c)
    }

    /// A regression block's three statistics (design scatter, design cross, and the squared
    /// residuals: their scatter for a vector response with a full covariance).
    fn regression_stats(&self, b: usize, mutable: bool) -> [Operand; 3] {
        let residual = if self.plan.blocks[b].kind.full_scatter() {
            StatKind::Scatter
        } else {
            StatKind::SumSq
        };
        [
            self.stat(b, StatKind::DesignScatter, mutable),
            self.stat(b, StatKind::DesignCross, mutable),
            self.stat(b, residual, mutable),
        ]
    }

    /// The shape of one component of a variable.
    fn elem(&self, v: VarId) -> Elem {
        match self.plan.model.vars[v].ty {
            ElemType::Vector(d)
            | ElemType::PositiveVec(d)
            | ElemType::ProbVec(d)
            | ElemType::Simplex(d)
            | ElemType::BinaryVec(d)
            | ElemType::CountVec(d) => Elem::Vector(self.dim(d)),
            ElemType::Cov(d) => Elem::Matrix(self.dim(d), self.dim(d)),
            ElemType::Matrix(r, c) => Elem::Matrix(self.dim(r), self.dim(c)),
            _ => Elem::Scalar,
        }
    }

    /// Which component of a parameter a block reads: `k` when it is selected by the latent,
    /// the whole value when shared.
    fn at(&self, p: PRef) -> At {
        if p.per_component {
            At::K
        } else {
            At::Whole
        }
    }

    /// The storage of parameter `var`.
    fn slot(&self, var: VarId) -> &ParamSlot {
        self.program
            .params
            .iter()
            .find(|p| p.var == var)
            .expect("every parameter has a slot")
    }

    /// Parameter `var` read from `src`: component `k` of a per-component one, else whole.
    fn param_of(&self, src: Src, var: VarId) -> Operand {
        let slot = self.slot(var);
        let at = if slot.per_component { At::K } else { At::Whole };
        param(src, var, at, slot.elem)
    }

    fn p(&self, src: Src, p: PRef) -> Operand {
        param(src, p.param, self.at(p), self.elem(p.param))
    }

    /// Component `k` of a statistic, or `0` without a discrete latent.
    fn stat_at(&self) -> At {
        if self.plan.components().is_some() {
            At::K
        } else {
            At::Zero
        }
    }

    fn run(mut self) -> Program {
        self.layout();
        self.hyper_layout();
        if self.program.method == Method::Vb {
            self.posterior_layout();
        }
        self.latent_prior();
        for b in 0..self.plan.blocks.len() {
            let block = self.lower_block(b);
            self.program.blocks.push(block);
        }
        self.hard_step();
        self.prior_in_block();
        // (Variational Bayes adds each row's offsets to its log-density: it passes over the rows.)
        if self.plan.summarised() && self.program.method != Method::Vb {
            let summary = (0..self.plan.blocks.len())
                .map(|b| self.summary_call(b))
                .collect();
            self.program.summary = Some(summary);
        }
        self.m_step();
        if self.program.method == Method::Vb {
            self.variational();
        }
        self.program.inertia = self.inertia_form();
        self.program
    }

    /// The known shape of the Gamma blocks whose rate `u` updates (one shape: the derivation
    /// refuses a rate shared by Gamma statements of different shapes).
    fn gamma_shape(&self, u: &crate::plan::Update) -> f64 {
        self.plan.blocks[u.sources[0]]
            .kind
            .gamma_shape()
            .expect("a Gamma rate is updated from Gamma blocks")
    }

    /// The latent prior's log-weights (or equal weights), the same for every row, as an
    /// operand for a call that takes them in place of the prior's own call; `None` under
    /// variational Bayes (whose offsets follow the prior in the log-joint) or without one.
    fn same_prior_for_every_row(&self) -> Option<Operand> {
        if self.program.method == Method::Vb {
            return None;
        }
        match &self.program.log_prior {
            Some(c) if c.kernel == Kernel::SetLogUniform => Some(Operand::LogUniform),
            Some(c) if c.kernel == Kernel::SetLogWeights => Some(c.args[1].clone()),
            _ => None,
        }
    }

    /// The latent's prior set by the first block's densities, when that block's form for
    /// every component is the diagonal Gaussian's and the log-joint has nothing between the
    /// two: not under variational Bayes (its offsets follow the prior), and not where the
    /// first block has scores for the hard E-step (whose log-joint reads them instead).
    fn prior_in_block(&mut self) {
        let Some(prior) = self.same_prior_for_every_row() else {
            return;
        };
        let Some(first) = self.program.blocks.first_mut() else {
            return;
        };
        let Some(densities) = first.log_densities.as_mut() else {
            return;
        };
        if first.scores.is_some() || densities.kernel != Kernel::MvnDiagAddLogDensities {
            return;
        }
        let [rows, mean, var, out, ws] = &densities.args[..] else {
            unreachable!("the diagonal densities' operands")
        };
        *densities = call(
            Kernel::MvnDiagSetLogJoint,
            vec![
                rows.clone(),
                prior,
                mean.clone(),
                var.clone(),
                out.clone(),
                ws.clone(),
            ],
        );
        self.program.log_prior_in_block = true;
    }

    /// The one-pass hard E-step of a model with one block that has scores, and a latent prior
    /// that is the same for every row: the scores' parameters, the prior's log-weights (or
    /// equal weights), and the statistics the assigned form writes.
    fn hard_step(&mut self) {
        // (Variational Bayes has no hard E-step.)
        let Some(prior) = self.same_prior_for_every_row() else {
            return;
        };
        let [block] = &mut self.program.blocks[..] else {
            return;
        };
        let (Some(scores), Some(assigned)) = (&block.scores, &block.accumulate_assigned) else {
            return;
        };
        debug_assert_eq!(scores.kernel, Kernel::MvnSphericalAddLogDensities);
        debug_assert_eq!(assigned.kernel, Kernel::AccumulateDiagAssigned);
        // The scores' rows, means and variances; the assigned form's sums and squares.
        let [rows, means, var, ..] = &scores.args[..] else {
            unreachable!("the scores' operands")
        };
        let [.., sum, sq] = &assigned.args[..] else {
            unreachable!("the assigned statistics")
        };
        let args = vec![
            rows.clone(),
            means.clone(),
            var.clone(),
            prior,
            Operand::Assigned,
            sum.clone(),
            sq.clone(),
            Operand::Workspace,
        ];
        block.hard_step = Some(call(Kernel::MvnSphericalHardStep, args));
    }

    fn inertia_form(&self) -> Option<InertiaForm> {
        if !matches!(self.plan.latent, Latent::Categorical { weights: None, .. }) {
            return None;
        }
        let mut scale = None;
        let mut dims = Vec::new();
        for block in &self.plan.blocks {
            let BlockKind::MvNormal {
                cov: Cov::Fixed(c), ..
            } = block.kind
            else {
                return None;
            };
            if scale.is_some_and(|s| s != c) {
                return None;
            }
            scale = Some(c);
            match self.elem(block.data) {
                Elem::Vector(d) => dims.push(d),
                _ => return None,
            }
        }
        Some(InertiaForm {
            scale: scale?,
            dims,
        })
    }

    fn layout(&mut self) {
        for u in &self.plan.updates {
            let var = &self.plan.model.vars[u.param];
            let per_component = var.plates.len() == 1;
            let (start, reseed) = match var.fixed {
                None => self.start(u, per_component),
                // A known value: every entry, or `c I` for a covariance; kept when re-seeding.
                Some(Fixed::Number(c)) if matches!(var.ty, ElemType::Cov(_)) => {
                    (Start::ScaledIdentity(c), Reseed::Keep)
                }
                Some(Fixed::Number(c)) => (Start::Fill(c), Reseed::Keep),
                Some(Fixed::Given) => (Start::Given, Reseed::Keep),
            };
            let slot = ParamSlot {
                fixed: var.fixed,
                var: u.param,
                name: var.name.clone(),
                per_component,
                elem: self.elem(u.param),
                free: if var.fixed.is_some() {
                    Size::lit(0)
                } else {
                    self.free(u)
                },
                rule: u.rule,
                start,
                reseed,
                random: (u.rule == Rule::Loadings).then(|| u.sources[0]),
                nonzero_columns: u.rule == Rule::Loadings,
                posterior_of: None,
            };
            self.program.params.push(slot);
        }
        for (b, block) in self.plan.blocks.iter().enumerate() {
            let data = block.data;
            let d = match self.elem(data) {
                Elem::Vector(d) => d,
                _ => Dim::Lit(1),
            };
            let l = self.plan.continuous.map(|c| self.dim(c.dim));
            let vector_data = matches!(self.elem(data), Elem::Vector(_));
            for &kind in block.kind.stats() {
                let elem = match kind {
                    StatKind::Scatter => Elem::Matrix(d, d),
                    StatKind::LatentSum => Elem::Vector(l.expect("a continuous latent")),
                    StatKind::Cross => Elem::Matrix(l.expect("a continuous latent"), d),
                    StatKind::LatentScatter => {
                        let l = l.expect("a continuous latent");
                        Elem::Matrix(l, l)
                    }
                    StatKind::Counts => {
                        let (BlockKind::Categorical { probs } | BlockKind::Multinomial { probs }) =
                            block.kind
                        else {
                            unreachable!("counts are categorical")
                        };
                        self.elem(probs.param)
                    }
                    // One number of trials per row; one scale per row.
                    StatKind::Trials | StatKind::ScaleWeight | StatKind::ScaleConstant => {
                        Elem::Scalar
                    }
                    StatKind::DesignScatter => {
                        let w = self.design_dim(b);
                        Elem::Matrix(w, w)
                    }
                    StatKind::DesignCross if vector_data => Elem::Matrix(self.design_dim(b), d),
                    StatKind::DesignCross => Elem::Vector(self.design_dim(b)),
                    // Bernoulli bits are always a vector, one entry per bit.
                    _ if vector_data || matches!(block.kind, BlockKind::Bernoulli { .. }) => {
                        Elem::Vector(d)
                    }
                    _ => Elem::Scalar,
                };
                self.program.stats.push(StatSlot {
                    block: b,
                    kind,
                    name: format!("{}_{}", self.plan.block_prefix(b), kind.suffix()),
                    elem,
                });
            }
            if self.takes_gaps(b) {
                let kind = StatKind::GapEntropy;
                self.program.stats.push(StatSlot {
                    block: b,
                    kind,
                    name: format!("{}_{}", self.plan.block_prefix(b), kind.suffix()),
                    elem: Elem::Scalar,
                });
            }
        }
    }

    /// Whether block `b` integrates out missing cells: every block under EM but a
    /// multinomial, which conditions on each row's total. (The variational offsets of a row
    /// with a gap have no kernels yet: binding data with a gap to a variational model is
    /// refused; [`Self::gaps_refused`] says why to the user.)
    fn takes_gaps(&self, b: usize) -> bool {
        self.program.method != Method::Vb
            && !matches!(
                self.plan.blocks[b].kind,
                BlockKind::Multinomial { .. } | BlockKind::StudentT { .. }
            )
    }

    /// Why block `b` refuses missing cells, after its statement (`None`: it takes them).
    fn gaps_refused(&self, b: usize) -> Option<String> {
        if self.takes_gaps(b) {
            return None;
        }
        Some(match self.plan.blocks[b].kind {
            BlockKind::Multinomial { .. } => "a missing count leaves its row's total unknown, which the multinomial conditions on (an absent word is a count of 0)".into(),
            BlockKind::StudentT { .. } => "the Student-t's marginal of the observed coordinates and the scale's posterior given them are not derived yet".into(),
            _ => "variational Bayes does not integrate out missing cells yet (fit by EM, without `method vb`, to integrate them out)".into(),
        })
    }

    /// A parameter's neutral start and its re-seeding.
    fn start(&self, u: &crate::plan::Update, per_component: bool) -> (Start, Reseed) {
        let b = u.sources.first().copied();
        let src = || b.expect("a parameter of a block");
        let start = match u.rule {
            Rule::Weights | Rule::InitialProbs | Rule::Transitions | Rule::Probabilities => {
                Start::Uniform
            }
            Rule::Loadings | Rule::RegressionCoefficients => Start::Zeros,
            Rule::Mean | Rule::FactorMean | Rule::RegressionIntercept => Start::DataMean(src()),
            // The scales start at the data's: the statistics of a row with a missing cell,
            // taken under the starting parameters, are then in the data's units.
            Rule::Covariance => Start::DataCovariance(src()),
            Rule::DiagonalVariances => Start::DataVariances(src()),
            Rule::Variance => Start::DataVarianceMean(src()),
            Rule::Rate => Start::DataMeanFloored(src()),
            Rule::ExponentialRate => Start::DataMeanInverse(src()),
            Rule::GammaRate => Start::DataMeanGammaRate(src()),
            Rule::GeometricProb => Start::DataMeanGeometric(src()),
            Rule::BinomialProb => Start::DataMeanBinomial(src()),
            Rule::Probability => Start::Fill(0.5),
        };
        let reseed = match u.rule {
            Rule::Weights => Reseed::Weight,
            Rule::Transitions => {
                let (p0, _) = self.plan.chain().expect("a chain");
                let slot = self
                    .plan
                    .updates
                    .iter()
                    .position(|o| o.param == p0)
                    .expect("the initial distribution has a slot");
                Reseed::ChainState(slot)
            }
            // An empty component keeps its loadings; its offset moves to the row, and a
            // regression's line goes through it.
            Rule::InitialProbs | Rule::Loadings => Reseed::Keep,
            _ if !per_component => Reseed::Keep,
            Rule::RegressionCoefficients => Reseed::RowRegression(src()),
            Rule::Mean | Rule::FactorMean | Rule::RegressionIntercept => Reseed::Row(src()),
            Rule::Covariance => Reseed::DataCovariance(src()),
            Rule::DiagonalVariances => Reseed::DataVariances(src()),
            Rule::Variance => Reseed::DataVarianceMean(src()),
            Rule::Rate => Reseed::RowFloored(src()),
            Rule::ExponentialRate => Reseed::RowInverse(src()),
            Rule::GammaRate => Reseed::RowGammaRate(src()),
            Rule::GeometricProb => Reseed::RowGeometric(src()),
            Rule::BinomialProb => Reseed::RowBinomial(src()),
            Rule::Probability => Reseed::RowProbability(src()),
            Rule::Probabilities => match self.plan.blocks[src()].kind {
                BlockKind::Multinomial { .. } => Reseed::RowCounts(src()),
                _ => Reseed::RowCategory(src()),
            },
        };
        (start, reseed)
    }

    /// Free parameters of a parameter.
    fn free(&self, u: &crate::plan::Update) -> Size {
        let v = &self.plan.model.vars[u.param];
        let copies = v.plates.iter().fold(Size::lit(1), |acc, &p| {
            Size::mul(acc, Size::dim(self.dim(p)))
        });
        let each = match v.ty {
            ElemType::Simplex(k) => Size::sub(Size::dim(self.dim(k)), Size::lit(1)),
            ElemType::Vector(d) | ElemType::PositiveVec(d) | ElemType::ProbVec(d) => {
                Size::dim(self.dim(d))
            }
            ElemType::Cov(d) => {
                let d = Size::dim(self.dim(d));
                Size::div(Size::mul(d.clone(), Size::add(d, Size::lit(1))), 2)
            }
            // Loadings are identified up to a rotation of the latent space, which removes
            // L(L−1)/2 of their entries; with the noise they never describe more than a full
            // covariance, D(D+1)/2 (when (D−L)² < D+L the model is not identified and the
            // count is capped there).
            ElemType::Matrix(r, c) if u.rule == Rule::Loadings => {
                let (d, l) = (Size::dim(self.dim(r)), Size::dim(self.dim(c)));
                let noise = match self.plan.blocks[u.sources[0]].kind {
                    BlockKind::LinearGaussian {
                        noise: Cov::Spherical(_),
                        ..
                    } => Size::lit(1),
                    _ => d.clone(),
                };
                let rotation =
                    Size::div(Size::mul(l.clone(), Size::sub(l.clone(), Size::lit(1))), 2);
                let full = Size::div(Size::mul(d.clone(), Size::add(d.clone(), Size::lit(1))), 2);
                Size::min(Size::sub(Size::mul(d, l), rotation), Size::sub(full, noise))
            }
            ElemType::Matrix(r, c) => Size::mul(Size::dim(self.dim(r)), Size::dim(self.dim(c))),
            _ => Size::lit(1),
        };
        Size::mul(copies, each)
    }

    fn derive(&mut self, name: String, kind: DerivedKind) -> usize {
        if let Some(i) = self.program.derived.iter().position(|d| d.kind == kind) {
            return i;
        }
        self.program.derived.push(Derived { name, kind });
        self.program.derived.len() - 1
    }

    fn latent_prior(&mut self) {
        match self.plan.latent {
            Latent::Categorical { weights: None, .. } => {
                // Equal, fixed weights: `−ln K` for every component.
                self.program.log_prior = Some(call(Kernel::SetLogUniform, vec![Operand::OutAll]));
                self.program.expected_prior =
                    vec![call(Kernel::UniformExpected, vec![Operand::LatentCounts])];
            }
            Latent::Categorical {
                weights: Some(weights),
                ..
            } => {
                let id = self.derive("log_w".into(), DerivedKind::LogVector(weights));
                self.program.log_prior = Some(call(
                    Kernel::SetLogWeights,
                    vec![
                        Operand::OutAll,
                        Operand::Derived {
                            id,
                            src: Src::Cache,
                            at: At::Whole,
                        },
                    ],
                ));
                let elem = self.elem(weights);
                self.program.expected_prior = vec![call(
                    Kernel::CategoricalExpected,
                    vec![
                        Operand::LatentCounts,
                        param(Src::Params, weights, At::Whole, elem),
                    ],
                )];
            }
            Latent::Chain {
                initial,
                transition,
                ..
            } => {
                // The forward–backward recursions read these two from the cache.
                self.derive("log_initial".into(), DerivedKind::LogVector(initial));
                self.derive("log_transition".into(), DerivedKind::LogMatrix(transition));
                self.program.expected_prior = vec![
                    call(
                        Kernel::CategoricalExpected,
                        vec![
                            Operand::LatentInitial,
                            param(Src::Params, initial, At::Whole, self.elem(initial)),
                        ],
                    ),
                    call(
                        Kernel::TransitionsExpected,
                        vec![
                            Operand::LatentTransitions,
                            param(Src::Params, transition, At::Whole, self.elem(transition)),
                        ],
                    ),
                ];
            }
            Latent::Single { .. } => {}
        }
    }

    fn stat(&self, b: usize, kind: StatKind, mutable: bool) -> Operand {
        let slot = self
            .program
            .stats
            .iter()
            .position(|s| s.block == b && s.kind == kind)
            .expect("the block keeps this statistic");
        Operand::Stat {
            slot,
            at: self.stat_at(),
            mutable,
        }
    }

    fn linear_stats(&self, b: usize, mutable: bool) -> Vec<Operand> {
        [
            StatKind::Sum,
            StatKind::ResidualSq,
            StatKind::LatentSum,
            StatKind::Cross,
            StatKind::LatentScatter,
        ]
        .into_iter()
        .map(|s| self.stat(b, s, mutable))
        .collect()
    }

    /// One arm per family: the block's data form, its density, statistics and expected
    /// log-density.
    fn lower_block(&mut self, b: usize) -> BlockProgram {
        use Kernel::*;
        let block = &self.plan.blocks[b];
        let prefix = self.plan.block_prefix(b);
        let vector_data = matches!(self.elem(block.data), Elem::Vector(_));
        let k = self.stat_at();
        let (x, out, resp, ws) = (
            Operand::Rows,
            Operand::Out,
            Operand::Resp,
            Operand::Workspace,
        );
        let n = Operand::Count(k);
        let mut expected_locals = Vec::new();
        let (form, log_density, accumulate, expected) = match block.kind {
            BlockKind::StudentT { mean, cov, nu, .. } => {
                let (m, c, cm) = (
                    self.p(Src::Cache, mean),
                    self.p(Src::Params, mean),
                    self.p(Src::Centre, mean),
                );
                let id = self.derive(format!("{prefix}_chol"), DerivedKind::Cholesky(cov));
                let chol = |src| Operand::Derived {
                    id,
                    src,
                    at: if cov.per_component { At::K } else { At::Zero },
                };
                expected_locals.push((id, Src::Params));
                let nu = Operand::Number(nu);
                (
                    DataForm::Matrix,
                    call(
                        MvtFullAddLogDensity,
                        vec![
                            x.clone(),
                            m.clone(),
                            chol(Src::Cache),
                            nu.clone(),
                            out,
                            ws.clone(),
                        ],
                    ),
                    call(
                        MvtFullAccumulate,
                        vec![
                            x,
                            m,
                            chol(Src::Cache),
                            nu.clone(),
                            resp,
                            self.stat(b, StatKind::ScaleWeight, true),
                            self.stat(b, StatKind::Sum, true),
                            self.stat(b, StatKind::Scatter, true),
                            self.stat(b, StatKind::ScaleConstant, true),
                            ws,
                        ],
                    ),
                    call(
                        MvtFullExpected,
                        vec![
                            n,
                            self.stat(b, StatKind::ScaleWeight, false),
                            cm,
                            self.stat(b, StatKind::Sum, false),
                            self.stat(b, StatKind::Scatter, false),
                            self.stat(b, StatKind::ScaleConstant, false),
                            c,
                            chol(Src::Params),
                            nu,
                        ],
                    ),
                )
            }
            BlockKind::MvNormal { mean, cov } => {
                let (m, c, cm) = (
                    self.p(Src::Cache, mean),
                    self.p(Src::Params, mean),
                    self.p(Src::Centre, mean),
                );
                let sum = self.stat(b, StatKind::Sum, false);
                let sum_mut = self.stat(b, StatKind::Sum, true);
                match cov {
                    Cov::Full(cv) => {
                        let id = self.derive(format!("{prefix}_chol"), DerivedKind::Cholesky(cv));
                        let chol = |src| Operand::Derived {
                            id,
                            src,
                            at: if cv.per_component { At::K } else { At::Zero },
                        };
                        expected_locals.push((id, Src::Params));
                        (
                            DataForm::Matrix,
                            call(
                                MvnFullAddLogDensity,
                                vec![x.clone(), m.clone(), chol(Src::Cache), out, ws.clone()],
                            ),
                            call(
                                AccumulateScatter,
                                vec![
                                    x,
                                    m,
                                    resp,
                                    sum_mut,
                                    self.stat(b, StatKind::Scatter, true),
                                    ws,
                                ],
                            ),
                            call(
                                MvnFullExpected,
                                vec![
                                    n,
                                    cm,
                                    sum,
                                    self.stat(b, StatKind::Scatter, false),
                                    c,
                                    chol(Src::Params),
                                ],
                            ),
                        )
                    }
                    Cov::Diag(_) | Cov::Spherical(_) | Cov::Fixed(_) => {
                        let (density, exp) = if matches!(cov, Cov::Diag(_)) {
                            (MvnDiagAddLogDensity, MvnDiagExpected)
                        } else {
                            (MvnSphericalAddLogDensity, MvnSphericalExpected)
                        };
                        // A known covariance `c I` is the spherical one with `c` written in.
                        let scale = |src| match cov {
                            Cov::Fixed(c) => Operand::Number(c),
                            _ => self.p(src, cov.pref().expect("a covariance parameter")),
                        };
                        (
                            DataForm::Matrix,
                            call(density, vec![x.clone(), m.clone(), scale(Src::Cache), out]),
                            call(
                                AccumulateDiag,
                                vec![x, m, resp, sum_mut, self.stat(b, StatKind::SumSq, true)],
                            ),
                            call(
                                exp,
                                vec![
                                    n,
                                    cm,
                                    sum,
                                    self.stat(b, StatKind::SumSq, false),
                                    c,
                                    scale(Src::Params),
                                ],
                            ),
                        )
                    }
                }
            }
            BlockKind::Normal { mean, var } => (
                DataForm::Column,
                call(
                    // (A log-normal block reads `ln x` and adds the Jacobian `−ln x`.)
                    if block.log_scale {
                        LogNormalAddLogDensity
                    } else {
                        NormalAddLogDensity
                    },
                    vec![
                        x.clone(),
                        self.p(Src::Cache, mean),
                        self.p(Src::Cache, var),
                        out,
                    ],
                ),
                call(
                    AccumulateScalar,
                    vec![
                        x,
                        self.p(Src::Cache, mean),
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        self.stat(b, StatKind::SumSq, true),
                    ],
                ),
                call(
                    NormalExpected,
                    vec![
                        n,
                        self.p(Src::Centre, mean),
                        self.stat(b, StatKind::Sum, false),
                        self.stat(b, StatKind::SumSq, false),
                        self.p(Src::Params, mean),
                        self.p(Src::Params, var),
                    ],
                ),
            ),
            BlockKind::MvRegression {
                covariates, cov, ..
            } => {
                let u = Operand::Covariates(covariates);
                let (beta, c) = self.regression_params(b, Src::Cache);
                let [scatter, cross, sq] = self.regression_stats(b, true);
                let (beta_c, c_c) = self.regression_params(b, Src::Centre);
                let (beta_p, c_p) = self.regression_params(b, Src::Params);
                let [scatter_r, cross_r, sq_r] = self.regression_stats(b, false);
                let mut density = vec![x.clone(), u.clone(), beta.clone(), c.clone()];
                let mut exp = vec![n, beta_c, c_c, scatter_r, cross_r, sq_r, beta_p, c_p];
                let (density_kernel, accumulate_kernel, expected_kernel) = match cov {
                    Cov::Full(cv) => {
                        let id = self.derive(format!("{prefix}_chol"), DerivedKind::Cholesky(cv));
                        let chol = |src| Operand::Derived {
                            id,
                            src,
                            at: if cv.per_component { At::K } else { At::Zero },
                        };
                        expected_locals.push((id, Src::Params));
                        density.extend([chol(Src::Cache), out, ws]);
                        exp.push(chol(Src::Params));
                        (
                            MvRegressionFullAddLogDensity,
                            MvRegressionFullAccumulate,
                            MvRegressionFullExpected,
                        )
                    }
                    Cov::Diag(v) => {
                        density.extend([self.p(Src::Cache, v), out]);
                        exp.push(self.p(Src::Params, v));
                        (
                            MvRegressionDiagAddLogDensity,
                            MvRegressionDiagAccumulate,
                            MvRegressionDiagExpected,
                        )
                    }
                    Cov::Spherical(_) | Cov::Fixed(_) => {
                        unreachable!("a multivariate regression's covariance is full or diagonal")
                    }
                };
                (
                    DataForm::Matrix,
                    call(density_kernel, density),
                    call(
                        accumulate_kernel,
                        vec![x, u, beta, c, resp, scatter, cross, sq],
                    ),
                    call(expected_kernel, exp),
                )
            }
            BlockKind::Regression {
                covariates, var, ..
            } => {
                let u = Operand::Covariates(covariates);
                let (beta, c) = self.regression_params(b, Src::Cache);
                let [scatter, cross, sq] = self.regression_stats(b, true);
                let (beta_c, c_c) = self.regression_params(b, Src::Centre);
                let (beta_p, c_p) = self.regression_params(b, Src::Params);
                let [scatter_r, cross_r, sq_r] = self.regression_stats(b, false);
                (
                    DataForm::Column,
                    call(
                        RegressionAddLogDensity,
                        vec![
                            x.clone(),
                            u.clone(),
                            beta.clone(),
                            c.clone(),
                            self.p(Src::Cache, var),
                            out,
                        ],
                    ),
                    call(
                        RegressionAccumulate,
                        vec![x, u, beta, c, resp, scatter, cross, sq],
                    ),
                    call(
                        RegressionExpected,
                        vec![
                            n,
                            beta_c,
                            c_c,
                            scatter_r,
                            cross_r,
                            sq_r,
                            beta_p,
                            c_p,
                            self.p(Src::Params, var),
                        ],
                    ),
                )
            }
            BlockKind::Poisson { rate } => (
                DataForm::Column,
                call(
                    PoissonAddLogDensity,
                    vec![x.clone(), Operand::RowTerms, self.p(Src::Cache, rate), out],
                ),
                call(
                    AccumulateWeightedSum,
                    vec![x, resp, self.stat(b, StatKind::Sum, true)],
                ),
                call(
                    PoissonExpected,
                    vec![
                        n,
                        self.stat(b, StatKind::Sum, false),
                        self.p(Src::Params, rate),
                    ],
                ),
            ),
            BlockKind::Exponential { rate } => (
                DataForm::Column,
                call(
                    ExponentialAddLogDensity,
                    vec![x.clone(), self.p(Src::Cache, rate), out],
                ),
                call(
                    AccumulateWeightedSum,
                    vec![x, resp, self.stat(b, StatKind::Sum, true)],
                ),
                call(
                    ExponentialExpected,
                    vec![
                        n,
                        self.stat(b, StatKind::Sum, false),
                        self.p(Src::Params, rate),
                    ],
                ),
            ),
            BlockKind::Binomial { trials, prob } => {
                let (t, column) = trials_operand(trials);
                (
                    DataForm::Column,
                    call(
                        if column {
                            BinomialRowsAddLogDensity
                        } else {
                            BinomialAddLogDensity
                        },
                        vec![
                            x.clone(),
                            Operand::RowTerms,
                            t.clone(),
                            self.p(Src::Cache, prob),
                            out,
                        ],
                    ),
                    call(
                        if column {
                            BinomialRowsAccumulate
                        } else {
                            BinomialAccumulate
                        },
                        vec![
                            x,
                            t,
                            resp,
                            self.stat(b, StatKind::Sum, true),
                            self.stat(b, StatKind::Trials, true),
                        ],
                    ),
                    call(
                        BinomialExpected,
                        vec![
                            self.stat(b, StatKind::Sum, false),
                            self.stat(b, StatKind::Trials, false),
                            self.p(Src::Params, prob),
                        ],
                    ),
                )
            }
            BlockKind::Geometric { prob } => (
                DataForm::Column,
                call(
                    GeometricAddLogDensity,
                    vec![x.clone(), self.p(Src::Cache, prob), out],
                ),
                call(
                    AccumulateWeightedSum,
                    vec![x, resp, self.stat(b, StatKind::Sum, true)],
                ),
                call(
                    GeometricExpected,
                    vec![
                        n,
                        self.stat(b, StatKind::Sum, false),
                        self.p(Src::Params, prob),
                    ],
                ),
            ),
            BlockKind::Gamma { shape, rate } => (
                DataForm::Column,
                call(
                    GammaAddLogDensity,
                    vec![
                        x.clone(),
                        Operand::Number(shape),
                        self.p(Src::Cache, rate),
                        out,
                    ],
                ),
                call(
                    GammaAccumulate,
                    vec![
                        x,
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        self.stat(b, StatKind::LogSum, true),
                    ],
                ),
                call(
                    GammaExpected,
                    vec![
                        n,
                        self.stat(b, StatKind::Sum, false),
                        self.stat(b, StatKind::LogSum, false),
                        Operand::Number(shape),
                        self.p(Src::Params, rate),
                    ],
                ),
            ),
            BlockKind::Bernoulli { prob } => {
                // Bits are read as a matrix (a scalar item as one column) and the
                // probabilities as a vector (a scalar `prob` as one entry).
                let probs = |src| match self.p(src, prob) {
                    Operand::Param {
                        src, var, at, elem, ..
                    } => Operand::Param {
                        src,
                        var,
                        at,
                        elem,
                        as_vector: elem == Elem::Scalar,
                    },
                    _ => unreachable!("a parameter"),
                };
                (
                    if vector_data {
                        DataForm::Matrix
                    } else {
                        DataForm::ColumnAsMatrix
                    },
                    call(
                        BernoulliAddLogDensity,
                        vec![x.clone(), probs(Src::Cache), out],
                    ),
                    call(
                        AccumulateWeightedRows,
                        vec![x, resp, self.stat(b, StatKind::Sum, true)],
                    ),
                    call(
                        BernoulliExpected,
                        vec![n, self.stat(b, StatKind::Sum, false), probs(Src::Params)],
                    ),
                )
            }
            BlockKind::Categorical { probs } => {
                let id = self.derive(format!("{prefix}_log_p"), DerivedKind::LogRows(probs));
                (
                    DataForm::Column,
                    call(
                        CategoricalAddLogDensity,
                        vec![
                            x.clone(),
                            Operand::Derived {
                                id,
                                src: Src::Cache,
                                at: At::K,
                            },
                            out,
                        ],
                    ),
                    call(
                        AccumulateCategoryCounts,
                        vec![x, resp, self.stat(b, StatKind::Counts, true)],
                    ),
                    call(
                        CategoricalExpected,
                        vec![
                            self.stat(b, StatKind::Counts, false),
                            self.p(Src::Params, probs),
                        ],
                    ),
                )
            }
            BlockKind::Multinomial { probs } => {
                let id = self.derive(format!("{prefix}_log_p"), DerivedKind::LogRows(probs));
                (
                    DataForm::Matrix,
                    call(
                        MultinomialAddLogDensity,
                        vec![
                            x.clone(),
                            Operand::RowTerms,
                            Operand::Derived {
                                id,
                                src: Src::Cache,
                                at: At::K,
                            },
                            out,
                        ],
                    ),
                    call(
                        MultinomialAccumulate,
                        vec![x, resp, self.stat(b, StatKind::Counts, true)],
                    ),
                    // (The coefficients are data terms: `row_terms`.)
                    call(
                        CategoricalExpected,
                        vec![
                            self.stat(b, StatKind::Counts, false),
                            self.p(Src::Params, probs),
                        ],
                    ),
                )
            }
            BlockKind::LinearGaussian {
                loading,
                mean,
                noise,
            } => {
                let id = self.derive(
                    format!("{prefix}_post"),
                    DerivedKind::Posteriors {
                        loading,
                        noise,
                        row_cov: self.row_cov_slot(loading.param),
                    },
                );
                let post = |src| Operand::Derived { id, src, at: k };
                expected_locals.push((id, Src::Centre));
                let m = self.p(Src::Cache, mean);
                let mut acc = vec![x.clone(), m.clone(), resp, post(Src::Cache)];
                acc.extend(self.linear_stats(b, true));
                acc.push(ws.clone());
                let mut exp = vec![n, self.p(Src::Centre, mean)];
                exp.extend(self.linear_stats(b, false));
                let pm = self.p(Src::Params, mean);
                let psi = match noise {
                    Cov::Spherical(s) => {
                        Operand::Isotropic(Box::new(self.p(Src::Params, s)), Box::new(pm.clone()))
                    }
                    _ => self.p(
                        Src::Params,
                        noise.pref().expect("linear-Gaussian noise is a parameter"),
                    ),
                };
                exp.extend([
                    self.p(Src::Params, loading),
                    pm,
                    psi,
                    Operand::LogDetPrecision(Box::new(post(Src::Centre))),
                    self.p(Src::Centre, loading),
                ]);
                // Variational Bayes with a posterior on the loadings: the expected emission's
                // spread term (the block's offset holds the rest).
                let expected = match self.row_cov_slot(loading.param) {
                    Some(_) => {
                        exp.push(self.strength(Src::Params, self.update_of(loading.param)));
                        call(FactorExpectedWithRowCov, exp)
                    }
                    None => call(FactorExpected, exp),
                };
                (
                    DataForm::Matrix,
                    call(FactorAddLogDensity, vec![x, m, post(Src::Cache), out, ws]),
                    call(AccumulateFactor, acc),
                    expected,
                )
            }
        };
        let (scores, accumulate_assigned) = self.hard_forms(b);
        let missing = self.lower_missing(b);
        let mut accumulate = accumulate;
        if missing.is_some() {
            for a in &mut accumulate.args {
                if *a == Operand::Resp {
                    *a = Operand::CompleteResp;
                }
            }
        }
        let (log_densities, accumulate_all) = whole_forms(&log_density, &accumulate);
        BlockProgram {
            block: b,
            statement: self.plan.model.factors[block.factor].text.clone(),
            data: block.data,
            form,
            row_terms: match block.kind {
                BlockKind::Poisson { .. } => Some(RowTerms::LogFactorial),
                BlockKind::Multinomial { .. } => Some(RowTerms::LogCoefficient),
                BlockKind::Binomial { .. } => Some(RowTerms::LogChoose),
                _ if block.log_scale => Some(RowTerms::LogValue),
                _ => None,
            },
            log_density,
            accumulate,
            log_densities,
            accumulate_all,
            scores,
            hard_step: None,
            accumulate_assigned,
            expected_locals,
            expected,
            missing,
            gaps_refused: self.gaps_refused(b),
        }
    }

    /// The kernels of block `b` for the rows with a missing cell: the density of the
    /// observed cells, the conditional expectations of the statistics and their entropy.
    fn lower_missing(&self, b: usize) -> Option<MissingProgram> {
        use Kernel::*;
        if !self.takes_gaps(b) {
            return None;
        }
        let block = &self.plan.blocks[b];
        let entropy = self
            .program
            .stats
            .iter()
            .position(|s| s.block == b && s.kind == StatKind::GapEntropy)
            .expect("a block that takes gaps keeps their entropy");
        let h = Operand::Stat {
            slot: entropy,
            at: self.stat_at(),
            mutable: true,
        };
        let (x, gaps, before, out, resp) = (
            Operand::Rows,
            Operand::Gaps,
            Operand::Before,
            Operand::Out,
            Operand::Resp,
        );
        let column = call(
            MissingColumnLogDensity,
            vec![gaps.clone(), before.clone(), out.clone()],
        );
        let cache = |p| self.p(Src::Cache, p);
        let (log_density, accumulate) = match block.kind {
            BlockKind::MvNormal { mean, cov } => {
                let m = cache(mean);
                let (density, acc, scale, sq) = match cov {
                    Cov::Full(cv) => (
                        MissingMvnFullLogDensity,
                        MissingMvnFullAccumulate,
                        cache(cv),
                        StatKind::Scatter,
                    ),
                    Cov::Diag(v) => (
                        MissingMvnDiagLogDensity,
                        MissingMvnDiagAccumulate,
                        cache(v),
                        StatKind::SumSq,
                    ),
                    Cov::Spherical(v) => (
                        MissingMvnSphericalLogDensity,
                        MissingMvnSphericalAccumulate,
                        cache(v),
                        StatKind::SumSq,
                    ),
                    Cov::Fixed(c) => (
                        MissingMvnSphericalLogDensity,
                        MissingMvnSphericalAccumulate,
                        Operand::Number(c),
                        StatKind::SumSq,
                    ),
                };
                let mut log_density = vec![
                    x.clone(),
                    gaps.clone(),
                    m.clone(),
                    scale.clone(),
                    before,
                    out,
                ];
                let mut accumulate = vec![
                    x,
                    gaps,
                    m,
                    scale,
                    resp,
                    self.stat(b, StatKind::Sum, true),
                    self.stat(b, sq, true),
                    h,
                ];
                // The full covariance keeps each pattern's conditional in the workspace.
                if matches!(cov, Cov::Full(_)) {
                    log_density.push(Operand::Workspace);
                    accumulate.push(Operand::Workspace);
                }
                (call(density, log_density), call(acc, accumulate))
            }
            BlockKind::Normal { var, .. } => (
                column,
                call(
                    MissingNormalAccumulate,
                    vec![
                        gaps,
                        cache(var),
                        resp,
                        self.stat(b, StatKind::SumSq, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Poisson { rate } => (
                column,
                call(
                    MissingPoissonAccumulate,
                    vec![
                        gaps,
                        cache(rate),
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Exponential { rate } => (
                column,
                call(
                    MissingExponentialAccumulate,
                    vec![
                        gaps,
                        cache(rate),
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Binomial { trials, prob } => {
                let (t, by_row) = trials_operand(trials);
                (
                    column,
                    call(
                        if by_row {
                            MissingBinomialRowsAccumulate
                        } else {
                            MissingBinomialAccumulate
                        },
                        vec![
                            gaps,
                            t,
                            cache(prob),
                            resp,
                            self.stat(b, StatKind::Sum, true),
                            self.stat(b, StatKind::Trials, true),
                            h,
                        ],
                    ),
                )
            }
            BlockKind::Geometric { prob } => (
                column,
                call(
                    MissingGeometricAccumulate,
                    vec![
                        gaps,
                        cache(prob),
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Gamma { shape, rate } => (
                column,
                call(
                    MissingGammaAccumulate,
                    vec![
                        gaps,
                        Operand::Number(shape),
                        cache(rate),
                        resp,
                        self.stat(b, StatKind::Sum, true),
                        self.stat(b, StatKind::LogSum, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Multinomial { .. } => unreachable!("a multinomial block refuses gaps"),
            BlockKind::StudentT { .. } => unreachable!("a Student-t block refuses gaps"),
            // A missing response coordinate: its residual conditional on the observed ones,
            // under the E-step's coefficients (the covariates are observed).
            BlockKind::MvRegression {
                covariates, cov, ..
            } => {
                let u = Operand::Covariates(covariates);
                let (beta, c) = self.regression_params(b, Src::Cache);
                let [scatter, cross, sq] = self.regression_stats(b, true);
                let (density, acc, scale) = match cov {
                    Cov::Full(cv) => (
                        MissingMvRegressionFullLogDensity,
                        MissingMvRegressionFullAccumulate,
                        cache(cv),
                    ),
                    Cov::Diag(v) => (
                        MissingMvRegressionDiagLogDensity,
                        MissingMvRegressionDiagAccumulate,
                        cache(v),
                    ),
                    Cov::Spherical(_) | Cov::Fixed(_) => {
                        unreachable!("a multivariate regression's covariance is full or diagonal")
                    }
                };
                let full = matches!(cov, Cov::Full(_));
                let mut log_density = vec![
                    x.clone(),
                    gaps.clone(),
                    u.clone(),
                    beta.clone(),
                    c.clone(),
                    scale.clone(),
                    before,
                    out,
                ];
                let mut accumulate = vec![x, gaps, u, beta, c, scale, resp, scatter, cross, sq, h];
                if full {
                    log_density.push(Operand::Workspace);
                    accumulate.push(Operand::Workspace);
                }
                (call(density, log_density), call(acc, accumulate))
            }
            // A missing response: its residual's expectation is zero under the E-step's
            // coefficients and its square's the variance (the covariates are observed).
            BlockKind::Regression {
                covariates, var, ..
            } => {
                let [scatter, _, sq] = self.regression_stats(b, true);
                (
                    column,
                    call(
                        MissingRegressionAccumulate,
                        vec![
                            gaps,
                            Operand::Covariates(covariates),
                            cache(var),
                            resp,
                            scatter,
                            sq,
                            h,
                        ],
                    ),
                )
            }
            BlockKind::Categorical { probs } => (
                column,
                call(
                    MissingCategoricalAccumulate,
                    vec![
                        gaps,
                        cache(probs),
                        resp,
                        self.stat(b, StatKind::Counts, true),
                        h,
                    ],
                ),
            ),
            BlockKind::Bernoulli { prob } => {
                let probs = match cache(prob) {
                    Operand::Param {
                        src, var, at, elem, ..
                    } => Operand::Param {
                        src,
                        var,
                        at,
                        elem,
                        as_vector: elem == Elem::Scalar,
                    },
                    _ => unreachable!("a parameter"),
                };
                (
                    call(
                        MissingBernoulliLogDensity,
                        vec![x.clone(), gaps.clone(), probs.clone(), before, out],
                    ),
                    call(
                        MissingBernoulliAccumulate,
                        vec![x, gaps, probs, resp, self.stat(b, StatKind::Sum, true), h],
                    ),
                )
            }
            BlockKind::LinearGaussian {
                loading,
                mean,
                noise,
            } => {
                let m = cache(mean);
                let psi = match noise {
                    Cov::Spherical(s) => {
                        Operand::Isotropic(Box::new(cache(s)), Box::new(m.clone()))
                    }
                    _ => cache(noise.pref().expect("linear-Gaussian noise is a parameter")),
                };
                let post = self
                    .program
                    .derived
                    .iter()
                    .position(|d| {
                        matches!(d.kind, DerivedKind::Posteriors { loading: l, noise: n, .. } if l == loading && n == noise)
                    })
                    .expect("the block's posterior is derived");
                let w = cache(loading);
                let mut acc = vec![
                    x.clone(),
                    gaps.clone(),
                    m.clone(),
                    w.clone(),
                    psi.clone(),
                    Operand::Derived {
                        id: post,
                        src: Src::Cache,
                        at: self.stat_at(),
                    },
                    resp,
                ];
                acc.extend(self.linear_stats(b, true));
                acc.push(h);
                (
                    call(
                        MissingFactorLogDensity,
                        vec![x, gaps, m, w, psi, before, out],
                    ),
                    call(MissingFactorAccumulate, acc),
                )
            }
        };
        Some(MissingProgram {
            log_density,
            accumulate,
            entropy,
        })
    }

    /// The hard E-step's forms of a multivariate Normal block with a per-component mean:
    /// the scores of every component at once (spherical or known covariance), and the
    /// statistics of an assignment (any covariance with diagonal statistics).
    fn hard_forms(&self, b: usize) -> (Option<Call>, Option<Call>) {
        use Kernel::*;
        let BlockKind::MvNormal { mean, cov } = self.plan.blocks[b].kind else {
            return (None, None);
        };
        if self.plan.components().is_none() || !mean.per_component {
            return (None, None);
        }
        let means = param(Src::Cache, mean.param, At::Whole, self.elem(mean.param));
        let whole = |op: Operand| match op {
            Operand::Stat { slot, mutable, .. } => Operand::Stat {
                slot,
                at: At::Whole,
                mutable,
            },
            other => other,
        };
        let var = match cov {
            Cov::Fixed(c) => Some(Operand::AsVector(Box::new(Operand::Number(c)))),
            Cov::Spherical(v) => {
                let value = param(Src::Cache, v.param, At::Whole, self.elem(v.param));
                Some(if v.per_component {
                    value
                } else {
                    Operand::AsVector(Box::new(value))
                })
            }
            Cov::Diag(_) | Cov::Full(_) => None,
        };
        let scores = var.map(|var| {
            call(
                MvnSphericalAddLogDensities,
                vec![
                    Operand::Rows,
                    means.clone(),
                    var,
                    Operand::OutAll,
                    Operand::Bound,
                    Operand::Workspace,
                ],
            )
        });
        let accumulate = (!matches!(cov, Cov::Full(_))).then(|| {
            call(
                AccumulateDiagAssigned,
                vec![
                    Operand::Rows,
                    means,
                    Operand::Assignments,
                    whole(self.stat(b, StatKind::Sum, true)),
                    whole(self.stat(b, StatKind::SumSq, true)),
                ],
            )
        });
        (scores, accumulate)
    }

    /// The E-step of a linear-Gaussian block from the data's mean and scatter.
    fn summary_call(&mut self, b: usize) -> Call {
        let BlockKind::LinearGaussian {
            loading,
            mean,
            noise,
        } = self.plan.blocks[b].kind
        else {
            unreachable!("summarised models have only linear-Gaussian blocks")
        };
        let id = self.derive(
            format!("{}_post", self.plan.block_prefix(b)),
            DerivedKind::Posteriors {
                loading,
                noise,
                row_cov: self.row_cov_slot(loading.param),
            },
        );
        let mut args = vec![
            Operand::RowCount,
            Operand::DataMean,
            Operand::DataScatterRoot,
            param(Src::Cache, mean.param, At::Whole, self.elem(mean.param)),
            Operand::Derived {
                id,
                src: Src::Cache,
                at: At::Zero,
            },
        ];
        args.extend(self.linear_stats(b, true));
        call(Kernel::FactorSummaryStatistics, args)
    }

    /// The M-step: loadings first, then the means (which use the new loadings), then the
    /// scales about the new means, each group in declaration order.
    fn m_step(&mut self) {
        let rank = |r: Rule| match r {
            Rule::Loadings | Rule::RegressionCoefficients => 0,
            Rule::Mean | Rule::FactorMean | Rule::RegressionIntercept => 1,
            _ => 2,
        };
        let mut order: Vec<usize> = (0..self.plan.updates.len()).collect();
        order.sort_by_key(|&i| rank(self.plan.updates[i].rule));
        for i in order {
            if self.program.params[i].fixed.is_some() {
                let u = &self.plan.updates[i];
                self.program.m_step.push(UpdateStep {
                    param: i,
                    rule: u.rule,
                    sources: u.sources.clone(),
                    per_component: false,
                    value: UpdateValue::Fixed,
                    first_element: false,
                });
                continue;
            }
            match self.posterior_updates(i) {
                Some(steps) => self.program.m_step.extend(steps),
                None => {
                    let step = self.update(i);
                    self.program.m_step.push(step);
                }
            }
        }
        for (i, u) in self.plan.updates.iter().enumerate() {
            let Some(prior) = &u.prior else { continue };
            if self.program.method == Method::Vb {
                continue;
            }
            let slot = &self.program.params[i];
            let own = self.param_of(Src::Params, u.param);
            let call = match prior.family {
                PriorFamily::Dirichlet { concentration } => call(
                    Kernel::DirichletLogDensity,
                    vec![own, Operand::Number(concentration)],
                ),
                PriorFamily::InvGamma { shape, scale } => call(
                    if slot.elem == Elem::Scalar {
                        Kernel::InvGammaLogDensity
                    } else {
                        Kernel::InvGammaLogDensities
                    },
                    vec![own, Operand::Number(shape), self.hyper(u.param, scale)],
                ),
                PriorFamily::InvWishart { dof, scale } => call(
                    Kernel::InvWishartLogDensity,
                    vec![own, Operand::Number(dof), self.hyper(u.param, scale)],
                ),
                PriorFamily::NormalMean { kappa, scale, .. } if u.rule == Rule::Loadings => call(
                    Kernel::LoadingsPriorLogDensity,
                    vec![
                        own,
                        Operand::Number(kappa),
                        self.param_of(Src::Params, scale),
                    ],
                ),
                PriorFamily::NormalMean { mean, kappa, scale } => {
                    let kernel = match (slot.elem, self.slot(scale).elem) {
                        (Elem::Scalar, _) => Kernel::NormalMeanPriorLogDensity,
                        (_, Elem::Vector(_)) => Kernel::DiagMeanPriorLogDensity,
                        (_, Elem::Scalar) => Kernel::SphericalMeanPriorLogDensity,
                        _ => Kernel::MvnMeanPriorLogDensity,
                    };
                    call(
                        kernel,
                        vec![
                            own,
                            self.hyper(u.param, mean),
                            Operand::Number(kappa),
                            self.param_of(Src::Params, scale),
                        ],
                    )
                }
                PriorFamily::Gamma { shape, rate } => call(
                    Kernel::GammaLogDensity,
                    vec![own, Operand::Number(shape), Operand::Number(rate)],
                ),
                PriorFamily::Beta { a, b } => call(
                    if slot.elem == Elem::Scalar {
                        Kernel::BetaLogDensity
                    } else {
                        Kernel::BetaLogDensities
                    },
                    vec![own, Operand::Number(a), Operand::Number(b)],
                ),
            };
            self.program.priors.push(PriorTerm {
                param: i,
                per_component: slot.per_component,
                call,
                factor: prior.factor,
            });
        }
        for (i, u) in self.plan.updates.iter().enumerate() {
            // A prior written in the model file takes the place of the regularising one; a
            // fixed value has none.
            if u.prior.is_some() || self.program.params[i].fixed.is_some() {
                continue;
            }
            let (kernel, share) = match u.rule {
                Rule::Covariance => (Kernel::CovarianceLogPrior, Kernel::CovariancePriorShare),
                Rule::DiagonalVariances => (Kernel::VariancesLogPrior, Kernel::VariancesPriorShare),
                Rule::Variance => (Kernel::VarianceLogPrior, Kernel::VariancePriorShare),
                _ => continue,
            };
            let slot = &self.program.params[i];
            let own = self.param_of(Src::Params, u.param);
            let scale = Operand::DataScale(u.sources[0]);
            let count = if slot.per_component {
                Operand::Count(At::K)
            } else {
                Operand::RowCount
            };
            self.program.penalties.push(Penalty {
                param: i,
                per_component: slot.per_component,
                call: call(kernel, vec![own.clone(), Operand::Reg, scale.clone()]),
                share: call(share, vec![own, count, Operand::Reg, scale]),
            });
        }
    }

    fn update(&self, i: usize) -> UpdateStep {
        use Kernel::*;
        let u = &self.plan.updates[i];
        let slot = &self.program.params[i];
        // A chain's transition matrix is one value (its rows are not components' slots).
        let per_k = slot.per_component
            && !matches!(
                u.rule,
                Rule::Weights | Rule::InitialProbs | Rule::Transitions
            );
        let k = self.stat_at();
        let n = Operand::Count(k);
        let own = |src| {
            param(
                src,
                u.param,
                if per_k { At::K } else { At::Whole },
                slot.elem,
            )
        };
        let stats = |kind| self.source_stats(u, kind);
        let stat_elem = |kind| self.source_stat_elem(u, kind);
        let pooled = |acc, terms, finish| UpdateValue::Pooled { acc, terms, finish };
        // A simplex's update: the normalised counts, or with a Dirichlet prior the posterior
        // mode (`α − 1` pseudo-counts each).
        let concentration = u.prior.as_ref().and_then(|p| match p.family {
            PriorFamily::Dirichlet { concentration } => Some(Operand::Number(concentration)),
            _ => None,
        });
        // A scale's prior: its two hyperparameters, for the posterior mode.
        let scale_prior = u.prior.as_ref().and_then(|p| match p.family {
            PriorFamily::InvGamma { shape, scale } => Some((shape, scale)),
            PriorFamily::InvWishart { dof, scale } => Some((dof, scale)),
            _ => None,
        });
        // A rate's or a probability's prior: its two hyperparameters.
        let count_prior = u.prior.as_ref().and_then(|p| match p.family {
            PriorFamily::Gamma { shape, rate } => Some((shape, rate)),
            PriorFamily::Beta { a, b } => Some((a, b)),
            _ => None,
        });
        let with_prior = |kernel: Kernel, mode: Kernel| match count_prior {
            Some((first, second)) => call(
                mode,
                vec![
                    Operand::Pooled,
                    Operand::PooledCount,
                    Operand::Number(first),
                    Operand::Number(second),
                ],
            ),
            None => call(kernel, vec![Operand::Pooled, Operand::PooledCount]),
        };
        let simplex = |counts: Operand| match &concentration {
            Some(a) => call(SimplexModeFromCounts, vec![counts, a.clone()]),
            None => call(SimplexFromCounts, vec![counts]),
        };
        let mut first_element = false;
        let value = match u.rule {
            Rule::Weights => UpdateValue::Call(simplex(Operand::LatentCounts)),
            Rule::InitialProbs => UpdateValue::Call(simplex(Operand::LatentInitial)),
            Rule::Transitions => UpdateValue::Call(match &concentration {
                Some(a) => call(
                    TransitionsModeFromCounts,
                    vec![Operand::LatentTransitions, own(Src::Prev), a.clone()],
                ),
                None => call(
                    TransitionsFromCounts,
                    vec![Operand::LatentTransitions, own(Src::Prev)],
                ),
            }),
            Rule::Mean => {
                let scalar = slot.elem == Elem::Scalar;
                let finish = match u.prior.as_ref().map(|p| p.family) {
                    Some(PriorFamily::NormalMean { mean, kappa, .. }) => call(
                        if scalar {
                            ScalarMeanModeFromStats
                        } else {
                            MeanModeFromStats
                        },
                        vec![
                            own(Src::Prev),
                            Operand::Pooled,
                            Operand::PooledCount,
                            Operand::Number(kappa),
                            self.hyper(u.param, mean),
                        ],
                    ),
                    _ => call(
                        if scalar {
                            ScalarMeanFromStats
                        } else {
                            MeanFromStats
                        },
                        vec![own(Src::Prev), Operand::Pooled, Operand::PooledCount],
                    ),
                };
                pooled(slot.elem, self.mean_terms(u), finish)
            }
            // One source, per component, by derivation.
            Rule::RegressionCoefficients | Rule::RegressionIntercept => {
                let b = u.sources[0];
                let [scatter, cross, _] = self.regression_stats(b, false);
                let (beta, c) = self.regression_params(b, Src::Prev);
                let (beta_next, _) = self.regression_params(b, Src::Next);
                first_element = u.rule == Rule::RegressionCoefficients && slot.elem == Elem::Scalar;
                let kind = &self.plan.blocks[b].kind;
                let multivariate = matches!(kind, BlockKind::MvRegression { .. });
                // (A fixed intercept leaves the covariates' block alone to solve.)
                let intercept_fixed = matches!(
                    kind.regression(),
                    Some((_, Some(c), _)) if self.plan.model.vars[c.param].fixed.is_some()
                );
                UpdateValue::Call(if u.rule == Rule::RegressionCoefficients {
                    call(
                        match (multivariate, intercept_fixed) {
                            (false, true) => RegressionCoefficientsGivenIntercept,
                            (false, false) => RegressionCoefficientsFromStats,
                            (true, true) => MvRegressionCoefficientsGivenIntercept,
                            (true, false) => MvRegressionCoefficientsFromStats,
                        },
                        vec![beta, scatter, cross],
                    )
                } else {
                    call(
                        if multivariate {
                            MvRegressionInterceptFromStats
                        } else {
                            RegressionInterceptFromStats
                        },
                        vec![c, beta, beta_next, scatter, cross],
                    )
                })
            }
            Rule::Loadings | Rule::FactorMean => {
                // One source, and one component per slot, by derivation.
                let b = u.sources[0];
                let BlockKind::LinearGaussian { loading, .. } = self.plan.blocks[b].kind else {
                    unreachable!("loadings and offsets belong to linear-Gaussian blocks")
                };
                let [sum, _, hs, cr, hh] =
                    <[Operand; 5]>::try_from(self.linear_stats(b, false)).expect("five statistics");
                let ridge = match u.prior.as_ref().map(|p| p.family) {
                    Some(PriorFamily::NormalMean { kappa, .. }) => Some(kappa),
                    _ => None,
                };
                UpdateValue::Call(if u.rule == Rule::Loadings {
                    let mut args = vec![self.p(Src::Prev, loading), n, sum, hs, cr, hh];
                    match ridge {
                        // The loadings' prior `w_d ~ N(0, ψ_d I / α)`: a ridge.
                        Some(alpha) => {
                            args.push(Operand::Number(alpha));
                            call(LoadingsModeFromStats, args)
                        }
                        None => call(LoadingsFromStats, args),
                    }
                } else {
                    call(
                        FactorMeanFromStats,
                        vec![own(Src::Prev), sum, hs, n, self.p(Src::Next, loading)],
                    )
                })
            }
            Rule::Covariance | Rule::DiagonalVariances | Rule::Variance => {
                let terms = u
                    .sources
                    .iter()
                    .map(|&b| self.scatter_term(u.rule, b))
                    .collect();
                let (acc, kernel, mode) = match u.rule {
                    Rule::Covariance => (
                        stat_elem(StatKind::Scatter),
                        CovarianceFromScatter,
                        CovarianceModeFromScatter,
                    ),
                    Rule::DiagonalVariances => {
                        (slot.elem, VariancesFromScatter, VariancesModeFromScatter)
                    }
                    _ => (Elem::Scalar, VarianceFromScatter, VarianceModeFromScatter),
                };
                // A prior on the mean scaled by this covariance (normal-inverse-Wishart or
                // -Gamma): the mean's deviation from its prior mean and one more row; on the
                // loadings scaled by this noise, each coordinate's `α ‖w_d‖²` and `L` rows.
                let mean_prior = self.mean_prior_on(u.param);
                let loading_prior =
                    mean_prior.filter(|&(w, _, _)| self.slot(w).rule == Rule::Loadings);
                let finish = match (scale_prior, mean_prior) {
                    (Some((first, second)), Some((w, _, alpha))) if loading_prior.is_some() => {
                        call(
                            if u.rule == Rule::DiagonalVariances {
                                NoiseVariancesModeWithLoadingPrior
                            } else {
                                NoiseVarianceModeWithLoadingPrior
                            },
                            vec![
                                Operand::Pooled,
                                Operand::PooledCount,
                                Operand::Number(first),
                                self.hyper(u.param, second),
                                self.means_under(w, u.param),
                                Operand::Number(alpha),
                            ],
                        )
                    }
                    (Some((first, second)), Some((mu, mean, kappa))) => call(
                        match u.rule {
                            Rule::Covariance => CovarianceModeWithMeanPrior,
                            Rule::DiagonalVariances => VariancesModeWithMeanPrior,
                            _ if self.slot(mu).elem != Elem::Scalar => {
                                SphericalVarianceModeWithMeanPrior
                            }
                            _ => VarianceModeWithMeanPrior,
                        },
                        vec![
                            Operand::Pooled,
                            Operand::PooledCount,
                            Operand::Number(first),
                            self.hyper(u.param, second),
                            self.means_under(mu, u.param),
                            Operand::Number(kappa),
                            self.hyper(mu, mean),
                        ],
                    ),
                    (Some((first, second)), None) => call(
                        mode,
                        vec![
                            Operand::Pooled,
                            Operand::PooledCount,
                            Operand::Number(first),
                            self.hyper(u.param, second),
                        ],
                    ),
                    (None, _) => call(
                        kernel,
                        vec![
                            Operand::Pooled,
                            Operand::PooledCount,
                            Operand::Reg,
                            // The prior's scale is that of the first pooled block's data.
                            Operand::DataScale(u.sources[0]),
                        ],
                    ),
                };
                pooled(acc, terms, finish)
            }
            Rule::Rate => pooled(
                Elem::Scalar,
                stats(StatKind::Sum),
                with_prior(RateFromStats, RateModeFromStats),
            ),
            Rule::ExponentialRate => pooled(
                Elem::Scalar,
                stats(StatKind::Sum),
                with_prior(ExponentialRateFromStats, ExponentialRateModeFromStats),
            ),
            // (The pooled count is the expected number of trials.)
            Rule::BinomialProb => pooled(
                Elem::Scalar,
                self.binomial_terms(u),
                with_prior(BinomialProbFromStats, BinomialProbModeFromStats),
            ),
            Rule::GeometricProb => pooled(
                Elem::Scalar,
                stats(StatKind::Sum),
                with_prior(GeometricProbFromStats, GeometricProbModeFromStats),
            ),
            Rule::GammaRate => {
                let shape = Operand::Number(self.gamma_shape(u));
                let finish = match count_prior {
                    Some((alpha, beta)) => call(
                        GammaRateModeFromStats,
                        vec![
                            Operand::Pooled,
                            Operand::PooledCount,
                            shape,
                            Operand::Number(alpha),
                            Operand::Number(beta),
                        ],
                    ),
                    None => call(
                        GammaRateFromStats,
                        vec![Operand::Pooled, Operand::PooledCount, shape],
                    ),
                };
                pooled(Elem::Scalar, stats(StatKind::Sum), finish)
            }
            Rule::Probability => {
                first_element = slot.elem == Elem::Scalar;
                pooled(
                    stat_elem(StatKind::Sum),
                    stats(StatKind::Sum),
                    with_prior(ProbsFromStats, ProbsModeFromStats),
                )
            }
            Rule::Probabilities => pooled(
                stat_elem(StatKind::Counts),
                stats(StatKind::Counts),
                simplex(Operand::Pooled),
            ),
        };
        UpdateStep {
            param: i,
            rule: u.rule,
            sources: u.sources.clone(),
            per_component: per_k,
            value,
            first_element,
        }
    }

    /// Statistic `kind` of every block an update pools, as pooled terms.
    fn source_stats(&self, u: &crate::plan::Update, kind: StatKind) -> Vec<Term> {
        u.sources
            .iter()
            .map(|&b| Term {
                value: TermValue::Operand(self.stat(b, kind, false)),
                sum_elements: false,
                count: None,
            })
            .collect()
    }

    /// The sums of every block a mean pools, each counting its rows (a Student-t block: its
    /// rows weighted by the scales' posterior means, `Σ r w`).
    fn mean_terms(&self, u: &crate::plan::Update) -> Vec<Term> {
        u.sources
            .iter()
            .map(|&b| Term {
                value: TermValue::Operand(self.stat(b, StatKind::Sum, false)),
                sum_elements: false,
                count: matches!(self.plan.blocks[b].kind, BlockKind::StudentT { .. })
                    .then(|| self.stat(b, StatKind::ScaleWeight, false)),
            })
            .collect()
    }

    /// The sums of every binomial block a probability pools, each counting its expected
    /// trials `Σ_n r_nk T_n` (statements of different trials pool).
    fn binomial_terms(&self, u: &crate::plan::Update) -> Vec<Term> {
        u.sources
            .iter()
            .map(|&b| Term {
                value: TermValue::Operand(self.stat(b, StatKind::Sum, false)),
                sum_elements: false,
                count: Some(self.stat(b, StatKind::Trials, false)),
            })
            .collect()
    }

    /// The shape of statistic `kind` of an update's (first) block.
    fn source_stat_elem(&self, u: &crate::plan::Update, kind: StatKind) -> Elem {
        self.program
            .stats
            .iter()
            .find(|s| s.block == u.sources[0] && s.kind == kind)
            .expect("statistic")
            .elem
    }

    /// The scatter a Gaussian block contributes to a scale update, about the new means.
    fn scatter_term(&self, rule: Rule, b: usize) -> Term {
        use Kernel::*;
        let n = Operand::Count(self.stat_at());
        let block = &self.plan.blocks[b];
        if let BlockKind::LinearGaussian { loading, mean, .. } = block.kind {
            let mut args = vec![self.p(Src::Prev, mean)];
            args.extend(self.linear_stats(b, false));
            args.extend([
                n,
                self.p(Src::Next, loading),
                self.p(Src::Next, mean),
                self.p(Src::Prev, loading),
            ]);
            return Term {
                value: TermValue::Call(call(FactorResidual, args)),
                sum_elements: rule == Rule::Variance,
                count: None,
            };
        }
        if let BlockKind::StudentT { mean, .. } = block.kind {
            // The scatter weighted by `r w` about the new mean (its count is `Σ r w`).
            return Term {
                value: TermValue::Call(call(
                    ScatterAbout,
                    vec![
                        self.p(Src::Prev, mean),
                        self.stat(b, StatKind::Sum, false),
                        self.stat(b, StatKind::Scatter, false),
                        self.stat(b, StatKind::ScaleWeight, false),
                        self.p(Src::Next, mean),
                    ],
                )),
                sum_elements: false,
                count: None,
            };
        }
        if block.kind.regression().is_some() {
            let (beta, c) = self.regression_params(b, Src::Prev);
            let (beta_next, c_next) = self.regression_params(b, Src::Next);
            let [scatter, cross, sq] = self.regression_stats(b, false);
            let kernel = match block.kind {
                BlockKind::MvRegression {
                    cov: Cov::Full(_), ..
                } => MvRegressionResidualScatter,
                BlockKind::MvRegression { .. } => MvRegressionResidualSumsq,
                _ => RegressionResidual,
            };
            return Term {
                value: TermValue::Call(call(
                    kernel,
                    vec![beta, c, scatter, cross, sq, beta_next, c_next],
                )),
                sum_elements: false,
                count: None,
            };
        }
        let (BlockKind::MvNormal { mean, .. } | BlockKind::Normal { mean, .. }) = block.kind else {
            unreachable!("scales belong to Gaussian blocks")
        };
        let (c, m) = (self.p(Src::Prev, mean), self.p(Src::Next, mean));
        let sum = self.stat(b, StatKind::Sum, false);
        if matches!(block.kind, BlockKind::Normal { .. }) {
            let sq = self.stat(b, StatKind::SumSq, false);
            return Term {
                value: TermValue::Call(call(ScalarScatterAbout, vec![c, sum, sq, n, m])),
                sum_elements: false,
                count: None,
            };
        }
        let (kernel, second) = match rule {
            Rule::Covariance => (ScatterAbout, StatKind::Scatter),
            _ => (DiagScatterAbout, StatKind::SumSq),
        };
        let second = self.stat(b, second, false);
        Term {
            value: TermValue::Call(call(kernel, vec![c, sum, second, n, m])),
            sum_elements: rule == Rule::Variance,
            count: None,
        }
    }
}

/// Variational Bayes: every parameter with a conjugate prior gets a posterior `q(θ)` in the
/// prior's family, kept as its mean (the parameter's own slot) and a strength (a slot of its
/// own, `posterior_of`); see `jensen_runtime::kernels::vb` for the kernels.
impl Lowering<'_> {
    /// The strength slot's name suffix of each prior family.
    fn strength_suffix(family: PriorFamily) -> &'static str {
        match family {
            PriorFamily::Dirichlet { .. } => "concentration",
            PriorFamily::Gamma { .. } | PriorFamily::InvGamma { .. } => "shape",
            PriorFamily::Beta { .. } => "count",
            PriorFamily::InvWishart { .. } => "dof",
            PriorFamily::NormalMean { .. } => "kappa",
        }
    }

    /// One strength slot per parameter with a prior, after every parameter's own slot.
    fn posterior_layout(&mut self) {
        for (i, u) in self.plan.updates.iter().enumerate() {
            let Some(prior) = &u.prior else { continue };
            let own = &self.program.params[i];
            // The loadings' posterior keeps the rows' covariance factor `V` (`L × L`), which
            // starts at zero: the first E-step is EM's at the starting loadings.
            let (suffix, elem, start) = match (u.rule, own.elem) {
                (Rule::Loadings, Elem::Matrix(_, l)) => {
                    ("row_cov", Elem::Matrix(l, l), Start::Zeros)
                }
                _ => (
                    Self::strength_suffix(prior.family),
                    Elem::Scalar,
                    Start::Fill(1.0),
                ),
            };
            let slot = ParamSlot {
                var: u.param,
                name: format!("{}_{suffix}", own.name),
                per_component: own.per_component,
                elem,
                free: Size::lit(0),
                rule: u.rule,
                start,
                reseed: Reseed::Keep,
                random: None,
                nonzero_columns: false,
                posterior_of: Some(i),
                fixed: None,
            };
            self.program.params.push(slot);
        }
    }

    /// The prior on a mean scaled by covariance (or variance) `scale`, written
    /// `mu[k] ~ MvNormal(m0, Sigma[k] / κ)`: the mean, `m0` and `κ`.
    /// The slots of the priors' hyperparameters that summarise the data.
    fn hyper_layout(&mut self) {
        for u in &self.plan.updates {
            let Some(prior) = &u.prior else { continue };
            let (role, hyper, elem) = match prior.family {
                PriorFamily::NormalMean { mean, .. } => ("mean", mean, self.elem(u.param)),
                PriorFamily::InvWishart { scale, .. } => ("scale", scale, self.elem(u.param)),
                PriorFamily::InvGamma { scale, .. } => ("scale", scale, self.elem(u.param)),
                _ => continue,
            };
            let Hyper::Data {
                summary,
                data,
                factor,
            } = hyper
            else {
                continue;
            };
            self.program.hypers.push(HyperSlot {
                name: format!("{}_prior_{role}", self.plan.model.vars[u.param].name),
                param: u.param,
                summary,
                data,
                factor,
                elem,
            });
        }
    }

    /// A hyperparameter of `param`'s prior: a number, or the slot of a summary of the data.
    fn hyper(&self, param: VarId, h: Hyper) -> Operand {
        match h {
            Hyper::Number(v) => Operand::Number(v),
            Hyper::Data {
                summary,
                data,
                factor,
            } => Operand::Hyper(
                self.program
                    .hypers
                    .iter()
                    .position(|s| {
                        s.param == param
                            && s.summary == summary
                            && s.data == data
                            && s.factor == factor
                    })
                    .expect("every summary in a prior has a slot"),
            ),
        }
    }

    /// The new means `mu` under a prior scaled by `scale`: component `k`'s, or every
    /// component's when the components share the scale (a tied covariance).
    fn means_under(&self, mu: VarId, scale: VarId) -> Operand {
        let slot = self.slot(mu);
        if slot.per_component && !self.slot(scale).per_component {
            param(Src::Next, mu, At::Whole, slot.elem)
        } else {
            self.param_of(Src::Next, mu)
        }
    }

    fn mean_prior_on(&self, scale: VarId) -> Option<(VarId, Hyper, f64)> {
        self.plan.updates.iter().find_map(|v| match v.prior {
            Some(Prior {
                family:
                    PriorFamily::NormalMean {
                        mean,
                        kappa,
                        scale: s,
                    },
                ..
            }) if s == scale => Some((v.param, mean, kappa)),
            _ => None,
        })
    }

    /// The strength slot of parameter `i`'s posterior.
    fn strength_of(&self, i: usize) -> Option<usize> {
        self.program
            .params
            .iter()
            .position(|p| p.posterior_of == Some(i))
    }

    /// Parameter `i`'s strength read from `src` at component `k` (whole when shared).
    fn strength(&self, src: Src, i: usize) -> Operand {
        let slot = self.strength_of(i).expect("a posterior has a strength");
        let at = if self.program.params[slot].per_component {
            At::K
        } else {
            At::Whole
        };
        Operand::Slot { src, slot, at }
    }

    /// Variational Bayes: the slot of the posterior row covariance `V` of loadings `var`
    /// (`None` under EM, or for loadings without a prior, a point estimate).
    fn row_cov_slot(&self, var: VarId) -> Option<usize> {
        if self.program.method != Method::Vb {
            return None;
        }
        let i = self.update_of(var);
        if self.plan.updates[i].rule != Rule::Loadings {
            return None;
        }
        self.strength_of(i)
    }

    /// Parameter `i` read from `src`, as a vector when it is a scalar.
    fn as_vector(&self, src: Src, var: VarId) -> Operand {
        match self.param_of(src, var) {
            Operand::Param {
                src,
                var,
                at,
                elem: Elem::Scalar,
                ..
            } => Operand::Param {
                src,
                var,
                at,
                elem: Elem::Scalar,
                as_vector: true,
            },
            other => other,
        }
    }

    /// The index of `var`'s update.
    fn update_of(&self, var: VarId) -> usize {
        self.plan
            .updates
            .iter()
            .position(|u| u.param == var)
            .expect("every parameter has an update")
    }

    /// The prior family of `var`, if a prior is written.
    fn family(&self, var: VarId) -> Option<PriorFamily> {
        self.plan.updates[self.update_of(var)]
            .prior
            .as_ref()
            .map(|p| p.family)
    }

    /// The variational M-step of parameter `i` (its posterior's mean, then its strength), or
    /// `None` without a prior (a point estimate, updated as by EM).
    fn posterior_updates(&self, i: usize) -> Option<[UpdateStep; 2]> {
        use Kernel::*;
        if self.program.method != Method::Vb {
            return None;
        }
        let u = &self.plan.updates[i];
        let family = u.prior.as_ref()?.family;
        let slot = &self.program.params[i];
        let s = self.strength_of(i)?;
        let per_k = slot.per_component
            && !matches!(
                u.rule,
                Rule::Weights | Rule::InitialProbs | Rule::Transitions
            );
        let num = Operand::Number;
        let (pooled, count) = (Operand::Pooled, Operand::PooledCount);
        let sums = |kind| self.source_stats(u, kind);
        let stat_elem = |kind| self.source_stat_elem(u, kind);
        let both = |acc: Elem, terms: Vec<Term>, value: Call, strength: Call| {
            (
                UpdateValue::Pooled {
                    acc,
                    terms: terms.clone(),
                    finish: value,
                },
                UpdateValue::Pooled {
                    acc,
                    terms,
                    finish: strength,
                },
            )
        };
        let mut first_element = false;
        let (value, strength) = match (u.rule, family) {
            (Rule::Weights | Rule::InitialProbs, PriorFamily::Dirichlet { concentration }) => {
                let counts = if u.rule == Rule::Weights {
                    Operand::LatentCounts
                } else {
                    Operand::LatentInitial
                };
                (
                    UpdateValue::Call(call(
                        DirichletPosteriorMean,
                        vec![counts.clone(), num(concentration)],
                    )),
                    UpdateValue::Call(call(
                        DirichletPosteriorTotal,
                        vec![counts, num(concentration)],
                    )),
                )
            }
            (Rule::Transitions, PriorFamily::Dirichlet { concentration }) => (
                UpdateValue::Call(call(
                    TransitionsPosteriorMean,
                    vec![Operand::LatentTransitions, num(concentration)],
                )),
                UpdateValue::Call(call(
                    TransitionsPosteriorTotal,
                    vec![Operand::LatentTransitions, num(concentration)],
                )),
            ),
            (Rule::Probabilities, PriorFamily::Dirichlet { concentration }) => both(
                stat_elem(StatKind::Counts),
                sums(StatKind::Counts),
                call(DirichletPosteriorMean, vec![pooled, num(concentration)]),
                call(
                    DirichletPosteriorTotal,
                    vec![Operand::Pooled, num(concentration)],
                ),
            ),
            // The loadings' normal posterior given the noise: the ridge of the MAP update is its
            // mean, `V = (α I + S_h)⁻¹` its rows' covariance factor.
            (Rule::Loadings, PriorFamily::NormalMean { kappa: alpha, .. }) => {
                let b = u.sources[0];
                let BlockKind::LinearGaussian { loading, .. } = self.plan.blocks[b].kind else {
                    unreachable!("loadings belong to linear-Gaussian blocks")
                };
                let [sum, _, hs, cr, hh] =
                    <[Operand; 5]>::try_from(self.linear_stats(b, false)).expect("five statistics");
                let n = Operand::Count(self.stat_at());
                (
                    UpdateValue::Call(call(
                        LoadingsModeFromStats,
                        vec![
                            self.p(Src::Prev, loading),
                            n,
                            sum,
                            hs,
                            cr,
                            hh.clone(),
                            num(alpha),
                        ],
                    )),
                    UpdateValue::Call(call(LoadingsRowCov, vec![hh, num(alpha)])),
                )
            }
            (Rule::Mean, PriorFamily::NormalMean { mean, kappa, .. }) => {
                let own = param(
                    Src::Prev,
                    u.param,
                    if per_k { At::K } else { At::Whole },
                    slot.elem,
                );
                let kernel = if slot.elem == Elem::Scalar {
                    ScalarMeanModeFromStats
                } else {
                    MeanModeFromStats
                };
                both(
                    slot.elem,
                    sums(StatKind::Sum),
                    call(
                        kernel,
                        vec![
                            own,
                            pooled,
                            count.clone(),
                            num(kappa),
                            self.hyper(u.param, mean),
                        ],
                    ),
                    call(PseudoCount, vec![count, num(kappa)]),
                )
            }
            (
                Rule::Covariance | Rule::DiagonalVariances | Rule::Variance,
                PriorFamily::InvWishart {
                    dof: first,
                    scale: second,
                }
                | PriorFamily::InvGamma {
                    shape: first,
                    scale: second,
                },
            ) => {
                let terms = u
                    .sources
                    .iter()
                    .map(|&b| self.scatter_term(u.rule, b))
                    .collect();
                let acc = match u.rule {
                    Rule::Covariance => stat_elem(StatKind::Scatter),
                    Rule::DiagonalVariances => slot.elem,
                    _ => Elem::Scalar,
                };
                let mean_prior = self.mean_prior_on(u.param);
                let mut args = vec![
                    pooled,
                    count.clone(),
                    num(first),
                    self.hyper(u.param, second),
                ];
                let kernel = match (u.rule, mean_prior) {
                    // The noise of loadings with a prior: each coordinate's `α ‖m_d‖²` (the
                    // loadings integrate out: no rows are added to the count).
                    (rule, Some((w, _, alpha))) if self.slot(w).rule == Rule::Loadings => {
                        args.extend([self.means_under(w, u.param), num(alpha)]);
                        if rule == Rule::DiagonalVariances {
                            NoiseVariancesPosteriorWithLoadingPrior
                        } else {
                            NoiseVariancePosteriorWithLoadingPrior
                        }
                    }
                    (rule, Some((mu, mean, kappa))) => {
                        args.extend([
                            self.means_under(mu, u.param),
                            num(kappa),
                            self.hyper(mu, mean),
                        ]);
                        match rule {
                            Rule::Covariance => CovariancePosteriorWithMeanPrior,
                            Rule::DiagonalVariances => VariancesPosteriorWithMeanPrior,
                            _ if self.slot(mu).elem != Elem::Scalar => {
                                SphericalVariancePosteriorWithMeanPrior
                            }
                            _ => VariancePosteriorWithMeanPrior,
                        }
                    }
                    (Rule::Covariance, None) => CovariancePosterior,
                    (Rule::DiagonalVariances, None) => VariancesPosterior,
                    _ => VariancePosterior,
                };
                let strength = if u.rule == Rule::Covariance {
                    call(PseudoCount, vec![count, num(first)])
                } else {
                    call(InvGammaShape, vec![count, num(first)])
                };
                // The strength needs only the pooled count (of values, for one variance over
                // several coordinates): the sums count it without computing a scatter.
                let counted = u
                    .sources
                    .iter()
                    .map(|&b| Term {
                        value: TermValue::Operand(self.stat(b, StatKind::Sum, false)),
                        // (A univariate Normal's sum is one number already: found by the
                        // log-normal mixture under VB, whose generated code summed a float.)
                        sum_elements: u.rule == Rule::Variance
                            && !matches!(self.plan.blocks[b].kind, BlockKind::Normal { .. }),
                        count: None,
                    })
                    .collect();
                let counted_acc = if u.rule == Rule::Variance {
                    Elem::Scalar
                } else {
                    stat_elem(StatKind::Sum)
                };
                (
                    UpdateValue::Pooled {
                        acc,
                        terms,
                        finish: call(kernel, args),
                    },
                    UpdateValue::Pooled {
                        acc: counted_acc,
                        terms: counted,
                        finish: strength,
                    },
                )
            }
            (Rule::Rate, PriorFamily::Gamma { shape, rate }) => both(
                Elem::Scalar,
                sums(StatKind::Sum),
                call(
                    PoissonRatePosterior,
                    vec![pooled.clone(), count, num(shape), num(rate)],
                ),
                call(PseudoCount, vec![pooled, num(shape)]),
            ),
            (Rule::ExponentialRate, PriorFamily::Gamma { shape, rate }) => both(
                Elem::Scalar,
                sums(StatKind::Sum),
                call(
                    ExponentialRatePosterior,
                    vec![pooled, count.clone(), num(shape), num(rate)],
                ),
                call(PseudoCount, vec![count, num(shape)]),
            ),
            // (The pooled count is the expected number of trials.)
            (Rule::BinomialProb, PriorFamily::Beta { a, b }) => both(
                Elem::Scalar,
                self.binomial_terms(u),
                call(
                    BinomialPosteriorMean,
                    vec![pooled, count.clone(), num(a), num(b)],
                ),
                call(PseudoCount, vec![count, num(a + b)]),
            ),
            (Rule::GeometricProb, PriorFamily::Beta { a, b }) => both(
                Elem::Scalar,
                sums(StatKind::Sum),
                call(
                    GeometricPosteriorMean,
                    vec![pooled.clone(), count.clone(), num(a), num(b)],
                ),
                call(GeometricPseudoCount, vec![pooled, count, num(a + b)]),
            ),
            (Rule::GammaRate, PriorFamily::Gamma { shape, rate }) => {
                let a = num(self.gamma_shape(u));
                both(
                    Elem::Scalar,
                    sums(StatKind::Sum),
                    call(
                        GammaRatePosterior,
                        vec![pooled, count.clone(), a.clone(), num(shape), num(rate)],
                    ),
                    call(GammaPseudoCount, vec![count, a, num(shape)]),
                )
            }
            (Rule::Probability, PriorFamily::Beta { a, b }) => {
                first_element = slot.elem == Elem::Scalar;
                both(
                    stat_elem(StatKind::Sum),
                    sums(StatKind::Sum),
                    call(
                        BetaPosteriorMean,
                        vec![pooled, count.clone(), num(a), num(b)],
                    ),
                    call(PseudoCount, vec![count, num(a + b)]),
                )
            }
            _ => return None,
        };
        let step = |param, value, first_element| UpdateStep {
            param,
            rule: u.rule,
            sources: u.sources.clone(),
            per_component: per_k,
            value,
            first_element,
        };
        Some([step(i, value, first_element), step(s, strength, false)])
    }

    /// The effective parameters, the blocks' offsets and the KL terms.
    fn variational(&mut self) {
        use Kernel::*;
        for (i, u) in self.plan.updates.iter().enumerate() {
            let Some(prior) = &u.prior else { continue };
            let slot = &self.program.params[i];
            let scalar = slot.elem == Elem::Scalar;
            let own = self.param_of(Src::Params, u.param);
            let strength = self.strength(Src::Params, i);
            let num = Operand::Number;
            let effective = match (u.rule, prior.family) {
                (_, PriorFamily::Dirichlet { .. }) => Some(call(
                    DirichletGeometricMean,
                    vec![own.clone(), strength.clone()],
                )),
                (Rule::Rate, PriorFamily::Gamma { .. }) => Some(call(
                    GammaGeometricMean,
                    vec![own.clone(), strength.clone()],
                )),
                (Rule::GeometricProb, PriorFamily::Beta { .. }) => Some(call(
                    GeometricEffective,
                    vec![own.clone(), strength.clone()],
                )),
                (_, PriorFamily::Beta { .. }) => Some(call(
                    BetaEffective,
                    vec![self.as_vector(Src::Params, u.param), strength.clone()],
                )),
                _ => None,
            };
            if let Some(call) = effective {
                self.program.effective.push(EffectiveStep {
                    param: i,
                    per_component: slot.per_component,
                    call,
                    // (A Bernoulli block's effective probabilities are a vector, a geometric
                    // block's one number.)
                    first_element: scalar
                        && matches!(prior.family, PriorFamily::Beta { .. })
                        && u.rule != Rule::GeometricProb,
                });
            }
            let kl = match prior.family {
                PriorFamily::Dirichlet { concentration } => {
                    call(DirichletKl, vec![own, strength, num(concentration)])
                }
                PriorFamily::Gamma { shape, rate } => {
                    call(GammaKl, vec![own, strength, num(shape), num(rate)])
                }
                PriorFamily::Beta { a, b } => call(
                    BetaKl,
                    vec![
                        self.as_vector(Src::Params, u.param),
                        strength,
                        num(a),
                        num(b),
                    ],
                ),
                PriorFamily::InvWishart { dof, scale } => call(
                    InvWishartKl,
                    vec![own, strength, num(dof), self.hyper(u.param, scale)],
                ),
                PriorFamily::InvGamma { shape, scale } => call(
                    if scalar { InvGammaKl } else { InvGammasKl },
                    vec![own, strength, num(shape), self.hyper(u.param, scale)],
                ),
                PriorFamily::NormalMean { kappa, scale, .. } if u.rule == Rule::Loadings => call(
                    LoadingsKl,
                    vec![own, strength, num(kappa), self.param_of(Src::Params, scale)],
                ),
                PriorFamily::NormalMean { mean, kappa, scale } => {
                    let kernel = match (slot.elem, self.slot(scale).elem) {
                        (Elem::Scalar, _) => NormalMeanKl,
                        (_, Elem::Vector(_)) => DiagMeanKl,
                        (_, Elem::Scalar) => SphericalMeanKl,
                        _ => MvnMeanKl,
                    };
                    call(
                        kernel,
                        vec![
                            own,
                            strength,
                            self.param_of(Src::Params, scale),
                            self.hyper(u.param, mean),
                            num(kappa),
                        ],
                    )
                }
            };
            self.program.kl.push(PriorTerm {
                param: i,
                per_component: slot.per_component,
                call: kl,
                factor: prior.factor,
            });
        }
        for b in 0..self.plan.blocks.len() {
            let offsets = self.block_offsets(b);
            self.program.offsets.extend(offsets);
        }
    }

    /// Block `b`'s offsets `E_q[ln p(x | θ)] − ln p(x | θ̃)`, one call per parameter with a
    /// posterior (none for a categorical block, whose effective probabilities are exact).
    fn block_offsets(&self, b: usize) -> Vec<Call> {
        use Kernel::*;
        let mut calls = Vec::new();
        let with = |var: VarId| {
            let i = self.update_of(var);
            self.family(var).map(|f| {
                (
                    f,
                    self.param_of(Src::Params, var),
                    self.strength(Src::Params, i),
                )
            })
        };
        match self.plan.blocks[b].kind {
            BlockKind::MvNormal { mean, cov } => {
                if let Some((PriorFamily::NormalMean { .. }, m, kappa)) = with(mean.param) {
                    calls.push(call(MeanOffset, vec![m, kappa]));
                }
                match cov {
                    Cov::Full(p) => {
                        if let Some((PriorFamily::InvWishart { .. }, c, dof)) = with(p.param) {
                            calls.push(call(WishartOffset, vec![c, dof]));
                        }
                    }
                    Cov::Diag(p) => {
                        if let Some((PriorFamily::InvGamma { .. }, v, shape)) = with(p.param) {
                            calls.push(call(InvGammaOffset, vec![v, shape]));
                        }
                    }
                    Cov::Spherical(p) => {
                        // One variance over the block's D coordinates: the mean has length D.
                        if let Some((PriorFamily::InvGamma { .. }, _, shape)) = with(p.param) {
                            let m = self.param_of(Src::Params, mean.param);
                            calls.push(call(InvGammaOffset, vec![m, shape]));
                        }
                    }
                    Cov::Fixed(_) => {}
                }
            }
            BlockKind::Normal { mean, var } => {
                if let Some((PriorFamily::NormalMean { .. }, _, kappa)) = with(mean.param) {
                    calls.push(call(ScalarMeanOffset, vec![kappa]));
                }
                if let Some((PriorFamily::InvGamma { .. }, _, shape)) = with(var.param) {
                    calls.push(call(InvGammaScalarOffset, vec![shape]));
                }
            }
            BlockKind::Poisson { rate } => {
                if let Some((_, r, shape)) = with(rate.param) {
                    calls.push(call(PoissonRateOffset, vec![r, shape]));
                }
            }
            BlockKind::Exponential { rate } => {
                if let Some((_, _, shape)) = with(rate.param) {
                    calls.push(call(GammaLogOffset, vec![shape]));
                }
            }
            BlockKind::Binomial { trials, prob } => {
                // (The checker refuses trials from a column under variational Bayes: each row's
                // offset would be its own.)
                if let (Some((_, _, total)), Trials::Known(t)) = (with(prob.param), trials) {
                    calls.push(call(
                        BinomialOffset,
                        vec![
                            self.as_vector(Src::Params, prob.param),
                            total,
                            Operand::Number(t),
                        ],
                    ));
                }
            }
            BlockKind::Geometric { prob } => {
                if let Some((_, p, total)) = with(prob.param) {
                    calls.push(call(GeometricOffset, vec![p, total]));
                }
            }
            BlockKind::Gamma { shape: a, rate } => {
                if let Some((_, _, shape)) = with(rate.param) {
                    calls.push(call(GammaShapeLogOffset, vec![shape, Operand::Number(a)]));
                }
            }
            BlockKind::Bernoulli { prob } => {
                if let Some((_, _, total)) = with(prob.param) {
                    calls.push(call(
                        BetaOffset,
                        vec![self.as_vector(Src::Params, prob.param), total],
                    ));
                }
            }
            BlockKind::LinearGaussian {
                loading,
                mean,
                noise,
            } => {
                // `½ (E[ln ψ⁻¹] − ln E[ψ⁻¹])` per coordinate, one variance over D coordinates
                // for isotropic noise (the mean has length D).
                if let Some(p) = noise.pref() {
                    if let Some((PriorFamily::InvGamma { .. }, v, shape)) = with(p.param) {
                        let v = match noise {
                            Cov::Spherical(_) => self.param_of(Src::Params, mean.param),
                            _ => v,
                        };
                        calls.push(call(InvGammaOffset, vec![v, shape]));
                    }
                }
                if let Some((PriorFamily::NormalMean { .. }, w, row_cov)) = with(loading.param) {
                    calls.push(call(LoadingsOffset, vec![w, row_cov]));
                }
            }
            // The effective probabilities `exp E[ln θ]` make the expected density exact.
            BlockKind::Categorical { .. }
            | BlockKind::Multinomial { .. }
            // (The derivation refuses variational Bayes for a regression and a latent scale.)
            | BlockKind::Regression { .. }
            | BlockKind::MvRegression { .. }
            | BlockKind::StudentT { .. } => {}
        }
        calls
    }
}
