//! Issue 9 regressions: the regularisation is a prior whose objective is monitored and whose
//! scale follows the data's units (no false guard alarms on small variances, scale
//! equivariance from the default initialisation), degenerate and unsettled fits are reported
//! as such, and linear-Gaussian blocks refuse too few rows.

use jensen::runtime::{FitError, FitOptions, FitStatus};
use jensen::{BindOptions, PlanModel};
use jensen_tests::{plan, root};

/// `data/FILE` with every numeric cell of the named columns multiplied by `c` (or every row
/// replaced by the first, with `same`), bound to `plan`.
fn bind_scaled(
    plan: &jensen::Plan,
    file: &str,
    c: f64,
    columns: &[usize],
    same: bool,
) -> jensen::Bound {
    let text = std::fs::read_to_string(root().join("data").join(file)).unwrap();
    let mut lines = text.lines();
    let mut out = String::from(lines.next().unwrap());
    out.push('\n');
    let rows: Vec<&str> = lines.collect();
    for line in &rows {
        let line = if same { rows[0] } else { line };
        let cells: Vec<String> = line
            .split(',')
            .enumerate()
            .map(|(j, v)| match v.parse::<f64>() {
                Ok(x) if columns.contains(&j) => format!("{:e}", x * c),
                _ => v.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    let table = jensen::csv::read_bytes(file, out.as_bytes()).unwrap();
    jensen::bind(plan, &table, &BindOptions::default()).unwrap()
}

/// Scaling every column by `c` shifts ℓ by exactly `−N·D·ln|c|` from the default
/// initialisation, with the default regularisation and the guard on: the prior is relative
/// to each column's variance, so variances far below `reg_covar` raise no alarm.
#[test]
fn gaussian_mixtures_are_scale_equivariant_with_the_default_regularisation() {
    for model in [
        "gmm",
        "gmm_diag",
        "gmm_tied",
        "gmm_spherical",
        "hmm_gaussian",
    ] {
        let p = plan(model);
        let base = bind_scaled(&p, "faithful.csv", 1.0, &[0, 1], false);
        let reference = jensen::fit(&PlanModel::new(&p, &base), &FitOptions::default()).unwrap();
        for c in [1e-6, 1e-3, 1e3, 1e6] {
            let bound = bind_scaled(&p, "faithful.csv", c, &[0, 1], false);
            let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default())
                .unwrap_or_else(|e| panic!("{model} ×{c}: {e}"));
            let expect = reference.log_likelihood - 2.0 * 272.0 * c.ln();
            let rel = (fit.log_likelihood - expect).abs() / expect.abs().max(1.0);
            assert!(
                rel < 1e-8,
                "{model} ×{c}: ℓ {} vs {expect} ({rel:e})",
                fit.log_likelihood
            );
            assert_eq!(fit.iterations, reference.iterations, "{model} ×{c}");
            for (a, b) in fit
                .responsibilities
                .iter()
                .zip(reference.responsibilities.iter())
            {
                assert!((a - b).abs() < 1e-6, "{model} ×{c}: responsibilities moved");
            }
        }
    }
}

/// The trace is the penalised objective; its last entry is ℓ plus the prior.
#[test]
fn the_trace_ends_at_the_likelihood_plus_the_prior() {
    let p = plan("gmm");
    let bound = bind_scaled(&p, "faithful.csv", 1.0, &[], false);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default()).unwrap();
    assert!(fit.log_prior < 0.0);
    assert_eq!(
        *fit.elbo_trace.last().unwrap(),
        fit.log_likelihood + fit.log_prior
    );
    assert_eq!(fit.status(), FitStatus::Converged);
    assert!(fit.warnings.is_empty());
}

/// Identical rows: the likelihood is unbounded and components keep being re-seeded; the fit
/// says so instead of reporting success.
#[test]
fn identical_rows_are_reported_not_converged() {
    for (model, file) in [("gmm", "faithful.csv"), ("gmm_tied", "faithful.csv")] {
        let p = plan(model);
        let bound = bind_scaled(&p, file, 1.0, &[], true);
        let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default()).unwrap();
        assert_ne!(fit.status(), FitStatus::Converged, "{model}");
        assert!(!fit.warnings.is_empty(), "{model}");
    }
    let p = plan("fa_iris");
    let bound = bind_scaled(&p, "iris.csv", 1.0, &[], true);
    let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default()).unwrap();
    assert_eq!(fit.status(), FitStatus::Degenerate);
}

