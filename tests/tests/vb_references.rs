//! Variational Bayes against scikit-learn's `BayesianGaussianMixture`
//! (`weight_concentration_prior_type="dirichlet_distribution"`): from the same initial
//! responsibilities (one-hot k-means labels), every posterior parameter agrees at every
//! iteration (fixtures made by `scripts/sklearn_bgm_fixtures.py`). The diagonal cases use
//! scikit-learn's loop with the exact expected log-determinant of a diagonal precision
//! (see the script and `tests/fixtures/sklearn_bgm/README.md`).

use jensen::runtime::em::{em_step, params_from_labels};
use jensen::runtime::{MStepConfig, MixtureModel};
use jensen::{BindOptions, PlanModel};
use jensen_tests::root;
use ndarray::ArrayD;
use rand::SeedableRng;
use serde_json::Value;

/// The model file of a fixture: scikit-learn's priors written as conjugate priors. Its
/// `covariance_prior` `c` is the inverse-Wishart scale `c I` (full); for the diagonal model
/// each variance has `IG(ν0 / 2, c / 2)`, and the spherical one `IG(D ν0 / 2, D c / 2)`: the
/// Gamma posteriors of scikit-learn's own diagonal and spherical M-steps.
fn model_source(fx: &Value) -> String {
    let p = &fx["priors"];
    let num = |k: &str| p[k].as_f64().unwrap();
    let (alpha, kappa, m0, nu, c) = (
        num("alpha0"),
        num("kappa0"),
        num("m0"),
        num("nu0"),
        num("c"),
    );
    let f = |v: f64| format!("{v:?}");
    let (cov_decl, cov_use, cov_prior, mean_scale) = match fx["covariance_type"].as_str().unwrap() {
        "full" => (
            "param  Sigma[K]: cov[D]",
            "Sigma[z[n]]",
            format!("Sigma[k] ~ InvWishart({}, {} * I)", f(nu), f(c)),
            "Sigma[k]",
        ),
        "diag" => (
            "param  v[K]: positive[D]",
            "diag(v[z[n]])",
            format!("v[k] ~ InvGamma({}, {})", f(nu / 2.0), f(c / 2.0)),
            "diag(v[k])",
        ),
        "spherical" => {
            let d = fx["columns"].as_array().unwrap().len() as f64;
            (
                "param  s[K]: positive",
                "s[z[n]] * I",
                format!("s[k] ~ InvGamma({}, {})", f(d * nu / 2.0), f(d * c / 2.0)),
                "s[k] * I",
            )
        }
        other => panic!("no model for {other}"),
    };
    format!(
        "model bgmm\nmethod vb\nconst K: int = 2\ndata   x[N]: vector[D]\nparam  w: simplex[K]\n\
         param  mu[K]: vector[D]\n{cov_decl}\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\n\
         x[n] ~ MvNormal(mu[z[n]], {cov_use})\nw ~ Dirichlet({})\n\
         mu[k] ~ MvNormal({}, {mean_scale} / {})\n{cov_prior}\n",
        f(alpha),
        f(m0),
        f(kappa)
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

fn sklearn_case(case: &str) {
    let text =
        std::fs::read_to_string(root().join(format!("tests/fixtures/sklearn_bgm/{case}.json")))
            .unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let source = model_source(&fx);
    let plan = jensen::compile(&source)
        .unwrap_or_else(|d| panic!("{source}\n{d:?}"))
        .0;
    let table = jensen::csv::read(
        root()
            .join("data")
            .join(fx["data"].as_str().unwrap())
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let columns: Vec<String> = fx["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let k = fx["K"].as_u64().unwrap() as usize;
    let opts = BindOptions {
        consts: [("K".to_string(), k)].into(),
        columns: [("x".to_string(), columns)].into(),
        ..Default::default()
    };
    let bound = jensen::bind(&plan, &table, &opts).unwrap();
    let model = PlanModel::new(&plan, &bound);
    model.check_priors().unwrap();
    let labels: Vec<usize> = fx["init_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as usize)
        .collect();
    let config = MStepConfig { reg_covar: 0.0 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let (mut params, _) = params_from_labels(&model, &labels, &config, &mut rng).unwrap();
    let d = fx["columns"].as_array().unwrap().len() as f64;
    // The covariance slot, its strength, and scikit-learn's ν from the strength.
    let (cov, dof, to_nu) = match fx["covariance_type"].as_str().unwrap() {
        "diag" => ("v", "v_shape", 2.0),
        "spherical" => ("s", "s_shape", 2.0 / d),
        _ => ("Sigma", "Sigma_dof", 1.0),
    };
    let mut elbo = f64::NEG_INFINITY;
    let mut largest: f64 = 0.0;
    for (t, reference) in fx["trajectory"].as_array().unwrap().iter().enumerate() {
        let get = |name: &str| params.get(name).unwrap().clone();
        // jensen keeps a Dirichlet's mean and total; scikit-learn its concentrations.
        let alpha = get("w") * get("w_concentration").first().copied().unwrap();
        // scikit-learn's degrees of freedom ν; the diagonal model's shape is ν / 2, the
        // spherical one's D ν / 2.
        let nu = get(dof) * to_nu;
        let checks = [
            ("weight_concentration", alpha),
            ("mean_precision", get("mu_kappa")),
            ("means", get("mu")),
            ("degrees_of_freedom", nu),
            ("covariances", get(cov)),
        ];
        for (name, ours) in checks {
            let err = worst(&ours, &array(&reference[name]));
            largest = largest.max(err);
            assert!(
                err < 1e-8,
                "{case}: iteration {t}: {name} differs by {err:.3e}\n{ours:?}\n{}",
                reference[name]
            );
        }
        let (objective, next) = em_step(&model, &params, &config).unwrap();
        // The ELBO of these posteriors (the E-step's normaliser minus the KL terms) never
        // decreases.
        let now = objective + model.log_prior(&params, &config);
        assert!(
            now >= elbo - 1e-9 * elbo.abs(),
            "{case}: ELBO fell at {t}: {elbo} -> {now}"
        );
        elbo = now;
        params = next;
    }
    eprintln!("{case}: largest relative difference {largest:.2e} over every posterior parameter and iteration");
}

#[test]
fn full_covariance_k2_on_faithful() {
    sklearn_case("faithful_full_k2");
}

#[test]
fn full_covariance_k6_on_faithful_prunes_like_scikit_learn() {
    sklearn_case("faithful_full_k6");
}

#[test]
fn full_covariance_on_iris() {
    sklearn_case("iris_full_k3");
}

#[test]
fn diagonal_k6_on_faithful() {
    sklearn_case("faithful_diag_k6");
}

#[test]
fn diagonal_on_iris() {
    sklearn_case("iris_diag_k3");
}

#[test]
fn spherical_k4_on_faithful() {
    sklearn_case("faithful_spherical_k4");
}

#[test]
fn spherical_on_iris() {
    sklearn_case("iris_spherical_k3");
}

/// Every model in `models/` whose priors are proper, fitted by variational Bayes
/// (`--method vb`): the driver's guard checks after every E-step and M-step that the ELBO
/// did not fall, so a fit that returns is monotone; the trace is checked again here. Models
/// that variational Bayes refuses (an improper prior, a continuous latent) are refused with
/// an `E-method` or argument diagnostic, never a panic.
#[test]
fn the_elbo_never_decreases_on_every_model_that_variational_bayes_accepts() {
    use jensen::lang::ir::Method;
    let mut fitted = Vec::new();
    for (name, data, consts) in jensen_tests::CATALOGUE {
        let source = std::fs::read_to_string(root().join(format!("models/{name}.em"))).unwrap();
        let plan = match jensen::lang::compile_for(&source, Some(Method::Vb)) {
            Ok((plan, _)) => plan,
            Err(diags) => {
                assert!(
                    diags
                        .iter()
                        .all(|d| matches!(d.code.as_str(), "E-method" | "E-arg-type")),
                    "{name}: {diags:?}"
                );
                continue;
            }
        };
        let bound = jensen_tests::bind(&plan, data, consts);
        let model = PlanModel::new(&plan, &bound);
        if model.check_priors().is_err() {
            continue;
        }
        let result = jensen::fit(
            &model,
            &jensen::FitOptions {
                max_iter: 150,
                restarts: 2,
                threads: Some(1),
                ..jensen::FitOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let trace = &result.elbo_trace;
        for t in 1..trace.len() {
            assert!(
                trace[t] >= trace[t - 1] - 1e-9 * trace[t - 1].abs(),
                "{name}: ELBO fell at iteration {t}: {} -> {}",
                trace[t - 1],
                trace[t]
            );
        }
        fitted.push(*name);
    }
    // The MAP models with proper priors, and every model without priors (point estimates).
    eprintln!("fitted by variational Bayes: {fitted:?}");
    // Every MAP model with proper priors has posteriors (mixtures and chains).
    for name in [
        "poisson_mix_map",
        "bernoulli_mix_map",
        "exponential_mix_map",
        "hmm_poisson_map",
        "hmm_categorical_map",
    ] {
        assert!(fitted.contains(&name), "{name} was not fitted: {fitted:?}");
    }
}

/// `#[model(file = "…", method = "vb")]` on a file without a `method` line generates the
/// variational program, which agrees with the executor run with `--method vb` (a Poisson
/// mixture: a Dirichlet posterior on the weights, Gamma posteriors on the rates).
#[test]
fn the_derive_attribute_chooses_variational_bayes() {
    use jensen::lang::ir::Method;
    use jensen_tests::glue::column;
    use jensen_tests::models::{PoissonMixVbConsts, PoissonMixVbData, PoissonMixVbModel};
    let source = std::fs::read_to_string(root().join("models/poisson_mix_map.em")).unwrap();
    let plan = jensen::lang::compile_for(&source, Some(Method::Vb))
        .unwrap()
        .0;
    let bound = jensen_tests::bind(&plan, "discoveries.csv", &[]);
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
    let data = PoissonMixVbData {
        discoveries: column(&plan, &bound, "discoveries"),
    };
    let model = PoissonMixVbModel::new(data, PoissonMixVbConsts::default()).unwrap();
    let generated = jensen::fit(&model, &opts()).unwrap();
    // Each rate's posterior shape: the prior's 2 plus the events of its component.
    assert!(generated.params.rate_shape.iter().all(|&a| a > 2.0));
    jensen_tests::compare_routes("poisson_mix_map (method vb)", &executed, &generated);
}
