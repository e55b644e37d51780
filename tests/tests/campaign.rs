//! The campaign (issue #9): every model of the generated catalogue (`build.rs`: each emission
//! family × per-component, tied or shared parameters × mixture, chain or single latent),
//! fitted by the executor on synthetic data and on degraded copies of it — half the rows
//! copies of one row, a constant column, a column scaled by 1e6 or 1e-6, a few outliers
//! (×1e4), few rows, a fifth of the cells missing — with the constants (`K`, `L`) and the sequences of a chain drawn at
//! random from the second seed on. Odd seeds fit with the hard E-step (classification EM),
//! whose ℓ is checked the same way and whose complete-data log-likelihood must not exceed it.
//!
//! Every fit must end without a guard failure ([`FitError::NotMonotone`]), a non-finite
//! log-likelihood or a panic; a typed error about the data's size or values
//! ([`FitError::TooFewRows`], [`FitError::TooFewRowsForFactors`], a bind error) is expected
//! and counted. The log-likelihood a fit reports must match, to 1e-9 relative, an independent
//! recomputation at the returned parameters written here from first principles: statrs
//! densities per emission (of the observed cells only, the marginal `N(μ_o, Σ_oo)` for a
//! multivariate Normal), a dense Cholesky for the multivariate Normal and the marginal
//! `N(μ, W Wᵀ + Ψ)` of a linear-Gaussian block, log-sum-exp over the components of a mixture
//! and the forward algorithm in log space over each sequence of a chain.
//!
//! `cargo test -p jensen-tests --test campaign` runs four seeds (seed 0 with the models'
//! own constants); more, with the summary printed:
//!
//! ```text
//! JENSEN_CAMPAIGN_SEEDS=20 cargo test -p jensen-tests --test campaign -- --nocapture
//! ```
//!
//! `JENSEN_CAMPAIGN_CASE=factor` keeps the cases whose name contains `factor`;
//! `JENSEN_CAMPAIGN_DUMP=DIR` writes the model and the data (CSV) of every failing case to
//! `DIR`, for `jensen fit MODEL --data CSV --seed S --max-iter 50 --threads 1` with the
//! printed constants (`--set`) and initialisation (`--init`).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use jensen::bind::{BindOptions, Bound, Sequences, Table};
use jensen::lang::plan::{BlockKind, Cov, Latent, PRef, Trials};
use jensen::runtime::{EStepMode, FitOptions, InitStrategy};
use jensen::{DynParams, FitError, Plan, PlanModel};
use jensen_tests::synth::{self, Item, Rng};
use ndarray::{Array2, ArrayView1, ArrayViewD, Axis, Ix1, Ix2};
use statrs::distribution::{
    Bernoulli, Binomial, Categorical, Continuous, Discrete, Exp, Gamma, Geometric, Normal, Poisson,
};
use statrs::function::gamma::ln_gamma;

mod catalogue {
    include!(concat!(env!("OUT_DIR"), "/catalogue_cases.rs"));
}

/// Rows of the undegraded data.
const ROWS: usize = 160;
/// The largest relative difference allowed between the reported and the recomputed ℓ.
const TOLERANCE: f64 = 1e-9;

/// How the synthetic data are spoiled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Degradation {
    /// The data as drawn.
    Clean,
    /// The second half of the rows are copies of the first row.
    Duplicated,
    /// One column of a multi-column real item holds one value.
    ConstantColumn,
    /// One real or positive column multiplied by this factor.
    Scaled(f64),
    /// Three rows with their real, positive and count values ×1e4.
    Outliers,
    /// Only this many rows, spread over the data.
    FewRows(usize),
    /// This fraction of the cells left empty (missing values), independently per cell.
    Gaps(f64),
}

const DEGRADATIONS: &[Degradation] = &[
    Degradation::Clean,
    Degradation::Duplicated,
    Degradation::ConstantColumn,
    Degradation::Scaled(1e6),
    Degradation::Scaled(1e-6),
    Degradation::Outliers,
    Degradation::FewRows(8),
    Degradation::FewRows(3),
    Degradation::Gaps(0.2),
];

/// The columns of `items` in table order, with the kind of values they hold and the number
/// of columns of their item.
fn column_kinds(items: &[Item]) -> Vec<(&'static str, usize)> {
    items
        .iter()
        .flat_map(|(_, cols, kind)| cols.iter().map(move |_| (*kind, cols.len())))
        .collect()
}

