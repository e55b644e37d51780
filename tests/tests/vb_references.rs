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
///
/// scikit-learn's default priors are summaries of the data (`"m0": "mean(x)"`): they are
/// written as such, `mean(x)`, `cov(x)` (full), `var(x)` (diagonal: each coordinate's; spherical:
/// their average), and computed by jensen from the data.
fn model_source(fx: &Value) -> String {
    let p = &fx["priors"];
    let num = |k: &str| p[k].as_f64().unwrap();
    let from_data = p["m0"].is_string();
    let (alpha, kappa, nu) = (num("alpha0"), num("kappa0"), num("nu0"));
    let f = |v: f64| format!("{v:?}");
    let m0 = if from_data {
        "mean(x)".to_string()
    } else {
        f(num("m0"))
    };
    // `c` times a scale: `c * I` (full) or `c` (diag, spherical), or the data's summary.
    let scale = |times: f64, summary: &str| match (from_data, times) {
        (true, 1.0) => summary.to_string(),
        (true, t) => format!("{} * {summary}", f(t)),
        (false, t) if summary == "cov(x)" => format!("{} * I", f(t * num("c"))),
        (false, t) => f(t * num("c")),
    };
    let (cov_decl, cov_use, cov_prior, mean_scale) = match fx["covariance_type"].as_str().unwrap() {
        "full" => (
            "param  Sigma[K]: cov[D]",
            "Sigma[z[n]]",
            format!("Sigma[k] ~ InvWishart({}, {})", f(nu), scale(1.0, "cov(x)")),
            "Sigma[k]",
        ),
        "diag" => (
            "param  v[K]: positive[D]",
            "diag(v[z[n]])",
            format!("v[k] ~ InvGamma({}, {})", f(nu / 2.0), scale(0.5, "var(x)")),
            "diag(v[k])",
        ),
        "spherical" => {
            let d = fx["columns"].as_array().unwrap().len() as f64;
            (
                "param  s[K]: positive",
                "s[z[n]] * I",
                format!(
                    "s[k] ~ InvGamma({}, {})",
                    f(d * nu / 2.0),
                    scale(d / 2.0, "var(x)")
                ),
                "s[k] * I",
            )
        }
        other => panic!("no model for {other}"),
    };
    format!(
        "model bgmm\nmethod vb\nconst K: int = 2\ndata   x[N]: vector[D]\nparam  w: simplex[K]\n\
         param  mu[K]: vector[D]\n{cov_decl}\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\n\
         x[n] ~ MvNormal(mu[z[n]], {cov_use})\nw ~ Dirichlet({})\n\
         mu[k] ~ MvNormal({m0}, {mean_scale} / {})\n{cov_prior}\n",
        f(alpha),
        f(kappa)
    )
}

