//! Variational Bayes for linear-Gaussian latents (factor analysis, probabilistic PCA) against
//! an independent NumPy implementation (`scripts/vb_fa_fixtures.py`, fixtures in
//! `tests/fixtures/vb_fa/`): from the same starting posterior, every posterior parameter
//! (`W`'s means and row covariance factor `V`, the mean, the noise's `b / a` and shape) and
//! the ELBO agree at every iteration. The script writes the ELBO term by term from the
//! model's definition and solves the M-step as one augmented ridge; jensen moves the
//! loadings' spread into the latent's prior, adds offsets and subtracts closed-form KL
//! terms, and steps from the previous loadings.

use jensen::runtime::em::{em_step, params_from_labels};
use jensen::runtime::{MStepConfig, MixtureModel};
use jensen::{BindOptions, PlanModel};
use jensen_tests::root;
use ndarray::ArrayD;
use rand::SeedableRng;
use serde_json::Value;

/// The fixture's model; with `mixture`, written as a mixture of factor analysers with one
/// component (a Dirichlet posterior on its weight, per-component loadings and mean, shared
/// noise), which must follow the same trajectory.
fn model_source(fx: &Value, mixture: bool) -> String {
    let p = &fx["priors"];
    let num = |k: &str| p[k].as_f64().unwrap();
    let (decl, cov) = if fx["spherical"].as_bool().unwrap() {
        ("param  psi: positive", "psi * I")
    } else {
        ("param  psi: positive[D]", "diag(psi)")
    };
    let (params, latent, mean, prior) = if mixture {
        (
            "param  w: simplex[K]\nparam  W[K]: matrix[D, L]\nparam  mu[K]: vector[D]",
            "latent z[N]: 0..K\nz[n] ~ Categorical(w)\n",
            "W[z[n]] * h[n] + mu[z[n]]",
            "w ~ Dirichlet(1.0)\nW[k]",
        )
    } else {
        (
            "param  W: matrix[D, L]\nparam  mu: vector[D]",
            "",
            "W * h[n] + mu",
            "W",
        )
    };
    format!(
        "model vb_fa\nmethod vb\nconst K: int = 1\nconst L: int = {l}\ndata   x[N]: vector[D]\n\
         {params}\n{decl}\n{latent}latent h[N]: vector[L]\n\
         h[n] ~ MvNormal(0, I)\nx[n] ~ MvNormal({mean}, {cov})\n\
         {prior} ~ Normal(0.0, psi / {alpha:?})\npsi ~ InvGamma({a0:?}, {factor:?} * var(x))\n",
        l = fx["L"].as_u64().unwrap(),
        alpha = num("alpha"),
        a0 = num("a0"),
        factor = num("b0_factor"),
    )
}

fn array(v: &Value) -> ArrayD<f64> {
    serde_json::from_value::<jensen::runtime::nested::Nested>(v.clone())
        .unwrap()
        .to_array()
        .unwrap()
}

