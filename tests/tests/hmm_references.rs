//! Hidden Markov models against hmmlearn: from identical starting parameters, the
//! log-likelihood trajectory, the fitted parameters, the Viterbi path and the state
//! posteriors agree (fixtures made by `scripts/make_fixtures.sh`, which runs
//! `scripts/hmmlearn_fixtures.py`).

use jensen::bind::{BindOptions, Sequences};
use jensen::runtime::em::posterior;
use jensen::runtime::{FitOptions, InitStrategy, MStepConfig, MixtureModel};
use jensen::{DynParams, PlanModel};
use jensen_tests::{plan, root};
use serde_json::Value;

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1.0)
}

fn hmmlearn_case(case: &str) {
    let text = std::fs::read_to_string(root().join(format!("tests/fixtures/hmmlearn/{case}.json")))
        .unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let p = plan(fx["model"].as_str().unwrap());
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
    let item = p.model.vars[p.blocks[0].data].name.clone();
    let sequences = match fx["lengths"].as_array() {
        Some(l) => Sequences::Lengths(l.iter().map(|v| v.as_u64().unwrap() as usize).collect()),
        None => Sequences::Whole,
    };
    let opts = BindOptions {
        consts: [("K".to_string(), fx["K"].as_u64().unwrap() as usize)].into(),
        columns: [(item, columns)].into(),
        sequences,
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let model = PlanModel::new(&p, &bound);
    let init: DynParams = serde_json::from_value(fx["init"].clone()).unwrap();
    let init = model.check_params(&init).unwrap();
    let iterations = fx["iterations"].as_u64().unwrap() as usize;
    let result = jensen::fit(
        &model,
        &FitOptions {
            max_iter: iterations,
            tol: f64::NEG_INFINITY,
            init: InitStrategy::Params(init),
            m_step: MStepConfig { reg_covar: 0.0 },
            ..FitOptions::default()
        },
    )
    .unwrap();

    // The trajectory, step for step: the log-likelihood, plus ln p(θ) under the priors
    // written in the model file (MAP-EM's objective, the log posterior up to a constant).
    let series = |key: &str| -> Option<Vec<f64>> {
        Some(
            fx.get(key)?
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect(),
        )
    };
    let mut expected = series("log_likelihood").unwrap();
    if let Some(log_prior) = series("log_prior") {
        for (e, p) in expected.iter_mut().zip(log_prior) {
            *e += p;
        }
    }
    assert_eq!(
        result.elbo_trace.len(),
        expected.len(),
        "{case}: trace length"
    );
    for (i, (a, b)) in result.elbo_trace.iter().zip(&expected).enumerate() {
        assert!(
            relative(*a, *b) <= 1e-8,
            "{case}: iteration {i}: jensen {a} vs hmmlearn {b}"
        );
    }

    // The fitted parameters.
    let final_: DynParams = serde_json::from_value(fx["final"].clone()).unwrap();
    for (name, value) in final_.iter() {
        let ours = result.params.get(name).unwrap();
        assert_eq!(ours.shape(), value.shape(), "{case}: `{name}` shape");
        for (a, b) in ours.iter().zip(value.iter()) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                "{case}: `{name}`: jensen {a} vs hmmlearn {b}"
            );
        }
    }

    // Decoding at hmmlearn's final parameters: the same Viterbi path and score, and the
    // same state posteriors.
    let at = model.check_params(&final_).unwrap();
    let (path, score) = jensen::runtime::decode(&model, &at).unwrap();
    let expected_path: Vec<usize> = fx["viterbi"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    // Where several paths are exactly as probable (a categorical chain can swap two
    // states at equal cost) either is a Viterbi path: then hmmlearn's path must score the
    // same under our emissions.
    if path != expected_path {
        let theirs = joint_log_prob(&model, &at, &bound.sequences, &expected_path);
        let ours = joint_log_prob(&model, &at, &bound.sequences, &path);
        assert!(
            relative(ours, theirs) <= 1e-12,
            "{case}: Viterbi paths differ and are not tied: {ours} vs {theirs}"
        );
    }
    let expected_score = fx["viterbi"]["log_prob"].as_f64().unwrap();
    assert!(
        relative(score, expected_score) <= 1e-8,
        "{case}: Viterbi ln p(x, z*): jensen {score} vs hmmlearn {expected_score}"
    );
    let cache = model.prepare(&at).unwrap();
    let (gamma, _) = posterior(&model, &cache);
    for (t, row) in fx["posterior_first"].as_array().unwrap().iter().enumerate() {
        for (k, v) in row.as_array().unwrap().iter().enumerate() {
            let v = v.as_f64().unwrap();
            assert!(
                (gamma[[t, k]] - v).abs() <= 1e-8,
                "{case}: posterior [{t}, {k}]: jensen {} vs hmmlearn {v}",
                gamma[[t, k]]
            );
        }
    }
}

