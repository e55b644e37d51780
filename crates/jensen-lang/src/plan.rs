//! The update plan: the derivation's result. It names the latent structure ([`Latent`]: an
//! independent categorical per row, a Markov chain, or a single component, plus an optional
//! continuous latent), the conjugate emission blocks in statement order ([`Block`]), and the
//! closed-form rule of every parameter with the blocks whose statistics it pools
//! ([`Update`]).
//!
//! The back-ends do not read the plan directly to decide what to compute: it is lowered once
//! to a [`Program`](crate::program::Program) of kernel calls, which the generated Rust prints,
//! the executor interprets and `jensen explain` describes.

use serde::Serialize;

use crate::ir::{Model, SetId, SetSize, Summary, VarId};

/// A derived model, ready for the back-ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The checked model.
    pub model: Model,
    /// The discrete latent structure and its posterior form.
    pub latent: Latent,
    /// A continuous latent vector per row with a standard Normal prior, emitted through
    /// linear-Gaussian blocks (factor analysis, PPCA, mixtures of factor analysers).
    pub continuous: Option<ContinuousLatent>,
    /// Emission blocks in statement order.
    pub blocks: Vec<Block>,
    /// One M-step per parameter, in declaration order.
    pub updates: Vec<Update>,
    /// The data item of type `weight` (`data w[N]: weight`): a weight per row, multiplying
    /// the row's statistics and its terms of the objective. In a chain, every row of a
    /// sequence has the sequence's weight.
    pub row_weights: Option<VarId>,
}

/// The latent structure, which fixes the form of the E-step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Latent {
    /// `z[n] ~ Categorical(w)`, independent per row: the posterior is a categorical per row,
    /// computed by normalising the log-joint in log space.
    Categorical {
        /// The latent variable.
        var: VarId,
        /// Its rows.
        rows: SetId,
        /// Its values `0..K`.
        components: SetId,
        /// The mixing weights; `None` for equal, fixed weights (`Categorical(1 / K)`).
        weights: Option<VarId>,
        /// The prior statement (index in `model.factors`).
        factor: usize,
    },
    /// `z[0] ~ Categorical(p0)` and `z[t] ~ Categorical(A[z[t-1]])`: a first-order Markov
    /// chain along each sequence (a hidden Markov model). The posterior comes from the
    /// forward–backward recursions; the M-step of `p0` and `A` is Baum–Welch.
    Chain {
        /// The latent variable.
        var: VarId,
        /// Its rows (time steps of every sequence, one after another).
        rows: SetId,
        /// Its values `0..K`.
        components: SetId,
        /// The initial distribution `p0: simplex[K]`.
        initial: VarId,
        /// The transition matrix `A[K]: simplex[K]` (row = from).
        transition: VarId,
        /// The statement `z[0] ~ Categorical(p0)` (index in `model.factors`).
        initial_factor: usize,
        /// The statement `z[t] ~ Categorical(A[z[t-1]])` (index in `model.factors`).
        transition_factor: usize,
    },
    /// No discrete latent: a single component, as in factor analysis, where the only latent
    /// is continuous.
    Single {
        /// The rows.
        rows: SetId,
    },
}

/// `latent h[N]: vector[L]` with `h[n] ~ MvNormal(0, I)`: integrated out in closed form by
/// the linear-Gaussian blocks that use it; its posterior per row is Gaussian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContinuousLatent {
    /// The latent variable.
    pub var: VarId,
    /// Its rows.
    pub rows: SetId,
    /// Its dimension `L`.
    pub dim: SetId,
    /// The prior statement (index in `model.factors`).
    pub factor: usize,
}

impl Latent {
    /// The discrete latent variable and its values (`None` without one).
    pub fn var_components(&self) -> Option<(VarId, SetId)> {
        match *self {
            Latent::Categorical {
                var, components, ..
            }
            | Latent::Chain {
                var, components, ..
            } => Some((var, components)),
            Latent::Single { .. } => None,
        }
    }

    /// The rows.
    pub fn rows(&self) -> SetId {
        match *self {
            Latent::Categorical { rows, .. }
            | Latent::Chain { rows, .. }
            | Latent::Single { rows } => rows,
        }
    }

    /// The statements that give the latent its prior (indices in `model.factors`).
    pub fn prior_factors(&self) -> Vec<usize> {
        match *self {
            Latent::Categorical { factor, .. } => vec![factor],
            Latent::Chain {
                initial_factor,
                transition_factor,
                ..
            } => vec![initial_factor, transition_factor],
            Latent::Single { .. } => Vec::new(),
        }
    }

