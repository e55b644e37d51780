//! Linear-Gaussian latents against independent references (fixtures from
//! `scripts/fa_fixtures.py`, described in `tests/fixtures/fa/README.md`):
//! - probabilistic PCA, fitted by EM from a random start, reaches the closed-form maximum-
//!   likelihood solution of Tipping & Bishop (1999) — the eigen-decomposition of the sample
//!   covariance — on iris and on digits;
//! - factor analysis reaches scikit-learn's `FactorAnalysis` optimum on digits;
//! - a mixture of factor analysers with one component is factor analysis, step for step.

use jensen::runtime::{FitOptions, FitResult, MStepConfig};
use jensen::{DynParams, PlanModel};
use jensen_tests::glue::matrix;
use jensen_tests::models::{PpcaIrisConsts, PpcaIrisData, PpcaIrisModel};
use jensen_tests::{bind, plan, root};
use ndarray::{Array1, Array2, Ix1, Ix2};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = root()
        .join("tests/fixtures/fa")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vector(v: &Value) -> Array1<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn rows(v: &Value) -> Array2<f64> {
    let rows: Vec<Array1<f64>> = v.as_array().unwrap().iter().map(vector).collect();
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_fn((r, c), |(i, j)| rows[i][j])
}

fn options<P>(reg_covar: f64) -> FitOptions<P> {
    FitOptions {
        tol: 1e-12,
        max_iter: 20_000,
        seed: 3,
        m_step: MStepConfig { reg_covar },
        ..FitOptions::default()
    }
}

fn param_vector(p: &DynParams, name: &str) -> Array1<f64> {
    p.get(name)
        .unwrap()
        .clone()
        .into_dimensionality::<Ix1>()
        .unwrap()
}

fn param_matrix(p: &DynParams, name: &str) -> Array2<f64> {
    p.get(name)
        .unwrap()
        .clone()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn assert_rel(what: &str, got: f64, expect: f64, tol: f64) {
    let rel = (got - expect).abs() / expect.abs().max(1e-300);
    assert!(
        rel <= tol,
        "{what}: {got} vs {expect} (relative {rel:e} > {tol:e})"
    );
}

/// A fitted linear-Gaussian model's `W Wᵀ`, which the rotation of the latent leaves alone.
fn gram(w: &Array2<f64>) -> Array2<f64> {
    w.dot(&w.t())
}

fn check_ppca(fit: &FitResult<DynParams>, reference: &Value) {
    let case = reference["case"].as_str().unwrap();
    assert!(fit.converged, "{case}: not converged");
    assert_rel(
        &format!("{case} log-likelihood"),
        fit.log_likelihood,
        reference["log_likelihood"].as_f64().unwrap(),
        1e-9,
    );
    let s2 = fit
        .params
        .get("s2")
        .unwrap()
        .iter()
        .next()
        .copied()
        .unwrap();
    assert_rel(
        &format!("{case} σ²"),
        s2,
        reference["sigma2"].as_f64().unwrap(),
        1e-5,
    );
    let mean = vector(&reference["mean"]);
    let mu = param_vector(&fit.params, "mu");
    for (a, b) in mu.iter().zip(mean.iter()) {
        assert!(
            (a - b).abs() <= 1e-8 * b.abs().max(1.0),
            "{case} mean: {a} vs {b}"
        );
    }
    // W is determined up to a rotation: compare W Wᵀ = U_L (Λ_L − σ² I) U_Lᵀ.
    let w = param_matrix(&fit.params, "W");
    let expect = gram(&rows(&reference["W"]));
    let scale = expect.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(&gram(&w), &expect);
    assert!(
        diff <= 1e-4 * scale,
        "{case}: W Wᵀ differs from the Tipping–Bishop solution by {diff:e} (scale {scale})"
    );
}

#[test]
fn ppca_on_iris_reaches_the_closed_form_maximum_likelihood_solution() {
    let reference = fixture("ppca_iris");
    let p = plan("ppca_iris");
    let bound = bind(&p, "iris.csv", &[]);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &options(0.0)).unwrap();
    check_ppca(&fit, &reference);
    // The generated code, from the same start, lands on the same point.
    let model = PpcaIrisModel::new(
        PpcaIrisData {
            x: matrix(&p, &bound, "x"),
        },
        PpcaIrisConsts::default(),
    )
    .unwrap();
    let generated = jensen::fit(&model, &options(0.0)).unwrap();
    assert_rel(
        "generated log-likelihood",
        generated.log_likelihood,
        fit.log_likelihood,
        1e-12,
    );
    assert_rel(
        "generated s2",
        generated.params.s2,
        0.0506821478647967,
        1e-5,
    );
    // Factor scores from both back-ends agree, and they average to zero (the projection of
    // the centred data).
    let executed = PlanModel::new(&p, &bound)
        .latent_means(&fit.params, fit.responsibilities.view())
        .unwrap()
        .expect("a continuous latent");
    let scores = model
        .latent_means(&generated.params, generated.responsibilities.view())
        .unwrap();
    assert_eq!(scores.dim(), (150, 2));
    for (a, b) in scores.iter().zip(executed.iter()) {
        assert!(
            (a - b).abs() <= 1e-8 * b.abs().max(1.0),
            "scores {a} vs {b}"
        );
    }
    for col in scores.columns() {
        assert!(col.mean().unwrap().abs() < 1e-10);
    }
}

