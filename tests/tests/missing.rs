//! Missing values (empty cells, missing at random): each row's missing cells are integrated
//! out of its E-step, in every block and both back-ends.
//!
//! - From the same start, jensen follows an independent NumPy implementation of EM with
//!   Ghahramani & Jordan's conditional expectations (`scripts/missing_fixtures.py`) to
//!   1e-8 on iris and faithful with 10 % and 30 % of the cells removed, and a Gaussian HMM on
//!   geyser with gaps.
//! - A column with every cell missing gives the fit of the model without it.
//! - On every family, with a fifth of the cells removed: right after an E-step the free
//!   energy (expected complete-data log-likelihood, with the missing cells' entropy) equals
//!   the log-likelihood of the observed cells, the objective never decreases, and the
//!   generated code gives the executor's fit.

use jensen::bind::Table;
use jensen::bind::{BindOptions, Bound, Sequences};
use jensen::runtime::nested::Nested;
use jensen::runtime::{em, EStepMode, FitOptions, InitStrategy, MStepConfig, MixtureModel};
use jensen::{DynParams, PlanModel};
use jensen_tests::glue::{column, matrix};
use jensen_tests::models::*;
use jensen_tests::{plan, root};
use serde_json::Value;

fn nested(v: &Value) -> ndarray::ArrayD<f64> {
    serde_json::from_value::<Nested>(v.clone())
        .unwrap()
        .to_array()
        .unwrap()
}

fn read(file: &str) -> Table {
    jensen::csv::read(root().join("data").join(file).to_str().unwrap()).unwrap()
}

