//! Correctness against independent references: scikit-learn trajectories from identical
//! starting parameters (fixtures made by `scripts/make_fixtures.sh`), and known optima.

use jensen::bind::BindOptions;
use jensen::runtime::nested::Nested;
use jensen::runtime::{FitOptions, InitStrategy, MStepConfig};
use jensen::{DynParams, PlanModel};
use jensen_tests::{bind, plan, root};
use serde_json::Value;

fn nested(v: &Value) -> ndarray::ArrayD<f64> {
    serde_json::from_value::<Nested>(v.clone())
        .unwrap()
        .to_array()
        .unwrap()
}

fn sklearn_case(case: &str) {
    let text = std::fs::read_to_string(root().join(format!("tests/fixtures/sklearn/{case}.json")))
        .unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let (model, scale) = match fx["covariance_type"].as_str().unwrap() {
        "full" => ("gmm", "Sigma"),
        "diag" => ("gmm_diag", "v"),
        "spherical" => ("gmm_spherical", "s"),
        "tied" => ("gmm_tied", "Sigma"),
        other => panic!("unknown covariance type {other}"),
    };
    let p = plan(model);
    let columns: Vec<String> = fx["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let table = jensen::csv::read(
        root()
            .join("data")
            .join(fx["data"].as_str().unwrap())
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let k = fx["k"].as_u64().unwrap() as usize;
    let opts = BindOptions {
        consts: [("K".to_string(), k)].into(),
        columns: [("x".to_string(), columns)].into(),
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let model_ = PlanModel::new(&p, &bound);
    let mut init = DynParams::default();
    init.insert("w", nested(&fx["init"]["weights"]));
    init.insert("mu", nested(&fx["init"]["means"]));
    init.insert(scale, nested(&fx["init"]["covariances"]));
    let init = model_.check_params(&init).unwrap();
    let iterations = fx["iterations"].as_u64().unwrap() as usize;
    let opts = FitOptions {
        max_iter: iterations,
        tol: f64::NEG_INFINITY,
        init: InitStrategy::Params(init),
        m_step: MStepConfig {
            reg_covar: fx["reg_covar"].as_f64().unwrap(),
        },
        ..FitOptions::default()
    };
    let fit = jensen::fit(&model_, &opts).unwrap();
    let reference: Vec<f64> = fx["log_likelihood"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(
        fit.elbo_trace.len(),
        reference.len(),
        "{case}: trace length"
    );
    for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&reference).enumerate() {
        let rel = (ours - theirs).abs() / theirs.abs();
        assert!(
            rel <= 1e-8,
            "{case}: iteration {i}: jensen {ours} vs scikit-learn {theirs} (relative {rel:e})"
        );
    }
    // And the final parameters.
    let means = nested(&fx["final"]["means"]);
    for (a, b) in fit.params.get("mu").unwrap().iter().zip(means.iter()) {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{case}: final mean {a} vs {b}"
        );
    }
}

macro_rules! sklearn {
    ($($name:ident),*) => { $( #[test] fn $name() { sklearn_case(stringify!($name)); } )* };
}

sklearn!(
    faithful_full,
    faithful_diag,
    faithful_spherical,
    faithful_tied,
    iris_full,
    iris_diag,
    iris_spherical,
    iris_tied
);

#[test]
fn old_faithful_two_full_components_reach_the_known_optimum() {
    // mclust VVV, G = 2: total log-likelihood −1130.264.
    let p = plan("gmm");
    let bound = bind(&p, "faithful.csv", &[]);
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            tol: 1e-10,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert!(
        (fit.log_likelihood - -1130.264).abs() < 0.01,
        "got {}",
        fit.log_likelihood
    );
    assert!(fit.converged);
    assert_eq!(fit.free_parameters, 11);
}

#[test]
fn iris_three_full_components_reach_the_known_optimum() {
    let p = plan("gmm");
    let bound = bind(&p, "iris.csv", &[("K", 3)]);
    let opts = FitOptions {
        tol: 1e-10,
        restarts: 4,
        seed: 1,
        ..FitOptions::default()
    };
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &opts).unwrap();
    assert!(
        (fit.log_likelihood - -180.185).abs() < 0.01,
        "got {}",
        fit.log_likelihood
    );
    assert_eq!(fit.free_parameters, 44);
    // BIC as mclust counts it: −2ℓ + p ln N.
    assert!((fit.bic - (-2.0 * fit.log_likelihood + 44.0 * 150f64.ln())).abs() < 1e-9);
}

/// The Gamma mixture of known shape on Old Faithful's waiting times follows, from the same
/// start, an independent EM written here with statrs' Gamma density (maximum likelihood, and
/// MAP with a `Gamma(α, β)` prior on each rate, whose M-step is the posterior mode
/// `(a N_k + α − 1) / (Σ r x + β)`); with one component the rate is the closed form
/// `a / mean`.
#[test]
fn gamma_mixture_of_known_shape_matches_an_independent_em() {
    use statrs::distribution::{Continuous, Gamma};
    let shape = 100.0;
    for (model, prior) in [("gamma_mix", None), ("gamma_mix_map", Some((2.0, 1.0)))] {
        let p = plan(model);
        let bound = bind(&p, "faithful.csv", &[]);
        let x: Vec<f64> = bound
            .item(p.model.var("waiting").unwrap())
            .values
            .column(0)
            .to_vec();
        let (mut w, mut rate) = ([0.4, 0.6], [100.0 / 60.0, 100.0 / 75.0]);
        let mut start = DynParams::default();
        start.insert("w", ndarray::arr1(&w).into_dyn());
        start.insert("rate", ndarray::arr1(&rate).into_dyn());
        let iters = 25;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        for _ in 0..=iters {
            let (mut ll, mut n, mut s) = (0.0, [0.0; 2], [0.0; 2]);
            for &v in &x {
                let log_joint: Vec<f64> = (0..2)
                    .map(|k| w[k].ln() + Gamma::new(shape, rate[k]).unwrap().ln_pdf(v))
                    .collect();
                let top = log_joint[0].max(log_joint[1]);
                let total = top + log_joint.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
                ll += total;
                for k in 0..2 {
                    let r = (log_joint[k] - total).exp();
                    n[k] += r;
                    s[k] += r * v;
                }
            }
            // The objective: the log posterior (up to the prior's constant) under MAP.
            let log_prior: f64 = prior.map_or(0.0, |(a, b): (f64, f64)| {
                rate.iter().map(|&r| (a - 1.0) * r.ln() - b * r).sum()
            });
            trace.push((ll, log_prior));
            for k in 0..2 {
                w[k] = n[k] / x.len() as f64;
                rate[k] = match prior {
                    None => shape * n[k] / s[k],
                    Some((a, b)) => (shape * n[k] + a - 1.0) / (s[k] + b),
                };
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        // Differences of the objective between iterations do not depend on the prior's
        // normalising constant.
        for i in 1..trace.len() {
            let ours = fit.elbo_trace[i] - fit.elbo_trace[0];
            let theirs = (trace[i].0 + trace[i].1) - (trace[0].0 + trace[0].1);
            assert!(
                (ours - theirs).abs() <= 1e-9 * trace[i].0.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let fitted = fit.params.get("rate").unwrap();
        // `rate` after the last M-step of both.
        for k in 0..2 {
            assert!(
                (fitted[[k]] - rate[k]).abs() <= 1e-10 * rate[k],
                "{model}: {} vs {}",
                fitted[[k]],
                rate[k]
            );
        }
        let last = trace.last().unwrap().0;
        assert!(
            (fit.log_likelihood - last).abs() <= 1e-9 * last.abs(),
            "{model}"
        );
    }
    // One component: the maximum-likelihood rate is `a / mean`.
    let p = plan("gamma_mix");
    let bound1 = bind(&p, "faithful.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let x: Vec<f64> = bound1
        .item(p.model.var("waiting").unwrap())
        .values
        .column(0)
        .to_vec();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let reference = Gamma::new(shape, shape / mean).unwrap();
    let expected: f64 = x.iter().map(|&v| reference.ln_pdf(v)).sum();
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
    let fitted = one.params.get("rate").unwrap()[[0]];
    assert!((fitted - shape / mean).abs() <= 1e-12 * shape / mean);
}

/// The binomial mixture of four digit pixels (16 trials each) follows, from the same start,
/// an independent EM written here with statrs' binomial, by maximum likelihood and by MAP with
/// `Beta(2, 2)` priors; with one component each probability is the closed form `mean / 16`.
#[test]
fn binomial_mixture_matches_an_independent_em() {
    use statrs::distribution::{Binomial, Discrete};
    let pixels = ["p20", "p28", "p36", "p43"];
    let names = ["a", "b", "c", "d"];
    for (model, prior) in [
        ("binomial_digits", None),
        ("binomial_digits_map", Some((2.0, 2.0))),
    ] {
        let p = plan(model);
        let bound = bind(&p, "digits.csv", &[]);
        let x: Vec<Vec<f64>> = pixels
            .iter()
            .map(|c| {
                bound
                    .item(p.model.var(c).unwrap())
                    .values
                    .column(0)
                    .to_vec()
            })
            .collect();
        let rows = x[0].len();
        let mut w = vec![0.2, 0.3, 0.5];
        let mut prob: Vec<Vec<f64>> = (0..4)
            .map(|j| {
                (0..3)
                    .map(|k| 0.15 + 0.3 * k as f64 + 0.05 * j as f64)
                    .collect()
            })
            .collect();
        let mut start = DynParams::default();
        start.insert("w", ndarray::arr1(&w).into_dyn());
        for (j, name) in names.iter().enumerate() {
            start.insert(name, ndarray::arr1(&prob[j]).into_dyn());
        }
        let iters = 20;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        for _ in 0..=iters {
            let (mut ll, mut n, mut s) = (0.0, vec![0.0; 3], vec![vec![0.0; 3]; 4]);
            for r in 0..rows {
                let log_joint: Vec<f64> = (0..3)
                    .map(|k| {
                        w[k].ln()
                            + (0..4)
                                .map(|j| {
                                    Binomial::new(prob[j][k], 16)
                                        .unwrap()
                                        .ln_pmf(x[j][r] as u64)
                                })
                                .sum::<f64>()
                    })
                    .collect();
                let top = log_joint.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let total = top + log_joint.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
                ll += total;
                for k in 0..3 {
                    let q = (log_joint[k] - total).exp();
                    n[k] += q;
                    for j in 0..4 {
                        s[j][k] += q * x[j][r];
                    }
                }
            }
            let log_prior: f64 = prior.map_or(0.0, |(a, b): (f64, f64)| {
                prob.iter()
                    .flatten()
                    .map(|&q| (a - 1.0) * q.ln() + (b - 1.0) * (1.0 - q).ln())
                    .sum()
            });
            trace.push((ll, log_prior));
            let (a, b) = prior.unwrap_or((1.0, 1.0));
            for k in 0..3 {
                w[k] = n[k] / rows as f64;
                for j in 0..4 {
                    prob[j][k] = (s[j][k] + a - 1.0) / (16.0 * n[k] + a + b - 2.0);
                }
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        for i in 1..trace.len() {
            let ours = fit.elbo_trace[i] - fit.elbo_trace[0];
            let theirs = (trace[i].0 + trace[i].1) - (trace[0].0 + trace[0].1);
            assert!(
                (ours - theirs).abs() <= 1e-9 * trace[i].0.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let last = trace.last().unwrap().0;
        assert!(
            (fit.log_likelihood - last).abs() <= 1e-9 * last.abs(),
            "{model}"
        );
    }
    let p = plan("binomial_digits");
    let bound1 = bind(&p, "digits.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let mut expected = 0.0;
    for (pixel, name) in pixels.iter().zip(names) {
        let x: Vec<f64> = bound1
            .item(p.model.var(pixel).unwrap())
            .values
            .column(0)
            .to_vec();
        let q = x.iter().sum::<f64>() / x.len() as f64 / 16.0;
        assert!(
            (one.params.get(name).unwrap()[[0]] - q).abs() <= 1e-12,
            "{pixel}"
        );
        let reference = Binomial::new(q, 16).unwrap();
        expected += x.iter().map(|&v| reference.ln_pmf(v as u64)).sum::<f64>();
    }
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
}

/// Trials from a column: the keyword mixture of Debian descriptions (each row's `words` its
/// own number of trials) follows, from the same start, an independent EM written here with
/// statrs' binomial per row (the same `[1e-12, 1 − 1e-12]` clamp), in its trace and its
/// probabilities; with one component each probability is the closed form `Σ x / Σ words`.
#[test]
fn binomial_mixture_with_trials_from_a_column_matches_an_independent_em() {
    use statrs::distribution::{Binomial, Discrete};
    let topics = ["games", "sound", "graphics", "math", "database", "radio"];
    let p = plan("binomial_keywords");
    let bound = bind(&p, "debian_keywords.csv", &[("K", 3)]);
    let column = |c: &str| -> Vec<f64> {
        bound
            .item(p.model.var(c).unwrap())
            .values
            .column(0)
            .to_vec()
    };
    let words = column("words");
    let x: Vec<Vec<f64>> = topics.iter().map(|c| column(c)).collect();
    let rows = words.len();
    let (kk, jj) = (3, topics.len());
    let mut w = vec![0.2, 0.3, 0.5];
    let mut prob: Vec<Vec<f64>> = (0..jj)
        .map(|j| {
            (0..kk)
                .map(|k| 0.02 + 0.05 * ((j + k) % 3) as f64)
                .collect()
        })
        .collect();
    let mut start = DynParams::default();
    start.insert("w", ndarray::arr1(&w).into_dyn());
    for (j, topic) in topics.iter().enumerate() {
        start.insert(&format!("p_{topic}"), ndarray::arr1(&prob[j]).into_dyn());
    }
    let iters = 25;
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            init: InitStrategy::Params(start),
            max_iter: iters,
            tol: f64::NEG_INFINITY,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let mut trace = Vec::new();
    // The parameters of the last trace entry's E-step (the fit's, which ends on an E-step).
    let mut evaluated = prob.clone();
    for _ in 0..=iters {
        evaluated.clone_from(&prob);
        let (mut ll, mut n) = (0.0, vec![0.0; kk]);
        let (mut s, mut t) = (vec![vec![0.0; kk]; jj], vec![0.0; kk]);
        for r in 0..rows {
            let log_joint: Vec<f64> = (0..kk)
                .map(|k| {
                    w[k].ln()
                        + (0..jj)
                            .map(|j| {
                                Binomial::new(prob[j][k], words[r] as u64)
                                    .unwrap()
                                    .ln_pmf(x[j][r] as u64)
                            })
                            .sum::<f64>()
                })
                .collect();
            let top = log_joint.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total = top + log_joint.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
            ll += total;
            for k in 0..kk {
                let q = (log_joint[k] - total).exp();
                n[k] += q;
                t[k] += q * words[r];
                for j in 0..jj {
                    s[j][k] += q * x[j][r];
                }
            }
        }
        trace.push(ll);
        for k in 0..kk {
            w[k] = n[k] / rows as f64;
            for j in 0..jj {
                prob[j][k] = (s[j][k] / t[k]).clamp(1e-12, 1.0 - 1e-12);
            }
        }
    }
    assert_eq!(fit.elbo_trace.len(), trace.len());
    for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&trace).enumerate() {
        assert!(
            (ours - theirs).abs() <= 1e-9 * theirs.abs(),
            "iteration {i}: {ours} vs {theirs}"
        );
    }
    for (j, topic) in topics.iter().enumerate() {
        let ours = fit.params.get(&format!("p_{topic}")).unwrap();
        for k in 0..kk {
            let theirs = evaluated[j][k];
            assert!(
                (ours[[k]] - theirs).abs() <= 1e-9 * theirs.max(1e-6),
                "{topic}[{k}]: {} vs {theirs}",
                ours[[k]],
            );
        }
    }
    let bound1 = bind(&p, "debian_keywords.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let total: f64 = words.iter().sum();
    let mut expected = 0.0;
    for (j, topic) in topics.iter().enumerate() {
        let q = x[j].iter().sum::<f64>() / total;
        let ours = one.params.get(&format!("p_{topic}")).unwrap()[[0]];
        assert!((ours - q).abs() <= 1e-12, "{topic}: {ours} vs {q}");
        expected += (0..rows)
            .map(|r| {
                Binomial::new(q, words[r] as u64)
                    .unwrap()
                    .ln_pmf(x[j][r] as u64)
            })
            .sum::<f64>();
    }
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
}

/// The mixture of regressions of the quakes' depth on latitude and longitude follows, from
/// the same start, an independent EM written here with nalgebra: each component's weighted
/// least squares from the normal equations `XᵀWX θ = XᵀWy` over the whole design, its
/// variance the weighted mean squared residual (no regularising prior), in its trace and its
/// coefficients; the scalar form on longitude alone likewise.
#[test]
fn mixture_of_regressions_matches_an_independent_em() {
    use nalgebra::{DMatrix, DVector};
    for (model, covariates) in [
        ("regression_quakes", "u"),
        ("regression_quakes_long", "long"),
    ] {
        let p = plan(model);
        let bound = bind(&p, "quakes.csv", &[]);
        let item = |name: &str| &bound.item(p.model.var(name).unwrap()).values;
        let y = item("depth").column(0).to_vec();
        let u: Vec<Vec<f64>> = item(covariates)
            .columns()
            .into_iter()
            .map(|c| c.to_vec())
            .collect();
        let (rows, dims) = (y.len(), u.len());
        let kk = bound.sizes[p.model.sets.iter().position(|s| s.name == "K").unwrap()];
        // The design with the intercept's column of ones.
        let x = DMatrix::from_fn(rows, dims + 1, |i, j| if j < dims { u[j][i] } else { 1.0 });
        let yv = DVector::from_vec(y.clone());
        let mut w: Vec<f64> = (0..kk).map(|k| (k + 1) as f64).collect();
        let total: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= total);
        let mut theta: Vec<DVector<f64>> = (0..kk)
            .map(|k| {
                let mut t = DVector::zeros(dims + 1);
                t[dims] = 100.0 + 200.0 * k as f64;
                if dims > 1 {
                    t[0] = -5.0 * k as f64;
                }
                t
            })
            .collect();
        let mut var: Vec<f64> = (0..kk).map(|k| 5000.0 * (k + 1) as f64).collect();
        let mut start = DynParams::default();
        start.insert("w", ndarray::Array1::from(w.clone()).into_dyn());
        let beta = |theta: &[DVector<f64>]| {
            if dims == 1 {
                ndarray::Array1::from_iter(theta.iter().map(|t| t[0])).into_dyn()
            } else {
                ndarray::Array2::from_shape_fn((kk, dims), |(k, j)| theta[k][j]).into_dyn()
            }
        };
        start.insert("beta", beta(&theta));
        start.insert(
            "c",
            ndarray::Array1::from_iter(theta.iter().map(|t| t[dims])).into_dyn(),
        );
        start.insert("s", ndarray::Array1::from(var.clone()).into_dyn());
        let iters = 30;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        let mut evaluated = theta.clone();
        for _ in 0..=iters {
            evaluated.clone_from(&theta);
            let mut resp = DMatrix::zeros(rows, kk);
            let mut ll = 0.0;
            for i in 0..rows {
                let log_joint: Vec<f64> = (0..kk)
                    .map(|k| {
                        let e = y[i] - x.row(i).dot(&theta[k].transpose());
                        w[k].ln()
                            - 0.5 * ((2.0 * std::f64::consts::PI * var[k]).ln() + e * e / var[k])
                    })
                    .collect();
                let top = log_joint.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum = top + log_joint.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
                ll += sum;
                for k in 0..kk {
                    resp[(i, k)] = (log_joint[k] - sum).exp();
                }
            }
            trace.push(ll);
            for k in 0..kk {
                let r = resp.column(k);
                let n: f64 = r.sum();
                let xw = DMatrix::from_fn(rows, dims + 1, |i, j| x[(i, j)] * r[i]);
                let xtwx = x.transpose() * &xw;
                let xtwy = xw.transpose() * &yv;
                theta[k] = xtwx.cholesky().expect("positive definite").solve(&xtwy);
                let rss: f64 = (0..rows)
                    .map(|i| r[i] * (y[i] - x.row(i).dot(&theta[k].transpose())).powi(2))
                    .sum();
                w[k] = n / rows as f64;
                var[k] = rss / n;
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&trace).enumerate() {
            assert!(
                (ours - theirs).abs() <= 1e-9 * theirs.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let ours_beta = fit.params.get("beta").unwrap();
        let ours_c = fit.params.get("c").unwrap();
        for k in 0..kk {
            for j in 0..dims {
                let o = if dims == 1 {
                    ours_beta[[k]]
                } else {
                    ours_beta[[k, j]]
                };
                let t = evaluated[k][j];
                assert!(
                    (o - t).abs() <= 1e-8 * t.abs().max(1.0),
                    "{model} beta[{k}][{j}]: {o} vs {t}"
                );
            }
            let t = evaluated[k][dims];
            assert!(
                (ours_c[[k]] - t).abs() <= 1e-8 * t.abs().max(1.0),
                "{model} c[{k}]: {} vs {t}",
                ours_c[[k]]
            );
        }
    }
}

/// The Student-t mixture (ν = 4) on Old Faithful with eight gross outliers follows, from the
/// same start, an independent EM written here after McLachlan & Peel (2000, §7.5) with
/// statrs' multivariate Student-t density: weights `u = (ν + D)/(ν + δ)`, the means
/// `Σ τ u x / Σ τ u`, the scale matrices `Σ τ u (x − μ)(x − μ)ᵀ / Σ τ` — the same trace
/// (≤ 1e-9 relative, 30 iterations) and parameters. And it is robust where the Gaussian
/// mixture is not: the long-wait cluster's covariance moves little with the outliers added.
#[test]
fn student_t_mixture_matches_an_independent_em() {
    use nalgebra::{DMatrix, DVector};
    use statrs::distribution::{Continuous, MultivariateStudent};
    let p = plan("t_mix");
    let bound = bind(&p, "faithful_outliers.csv", &[]);
    let x = &bound.item(p.model.var("x").unwrap()).values;
    let (rows, d) = x.dim();
    let (kk, nu) = (2, 4.0);
    let mut w = vec![0.4, 0.6];
    let mut mu = vec![
        DVector::from_vec(vec![2.0, 55.0]),
        DVector::from_vec(vec![4.0, 78.0]),
    ];
    let mut sigma = vec![
        DMatrix::identity(d, d) * 10.0,
        DMatrix::identity(d, d) * 10.0,
    ];
    let to_nd = |mu: &[DVector<f64>], sigma: &[DMatrix<f64>]| {
        (
            ndarray::Array2::from_shape_fn((kk, d), |(k, j)| mu[k][j]).into_dyn(),
            ndarray::Array3::from_shape_fn((kk, d, d), |(k, i, j)| sigma[k][(i, j)]).into_dyn(),
        )
    };
    let mut start = DynParams::default();
    let (m0, s0) = to_nd(&mu, &sigma);
    start.insert("w", ndarray::arr1(&w).into_dyn());
    start.insert("mu", m0);
    start.insert("Sigma", s0);
    let iters = 30;
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            init: InitStrategy::Params(start),
            max_iter: iters,
            tol: f64::NEG_INFINITY,
            m_step: MStepConfig { reg_covar: 0.0 },
            ..FitOptions::default()
        },
    )
    .unwrap();
    let rows_v: Vec<DVector<f64>> = (0..rows)
        .map(|i| DVector::from_vec(x.row(i).to_vec()))
        .collect();
    let mut trace = Vec::new();
    let (mut last_mu, mut last_sigma) = (mu.clone(), sigma.clone());
    for _ in 0..=iters {
        last_mu.clone_from(&mu);
        last_sigma.clone_from(&sigma);
        let dens: Vec<MultivariateStudent<nalgebra::Dyn>> = (0..kk)
            .map(|k| {
                MultivariateStudent::new(
                    mu[k].as_slice().to_vec(),
                    sigma[k].as_slice().to_vec(),
                    nu,
                )
                .unwrap()
            })
            .collect();
        let mut ll = 0.0;
        let mut tau = vec![vec![0.0; rows]; kk];
        for (i, xi) in rows_v.iter().enumerate() {
            let lj: Vec<f64> = (0..kk).map(|k| w[k].ln() + dens[k].ln_pdf(xi)).collect();
            let top = lj.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total = top + lj.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
            ll += total;
            for k in 0..kk {
                tau[k][i] = (lj[k] - total).exp();
            }
        }
        trace.push(ll);
        for k in 0..kk {
            let inv = sigma[k].clone().try_inverse().unwrap();
            let u: Vec<f64> = rows_v
                .iter()
                .map(|xi| {
                    let e = xi - &mu[k];
                    (nu + d as f64) / (nu + (e.transpose() * &inv * &e)[(0, 0)])
                })
                .collect();
            let n: f64 = tau[k].iter().sum();
            let wsum: f64 = (0..rows).map(|i| tau[k][i] * u[i]).sum();
            let mean = (0..rows).fold(DVector::zeros(d), |acc, i| {
                acc + &rows_v[i] * (tau[k][i] * u[i])
            }) / wsum;
            let scatter = (0..rows).fold(DMatrix::zeros(d, d), |acc, i| {
                let e = &rows_v[i] - &mean;
                acc + &e * e.transpose() * (tau[k][i] * u[i])
            });
            w[k] = n / rows as f64;
            mu[k] = mean;
            sigma[k] = scatter / n;
        }
    }
    assert_eq!(fit.elbo_trace.len(), trace.len());
    for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&trace).enumerate() {
        assert!(
            (ours - theirs).abs() <= 1e-9 * theirs.abs(),
            "iteration {i}: {ours} vs {theirs}"
        );
    }
    let (m, s) = (
        fit.params.get("mu").unwrap(),
        fit.params.get("Sigma").unwrap(),
    );
    for k in 0..kk {
        for i in 0..d {
            let t = last_mu[k][i];
            assert!(
                (m[[k, i]] - t).abs() <= 1e-8 * t.abs(),
                "mu[{k}][{i}]: {} vs {t}",
                m[[k, i]]
            );
            for j in 0..d {
                let t = last_sigma[k][(i, j)];
                assert!(
                    (s[[k, i, j]] - t).abs() <= 1e-8 * t.abs().max(1e-3),
                    "Sigma[{k}][{i},{j}]: {} vs {t}",
                    s[[k, i, j]]
                );
            }
        }
    }
    // Robustness: the outliers move the long-wait cluster's waiting variance by under 25 %
    // in the t-mixture (clean: `t_mix` on faithful.csv), by over 3× in the Gaussian one.
    let waiting_variance = |model: &str, file: &str| {
        let p = plan(model);
        let bound = bind(&p, file, &[]);
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                restarts: 5,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let (m, s) = (
            fit.params.get("mu").unwrap(),
            fit.params.get("Sigma").unwrap(),
        );
        let long = if m[[0, 1]] > m[[1, 1]] { 0 } else { 1 };
        s[[long, 1, 1]]
    };
    let t = waiting_variance("t_mix", "faithful_outliers.csv")
        / waiting_variance("t_mix", "faithful.csv");
    let g =
        waiting_variance("gmm", "faithful_outliers.csv") / waiting_variance("gmm", "faithful.csv");
    assert!(t < 1.25 && g > 3.0, "t-mixture ×{t}, Gaussian ×{g}");
}

/// Synthetic data from two known regression planes (2,000 rows, two covariates, noise
/// standard deviations 0.5 and 1): the fit recovers each component's coefficients,
/// intercept, variance and weight to within a few standard errors.
#[test]
fn mixture_of_regressions_recovers_known_coefficients() {
    use rand::{Rng, SeedableRng};
    let truth = [
        // (weight, beta, c, sd)
        (0.4, [2.0, -1.0], 3.0, 0.5),
        (0.6, [-1.5, 0.5], -2.0, 1.0),
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut normal = || {
        // Box–Muller.
        let (a, b): (f64, f64) = (rng.random(), rng.random());
        (-2.0 * (1.0 - a).ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let mut csv = String::from("u1,u2,y\n");
    for i in 0..2000 {
        let (_, beta, c, sd) = truth[usize::from(i % 5 >= 2)];
        let (u1, u2) = (2.0 * normal(), 2.0 * normal());
        let y = beta[0] * u1 + beta[1] * u2 + c + sd * normal();
        csv.push_str(&format!("{u1},{u2},{y}\n"));
    }
    let table = jensen::csv::read_bytes("synthetic", csv.as_bytes()).unwrap();
    let source = "model synthetic\nconst K: int = 2\ndata u[N]: vector[P] from (u1, u2)\ndata y[N]: real\nparam w: simplex[K]\nparam beta[K]: vector[P]\nparam c[K]: real\nparam s[K]: positive\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\ny[n] ~ Normal(dot(beta[z[n]], u[n]) + c[z[n]], s[z[n]])\n";
    let (p, _) = jensen::compile(source).expect("a model");
    let bound = jensen::bind(&p, &table, &BindOptions::default()).unwrap();
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            restarts: 5,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let (beta, c, s, w) = (
        fit.params.get("beta").unwrap(),
        fit.params.get("c").unwrap(),
        fit.params.get("s").unwrap(),
        fit.params.get("w").unwrap(),
    );
    // Match the components to the truth by their intercepts.
    let order: Vec<usize> = if c[[0]] > c[[1]] {
        vec![0, 1]
    } else {
        vec![1, 0]
    };
    for (&k, (weight, b, intercept, sd)) in order.iter().zip(truth) {
        let n = 2000.0 * weight;
        // A few standard errors: the noise sd over √n, times the covariates' spread.
        let tol = 5.0 * sd / f64::sqrt(n);
        assert!(
            (beta[[k, 0]] - b[0]).abs() < tol,
            "beta[{k}][0] = {}",
            beta[[k, 0]]
        );
        assert!(
            (beta[[k, 1]] - b[1]).abs() < tol,
            "beta[{k}][1] = {}",
            beta[[k, 1]]
        );
        assert!(
            (c[[k]] - intercept).abs() < 2.0 * tol,
            "c[{k}] = {}",
            c[[k]]
        );
        assert!(
            (s[[k]].sqrt() / sd - 1.0).abs() < 0.1,
            "s[{k}] = {}",
            s[[k]]
        );
        assert!((w[[k]] - weight).abs() < 0.03, "w[{k}] = {}", w[[k]]);
    }
}

/// The mixtures of multivariate regressions of the quakes' epicentres on their depth follow,
/// from the same start, an independent EM written with NumPy (`scripts/regression_fixtures.py`:
/// normal equations over the whole design, all response coordinates at once): full and
/// diagonal residual covariances, and a mean without an intercept; trace per iteration and
/// final parameters.
#[test]
fn mixture_of_multivariate_regressions_matches_a_numpy_em() {
    for case in ["quakes_full", "quakes_diag", "quakes_origin"] {
        let text =
            std::fs::read_to_string(root().join(format!("tests/fixtures/regression/{case}.json")))
                .unwrap();
        let fx: Value = serde_json::from_str(&text).unwrap();
        let columns = |key: &str| -> String {
            fx[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let intercept = fx["intercept"].as_bool().unwrap();
        let diag = fx["covariance"] == "diag";
        let source = format!(
            "model mv_regression\nconst K: int = 2\ndata x[N]: vector[D] from ({})\ndata u[N]: vector[P] from ({})\nparam w: simplex[K]\nparam B[K]: matrix[D, P]\n{}param Sigma[K]: {}\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\nx[n] ~ MvNormal(B[z[n]] * u[n]{}, {})\n",
            columns("response"),
            columns("covariates"),
            if intercept { "param mu[K]: vector[D]\n" } else { "" },
            if diag { "positive[D]" } else { "cov[D]" },
            if intercept { " + mu[z[n]]" } else { "" },
            if diag { "diag(Sigma[z[n]])" } else { "Sigma[z[n]]" },
        );
        let (p, _) = jensen::compile(&source).expect("a model");
        let bound = bind(&p, fx["data"].as_str().unwrap(), &[]);
        let model = PlanModel::new(&p, &bound);
        let mut init = DynParams::default();
        for (name, value) in fx["init"].as_object().unwrap() {
            let value = nested(value);
            // The fixture keeps a diagonal covariance as a matrix.
            let value = if diag && name == "Sigma" {
                ndarray::Array2::from_shape_fn((2, 2), |(k, d)| value[[k, d, d]]).into_dyn()
            } else {
                value
            };
            init.insert(name, value);
        }
        let iterations = fx["iterations"].as_u64().unwrap() as usize;
        let fit = jensen::fit(
            &model,
            &FitOptions {
                init: InitStrategy::Params(model.check_params(&init).unwrap()),
                max_iter: iterations,
                tol: f64::NEG_INFINITY,
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap();
        let reference: Vec<f64> = fx["log_likelihood"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            fit.elbo_trace.len(),
            reference.len(),
            "{case}: trace length"
        );
        for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&reference).enumerate() {
            assert!(
                (ours - theirs).abs() <= 1e-9 * theirs.abs(),
                "{case}, iteration {i}: {ours} vs {theirs}"
            );
        }
        // The fit's parameters are those of its last M-step, at which the last entry of the
        // trace was evaluated.
        for (name, value) in fx["final"].as_object().unwrap() {
            let theirs = nested(value);
            let ours = fit.params.get(name).unwrap();
            let ours: Vec<f64> = ours.iter().copied().collect();
            let theirs: Vec<f64> = if diag && name == "Sigma" {
                let t = theirs;
                (0..2)
                    .flat_map(|k| (0..2).map(move |d| (k, d)))
                    .map(|(k, d)| t[[k, d, d]])
                    .collect()
            } else {
                theirs.iter().copied().collect()
            };
            assert_eq!(ours.len(), theirs.len(), "{case} {name}");
            for (o, t) in ours.iter().zip(&theirs) {
                assert!(
                    (o - t).abs() <= 1e-7 * t.abs().max(1e-3),
                    "{case} {name}: {o} vs {t}"
                );
            }
        }
    }
}

/// MAP with an inverse-Wishart prior on a multivariate regression's covariance: at the fit's
/// fixed point (from the responsibilities at its final parameters) the coefficients and
/// intercepts are each component's weighted least squares, solved here from the normal
/// equations, and the covariance the posterior mode `(R + Ψ) / (N_k + ν + D + 1)`, `R` the
/// weighted residual scatter: the gradient of the log posterior vanishes there.
#[test]
fn multivariate_regression_map_is_the_posterior_mode_at_its_fixed_point() {
    use jensen::runtime::{em, MixtureModel};
    use nalgebra::DMatrix;
    let source = std::fs::read_to_string(root().join("models/regression_quakes_mv.em"))
        .unwrap()
        .replace(
            "z[n] ~ Categorical(w)",
            "Sigma[k] ~ InvWishart(5.0, 2.0 * I)\nz[n] ~ Categorical(w)",
        );
    let (p, _) = jensen::compile(&source).expect("a model");
    let bound = bind(&p, "quakes.csv", &[]);
    let m = PlanModel::new(&p, &bound);
    let fit = jensen::fit(
        &m,
        &FitOptions {
            seed: 1,
            restarts: 3,
            max_iter: 5000,
            tol: 1e-13,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let cache = m.prepare(&fit.params).unwrap();
    let (resp, _) = em::posterior(&m, &cache);
    let item = |name: &str| &bound.item(p.model.var(name).unwrap()).values;
    let (x, u) = (item("x"), item("u"));
    let rows = x.nrows();
    let a = DMatrix::from_fn(rows, 2, |i, j| if j == 0 { u[[i, 0]] } else { 1.0 });
    let xm = DMatrix::from_fn(rows, 2, |i, j| x[[i, j]]);
    let (b, mu, sigma) = (
        fit.params.get("B").unwrap(),
        fit.params.get("mu").unwrap(),
        fit.params.get("Sigma").unwrap(),
    );
    for k in 0..2 {
        let r: Vec<f64> = resp.column(k).to_vec();
        let n: f64 = r.iter().sum();
        let ra = DMatrix::from_fn(rows, 2, |i, j| a[(i, j)] * r[i]);
        let theta = (a.transpose() * &ra)
            .cholesky()
            .unwrap()
            .solve(&(ra.transpose() * &xm));
        let e = &xm - &a * &theta;
        let re = DMatrix::from_fn(rows, 2, |i, j| e[(i, j)] * r[i]);
        let scatter = e.transpose() * re;
        for d in 0..2 {
            let close = |o: f64, t: f64, what: &str| {
                assert!(
                    (o - t).abs() <= 1e-6 * t.abs().max(1e-3),
                    "component {k}, {what}[{d}]: {o} vs {t}"
                )
            };
            close(b[[k, d, 0]], theta[(0, d)], "B");
            close(mu[[k, d]], theta[(1, d)], "mu");
            for j in 0..2 {
                let prior = if d == j { 2.0 } else { 0.0 };
                let mode = (scatter[(d, j)] + prior) / (n + 5.0 + 2.0 + 1.0);
                close(sigma[[k, d, j]], mode, "Sigma");
            }
        }
    }
}

/// Synthetic data from two known multivariate regressions (3,000 rows, a response of two
/// coordinates on two covariates, correlated residuals): the fit recovers each component's
/// coefficient matrix, intercept, residual covariance and weight.
#[test]
fn mixture_of_multivariate_regressions_recovers_known_coefficients() {
    use rand::{Rng, SeedableRng};
    // (weight, B (2 × 2), mu, Cholesky factor of Sigma (lower: l11, l21, l22))
    let truth = [
        (0.4, [[2.0, -1.0], [0.5, 1.5]], [3.0, -1.0], [0.5, 0.3, 0.4]),
        (
            0.6,
            [[-1.5, 0.5], [1.0, -2.0]],
            [-2.0, 2.0],
            [1.0, -0.5, 0.8],
        ),
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let mut normal = || {
        let (a, b): (f64, f64) = (rng.random(), rng.random());
        (-2.0 * (1.0 - a).ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let rows = 3000;
    let mut csv = String::from("u1,u2,x1,x2\n");
    for i in 0..rows {
        let (_, b, mu, l) = truth[usize::from(i % 5 >= 2)];
        let (u1, u2) = (2.0 * normal(), 2.0 * normal());
        let (e1, e2) = (normal(), normal());
        let (r1, r2) = (l[0] * e1, l[1] * e1 + l[2] * e2);
        let x1 = b[0][0] * u1 + b[0][1] * u2 + mu[0] + r1;
        let x2 = b[1][0] * u1 + b[1][1] * u2 + mu[1] + r2;
        csv.push_str(&format!("{u1},{u2},{x1},{x2}\n"));
    }
    let table = jensen::csv::read_bytes("synthetic", csv.as_bytes()).unwrap();
    let source = "model synthetic\nconst K: int = 2\ndata u[N]: vector[P] from (u1, u2)\ndata x[N]: vector[D] from (x1, x2)\nparam w: simplex[K]\nparam B[K]: matrix[D, P]\nparam mu[K]: vector[D]\nparam Sigma[K]: cov[D]\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\nx[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])\n";
    let (p, _) = jensen::compile(source).expect("a model");
    let bound = jensen::bind(&p, &table, &BindOptions::default()).unwrap();
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            restarts: 5,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let (b, mu, sigma, w) = (
        fit.params.get("B").unwrap(),
        fit.params.get("mu").unwrap(),
        fit.params.get("Sigma").unwrap(),
        fit.params.get("w").unwrap(),
    );
    // Match the components to the truth by their first intercept.
    let order = if mu[[0, 0]] > mu[[1, 0]] {
        [0, 1]
    } else {
        [1, 0]
    };
    for (&k, (weight, tb, tmu, l)) in order.iter().zip(truth) {
        let n = rows as f64 * weight;
        let sd = [l[0], (l[1] * l[1] + l[2] * l[2]).sqrt()];
        let cov = [
            [l[0] * l[0], l[0] * l[1]],
            [l[0] * l[1], l[1] * l[1] + l[2] * l[2]],
        ];
        for d in 0..2 {
            // A few standard errors: the noise sd over √n (the covariates' sd is 2).
            let tol = 5.0 * sd[d] / n.sqrt();
            for j in 0..2 {
                assert!(
                    (b[[k, d, j]] - tb[d][j]).abs() < tol,
                    "B[{k}][{d}][{j}] = {} vs {}",
                    b[[k, d, j]],
                    tb[d][j]
                );
            }
            assert!(
                (mu[[k, d]] - tmu[d]).abs() < 2.0 * tol,
                "mu[{k}][{d}] = {}",
                mu[[k, d]]
            );
            for e in 0..2 {
                assert!(
                    (sigma[[k, d, e]] - cov[d][e]).abs() < 0.1 * sd[d] * sd[e],
                    "Sigma[{k}][{d}][{e}] = {} vs {}",
                    sigma[[k, d, e]],
                    cov[d][e]
                );
            }
        }
        assert!((w[[k]] - weight).abs() < 0.03, "w[{k}] = {}", w[[k]]);
    }
}

/// Data in large units: a Gamma rate or a geometric probability far below `1e-12` is kept
/// as it is (no floor), so one component's fit is the closed form at any scale (found by
/// review: both were floored at `1e-12`, and a fit of the waits in units of 1e-13 minutes
/// stopped at a wrong rate).
#[test]
fn small_rates_and_probabilities_are_not_floored() {
    use statrs::distribution::{Continuous, Gamma};
    let scaled = |file: &str, column: &str, factor: f64| {
        let mut table =
            jensen::csv::read(root().join("data").join(file).to_str().unwrap()).unwrap();
        let j = table.headers.iter().position(|h| h == column).unwrap();
        for v in table.columns[j].as_mut().unwrap().iter_mut() {
            *v *= factor;
        }
        table
    };
    let fit_one = |source: &str, table: &jensen::Table| {
        let p = jensen::compile(source).unwrap().0;
        let bound = jensen::bind(&p, table, &BindOptions::default()).unwrap();
        let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default()).unwrap();
        (p, bound, fit)
    };
    // Gamma of shape 0.5 on the waits × 1e13: rate = 0.5 / mean ≈ 7e-16.
    let (p, bound, fit) = fit_one(
        "model g\nconst K: int = 1\ndata waiting[N]: positive\nparam w: simplex[K]\nparam rate[K]: positive\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\nwaiting[n] ~ Gamma(0.5, rate[z[n]])\n",
        &scaled("faithful.csv", "waiting", 1e13),
    );
    let x: Vec<f64> = bound
        .item(p.model.var("waiting").unwrap())
        .values
        .column(0)
        .to_vec();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let rate = 0.5 / mean;
    assert!(rate < 1e-15);
    assert!((fit.params.get("rate").unwrap()[[0]] - rate).abs() <= 1e-12 * rate);
    let reference = Gamma::new(0.5, rate).unwrap();
    let expected: f64 = x.iter().map(|&v| reference.ln_pdf(v)).sum();
    assert!((fit.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
    // Geometric on the discoveries × 1e14: p = 1 / (1 + mean) ≈ 3e-15.
    let (p, bound, fit) = fit_one(
        "model g\nconst K: int = 1\ndata discoveries[N]: count\nparam w: simplex[K]\nparam p[K]: prob\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\ndiscoveries[n] ~ Geometric(p[z[n]])\n",
        &scaled("discoveries.csv", "discoveries", 1e14),
    );
    let x: Vec<f64> = bound
        .item(p.model.var("discoveries").unwrap())
        .values
        .column(0)
        .to_vec();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let q = 1.0 / (1.0 + mean);
    assert!((fit.params.get("p").unwrap()[[0]] - q).abs() <= 1e-12 * q);
    // The closed form `x ln(1 − q) + ln q` with `ln(1 − q)` from `ln_1p` (statrs' geometric
    // takes `ln(1 − q)` of the rounded `1 − q`, which keeps one digit at q = 3e-15).
    let expected: f64 = x.iter().map(|&v| v * (-q).ln_1p() + q.ln()).sum();
    assert!((fit.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
}

/// The geometric mixture on the discoveries follows, from the same start, an independent EM
/// written here with statrs' geometric distribution (which counts trials, the block
/// failures), by maximum likelihood and by MAP with a `Beta(a, b)` prior; with one component
/// the probability is the closed form `1 / (1 + mean)`.
#[test]
fn geometric_mixture_matches_an_independent_em() {
    use statrs::distribution::{Discrete, Geometric};
    for (model, prior) in [
        ("geometric_mix", None),
        ("geometric_mix_map", Some((2.0, 2.0))),
    ] {
        let p = plan(model);
        let bound = bind(&p, "discoveries.csv", &[]);
        let x: Vec<f64> = bound
            .item(p.model.var("discoveries").unwrap())
            .values
            .column(0)
            .to_vec();
        let (mut w, mut prob) = ([0.3, 0.7], [0.5, 0.15]);
        let mut start = DynParams::default();
        start.insert("w", ndarray::arr1(&w).into_dyn());
        start.insert("p", ndarray::arr1(&prob).into_dyn());
        let iters = 25;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        for _ in 0..=iters {
            let (mut ll, mut n, mut s) = (0.0, [0.0; 2], [0.0; 2]);
            for &v in &x {
                let joint: Vec<f64> = (0..2)
                    .map(|k| w[k] * Geometric::new(prob[k]).unwrap().pmf(v as u64 + 1))
                    .collect();
                let total: f64 = joint.iter().sum();
                ll += total.ln();
                for k in 0..2 {
                    n[k] += joint[k] / total;
                    s[k] += joint[k] / total * v;
                }
            }
            let log_prior: f64 = prior.map_or(0.0, |(a, b): (f64, f64)| {
                prob.iter()
                    .map(|&q| (a - 1.0) * q.ln() + (b - 1.0) * (1.0 - q).ln())
                    .sum()
            });
            trace.push((ll, log_prior));
            for k in 0..2 {
                w[k] = n[k] / x.len() as f64;
                let (a, b) = prior.unwrap_or((1.0, 1.0));
                prob[k] = (n[k] + a - 1.0) / (n[k] + s[k] + a + b - 2.0);
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        for i in 1..trace.len() {
            let ours = fit.elbo_trace[i] - fit.elbo_trace[0];
            let theirs = (trace[i].0 + trace[i].1) - (trace[0].0 + trace[0].1);
            assert!(
                (ours - theirs).abs() <= 1e-9 * trace[i].0.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let last = trace.last().unwrap().0;
        assert!(
            (fit.log_likelihood - last).abs() <= 1e-9 * last.abs(),
            "{model}"
        );
    }
    let p = plan("geometric_mix");
    let bound1 = bind(&p, "discoveries.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let x: Vec<f64> = bound1
        .item(p.model.var("discoveries").unwrap())
        .values
        .column(0)
        .to_vec();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let q = 1.0 / (1.0 + mean);
    let reference = Geometric::new(q).unwrap();
    let expected: f64 = x.iter().map(|&v| reference.ln_pmf(v as u64 + 1)).sum();
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
    assert!((one.params.get("p").unwrap()[[0]] - q).abs() <= 1e-12);
}

/// The exponential mixture on Old Faithful's waiting times follows, from the same start, the
/// trajectory of an independent EM written out here with plain loops (no peer library fits
/// exponential mixtures); with one component it is the closed form `λ = 1 / mean`.
#[test]
fn exponential_mixture_matches_an_independent_em() {
    let p = plan("exponential_mix");
    let bound = bind(&p, "faithful.csv", &[]);
    let x: Vec<f64> = bound
        .item(p.model.var("waiting").unwrap())
        .values
        .column(0)
        .to_vec();
    let (mut w, mut rate) = ([0.4, 0.6], [1.0 / 50.0, 1.0 / 80.0]);
    let mut start = DynParams::default();
    start.insert("w", ndarray::arr1(&w).into_dyn());
    start.insert("rate", ndarray::arr1(&rate).into_dyn());
    let iters = 25;
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            init: InitStrategy::Params(start),
            max_iter: iters,
            tol: f64::NEG_INFINITY,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let mut trace = Vec::new();
    for _ in 0..=iters {
        let (mut ll, mut n, mut s) = (0.0, [0.0; 2], [0.0; 2]);
        for &v in &x {
            let joint: Vec<f64> = (0..2)
                .map(|k| w[k] * rate[k] * (-rate[k] * v).exp())
                .collect();
            let total: f64 = joint.iter().sum();
            ll += total.ln();
            for k in 0..2 {
                n[k] += joint[k] / total;
                s[k] += joint[k] / total * v;
            }
        }
        trace.push(ll);
        for k in 0..2 {
            w[k] = n[k] / x.len() as f64;
            rate[k] = n[k] / s[k];
        }
    }
    assert_eq!(fit.elbo_trace.len(), trace.len());
    for (i, (a, b)) in fit.elbo_trace.iter().zip(&trace).enumerate() {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "iteration {i}: {a} vs {b}");
    }
    // One component: the maximum-likelihood rate is the inverse mean, ℓ = N (ln λ − 1).
    let bound1 = bind(&p, "faithful.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let expected = x.len() as f64 * ((1.0 / mean).ln() - 1.0);
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
    let fitted = one.params.get("rate").unwrap()[[0]];
    assert!((fitted - 1.0 / mean).abs() <= 1e-12 / mean);
}

/// The multinomial mixture of Debian package descriptions (200 word counts per document)
/// follows, from the same start, an independent EM written here with statrs' multinomial, by
/// maximum likelihood (with the block's documented floor: a probability that would be zero is
/// 1e-12, then renormalised) and by MAP with a `Dirichlet(1.1)` prior; with one component the
/// probabilities are the closed form, the corpus's word frequencies.
#[test]
fn multinomial_mixture_matches_an_independent_em() {
    use statrs::distribution::{Discrete, Multinomial};
    let floored = |c: &[f64]| -> Vec<f64> {
        let total: f64 = c.iter().sum();
        let p: Vec<f64> = c.iter().map(|&v| (v / total).max(1e-12)).collect();
        let norm: f64 = p.iter().sum();
        p.iter().map(|v| v / norm).collect()
    };
    for (model, prior) in [
        ("multinomial_debian", None),
        ("multinomial_debian_map", Some(1.1)),
    ] {
        let p = plan(model);
        let bound = bind(&p, "debian_descriptions.csv", &[("K", 3)]);
        let values = &bound.item(p.model.var("x").unwrap()).values;
        let (rows, words) = values.dim();
        let docs: Vec<Vec<u64>> = values
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|&v| v as u64).collect())
            .collect();
        let mut w = vec![0.2, 0.3, 0.5];
        let mut theta: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                floored(
                    &(0..words)
                        .map(|v| 1.0 + ((7 * v + 3 * k) % 5) as f64)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let mut start = DynParams::default();
        start.insert("w", ndarray::arr1(&w).into_dyn());
        let flat: Vec<f64> = theta.iter().flatten().copied().collect();
        start.insert(
            "theta",
            ndarray::Array2::from_shape_vec((3, words), flat)
                .unwrap()
                .into_dyn(),
        );
        let iters = 15;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        for i in 0..=iters {
            let (mut ll, mut n, mut s) = (0.0, vec![0.0; 3], vec![vec![0.0; words]; 3]);
            for doc in &docs {
                let total: u64 = doc.iter().sum();
                let log_joint: Vec<f64> = (0..3)
                    .map(|k| {
                        let m = Multinomial::new(theta[k].clone(), total).unwrap();
                        w[k].ln() + m.ln_pmf(&doc.clone().into())
                    })
                    .collect();
                let top = log_joint.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let norm = top + log_joint.iter().map(|l| (l - top).exp()).sum::<f64>().ln();
                ll += norm;
                for k in 0..3 {
                    let q = (log_joint[k] - norm).exp();
                    n[k] += q;
                    for (sv, &c) in s[k].iter_mut().zip(doc) {
                        *sv += q * c as f64;
                    }
                }
            }
            let log_prior: f64 = prior.map_or(0.0, |a: f64| {
                theta.iter().flatten().map(|&q| (a - 1.0) * q.ln()).sum()
            });
            trace.push((ll, log_prior));
            if i == iters {
                // The fit ends with an E-step at its last parameters.
                break;
            }
            let a = prior.unwrap_or(1.0);
            for k in 0..3 {
                w[k] = n[k] / rows as f64;
                theta[k] = floored(&s[k].iter().map(|&c| c + a - 1.0).collect::<Vec<_>>());
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        for i in 1..trace.len() {
            let ours = fit.elbo_trace[i] - fit.elbo_trace[0];
            let theirs = (trace[i].0 + trace[i].1) - (trace[0].0 + trace[0].1);
            assert!(
                (ours - theirs).abs() <= 1e-9 * trace[i].0.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let last = trace.last().unwrap().0;
        assert!(
            (fit.log_likelihood - last).abs() <= 1e-9 * last.abs(),
            "{model}"
        );
        let fitted = fit.params.get("theta").unwrap();
        for k in 0..3 {
            for v in 0..words {
                assert!(
                    (fitted[[k, v]] - theta[k][v]).abs() <= 1e-9,
                    "{model}: theta[{k}][{v}]"
                );
            }
        }
    }
    let p = plan("multinomial_debian");
    let bound1 = bind(&p, "debian_descriptions.csv", &[("K", 1)]);
    let one = jensen::fit(&PlanModel::new(&p, &bound1), &FitOptions::default()).unwrap();
    let values = &bound1.item(p.model.var("x").unwrap()).values;
    let counts: Vec<f64> = values.columns().into_iter().map(|c| c.sum()).collect();
    let freq = floored(&counts);
    let reference = freq.clone();
    let expected: f64 = values
        .rows()
        .into_iter()
        .map(|r| {
            let doc: Vec<u64> = r.iter().map(|&v| v as u64).collect();
            let total = doc.iter().sum();
            Multinomial::new(reference.clone(), total)
                .unwrap()
                .ln_pmf(&doc.into())
        })
        .sum();
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
    let fitted = one.params.get("theta").unwrap();
    for (v, &f) in freq.iter().enumerate() {
        assert!((fitted[[0, v]] - f).abs() <= 1e-12, "word {v}");
    }
}

/// The log-normal mixture of Old Faithful's eruption durations follows, from the same start,
/// an independent EM written here on the raw durations with statrs' log-normal, by maximum
/// likelihood and by MAP with the normal-inverse-Gamma prior of `lognormal_mix_map.em`
/// (`m ~ N(1, v / 0.1)`, `v ~ IG(2, 0.01)`); with one component the parameters are the mean
/// and variance of ln x.
#[test]
fn lognormal_mixture_matches_an_independent_em() {
    use statrs::distribution::{Continuous, LogNormal};
    let raw: Vec<f64> = {
        let text = std::fs::read_to_string(root().join("data/faithful.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let c = header.iter().position(|h| *h == "eruptions").unwrap();
        lines
            .map(|l| l.split(',').nth(c).unwrap().parse().unwrap())
            .collect()
    };
    for (model, prior) in [
        ("lognormal_mix", None),
        ("lognormal_mix_map", Some((1.0, 0.1, 2.0, 0.01))),
    ] {
        let p = plan(model);
        let bound = bind(&p, "faithful.csv", &[]);
        let (mut w, mut m, mut v) = ([0.4, 0.6], [0.5, 1.3], [0.2, 0.1]);
        let mut start = DynParams::default();
        start.insert("w", ndarray::arr1(&w).into_dyn());
        start.insert("m", ndarray::arr1(&m).into_dyn());
        start.insert("v", ndarray::arr1(&v).into_dyn());
        let iters = 25;
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                init: InitStrategy::Params(start),
                max_iter: iters,
                tol: f64::NEG_INFINITY,
                // Plain maximum likelihood (no regularising prior on the variances).
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap();
        let mut trace = Vec::new();
        for i in 0..=iters {
            let (mut ll, mut n, mut s) = (0.0, [0.0; 2], [0.0; 2]);
            let mut q = vec![[0.0; 2]; raw.len()];
            for (r, &x) in raw.iter().enumerate() {
                let joint: Vec<f64> = (0..2)
                    .map(|k| w[k] * LogNormal::new(m[k], v[k].sqrt()).unwrap().pdf(x))
                    .collect();
                let total: f64 = joint.iter().sum();
                ll += total.ln();
                for k in 0..2 {
                    q[r][k] = joint[k] / total;
                    n[k] += q[r][k];
                    s[k] += q[r][k] * x.ln();
                }
            }
            let log_prior: f64 = prior.map_or(0.0, |(m0, kappa, a, b): (f64, f64, f64, f64)| {
                (0..2)
                    .map(|k| {
                        -0.5 * (v[k] / kappa).ln()
                            - kappa * (m[k] - m0).powi(2) / (2.0 * v[k])
                            - (a + 1.0) * v[k].ln()
                            - b / v[k]
                    })
                    .sum()
            });
            trace.push((ll, log_prior));
            if i == iters {
                break;
            }
            let (m0, kappa, a, b) = prior.unwrap_or((0.0, 0.0, -1.0, 0.0));
            for k in 0..2 {
                w[k] = n[k] / raw.len() as f64;
                m[k] = (s[k] + kappa * m0) / (n[k] + kappa);
                let sq: f64 = raw
                    .iter()
                    .zip(&q)
                    .map(|(&x, q)| q[k] * (x.ln() - m[k]).powi(2))
                    .sum();
                // The mode: (S + κ (m − m0)² + 2b) / (N + 2a + 3) with the prior, S / N without.
                v[k] = match prior {
                    Some(_) => {
                        (sq + kappa * (m[k] - m0).powi(2) + 2.0 * b) / (n[k] + 2.0 * a + 3.0)
                    }
                    None => sq / n[k],
                };
            }
        }
        assert_eq!(fit.elbo_trace.len(), trace.len());
        for i in 1..trace.len() {
            let ours = fit.elbo_trace[i] - fit.elbo_trace[0];
            let theirs = (trace[i].0 + trace[i].1) - (trace[0].0 + trace[0].1);
            assert!(
                (ours - theirs).abs() <= 1e-9 * trace[i].0.abs(),
                "{model}, iteration {i}: {ours} vs {theirs}"
            );
        }
        let last = trace.last().unwrap().0;
        assert!(
            (fit.log_likelihood - last).abs() <= 1e-9 * last.abs(),
            "{model}: {} vs {last}",
            fit.log_likelihood
        );
        for (name, ours) in [("m", m), ("v", v)] {
            let fitted = fit.params.get(name).unwrap();
            for k in 0..2 {
                assert!(
                    (fitted[[k]] - ours[k]).abs() <= 1e-9 * ours[k].abs(),
                    "{model}: {name}[{k}] {} vs {}",
                    fitted[[k]],
                    ours[k]
                );
            }
        }
    }
    let p = plan("lognormal_mix");
    let bound1 = bind(&p, "faithful.csv", &[("K", 1)]);
    let one = jensen::fit(
        &PlanModel::new(&p, &bound1),
        &FitOptions {
            m_step: MStepConfig { reg_covar: 0.0 },
            ..FitOptions::default()
        },
    )
    .unwrap();
    let logs: Vec<f64> = raw.iter().map(|x| x.ln()).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let var = logs.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / logs.len() as f64;
    assert!((one.params.get("m").unwrap()[[0]] - mean).abs() <= 1e-12);
    assert!((one.params.get("v").unwrap()[[0]] - var).abs() <= 1e-12 * var);
    let reference = LogNormal::new(mean, var.sqrt()).unwrap();
    let expected: f64 = raw.iter().map(|&x| reference.ln_pdf(x)).sum();
    assert!((one.log_likelihood - expected).abs() <= 1e-9 * expected.abs());
}