#[test]
fn ppca_on_digits_reaches_the_closed_form_maximum_likelihood_solution() {
    let reference = fixture("ppca_digits");
    let source = std::fs::read_to_string(root().join("models/fa_digits.em"))
        .unwrap()
        .replace("param  psi: positive[D]", "param  s2: positive")
        .replace("diag(psi)", "s2 * I");
    let (p, _) = jensen::compile(&source).unwrap();
    let bound = bind(&p, "digits.csv", &[]);
    let columns: Vec<&str> = reference["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(bound.item(p.model.var("x").unwrap()).columns, columns);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &options(0.0)).unwrap();
    check_ppca(&fit, &reference);
}

#[test]
fn factor_analysis_on_digits_reaches_the_scikit_learn_optimum() {
    let reference = fixture("fa_digits");
    let p = plan("fa_digits");
    let bound = bind(&p, "digits.csv", &[]);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &options(1e-9)).unwrap();
    assert!(fit.converged);
    let expect = reference["log_likelihood"].as_f64().unwrap();
    // scikit-learn stops when the gain per iteration is below 1e-12; EM from a random start
    // reaches the same optimum (the trace never decreases on the way).
    assert_rel("log-likelihood", fit.log_likelihood, expect, 2e-8);
    let mean = vector(&reference["mean"]);
    let mu = param_vector(&fit.params, "mu");
    for (a, b) in mu.iter().zip(mean.iter()) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "mean: {a} vs {b}");
    }
    // The model covariance W Wᵀ + Ψ (rotation-free); sklearn's components_ are L × D.
    let components = rows(&reference["components"]);
    let mut expect_cov = components.t().dot(&components);
    let mut cov = gram(&param_matrix(&fit.params, "W"));
    let (noise, psi) = (
        vector(&reference["noise_variance"]),
        param_vector(&fit.params, "psi"),
    );
    for i in 0..noise.len() {
        expect_cov[[i, i]] += noise[i];
        cov[[i, i]] += psi[i];
    }
    let scale = expect_cov.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(&cov, &expect_cov);
    assert!(
        diff <= 1e-3 * scale,
        "W Wᵀ + Ψ differs from scikit-learn's by {diff:e} (scale {scale})"
    );
}