    /// Whether this is a chain.
    pub fn is_chain(&self) -> bool {
        matches!(self, Latent::Chain { .. })
    }
}

/// A parameter argument: the parameter and whether it is selected by the latent (`mu[z[n]]`)
/// or shared by all components (`Sigma`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PRef {
    /// The parameter.
    pub param: VarId,
    /// Selected by the latent's value.
    pub per_component: bool,
}

/// Covariance structure of a multivariate Normal block, read off the declaration and use of
/// its covariance argument.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Cov {
    /// `Sigma[z[n]]` or `Sigma` with `cov[D]`.
    Full(PRef),
    /// `diag(v[z[n]])` or `diag(v)` with `positive[D]`.
    Diag(PRef),
    /// `s[z[n]] * I` or `s * I` with `positive`.
    Spherical(PRef),
    /// A known covariance `c I`: `I` (`c = 1`) or `2.5 * I`; nothing to update.
    Fixed(f64),
}

impl Cov {
    /// The covariance parameter (`None` for a fixed covariance).
    pub fn pref(self) -> Option<PRef> {
        match self {
            Cov::Full(p) | Cov::Diag(p) | Cov::Spherical(p) => Some(p),
            Cov::Fixed(_) => None,
        }
    }
}

/// An emission block: one `~` statement on data, conditioned on the latent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    /// The statement (index in `model.factors`).
    pub factor: usize,
    /// The observed data item.
    pub data: VarId,
    /// Family and parameters.
    pub kind: BlockKind,
    /// The block models the logarithm of its data (`LogNormal(m, v)`: a `Normal` block on
    /// `ln x`, with the Jacobian `−ln x` of each row in the objective). Its data item is
    /// modelled by no other statement, so the item is held as `ln x` once bound.
    pub log_scale: bool,
}

/// Conjugate exponential-family emissions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum BlockKind {
    /// Multivariate Normal.
    MvNormal {
        /// Mean parameter.
        mean: PRef,
        /// Covariance structure.
        cov: Cov,
    },
    /// Univariate Normal with a variance parameter.
    Normal {
        /// Mean parameter.
        mean: PRef,
        /// Variance parameter.
        var: PRef,
    },
    /// Poisson counts.
    Poisson {
        /// Rate parameter.
        rate: PRef,
    },
    /// Exponential positive data.
    Exponential {
        /// Rate parameter.
        rate: PRef,
    },
    /// Successes in a number of trials, known or read per row.
    Binomial {
        /// The number of trials: a whole number in the model file, or a count column.
        trials: Trials,
        /// Success probability parameter.
        prob: PRef,
    },
    /// Counts of failures before the first success.
    Geometric {
        /// Success probability parameter.
        prob: PRef,
    },
    /// Positive data from a Gamma of known shape (`Gamma(2.0, b[z[n]])`).
    Gamma {
        /// The shape `a`, a number in the model file.
        shape: f64,
        /// Rate parameter.
        rate: PRef,
    },
    /// Independent Bernoulli bits (a `binary` or `binary[D]` item).
    Bernoulli {
        /// Probability parameter.
        prob: PRef,
    },
    /// A categorical value `0..C`.
    Categorical {
        /// Probability vector parameter.
        probs: PRef,
    },
    /// A vector of counts over `V` categories (a `count[V]` item), with the row's total
    /// known: `ln p(x | θ) = ln (Σ_v x_v)! − Σ_v ln x_v! + Σ_v x_v ln θ_v`.
    Multinomial {
        /// Probability vector parameter.
        probs: PRef,
    },
    /// A multivariate Student-t with `ν` known, as a Normal whose covariance a per-row latent
    /// scale divides: `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]] / u[n])` with
    /// `u[n] ~ Gamma(ν/2, ν/2)` (a robust mixture).
    StudentT {
        /// Mean parameter.
        mean: PRef,
        /// Full covariance (scale matrix) parameter.
        cov: PRef,
        /// The degrees of freedom `ν`.
        nu: f64,
        /// The latent scale.
        scale: VarId,
    },
    /// A Normal response whose mean is linear in a data item (a regression):
    /// `y[n] ~ Normal(dot(beta[z[n]], u[n]) + c[z[n]], s[z[n]])`, or `beta[z[n]] * u[n]` with
    /// one `real` covariate.
    Regression {
        /// The coefficients (`vector[P]`, or `real` for one `real` covariate).
        coef: PRef,
        /// The intercept (`real`), when the mean has one.
        intercept: Option<PRef>,
        /// The variance (`positive`).
        var: PRef,
        /// The covariates: a `vector[P]` or `real` data item of the same rows.
        covariates: VarId,
    },
    /// A multivariate Normal response whose mean is linear in a data item (a multivariate
    /// regression): `x[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])` with
    /// `B: matrix[D, P]`; each response coordinate is a regression on the same design.
    MvRegression {
        /// The coefficients (`matrix[D, P]`).
        coef: PRef,
        /// The intercept (`vector[D]`), when the mean has one.
        intercept: Option<PRef>,
        /// The covariance of the residuals (`Cov::Full` or `Cov::Diag`).
        cov: Cov,
        /// The covariates: a `vector[P]` data item of the same rows.
        covariates: VarId,
    },
    /// `x[n] ~ MvNormal(W * h[n] + mu, Psi)`: a linear-Gaussian emission of the continuous
    /// latent `h`, whose marginal is `N(mu, W Wᵀ + Psi)`; `Psi` is diagonal (factor
    /// analysis) or spherical (probabilistic PCA).
    LinearGaussian {
        /// The loading matrix `W`, `matrix[D, L]`.
        loading: PRef,
        /// The offset `mu`, `vector[D]`.
        mean: PRef,
        /// The noise covariance (`Cov::Diag` or `Cov::Spherical`).
        noise: Cov,
    },
}