fn reference_case(case: &str) {
    let text = std::fs::read_to_string(root().join(format!("tests/fixtures/missing/{case}.json")))
        .unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let model = match fx["model"].as_str().unwrap() {
        "gmm" => "gmm",
        "hmm" => "hmm_gaussian",
        "fa" => "fa_iris",
        other => panic!("unknown model {other}"),
    };
    let p = plan(model);
    let columns: Vec<String> = fx["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let table = read(fx["data"].as_str().unwrap());
    let opts = BindOptions {
        consts: [(
            // The number of components, or of a factor analysis' factors.
            if model == "fa_iris" { "L" } else { "K" }.to_string(),
            fx["k"].as_u64().unwrap() as usize,
        )]
        .into(),
        columns: [("x".to_string(), columns)].into(),
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let gaps = &bound.item(p.model.var("x").unwrap()).gaps;
    assert_eq!(
        gaps.cells() as u64,
        fx["missing_cells"].as_u64().unwrap(),
        "{case}: missing cells"
    );
    let m = PlanModel::new(&p, &bound);
    let mut init = DynParams::default();
    for (name, value) in fx["init"].as_object().unwrap() {
        init.insert(name, nested(value));
    }
    let init = m.check_params(&init).unwrap();
    let fit = jensen::fit(
        &m,
        &FitOptions {
            max_iter: fx["iterations"].as_u64().unwrap() as usize,
            tol: f64::NEG_INFINITY,
            init: InitStrategy::Params(init),
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
    let mut worst = 0.0f64;
    for (i, (ours, theirs)) in fit.elbo_trace.iter().zip(&reference).enumerate() {
        let rel = (ours - theirs).abs() / theirs.abs();
        worst = worst.max(rel);
        assert!(
            rel <= 1e-8,
            "{case}: iteration {i}: jensen {ours} vs NumPy {theirs} (relative {rel:e})"
        );
    }
    for (name, value) in fx["final"].as_object().unwrap() {
        let theirs = nested(value);
        // (`WWt`, the rotation-free form of a factor analysis' loadings, is not a parameter.)
        let Some(ours) = fit.params.get(name) else {
            continue;
        };
        for (a, b) in ours.iter().zip(theirs.iter()) {
            assert!(
                (a - b).abs() <= 1e-7 * b.abs().max(1.0),
                "{case}: final {name} {a} vs {b}"
            );
        }
    }
    println!(
        "{case}: {} cells missing, ℓ {:.6} → {:.6} over {} iterations, largest relative difference from NumPy {worst:.1e}",
        gaps.cells(),
        reference[0],
        reference[reference.len() - 1],
        reference.len() - 1
    );
}

macro_rules! references {
    ($($name:ident),*) => { $( #[test] fn $name() { reference_case(stringify!($name)); } )* };
}

references!(
    iris_missing10,
    iris_missing30,
    faithful_missing10,
    faithful_missing30,
    geyser_missing10,
    iris_missing10_fa,
    iris_missing30_fa
);

/// `table` with about `fraction` of the cells of `columns` removed (a fixed pseudo-random
/// choice), as the CSV reader leaves an empty cell: NaN in a numeric column, `""` in a text
/// one.
fn with_gaps(mut table: Table, columns: &[&str], fraction: f64, seed: u64) -> Table {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    table.missing.resize(table.headers.len(), Vec::new());
    for name in columns {
        let c = table.headers.iter().position(|h| h == name).unwrap();
        for row in 0..table.n_rows {
            if uniform() < fraction {
                if let Some(col) = table.columns[c].as_mut() {
                    col[row] = f64::NAN;
                    table.missing[c].push(row);
                } else if let Some(text) = table.text[c].as_mut() {
                    text[row].clear();
                }
            }
        }
    }
    table
}

fn bind_table(model: &str, table: &Table, consts: &[(&str, usize)]) -> (jensen::Plan, Bound) {
    let p = plan(model);
    let opts = BindOptions {
        consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        sequences: Sequences::Whole,
        ..Default::default()
    };
    let bound = jensen::bind(&p, table, &opts).unwrap_or_else(|e| panic!("{model}: {e}"));
    (p, bound)
}

#[test]
fn a_column_with_every_cell_missing_gives_the_fit_without_it() {
    let table = read("iris.csv");
    let mut blank = table.clone();
    blank.headers.push("blank".into());
    blank.columns.push(Some(vec![f64::NAN; blank.n_rows]));
    blank.text.push(None);
    blank.missing.resize(blank.headers.len() - 1, Vec::new());
    blank.missing.push((0..blank.n_rows).collect());
    let four: Vec<String> = table.headers[..4].to_vec();
    let mut five = four.clone();
    five.push("blank".into());
    let p = plan("gmm");
    let fit = |t: &Table, columns: &[String]| {
        let opts = BindOptions {
            consts: [("K".to_string(), 3)].into(),
            columns: [("x".to_string(), columns.to_vec())].into(),
            ..Default::default()
        };
        let bound = jensen::bind(&p, t, &opts).unwrap();
        let m = PlanModel::new(&p, &bound);
        let d = columns.len();
        // The same start on the four observed coordinates; the blank one uncorrelated.
        let mut mu = ndarray::Array2::<f64>::zeros((3, d));
        let mut sigma = ndarray::Array3::<f64>::zeros((3, d, d));
        let x = &bound.item(p.model.var("x").unwrap()).values;
        for (k, row) in [0usize, 60, 120].into_iter().enumerate() {
            for j in 0..4 {
                mu[[k, j]] = x[[row, j]];
            }
            for j in 0..d {
                sigma[[k, j, j]] = 1.0;
            }
        }
        let mut init = DynParams::default();
        init.insert("w", ndarray::Array1::from_elem(3, 1.0 / 3.0).into_dyn());
        init.insert("mu", mu.into_dyn());
        init.insert("Sigma", sigma.into_dyn());
        let init = m.check_params(&init).unwrap();
        jensen::fit(
            &m,
            &FitOptions {
                max_iter: 50,
                tol: f64::NEG_INFINITY,
                init: InitStrategy::Params(init),
                // The regularising prior of the blank column's variance would enter the
                // objective (the log posterior); without it the objective is ℓ.
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap()
    };
    let without = fit(&table, &four);
    let with = fit(&blank, &five);
    for (i, (a, b)) in without.elbo_trace.iter().zip(&with.elbo_trace).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * a.abs(),
            "iteration {i}: without the column {a}, with it {b}"
        );
    }
    let (mu4, mu5) = (
        without.params.get("mu").unwrap(),
        with.params.get("mu").unwrap(),
    );
    let (s4, s5) = (
        without.params.get("Sigma").unwrap(),
        with.params.get("Sigma").unwrap(),
    );
    for k in 0..3 {
        for i in 0..4 {
            assert!((mu4[[k, i]] - mu5[[k, i]]).abs() <= 1e-9 * mu4[[k, i]].abs().max(1.0));
            for j in 0..4 {
                let (a, b) = (s4[[k, i, j]], s5[[k, i, j]]);
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                    "Sigma[{k}][{i}][{j}]: {a} vs {b}"
                );
            }
        }
    }
    assert_eq!(with.assignments, without.assignments);
}

/// The catalogue's families with a fifth of their cells removed: `(model, data, columns
/// to thin, constants)`.
type Family = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, usize)],
);

const FAMILIES: &[Family] = &[
    ("gmm", "faithful.csv", &["eruptions", "waiting"], &[]),
    (
        "gmm_diag",
        "iris.csv",
        &["sepal_length", "petal_width"],
        &[("K", 3)],
    ),
    (
        "gmm_spherical",
        "faithful.csv",
        &["eruptions", "waiting"],
        &[],
    ),
    ("gmm_tied", "faithful.csv", &["eruptions", "waiting"], &[]),
    ("kmeans", "faithful.csv", &["eruptions", "waiting"], &[]),
    ("poisson_mix", "discoveries.csv", &["discoveries"], &[]),
    ("poisson_mix_map", "discoveries.csv", &["discoveries"], &[]),
    ("exponential_mix", "faithful.csv", &["waiting"], &[]),
    ("gamma_mix", "faithful.csv", &["waiting"], &[]),
    ("lognormal_mix", "faithful.csv", &["eruptions"], &[]),
    ("geometric_mix", "discoveries.csv", &["discoveries"], &[]),
    ("binomial_digits", "digits.csv", &["p20", "p43"], &[]),
    ("binomial_digits_map", "digits.csv", &["p28"], &[]),
    (
        "binomial_keywords",
        "debian_keywords.csv",
        &["games", "sound", "radio"],
        &[("K", 3)],
    ),
    ("regression_quakes", "quakes.csv", &["depth"], &[]),
    ("regression_quakes_mv", "quakes.csv", &["lat", "long"], &[]),
    (
        "geometric_mix_map",
        "discoveries.csv",
        &["discoveries"],
        &[],
    ),
    ("gamma_mix_map", "faithful.csv", &["waiting"], &[]),
    (
        "bernoulli_mix",
        "digits_binary.csv",
        &["p10", "p20", "p43"],
        &[("K", 4)],
    ),
    (
        "quakes_mixed",
        "quakes.csv",
        &["depth", "mag", "stations"],
        &[],
    ),
    (
        "shared_variance",
        "iris.csv",
        &["petal_length", "petal_width"],
        &[],
    ),
    ("normal_mix_data_prior", "faithful.csv", &["eruptions"], &[]),
    (
        "gmm_tied_map",
        "faithful.csv",
        &["eruptions", "waiting"],
        &[],
    ),
    ("hmm_gaussian", "geyser.csv", &["waiting", "duration"], &[]),
    (
        "hmm_gaussian_diag_map",
        "geyser.csv",
        &["waiting", "duration"],
        &[],
    ),
    ("hmm_poisson", "discoveries.csv", &["discoveries"], &[]),
    ("hmm_categorical", "geyser_classes.csv", &["eruption"], &[]),
    (
        "fa_iris",
        "iris.csv",
        &["sepal_length", "petal_length", "petal_width"],
        &[],
    ),
    (
        "ppca_iris",
        "iris.csv",
        &["sepal_width", "petal_length"],
        &[],
    ),
    (
        "fa_iris_map",
        "iris.csv",
        &["sepal_length", "petal_width"],
        &[],
    ),
    (
        "mfa_iris",
        "iris.csv",
        &["sepal_length", "petal_length"],
        &[],
    ),
    ("mppca_digits", "digits.csv", &["p10", "p20", "p43"], &[]),
];

/// A multivariate regression whose response has one coordinate missing in every row is the
/// univariate regression of the other: its responsibilities come from the observed
/// coordinate's marginal, and that coordinate's coefficients, intercept and variance from its
/// own weighted least squares (the missing one's conditional expectation does not feed back).
#[test]
fn a_regression_response_with_a_coordinate_always_missing_is_the_univariate_regression() {
    let mut table = read("quakes.csv");
    let lat = table.headers.iter().position(|h| h == "lat").unwrap();
    table.missing.resize(table.headers.len(), Vec::new());
    table.missing[lat] = (0..table.n_rows).collect();
    table.columns[lat] = Some(vec![f64::NAN; table.n_rows]);
    let (mv, mv_bound) = bind_table("regression_quakes_mv", &table, &[]);
    let source = "model long_on_depth\nconst K: int = 2\ndata long[N]: real\ndata depth[N]: real\nparam w: simplex[K]\nparam b[K]: real\nparam c[K]: real\nparam s[K]: positive\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\nlong[n] ~ Normal(b[z[n]] * depth[n] + c[z[n]], s[z[n]])\n";
    let (uni, _) = jensen::compile(source).unwrap();
    let uni_bound = jensen::bind(&uni, &read("quakes.csv"), &BindOptions::default()).unwrap();
    // The same start on longitude; latitude's parameters arbitrary, correlated with it.
    let (b, c, s): ([f64; 2], [f64; 2], [f64; 2]) = ([-0.005, 0.004], [184.0, 168.0], [6.0, 9.0]);
    let mut mv_init = DynParams::default();
    let mut uni_init = DynParams::default();
    for init in [&mut mv_init, &mut uni_init] {
        init.insert("w", ndarray::arr1(&[0.6, 0.4]).into_dyn());
    }
    mv_init.insert(
        "B",
        ndarray::Array3::from_shape_fn((2, 2, 1), |(k, d, _)| if d == 1 { b[k] } else { 0.01 })
            .into_dyn(),
    );
    mv_init.insert(
        "mu",
        ndarray::Array2::from_shape_fn((2, 2), |(k, d)| if d == 1 { c[k] } else { -20.0 })
            .into_dyn(),
    );
    mv_init.insert(
        "Sigma",
        ndarray::Array3::from_shape_fn((2, 2, 2), |(k, i, j)| match (i, j) {
            (1, 1) => s[k],
            (0, 0) => 15.0,
            _ => 0.3 * (15.0 * s[k]).sqrt(),
        })
        .into_dyn(),
    );
    uni_init.insert("b", ndarray::arr1(&b).into_dyn());
    uni_init.insert("c", ndarray::arr1(&c).into_dyn());
    uni_init.insert("s", ndarray::arr1(&s).into_dyn());
    let fit = |m: &PlanModel<'_>, init: &DynParams| {
        jensen::fit(
            m,
            &FitOptions {
                max_iter: 40,
                tol: f64::NEG_INFINITY,
                init: InitStrategy::Params(m.check_params(init).unwrap()),
                m_step: MStepConfig { reg_covar: 0.0 },
                ..FitOptions::default()
            },
        )
        .unwrap()
    };
    let with = fit(&PlanModel::new(&mv, &mv_bound), &mv_init);
    let without = fit(&PlanModel::new(&uni, &uni_bound), &uni_init);
    assert_eq!(with.elbo_trace.len(), without.elbo_trace.len());
    for (i, (a, b)) in without.elbo_trace.iter().zip(&with.elbo_trace).enumerate() {
        assert!(
            (a - b).abs() <= 1e-9 * a.abs(),
            "iteration {i}: univariate {a}, latitude missing {b}"
        );
    }
    let (bm, mm, sm) = (
        with.params.get("B").unwrap(),
        with.params.get("mu").unwrap(),
        with.params.get("Sigma").unwrap(),
    );
    let (bu, cu, su) = (
        without.params.get("b").unwrap(),
        without.params.get("c").unwrap(),
        without.params.get("s").unwrap(),
    );
    for k in 0..2 {
        for (ours, theirs) in [
            (bm[[k, 1, 0]], bu[[k]]),
            (mm[[k, 1]], cu[[k]]),
            (sm[[k, 1, 1]], su[[k]]),
        ] {
            assert!(
                (ours - theirs).abs() <= 1e-8 * theirs.abs(),
                "component {k}: {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn every_family_integrates_out_its_missing_cells() {
    for &(model, file, columns, consts) in FAMILIES {
        let table = with_gaps(read(file), columns, 0.2, 7);
        let (p, bound) = bind_table(model, &table, consts);
        let cells: usize = bound.items.iter().flatten().map(|i| i.gaps.cells()).sum();
        assert!(cells > 0, "{model}: no gaps made");
        let m = PlanModel::new(&p, &bound);
        assert!(m.has_gaps());
        for e_step in [EStepMode::Soft, EStepMode::Hard] {
            let fit = jensen::fit(
                &m,
                &FitOptions {
                    seed: 3,
                    max_iter: 40,
                    tol: 1e-12,
                    e_step: Some(e_step),
                    ..FitOptions::default()
                },
            )
            .unwrap_or_else(|e| panic!("{model} {e_step:?}: {e}"));
            assert!(fit.log_likelihood.is_finite(), "{model} {e_step:?}");
            // A re-seeded component (an empty one moved to a row) may lower the objective;
            // every other step may not.
            let reseeded_at: Vec<usize> = fit.reseeds.iter().map(|r| r.iteration).collect();
            for (t, w) in fit.elbo_trace.windows(2).enumerate() {
                if reseeded_at.contains(&(t + 1)) {
                    continue;
                }
                assert!(
                    w[1] >= w[0] - 1e-9 * w[0].abs().max(1.0),
                    "{model} {e_step:?}: the objective decreased from {} to {}",
                    w[0],
                    w[1]
                );
            }
            if e_step == EStepMode::Hard {
                continue;
            }
            // Right after an E-step the free energy is the log-likelihood of the observed
            // cells (the entropy of the missing ones included).
            let cache = m.prepare(&fit.params).unwrap();
            let (_, row_ll) = em::posterior(&m, &cache);
            let ll: f64 = row_ll.sum();
            let f = em::elbo(&m, &fit.params, &fit.params).unwrap();
            assert!(
                (f - ll).abs() <= 1e-9 * ll.abs().max(1.0),
                "{model}: free energy {f} vs log-likelihood {ll}"
            );
        }
        println!(
            "{model}: {cells} cells missing; soft and hard fits monotone, F = ℓ after the E-step"
        );
    }
}

fn differential<M, P>(
    model: &str,
    file: &str,
    columns: &[&str],
    make: impl Fn(&jensen::Plan, &Bound) -> M,
) where
    M: MixtureModel<Params = P>,
    P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync,
{
    let table = with_gaps(read(file), columns, 0.2, 11);
    let (p, bound) = bind_table(model, &table, &[]);
    for e_step in [EStepMode::Soft, EStepMode::Hard] {
        fn options<Q>(e_step: EStepMode) -> FitOptions<Q> {
            FitOptions {
                seed: 5,
                max_iter: 40,
                tol: 1e-10,
                restarts: 2,
                e_step: Some(e_step),
                ..FitOptions::default()
            }
        }
        let executed = jensen::fit(&PlanModel::new(&p, &bound), &options(e_step)).unwrap();
        let generated = jensen::fit(&make(&p, &bound), &options(e_step)).unwrap();
        jensen_tests::compare_routes(&format!("{model} {e_step:?}"), &executed, &generated);
    }
}

#[test]
fn generated_code_integrates_out_gaps_as_the_executor_does() {
    differential("gmm", "faithful.csv", &["eruptions", "waiting"], |p, b| {
        GmmModel::new(
            GmmData {
                x: matrix(p, b, "x"),
            },
            GmmConsts::default(),
        )
        .unwrap()
    });
    differential("gmm_diag", "faithful.csv", &["eruptions"], |p, b| {
        GmmDiagModel::new(
            GmmDiagData {
                x: matrix(p, b, "x"),
            },
            GmmDiagConsts::default(),
        )
        .unwrap()
    });
    differential("gamma_mix", "faithful.csv", &["waiting"], |p, b| {
        GammaMixModel::new(
            GammaMixData {
                waiting: column(p, b, "waiting"),
            },
            GammaMixConsts::default(),
        )
        .unwrap()
    });
    differential("regression_quakes", "quakes.csv", &["depth"], |p, b| {
        RegressionQuakesModel::new(
            RegressionQuakesData {
                u: matrix(p, b, "u"),
                depth: column(p, b, "depth"),
            },
            RegressionQuakesConsts::default(),
        )
        .unwrap()
    });
    differential(
        "regression_quakes_mv",
        "quakes.csv",
        &["lat", "long"],
        |p, b| {
            RegressionQuakesMvModel::new(
                RegressionQuakesMvData {
                    x: matrix(p, b, "x"),
                    u: matrix(p, b, "u"),
                },
                RegressionQuakesMvConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "binomial_keywords",
        "debian_keywords.csv",
        &["games", "radio"],
        |p, b| {
            BinomialKeywordsModel::new(
                BinomialKeywordsData {
                    words: column(p, b, "words"),
                    games: column(p, b, "games"),
                    sound: column(p, b, "sound"),
                    graphics: column(p, b, "graphics"),
                    math: column(p, b, "math"),
                    database: column(p, b, "database"),
                    radio: column(p, b, "radio"),
                },
                BinomialKeywordsConsts { K: 6 },
            )
            .unwrap()
        },
    );
    differential("lognormal_mix", "faithful.csv", &["eruptions"], |p, b| {
        LognormalMixModel::new(
            LognormalMixData {
                eruptions: column(p, b, "eruptions"),
            },
            LognormalMixConsts::default(),
        )
        .unwrap()
    });
    differential("gmm_spherical", "faithful.csv", &["waiting"], |p, b| {
        GmmSphericalModel::new(
            GmmSphericalData {
                x: matrix(p, b, "x"),
            },
            GmmSphericalConsts::default(),
        )
        .unwrap()
    });
    differential(
        "quakes_mixed",
        "quakes.csv",
        &["depth", "stations"],
        |p, b| {
            QuakesMixedModel::new(
                QuakesMixedData {
                    site: matrix(p, b, "site"),
                    stations: column(p, b, "stations"),
                },
                QuakesMixedConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "bernoulli_mix",
        "digits_binary.csv",
        &["p10", "p20", "p43"],
        |p, b| {
            BernoulliMixModel::new(
                BernoulliMixData {
                    x: matrix(p, b, "x"),
                },
                BernoulliMixConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "hmm_gaussian",
        "geyser.csv",
        &["waiting", "duration"],
        |p, b| {
            HmmGaussianModel::new(
                HmmGaussianData {
                    x: matrix(p, b, "x"),
                },
                HmmGaussianConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "hmm_categorical",
        "geyser_classes.csv",
        &["eruption"],
        |p, b| {
            HmmCategoricalModel::new(
                HmmCategoricalData {
                    eruption: column(p, b, "eruption"),
                },
                HmmCategoricalConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "poisson_mix",
        "discoveries.csv",
        &["discoveries"],
        |p, b| {
            PoissonMixModel::new(
                PoissonMixData {
                    discoveries: column(p, b, "discoveries"),
                },
                PoissonMixConsts::default(),
            )
            .unwrap()
        },
    );
    differential(
        "fa_iris",
        "iris.csv",
        &["sepal_length", "petal_width"],
        |p, b| {
            FaIrisModel::new(
                FaIrisData {
                    x: matrix(p, b, "x"),
                },
                FaIrisConsts::default(),
            )
            .unwrap()
        },
    );
    differential("mfa_iris", "iris.csv", &["petal_length"], |p, b| {
        MfaIrisModel::new(
            MfaIrisData {
                x: matrix(p, b, "x"),
            },
            MfaIrisConsts::default(),
        )
        .unwrap()
    });
}

#[test]
fn variational_bayes_refuses_a_gap_with_the_cell() {
    let table = with_gaps(read("iris.csv"), &["petal_length"], 0.1, 5);
    let first = table.missing[table
        .headers
        .iter()
        .position(|h| h == "petal_length")
        .unwrap()][0];
    for model in ["bgmm", "bgmm_diag"] {
        let p = plan(model);
        let err = jensen::bind(&p, &table, &BindOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("row {}", first + 1))
                && err.contains("petal_length")
                && err.contains("variational Bayes does not integrate out missing cells"),
            "{model}: {err}"
        );
    }
    // The generated model says the same of NaN cells.
    let p = plan("bgmm");
    let clean = jensen_tests::bind(&p, "iris.csv", &[]);
    let mut x = matrix(&p, &clean, "x");
    x[[4, 2]] = f64::NAN;
    let err = BgmmModel::new(BgmmData { x }, BgmmConsts::default()).unwrap_err();
    assert!(err.to_string().contains("row 5"), "{err}");
}

/// A multinomial conditions on each row's total, which a missing count leaves unknown: the
/// binder names the first empty cell, and the generated model says the same of a NaN.
#[test]
fn a_multinomial_refuses_a_missing_count_with_the_cell() {
    let table = with_gaps(read("debian_descriptions.csv"), &["w_game"], 0.05, 5);
    let c = table.headers.iter().position(|h| h == "w_game").unwrap();
    let first = table.missing[c][0];
    let p = plan("multinomial_debian");
    let err = jensen::bind(&p, &table, &BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("row {}", first + 1))
            && err.contains("w_game")
            && err.contains("a missing count leaves its row's total unknown"),
        "{err}"
    );
    let clean = jensen_tests::bind(&p, "debian_descriptions.csv", &[]);
    let mut x = matrix(&p, &clean, "x");
    x[[6, 3]] = f64::NAN;
    let err = MultinomialDebianModel::new(
        MultinomialDebianData { x },
        MultinomialDebianConsts::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("row 7") && err.contains("a missing count leaves its row's total unknown"),
        "{err}"
    );
}

/// A binomial's trials from a column are needed in every row: an empty trials cell is refused
/// with its row and column by the binder and by the generated code (0-based there, as its
/// arrays are). A missing count of successes is integrated out
/// (`every_family_integrates_out_its_missing_cells`).
#[test]
fn a_missing_number_of_trials_is_refused_with_the_cell() {
    let table = with_gaps(read("debian_keywords.csv"), &["words"], 0.05, 5);
    let c = table.headers.iter().position(|h| h == "words").unwrap();
    let first = table.missing[c][0];
    let p = plan("binomial_keywords");
    let err = jensen::bind(&p, &table, &BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("row {}", first + 1))
            && err.contains("`words`")
            && err.contains(
                "holds the number of trials of `games[n] ~ Binomial(words[n], p_games[z[n]])`"
            ),
        "{err}"
    );
    let clean = jensen_tests::bind(&p, "debian_keywords.csv", &[]);
    let mut words = column(&p, &clean, "words");
    words[6] = f64::NAN;
    let err = BinomialKeywordsModel::new(
        BinomialKeywordsData {
            words,
            games: column(&p, &clean, "games"),
            sound: column(&p, &clean, "sound"),
            graphics: column(&p, &clean, "graphics"),
            math: column(&p, &clean, "math"),
            database: column(&p, &clean, "database"),
            radio: column(&p, &clean, "radio"),
        },
        BinomialKeywordsConsts::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("row 6, column 0 of `words`") && err.contains("NaN"),
        "{err}"
    );
}

/// `ln N(x_o | μ_o, Σ_oo)` of the observed (not NaN) coordinates, from first principles
/// (a dense Cholesky of the observed block).
fn observed_log_density(x: &[f64], mean: &[f64], cov: &ndarray::Array2<f64>) -> f64 {
    let o: Vec<usize> = (0..x.len()).filter(|&j| !x[j].is_nan()).collect();
    let d = o.len();
    let mut l = vec![vec![0.0; d]; d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = cov[[o[i], o[j]]];
            for m in 0..j {
                s -= l[i][m] * l[j][m];
            }
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    let mut y = vec![0.0; d];
    let mut q = 0.0;
    for i in 0..d {
        let mut s = x[o[i]] - mean[o[i]];
        for m in 0..i {
            s -= l[i][m] * y[m];
        }
        y[i] = s / l[i][i];
        q += y[i] * y[i];
    }
    let log_det: f64 = (0..d).map(|i| 2.0 * l[i][i].ln()).sum();
    -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det + q)
}

#[test]
fn two_items_sharing_a_covariance_keep_their_own_patterns() {
    // Two data items of the same dimension with one covariance: each item's patterns of
    // missing coordinates are its own, whatever the covariance they are conditioned on.
    let source = "model shared_cov\nconst K: int = 2\n\
        data a[N]: vector[2] from (sepal_length, sepal_width)\n\
        data b[N]: vector[2] from (petal_length, petal_width)\n\
        param w: simplex[K]\nparam mu_a[K]: vector[2]\nparam mu_b[K]: vector[2]\nparam S[K]: cov[2]\n\
        latent z[N]: 0..K\nz[n] ~ Categorical(w)\n\
        a[n] ~ MvNormal(mu_a[z[n]], S[z[n]])\nb[n] ~ MvNormal(mu_b[z[n]], S[z[n]])\n";
    let p = jensen::compile(source).unwrap().0;
    let bound = jensen::bind(&p, &read("iris_missing30.csv"), &BindOptions::default()).unwrap();
    let m = PlanModel::new(&p, &bound);
    let fit = jensen::fit(
        &m,
        &FitOptions {
            seed: 1,
            max_iter: 30,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let table = read("iris_missing30.csv");
    let col = |name: &str| -> Vec<f64> {
        let c = table.headers.iter().position(|h| h == name).unwrap();
        table.columns[c].clone().unwrap()
    };
    let (a0, a1, b0, b1) = (
        col("sepal_length"),
        col("sepal_width"),
        col("petal_length"),
        col("petal_width"),
    );
    let get = |name: &str| fit.params.get(name).unwrap().clone();
    let (w, mu_a, mu_b, s) = (get("w"), get("mu_a"), get("mu_b"), get("S"));
    let mut ll = 0.0;
    for n in 0..table.n_rows {
        let terms: Vec<f64> = (0..2)
            .map(|k| {
                let sk = s
                    .index_axis(ndarray::Axis(0), k)
                    .to_owned()
                    .into_dimensionality()
                    .unwrap();
                let ma = [mu_a[[k, 0]], mu_a[[k, 1]]];
                let mb = [mu_b[[k, 0]], mu_b[[k, 1]]];
                w[[k]].ln()
                    + observed_log_density(&[a0[n], a1[n]], &ma, &sk)
                    + observed_log_density(&[b0[n], b1[n]], &mb, &sk)
            })
            .collect();
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        ll += top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln();
    }
    assert!(
        (ll - fit.log_likelihood).abs() <= 1e-9 * ll.abs(),
        "reported ℓ {} but the observed cells' density at the returned parameters is {ll}",
        fit.log_likelihood
    );
}

#[test]
fn k_means_inertia_sums_the_observed_cells() {
    // With gaps, k-means' inertia is Σ over the observed cells of (x − μ_{z_n})², which a
    // missing cell does not enter (nor its ln 2πc term).
    let p = plan("kmeans");
    let table = read("iris_missing30.csv");
    let opts = BindOptions {
        consts: [("K".to_string(), 3)].into(),
        columns: [(
            "x".to_string(),
            ["sepal_length", "sepal_width", "petal_length", "petal_width"]
                .map(String::from)
                .to_vec(),
        )]
        .into(),
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let fit = jensen::fit(
        &PlanModel::new(&p, &bound),
        &FitOptions {
            seed: 2,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let x = matrix(&p, &bound, "x");
    let mu = fit.params.get("mu").unwrap();
    let mut ssq = 0.0;
    for (n, &z) in fit.assignments.iter().enumerate() {
        for j in 0..4 {
            if !x[[n, j]].is_nan() {
                ssq += (x[[n, j]] - mu[[z, j]]).powi(2);
            }
        }
    }
    let inertia = fit.inertia.unwrap();
    assert!(
        (inertia - ssq).abs() <= 1e-9 * ssq,
        "inertia {inertia} vs the observed cells' sum of squares {ssq}"
    );
}

#[test]
fn factor_scores_of_a_row_with_a_gap_use_its_observed_coordinates() {
    let p = plan("fa_iris");
    let bound = jensen::bind(&p, &read("iris_missing30.csv"), &BindOptions::default()).unwrap();
    let m = PlanModel::new(&p, &bound);
    let fit = jensen::fit(
        &m,
        &FitOptions {
            seed: 4,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let resp = ndarray::Array2::<f64>::ones((bound.n_rows, 1));
    let scores = m.latent_means(&fit.params, resp.view()).unwrap().unwrap();
    // The generated model gives the same scores.
    let x = matrix(&p, &bound, "x");
    let g = FaIrisModel::new(FaIrisData { x: x.clone() }, FaIrisConsts::default()).unwrap();
    let typed: FaIrisParams =
        serde_json::from_value(serde_json::to_value(&fit.params).unwrap()).unwrap();
    let generated = g.latent_means(&typed, resp.view()).unwrap();
    // By hand: E[h | x_o] = (I + W_oᵀ Ψ_o⁻¹ W_o)⁻¹ W_oᵀ Ψ_o⁻¹ (x_o − μ_o), L = 2.
    let (w, mu, psi) = (
        fit.params.get("W").unwrap(),
        fit.params.get("mu").unwrap(),
        fit.params.get("psi").unwrap(),
    );
    let mut gap_rows = 0;
    for n in 0..bound.n_rows {
        let o: Vec<usize> = (0..4).filter(|&j| !x[[n, j]].is_nan()).collect();
        let mut a = [[1.0, 0.0], [0.0, 1.0]];
        let mut u = [0.0, 0.0];
        for &j in &o {
            for r in 0..2 {
                u[r] += w[[j, r]] * (x[[n, j]] - mu[[j]]) / psi[[j]];
                for c in 0..2 {
                    a[r][c] += w[[j, r]] * w[[j, c]] / psi[[j]];
                }
            }
        }
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        let h = [
            (a[1][1] * u[0] - a[0][1] * u[1]) / det,
            (a[0][0] * u[1] - a[1][0] * u[0]) / det,
        ];
        gap_rows += usize::from(o.len() < 4);
        for r in 0..2 {
            assert!(
                (scores[[n, r]] - h[r]).abs() <= 1e-9 * h[r].abs().max(1.0),
                "row {n}: score {} vs {}",
                scores[[n, r]],
                h[r]
            );
            assert!((generated[[n, r]] - scores[[n, r]]).abs() <= 1e-12 * h[r].abs().max(1.0));
        }
    }
    assert!(gap_rows > 100);
}

#[test]
fn a_fit_with_gaps_does_not_depend_on_the_data_units() {
    // Every observed cell × 1e-3: ℓ moves by (observed cells) · ln 1000 and nothing else —
    // the start, whose statistics take each missing cell's conditional expectation, included.
    let table = read("iris_missing30.csv");
    let mut small = table.clone();
    for col in small.columns.iter_mut().flatten() {
        col.iter_mut().for_each(|v| *v *= 1e-3);
    }
    let p = plan("gmm");
    let fit = |t: &Table| {
        let opts = BindOptions {
            consts: [("K".to_string(), 3)].into(),
            ..Default::default()
        };
        let bound = jensen::bind(&p, t, &opts).unwrap();
        let cells = 600 - bound.item(p.model.var("x").unwrap()).gaps.cells();
        let fit = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                seed: 1,
                max_iter: 200,
                tol: 1e-12,
                ..FitOptions::default()
            },
        )
        .unwrap();
        (fit, cells)
    };
    let ((big, cells), (tiny, _)) = (fit(&table), fit(&small));
    let shift = cells as f64 * 1000f64.ln();
    for (i, (a, b)) in big.elbo_trace.iter().zip(&tiny.elbo_trace).enumerate() {
        assert!(
            (a + shift - b).abs() <= 1e-7 * b.abs(),
            "iteration {i}: {a} + {shift} vs {b}"
        );
    }
    assert_eq!(big.elbo_trace.len(), tiny.elbo_trace.len());
    assert_eq!(big.assignments, tiny.assignments);
}