/// The categorical latent and the continuous one combine without special cases: with one
/// component, the mixture of factor analysers follows factor analysis step for step. This
/// also checks factor analysis's start and E-step from the data's summaries (mean and scatter
/// root, no pass over the rows) against the row-by-row start and E-step the mixture runs.
#[test]
fn a_mixture_of_one_factor_analyser_is_factor_analysis() {
    let p_mix = plan("mfa_iris");
    let bound_mix = bind(&p_mix, "iris.csv", &[("K", 1)]);
    let source = std::fs::read_to_string(root().join("models/mfa_iris.em"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("simplex") && !l.contains("0..K") && !l.contains("Categorical"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("W[K]", "W")
        .replace("mu[K]", "mu")
        .replace("W[z[n]]", "W")
        .replace("mu[z[n]]", "mu");
    let (p_fa, _) = jensen::compile(&source).unwrap();
    assert!(p_fa.components().is_none());
    let bound_fa = bind(&p_fa, "iris.csv", &[]);
    let opts = FitOptions {
        max_iter: 50,
        tol: f64::NEG_INFINITY,
        ..options(1e-6)
    };
    let mix = jensen::fit(&PlanModel::new(&p_mix, &bound_mix), &opts).unwrap();
    let fa = jensen::fit(&PlanModel::new(&p_fa, &bound_fa), &opts).unwrap();
    assert_eq!(mix.elbo_trace.len(), fa.elbo_trace.len());
    for (a, b) in mix.elbo_trace.iter().zip(&fa.elbo_trace) {
        assert_rel("trace", *a, *b, 1e-12);
    }
    let w_mix = mix.params.get("W").unwrap();
    let w_fa = fa.params.get("W").unwrap();
    for (a, b) in w_mix.iter().zip(w_fa.iter()) {
        assert!((a - b).abs() <= 1e-10, "W: {a} vs {b}");
    }
    // The mixture counts its weights' free parameters (none for K = 1) like FA counts none.
    assert_eq!(mix.free_parameters, fa.free_parameters);
}

/// A mixture of factor analysers on iris: three clusters explain the data far better than one
/// factor analyser, and they follow the species (versicolor and virginica overlap, so not
/// perfectly: about 131 of 150 rows sit in their species' cluster).
#[test]
fn mixture_of_factor_analysers_fits_iris() {
    let p = plan("mfa_iris");
    let bound = bind(&p, "iris.csv", &[]);
    let opts = FitOptions {
        restarts: 4,
        ..options(1e-6)
    };
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &opts).unwrap();
    assert!(fit.converged);
    // 2 weights + 3 × (4·1 loadings + 4 offsets) + 4 shared noise variances.
    assert_eq!(fit.free_parameters, 2 + 3 * 8 + 4);
    let one = jensen::fit(
        &PlanModel::new(&p, &bind(&p, "iris.csv", &[("K", 1)])),
        &opts,
    )
    .unwrap();
    assert!(
        fit.log_likelihood > one.log_likelihood + 50.0,
        "three clusters {} vs one {}",
        fit.log_likelihood,
        one.log_likelihood
    );
    // The clusters follow the species: each species sits mostly in one cluster.
    let table = jensen::csv::read(root().join("data/iris.csv").to_str().unwrap()).unwrap();
    let at = table.headers.iter().position(|h| h == "species").unwrap();
    let species = table.text[at].as_ref().expect("species is a text column");
    let mut agree = 0;
    for s in 0..3 {
        let rows: Vec<usize> = (0..150)
            .filter(|&i| species[i] == species[s * 50])
            .collect();
        let mut counts = [0; 3];
        for &i in &rows {
            counts[fit.assignments[i]] += 1;
        }
        agree += counts.iter().max().unwrap();
    }
    assert!(
        agree >= 125,
        "only {agree} of 150 rows in their species' cluster"
    );
}

/// `Σ_k = W_k W_kᵀ + Ψ`: the marginal covariances of a linear-Gaussian block.
fn marginal_covariances(params: &DynParams) -> ndarray::Array3<f64> {
    let w = params.get("W").unwrap();
    let psi = param_vector(params, "psi");
    let k = w.shape()[0];
    let d = psi.len();
    let mut sigma = ndarray::Array3::zeros((k, d, d));
    for c in 0..k {
        let wc = w
            .index_axis(ndarray::Axis(0), c)
            .into_dimensionality::<Ix2>()
            .unwrap()
            .to_owned();
        let mut s = gram(&wc);
        for i in 0..d {
            s[[i, i]] += psi[i];
        }
        sigma.index_axis_mut(ndarray::Axis(0), c).assign(&s);
    }
    sigma
}

/// The Woodbury/determinant-lemma density of the linear-Gaussian block against the Cholesky
/// density of a full covariance: a fitted mixture of factor analysers has the log-likelihood
/// of the Gaussian mixture with `Σ_k = W_k W_kᵀ + Ψ`, `μ_k` and `w`.
#[test]
fn mixture_of_factor_analysers_is_a_constrained_gaussian_mixture() {
    let p = plan("mfa_iris");
    let bound = bind(&p, "iris.csv", &[]);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &options(1e-6)).unwrap();
    let source = "model gmm_iris
const K: int = 3
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])";
    let (gmm, _) = jensen::compile(source).unwrap();
    let gmm_bound = bind(&gmm, "iris.csv", &[]);
    let gmm_model = PlanModel::new(&gmm, &gmm_bound);
    let mut params = DynParams::default();
    params.insert("w", fit.params.get("w").unwrap().clone());
    params.insert("mu", fit.params.get("mu").unwrap().clone());
    params.insert("Sigma", marginal_covariances(&fit.params).into_dyn());
    let ll = jensen::runtime::em::elbo(&gmm_model, &params, &params).unwrap();
    assert_rel(
        "log-likelihood as a Gaussian mixture",
        ll,
        fit.log_likelihood,
        1e-12,
    );
}

