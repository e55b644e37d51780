//! The checked model: index sets with their sizes, variables with their types, and factors
//! (`~` statements) with resolved names, indices and argument types.

use serde::Serialize;

use crate::ast::DeclKind;
use crate::diag::Span;

/// Index of an [`IndexSet`] in [`Model::sets`].
pub type SetId = usize;
/// Index of a [`Var`] in [`Model::vars`].
pub type VarId = usize;

/// A checked model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// `model NAME`.
    pub name: String,
    /// Constants with their default values (overridable at fit time).
    pub consts: Vec<Const>,
    /// Index sets.
    pub sets: Vec<IndexSet>,
    /// Declared variables in source order.
    pub vars: Vec<Var>,
    /// `~` statements in source order.
    pub factors: Vec<Factor>,
    /// The E-step the model is fitted with unless the caller chooses (`estep hard`).
    pub e_step: EStepKind,
    /// The inference method (`method vb`, or the caller's choice at compile time).
    pub method: Method,
}

/// How the parameters are inferred: point estimates by EM (maximum likelihood, or MAP with
/// the priors written in the file), or mean-field variational Bayes, where every parameter
/// with a conjugate prior gets a posterior `q(θ)` and the objective is the ELBO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Method {
    /// EM: maximum likelihood, or MAP where priors are written.
    #[default]
    Em,
    /// Mean-field variational Bayes.
    Vb,
}

impl Method {
    /// `em` or `vb`, as written in model files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Em => "em",
            Method::Vb => "vb",
        }
    }
}

/// What the E-step puts in `q(z)`: `estep soft` (the default, EM) or `estep hard`
/// (classification EM: each row's most probable value, a chain's Viterbi path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum EStepKind {
    /// The posterior: EM, maximising the log-likelihood.
    #[default]
    Soft,
    /// A point mass on the most probable value: maximising the complete-data
    /// log-likelihood (k-means, with unit covariances and equal weights).
    Hard,
}

impl EStepKind {
    /// `soft` or `hard`, as written in model files.
    pub fn name(self) -> &'static str {
        match self {
            EStepKind::Soft => "soft",
            EStepKind::Hard => "hard",
        }
    }
}

/// `const K: int = 2`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Const {
    /// Name.
    pub name: String,
    /// Default value.
    pub default: usize,
    /// Declaration.
    pub span: Span,
}

/// Where the size of an index set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SetSize {
    /// A constant (by index in [`Model::consts`]).
    Const(usize),
    /// A literal written in a type, e.g. `vector[3]`.
    Literal(usize),
    /// The number of data rows.
    Rows,
    /// The number of columns bound to this vector data item.
    Columns(VarId),
    /// One more than the largest value of this categorical data item.
    Categories(VarId),
}

/// An index set (plate or dimension).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexSet {
    /// Name (`N`, `K`, `D`, or the literal's digits).
    pub name: String,
    /// Size source.
    pub size: SetSize,
}

/// Element type of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ElemType {
    /// `real`.
    Real,
    /// `vector[D]`.
    Vector(SetId),
    /// `matrix[R, C]`.
    Matrix(SetId, SetId),
    /// `simplex[K]`: non-negative, sums to one.
    Simplex(SetId),
    /// `positive`.
    Positive,
    /// `positive[D]`.
    PositiveVec(SetId),
    /// `cov[D]`: symmetric positive definite.
    Cov(SetId),
    /// `prob`: in [0, 1].
    Prob,
    /// `prob[D]`.
    ProbVec(SetId),
    /// `count`: a non-negative integer.
    Count,
    /// `count[V]`: a vector of non-negative integers (e.g. a document's word counts).
    CountVec(SetId),
    /// `binary`: 0 or 1.
    Binary,
    /// `binary[D]`.
    BinaryVec(SetId),
    /// `0..K`: a category.
    Cat(SetId),
    /// `weight`: a finite number at least 0 that multiplies its row's terms (data only, not
    /// modelled by any statement).
    Weight,
}

