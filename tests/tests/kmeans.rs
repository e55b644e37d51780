//! k-means as a model (`models/kmeans.em`: unit covariances, equal weights, `estep hard`)
//! against scikit-learn's `KMeans` (fixtures made by `scripts/kmeans_fixtures.py`): the same
//! optimum with k-means++ seeding and restarts, and the same Lloyd trajectory — assignments
//! and centres at every iteration — from the same initial centres. The `_weighted` cases give
//! every row a weight (`KMeans.fit(x, sample_weight=w)`; here `Bound::with_weights`), zero
//! and fractional weights among them.

use jensen::bind::BindOptions;
use jensen::runtime::nested::Nested;
use jensen::runtime::{EStepMode, FitOptions, InitStrategy};
use jensen::{DynParams, PlanModel};
use jensen_tests::{plan, root};
use ndarray::{Array2, Ix2};
use serde_json::Value;

const CASES: [&str; 8] = [
    "faithful_k2",
    "faithful_k3",
    "iris_k3",
    "quakes_k4",
    "faithful_k2_weighted",
    "faithful_k3_weighted",
    "iris_k3_weighted",
    "quakes_k4_weighted",
];

struct Case {
    fx: Value,
    plan: jensen::lang::Plan,
    bound: jensen::bind::Bound,
}

fn case(name: &str) -> Case {
    let text =
        std::fs::read_to_string(root().join(format!("tests/fixtures/kmeans/{name}.json"))).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let plan = plan("kmeans");
    let table =
        jensen::csv::read(root().join(fx["data"].as_str().unwrap()).to_str().unwrap()).unwrap();
    let columns: Vec<String> = fx["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let opts = BindOptions {
        consts: [("K".to_string(), fx["k"].as_u64().unwrap() as usize)].into(),
        columns: [("x".to_string(), columns)].into(),
        ..Default::default()
    };
    let mut bound = jensen::bind(&plan, &table, &opts).unwrap();
    if let Some(w) = fx.get("weights") {
        let w: Vec<f64> = serde_json::from_value(w.clone()).unwrap();
        bound = bound.with_weights(&plan, "sample_weight", w).unwrap();
    }
    Case { fx, plan, bound }
}

fn matrix(v: &Value) -> Array2<f64> {
    serde_json::from_value::<Nested>(v.clone())
        .unwrap()
        .to_array()
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn centres(params: &DynParams) -> Array2<f64> {
    let (_, mu) = params.iter().find(|(n, _)| *n == "mu").unwrap();
    mu.clone().into_dimensionality::<Ix2>().unwrap()
}

/// Rows sorted lexicographically, as the fixture's optimum.
fn sorted(m: &Array2<f64>) -> Vec<Vec<f64>> {
    let mut rows: Vec<Vec<f64>> = m.rows().into_iter().map(|r| r.to_vec()).collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows
}

fn assert_close(ours: &[f64], theirs: &[f64], rel: f64, what: &str) {
    for (a, b) in ours.iter().zip(theirs) {
        assert!(
            (a - b).abs() <= rel * b.abs().max(1.0),
            "{what}: {a} vs scikit-learn {b}"
        );
    }
}

#[test]
fn kmeans_plus_plus_with_restarts_reaches_scikit_learns_optimum() {
    for name in CASES {
        let c = case(name);
        let model = PlanModel::new(&c.plan, &c.bound);
        let opts = FitOptions {
            restarts: 100,
            seed: 1,
            ..FitOptions::default()
        };
        let fit = jensen::fit(&model, &opts).unwrap();
        assert_eq!(
            fit.e_step,
            EStepMode::Hard,
            "{name}: the model's `estep hard`"
        );
        assert!(fit.converged, "{name}: Lloyd stops when no row moves");
        let inertia = fit.inertia.expect("k-means reports its inertia");
        let optimum = c.fx["optimum"]["inertia"].as_f64().unwrap();
        assert!(
            ((inertia - optimum) / optimum).abs() < 1e-9,
            "{name}: inertia {inertia} vs scikit-learn's optimum {optimum}"
        );
        let ours = sorted(&centres(&fit.params));
        let theirs = sorted(&matrix(&c.fx["optimum"]["centres"]));
        for (a, b) in ours.iter().zip(&theirs) {
            assert_close(a, b, 1e-9, name);
        }
    }
}

#[test]
fn lloyd_trajectory_matches_scikit_learn_from_the_same_centres() {
    for name in CASES {
        let c = case(name);
        let model = PlanModel::new(&c.plan, &c.bound);
        let traj = &c.fx["trajectory"];
        let steps = traj["centres"].as_array().unwrap();
        let labels = traj["labels"].as_array().unwrap();
        let inertias = traj["inertia"].as_array().unwrap();
        let mut init = DynParams::default();
        init.insert("mu", matrix(&c.fx["init"]).into_dyn());
        let init = model.check_params(&init).unwrap();
        for t in 0..labels.len() {
            let opts = FitOptions {
                max_iter: t,
                init: InitStrategy::Params(init.clone()),
                threads: Some(1),
                ..FitOptions::default()
            };
            let fit = jensen::fit(&model, &opts).unwrap();
            // θ_t: the centres after t Lloyd iterations (the last one repeats at a fixed point).
            let expect = matrix(&steps[t.min(steps.len() - 1)]);
            let ours = centres(&fit.params);
            assert_close(
                ours.as_slice().unwrap(),
                expect.as_slice().unwrap(),
                1e-12,
                &format!("{name}: centres after {t} iterations"),
            );
            // The assignments of the E-step at θ_t.
            let theirs: Vec<usize> = labels[t]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                fit.assignments, theirs,
                "{name}: assignments at iteration {t}"
            );
            let inertia = fit.inertia.unwrap();
            let theirs = inertias[t].as_f64().unwrap();
            assert!(
                ((inertia - theirs) / theirs).abs() < 1e-9,
                "{name}: inertia at iteration {t}: {inertia} vs {theirs}"
            );
        }
        // Run to convergence from the same centres: it stops where scikit-learn's labels stop
        // changing.
        let fit = jensen::fit(
            &model,
            &FitOptions {
                init: InitStrategy::Params(init),
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(fit.converged);
        assert_eq!(fit.iterations, labels.len() - 1, "{name}: Lloyd iterations");
    }
}