/// A hidden Markov model whose emissions are factor analysers: the chain's forward–backward
/// and the linear-Gaussian block combine without special cases. EM never lowers the ELBO, the
/// bound is tight after the E-step, and the log-likelihood is that of the Gaussian HMM with
/// `Σ_k = W_k W_kᵀ + Ψ`.
#[test]
fn hidden_markov_model_with_factor_analysed_emissions() {
    let chain = "z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])";
    let source = format!(
        "model hmm_fa
const K: int = 2
const L: int = 1
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  W[K]: matrix[D, L]
param  mu[K]: vector[D]
param  psi: positive[D]
latent z[T]: 0..K
latent h[T]: vector[L]
{chain}
h[t] ~ MvNormal(0, I)
x[t] ~ MvNormal(W[z[t]] * h[t] + mu[z[t]], diag(psi))"
    );
    let (p, _) = jensen::compile(&source).unwrap();
    assert!(p.latent.is_chain() && p.continuous.is_some());
    let bound = bind(&p, "geyser.csv", &[]);
    let model = PlanModel::new(&p, &bound);
    let fit = jensen::fit(
        &model,
        &FitOptions {
            max_iter: 200,
            ..options(1e-6)
        },
    )
    .unwrap();
    for pair in fit.elbo_trace.windows(2) {
        assert!(
            pair[1] >= pair[0] - 1e-9 * pair[0].abs(),
            "ELBO fell: {pair:?}"
        );
    }
    let tight = jensen::runtime::em::elbo(&model, &fit.params, &fit.params).unwrap();
    assert_rel("ELBO after the E-step", tight, fit.log_likelihood, 1e-9);

    let (hmm, _) =
        jensen::compile(&std::fs::read_to_string(root().join("models/hmm_gaussian.em")).unwrap())
            .unwrap();
    let hmm_bound = bind(&hmm, "geyser.csv", &[]);
    let mut params = DynParams::default();
    for name in ["p0", "A", "mu"] {
        params.insert(name, fit.params.get(name).unwrap().clone());
    }
    params.insert("Sigma", marginal_covariances(&fit.params).into_dyn());
    let hmm_model = PlanModel::new(&hmm, &hmm_bound);
    let ll = jensen::runtime::em::elbo(&hmm_model, &params, &params).unwrap();
    assert_rel(
        "log-likelihood as a Gaussian HMM",
        ll,
        fit.log_likelihood,
        1e-12,
    );
}