fn col(t: &mut Table, j: usize) -> &mut Vec<f64> {
    t.columns[j].as_mut().expect("numeric column")
}

/// `table` degraded, or `None` where the degradation does not apply to these data (it must
/// keep every value valid for its type).
fn degrade(table: &Table, items: &[Item], d: Degradation, rng: &mut Rng) -> Option<Table> {
    let kinds = column_kinds(items);
    let mut t = table.clone();
    match d {
        Degradation::Clean => {}
        Degradation::Duplicated => {
            for j in 0..kinds.len() {
                let c = col(&mut t, j);
                let first = c[0];
                let half = c.len() / 2;
                c[half..].iter_mut().for_each(|x| *x = first);
            }
        }
        Degradation::ConstantColumn => {
            let candidates: Vec<usize> = (0..kinds.len())
                .filter(|&j| kinds[j].0 == "real" && kinds[j].1 > 1)
                .collect();
            if candidates.is_empty() {
                return None;
            }
            let j = candidates[rng.below(candidates.len())];
            let value = if rng.uniform() < 0.5 { 0.0 } else { 2.5 };
            col(&mut t, j).iter_mut().for_each(|x| *x = value);
        }
        Degradation::Scaled(factor) => {
            let candidates: Vec<usize> = (0..kinds.len())
                .filter(|&j| matches!(kinds[j].0, "real" | "positive"))
                .collect();
            if candidates.is_empty() {
                return None;
            }
            let j = candidates[rng.below(candidates.len())];
            col(&mut t, j).iter_mut().for_each(|x| *x *= factor);
        }
        Degradation::Outliers => {
            if !kinds
                .iter()
                .any(|(k, _)| matches!(*k, "real" | "positive" | "count"))
            {
                return None;
            }
            let rows: Vec<usize> = (0..3).map(|_| rng.below(t.n_rows)).collect();
            for (j, (kind, _)) in kinds.iter().enumerate() {
                let c = col(&mut t, j);
                for &r in &rows {
                    match *kind {
                        "real" | "positive" => c[r] *= 1e4,
                        "count" => c[r] = (c[r] + 1.0) * 1e4,
                        _ => {}
                    }
                }
            }
        }
        Degradation::Gaps(fraction) => {
            t.missing.resize(kinds.len(), Vec::new());
            for j in 0..kinds.len() {
                for r in 0..t.n_rows {
                    if rng.uniform() < fraction {
                        col(&mut t, j)[r] = f64::NAN;
                        t.missing[j].push(r);
                    }
                }
            }
        }
        Degradation::FewRows(n) => {
            let step = t.n_rows / n;
            let keep: Vec<usize> = (0..n).map(|i| i * step + rng.below(step)).collect();
            for j in 0..kinds.len() {
                let c = col(&mut t, j);
                *c = keep.iter().map(|&r| c[r]).collect();
            }
            t.n_rows = n;
        }
    }
    Some(t)
}

/// The constants and sequences of a run: the model's own on seed 0, drawn afterwards.
fn bind_options(plan: &Plan, n_rows: usize, seed: u64, rng: &mut Rng) -> BindOptions {
    let mut opts = BindOptions::default();
    if seed == 0 {
        return opts;
    }
    for c in &plan.model.consts {
        let value = match c.name.as_str() {
            "K" => 1 + rng.below(4),
            // L = 3 = D is refused when binding (a continuous latent as wide as its data).
            "L" if rng.uniform() < 1.0 / 6.0 => 3,
            "L" => 1 + rng.below(2),
            _ => continue,
        };
        opts.consts.insert(c.name.clone(), value);
    }
    if plan.latent.is_chain() && n_rows >= 6 && rng.uniform() < 0.7 {
        // Two to four sequences of random lengths, each at least one row.
        let parts = 2 + rng.below(3);
        let mut cuts: Vec<usize> = (0..parts - 1).map(|_| 1 + rng.below(n_rows - 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut lengths = Vec::new();
        let mut start = 0;
        for c in cuts.into_iter().chain([n_rows]) {
            lengths.push(c - start);
            start = c;
        }
        opts.sequences = Sequences::Lengths(lengths);
    }
    opts
}

// ---------------------------------------------------------------------------------------
// The oracle: ℓ at given parameters, from first principles.
// ---------------------------------------------------------------------------------------

/// Component `k` of a parameter (all of it when shared).
fn part<'p>(plan: &Plan, params: &'p DynParams, p: PRef, k: usize) -> ArrayViewD<'p, f64> {
    let name = plan.name(p.param);
    let v = params
        .get(name)
        .unwrap_or_else(|| panic!("the fit returned no `{name}`"));
    if p.per_component {
        v.index_axis(Axis(0), k)
    } else {
        v.view()
    }
}