impl ElemType {
    /// The set a vector-valued data type runs over (`vector[D]`, `binary[D]`, `count[V]`):
    /// such an item reads one column per entry.
    pub fn vector_set(self) -> Option<SetId> {
        match self {
            ElemType::Vector(d) | ElemType::BinaryVec(d) | ElemType::CountVec(d) => Some(d),
            _ => None,
        }
    }
}

/// A declared variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Var {
    /// Name as written.
    pub name: String,
    /// Data, param or latent.
    #[serde(skip)]
    pub kind: DeclKind,
    /// Plates.
    pub plates: Vec<SetId>,
    /// Element type.
    pub ty: ElemType,
    /// Columns to read (data only).
    pub columns: Option<Vec<String>>,
    /// Columns to leave out of "every other numeric column" (data only).
    pub except: Option<Vec<String>>,
    /// Declaration line.
    pub span: Span,
    /// The declaration as text, e.g. `param mu[K]: vector[D]`.
    pub text: String,
    /// A parameter held at a known value, not estimated (and not counted in BIC/AIC).
    pub fixed: Option<Fixed>,
}

/// How a fixed parameter's value is given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Fixed {
    /// In the model file, `param s[K]: positive = 2.5`: every entry (a covariance: `c I`).
    Number(f64),
    /// At fit time (`jensen fit --fix NAME=FILE.json`): the caller binds the value.
    Given,
}

/// Supported distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dist {
    /// `Categorical(p)`.
    Categorical,
    /// `MvNormal(mean, cov)`.
    MvNormal,
    /// `Normal(mean, variance)`.
    Normal,
    /// `Poisson(rate)`.
    Poisson,
    /// `Bernoulli(p)`.
    Bernoulli,
    /// `Exponential(rate)`.
    Exponential,
    /// `Geometric(p)`: counts of failures before the first success.
    Geometric,
    /// `Binomial(T, p)`: successes in `T` trials, a known number or a count column
    /// (`Binomial(t[n], p)`).
    Binomial,
    /// `Multinomial(p)`: a vector of counts over categories, with the row's total known.
    Multinomial,
    /// `LogNormal(mean, variance)`: positive data whose logarithm is `Normal(mean, variance)`.
    LogNormal,
    /// `Dirichlet(α)`: a symmetric prior on a simplex parameter.
    Dirichlet,
    /// `InvGamma(a, b)`: a prior on a variance (each entry of a vector of variances).
    InvGamma,
    /// `InvWishart(ν, c * I)`: a prior on a covariance matrix.
    InvWishart,
    /// `Gamma(a, b)` (shape, rate): a prior on a Poisson, exponential or Gamma rate, or
    /// positive data with a known shape `a` (`Gamma(2.0, b[z[n]])`).
    Gamma,
    /// `Beta(a, b)`: a prior on a Bernoulli probability (on each entry of a vector).
    Beta,
}

/// The signature of a supported distribution, as the checker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistSig {
    /// The distribution.
    pub dist: Dist,
    /// Name as written in model files.
    pub name: &'static str,
    /// Number of arguments.
    pub arity: usize,
    /// A typical statement's right-hand side, shown in hints (e.g. for a wrong arity).
    pub example: &'static str,
}

