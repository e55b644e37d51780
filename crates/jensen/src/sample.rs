//! Drawing data from a fitted model: the latent path (independent components, or a chain
//! along each sequence), a continuous latent where the model has one, and every data item
//! its statements model, each from its block's distribution at the fitted parameters.
//!
//! ```no_run
//! # fn demo(plan: &jensen::Plan, params: &jensen::DynParams) -> Result<(), jensen::sample::SampleError> {
//! use rand::SeedableRng;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let draws = jensen::sample::sample(plan, params, &[500], None, &mut rng)?;
//! assert_eq!(draws.states.len(), 500);
//! # Ok(()) }
//! ```
//!
//! Items a model conditions on rather than models — a regression's covariates, a binomial's
//! trial counts, a multinomial's row totals — are not drawn: they come from data bound to
//! the plan (`given`), whose rows the draws follow one for one.

use std::ops::Range;

use ndarray::{Array2, ArrayD};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use thiserror::Error;

use jensen_lang::ir::VarId;
use jensen_lang::plan::{BlockKind, Cov, Latent, PRef, Trials};
use jensen_lang::Plan;

use crate::bind::Bound;
use crate::params::DynParams;

/// Why a model could not be sampled.
#[derive(Debug, Error, PartialEq)]
pub enum SampleError {
    /// The model conditions on data that was not given.
    #[error("`{item}` is {what}: it is not drawn but read from data; give the data whose rows the draws follow (`jensen sample --data FILE`)")]
    NeedsData {
        /// The item conditioned on.
        item: String,
        /// What it is to the model.
        what: &'static str,
    },
    /// A parameter is absent or has a shape the block cannot use.
    #[error("parameter `{name}`: {why}")]
    Param {
        /// The parameter.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A value out of its family's range (a negative variance, a probability above one).
    #[error("parameter `{name}` = {value} cannot parametrise a {family}: {why}")]
    Value {
        /// The parameter.
        name: String,
        /// Its value.
        value: f64,
        /// The family.
        family: &'static str,
        /// The range it must be in.
        why: &'static str,
    },
    /// The lengths asked for do not match the given data.
    #[error("{0}")]
    Lengths(String),
}

/// What [`sample`] drew.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// The discrete latent's value per row (0 for a model without one).
    pub states: Vec<usize>,
    /// The independent sequences, as row ranges (one per requested length).
    pub sequences: Vec<Range<usize>>,
    /// The continuous latent per row (`rows × L`), for models with one.
    pub factors: Option<Array2<f64>>,
    /// Every data item a statement models: its name and `rows × columns` values (the
    /// category code of a categorical item; `ln x` already exponentiated for a log-normal).
    pub items: Vec<(String, Array2<f64>)>,
}

/// Draws `Σ lengths` rows from the model at `params`: one independent sequence per length
/// (a mixture's rows are independent whatever the split). With `given`, data bound to the
/// same plan, covariates, trial counts and multinomial totals are read from its rows, and
/// `lengths` must be its sequences' lengths.
pub fn sample<R: Rng + ?Sized>(
    plan: &Plan,
    params: &DynParams,
    lengths: &[usize],
    given: Option<&Bound>,
    rng: &mut R,
) -> Result<Draws, SampleError> {
    let n: usize = lengths.iter().sum();
    if let Some(bound) = given {
        let theirs: Vec<usize> = bound.sequences.iter().map(|s| s.len()).collect();
        if theirs != lengths {
            return Err(SampleError::Lengths(format!(
                "the draws follow the given data's rows: {} rows in {} sequence(s), not {n} in {}",
                bound.n_rows,
                theirs.len(),
                lengths.len()
            )));
        }
    }
    let mut sequences = Vec::with_capacity(lengths.len());
    let mut start = 0;
    for &len in lengths {
        sequences.push(start..start + len);
        start += len;
    }
    let p = Params { plan, params };
    let states = p.states(&sequences, n, rng)?;
    let factors = match plan.continuous {
        Some(c) => {
            // The dimension from a loading matrix `[.., D, L]`.
            let l = plan
                .blocks
                .iter()
                .find_map(|b| match b.kind {
                    BlockKind::LinearGaussian { loading, .. } => Some(loading),
                    _ => None,
                })
                .map(|loading| p.array(loading.param).map(|a| a.shape().last().copied()))
                .transpose()?
                .flatten()
                .ok_or_else(|| SampleError::Param {
                    name: plan.name(c.var).to_string(),
                    why: "no loading matrix gives its dimension".into(),
                })?;
            Some(Array2::from_shape_fn((n, l), |_| {
                rng.sample(StandardNormal)
            }))
        }
        None => None,
    };
    let mut items = Vec::new();
    for block in &plan.blocks {
        let name = plan.name(block.data).to_string();
        if items.iter().any(|(n, _)| *n == name) {
            return Err(SampleError::Param {
                name,
                why: "the item is modelled by two statements; sampling needs one".into(),
            });
        }
        let mut values = p.block(&block.kind, &states, factors.as_ref(), given, rng)?;
        if block.log_scale {
            values.mapv_inplace(f64::exp);
        }
        items.push((name, values));
    }
    Ok(Draws {
        states,
        sequences,
        factors,
        items,
    })
}