fn vector(plan: &Plan, params: &DynParams, p: PRef, k: usize) -> Vec<f64> {
    part(plan, params, p, k).iter().copied().collect()
}

fn scalar(plan: &Plan, params: &DynParams, p: PRef, k: usize) -> f64 {
    let v = part(plan, params, p, k);
    assert_eq!(v.len(), 1, "`{}` is not a scalar", plan.name(p.param));
    v.iter().copied().next().expect("one value")
}

fn matrix(plan: &Plan, params: &DynParams, p: PRef, k: usize) -> Array2<f64> {
    part(plan, params, p, k)
        .into_dimensionality::<Ix2>()
        .expect("a matrix parameter")
        .to_owned()
}

/// A multivariate Normal density by a dense Cholesky factor of its covariance.
struct Mvn {
    mean: Vec<f64>,
    /// The covariance, for the marginal of a row's observed coordinates.
    cov: Array2<f64>,
    /// Lower triangle, row-major.
    chol: Vec<Vec<f64>>,
    log_det: f64,
}

impl Mvn {
    fn new(mean: Vec<f64>, cov: &Array2<f64>) -> Result<Mvn, String> {
        let d = mean.len();
        let mut l = vec![vec![0.0; d]; d];
        for i in 0..d {
            for j in 0..=i {
                let mut s = cov[[i, j]];
                for m in 0..j {
                    s -= l[i][m] * l[j][m];
                }
                if i == j {
                    if s <= 0.0 || !s.is_finite() {
                        return Err(format!("covariance not positive definite: {cov:?}"));
                    }
                    l[i][i] = s.sqrt();
                } else {
                    l[i][j] = s / l[j][j];
                }
            }
        }
        let log_det = 2.0 * (0..d).map(|i| l[i][i].ln()).sum::<f64>();
        Ok(Mvn {
            mean,
            cov: cov.clone(),
            chol: l,
            log_det,
        })
    }

    /// The density of `x`'s observed (not NaN) coordinates: the marginal `N(μ_o, Σ_oo)`.
    fn ln_pdf(&self, x: ArrayView1<f64>) -> f64 {
        if x.iter().any(|v| v.is_nan()) {
            let o: Vec<usize> = (0..x.len()).filter(|&j| !x[j].is_nan()).collect();
            if o.is_empty() {
                return 0.0;
            }
            let sub = self.cov.select(Axis(0), &o).select(Axis(1), &o);
            let marginal = Mvn::new(o.iter().map(|&j| self.mean[j]).collect(), &sub)
                .expect("a principal submatrix of a positive definite matrix");
            let xo: Vec<f64> = o.iter().map(|&j| x[j]).collect();
            return marginal.ln_pdf(ndarray::aview1(&xo));
        }
        let d = self.mean.len();
        let mut y = vec![0.0; d];
        let mut q = 0.0;
        for i in 0..d {
            let mut s = x[i] - self.mean[i];
            for m in 0..i {
                s -= self.chol[i][m] * y[m];
            }
            y[i] = s / self.chol[i][i];
            q += y[i] * y[i];
        }
        -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + self.log_det + q)
    }
}