/// Every supported distribution, in the order of [`Dist`]: the one list that name lookup,
/// suggestions, hints and arity checks read.
pub const DISTRIBUTIONS: [DistSig; 15] = [
    DistSig {
        dist: Dist::Categorical,
        name: "Categorical",
        arity: 1,
        example: "`Categorical(w)` with `param w: simplex[K]`",
    },
    DistSig {
        dist: Dist::MvNormal,
        name: "MvNormal",
        arity: 2,
        example: "`MvNormal(mu[z[n]], Sigma[z[n]])`",
    },
    DistSig {
        dist: Dist::Normal,
        name: "Normal",
        arity: 2,
        example: "`Normal(m[z[n]], v[z[n]])` (mean, variance)",
    },
    DistSig {
        dist: Dist::Poisson,
        name: "Poisson",
        arity: 1,
        example: "`Poisson(rate[z[n]])`",
    },
    DistSig {
        dist: Dist::Bernoulli,
        name: "Bernoulli",
        arity: 1,
        example: "`Bernoulli(p[z[n]])`",
    },
    DistSig {
        dist: Dist::Exponential,
        name: "Exponential",
        arity: 1,
        example: "`Exponential(rate[z[n]])` (a rate, not a mean)",
    },
    DistSig {
        dist: Dist::Geometric,
        name: "Geometric",
        arity: 1,
        example: "`Geometric(p[z[n]])` (the success probability; the count is the failures before the first success)",
    },
    DistSig {
        dist: Dist::Binomial,
        name: "Binomial",
        arity: 2,
        example: "`Binomial(20, p[z[n]])` (the number of trials — a whole number, or a count column `t[n]` — then the success probability)",
    },
    DistSig {
        dist: Dist::Multinomial,
        name: "Multinomial",
        arity: 1,
        example: "`Multinomial(theta[z[n]])` on a `count[V]` item with `param theta[K]: simplex[V]` (the row's total is its sum)",
    },
    DistSig {
        dist: Dist::LogNormal,
        name: "LogNormal",
        arity: 2,
        example: "`LogNormal(m[z[n]], v[z[n]])` on positive data (the mean and variance of ln x)",
    },
    DistSig {
        dist: Dist::Dirichlet,
        name: "Dirichlet",
        arity: 1,
        example: "`Dirichlet(2.0)` on a `simplex[K]` parameter, e.g. `w ~ Dirichlet(2.0)` (a concentration ≥ 1)",
    },
    DistSig {
        dist: Dist::InvGamma,
        name: "InvGamma",
        arity: 2,
        example: "`InvGamma(1.0, 0.5)` (shape a ≥ −1, scale b > 0) on variances, e.g. `v[k] ~ InvGamma(1.0, 0.5)`",
    },
    DistSig {
        dist: Dist::InvWishart,
        name: "InvWishart",
        arity: 2,
        example: "`InvWishart(5.0, 0.1 * I)` (degrees of freedom ν, scale c I) on a `cov[D]` parameter, e.g. `Sigma[k] ~ InvWishart(5.0, 0.1 * I)`",
    },
    DistSig {
        dist: Dist::Gamma,
        name: "Gamma",
        arity: 2,
        example: "`Gamma(2.0, 0.5)` (shape a ≥ 1, rate b ≥ 0) on a rate, e.g. `rate[k] ~ Gamma(2.0, 0.5)`; on positive data a known shape and a rate parameter, e.g. `x[n] ~ Gamma(2.0, b[z[n]])`",
    },
    DistSig {
        dist: Dist::Beta,
        name: "Beta",
        arity: 2,
        example: "`Beta(2.0, 2.0)` (a, b ≥ 1) on a `prob` parameter, e.g. `p[k] ~ Beta(2.0, 2.0)`",
    },
];

impl Dist {
    /// Its entry in [`DISTRIBUTIONS`].
    pub fn sig(self) -> &'static DistSig {
        &DISTRIBUTIONS[self as usize]
    }

    /// Name as written in model files.
    pub fn name(self) -> &'static str {
        self.sig().name
    }

    /// The distribution written `name` in model files, if it is supported.
    pub fn from_name(name: &str) -> Option<Dist> {
        DISTRIBUTIONS
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.dist)
    }

    /// The supported names as prose: "Categorical, MvNormal, … and Bernoulli".
    pub fn names_in_prose() -> String {
        let names: Vec<&str> = DISTRIBUTIONS.iter().map(|d| d.name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }
}

/// An index expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Index {
    /// A loop variable of the statement (by position in [`Factor::loops`]).
    Loop(usize),
    /// A latent variable's value, e.g. `z[n]`.
    Latent {
        /// The latent.
        var: VarId,
        /// Its own indices.
        indices: Vec<Index>,
    },
    /// A literal, e.g. `z[0]`.
    Lit(usize),
    /// A shifted loop variable, e.g. `t-1`.
    Shift {
        /// Loop variable.
        loop_var: usize,
        /// Offset.
        by: i64,
    },
}

