//! Row weights (`data w[N]: weight`, `--weights COL`, `Bound::with_weights`): integer
//! weights fit exactly as repeated rows, and a zero weight as a removed row, on every model in
//! `models/` (soft and hard E-step; chains with a weight per sequence), from the same starting
//! parameters.

use jensen::runtime::{EStepMode, FitOptions, InitStrategy};
use jensen::{BindError, BindOptions, Bound, PlanModel, Sequences};
use jensen_tests::{plan, root, CATALOGUE};

/// `text` (a CSV file) with its row `i` repeated `copies[i]` times; a chain's rows are taken
/// in sequences (`lengths`), each repeated as a whole. Returns the new text and the new
/// sequence lengths.
fn repeated(text: &str, copies: &[usize], lengths: &[usize]) -> (String, Vec<usize>) {
    let mut lines = text.lines();
    let mut out = String::from(lines.next().unwrap());
    out.push('\n');
    let rows: Vec<&str> = lines.collect();
    let mut new_lengths = Vec::new();
    let mut start = 0;
    for &len in lengths {
        for _ in 0..copies[start] {
            for row in &rows[start..start + len] {
                out.push_str(row);
                out.push('\n');
            }
            new_lengths.push(len);
        }
        start += len;
    }
    (out, new_lengths)
}