/// The fitted parameters, read by the blocks' references.
struct Params<'a> {
    plan: &'a Plan,
    params: &'a DynParams,
}

impl Params<'_> {
    fn array(&self, v: VarId) -> Result<&ArrayD<f64>, SampleError> {
        let name = self.plan.name(v);
        self.params.get(name).ok_or_else(|| SampleError::Param {
            name: name.to_string(),
            why: "not among the fit's parameters".into(),
        })
    }

    /// Component `j`'s entry of a parameter: `p[j]` when per component, else all of it,
    /// flattened in row-major order, with its shape.
    fn entry(&self, p: PRef, j: usize) -> Result<(Vec<f64>, Vec<usize>), SampleError> {
        let a = self.array(p.param)?;
        if !p.per_component {
            return Ok((a.iter().copied().collect(), a.shape().to_vec()));
        }
        if a.ndim() == 0 || j >= a.shape()[0] {
            return Err(SampleError::Param {
                name: self.plan.name(p.param).to_string(),
                why: format!("shape {:?} has no entry for component {j}", a.shape()),
            });
        }
        let sub = a.index_axis(ndarray::Axis(0), j);
        Ok((sub.iter().copied().collect(), sub.shape().to_vec()))
    }

    /// A probability vector's cumulative sums, checked.
    fn cumulative(&self, v: VarId, probs: &[f64]) -> Result<Vec<f64>, SampleError> {
        let mut acc = 0.0;
        let mut out = Vec::with_capacity(probs.len());
        for &p in probs {
            if !(p.is_finite() && p >= 0.0) {
                return Err(SampleError::Value {
                    name: self.plan.name(v).to_string(),
                    value: p,
                    family: "categorical",
                    why: "probabilities are finite and non-negative",
                });
            }
            acc += p;
            out.push(acc);
        }
        if acc <= 0.0 {
            return Err(SampleError::Param {
                name: self.plan.name(v).to_string(),
                why: "the probabilities sum to zero".into(),
            });
        }
        Ok(out)
    }

    /// The discrete latent along each sequence.
    fn states<R: Rng + ?Sized>(
        &self,
        sequences: &[Range<usize>],
        n: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>, SampleError> {
        let draw = |cum: &[f64], rng: &mut R| -> usize {
            let u = rng.random::<f64>() * cum[cum.len() - 1];
            cum.iter().position(|&c| u < c).unwrap_or(cum.len() - 1)
        };
        match self.plan.latent {
            Latent::Single { .. } => Ok(vec![0; n]),
            Latent::Categorical {
                weights,
                components,
                ..
            } => {
                let cum = match weights {
                    Some(w) => {
                        let a = self.array(w)?;
                        self.cumulative(w, &a.iter().copied().collect::<Vec<_>>())?
                    }
                    None => {
                        // Equal weights over the components: their number from a
                        // per-component parameter.
                        let k = self.components(components)?;
                        (1..=k).map(|i| i as f64).collect()
                    }
                };
                Ok((0..n).map(|_| draw(&cum, rng)).collect())
            }
            Latent::Chain {
                initial,
                transition,
                ..
            } => {
                let p0 = self.array(initial)?;
                let first = self.cumulative(initial, &p0.iter().copied().collect::<Vec<_>>())?;
                let a = self.array(transition)?;
                let k = first.len();
                if a.shape() != [k, k] {
                    return Err(SampleError::Param {
                        name: self.plan.name(transition).to_string(),
                        why: format!("shape {:?}, expected [{k}, {k}]", a.shape()),
                    });
                }
                let rows: Vec<Vec<f64>> = (0..k)
                    .map(|i| {
                        let row: Vec<f64> = (0..k).map(|j| a[[i, j]]).collect();
                        self.cumulative(transition, &row)
                    })
                    .collect::<Result<Vec<Vec<f64>>, SampleError>>()?;
                let mut states = vec![0; n];
                for seq in sequences {
                    let mut prev: Option<usize> = None;
                    for t in seq.clone() {
                        let z = match prev {
                            None => draw(first.as_slice(), rng),
                            Some(i) => draw(rows[i].as_slice(), rng),
                        };
                        states[t] = z;
                        prev = Some(z);
                    }
                }
                Ok(states)
            }
        }
    }

    /// The number of components: the leading axis of any per-component parameter.
    fn components(&self, _set: jensen_lang::ir::SetId) -> Result<usize, SampleError> {
        for b in &self.plan.blocks {
            if let Some(p) = main_param(&b.kind).filter(|p| p.per_component) {
                let a = self.array(p.param)?;
                if let Some(&k) = a.shape().first() {
                    return Ok(k);
                }
            }
        }
        Err(SampleError::Param {
            name: "K".into(),
            why: "no per-component parameter gives the number of components".into(),
        })
    }

    /// A given item's values, or the error naming what it is.
    fn given<'g>(
        &self,
        given: Option<&'g Bound>,
        v: VarId,
        what: &'static str,
    ) -> Result<&'g Array2<f64>, SampleError> {
        given
            .and_then(|b| b.items.get(v).and_then(Option::as_ref))
            .map(|item| &item.values)
            .ok_or_else(|| SampleError::NeedsData {
                item: self.plan.name(v).to_string(),
                what,
            })
    }

    /// One block's draws, `rows × columns`.
    fn block<R: Rng + ?Sized>(
        &self,
        kind: &BlockKind,
        states: &[usize],
        factors: Option<&Array2<f64>>,
        given: Option<&Bound>,
        rng: &mut R,
    ) -> Result<Array2<f64>, SampleError> {
        let n = states.len();
        let k = states.iter().max().map_or(0, |m| m + 1);
        // Per component, whatever each draw needs, prepared once.
        match *kind {
            BlockKind::MvNormal { mean, cov } => {
                let comps = (0..k)
                    .map(|j| {
                        let (m, _) = self.entry(mean, j)?;
                        let l = self.scale(cov, j, m.len())?;
                        Ok((m, l))
                    })
                    .collect::<Result<Vec<_>, SampleError>>()?;
                let d = comps.first().map_or(0, |c| c.0.len());
                let mut out = Array2::zeros((n, d));
                for (i, &z) in states.iter().enumerate() {
                    let (m, l) = &comps[z];
                    let x = gaussian(m, l, rng);
                    out.row_mut(i).assign(&ndarray::Array1::from(x));
                }
                Ok(out)
            }
            BlockKind::StudentT { mean, cov, nu, .. } => {
                let comps = (0..k)
                    .map(|j| {
                        let (m, _) = self.entry(mean, j)?;
                        let l = self.scale(Cov::Full(cov), j, m.len())?;
                        Ok((m, l))
                    })
                    .collect::<Result<Vec<_>, SampleError>>()?;
                let d = comps.first().map_or(0, |c| c.0.len());
                let scale =
                    rand_distr::Gamma::new(nu / 2.0, 2.0 / nu).map_err(|_| SampleError::Value {
                        name: "ν".into(),
                        value: nu,
                        family: "Student-t",
                        why: "the degrees of freedom are positive",
                    })?;
                let mut out = Array2::zeros((n, d));
                for (i, &z) in states.iter().enumerate() {
                    let (m, l) = &comps[z];
                    let u: f64 = scale.sample(rng);
                    let x = gaussian(&vec![0.0; d], l, rng);
                    for c in 0..d {
                        out[[i, c]] = m[c] + x[c] / u.sqrt();
                    }
                }
                Ok(out)
            }
            BlockKind::LinearGaussian {
                loading,
                mean,
                noise,
            } => {
                let h = factors.ok_or_else(|| SampleError::Param {
                    name: self.plan.name(loading.param).to_string(),
                    why: "a linear-Gaussian block without a continuous latent".into(),
                })?;
                let comps = (0..k.max(1))
                    .map(|j| {
                        let (w, shape) = self.entry(loading, j)?;
                        let (m, _) = self.entry(mean, j)?;
                        let d = m.len();
                        if shape.len() != 2 || shape[0] != d || shape[1] != h.ncols() {
                            return Err(SampleError::Param {
                                name: self.plan.name(loading.param).to_string(),
                                why: format!("shape {shape:?}, expected [{d}, {}]", h.ncols()),
                            });
                        }
                        let l = self.scale(noise, j, d)?;
                        Ok((w, m, l))
                    })
                    .collect::<Result<Vec<_>, SampleError>>()?;
                let d = comps[0].1.len();
                let lat = h.ncols();
                let mut out = Array2::zeros((n, d));
                for (i, &z) in states.iter().enumerate() {
                    let (w, m, l) = &comps[z];
                    let e = gaussian(&vec![0.0; d], l, rng);
                    for r in 0..d {
                        let wh: f64 = (0..lat).map(|c| w[r * lat + c] * h[[i, c]]).sum();
                        out[[i, r]] = m[r] + wh + e[r];
                    }
                }
                Ok(out)
            }
            BlockKind::Regression {
                coef,
                intercept,
                var,
                covariates,
            } => {
                let u = self.given(given, covariates, "a regression's covariates")?;
                let mut out = Array2::zeros((n, 1));
                for (i, &z) in states.iter().enumerate() {
                    let (b, _) = self.entry(coef, z)?;
                    let c = intercept.map(|p| self.entry(p, z)).transpose()?;
                    let (s, _) = self.entry(var, z)?;
                    let s = positive(self.plan.name(var.param), s[0], "Normal")?;
                    let mean: f64 = b.iter().zip(u.row(i)).map(|(b, u)| b * u).sum::<f64>()
                        + c.map_or(0.0, |c| c.0[0]);
                    out[[i, 0]] = mean + s.sqrt() * rng.sample::<f64, _>(StandardNormal);
                }
                Ok(out)
            }
            BlockKind::MvRegression {
                coef,
                intercept,
                cov,
                covariates,
            } => {
                let u = self.given(given, covariates, "a regression's covariates")?;
                let comps = (0..k)
                    .map(|j| {
                        let (b, shape) = self.entry(coef, j)?;
                        let d = shape.first().copied().unwrap_or(1);
                        let c = match intercept {
                            Some(p) => self.entry(p, j)?.0,
                            None => vec![0.0; d],
                        };
                        let l = self.scale(cov, j, d)?;
                        Ok((b, c, l))
                    })
                    .collect::<Result<Vec<_>, SampleError>>()?;
                let d = comps.first().map_or(0, |c| c.1.len());
                let p = u.ncols();
                let mut out = Array2::zeros((n, d));
                for (i, &z) in states.iter().enumerate() {
                    let (b, c, l) = &comps[z];
                    let e = gaussian(&vec![0.0; d], l, rng);
                    for r in 0..d {
                        let bu: f64 = (0..p).map(|q| b[r * p + q] * u[[i, q]]).sum();
                        out[[i, r]] = bu + c[r] + e[r];
                    }
                }
                Ok(out)
            }
            BlockKind::Categorical { probs } => {
                let cums = (0..k)
                    .map(|j| self.cumulative(probs.param, &self.entry(probs, j)?.0))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Array2::from_shape_fn((n, 1), |(i, _)| {
                    let cum = &cums[states[i]];
                    let u = rng.random::<f64>() * cum[cum.len() - 1];
                    cum.iter().position(|&c| u < c).unwrap_or(cum.len() - 1) as f64
                }))
            }
            BlockKind::Multinomial { probs } => {
                let data = self
                    .plan
                    .blocks
                    .iter()
                    .find(|b| b.kind == *kind)
                    .map(|b| b.data);
                let item = data.ok_or_else(|| SampleError::Param {
                    name: self.plan.name(probs.param).to_string(),
                    why: "no data item".into(),
                })?;
                let x = self.given(given, item, "a vector of counts whose row totals are known")?;
                let mut out = Array2::zeros(x.dim());
                for (i, &z) in states.iter().enumerate() {
                    let (p, _) = self.entry(probs, z)?;
                    let total: f64 = x.row(i).iter().sum();
                    // Sequential binomials: the multinomial draw.
                    let (mut left, mut mass) = (total.round() as u64, 1.0);
                    for (c, &pc) in p.iter().enumerate() {
                        if left == 0 {
                            break;
                        }
                        let q = if c + 1 == p.len() || mass <= 0.0 {
                            1.0
                        } else {
                            (pc / mass).clamp(0.0, 1.0)
                        };
                        let draw = binomial(left, q, self.plan.name(probs.param), rng)?;
                        out[[i, c]] = draw as f64;
                        left -= draw;
                        mass -= pc;
                    }
                }
                Ok(out)
            }
            BlockKind::Binomial { trials, prob } => {
                let counts = match trials {
                    Trials::Known(_) => None,
                    Trials::Column(v) => Some(self.given(given, v, "a binomial's trial counts")?),
                };
                let fixed = match trials {
                    Trials::Known(t) => t,
                    Trials::Column(_) => 0.0,
                };
                let name = self.plan.name(prob.param);
                self.elementwise(prob, states, rng, |p, i, c, rng| {
                    let t = counts.map_or(fixed, |x| x[[i, c.min(x.ncols() - 1)]]);
                    if !(0.0..=1.0).contains(&p) {
                        return Err(value(name, p, "binomial", "a probability is in [0, 1]"));
                    }
                    Ok(binomial(t.round().max(0.0) as u64, p, name, rng)? as f64)
                })
            }
            BlockKind::Normal { mean, var } => {
                let name = self.plan.name(var.param);
                let vars = (0..k)
                    .map(|j| self.entry(var, j).map(|e| e.0))
                    .collect::<Result<Vec<_>, _>>()?;
                self.elementwise(mean, states, rng, |m, i, c, rng| {
                    let v = &vars[states[i]];
                    let s = positive(name, v[c.min(v.len() - 1)], "Normal")?;
                    Ok(m + s.sqrt() * rng.sample::<f64, _>(StandardNormal))
                })
            }
            BlockKind::Poisson { rate } => {
                let name = self.plan.name(rate.param);
                self.elementwise(rate, states, rng, |r, _, _, rng| {
                    if r == 0.0 {
                        return Ok(0.0);
                    }
                    let d = rand_distr::Poisson::new(r)
                        .map_err(|_| value(name, r, "Poisson", "a rate is positive and finite"))?;
                    Ok(d.sample(rng))
                })
            }
            BlockKind::Exponential { rate } => {
                let name = self.plan.name(rate.param);
                self.elementwise(rate, states, rng, |r, _, _, rng| {
                    let d = rand_distr::Exp::new(r).map_err(|_| {
                        value(name, r, "exponential", "a rate is positive and finite")
                    })?;
                    Ok(d.sample(rng))
                })
            }
            BlockKind::Gamma { shape, rate } => {
                let name = self.plan.name(rate.param);
                self.elementwise(rate, states, rng, |r, _, _, rng| {
                    if !(r > 0.0 && r.is_finite()) {
                        return Err(value(name, r, "Gamma", "a rate is positive and finite"));
                    }
                    let d = rand_distr::Gamma::new(shape, 1.0 / r)
                        .map_err(|_| value(name, r, "Gamma", "a rate is positive and finite"))?;
                    Ok(d.sample(rng))
                })
            }
            BlockKind::Geometric { prob } => {
                let name = self.plan.name(prob.param);
                self.elementwise(prob, states, rng, |p, _, _, rng| {
                    let d = rand_distr::Geometric::new(p)
                        .map_err(|_| value(name, p, "geometric", "a probability is in (0, 1]"))?;
                    Ok(d.sample(rng) as f64)
                })
            }
            BlockKind::Bernoulli { prob } => {
                let name = self.plan.name(prob.param);
                self.elementwise(prob, states, rng, |p, _, _, rng| {
                    if !(0.0..=1.0).contains(&p) {
                        return Err(value(name, p, "Bernoulli", "a probability is in [0, 1]"));
                    }
                    Ok(f64::from(u8::from(rng.random::<f64>() < p)))
                })
            }
        }
    }

    /// Draws of an elementwise family: one column per entry of component `z`'s parameter.
    fn elementwise<R: Rng + ?Sized>(
        &self,
        p: PRef,
        states: &[usize],
        rng: &mut R,
        mut draw: impl FnMut(f64, usize, usize, &mut R) -> Result<f64, SampleError>,
    ) -> Result<Array2<f64>, SampleError> {
        let k = states.iter().max().map_or(0, |m| m + 1);
        let entries = (0..k)
            .map(|j| self.entry(p, j).map(|e| e.0))
            .collect::<Result<Vec<_>, _>>()?;
        let d = entries.first().map_or(1, Vec::len);
        let mut out = Array2::zeros((states.len(), d));
        for (i, &z) in states.iter().enumerate() {
            for c in 0..d {
                out[[i, c]] = draw(entries[z][c], i, c, rng)?;
            }
        }
        Ok(out)
    }

    /// A lower-triangular square root of component `j`'s covariance (`d × d`, row-major).
    fn scale(&self, cov: Cov, j: usize, d: usize) -> Result<Vec<f64>, SampleError> {
        let mut l = vec![0.0; d * d];
        let diag = |l: &mut Vec<f64>, v: &[f64], name: &str| -> Result<(), SampleError> {
            for c in 0..d {
                let s = positive(name, v[c.min(v.len() - 1)], "Normal")?;
                l[c * d + c] = s.sqrt();
            }
            Ok(())
        };
        match cov {
            Cov::Fixed(s) => diag(&mut l, &[s], "the fixed covariance")?,
            Cov::Diag(p) | Cov::Spherical(p) => {
                diag(&mut l, &self.entry(p, j)?.0, self.plan.name(p.param))?
            }
            Cov::Full(p) => {
                let (s, shape) = self.entry(p, j)?;
                let name = self.plan.name(p.param);
                if shape != [d, d] {
                    return Err(SampleError::Param {
                        name: name.to_string(),
                        why: format!("shape {shape:?}, expected [{d}, {d}]"),
                    });
                }
                let sigma =
                    ndarray::Array2::from_shape_vec((d, d), s).map_err(|e| SampleError::Param {
                        name: name.to_string(),
                        why: e.to_string(),
                    })?;
                let chol =
                    jensen_runtime::linalg::Cholesky::new(sigma.view()).ok_or_else(|| {
                        SampleError::Param {
                            name: name.to_string(),
                            why: format!("component {j}'s covariance is not positive definite"),
                        }
                    })?;
                let f = chol.factor();
                for r in 0..d {
                    for c in 0..=r {
                        l[r * d + c] = f[(r, c)];
                    }
                }
            }
        }
        Ok(l)
    }
}