/// A fixture of scikit-learn's default priors, computed from the data.
fn p_is_default(fx: &Value) -> bool {
    fx["priors"]["m0"].is_string()
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
    // scikit-learn's default priors as it resolved them equal jensen's summaries of the data
    // (the inverse-Gamma scales are written as multiples of `var(x)`: divided back out).
    if p_is_default(&fx) {
        let resolved = &fx["priors"];
        for h in model.data_hyperparameters() {
            let (theirs, factor) = if h.name.ends_with("_prior_mean") {
                (&resolved["mean_prior"], 1.0)
            } else {
                let factor = match h.summary.split_once(" * ") {
                    Some((c, _)) => c.parse::<f64>().unwrap(),
                    None => 1.0,
                };
                (&resolved["covariance_prior"], factor)
            };
            let theirs = match theirs {
                Value::Array(_) => array(theirs),
                v => ndarray::arr0(v.as_f64().unwrap()).into_dyn(),
            };
            let ours = &h.value / factor;
            assert_eq!(ours.len(), theirs.len(), "{case}: {}", h.name);
            for (a, b) in ours.iter().zip(theirs.iter()) {
                assert!(
                    (a - b).abs() <= 1e-13 * b.abs(),
                    "{case}: {} {a} vs {b}",
                    h.name
                );
            }
        }
    }
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

/// scikit-learn's default priors, written as data summaries (`mean(x)`, `cov(x)`, `var(x)`)
/// and computed by jensen from the data.
#[test]
fn default_priors_from_the_data_full_k6_on_faithful() {
    sklearn_case("faithful_full_k6_defaults");
}

#[test]
fn default_priors_from_the_data_diagonal_on_iris() {
    sklearn_case("iris_diag_k3_defaults");
}

#[test]
fn default_priors_from_the_data_spherical_k4_on_faithful() {
    sklearn_case("faithful_spherical_k4_defaults");
}

/// The generated model computes the same summaries when it binds the data, and refuses one
/// its prior cannot take (the covariance of data with a constant column) with a data error.
#[test]
fn the_generated_model_checks_the_summaries_it_computes() {
    use jensen_tests::models::{BgmmDefaultsConsts, BgmmDefaultsData, BgmmDefaultsModel};
    let x =
        ndarray::Array2::from_shape_fn(
            (30, 2),
            |(i, j)| {
                if j == 0 {
                    (i as f64 * 0.7).sin()
                } else {
                    2.0
                }
            },
        );
    let err = BgmmDefaultsModel::new(BgmmDefaultsData { x }, BgmmDefaultsConsts::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`cov(x)` in the prior on `Sigma` is not positive definite"),
        "{err}"
    );
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

/// The ELBO jensen reports for a Bayesian Gaussian mixture equals Bishop's closed form
/// (Pattern Recognition and Machine Learning, eqs. 10.70–10.77), written out independently
/// here term by term: `E[ln p(X | Z, μ, Λ)] + E[ln p(Z | π)] + E[ln p(π)] + E[ln p(μ, Λ)]
/// − E[ln q(Z)] − E[ln q(π)] − E[ln q(μ, Λ)]`, with the responsibilities of eqs. 10.46–10.49,
/// at the posteriors after 40 iterations of `models/bgmm.em` on Old Faithful (K = 6).
#[test]
fn the_elbo_is_bishops_bound_term_by_term() {
    use statrs::function::gamma::{digamma, ln_gamma};
    use std::f64::consts::{LN_2, PI};
    let plan = jensen_tests::plan("bgmm");
    let bound = jensen_tests::bind(&plan, "faithful.csv", &[]);
    let model = PlanModel::new(&plan, &bound);
    let fit = jensen::fit(
        &model,
        &jensen::FitOptions {
            max_iter: 40,
            ..jensen::FitOptions::default()
        },
    )
    .unwrap();
    let params = fit.params;
    let config = MStepConfig::default();
    let (normaliser, _) = em_step(&model, &params, &config).unwrap();
    let ours = normaliser + model.log_prior(&params, &config);

    // The model file's priors: α0, β0 (κ), m0, ν0, W0 = (c I)⁻¹.
    let (alpha0, beta0, m0, nu0, c): (f64, f64, f64, f64, f64) = (0.01, 0.01, 0.0, 2.0, 1.0);
    let d = 2usize;
    let df = d as f64;
    let x: Vec<[f64; 2]> = {
        let item = bound.item(plan.model.var("x").unwrap());
        (0..item.values.nrows())
            .map(|n| [item.values[[n, 0]], item.values[[n, 1]]])
            .collect()
    };
    let get = |name: &str| params.get(name).unwrap().clone();
    let (w, total) = (get("w"), get("w_concentration")[[]]);
    let (mu, beta, sigma, nu) = (get("mu"), get("mu_kappa"), get("Sigma"), get("Sigma_dof"));
    let k = w.len();
    let alpha: Vec<f64> = (0..k).map(|j| w[[j]] * total).collect();
    let alpha_hat: f64 = alpha.iter().sum();
    // W_k = (ν_k Σ̄_k)⁻¹, 2 × 2.
    let inv2 = |a: [[f64; 2]; 2]| {
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        (
            [
                [a[1][1] / det, -a[0][1] / det],
                [-a[1][0] / det, a[0][0] / det],
            ],
            det,
        )
    };
    let wk: Vec<([[f64; 2]; 2], f64)> = (0..k)
        .map(|j| {
            let psi = [
                [sigma[[j, 0, 0]] * nu[[j]], sigma[[j, 0, 1]] * nu[[j]]],
                [sigma[[j, 1, 0]] * nu[[j]], sigma[[j, 1, 1]] * nu[[j]]],
            ];
            let (wm, det_psi) = inv2(psi);
            (wm, -det_psi.ln())
        })
        .collect();
    let quad = |a: &[[f64; 2]; 2], v: [f64; 2]| {
        v[0] * (a[0][0] * v[0] + a[0][1] * v[1]) + v[1] * (a[1][0] * v[0] + a[1][1] * v[1])
    };
    let ln_lambda: Vec<f64> = (0..k)
        .map(|j| {
            (0..d)
                .map(|i| digamma(0.5 * (nu[[j]] - i as f64)))
                .sum::<f64>()
                + df * LN_2
                + wk[j].1
        })
        .collect();
    let ln_pi: Vec<f64> = alpha
        .iter()
        .map(|&a| digamma(a) - digamma(alpha_hat))
        .collect();
    // Responsibilities, eqs. 10.46–10.49.
    let mut r = vec![vec![0.0; k]; x.len()];
    for (n, xn) in x.iter().enumerate() {
        let ln_rho: Vec<f64> = (0..k)
            .map(|j| {
                let dx = [xn[0] - mu[[j, 0]], xn[1] - mu[[j, 1]]];
                ln_pi[j] + 0.5 * ln_lambda[j]
                    - 0.5 * df * (2.0 * PI).ln()
                    - 0.5 * (df / beta[[j]] + nu[[j]] * quad(&wk[j].0, dx))
            })
            .collect();
        let top = ln_rho.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = ln_rho.iter().map(|v| (v - top).exp()).sum();
        for j in 0..k {
            r[n][j] = (ln_rho[j] - top).exp() / z;
        }
    }
    // Statistics N_k, x̄_k, S_k (eqs. 10.51–10.53).
    let nk: Vec<f64> = (0..k).map(|j| r.iter().map(|rn| rn[j]).sum()).collect();
    let xbar: Vec<[f64; 2]> = (0..k)
        .map(|j| {
            let mut s = [0.0; 2];
            for (rn, xn) in r.iter().zip(&x) {
                s[0] += rn[j] * xn[0];
                s[1] += rn[j] * xn[1];
            }
            if nk[j] > 0.0 {
                [s[0] / nk[j], s[1] / nk[j]]
            } else {
                [0.0, 0.0]
            }
        })
        .collect();
    let sk: Vec<[[f64; 2]; 2]> = (0..k)
        .map(|j| {
            let mut s = [[0.0; 2]; 2];
            for (rn, xn) in r.iter().zip(&x) {
                let e = [xn[0] - xbar[j][0], xn[1] - xbar[j][1]];
                for a in 0..2 {
                    for b in 0..2 {
                        s[a][b] += rn[j] * e[a] * e[b];
                    }
                }
            }
            if nk[j] > 0.0 {
                s.map(|row| row.map(|v| v / nk[j]))
            } else {
                s
            }
        })
        .collect();
    let trace = |a: &[[f64; 2]; 2], b: &[[f64; 2]; 2]| {
        a[0][0] * b[0][0] + a[0][1] * b[1][0] + a[1][0] * b[0][1] + a[1][1] * b[1][1]
    };
    let ln_gamma_d = |v: f64| {
        df * (df - 1.0) / 4.0 * PI.ln()
            + (0..d).map(|i| ln_gamma(0.5 * (v - i as f64))).sum::<f64>()
    };
    // ln B(W, ν) = −(ν/2) ln|W| − (νD/2) ln 2 − ln Γ_D(ν/2).
    let ln_b = |ln_det_w: f64, v: f64| -0.5 * v * ln_det_w - 0.5 * v * df * LN_2 - ln_gamma_d(v);
    let ln_c = |a: &[f64]| ln_gamma(a.iter().sum()) - a.iter().map(|&v| ln_gamma(v)).sum::<f64>();
    let w0_inv = [[c, 0.0], [0.0, c]];
    let ln_det_w0 = -df * c.ln();
    let mut l = 0.0;
    for j in 0..k {
        let dm = [xbar[j][0] - mu[[j, 0]], xbar[j][1] - mu[[j, 1]]];
        // E[ln p(X | Z, μ, Λ)], eq. 10.71.
        l += 0.5
            * nk[j]
            * (ln_lambda[j]
                - df / beta[[j]]
                - nu[[j]] * trace(&sk[j], &wk[j].0)
                - nu[[j]] * quad(&wk[j].0, dm)
                - df * (2.0 * PI).ln());
        // E[ln p(Z | π)], eq. 10.72.
        l += nk[j] * ln_pi[j];
        // E[ln p(μ, Λ)], eq. 10.74.
        let d0 = [mu[[j, 0]] - m0, mu[[j, 1]] - m0];
        l += 0.5
            * (df * (beta0 / (2.0 * PI)).ln() + ln_lambda[j]
                - df * beta0 / beta[[j]]
                - beta0 * nu[[j]] * quad(&wk[j].0, d0))
            + ln_b(ln_det_w0, nu0)
            + 0.5 * (nu0 - df - 1.0) * ln_lambda[j]
            - 0.5 * nu[[j]] * trace(&w0_inv, &wk[j].0);
        // − E[ln q(μ, Λ)], eq. 10.77, with H[q(Λ)] = −ln B(W, ν) − (ν − D − 1)/2 ln Λ̃ + νD/2.
        let entropy = -ln_b(wk[j].1, nu[[j]]) - 0.5 * (nu[[j]] - df - 1.0) * ln_lambda[j]
            + 0.5 * nu[[j]] * df;
        l -= 0.5 * ln_lambda[j] + 0.5 * df * (beta[[j]] / (2.0 * PI)).ln() - 0.5 * df - entropy;
        // E[ln p(π)] − E[ln q(π)], eqs. 10.73 and 10.76.
        l += (alpha0 - 1.0) * ln_pi[j] - (alpha[j] - 1.0) * ln_pi[j];
    }
    l += ln_c(&vec![alpha0; k]) - ln_c(&alpha);
    // − E[ln q(Z)], eq. 10.75.
    for rn in &r {
        for &v in rn {
            if v > 0.0 {
                l -= v * v.ln();
            }
        }
    }
    let rel = (ours - l).abs() / l.abs();
    eprintln!("ELBO: jensen {ours:.10}, Bishop's bound {l:.10}, relative difference {rel:.2e}");
    assert!(rel < 1e-10, "jensen {ours} vs Bishop {l}");
}

/// With one component a covariance the components share is that component's own: the tied
/// updates (each mean's deviation from the prior mean summed over the components, one row per
/// component under MAP-EM) equal the per-component ones, under MAP-EM and VB alike.
#[test]
fn a_tied_covariance_with_one_component_is_the_full_one() {
    let model = |method: &str, tied: bool| {
        let (decl, used, scale) = if tied {
            ("param  Sigma: cov[D]", "Sigma", "Sigma")
        } else {
            ("param  Sigma[K]: cov[D]", "Sigma[z[n]]", "Sigma[k]")
        };
        format!(
            "model t\n{method}const K: int = 1\ndata   x[N]: vector[D]\nparam  w: simplex[K]\n\
             param  mu[K]: vector[D]\n{decl}\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\n\
             x[n] ~ MvNormal(mu[z[n]], {used})\nw ~ Dirichlet(2.0)\n\
             mu[k] ~ MvNormal(mean(x), {scale} / 0.1)\n{scale} ~ InvWishart(4.0, 0.1 * cov(x))\n"
        )
    };
    let table = jensen::csv::read(root().join("data/faithful.csv").to_str().unwrap()).unwrap();
    for method in ["", "method vb\n"] {
        let fit = |tied: bool| {
            let plan = jensen::compile(&model(method, tied)).unwrap().0;
            let bound = jensen::bind(&plan, &table, &BindOptions::default()).unwrap();
            let opts = jensen::FitOptions {
                max_iter: 15,
                tol: f64::NEG_INFINITY,
                ..Default::default()
            };
            let fit = jensen::fit(&PlanModel::new(&plan, &bound), &opts).unwrap();
            (fit.elbo_trace, fit.params.get("Sigma").unwrap().clone())
        };
        let (tied, full) = (fit(true), fit(false));
        for (a, b) in tied.0.iter().zip(&full.0) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{method:?}: {a} vs {b}");
        }
        for (a, b) in tied.1.iter().zip(full.1.iter()) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{method:?}: {a} vs {b}");
        }
    }
}