/// `ln p(x, z)` of a state path, from the emission densities of the model and the chain's
/// initial and transition probabilities.
fn joint_log_prob(
    model: &PlanModel<'_>,
    params: &DynParams,
    sequences: &[std::ops::Range<usize>],
    path: &[usize],
) -> f64 {
    let cache = model.prepare(params).unwrap();
    let n = model.n_rows();
    let mut log_b = ndarray::Array2::zeros((n, model.n_components()));
    let mut ws = jensen::runtime::Workspace::default();
    model.log_joint(&cache, 0..n, log_b.view_mut(), &mut ws);
    let p0 = params.get("p0").unwrap();
    let a = params.get("A").unwrap();
    let mut total = 0.0;
    for seq in sequences {
        total += p0[[path[seq.start]]].ln();
        for t in seq.clone() {
            if t > seq.start {
                total += a[[path[t - 1], path[t]]].ln();
            }
            total += log_b[[t, path[t]]];
        }
    }
    total
}

#[test]
fn gaussian_hmm_full_covariance_matches_hmmlearn() {
    hmmlearn_case("gaussian_full");
}

#[test]
fn gaussian_hmm_on_three_sequences_matches_hmmlearn() {
    hmmlearn_case("gaussian_full_lengths");
}

#[test]
fn gaussian_hmm_diagonal_covariance_matches_hmmlearn() {
    hmmlearn_case("gaussian_diag");
}

#[test]
fn poisson_hmm_matches_hmmlearn() {
    hmmlearn_case("poisson");
}

#[test]
fn gaussian_hmm_with_an_inverse_wishart_prior_matches_hmmlearn_map_em() {
    hmmlearn_case("gaussian_full_map");
}

#[test]
fn gaussian_hmm_with_inverse_gamma_priors_matches_hmmlearn_map_em() {
    hmmlearn_case("gaussian_diag_map");
}

#[test]
fn gaussian_hmm_with_a_normal_inverse_wishart_prior_matches_hmmlearn_map_em() {
    hmmlearn_case("gaussian_full_niw");
}

#[test]
fn gaussian_hmm_with_normal_inverse_gamma_priors_matches_hmmlearn_map_em() {
    hmmlearn_case("gaussian_diag_nig");
}

/// geyser durations hold 53 values of exactly 4.0. From hmmlearn's optimum under its default
/// prior (K = 3, one state on the repeated value), maximum likelihood collapses that state to
/// a spike at the regularisation floor with an artefactual ℓ; the same prior written in the
/// model file (`v[k] ~ InvGamma(-1.0, 0.005)`) keeps jensen at hmmlearn's optimum.
#[test]
fn the_geyser_duration_fit_with_hmmlearns_prior_does_not_collapse() {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/hmmlearn/geyser_duration_map.json"))
            .unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let table = jensen::csv::read(root().join("data/geyser.csv").to_str().unwrap()).unwrap();
    let fit = |model: &str, reg_covar: f64| {
        let p = plan(model);
        let opts = BindOptions {
            consts: [("K".to_string(), 3)].into(),
            columns: [("x".to_string(), vec!["duration".to_string()])].into(),
            ..Default::default()
        };
        let bound = jensen::bind(&p, &table, &opts).unwrap();
        let model = PlanModel::new(&p, &bound);
        let start: DynParams = serde_json::from_value(fx["start"].clone()).unwrap();
        let start = model.check_params(&start).unwrap();
        jensen::fit(
            &model,
            &FitOptions {
                max_iter: 500,
                tol: 1e-10,
                init: InitStrategy::Params(start),
                m_step: MStepConfig { reg_covar },
                ..FitOptions::default()
            },
        )
        .unwrap()
    };
    let smallest = |r: &jensen::FitResult<DynParams>| {
        r.params
            .get("v")
            .unwrap()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    };
    let expected = fx["log_likelihood"].as_f64().unwrap();

    let map = fit("hmm_gaussian_diag_map", 1e-6);
    assert!(
        relative(map.log_likelihood, expected) <= 1e-8,
        "MAP: ℓ {} vs hmmlearn {expected}",
        map.log_likelihood
    );
    let theirs: Vec<f64> = fx["variances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (a, b) in map.params.get("v").unwrap().iter().zip(&theirs) {
        assert!(
            relative(*a, *b) <= 1e-6,
            "MAP: variance {a} vs hmmlearn {b}"
        );
    }
    assert!(
        smallest(&map) > 1e-4,
        "MAP: smallest variance {}",
        smallest(&map)
    );

    let ml = fit("hmm_gaussian_diag", 1e-6);
    assert!(
        smallest(&ml) < 1e-6 && ml.log_likelihood > 0.0,
        "maximum likelihood was expected to collapse: smallest variance {}, ℓ {}",
        smallest(&ml),
        ml.log_likelihood
    );
}