/// A block's density at component `k`, its parameters read once.
enum Density {
    Mvn(Mvn),
    /// Independent Normals per column.
    Normals(Vec<Normal>),
    Poisson(Poisson),
    Exp(Exp),
    Gamma(Gamma),
    Geometric(Geometric),
    Binomial(Binomial),
    /// A binomial probability whose trials are a column (each row's own, see `recompute`).
    BinomialRows(f64),
    /// A multivariate Student-t (statrs).
    StudentT(statrs::distribution::MultivariateStudent<nalgebra::Dyn>),
    /// A regression's coefficients, intercept and variance (each row's mean from its
    /// covariates, see `recompute`).
    Regression(Vec<f64>, f64, f64),
    /// A multivariate regression's coefficients (`D × P`), intercept and residual covariance
    /// (each row's mean from its covariates, see `recompute`).
    MvRegression(Array2<f64>, Vec<f64>, Array2<f64>),
    /// Independent bits, one probability per column (one for all columns of a `binary`).
    Bits(Vec<Bernoulli>),
    Categorical(Categorical),
    /// Category probabilities of a multinomial (the row's total is its sum).
    Multinomial(Vec<f64>),
}

impl Density {
    /// The density of the observed cells of `x` (a missing cell, NaN, has none).
    fn ln_pdf(&self, x: ArrayView1<f64>) -> f64 {
        match self {
            Density::Mvn(m) => m.ln_pdf(x),
            _ if x.len() == 1 && x[0].is_nan() => 0.0,
            Density::Normals(ns) => ns
                .iter()
                .zip(x)
                .filter(|(_, v)| !v.is_nan())
                .map(|(n, &v)| n.ln_pdf(v))
                .sum(),
            Density::Poisson(p) => p.ln_pmf(x[0] as u64),
            Density::Exp(e) => e.ln_pdf(x[0]),
            Density::Gamma(g) => g.ln_pdf(x[0]),
            // statrs counts trials (1, 2, …), the block failures (0, 1, …).
            Density::Geometric(g) => g.ln_pmf(x[0] as u64 + 1),
            Density::Binomial(b) => b.ln_pmf(x[0] as u64),
            Density::StudentT(t) => statrs::distribution::Continuous::ln_pdf(
                t,
                &nalgebra::DVector::from_vec(x.to_vec()),
            ),
            Density::BinomialRows(_) | Density::Regression(..) | Density::MvRegression(..) => {
                unreachable!("read per row in `recompute`")
            }
            Density::Bits(bs) => x
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_nan())
                .map(|(j, &v)| bs[j.min(bs.len() - 1)].ln_pmf(v as u64))
                .sum(),
            Density::Categorical(c) => c.ln_pmf(x[0] as u64),
            // ln n! − Σ ln x! + Σ x ln θ (statrs' multinomial forms n! itself, which
            // overflows beyond 170 trials).
            Density::Multinomial(p) => {
                let n: f64 = x.sum();
                ln_gamma(n + 1.0)
                    + x.iter()
                        .zip(p)
                        .map(|(&v, &q)| {
                            if v == 0.0 {
                                -ln_gamma(1.0)
                            } else {
                                v * q.ln() - ln_gamma(v + 1.0)
                            }
                        })
                        .sum::<f64>()
            }
        }
    }
}