/// The parameter that carries an elementwise block's shape.
fn main_param(kind: &BlockKind) -> Option<PRef> {
    match *kind {
        BlockKind::MvNormal { mean, .. }
        | BlockKind::Normal { mean, .. }
        | BlockKind::StudentT { mean, .. }
        | BlockKind::LinearGaussian { mean, .. } => Some(mean),
        BlockKind::Poisson { rate }
        | BlockKind::Exponential { rate }
        | BlockKind::Gamma { rate, .. } => Some(rate),
        BlockKind::Binomial { prob, .. }
        | BlockKind::Geometric { prob }
        | BlockKind::Bernoulli { prob } => Some(prob),
        BlockKind::Categorical { probs } | BlockKind::Multinomial { probs } => Some(probs),
        BlockKind::Regression { coef, .. } | BlockKind::MvRegression { coef, .. } => Some(coef),
    }
}

fn value(name: &str, v: f64, family: &'static str, why: &'static str) -> SampleError {
    SampleError::Value {
        name: name.to_string(),
        value: v,
        family,
        why,
    }
}

/// A variance, checked.
fn positive(name: &str, v: f64, family: &'static str) -> Result<f64, SampleError> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(value(name, v, family, "a variance is positive and finite"))
    }
}

fn binomial<R: Rng + ?Sized>(n: u64, p: f64, name: &str, rng: &mut R) -> Result<u64, SampleError> {
    rand_distr::Binomial::new(n, p)
        .map(|d| d.sample(rng))
        .map_err(|_| value(name, p, "binomial", "a probability is in [0, 1]"))
}

/// `m + L ε` with `ε ~ N(0, I)`, `L` lower-triangular row-major.
fn gaussian<R: Rng + ?Sized>(m: &[f64], l: &[f64], rng: &mut R) -> Vec<f64> {
    let d = m.len();
    let e: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
    (0..d)
        .map(|r| m[r] + (0..=r).map(|c| l[r * d + c] * e[c]).sum::<f64>())
        .collect()
}