/// A binomial block's number of trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Trials {
    /// The same known number `T` in every row (`Binomial(20, p[z[n]])`).
    Known(f64),
    /// A count column of the same rows (`Binomial(t[n], p[z[n]])`).
    Column(VarId),
}

impl BlockKind {
    /// The known shape of a Gamma block.
    pub fn gamma_shape(&self) -> Option<f64> {
        match self {
            BlockKind::Gamma { shape, .. } => Some(*shape),
            _ => None,
        }
    }

    /// The number of trials of a binomial block.
    pub fn trials(&self) -> Option<Trials> {
        match self {
            BlockKind::Binomial { trials, .. } => Some(*trials),
            _ => None,
        }
    }

    /// A regression's coefficients, intercept and covariates (univariate or multivariate).
    pub fn regression(&self) -> Option<(PRef, Option<PRef>, VarId)> {
        match *self {
            BlockKind::Regression {
                coef,
                intercept,
                covariates,
                ..
            }
            | BlockKind::MvRegression {
                coef,
                intercept,
                covariates,
                ..
            } => Some((coef, intercept, covariates)),
            _ => None,
        }
    }

    /// Whether the block keeps full scatter matrices (rather than diagonal sums of squares).
    pub fn full_scatter(&self) -> bool {
        matches!(
            self,
            BlockKind::MvNormal {
                cov: Cov::Full(_),
                ..
            } | BlockKind::StudentT { .. }
                | BlockKind::MvRegression {
                    cov: Cov::Full(_),
                    ..
                }
        )
    }

    /// The statistics this block accumulates per component, beyond the latent's counts.
    pub fn stats(&self) -> &'static [StatKind] {
        match self {
            BlockKind::MvNormal {
                cov: Cov::Full(_), ..
            } => &[StatKind::Sum, StatKind::Scatter],
            BlockKind::StudentT { .. } => &[
                StatKind::Sum,
                StatKind::Scatter,
                StatKind::ScaleWeight,
                StatKind::ScaleConstant,
            ],
            BlockKind::MvNormal { .. } | BlockKind::Normal { .. } => {
                &[StatKind::Sum, StatKind::SumSq]
            }
            BlockKind::LinearGaussian { .. } => &[
                StatKind::Sum,
                StatKind::ResidualSq,
                StatKind::LatentSum,
                StatKind::Cross,
                StatKind::LatentScatter,
            ],
            BlockKind::Poisson { .. }
            | BlockKind::Exponential { .. }
            | BlockKind::Geometric { .. }
            | BlockKind::Bernoulli { .. } => &[StatKind::Sum],
            BlockKind::Gamma { .. } => &[StatKind::Sum, StatKind::LogSum],
            // `Σ r T_n` pools statements of different numbers of trials (the coefficient
            // `ln C(T, x)` is a term of the data alone, kept per row: `RowTerms::LogChoose`).
            BlockKind::Binomial { .. } => &[StatKind::Sum, StatKind::Trials],
            BlockKind::Categorical { .. } => &[StatKind::Counts],
            BlockKind::Regression { .. }
            | BlockKind::MvRegression {
                cov: Cov::Diag(_), ..
            } => &[
                StatKind::DesignScatter,
                StatKind::DesignCross,
                StatKind::SumSq,
            ],
            // (By derivation a multivariate regression's covariance is full or diagonal.)
            BlockKind::MvRegression { .. } => &[
                StatKind::DesignScatter,
                StatKind::DesignCross,
                StatKind::Scatter,
            ],
            // The counts are `Σ_n r_nk x_nv` (the multinomial coefficient is a term of the
            // data alone, kept per row: `RowTerms::LogCoefficient`).
            BlockKind::Multinomial { .. } => &[StatKind::Counts],
        }
    }
}

