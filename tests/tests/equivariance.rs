//! Scale equivariance, for every shipped model with continuous data (issue 9).
//!
//! Multiplying a data column by `c` multiplies the density of each row by `1/|c|`, so a fit
//! that starts from correspondingly scaled parameters must follow the same path with `ℓ`
//! lower by exactly `N·ln|c|` per scaled column (a column of zeros does not scale) and the
//! same responsibilities — the regularising prior, the starting values and the guard all
//! take the columns' units from the data. Scaling every continuous column by the same `c`
//! does so from the default initialisation too.
//!
//! Per-column scaling applies where the model is equivariant per column: every scale
//! parameter a full or diagonal covariance (a variance shared by several coordinates ties
//! their units together); uniform scaling applies to every model.

use jensen::lang::plan::{BlockKind, Cov, PriorFamily, Rule};
use jensen::runtime::{FitOptions, InitStrategy};
use jensen::{Bound, DynParams, Plan, PlanModel};
use jensen_tests::{bind, plan, CATALOGUE};
use ndarray::{ArrayD, Axis, Dimension};

const ITERATIONS: usize = 5;

/// Whether block `b` has continuous data (its density scales with the data's units).
fn continuous(plan: &Plan, b: usize) -> bool {
    matches!(
        plan.blocks[b].kind,
        BlockKind::MvNormal { .. }
            | BlockKind::Normal { .. }
            | BlockKind::LinearGaussian { .. }
            | BlockKind::Exponential { .. }
            | BlockKind::Regression { .. }
            | BlockKind::MvRegression { .. }
            | BlockKind::StudentT { .. }
    )
}

/// The per-column factor of every data variable (1 where unscaled).
type Factors = Vec<Option<Vec<f64>>>;

fn scale_data(plan: &Plan, bound: &Bound, factors: &Factors) -> Bound {
    let mut out = bound.clone();
    for (v, f) in factors.iter().enumerate() {
        if let (Some(f), Some(item)) = (f, out.items[v].as_mut()) {
            if plan.blocks.iter().any(|b| b.data == v && b.log_scale) {
                // Held as y = ln x: scaling x by c shifts y by ln c (and with it the Jacobian
                // ln x, which the model computes from the values it is bound to).
                let shift = f[0].ln();
                item.values.mapv_inplace(|y| y + shift);
                continue;
            }
            for mut row in item.values.rows_mut() {
                for (x, c) in row.iter_mut().zip(f) {
                    *x *= c;
                }
            }
        }
    }
    out
}

/// The parameters that describe the scaled data exactly as `params` describe the data.
fn scale_params(
    plan: &Plan,
    model: &PlanModel<'_>,
    params: &DynParams,
    factors: &Factors,
) -> DynParams {
    let mut out = params.clone();
    for (i, slot) in model.program().params.iter().enumerate() {
        // A variational posterior's strength (a count, a shape, degrees of freedom) has no
        // units.
        if slot.posterior_of.is_some() {
            continue;
        }
        let u = &plan.updates[i];
        let Some(&b) = u.sources.first() else {
            continue;
        };
        let Some(f) = &factors[plan.blocks[b].data] else {
            continue;
        };
        if plan.blocks[b].log_scale {
            // LogNormal(m, v) of x is LogNormal(m + ln c, v) of c x.
            if u.rule == Rule::Mean {
                out.get_mut(&slot.name)
                    .expect("parameter")
                    .mapv_inplace(|m| m + f[0].ln());
            }
            continue;
        }
        let value: &mut ArrayD<f64> = out.get_mut(&slot.name).expect("parameter");
        let lead = usize::from(slot.per_component);
        for (ix, x) in value.indexed_iter_mut() {
            let tail: Vec<usize> = ix.slice()[lead..].to_vec();
            let fi = |k: usize| f[tail.get(k).copied().unwrap_or(0)];
            match u.rule {
                Rule::Mean | Rule::FactorMean => *x *= fi(0),
                Rule::Covariance => *x *= fi(0) * fi(1),
                Rule::DiagonalVariances => *x *= fi(0) * fi(0),
                Rule::Variance => *x *= f[0] * f[0],
                Rule::Loadings => *x *= fi(0),
                Rule::ExponentialRate => *x /= f[0],
                // A regression's response in units c: its coefficients and intercept scale by c
                // (a multivariate response's row d by c_d; a univariate response's
                // coefficients are indexed by covariate, all in the one response's units).
                Rule::RegressionCoefficients | Rule::RegressionIntercept
                    if matches!(plan.blocks[b].kind, BlockKind::MvRegression { .. }) =>
                {
                    *x *= fi(0)
                }
                Rule::RegressionCoefficients | Rule::RegressionIntercept => *x *= f[0],
                _ => {}
            }
        }
    }
    out
}