#[test]
fn poisson_hmm_with_dirichlet_priors_matches_hmmlearn_map_em() {
    hmmlearn_case("poisson_map");
}

#[test]
fn categorical_hmm_with_dirichlet_priors_matches_hmmlearn_map_em() {
    hmmlearn_case("categorical_map");
}

#[test]
fn categorical_hmm_matches_hmmlearn() {
    hmmlearn_case("categorical");
}

#[test]
fn a_sequence_the_eight_lane_form_cannot_carry_falls_back_to_the_log_densities() {
    // Switches of probability 1e-170 that the first and the third sequences' data force:
    // their steps' sums fall below the eight-lane recursions' range, so the E-step, which
    // hands them the emissions already rescaled, runs the general form on the log-densities
    // for those sequences alone (after every sequence has had its try). The posteriors, the
    // per-step log-likelihoods and the E-step's log-likelihood are those of forward–backward
    // on log-densities computed here by hand.
    use jensen::runtime::chain::{forward_backward, ChainPosterior};
    use ndarray::{Array1, Array2};
    let p = plan("hmm_gaussian");
    let xs = [0.0, 0.3, 100.0, 99.5, 0.1, -0.2, 0.4, 100.2, 0.1, 99.8];
    let lengths = [4, 3, 3];
    let text: String = std::iter::once("x".to_string())
        .chain(xs.iter().map(|x| x.to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    let table = jensen::csv::read_bytes("switch.csv", text.as_bytes()).unwrap();
    let opts = BindOptions {
        sequences: Sequences::Lengths(lengths.to_vec()),
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let model = PlanModel::new(&p, &bound);
    let tiny: f64 = 1e-170;
    let params: DynParams = serde_json::from_value(serde_json::json!({
        "p0": [0.5, 0.5],
        "A": [[1.0, tiny], [tiny, 1.0]],
        "mu": [[0.0], [100.0]],
        "Sigma": [[[1.0]], [[1.0]]],
    }))
    .unwrap();
    let at = model.check_params(&params).unwrap();
    let cache = model.prepare(&at).unwrap();
    let (gamma, steps) = posterior(&model, &cache);

    let log_pi = Array1::from(vec![0.5f64.ln(); 2]);
    let log_a = ndarray::array![[0.0, tiny.ln()], [tiny.ln(), 0.0]];
    let mut total = 0.0;
    let mut start = 0;
    for len in lengths {
        let rows = start..start + len;
        let log_b = Array2::from_shape_fn((len, 2), |(t, k)| {
            let d = xs[start + t] - [0.0, 100.0][k];
            -0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * d * d
        });
        let (mut g, mut xi, mut init, mut st) = (
            Array2::zeros((len, 2)),
            Array2::zeros((2, 2)),
            Array1::zeros(2),
            Array1::zeros(len),
        );
        let ll = forward_backward(
            log_pi.view(),
            log_a.view(),
            log_b.view(),
            ChainPosterior {
                gamma: g.view_mut(),
                transitions: xi.view_mut(),
                initial: init.view_mut(),
                steps: Some(st.view_mut()),
            },
        );
        assert!(ll.is_finite(), "{ll}");
        for (t, row) in rows.clone().enumerate() {
            assert!(
                relative(steps[row], st[t]) <= 1e-12,
                "step {row}: {} vs {}",
                steps[row],
                st[t]
            );
            for k in 0..2 {
                assert!(
                    (gamma[[row, k]] - g[[t, k]]).abs() <= 1e-12,
                    "γ[{row}, {k}]"
                );
            }
        }
        // The forced switches are in the first and the third sequences' posteriors.
        if start == 0 {
            assert!(gamma[[1, 0]] > 0.99 && gamma[[2, 1]] > 0.99);
        }
        if start == 7 {
            assert!(gamma[[7, 1]] > 0.99 && gamma[[8, 0]] > 0.99 && gamma[[9, 1]] > 0.99);
        }
        total += ll;
        start += len;
    }
    let result = jensen::fit(
        &model,
        &FitOptions {
            max_iter: 1,
            tol: f64::NEG_INFINITY,
            init: InitStrategy::Params(at),
            m_step: MStepConfig { reg_covar: 0.0 },
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert!(
        relative(result.elbo_trace[0], total) <= 1e-12,
        "{} vs {total}",
        result.elbo_trace[0]
    );
}