/// Kinds of accumulated statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatKind {
    /// `Σ_n r_nk (x_n − c_k)` (Gaussian blocks, about the previous mean `c_k`) or `Σ_n r_nk x_n`.
    Sum,
    /// `Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ`.
    Scatter,
    /// `Σ_n r_nk ln x_n` (Gamma blocks, for the objective).
    LogSum,
    /// `Σ_n r_nk T_n`, the expected number of trials (binomial blocks).
    Trials,
    /// `Σ_n r_nk (x_n − c_k)²` elementwise (a regression: `Σ_n r_nk e_n²`, the residuals
    /// `e_n = y_n − β_cᵀ u_n − c_c` under the coefficients before the M-step).
    SumSq,
    /// `Σ_n r_nk a_n a_nᵀ` over a regression's design `a_n = (u_n, 1)` (the covariates, and 1
    /// for the intercept when there is one).
    DesignScatter,
    /// `Σ_n r_nk a_n e_n`, the design against the residuals (`Σ_n r_nk a_n e_nᵀ` for a
    /// multivariate response; its `Scatter` or `SumSq` is then `Σ_n r_nk e_n e_nᵀ` or its
    /// diagonal).
    DesignCross,
    /// `Σ_n r_nk w_nk`, `w = E[u | x, z]` the latent scale's posterior mean (a Student-t
    /// block; its `Sum` and `Scatter` are weighted by `r w`).
    ScaleWeight,
    /// `Σ_n r_nk [(D/2 + ν/2 − 1) E[ln u] − (ν/2) w + H(q(u))]`: the objective's terms of the
    /// latent scale that do not depend on the parameters.
    ScaleConstant,
    /// `Σ_n r_nk [x_n = c]` per category (`Σ_n r_nk x_nc` for a vector of counts).
    Counts,
    /// `Σ_n r_nk E[h_n]` (linear-Gaussian blocks).
    LatentSum,
    /// `Σ_n r_nk E[h_n] (x_n − c_k)ᵀ`, `L × D`.
    Cross,
    /// `Σ_n r_nk E[h_n h_nᵀ]`, `L × L`.
    LatentScatter,
    /// `Σ_n r_nk E[(x_n − c_k − W h_n)²]` elementwise, under the loadings `W` and the
    /// posterior of the E-step: the noise update and the ELBO expand about this residual
    /// instead of subtracting large terms from `Σ r (x − c)²`.
    ResidualSq,
    /// `Σ_n r_nk H_nk`: the entropy of the missing cells' conditional distribution given the
    /// observed ones (with any part of their expected log-density the other statistics do
    /// not carry), for the rows with a missing cell.
    GapEntropy,
}

impl StatKind {
    /// Field-name suffix in generated code.
    pub fn suffix(self) -> &'static str {
        match self {
            StatKind::Sum => "sum",
            StatKind::Scatter => "scatter",
            StatKind::SumSq => "sumsq",
            StatKind::Counts => "counts",
            StatKind::LogSum => "log_sum",
            StatKind::Trials => "trials",
            StatKind::LatentSum => "h_sum",
            StatKind::Cross => "cross",
            StatKind::LatentScatter => "h_scatter",
            StatKind::ResidualSq => "resid_sq",
            StatKind::GapEntropy => "gap_entropy",
            StatKind::DesignScatter => "design_scatter",
            StatKind::DesignCross => "design_cross",
            StatKind::ScaleWeight => "scale_weight",
            StatKind::ScaleConstant => "scale_constant",
        }
    }
}

/// The closed-form M-step of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Update {
    /// The parameter.
    pub param: VarId,
    /// The formula.
    pub rule: Rule,
    /// The blocks whose statistics are pooled (indices into [`Plan::blocks`]).
    pub sources: Vec<usize>,
    /// The conjugate prior written on the parameter: the M-step is then the posterior
    /// mode (MAP-EM), and `ln p(θ)` enters the objective.
    pub prior: Option<Prior>,
}