fn normals(mean: &[f64], var: &[f64]) -> Result<Density, String> {
    mean.iter()
        .zip(var)
        .map(|(&m, &v)| Normal::new(m, v.sqrt()).map_err(|e| format!("Normal({m}, {v}): {e}")))
        .collect::<Result<_, _>>()
        .map(Density::Normals)
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn density(plan: &Plan, params: &DynParams, kind: &BlockKind, k: usize) -> Result<Density, String> {
    Ok(match *kind {
        BlockKind::MvNormal { mean, cov } => {
            let mu = vector(plan, params, mean, k);
            let d = mu.len();
            match cov {
                Cov::Full(p) => Density::Mvn(Mvn::new(mu, &matrix(plan, params, p, k))?),
                Cov::Diag(p) => normals(&mu, &vector(plan, params, p, k))?,
                Cov::Spherical(p) => normals(&mu, &vec![scalar(plan, params, p, k); d])?,
                Cov::Fixed(c) => normals(&mu, &vec![c; d])?,
            }
        }
        BlockKind::Normal { mean, var } => normals(
            &[scalar(plan, params, mean, k)],
            &[scalar(plan, params, var, k)],
        )?,
        BlockKind::Poisson { rate } => Density::Poisson(
            Poisson::new(scalar(plan, params, rate, k)).map_err(|e| err("Poisson", e))?,
        ),
        BlockKind::Exponential { rate } => {
            Density::Exp(Exp::new(scalar(plan, params, rate, k)).map_err(|e| err("Exp", e))?)
        }
        BlockKind::Binomial {
            trials: Trials::Known(t),
            prob,
        } => Density::Binomial(
            Binomial::new(scalar(plan, params, prob, k), t as u64)
                .map_err(|e| err("Binomial", e))?,
        ),
        BlockKind::Binomial {
            trials: Trials::Column(_),
            prob,
        } => Density::BinomialRows(scalar(plan, params, prob, k)),
        BlockKind::StudentT { mean, cov, nu, .. } => Density::StudentT(
            statrs::distribution::MultivariateStudent::new(
                vector(plan, params, mean, k),
                matrix(plan, params, cov, k).iter().copied().collect(),
                nu,
            )
            .map_err(|e| err("MultivariateStudent", e))?,
        ),
        BlockKind::Regression {
            coef,
            intercept,
            var,
            ..
        } => Density::Regression(
            match plan.model.vars[coef.param].ty {
                jensen::lang::ir::ElemType::Real => vec![scalar(plan, params, coef, k)],
                _ => vector(plan, params, coef, k),
            },
            intercept.map_or(0.0, |c| scalar(plan, params, c, k)),
            scalar(plan, params, var, k),
        ),
        BlockKind::MvRegression {
            coef,
            intercept,
            cov,
            ..
        } => {
            let b = matrix(plan, params, coef, k);
            let d = b.nrows();
            let cov = match cov {
                Cov::Full(p) => matrix(plan, params, p, k),
                Cov::Diag(p) => {
                    Array2::from_diag(&ndarray::Array1::from(vector(plan, params, p, k)))
                }
                Cov::Spherical(_) | Cov::Fixed(_) => {
                    return Err("a spherical or known residual covariance".into())
                }
            };
            Density::MvRegression(
                b,
                intercept.map_or(vec![0.0; d], |c| vector(plan, params, c, k)),
                cov,
            )
        }
        BlockKind::Geometric { prob } => Density::Geometric(
            Geometric::new(scalar(plan, params, prob, k)).map_err(|e| err("Geometric", e))?,
        ),
        BlockKind::Gamma { shape, rate } => Density::Gamma(
            Gamma::new(shape, scalar(plan, params, rate, k)).map_err(|e| err("Gamma", e))?,
        ),
        BlockKind::Bernoulli { prob } => Density::Bits(
            vector(plan, params, prob, k)
                .into_iter()
                .map(|p| Bernoulli::new(p).map_err(|e| err("Bernoulli", e)))
                .collect::<Result<_, _>>()?,
        ),
        BlockKind::Categorical { probs } => Density::Categorical(
            Categorical::new(&vector(plan, params, probs, k)).map_err(|e| err("Categorical", e))?,
        ),
        BlockKind::Multinomial { probs } => Density::Multinomial(vector(plan, params, probs, k)),
        BlockKind::LinearGaussian {
            loading,
            mean,
            noise,
        } => {
            let w = matrix(plan, params, loading, k);
            let mu = vector(plan, params, mean, k);
            let d = mu.len();
            let psi = match noise {
                Cov::Diag(p) => vector(plan, params, p, k),
                Cov::Spherical(p) => vec![scalar(plan, params, p, k); d],
                Cov::Full(_) | Cov::Fixed(_) => {
                    return Err("a full or known noise covariance".into())
                }
            };
            let mut c = w.dot(&w.t());
            for i in 0..d {
                c[[i, i]] += psi[i];
            }
            Density::Mvn(Mvn::new(mu, &c)?)
        }
    })
}

fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY || m.is_nan() {
        return m;
    }
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// `ln p(x | params)` from first principles.
/// `Σ_n ln n_n!` over the rows of every multinomial block (`n_n` a row's total): the size of
/// the terms of its log-density that cancel.
fn cancelling_terms(plan: &Plan, bound: &Bound) -> f64 {
    plan.blocks
        .iter()
        .filter(|b| matches!(b.kind, BlockKind::Multinomial { .. }))
        .map(|b| {
            let values = &bound.item(b.data).values;
            values
                .rows()
                .into_iter()
                .map(|r| ln_gamma(r.sum() + 1.0))
                .sum::<f64>()
        })
        .sum()
}

fn recompute(plan: &Plan, bound: &Bound, params: &DynParams) -> Result<f64, String> {
    let n = bound.n_rows;
    let k_count = match plan.latent.var_components() {
        Some((_, components)) => bound.sizes[components],
        None => 1,
    };
    // ln p(x_n | z_n = k), summed over the blocks.
    let mut emission = Array2::<f64>::zeros((n, k_count));
    for block in &plan.blocks {
        // The values as read: NaN in the missing cells (the bound item holds placeholders).
        let item = bound.item(block.data);
        let mut x = item.values.clone();
        for (row, columns) in item.gaps.within(0..n).iter() {
            for &c in columns {
                x[[row, c]] = f64::NAN;
            }
        }
        // A binomial's trials from a column, a regression's covariates: each row's own.
        let trials = match block.kind {
            BlockKind::Binomial {
                trials: Trials::Column(t),
                ..
            } => Some(bound.item(t).values.column(0).to_owned()),
            _ => None,
        };
        let covariates = block
            .kind
            .regression()
            .map(|(_, _, covariates)| &bound.item(covariates).values);
        for k in 0..k_count {
            let dens = density(plan, params, &block.kind, k)?;
            for r in 0..n {
                emission[[r, k]] += match (&dens, &trials) {
                    (Density::BinomialRows(p), Some(t)) if !x[[r, 0]].is_nan() => {
                        Binomial::new(*p, t[r] as u64)
                            .map_err(|e| err("Binomial", e))?
                            .ln_pmf(x[[r, 0]] as u64)
                    }
                    (Density::BinomialRows(_), _) => 0.0,
                    (Density::Regression(beta, c, v), _) if !x[[r, 0]].is_nan() => {
                        let u = covariates.expect("covariates").row(r);
                        let mean = u.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>() + c;
                        Normal::new(mean, v.sqrt())
                            .map_err(|e| err("Normal", e))?
                            .ln_pdf(x[[r, 0]])
                    }
                    (Density::Regression(..), _) => 0.0,
                    // (A row with missing response cells: the marginal of the observed ones.)
                    (Density::MvRegression(b, c, cov), _) => {
                        let u = covariates.expect("covariates").row(r);
                        let mean: Vec<f64> =
                            (0..b.nrows()).map(|d| b.row(d).dot(&u) + c[d]).collect();
                        Mvn::new(mean, cov)?.ln_pdf(x.row(r))
                    }
                    _ => dens.ln_pdf(x.row(r)),
                };
                // A log-normal block: the item is held as y = ln x, the density of x is
                // N(y | m, v) / x.
                if block.log_scale && !x[[r, 0]].is_nan() {
                    emission[[r, k]] -= x[[r, 0]];
                }
            }
        }
    }
    let get1 = |v| -> Vec<f64> {
        let name = plan.name(v);
        params
            .get(name)
            .unwrap_or_else(|| panic!("the fit returned no `{name}`"))
            .view()
            .into_dimensionality::<Ix1>()
            .expect("a vector")
            .to_vec()
    };
    Ok(match plan.latent {
        Latent::Single { .. } => emission.sum(),
        Latent::Categorical { weights, .. } => {
            let lw: Vec<f64> = match weights {
                Some(w) => get1(w).iter().map(|w| w.ln()).collect(),
                None => vec![-(k_count as f64).ln(); k_count],
            };
            (0..n)
                .map(|r| log_sum_exp((0..k_count).map(|k| lw[k] + emission[[r, k]])))
                .sum()
        }
        Latent::Chain {
            initial,
            transition,
            ..
        } => {
            let lp0: Vec<f64> = get1(initial).iter().map(|p| p.ln()).collect();
            let name = plan.name(transition);
            let la = params
                .get(name)
                .unwrap_or_else(|| panic!("the fit returned no `{name}`"))
                .mapv(f64::ln)
                .into_dimensionality::<Ix2>()
                .expect("a matrix");
            let mut total = 0.0;
            for seq in &bound.sequences {
                let mut alpha: Vec<f64> = (0..k_count)
                    .map(|k| lp0[k] + emission[[seq.start, k]])
                    .collect();
                for t in seq.start + 1..seq.end {
                    alpha = (0..k_count)
                        .map(|j| {
                            log_sum_exp((0..k_count).map(|i| alpha[i] + la[[i, j]]))
                                + emission[[t, j]]
                        })
                        .collect();
                }
                total += log_sum_exp(alpha.iter().copied());
            }
            total
        }
    })
}

// ---------------------------------------------------------------------------------------
// The campaign.
// ---------------------------------------------------------------------------------------

/// What one case came to.
enum Outcome {
    /// A fit, its status and the relative difference of the recomputed ℓ.
    Fitted { status: String, rel: f64 },
    /// A typed error the data call for (too few rows, a bind error).
    Expected(String),
    /// A numerical error the driver could not repair.
    Numerical(String),
    /// A guard failure, a non-finite ℓ, a panic or an ℓ that differs from the oracle.
    Failure(String),
}

fn run_case(source: &str, table: &Table, seed: u64, rng: &mut Rng) -> Outcome {
    let (plan, _) = match jensen::compile(source) {
        Ok(p) => p,
        Err(d) => return Outcome::Failure(format!("does not compile: {d:?}")),
    };
    let opts = bind_options(&plan, table.n_rows, seed, rng);
    let bound = match jensen::bind(&plan, table, &opts) {
        Ok(b) => b,
        Err(e) => return Outcome::Expected(format!("bind: {e}")),
    };
    let kmeans = rng.uniform() < 0.5;
    let init = if kmeans {
        InitStrategy::KMeansPlusPlus
    } else {
        InitStrategy::RandomFromData
    };
    // Odd seeds fit with the hard E-step (classification EM), even ones with EM.
    let mode = if seed % 2 == 1 {
        EStepMode::Hard
    } else {
        EStepMode::Soft
    };
    let setting = format!(
        "consts {:?}, sequences {:?}, init {}, {} E-step",
        opts.consts,
        opts.sequences,
        if kmeans { "kmeans++" } else { "random" },
        mode.name()
    );
    let fit_opts = FitOptions {
        max_iter: 50,
        seed,
        threads: Some(1),
        init,
        e_step: Some(mode),
        ..FitOptions::default()
    };
    let model = PlanModel::new(&plan, &bound);
    let result = match jensen::fit(&model, &fit_opts) {
        Ok(r) => r,
        Err(e @ (FitError::TooFewRows { .. } | FitError::TooFewRowsForFactors { .. })) => {
            return Outcome::Expected(format!("fit: {e}"))
        }
        Err(e @ FitError::Numerical { .. }) => {
            return Outcome::Numerical(format!("{setting}: {e}"))
        }
        Err(e) => return Outcome::Failure(format!("{setting}: {e}")),
    };
    let ll = result.log_likelihood;
    if !ll.is_finite() || result.elbo_trace.iter().any(|v| !v.is_finite()) {
        return Outcome::Failure(format!(
            "{setting}: ℓ = {ll}, trace {:?}",
            result.elbo_trace
        ));
    }
    let oracle = match recompute(&plan, &bound, &result.params) {
        Ok(v) => v,
        Err(e) => return Outcome::Failure(format!("{setting}: oracle: {e}")),
    };
    // Beyond the relative tolerance, the round-off of terms that cancel: a multinomial's
    // `ln n!` of a row with a huge total (an outlier of 3e8 counts: 6e9) against its
    // `Σ x ln θ`, computed as the block computes it and as R's `dmultinom` does.
    let slack = 64.0 * f64::EPSILON * cancelling_terms(&plan, &bound);
    let rel = (ll - oracle).abs() / oracle.abs().max(1.0);
    if rel.is_nan() || (ll - oracle).abs() > TOLERANCE * oracle.abs().max(1.0) + slack {
        return Outcome::Failure(format!(
            "{setting}: reported ℓ {ll} but recomputed {oracle} (relative {rel:e})"
        ));
    }
    if let Some(complete) = result.complete_log_likelihood {
        // ln p(x, z*) ≤ ln p(x).
        if complete.is_nan() || complete > ll + TOLERANCE * ll.abs().max(1.0) {
            return Outcome::Failure(format!(
                "{setting}: complete-data log-likelihood {complete} above ℓ {ll}"
            ));
        }
    }
    Outcome::Fitted {
        status: format!("{:?}", result.status()),
        rel,
    }
}

#[test]
fn campaign() {
    let seeds: u64 = std::env::var("JENSEN_CAMPAIGN_SEEDS")
        .ok()
        .map(|s| s.parse().expect("JENSEN_CAMPAIGN_SEEDS is a number"))
        .unwrap_or(4);
    let started = Instant::now();
    let mut tried = 0usize;
    let mut not_applicable = 0usize;
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut numerical = Vec::new();
    let mut failures = Vec::new();
    let only = std::env::var("JENSEN_CAMPAIGN_CASE").ok();
    let mut compared = 0usize;
    let mut max_rel = 0.0f64;
    let mut worst = String::new();
    for seed in 0..seeds {
        for (case, items) in catalogue::CASES {
            let path = std::path::Path::new(env!("OUT_DIR"))
                .join("catalogue")
                .join(format!("{case}.em"));
            if only.as_deref().is_some_and(|o| !case.contains(o)) {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("model file");
            let clean = synth::table(items, ROWS, 7 + seed);
            for (di, &d) in DEGRADATIONS.iter().enumerate() {
                let mut rng = Rng(case_seed(case, seed, di));
                let Some(table) = degrade(&clean, items, d, &mut rng) else {
                    not_applicable += 1;
                    continue;
                };
                tried += 1;
                let label = format!("{case} × {d:?}, seed {seed}");
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    run_case(&source, &table, seed, &mut rng)
                }))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Outcome::Failure(format!("panic: {message}"))
                });
                match outcome {
                    Outcome::Fitted { status, rel } => {
                        *statuses.entry(status).or_default() += 1;
                        compared += 1;
                        if rel > max_rel {
                            max_rel = rel;
                            worst = label;
                        }
                    }
                    Outcome::Expected(e) => *expected.entry(kind_of(&e)).or_default() += 1,
                    Outcome::Numerical(e) => numerical.push(format!("{label}: {e}")),
                    Outcome::Failure(e) => {
                        dump(case, &source, &table, seed, d);
                        failures.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    let fitted: usize = statuses.values().sum();
    eprintln!(
        "campaign: {} models × {} degradations × {seeds} seeds: {tried} cases tried ({not_applicable} degradations not applicable) in {:.1} s",
        catalogue::CASES.len(),
        DEGRADATIONS.len(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("  fits ok: {fitted} {statuses:?}");
    eprintln!(
        "  expected errors: {} {expected:?}",
        expected.values().sum::<usize>()
    );
    eprintln!("  numerical errors: {}", numerical.len());
    for n in &numerical {
        eprintln!("    {n}");
    }
    eprintln!("  oracle comparisons: {compared}, max relative difference {max_rel:e} ({worst})");
    eprintln!("  failures: {}", failures.len());
    for f in &failures {
        eprintln!("    {f}");
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
}

/// With `JENSEN_CAMPAIGN_DUMP=DIR`, writes a failing case's model and data to `DIR` (a
/// reproducer for `jensen fit`).
fn dump(case: &str, source: &str, table: &Table, seed: u64, d: Degradation) {
    let Ok(dir) = std::env::var("JENSEN_CAMPAIGN_DUMP") else {
        return;
    };
    let stem = format!("{dir}/{case}-{d:?}-seed{seed}");
    std::fs::create_dir_all(&dir).expect("dump directory");
    std::fs::write(format!("{stem}.em"), source).expect("write model");
    let mut csv = table.headers.join(",") + "\n";
    for r in 0..table.n_rows {
        let row: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("{:?}", c.as_ref().expect("numeric")[r]))
            .collect();
        csv += &(row.join(",") + "\n");
    }
    std::fs::write(format!("{stem}.csv"), csv).expect("write data");
}

/// The seed of the degradation, constants and initialisation of one case: FNV-1a of the
/// case's name, mixed with the campaign seed and the degradation.
fn case_seed(case: &str, seed: u64, degradation: usize) -> u64 {
    let fnv = case.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    fnv ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((degradation as u64) << 48)
}

/// A short name for an expected error, for the summary.
fn kind_of(e: &str) -> String {
    if e.contains("too few for") {
        "too few rows for factors".into()
    } else if e.contains("fewer than the") {
        "too few rows".into()
    } else if e.starts_with("bind") && e.contains("refuses missing cells") {
        "bind: missing cells in a block that refuses them".into()
    } else if e.starts_with("bind") && e.contains("latent") {
        "bind: latent too wide".into()
    } else {
        e.to_string()
    }
}
