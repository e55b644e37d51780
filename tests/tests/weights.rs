//! Row weights (`FitOptions::weights`): integer weights fit exactly as repeated rows, and a
//! zero weight as a removed row, on every mixture model in `models/` (soft and hard E-step),
//! from the same starting parameters.

use jensen::runtime::{EStepMode, FitError, FitOptions, InitStrategy, MStepConfig};
use jensen::{BindOptions, PlanModel};
use jensen_tests::{plan, root, CATALOGUE};

/// The data file with row `i` repeated `w[i]` times (a header line first).
fn repeated(file: &str, weights: &[usize]) -> jensen::Table {
    let text = std::fs::read_to_string(root().join("data").join(file)).unwrap();
    let mut lines = text.lines();
    let mut out = String::from(lines.next().unwrap());
    out.push('\n');
    for (line, &w) in lines.zip(weights) {
        for _ in 0..w {
            out.push_str(line);
            out.push('\n');
        }
    }
    let dir = std::env::temp_dir().join(format!("jensen-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, out).unwrap();
    jensen::csv::read(path.to_str().unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn integer_weights_fit_as_repeated_rows_and_zero_as_removed() {
    let mut checked = Vec::new();
    for &(name, file, consts) in CATALOGUE {
        let p = plan(name);
        // Chains take no weights yet; the summaries of the data in a prior (`cov(x)`) are of
        // the rows as bound, unweighted, so they differ from those of the repeated rows.
        let summaries = !jensen::lang::Program::lower(&p).hypers.is_empty();
        let counts = p
            .blocks
            .iter()
            .any(|b| matches!(b.kind, jensen::lang::plan::BlockKind::Poisson { .. }));
        if p.latent.is_chain() || summaries || counts {
            continue;
        }
        let opts = BindOptions {
            consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Default::default()
        };
        let table = jensen::csv::read(root().join("data").join(file).to_str().unwrap()).unwrap();
        let bound = jensen::bind(&p, &table, &opts).unwrap();
        let n = bound.n_rows;
        // Weights 0, 1, 2, 3 in turn; the first row always 1 (so a category seen in it stays).
        let w: Vec<usize> = (0..n).map(|i| if i == 0 { 1 } else { (i * 7 + 3) % 4 }).collect();
        let model = PlanModel::new(&p, &bound);
        let start = jensen::fit(
            &model,
            &FitOptions {
                max_iter: 2,
                tol: f64::NEG_INFINITY,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .params;
        let copies = repeated(file, &w);
        let copied_bound = match jensen::bind(&p, &copies, &opts) {
            Ok(b) => b,
            // Removing rows can drop a category a column names: not a comparison then.
            Err(_) => continue,
        };
        let copied = PlanModel::new(&p, &copied_bound);
        for mode in [EStepMode::Soft, EStepMode::Hard] {
            let run = |model: &PlanModel<'_>, weights: Option<Vec<f64>>| {
                jensen::fit(
                    model,
                    &FitOptions {
                        max_iter: 3,
                        tol: f64::NEG_INFINITY,
                        init: InitStrategy::Params(start.clone()),
                        e_step: Some(mode),
                        weights,
                        // The regularising prior scales with the data's spread, which repeating
                        // rows changes: off, so that the two fits are the same problem.
                        m_step: MStepConfig { reg_covar: 0.0 },
                        ..Default::default()
                    },
                )
            };
            let weighted = run(&model, Some(w.iter().map(|&v| v as f64).collect()));
            let repeated = run(&copied, None);
            let (weighted, repeated) = match (weighted, repeated) {
                (Ok(a), Ok(b)) => (a, b),
                // A start the hard E-step empties a component from is the same failure both
                // ways (or a numerical stop): compare only runs that complete.
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{name} {mode:?}");
                    continue;
                }
                (a, b) => panic!("{name} {mode:?}: {:?} vs {:?}", a.err(), b.err()),
            };
            if std::env::var("WDEBUG").is_ok() {
                eprintln!("{name} {mode:?} {:?}\n   {:?}\n  {:?}\n  {:?}\n  {:?}\n  {:?}", weighted.elbo_trace, repeated.elbo_trace, weighted.reseeds, repeated.reseeds, weighted.params, repeated.params);
            }
            assert_eq!(weighted.elbo_trace.len(), repeated.elbo_trace.len(), "{name}");
            for (a, b) in weighted.elbo_trace.iter().zip(&repeated.elbo_trace) {
                assert!(close(*a, *b), "{name} {mode:?}: objective {a} vs {b}");
            }
            for ((k, a), (_, b)) in weighted.params.iter().zip(repeated.params.iter()) {
                for (x, y) in a.iter().zip(b.iter()) {
                    assert!(close(*x, *y), "{name} {mode:?}: {k} {x} vs {y}");
                }
            }
            assert!(close(weighted.log_likelihood, repeated.log_likelihood), "{name}");
            assert!(close(weighted.bic, repeated.bic), "{name}: BIC");
            checked.push(format!("{name} {mode:?}"));
        }
    }
    eprintln!("weights = repeated rows: {} fits: {checked:?}", checked.len());
    assert!(checked.len() >= 40, "only {} fits compared", checked.len());
}

#[test]
fn bad_weights_are_errors_and_chains_refuse_them() {
    let p = plan("gmm");
    let bound = jensen_tests::bind(&p, "faithful.csv", &[]);
    let model = PlanModel::new(&p, &bound);
    let n = bound.n_rows;
    for (weights, what) in [
        (vec![1.0; n - 1], "one weight per row"),
        (vec![f64::NAN; n], "finite number"),
        (vec![-1.0; n], "finite number"),
        (vec![0.0; n], "more than 0"),
    ] {
        let err = jensen::fit(
            &model,
            &FitOptions {
                weights: Some(weights),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, FitError::InvalidOption { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
    }
    let chain = plan("hmm_gaussian");
    let bound = jensen_tests::bind(&chain, "geyser.csv", &[]);
    let err = jensen::fit(
        &PlanModel::new(&chain, &bound),
        &FitOptions {
            weights: Some(vec![1.0; bound.n_rows]),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("chains"), "{err}");
}