/// A conjugate prior on a parameter, from a statement such as `w ~ Dirichlet(2.0)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prior {
    /// The family and its hyperparameters.
    pub family: PriorFamily,
    /// The statement (index in `model.factors`).
    pub factor: usize,
}

/// The conjugate prior families.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum PriorFamily {
    /// A symmetric Dirichlet with concentration `α ≥ 1` on a simplex (each row of a
    /// per-component simplex): `α − 1` pseudo-counts per entry.
    Dirichlet {
        /// `α`.
        concentration: f64,
    },
    /// An inverse-Gamma `IG(a, b)` on a variance (on each entry of a vector of variances),
    /// `p(σ²) ∝ (σ²)^−(a+1) exp(−b/σ²)`: the mode adds `2b` to the sum of squares and
    /// `2a + 2` to the count. `a = −1` is the flat-volume prior (hmmlearn's default).
    InvGamma {
        /// The shape `a ≥ −1`.
        shape: f64,
        /// The scale `b > 0`: a number, or `c · var(x)` per coordinate (averaged over the
        /// coordinates for one variance shared by them).
        scale: Hyper,
    },
    /// An inverse-Wishart `IW(ν, c I)` on a covariance matrix,
    /// `p(Σ) ∝ |Σ|^−(ν+D+1)/2 exp(−½ c tr Σ⁻¹)`: the mode adds `c I` to the scatter and
    /// `ν + D + 1` to the count.
    InvWishart {
        /// The degrees of freedom `ν`.
        dof: f64,
        /// The scale matrix: a number `c` for `c I`, or `c · cov(x)`.
        scale: Hyper,
    },
    /// A Gamma `Gamma(a, b)` (shape, rate) on a Poisson, exponential or Gamma rate: `a − 1`
    /// pseudo-events over `b` pseudo-rows (`a ≥ 1`).
    Gamma {
        /// The shape `a`.
        shape: f64,
        /// The rate `b`.
        rate: f64,
    },
    /// A Normal prior on a mean with the block's own covariance over `κ`,
    /// `μ ~ N(m0, Σ / κ)` (with the prior on `Σ`, a normal-inverse-Wishart or
    /// normal-inverse-Gamma prior): the mode adds `κ` pseudo-rows at `m0` to the mean, and
    /// `κ (μ − m0)(μ − m0)ᵀ` and one row to the scale's update.
    NormalMean {
        /// The prior mean: a number for every coordinate, or `c · mean(x)`.
        mean: Hyper,
        /// The weight `κ > 0`.
        kappa: f64,
        /// The covariance (or variance) parameter the prior's covariance is scaled from.
        scale: VarId,
    },
    /// A Beta `Beta(a, b)` on a Bernoulli probability (each entry): `a − 1` pseudo-ones and
    /// `b − 1` pseudo-zeros (`a, b ≥ 1`).
    Beta {
        /// `a`.
        a: f64,
        /// `b`.
        b: f64,
    },
}

/// A prior's hyperparameter: a number written in the model file, or a multiple of a summary
/// of a data item, computed when the data are bound.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Hyper {
    /// A number (for a scale matrix, `c` of `c I`).
    Number(f64),
    /// `factor · summary(data)`.
    Data {
        /// `mean`, `var` or `cov`.
        summary: Summary,
        /// The data item.
        data: VarId,
        /// The number it is multiplied by.
        factor: f64,
    },
}

impl Hyper {
    /// The number, when it is one.
    pub fn number(self) -> Option<f64> {
        match self {
            Hyper::Number(v) => Some(v),
            Hyper::Data { .. } => None,
        }
    }

    /// As written in the model file: `0.5`, `cov(x)`, `0.5 * var(x)`.
    pub fn render(self, model: &Model) -> String {
        match self {
            Hyper::Number(v) => format!("{v}"),
            Hyper::Data {
                summary,
                data,
                factor,
            } => crate::check::render_summary(summary, &model.vars[data].name, factor),
        }
    }
}