/// At EM's fixed point the log-likelihood is stationary in every loading, offset and noise
/// variance (central differences), for PPCA and for factor analysis.
#[test]
fn gradient_vanishes_at_convergence() {
    for (name, noise) in [("ppca_iris", "s2"), ("fa_digits", "psi")] {
        let p = plan(name);
        let file = if name == "ppca_iris" {
            "iris.csv"
        } else {
            "digits.csv"
        };
        let bound = bind(&p, file, &[]);
        let model = PlanModel::new(&p, &bound);
        let opts = FitOptions {
            tol: 1e-14,
            max_iter: 50_000,
            ..options(if name == "ppca_iris" { 0.0 } else { 1e-9 })
        };
        let fit = jensen::fit(&model, &opts).unwrap();
        let ll = |q: &DynParams| jensen::runtime::em::elbo(&model, q, q).unwrap();
        let h = 1e-6;
        for pname in ["W", "mu", noise] {
            let n = fit.params.get(pname).unwrap().len();
            // Every entry for iris; a spread of entries for the 61 × 10 digits loadings.
            let step = if n > 40 { n / 23 } else { 1 };
            for i in (0..n).step_by(step) {
                let shift = |sign: f64| {
                    let mut q = fit.params.clone();
                    let a = q.get_mut(pname).unwrap();
                    let v = a.iter_mut().nth(i).unwrap();
                    *v += sign * h * v.abs().max(1e-3);
                    q
                };
                // The derivative with respect to a relative change of the entry,
                // v ∂ℓ/∂v (|v| floored at 1e-3), per row.
                let g = (ll(&shift(1.0)) - ll(&shift(-1.0))) / (2.0 * h) / bound.n_rows as f64;
                assert!(
                    g.abs() < 1e-6,
                    "{name}: v ∂ℓ/∂{pname}[{i}] = {g} per row at convergence"
                );
            }
        }
    }
}

/// BIC and AIC count `D·L − L(L−1)/2` free loadings (a rotation of the latent is free), but a
/// factor analysis that is not identified ((D−L)² < D+L) never counts more than the full
/// covariance it can represent.
#[test]
fn free_parameters_of_loadings() {
    let fa = |l: usize| {
        let source = std::fs::read_to_string(root().join("models/ppca_iris.em"))
            .unwrap()
            .replace("param  s2: positive", "param  psi: positive[D]")
            .replace("s2 * I", "diag(psi)");
        let (p, _) = jensen::compile(&source).unwrap();
        let bound = bind(&p, "iris.csv", &[("L", l)]);
        jensen::runtime::MixtureModel::free_parameters(&PlanModel::new(&p, &bound))
    };
    // D = 4: L = 1 gives 4 loadings + 4 offsets + 4 noise variances.
    assert_eq!(fa(1), 12);
    // L = 2: 8 − 1 = 7 loadings, but (4 − 2)² < 4 + 2: capped at 10 − 4 = 6, so the count is
    // that of a full covariance (10) with its mean (4) — the iris Heywood case of the
    // fixtures' README. L = 3 (12 − 3 = 9 loadings) is capped the same way.
    assert_eq!(fa(2), 14);
    assert_eq!(fa(3), 14);
    // PPCA: D·L − L(L−1)/2 + D + 1 (Tipping & Bishop).
    let p = plan("ppca_iris");
    let bound = bind(&p, "iris.csv", &[]);
    assert_eq!(
        jensen::runtime::MixtureModel::free_parameters(&PlanModel::new(&p, &bound)),
        4 * 2 - 1 + 4 + 1
    );
}