/// Factor analysis with L factors needs at least L + 2 rows.
#[test]
fn factor_analysis_refuses_too_few_rows() {
    let p = plan("fa_iris");
    let text = std::fs::read_to_string(root().join("data/iris.csv")).unwrap();
    let few: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
    let table = jensen::csv::read_bytes("iris.csv", few.as_bytes()).unwrap();
    let bound = jensen::bind(&p, &table, &BindOptions::default()).unwrap();
    match jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default()) {
        Err(FitError::TooFewRowsForFactors {
            rows: 3,
            factors: 2,
        }) => {}
        other => panic!("expected too few rows, got {other:?}"),
    }
}

/// A linear-Gaussian model whose columns differ in scale by 1e5 keeps its digits: factor
/// analysis is equivariant per column.
#[test]
fn factor_analysis_is_equivariant_per_column() {
    for model in ["fa_iris", "mfa_iris"] {
        let p = plan(model);
        let base = bind_scaled(&p, "iris.csv", 1.0, &[0], false);
        let reference = jensen::fit(&PlanModel::new(&p, &base), &FitOptions::default()).unwrap();
        let bound = bind_scaled(&p, "iris.csv", 1e5, &[0], false);
        let fit = jensen::fit(&PlanModel::new(&p, &bound), &FitOptions::default())
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        let expect = reference.log_likelihood - 150.0 * 1e5f64.ln();
        let rel = (fit.log_likelihood - expect).abs() / expect.abs();
        assert!(rel < 1e-8, "{model}: ℓ {} vs {expect}", fit.log_likelihood);
    }
}

/// An empty state of a chain is re-seeded at the row no state explains well, whichever
/// sequence it lies in and wherever in its sequence: the geyser data cut into uneven
/// sequences (not aligned to the E-step's blocks or tasks), one row made an outlier, and a
/// state started far from every row, so that it is empty after the first E-step. On one
/// thread and on two.
#[test]
fn an_empty_state_of_a_chain_is_reseeded_at_the_worst_row() {
    let text = std::fs::read_to_string(root().join("data/geyser.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Data row 181 (line 182 after the header), in the third sequence.
    let outlier = 181;
    lines[outlier + 1] = "400,30".to_string();
    let table = jensen::csv::read_bytes("geyser.csv", lines.join("\n").as_bytes()).unwrap();
    let p = plan("hmm_gaussian_diag");
    let opts = BindOptions {
        consts: [("K".to_string(), 3)].into(),
        sequences: jensen::bind::Sequences::Lengths(vec![100, 7, 150, 42]),
        ..Default::default()
    };
    let bound = jensen::bind(&p, &table, &opts).unwrap();
    let model = PlanModel::new(&p, &bound);
    let start: jensen::DynParams = serde_json::from_value(serde_json::json!({
        "p0": [0.4, 0.4, 0.2],
        "A": [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
        "mu": [[55.0, 2.0], [80.0, 4.3], [1e4, 1e3]],
        "v": [[100.0, 1.0], [100.0, 1.0], [100.0, 1.0]],
    }))
    .unwrap();
    let start = model.check_params(&start).unwrap();
    for threads in [1, 2] {
        let fit = jensen::fit(
            &model,
            &FitOptions {
                max_iter: 5,
                tol: f64::NEG_INFINITY,
                init: jensen::runtime::InitStrategy::Params(start.clone()),
                threads: Some(threads),
                ..FitOptions::default()
            },
        )
        .unwrap();
        let first = fit.reseeds.first().expect("the far state is re-seeded");
        assert_eq!(
            (first.iteration, first.component, first.row, first.reason),
            (1, 2, outlier, "empty"),
            "{threads} thread(s): {:?}",
            fit.reseeds
        );
    }
}