/// M-step formulas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rule {
    /// Mixing weights `w_k = N_k / N`.
    Weights,
    /// A chain's initial distribution: expected initial-state counts over sequences.
    InitialProbs,
    /// A chain's transition matrix: each row proportional to its expected transitions.
    Transitions,
    /// A Gaussian mean: `μ_k = c_k + Σ sums / Σ N_k` over the pooled blocks.
    Mean,
    /// A full covariance: pooled scatter about the new means over pooled counts, plus `εI`.
    Covariance,
    /// Diagonal variances: pooled sums of squares about the new means, plus `ε`.
    DiagonalVariances,
    /// One variance (spherical covariance or univariate Normal): pooled sums of squares over
    /// pooled counts times dimensions, plus `ε`.
    Variance,
    /// Poisson rate: pooled weighted sums over pooled counts.
    Rate,
    /// Exponential rate: pooled counts over pooled weighted sums.
    ExponentialRate,
    /// Geometric success probability: pooled counts over pooled counts plus pooled sums.
    GeometricProb,
    /// Binomial success probability: pooled sums over the pooled expected trials `Σ r T_n`.
    BinomialProb,
    /// Rate of a Gamma of known shape `a`: `a` times the pooled counts over the pooled
    /// weighted sums.
    GammaRate,
    /// Bernoulli probabilities: pooled weighted sums over pooled counts.
    Probability,
    /// Categorical probabilities: pooled category counts, normalised.
    Probabilities,
    /// Loadings of a linear-Gaussian block: the least-squares regression of the data on the
    /// expected latent, jointly with the offset: `W = (C − s_h sᵀ/n)ᵀ (S_h − s_h s_hᵀ/n)⁻¹`.
    Loadings,
    /// The offset of a linear-Gaussian block given the new loadings: `μ = c + (s − W s_h)/n`.
    FactorMean,
    /// A regression's coefficients by weighted least squares: `θ = θ_c + A⁻¹ b` over the
    /// design (jointly with the intercept), solved by a Cholesky factor of `A`.
    RegressionCoefficients,
    /// A regression's intercept given the new coefficients: `c = c_c + (b_c − A_cβ δβ) / N`.
    RegressionIntercept,
}

impl Plan {
    /// Name of a variable.
    pub fn name(&self, v: VarId) -> &str {
        &self.model.vars[v].name
    }

    /// The rows every latent and data item is indexed by.
    pub fn rows(&self) -> SetId {
        self.latent.rows()
    }

    /// The column that gives the discrete latent's value where it is known (partial labels,
    /// `latent z[N]: 0..K from (label)`).
    pub fn label_column(&self) -> Option<&str> {
        let (z, _) = self.latent.var_components()?;
        self.model.vars[z]
            .columns
            .as_ref()?
            .first()
            .map(String::as_str)
    }

    /// The values `0..K` of the discrete latent (`None` without one: a single component).
    pub fn components(&self) -> Option<SetId> {
        self.latent.var_components().map(|(_, k)| k)
    }

    /// The mixing weights of a mixture (`None` for a chain, a single component or equal,
    /// fixed weights).
    pub fn weights(&self) -> Option<VarId> {
        match self.latent {
            Latent::Categorical { weights, .. } => weights,
            Latent::Chain { .. } | Latent::Single { .. } => None,
        }
    }

    /// A chain's `(initial distribution, transition matrix)` (`None` for a mixture).
    pub fn chain(&self) -> Option<(VarId, VarId)> {
        match self.latent {
            Latent::Chain {
                initial,
                transition,
                ..
            } => Some((initial, transition)),
            Latent::Categorical { .. } | Latent::Single { .. } => None,
        }
    }

    /// Whether the E-step can run on the data's summaries instead of the rows: one component
    /// (no discrete latent) and only linear-Gaussian blocks, whose statistics and
    /// log-likelihood are linear in the sample mean and scatter. (The back-ends use it only
    /// when there are more rows than columns, where it is cheaper.)
    pub fn summarised(&self) -> bool {
        self.components().is_none()
            && !self.blocks.is_empty()
            && self
                .blocks
                .iter()
                .all(|b| matches!(b.kind, BlockKind::LinearGaussian { .. }))
    }

    /// The block's name prefix in generated code: the data item's name, suffixed with the
    /// block index when the same item is modelled twice.
    pub fn block_prefix(&self, b: usize) -> String {
        let data = self.blocks[b].data;
        let name = self.name(data).to_string();
        if self.blocks.iter().filter(|o| o.data == data).count() > 1 {
            format!("{name}_{b}")
        } else {
            name
        }
    }

    /// Sets whose size is a constant, with the constant's name and default.
    pub fn constants(&self) -> impl Iterator<Item = (&str, usize)> {
        self.model
            .consts
            .iter()
            .map(|c| (c.name.as_str(), c.default))
    }

    /// Where each set's size comes from.
    pub fn set_size(&self, s: SetId) -> SetSize {
        self.model.sets[s].size
    }
}