/// `Σ ln|c|` over the scaled columns of the continuous blocks.
fn log_scale(plan: &Plan, bound: &Bound, factors: &Factors) -> f64 {
    (0..plan.blocks.len())
        .filter(|&b| continuous(plan, b))
        .map(|b| {
            let v = plan.blocks[b].data;
            let Some(f) = &factors[v] else { return 0.0 };
            let values = &bound.item(v).values;
            // A column of zeros has no unit of its own: it scales only where its variance
            // is one shared with other coordinates.
            let tied = plan
                .updates
                .iter()
                .any(|u| u.rule == Rule::Variance && u.sources.contains(&b));
            f.iter()
                .enumerate()
                .filter(|&(j, _)| tied || values.column(j).iter().any(|x| *x != 0.0))
                .map(|(_, c)| c.abs().ln())
                .sum::<f64>()
        })
        .sum()
}

fn fixed(init: InitStrategy<DynParams>) -> FitOptions<DynParams> {
    FitOptions {
        max_iter: ITERATIONS,
        tol: f64::NEG_INFINITY,
        init,
        ..FitOptions::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-8 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn every_continuous_model_is_scale_equivariant() {
    let mut checked = 0;
    for &(name, file, consts) in CATALOGUE {
        let p = plan(name);
        let bound = bind(&p, file, consts);
        let model = PlanModel::new(&p, &bound);
        let vars: Vec<usize> = (0..p.blocks.len())
            .filter(|&b| continuous(&p, b))
            .map(|b| p.blocks[b].data)
            .collect();
        // A known covariance (`MvNormal(mu[z[n]], I)`: k-means) or a parameter fixed at a
        // number (`param v[K]: positive = 0.1`) fixes the data's units, so rescaling is not a
        // symmetry of the model.
        let known_covariance = p.blocks.iter().any(|b| {
            matches!(
                b.kind,
                BlockKind::MvNormal {
                    cov: Cov::Fixed(_),
                    ..
                }
            )
        }) || p.model.vars.iter().any(|v| v.fixed.is_some());
        // So does a prior whose hyperparameters are numbers in the data's units
        // (`InvGamma(-1.0, 0.005)`, a prior mean other than 0, a Gamma's rate); summaries of
        // the data (`cov(x)`, `var(x)`, `mean(x)`) rescale with the data and keep the symmetry.
        let scale_prior = p.updates.iter().any(|u| {
            u.prior.as_ref().is_some_and(|prior| match prior.family {
                PriorFamily::Dirichlet { .. } | PriorFamily::Beta { .. } => false,
                PriorFamily::InvGamma { scale, .. } | PriorFamily::InvWishart { scale, .. } => {
                    scale.number().is_some()
                }
                PriorFamily::NormalMean { mean, .. } => mean.number().is_some_and(|m| m != 0.0),
                PriorFamily::Gamma { .. } => true,
            })
        });
        if vars.is_empty() || known_covariance || scale_prior {
            continue;
        }
        let with_priors = p.updates.iter().any(|u| {
            u.prior
                .as_ref()
                .is_some_and(|prior| !matches!(prior.family, PriorFamily::Dirichlet { .. }))
        });
        // A variance shared by several coordinates (a vector, or several statements) ties
        // their units together.
        let per_column = p.updates.iter().all(|u| {
            u.rule != Rule::Variance
                || (u.sources.len() == 1
                    && bound.item(p.blocks[u.sources[0]].data).values.ncols() == 1)
        });
        // A few iterations from the default start give parameters away from the start.
        let start = jensen::fit(&model, &fixed(InitStrategy::KMeansPlusPlus))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .params;
        let base = jensen::fit(&model, &fixed(InitStrategy::Params(start.clone()))).unwrap();
        let n = bound.n_rows as f64;
        // (A log-normal item is positive: it takes positive factors only, as here.)
        for c in [1e-6, 1e-3, 1e3, 1e6] {
            let mut cases: Vec<(&str, Factors)> = Vec::new();
            let uniform: Factors = (0..p.model.vars.len())
                .map(|v| {
                    vars.contains(&v)
                        .then(|| vec![c; bound.item(v).values.ncols()])
                })
                .collect();
            cases.push(("every column", uniform.clone()));
            if per_column {
                let mut one: Factors = vec![None; p.model.vars.len()];
                let v = vars[0];
                let mut f = vec![1.0; bound.item(v).values.ncols()];
                f[0] = c;
                one[v] = Some(f);
                cases.push(("the first column", one));
            }
            for (what, factors) in &cases {
                let scaled = scale_data(&p, &bound, factors);
                let scaled_model = PlanModel::new(&p, &scaled);
                let from = scale_params(&p, &model, &start, factors);
                let fit = jensen::fit(&scaled_model, &fixed(InitStrategy::Params(from)))
                    .unwrap_or_else(|e| panic!("{name}, {what} ×{c}: {e}"));
                let mut shift = n * log_scale(&p, &bound, factors);
                // A prior's density on a scaled parameter (`ln p(θ)`, in the objective of
                // MAP-EM and the ELBO) moves by the log-Jacobian of the scaling: a constant.
                if with_priors {
                    shift = base.elbo_trace[0] - fit.elbo_trace[0];
                }
                for (t, (a, b)) in fit.elbo_trace.iter().zip(&base.elbo_trace).enumerate() {
                    assert!(
                        close(*a, b - shift),
                        "{name}, {what} ×{c}, iteration {t}: {a} vs {}",
                        b - shift
                    );
                }
                for (a, b) in fit
                    .responsibilities
                    .iter()
                    .zip(base.responsibilities.iter())
                {
                    assert!(
                        (a - b).abs() < 1e-8,
                        "{name}, {what} ×{c}: responsibilities"
                    );
                }
                checked += 1;
            }
            // From the default initialisation, every column scaled alike.
            let scaled = scale_data(&p, &bound, &uniform);
            let fit = jensen::fit(
                &PlanModel::new(&p, &scaled),
                &fixed(InitStrategy::KMeansPlusPlus),
            )
            .unwrap_or_else(|e| panic!("{name}, default start ×{c}: {e}"));
            let reference = jensen::fit(&model, &fixed(InitStrategy::KMeansPlusPlus)).unwrap();
            let shift = n * log_scale(&p, &bound, &uniform);
            assert!(
                close(fit.log_likelihood, reference.log_likelihood - shift),
                "{name}, default start ×{c}: {} vs {}",
                fit.log_likelihood,
                reference.log_likelihood - shift
            );
            for (a, b) in fit
                .responsibilities
                .axis_iter(Axis(0))
                .zip(reference.responsibilities.axis_iter(Axis(0)))
            {
                for (x, y) in a.iter().zip(b.iter()) {
                    assert!((x - y).abs() < 1e-6, "{name}, default start ×{c}");
                }
            }
            checked += 1;
        }
    }
    eprintln!("scale equivariance: {checked} scaled fits checked");
    assert!(checked >= 60, "only {checked} cases");
}