fn table(name: &str, text: &str) -> jensen::Table {
    let dir = std::env::temp_dir().join(format!("jensen-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    jensen::csv::read(path.to_str().unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1.0)
}

fn bind(
    p: &jensen::Plan,
    t: &jensen::Table,
    consts: &[(&str, usize)],
    lengths: &[usize],
) -> Result<Bound, BindError> {
    let opts = BindOptions {
        consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        sequences: if p.latent.is_chain() {
            Sequences::Lengths(lengths.to_vec())
        } else {
            Sequences::Whole
        },
        ..Default::default()
    };
    jensen::bind(p, t, &opts)
}

/// Fits `model` from `start` for three iterations with `mode`.
fn three(
    model: &PlanModel<'_>,
    start: &jensen::DynParams,
    mode: EStepMode,
) -> Result<jensen::FitResult<jensen::DynParams>, jensen::FitError> {
    jensen::fit(
        model,
        &FitOptions {
            max_iter: 3,
            tol: f64::NEG_INFINITY,
            init: InitStrategy::Params(start.clone()),
            e_step: Some(mode),
            ..Default::default()
        },
    )
}

fn assert_same(
    name: &str,
    a: &jensen::FitResult<jensen::DynParams>,
    b: &jensen::FitResult<jensen::DynParams>,
) {
    assert_eq!(a.elbo_trace.len(), b.elbo_trace.len(), "{name}");
    for (x, y) in a.elbo_trace.iter().zip(&b.elbo_trace) {
        assert!(close(*x, *y), "{name}: objective {x} vs {y}");
    }
    for ((k, p), (_, q)) in a.params.iter().zip(b.params.iter()) {
        for (x, y) in p.iter().zip(q.iter()) {
            assert!(close(*x, *y), "{name}: {k} {x} vs {y}");
        }
    }
    assert!(close(a.log_likelihood, b.log_likelihood), "{name}: ℓ");
    assert!(close(a.bic, b.bic), "{name}: BIC {} vs {}", a.bic, b.bic);
    assert!(close(a.aic, b.aic), "{name}: AIC");
    match (a.inertia, b.inertia) {
        (Some(x), Some(y)) => assert!(close(x, y), "{name}: inertia {x} vs {y}"),
        (None, None) => {}
        other => panic!("{name}: inertia {other:?}"),
    }
}

#[test]
fn integer_weights_fit_as_repeated_rows_and_zero_as_removed() {
    let mut checked = Vec::new();
    for &(name, file, consts) in CATALOGUE {
        let p = plan(name);
        if p.row_weights.is_some() {
            // Its weights are a column of its data (`a_frequency_table_fits_as_the_rows_it_counts`).
            continue;
        }
        let text = std::fs::read_to_string(root().join("data").join(file)).unwrap();
        let original = table(file, &text);
        let n = original.n_rows;
        // A chain in sequences of about 40 rows, each with one weight.
        let lengths: Vec<usize> = if p.latent.is_chain() {
            let mut l = vec![40; n / 40];
            l.push(n - 40 * (n / 40));
            l.retain(|&v| v > 0);
            l
        } else {
            vec![1; n]
        };
        // Weights 0, 1, 2, 3 in turn; the first row (sequence) always 1, so that a category
        // seen in it stays.
        let per_unit: Vec<usize> = (0..lengths.len())
            .map(|i| if i == 0 { 1 } else { (i * 7 + 3) % 4 })
            .collect();
        let mut w = Vec::with_capacity(n);
        for (&len, &c) in lengths.iter().zip(&per_unit) {
            w.extend(std::iter::repeat_n(c as f64, len));
        }
        let mut copies = vec![0; n];
        let mut start = 0;
        for (&len, &c) in lengths.iter().zip(&per_unit) {
            copies[start] = c;
            start += len;
        }
        let (text2, lengths2) = repeated(&text, &copies, &lengths);
        let copied_table = table(&format!("{name}-{file}"), &text2);
        let bound = bind(&p, &original, consts, &lengths).unwrap();
        let Ok(copied_bound) = bind(&p, &copied_table, consts, &lengths2) else {
            // Removing rows can drop a category a column names: not a comparison then.
            continue;
        };
        let start = jensen::fit(
            &PlanModel::new(&p, &bound),
            &FitOptions {
                max_iter: 2,
                tol: f64::NEG_INFINITY,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .params;
        let weighted_bound = bound.with_weights(&p, "w", w).unwrap();
        let weighted = PlanModel::new(&p, &weighted_bound);
        let copied = PlanModel::new(&p, &copied_bound);
        for mode in [EStepMode::Soft, EStepMode::Hard] {
            if p.model.method == jensen::lang::ir::Method::Vb && mode == EStepMode::Hard {
                continue;
            }
            match (three(&weighted, &start, mode), three(&copied, &start, mode)) {
                (Ok(a), Ok(b)) => assert_same(&format!("{name} {mode:?}"), &a, &b),
                // A start the hard E-step empties a component from is the same failure both
                // ways (or a numerical stop).
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{name} {mode:?}");
                    continue;
                }
                (a, b) => panic!("{name} {mode:?}: {:?} vs {:?}", a.err(), b.err()),
            }
            checked.push(format!("{name} {mode:?}"));
        }
    }
    eprintln!(
        "weights = repeated rows: {} fits: {checked:?}",
        checked.len()
    );
    assert!(checked.len() >= 70, "only {} fits compared", checked.len());
}

/// `models/poisson_mix_weighted.em` on the frequency table `discoveries_counts.csv` is
/// `models/poisson_mix.em` on the 100 years of `discoveries.csv`: from the same start, the
/// same trace, parameters, ℓ and BIC (with N = 100, the years the 12 rows stand for).
#[test]
fn a_frequency_table_fits_as_the_rows_it_counts() {
    let (weighted_plan, plain_plan) = (plan("poisson_mix_weighted"), plan("poisson_mix"));
    let counts = jensen_tests::bind(&weighted_plan, "discoveries_counts.csv", &[]);
    let years = jensen_tests::bind(&plain_plan, "discoveries.csv", &[]);
    assert_eq!(counts.n_rows, 12);
    assert_eq!(counts.weights.as_ref().unwrap().total, 100.0);
    let (weighted, plain) = (
        PlanModel::new(&weighted_plan, &counts),
        PlanModel::new(&plain_plan, &years),
    );
    let start = jensen::fit(
        &plain,
        &FitOptions {
            max_iter: 1,
            tol: f64::NEG_INFINITY,
            ..Default::default()
        },
    )
    .unwrap()
    .params;
    for mode in [EStepMode::Soft, EStepMode::Hard] {
        let run = |m: &PlanModel<'_>| {
            jensen::fit(
                m,
                &FitOptions {
                    max_iter: 200,
                    init: InitStrategy::Params(start.clone()),
                    e_step: Some(mode),
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let (a, b) = (run(&weighted), run(&plain));
        assert_same(&format!("poisson_mix_weighted {mode:?}"), &a, &b);
        assert_eq!(a.n_rows, 12);
    }
}

#[test]
fn bad_weights_are_errors() {
    let p = plan("gmm");
    let bound = jensen_tests::bind(&p, "faithful.csv", &[]);
    let n = bound.n_rows;
    for (weights, what) in [
        (vec![1.0; n - 1], "one weight per row"),
        (vec![f64::NAN; n], "a weight"),
        (vec![-1.0; n], "a weight"),
        (vec![1e300; n], "a weight"),
        (vec![0.0; n], "more than 0"),
    ] {
        let err = bound.clone().with_weights(&p, "w", weights).unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
    }
    // A chain takes one weight per sequence.
    let chain = plan("hmm_gaussian");
    let bound = jensen_tests::bind_with(
        &chain,
        "geyser.csv",
        &[],
        Sequences::Lengths(vec![100, 199]),
    );
    let mut w = vec![1.0; 299];
    w[150] = 2.0;
    let err = bound
        .clone()
        .with_weights(&chain, "w", w)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row 151") && err.contains("one weight per sequence"),
        "{err}"
    );
    let mut w = vec![1.0; 299];
    w[100..].fill(2.0);
    assert!(bound.with_weights(&p, "w", w).is_ok());
}

/// A bad cell of a weight column is a data error that names the file, row and column, from
/// the model's `weight` item and from `--weights`; a model with a weight item refuses a
/// second one.
#[test]
fn a_bad_weight_cell_names_its_row_and_column() {
    let text = "discoveries,years\n0,9\n1,-2\n2,26\n";
    let t = table("bad_counts.csv", text);
    let p = plan("poisson_mix_weighted");
    let err = jensen::bind(&p, &t, &BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row 2") && err.contains("`years`") && err.contains("-2"),
        "{err}"
    );
    let err = jensen::bind(
        &p,
        &t,
        &BindOptions {
            weights: Some("years".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("already weighs its rows by `years`"), "{err}");
    let plain = plan("poisson_mix");
    let err = jensen::bind(
        &plain,
        &t,
        &BindOptions {
            weights: Some("years".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("row 2") && err.contains("`years`"), "{err}");
    let t = table("zero_counts.csv", "discoveries,years\n0,0\n1,0\n");
    let err = jensen::bind(&p, &t, &BindOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("every weight in `years` is 0"), "{err}");
}

/// Fractional weights with zeros (`((37 i) mod 11) / 4`), one per row, or per sequence of a
/// chain (`lengths`).
fn fractional(lengths: &[usize]) -> Vec<f64> {
    let mut w = Vec::new();
    for (i, &len) in lengths.iter().enumerate() {
        // The first unit weighs 1, so that every category seen in it stays.
        let v = if i == 0 {
            1.0
        } else {
            ((37 * i) % 11) as f64 / 4.0
        };
        w.extend(std::iter::repeat_n(v, len));
    }
    w
}

fn options<P>() -> FitOptions<P> {
    FitOptions {
        seed: 11,
        max_iter: 60,
        tol: 1e-10,
        restarts: 2,
        ..FitOptions::default()
    }
}

/// The generated code of a model that declares `data weight[N]: weight` (`tests/models/`)
/// fits as the executor fits the model without it given the same weights
/// (`Bound::with_weights`): mixtures, chains (a weight per sequence, one of them 0), the
/// summaries E-step of factor analysis, priors that summarise the data, and ln x! totals.
#[test]
fn generated_code_with_weights_is_the_executor() {
    use jensen_tests::glue::{column, matrix};
    use jensen_tests::models::weighted::*;
    use jensen_tests::models::*;
    use ndarray::Array1;

    fn executor(
        name: &str,
        file: &str,
        lengths: &[usize],
        w: &[f64],
    ) -> (jensen::Plan, Bound, jensen::FitResult<jensen::DynParams>) {
        let p = plan(name);
        let t = jensen::csv::read(root().join("data").join(file).to_str().unwrap()).unwrap();
        let bound = bind(&p, &t, &[], lengths)
            .unwrap()
            .with_weights(&p, "weight", w.to_vec())
            .unwrap();
        let fit = jensen::fit(&PlanModel::new(&p, &bound), &options()).unwrap();
        (p, bound, fit)
    }

    let rows = |n: usize| vec![1; n];
    // Mixtures.
    let w = fractional(&rows(272));
    let (p, bound, executed) = executor("gmm", "faithful.csv", &[272], &w);
    let data = GmmWeightedData {
        x: matrix(&p, &bound, "x"),
        weight: Array1::from(w.clone()),
    };
    let generated = jensen::fit(
        &GmmWeightedModel::new(data, GmmWeightedConsts::default()).unwrap(),
        &options(),
    )
    .unwrap();
    jensen_tests::compare_routes("gmm weighted", &executed, &generated);

    let (p, bound, executed) = executor("bgmm_defaults", "faithful.csv", &[272], &w);
    let data = BgmmDefaultsWeightedData {
        x: matrix(&p, &bound, "x"),
        weight: Array1::from(w),
    };
    let generated = jensen::fit(
        &BgmmDefaultsWeightedModel::new(data, BgmmDefaultsWeightedConsts::default()).unwrap(),
        &options(),
    )
    .unwrap();
    jensen_tests::compare_routes("bgmm_defaults weighted", &executed, &generated);

    let w = fractional(&rows(150));
    let (p, bound, executed) = executor("fa_iris", "iris.csv", &[150], &w);
    let data = FaIrisWeightedData {
        x: matrix(&p, &bound, "x"),
        weight: Array1::from(w),
    };
    let generated = jensen::fit(
        &FaIrisWeightedModel::new(data, FaIrisWeightedConsts::default()).unwrap(),
        &options(),
    )
    .unwrap();
    jensen_tests::compare_routes("fa_iris weighted", &executed, &generated);

    // Chains: a weight per sequence.
    let lengths = [100, 99, 100];
    let w = fractional(&lengths);
    assert!(w.contains(&0.0) || w.iter().any(|&v| v != 1.0));
    let (p, bound, executed) = executor("hmm_gaussian", "geyser.csv", &lengths, &w);
    let data = HmmGaussianWeightedData {
        x: matrix(&p, &bound, "x"),
        weight: Array1::from(w),
    };
    let model = HmmGaussianWeightedModel::new(data, HmmGaussianWeightedConsts::default())
        .unwrap()
        .with_lengths(&lengths)
        .unwrap();
    let generated = jensen::fit(&model, &options()).unwrap();
    jensen_tests::compare_routes("hmm_gaussian weighted", &executed, &generated);

    let lengths = [40, 30, 30];
    let w = fractional(&lengths);
    let (p, bound, executed) = executor("hmm_poisson", "discoveries.csv", &lengths, &w);
    let data = PoissonHmmWeightedData {
        discoveries: column(&p, &bound, "discoveries"),
        weight: Array1::from(w.clone()),
    };
    let model =
        PoissonHmmWeightedModel::new(data.clone(), PoissonHmmWeightedConsts::default()).unwrap();
    let generated = jensen::fit(&model.with_lengths(&lengths).unwrap(), &options()).unwrap();
    jensen_tests::compare_routes("hmm_poisson weighted", &executed, &generated);
    // The generated chain refuses weights that vary within a sequence.
    let err = PoissonHmmWeightedModel::new(data, PoissonHmmWeightedConsts::default())
        .unwrap()
        .with_lengths(&[50, 50])
        .unwrap_err();
    assert!(err.to_string().contains("one weight per sequence"), "{err}");

    // A model file's own weight column, both routes.
    let p = plan("poisson_mix_weighted");
    let bound = jensen_tests::bind(&p, "discoveries_counts.csv", &[]);
    let executed = jensen::fit(&PlanModel::new(&p, &bound), &options()).unwrap();
    let data = PoissonMixWeightedData {
        discoveries: column(&p, &bound, "discoveries"),
        years: column(&p, &bound, "years"),
    };
    let generated = jensen::fit(
        &PoissonMixWeightedModel::new(data, PoissonMixWeightedConsts::default()).unwrap(),
        &options(),
    )
    .unwrap();
    jensen_tests::compare_routes("poisson_mix_weighted", &executed, &generated);
}

/// Starting parameters from labels weigh each row (each sequence of a chain, its initial
/// state and transitions included): a sequence of weight 0 is as if removed, one of weight 2
/// as if repeated.
#[test]
fn starting_parameters_from_labels_weigh_the_rows() {
    use jensen::runtime::em::params_from_labels;
    use jensen::runtime::MStepConfig;
    use rand::SeedableRng;
    let p = plan("hmm_gaussian");
    let text = std::fs::read_to_string(root().join("data/geyser.csv")).unwrap();
    let head: String = text.lines().take(101).map(|l| format!("{l}\n")).collect();
    let all = table("geyser100.csv", &head);
    let lengths = [60, 40];
    // Labels: waiting time above 70 minutes.
    let labels = |b: &Bound| -> Vec<usize> {
        b.item(p.model.var("x").unwrap())
            .values
            .column(0)
            .iter()
            .map(|&v| usize::from(v > 70.0))
            .collect()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let config = MStepConfig::default();
    for (weights, copies) in [([1.0, 0.0], [1, 0]), ([1.0, 2.0], [1, 2])] {
        let w: Vec<f64> = lengths
            .iter()
            .zip(weights)
            .flat_map(|(&l, w)| std::iter::repeat_n(w, l))
            .collect();
        let weighted = bind(&p, &all, &[], &lengths)
            .unwrap()
            .with_weights(&p, "w", w)
            .unwrap();
        let mut copy_each = vec![0; 100];
        copy_each[0] = copies[0];
        copy_each[60] = copies[1];
        let (text2, lengths2) = repeated(&head, &copy_each, &lengths);
        let plain = bind(&p, &table("geyser_repeated.csv", &text2), &[], &lengths2).unwrap();
        let (a, _) = params_from_labels(
            &PlanModel::new(&p, &weighted),
            &labels(&weighted),
            &config,
            &mut rng,
        )
        .unwrap();
        let (b, _) = params_from_labels(
            &PlanModel::new(&p, &plain),
            &labels(&plain),
            &config,
            &mut rng,
        )
        .unwrap();
        for ((k, x), (_, y)) in a.iter().zip(b.iter()) {
            for (u, v) in x.iter().zip(y.iter()) {
                assert!(close(*u, *v), "weights {weights:?}: {k} {u} vs {v}");
            }
        }
    }
}