/// `|a − b| / max(|b|, 1)`, largest over the elements.
fn worst(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

fn reference_case(case: &str, mixture: bool) {
    let text =
        std::fs::read_to_string(root().join(format!("tests/fixtures/vb_fa/{case}.json"))).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let source = model_source(&fx, mixture);
    let plan = jensen::compile(&source)
        .unwrap_or_else(|d| panic!("{source}\n{d:?}"))
        .0;
    let data = root().join("data").join(fx["data"].as_str().unwrap());
    let table = jensen::csv::read(data.to_str().unwrap()).unwrap();
    let columns: Vec<String> = fx["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let opts = BindOptions {
        columns: [("x".to_string(), columns)].into(),
        ..Default::default()
    };
    let bound = jensen::bind(&plan, &table, &opts).unwrap();
    let model = PlanModel::new(&plan, &bound);
    model.check_priors().unwrap();
    // The prior's scale `c · var(x)` as jensen computes it from the data equals the script's.
    let b0 = array(&fx["priors"]["b0"]);
    let hypers = model.data_hyperparameters();
    assert_eq!(hypers.len(), 1);
    assert_eq!(hypers[0].value.len(), b0.len(), "{case}");
    for (a, b) in hypers[0].value.iter().zip(b0.iter()) {
        assert!(
            (a - b).abs() <= 1e-13 * b.abs(),
            "{case}: prior scale {a} vs {b}"
        );
    }
    let config = MStepConfig { reg_covar: 0.0 };
    let n = fx["N"].as_u64().unwrap() as usize;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let (mut params, _) = params_from_labels(&model, &vec![0; n], &config, &mut rng).unwrap();
    let names = ["W", "W_row_cov", "mu", "psi", "psi_shape"];
    let trajectory = fx["trajectory"].as_array().unwrap();
    for name in names {
        let start = array(&trajectory[0][name]);
        let shape = params.get(name).unwrap().shape().to_vec();
        params.insert(name, start.into_shape_with_order(shape).unwrap());
    }
    let mut largest: f64 = 0.0;
    let mut elbo_largest: f64 = 0.0;
    for (t, reference) in trajectory.iter().enumerate() {
        for name in names {
            let theirs = array(&reference[name]);
            let ours = params.get(name).unwrap();
            let theirs = theirs.into_shape_with_order(ours.shape()).unwrap();
            let err = worst(ours, &theirs);
            largest = largest.max(err);
            assert!(
                err < 1e-8,
                "{case}: iteration {t}: {name} differs by {err:.3e}\n{ours:?}\n{theirs:?}"
            );
        }
        let (objective, next) = em_step(&model, &params, &config).unwrap();
        let elbo = objective + model.log_prior(&params, &config);
        let theirs = reference["elbo"].as_f64().unwrap();
        let err = (elbo - theirs).abs() / theirs.abs();
        elbo_largest = elbo_largest.max(err);
        assert!(
            err < 1e-10,
            "{case}: iteration {t}: ELBO {elbo} vs {theirs} ({err:.3e})"
        );
        params = next;
    }
    eprintln!(
        "{case}: largest relative difference {largest:.2e} over the posterior parameters, {elbo_largest:.2e} in the ELBO, over {} iterations",
        trajectory.len()
    );
}

#[test]
fn factor_analysis_on_iris() {
    reference_case("fa_iris", false);
}

#[test]
fn probabilistic_pca_on_iris() {
    reference_case("ppca_iris", false);
}

#[test]
fn factor_analysis_on_digits() {
    reference_case("fa_digits", false);
}

/// The per-component kernels (loadings, row covariance factors and offsets per component,
/// the noise pooled over the components, the weights' Dirichlet posterior) on one component.
#[test]
fn a_mixture_of_one_factor_analyser_is_factor_analysis() {
    reference_case("fa_iris", true);
    reference_case("ppca_iris", true);
}

/// `#[model(file = "fa_iris_map.em", method = "vb")]` generates the variational program of the
/// MAP file, which agrees with the executor run with `--method vb`.
#[test]
fn the_derive_attribute_chooses_variational_bayes_for_factor_analysis() {
    use jensen::lang::ir::Method;
    use jensen_tests::glue::matrix;
    use jensen_tests::models::{FaIrisMapVbConsts, FaIrisMapVbData, FaIrisMapVbModel};
    let source = std::fs::read_to_string(root().join("models/fa_iris_map.em")).unwrap();
    let plan = jensen::lang::compile_for(&source, Some(Method::Vb))
        .unwrap()
        .0;
    let bound = jensen_tests::bind(&plan, "iris.csv", &[]);
    fn opts<P>() -> jensen::FitOptions<P> {
        jensen::FitOptions {
            seed: 5,
            max_iter: 60,
            tol: 1e-10,
            restarts: 2,
            ..jensen::FitOptions::default()
        }
    }
    let executed = jensen::fit(&PlanModel::new(&plan, &bound), &opts()).unwrap();
    let data = FaIrisMapVbData {
        x: matrix(&plan, &bound, "x"),
    };
    let model = FaIrisMapVbModel::new(data, FaIrisMapVbConsts::default()).unwrap();
    let generated = jensen::fit(&model, &opts()).unwrap();
    // The noise's posterior shape: the prior's 1 plus half the rows.
    assert_eq!(generated.params.psi_shape, 76.0);
    jensen_tests::compare_routes("fa_iris_map (method vb)", &executed, &generated);
}

/// Starting values of the loadings' row covariance factor are checked: symmetric positive
/// definite (the ELBO's KL term has `ln |V|`), one matrix per component.
#[test]
fn a_starting_row_covariance_factor_must_be_positive_definite() {
    for name in ["fa_iris_vb", "mfa_iris_vb"] {
        let plan = jensen_tests::plan(name);
        let bound = jensen_tests::bind(&plan, "iris.csv", &[]);
        let model = PlanModel::new(&plan, &bound);
        let fit = jensen::fit(
            &model,
            &jensen::FitOptions {
                max_iter: 5,
                ..jensen::FitOptions::default()
            },
        )
        .unwrap();
        assert!(model.check_params(&fit.params).is_ok(), "{name}");
        let v = fit.params.get("W_row_cov").unwrap().clone();
        let l = v.shape()[v.ndim() - 1];
        for (bad, why) in [
            (-1.0, "negative definite"),
            (0.0, "zero"),
            (f64::NAN, "not finite"),
        ] {
            let mut q = fit.params.clone();
            let mut w = v.clone();
            w.iter_mut().for_each(|x| *x *= bad);
            q.insert("W_row_cov", w);
            let err = model.check_params(&q).unwrap_err();
            assert!(err.contains("positive definite"), "{name}, {why}: {err}");
        }
        if l > 1 {
            let mut q = fit.params.clone();
            let mut w = v.clone();
            w[[0, 1]] += 0.1;
            q.insert("W_row_cov", w);
            assert!(model.check_params(&q).is_err(), "{name}: not symmetric");
        }
    }
}