/// A summary of a data item, usable as a prior's hyperparameter: computed once, when the
/// data are bound, over every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Summary {
    /// `mean(x)`: the mean of each coordinate.
    Mean,
    /// `var(x)`: the sample variance of each coordinate (divided by `N − 1`).
    Var,
    /// `cov(x)`: the sample covariance matrix (divided by `N − 1`).
    Cov,
}

impl Summary {
    /// The function's name in a model file.
    pub fn name(self) -> &'static str {
        match self {
            Summary::Mean => "mean",
            Summary::Var => "var",
            Summary::Cov => "cov",
        }
    }

    /// The function named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "mean" => Some(Summary::Mean),
            "var" => Some(Summary::Var),
            "cov" => Some(Summary::Cov),
            _ => None,
        }
    }
}

/// A resolved argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ArgKind {
    /// A variable, indexed.
    Var {
        /// The variable.
        var: VarId,
        /// Its indices.
        indices: Vec<Index>,
    },
    /// `diag(v)`.
    Diag(Box<Arg>),
    /// `s * I`.
    ScaledIdentity(Box<Arg>),
    /// `I`.
    Identity,
    /// A number.
    Number(f64),
    /// `1 / K`: equal probabilities over the index set `K`.
    Reciprocal(SetId),
    /// `Sigma[k] / 0.01`: an argument divided by a number (the covariance of a mean's prior).
    Over(Box<Arg>, f64),
    /// `W * h[n] + mu`: a matrix times a continuous latent, plus an optional offset.
    Linear {
        /// The matrix, e.g. `W` or `W[z[n]]`.
        loading: Box<Arg>,
        /// The continuous latent, e.g. `h[n]`.
        latent: Box<Arg>,
        /// The offset, e.g. `mu` or `mu[z[n]]`.
        offset: Option<Box<Arg>>,
    },
    /// A mean linear in data (a regression): `dot(beta[z[n]], u[n]) + c[z[n]]` with `u` a
    /// `vector[P]` item, or `beta[z[n]] * u[n] + c[z[n]]` with a `real` one; the intercept is
    /// optional.
    Regression {
        /// The coefficients, e.g. `beta[z[n]]`.
        coef: Box<Arg>,
        /// The covariates, a data item of the statement's rows, e.g. `u[n]`.
        covariates: Box<Arg>,
        /// The intercept, e.g. `c[z[n]]`.
        intercept: Option<Box<Arg>>,
    },
    /// `Sigma[z[n]] / u[n]`: a covariance divided by a per-row latent scale (`latent u[N]:
    /// positive` with `u[n] ~ Gamma(ν/2, ν/2)`): the Student-t as a scale mixture of Normals.
    OverLatent {
        /// The covariance, e.g. `Sigma[z[n]]`.
        cov: Box<Arg>,
        /// The latent scale.
        scale: VarId,
    },
    /// `mean(x)`, `var(x)` or `cov(x)` of a data item, times a number (`0.5 * cov(x)`): a
    /// hyperparameter computed from the data when they are bound.
    Summary {
        /// Which summary.
        summary: Summary,
        /// The data item.
        data: VarId,
        /// The number it is multiplied by.
        factor: f64,
    },
    /// An expression of a continuous latent that is not linear (`W * h[n] * h[n]`,
    /// `h[n] * W`, `h[n] + h[n]`…), with the variables it mentions: kept for the derivation
    /// to explain.
    LatentExpr(String, Vec<VarId>),
    /// Anything else (products, sums of variables), with the variables it mentions: kept for
    /// the derivation to judge.
    Expr(String, Vec<VarId>),
}

