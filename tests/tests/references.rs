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
    let table = jensen_cli::csvdata::read(
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