impl Arg {
    /// Appends the variables this argument mentions to `out`.
    pub fn mentioned(&self, out: &mut Vec<VarId>) {
        match &self.kind {
            ArgKind::Var { var, .. } => out.push(*var),
            ArgKind::Diag(inner) | ArgKind::ScaledIdentity(inner) | ArgKind::Over(inner, _) => {
                inner.mentioned(out)
            }
            ArgKind::Linear {
                loading,
                latent,
                offset,
            } => {
                loading.mentioned(out);
                latent.mentioned(out);
                if let Some(o) = offset {
                    o.mentioned(out);
                }
            }
            ArgKind::OverLatent { cov, scale } => {
                cov.mentioned(out);
                out.push(*scale);
            }
            ArgKind::Regression {
                coef,
                covariates,
                intercept,
            } => {
                coef.mentioned(out);
                covariates.mentioned(out);
                if let Some(c) = intercept {
                    c.mentioned(out);
                }
            }
            ArgKind::Expr(_, vars) | ArgKind::LatentExpr(_, vars) => out.extend(vars),
            // A summary of the data is a constant of the derivation.
            ArgKind::Identity
            | ArgKind::Number(_)
            | ArgKind::Reciprocal(_)
            | ArgKind::Summary { .. } => {}
        }
    }
}

/// An argument with its span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    /// What it is.
    pub kind: ArgKind,
    /// Where it is written.
    pub span: Span,
}

/// A `~` statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// The sampled variable.
    pub target: VarId,
    /// Its indices.
    pub target_indices: Vec<Index>,
    /// Loop variables bound by the target: `(name, set)`.
    pub loops: Vec<(String, SetId)>,
    /// The distribution.
    pub dist: Dist,
    /// Arguments.
    pub args: Vec<Arg>,
    /// Whole statement.
    pub span: Span,
    /// The target expression.
    pub target_span: Span,
    /// The statement as text, e.g. `x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])`.
    pub text: String,
}

impl Model {
    /// Variable by name.
    pub fn var(&self, name: &str) -> Option<VarId> {
        self.vars.iter().position(|v| v.name == name)
    }

    /// Source-like text of a type, e.g. `vector[D]`.
    pub fn type_name(&self, ty: ElemType) -> String {
        let s = |id: SetId| self.sets[id].name.clone();
        match ty {
            ElemType::Real => "real".into(),
            ElemType::Vector(d) => format!("vector[{}]", s(d)),
            ElemType::Matrix(r, c) => format!("matrix[{}, {}]", s(r), s(c)),
            ElemType::Simplex(k) => format!("simplex[{}]", s(k)),
            ElemType::Positive => "positive".into(),
            ElemType::Weight => "weight".into(),
            ElemType::PositiveVec(d) => format!("positive[{}]", s(d)),
            ElemType::Cov(d) => format!("cov[{}]", s(d)),
            ElemType::Prob => "prob".into(),
            ElemType::ProbVec(d) => format!("prob[{}]", s(d)),
            ElemType::Count => "count".into(),
            ElemType::CountVec(d) => format!("count[{}]", s(d)),
            ElemType::Binary => "binary".into(),
            ElemType::BinaryVec(d) => format!("binary[{}]", s(d)),
            ElemType::Cat(k) => format!("0..{}", s(k)),
        }
    }

    /// Whether two sets certainly have the same size.
    pub fn same_set(&self, a: SetId, b: SetId) -> bool {
        a == b
            || matches!((self.sets[a].size, self.sets[b].size), (SetSize::Literal(x), SetSize::Literal(y)) if x == y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_table_follows_the_enum() {
        for (i, d) in DISTRIBUTIONS.iter().enumerate() {
            assert_eq!(d.dist as usize, i, "{} out of order", d.name);
            assert_eq!(Dist::from_name(d.name), Some(d.dist));
            assert!(
                d.example.starts_with(&format!("`{}(", d.name)),
                "{}",
                d.example
            );
        }
        assert_eq!(Dist::from_name("MvGaussian"), None);
        assert_eq!(
            Dist::names_in_prose(),
            "Categorical, MvNormal, Normal, Poisson, Bernoulli, Exponential, Geometric, Binomial, Multinomial, LogNormal, Dirichlet, InvGamma, InvWishart, Gamma and Beta"
        );
    }
}
