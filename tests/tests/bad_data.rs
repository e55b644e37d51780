//! Bad data never panics and never yields a silent NaN: every case below either gives a
//! clear error naming the file, the row (and line) and the column, or is a documented,
//! handled case whose fit is finite.
//!
//! Tables are built in memory with `jensen::csv::read_bytes`, so the "file" in every message is
//! the name passed there.

use jensen::bind::{BindError, BindOptions, Bound};
use jensen::csv::{read_bytes, CsvError};
use jensen::memory::SizeSource;
use jensen::runtime::{FitOptions, InitStrategy, MStepConfig};
use jensen::{DynParams, FitError, FitResult, PlanModel, Table};
use jensen_tests::{plan, root};
use ndarray::{ArrayD, IxDyn};

// ---------------------------------------------------------------------------------------
// Helpers

/// Parses CSV text that is expected to be well-formed.
fn table(file: &str, text: &str) -> Table {
    read_bytes(file, text.as_bytes()).unwrap_or_else(|e| panic!("{file} should parse: {e}"))
}

/// Parses CSV text that is expected to be rejected by the reader.
fn csv_error(file: &str, text: &[u8]) -> CsvError {
    match read_bytes(file, text) {
        Ok(t) => panic!("{file} should be rejected, but parsed as {t:?}"),
        Err(e) => e,
    }
}

fn opts(consts: &[(&str, usize)]) -> BindOptions {
    BindOptions {
        consts: consts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..Default::default()
    }
}

/// Binds `table` to `models/MODEL.em`, expecting an error.
fn bind_error(model: &str, table: &Table, consts: &[(&str, usize)]) -> BindError {
    match jensen::bind(&plan(model), table, &opts(consts)) {
        Ok(b) => panic!("binding {} to {model} should fail, got {b:?}", table.source),
        Err(e) => e,
    }
}

/// The text of `data/faithful.csv` (header included).
fn faithful() -> String {
    std::fs::read_to_string(root().join("data/faithful.csv")).expect("faithful.csv")
}

/// Asserts that a `Display` message names the file, the row, the line and the column.
fn assert_names_place(message: &str, file: &str, row: usize, line: usize, column: &str) {
    for needle in [
        file.to_string(),
        format!("row {row}"),
        format!("line {line}"),
        format!("`{column}`"),
    ] {
        assert!(
            message.contains(&needle),
            "message should mention {needle:?}: {message}"
        );
    }
}

/// Asserts every number a fit reports is finite.
fn assert_finite_fit(fit: &FitResult<DynParams>, what: &str) {
    assert!(
        fit.log_likelihood.is_finite(),
        "{what}: log-likelihood {}",
        fit.log_likelihood
    );
    assert!(
        fit.elbo_trace.iter().all(|v| v.is_finite()),
        "{what}: ELBO trace {:?}",
        fit.elbo_trace
    );
    assert!(
        fit.bic.is_finite() && fit.aic.is_finite(),
        "{what}: BIC/AIC"
    );
    for (name, value) in fit.params.iter() {
        assert!(
            value.iter().all(|v| v.is_finite()),
            "{what}: parameter `{name}` = {value}"
        );
    }
    assert!(
        fit.responsibilities.iter().all(|v| v.is_finite()),
        "{what}: responsibilities"
    );
    assert!(
        fit.point_log_likelihood.iter().all(|v| v.is_finite()),
        "{what}: per-row log-likelihood"
    );
}

fn fit_options(seed: u64, reg_covar: f64) -> FitOptions<DynParams> {
    FitOptions {
        seed,
        m_step: MStepConfig { reg_covar },
        ..FitOptions::default()
    }
}

/// Asserts a `BindError::BadValue` at the given place; returns (value, expected, message).
fn assert_bad_value(
    err: &BindError,
    file: &str,
    row: usize,
    column: &str,
    item: &str,
) -> (f64, String) {
    let BindError::BadValue {
        file: f,
        row: r,
        line: l,
        column: c,
        value,
        expected,
        item: i,
    } = err
    else {
        panic!("expected BindError::BadValue, got {err:?}");
    };
    assert_eq!(f, file);
    assert_eq!(*r, row);
    assert_eq!(*l, row + 1, "line = data row + the header line");
    assert_eq!(c, column);
    assert_eq!(i, item);
    assert_names_place(&err.to_string(), file, row, row + 1, column);
    (*value, expected.clone())
}

// ---------------------------------------------------------------------------------------
// Columns

#[test]
fn missing_count_column_names_the_column_and_lists_the_available_ones() {
    // quakes_mixed wants `stations` (a count) beside `site` from (lat, long, depth, mag).
    let t = table(
        "quakes_no_stations.csv",
        "lat,long,depth,mag\n-20.42,181.62,562,4.8\n-20.62,181.03,650,4.2\n",
    );
    let err = bind_error("quakes_mixed", &t, &[]);
    assert_eq!(
        err,
        BindError::MissingColumn {
            file: "quakes_no_stations.csv".into(),
            item: "stations".into(),
            column: "stations".into(),
            available: "lat, long, depth, mag".into(),
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("quakes_no_stations.csv"), "{msg}");
    assert!(msg.contains("`stations`"), "{msg}");
    assert!(msg.contains("lat, long, depth, mag"), "{msg}");
}

#[test]
fn missing_from_column_names_the_column_and_the_item() {
    // `site` is declared `from (lat, long, depth, mag)`: a table without `depth`.
    let t = table(
        "quakes_no_depth.csv",
        "lat,long,mag,stations\n-20.42,181.62,4.8,41\n",
    );
    let err = bind_error("quakes_mixed", &t, &[]);
    assert_eq!(
        err,
        BindError::MissingColumn {
            file: "quakes_no_depth.csv".into(),
            item: "site".into(),
            column: "depth".into(),
            available: "lat, long, mag, stations".into(),
        }
    );
    assert!(err.to_string().contains("`depth`"), "{err}");
}

#[test]
fn text_column_where_numbers_are_needed_is_named() {
    let t = table(
        "quakes_text.csv",
        "lat,long,depth,mag,stations\n-20.42,181.62,562,4.8,many\n-20.62,181.03,650,4.2,few\n",
    );
    assert_eq!(t.columns[4], None, "a column with no number at all is text");
    let err = bind_error("quakes_mixed", &t, &[]);
    assert_eq!(
        err,
        BindError::TextColumn {
            file: "quakes_text.csv".into(),
            item: "stations".into(),
            column: "stations".into(),
        }
    );
}

#[test]
fn duplicate_column_name_is_rejected() {
    let err = csv_error("dup.csv", b"eruptions,waiting,eruptions\n3.6,79,3.6\n");
    match &err {
        CsvError::DuplicateColumn { file, column } => {
            assert_eq!(file, "dup.csv");
            assert_eq!(column, "eruptions");
        }
        other => panic!("expected DuplicateColumn, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("dup.csv") && msg.contains("`eruptions`"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------
// Cells

#[test]
fn non_numeric_cell_names_file_row_line_and_column() {
    let err = csv_error("bad.csv", b"eruptions,waiting\n3.6,79\n1.8,abc\n");
    match &err {
        CsvError::BadCell {
            file,
            row,
            line,
            column,
            what,
        } => {
            assert_eq!(file, "bad.csv");
            assert_eq!(*row, 2);
            assert_eq!(*line, 3);
            assert_eq!(column, "waiting");
            assert!(what.contains("`abc` is not a number"), "{what}");
        }
        other => panic!("expected BadCell, got {other:?}"),
    }
    assert_names_place(&err.to_string(), "bad.csv", 2, 3, "waiting");
}

#[test]
fn empty_cell_is_a_missing_value() {
    // The reader keeps the gap (an empty cell of a numeric column); a block that integrates
    // it out binds it, one that cannot (variational Bayes) names the place.
    let t = table("gap.csv", "eruptions,waiting\n3.6,79\n1.8,54\n3.3,\n");
    assert_eq!(t.empty_cells(1), &[2]);
    assert!(t.columns[1].as_ref().unwrap()[2].is_nan());
    let p = plan("gmm");
    let bound = jensen::bind(&p, &t, &BindOptions::default()).unwrap();
    assert_eq!(bound.item(p.model.var("x").unwrap()).gaps.cells(), 1);
    let err = bind_error("bgmm", &t, &[]);
    let msg = err.to_string();
    assert_names_place(&msg, "gap.csv", 3, 4, "waiting");
    assert!(
        msg.contains("empty") && msg.contains("does not integrate out missing cells"),
        "{msg}"
    );
}

#[test]
fn whitespace_only_cell_is_an_empty_cell() {
    // Cells are trimmed, so "  " is the same as "".
    let t = table("blank.csv", "eruptions,waiting\n3.6,79\n  ,54\n");
    assert_eq!(t.empty_cells(0), &[1]);
    let msg = bind_error("bgmm", &t, &[]).to_string();
    assert_names_place(&msg, "blank.csv", 2, 3, "eruptions");
    assert!(msg.contains("missing cells"), "{msg}");
}

#[test]
fn na_and_nan_cells_are_missing_values() {
    // `NA` (R) and `NaN` (NumPy, pandas) in any case are read as empty cells.
    let t = table(
        "nan.csv",
        "eruptions,waiting\n3.6,79\n1.8,NA\nnan,54\n3.3,NaN\n",
    );
    assert_eq!(t.empty_cells(0), &[2]);
    assert_eq!(t.empty_cells(1), &[1, 3]);
    let p = plan("gmm");
    let bound = jensen::bind(&p, &t, &BindOptions::default()).unwrap();
    assert_eq!(bound.item(p.model.var("x").unwrap()).gaps.cells(), 3);
}

#[test]
fn infinite_cells_are_rejected_at_bind_time() {
    for (cell, want) in [
        ("inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("Infinity", f64::INFINITY),
    ] {
        let text = format!("eruptions,waiting\n3.6,79\n{cell},54\n");
        let t = table("inf.csv", &text);
        let err = bind_error("gmm", &t, &[]);
        let (value, expected) = assert_bad_value(&err, "inf.csv", 2, "eruptions", "x");
        assert_eq!(value, want, "cell {cell}");
        assert_eq!(expected, "a finite number");
    }
}

#[test]
fn non_finite_cell_in_a_from_column_is_rejected() {
    let t = table(
        "quakes_inf.csv",
        "lat,long,depth,mag,stations\n-20.42,181.62,562,4.8,41\n-20.62,181.03,650,-inf,15\n",
    );
    let err = bind_error("quakes_mixed", &t, &[]);
    let (value, _) = assert_bad_value(&err, "quakes_inf.csv", 2, "mag", "site");
    assert_eq!(value, f64::NEG_INFINITY);
}

#[test]
fn poisson_count_must_be_a_whole_number() {
    let t = table("counts.csv", "year,discoveries\n1860,5\n1861,3\n1862,2.5\n");
    let err = bind_error("poisson_mix", &t, &[]);
    let (value, expected) = assert_bad_value(&err, "counts.csv", 3, "discoveries", "discoveries");
    assert_eq!(value, 2.5);
    assert!(expected.contains("a count"), "{expected}");
    assert!(err.to_string().contains("a count"), "{err}");
}

#[test]
fn poisson_count_must_not_be_negative() {
    let t = table("counts.csv", "year,discoveries\n1860,-1\n1861,3\n");
    let err = bind_error("poisson_mix", &t, &[]);
    let (value, expected) = assert_bad_value(&err, "counts.csv", 1, "discoveries", "discoveries");
    assert_eq!(value, -1.0);
    assert!(expected.contains("a count"), "{expected}");
}

#[test]
fn poisson_count_in_a_mixed_model_is_checked() {
    let t = table(
        "quakes_counts.csv",
        "lat,long,depth,mag,stations\n-20.42,181.62,562,4.8,41\n-20.62,181.03,650,4.2,15.5\n",
    );
    let err = bind_error("quakes_mixed", &t, &[]);
    let (value, expected) = assert_bad_value(&err, "quakes_counts.csv", 2, "stations", "stations");
    assert_eq!(value, 15.5);
    assert!(expected.contains("a count"), "{expected}");
}

#[test]
fn bernoulli_data_must_be_zero_or_one() {
    let t = table("pixels.csv", "p0,p1,p2\n0,1,0\n1,0,1\n0,2,1\n");
    let err = bind_error("bernoulli_mix", &t, &[("K", 2)]);
    let (value, expected) = assert_bad_value(&err, "pixels.csv", 3, "p1", "x");
    assert_eq!(value, 2.0);
    assert_eq!(expected, "0 or 1");
    assert!(err.to_string().contains("0 or 1"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Shape of the file

#[test]
fn empty_file_is_rejected() {
    let err = csv_error("empty.csv", b"");
    match &err {
        CsvError::Empty { file } => assert_eq!(file, "empty.csv"),
        other => panic!("expected CsvError::Empty, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("empty.csv") && msg.contains("header"), "{msg}");
}

#[test]
fn file_with_only_blank_lines_is_empty() {
    let err = csv_error("blank.csv", b"\n\n");
    assert!(
        matches!(&err, CsvError::Empty { file } if file == "blank.csv"),
        "{err:?}"
    );
}

#[test]
fn header_only_file_has_no_rows() {
    let t = table("header.csv", "eruptions,waiting\n");
    assert_eq!(t.n_rows, 0);
    let err = bind_error("gmm", &t, &[]);
    assert_eq!(
        err,
        BindError::Empty {
            file: "header.csv".into()
        }
    );
    assert!(err.to_string().contains("header.csv"), "{err}");
}

#[test]
fn ragged_row_names_the_line() {
    let err = csv_error(
        "ragged.csv",
        b"eruptions,waiting\n3.6,79\n1.8,54,7\n3.3,74\n",
    );
    match &err {
        CsvError::Malformed {
            file,
            line,
            message,
        } => {
            assert_eq!(file, "ragged.csv");
            assert_eq!(*line, 3);
            assert!(message.contains("3 fields"), "{message}");
            assert!(message.contains("header has 2"), "{message}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("ragged.csv") && msg.contains("line 3"),
        "{msg}"
    );
}

#[test]
fn short_row_names_the_line() {
    let err = csv_error("short.csv", b"eruptions,waiting\n3.6,79\n1.8,54\n3.3\n");
    match &err {
        CsvError::Malformed { line, message, .. } => {
            assert_eq!(*line, 4);
            assert!(message.contains("1 fields"), "{message}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Constants

#[test]
fn zero_constant_is_rejected() {
    let t = table("faithful.csv", &faithful());
    let err = bind_error("gmm", &t, &[("K", 0)]);
    assert_eq!(err, BindError::ZeroConst { name: "K".into() });
    assert!(err.to_string().contains("`K`"), "{err}");
}

#[test]
fn unknown_constant_is_rejected() {
    let t = table("faithful.csv", &faithful());
    let err = bind_error("gmm", &t, &[("J", 3)]);
    assert_eq!(
        err,
        BindError::UnknownConst {
            name: "J".into(),
            available: "K".into(),
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("`J`") && msg.contains("K"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Fitting degenerate data

fn bind_ok(model: &jensen::Plan, t: &Table, consts: &[(&str, usize)]) -> Bound {
    jensen::bind(model, t, &opts(consts)).unwrap_or_else(|e| panic!("bind: {e}"))
}

#[test]
fn fewer_rows_than_components_is_an_error() {
    let text: String = faithful()
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    let t = table("two_rows.csv", &text);
    assert_eq!(t.n_rows, 2);
    let p = plan("gmm");
    let bound = bind_ok(&p, &t, &[("K", 3)]);
    let model = PlanModel::new(&p, &bound);
    let err = jensen::fit(&model, &FitOptions::default()).expect_err("2 rows, 3 components");
    assert!(
        matches!(
            err,
            FitError::TooFewRows {
                rows: 2,
                components: 3
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains('2') && msg.contains('3'), "{msg}");
}

/// A column that never varies: its variance is zero, so the covariance of every component
/// is singular but for `reg_covar` (default 1e-6), which keeps it positive definite. The fit
/// is finite and the constant column's variance is about `reg_covar`.
#[test]
fn constant_column_is_handled_by_reg_covar() {
    let mut text = String::from("eruptions,waiting,constant\n");
    for line in faithful().lines().skip(1) {
        text.push_str(line);
        text.push_str(",5.0\n");
    }
    let t = table("faithful_constant.csv", &text);
    let p = plan("gmm");
    let bound = bind_ok(&p, &t, &[]);
    // The default rule binds every numeric column to the one vector item.
    let x = bound.items.iter().flatten().next().expect("one data item");
    assert_eq!(x.columns, ["eruptions", "waiting", "constant"]);
    let model = PlanModel::new(&p, &bound);
    for seed in 0..3 {
        let fit = jensen::fit(&model, &fit_options(seed, 1e-6))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_finite_fit(&fit, "constant column");
        let sigma = fit.params.get("Sigma").expect("Sigma");
        assert_eq!(sigma.shape(), [2, 3, 3]);
        let mu = fit.params.get("mu").expect("mu");
        for k in 0..2 {
            let var = sigma[[k, 2, 2]];
            assert!(
                var > 0.0 && var < 1e-3,
                "seed {seed}: variance of the constant column in component {k} is {var}"
            );
            assert!(
                (mu[[k, 2]] - 5.0).abs() < 1e-9,
                "mean of the constant column"
            );
        }
    }
}

/// The faithful data with `copies` identical rows (2.0, 60) appended.
fn faithful_with_duplicates(copies: usize) -> Table {
    let mut text = faithful();
    for _ in 0..copies {
        text.push_str("2.0,60\n");
    }
    table("faithful_duplicates.csv", &text)
}

/// Many identical rows invite a component to collapse onto one point. With the default
/// `reg_covar` its covariance stays positive definite and the fit is finite.
#[test]
fn duplicate_rows_fit_with_default_reg_covar() {
    let t = faithful_with_duplicates(60);
    let p = plan("gmm");
    let bound = bind_ok(&p, &t, &[("K", 3)]);
    assert_eq!(bound.n_rows, 272 + 60);
    let model = PlanModel::new(&p, &bound);
    for seed in 0..5 {
        let fit = jensen::fit(
            &model,
            &FitOptions {
                restarts: 2,
                ..fit_options(seed, 1e-6)
            },
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_finite_fit(&fit, &format!("duplicates, seed {seed}"));
        assert_eq!(fit.params.get("w").unwrap().len(), 3);
    }
}

/// Without regularisation a collapsed component is singular: the fit must neither panic nor
/// return NaN. It either re-seeds and ends finite, or fails with `FitError::Numerical` whose
/// message says to raise `reg_covar`.
#[test]
fn duplicate_rows_without_reg_covar_never_yield_nan() {
    let p = plan("gmm");
    for copies in [60, 400] {
        let t = faithful_with_duplicates(copies);
        let bound = bind_ok(&p, &t, &[("K", 3)]);
        let model = PlanModel::new(&p, &bound);
        for seed in 0..8 {
            for init in [InitStrategy::KMeansPlusPlus, InitStrategy::RandomFromData] {
                let opts = FitOptions {
                    init: init.clone(),
                    ..fit_options(seed, 0.0)
                };
                let what = format!("{copies} copies, seed {seed}, {init:?}");
                match jensen::fit(&model, &opts) {
                    Ok(fit) => assert_finite_fit(&fit, &what),
                    Err(e @ FitError::Numerical { .. }) => {
                        let msg = e.to_string();
                        assert!(msg.contains("`reg_covar`"), "{what}: {msg}");
                    }
                    Err(e) => panic!("{what}: unexpected error {e:?}: {e}"),
                }
            }
        }
    }
}

/// Every row the same point: no component has any spread, so only `reg_covar` keeps the
/// covariances positive definite.
#[test]
fn all_rows_identical_fit_with_default_reg_covar() {
    let mut text = String::from("eruptions,waiting\n");
    for _ in 0..50 {
        text.push_str("2.0,60\n");
    }
    let t = table("identical.csv", &text);
    let p = plan("gmm");
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let fit = jensen::fit(&model, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_finite_fit(&fit, "identical rows");
}

#[test]
fn as_many_rows_as_components_is_finite() {
    let text: String = faithful()
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let t = table("three_rows.csv", &text);
    let p = plan("gmm");
    let bound = bind_ok(&p, &t, &[("K", 3)]);
    let model = PlanModel::new(&p, &bound);
    match jensen::fit(&model, &FitOptions::default()) {
        Ok(fit) => assert_finite_fit(&fit, "N = K"),
        Err(e @ FitError::Numerical { .. }) => {
            assert!(e.to_string().contains("`reg_covar`"), "{e}")
        }
        Err(e) => panic!("unexpected error {e:?}: {e}"),
    }
}

#[test]
fn all_zero_counts_fit_finite() {
    // A Poisson rate of zero is floored, so ln(rate) stays finite.
    let mut text = String::from("year,discoveries\n");
    for y in 0..30 {
        text.push_str(&format!("{},0\n", 1900 + y));
    }
    let t = table("zeros.csv", &text);
    let p = plan("poisson_mix");
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let fit = jensen::fit(&model, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_finite_fit(&fit, "all-zero counts");
}

#[test]
fn constant_bernoulli_pixels_fit_finite() {
    // Columns that are always 0 or always 1: probabilities are clamped away from 0 and 1.
    let mut text = String::from("p0,p1,p2,p3\n");
    for i in 0..40 {
        text.push_str(&format!("0,1,{},{}\n", i % 2, (i / 3) % 2));
    }
    let t = table("pixels.csv", &text);
    let p = plan("bernoulli_mix");
    let bound = bind_ok(&p, &t, &[("K", 3)]);
    let model = PlanModel::new(&p, &bound);
    let fit = jensen::fit(&model, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_finite_fit(&fit, "constant pixels");
}

// ---------------------------------------------------------------------------------------
// User-supplied starting parameters

fn gmm_params(w: &[f64], mu: &[f64], mu_shape: &[usize], sigma: &[f64]) -> DynParams {
    let mut p = DynParams::default();
    p.insert(
        "w",
        ArrayD::from_shape_vec(IxDyn(&[w.len()]), w.to_vec()).unwrap(),
    );
    p.insert(
        "mu",
        ArrayD::from_shape_vec(IxDyn(mu_shape), mu.to_vec()).unwrap(),
    );
    p.insert(
        "Sigma",
        ArrayD::from_shape_vec(IxDyn(&[2, 2, 2]), sigma.to_vec()).unwrap(),
    );
    p
}

const SIGMA: [f64; 8] = [0.17, 0.94, 0.94, 36.0, 0.07, 0.43, 0.43, 33.7];

#[test]
fn good_starting_parameters_are_accepted() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let params = gmm_params(&[0.64, 0.36], &[4.3, 80.0, 2.0, 54.5], &[2, 2], &SIGMA);
    let checked = model.check_params(&params).expect("valid parameters");
    let fit = jensen::fit(
        &model,
        &FitOptions {
            init: InitStrategy::Params(checked),
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_finite_fit(&fit, "user init");
    assert!((fit.log_likelihood - -1130.264).abs() < 0.01);
}

#[test]
fn starting_parameters_with_a_wrong_shape_are_rejected() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    // Three means for two components.
    let params = gmm_params(
        &[0.64, 0.36],
        &[4.3, 80.0, 2.0, 54.5, 3.0, 70.0],
        &[3, 2],
        &SIGMA,
    );
    let err = model.check_params(&params).expect_err("wrong shape");
    assert!(err.contains("`mu`"), "{err}");
    assert!(err.contains("[3, 2]") && err.contains("[2, 2]"), "{err}");
}

#[test]
fn starting_parameters_missing_or_extra_are_rejected() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let mut missing = DynParams::default();
    missing.insert(
        "w",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.5, 0.5]).unwrap(),
    );
    let err = model.check_params(&missing).expect_err("missing mu, Sigma");
    assert!(err.contains("`mu`") && err.contains("missing"), "{err}");

    let mut extra = gmm_params(&[0.64, 0.36], &[4.3, 80.0, 2.0, 54.5], &[2, 2], &SIGMA);
    extra.insert("nu", DynParams::scalar(1.0));
    let err = model.check_params(&extra).expect_err("extra nu");
    assert!(err.contains("`nu`"), "{err}");
}

#[test]
fn starting_weights_off_the_simplex_are_rejected() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let params = gmm_params(&[0.7, 0.7], &[4.3, 80.0, 2.0, 54.5], &[2, 2], &SIGMA);
    let err = model.check_params(&params).expect_err("weights sum to 1.4");
    assert!(err.contains("`w`") && err.contains("simplex"), "{err}");
}

#[test]
fn non_finite_starting_parameters_are_rejected() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let params = gmm_params(&[0.64, 0.36], &[4.3, f64::NAN, 2.0, 54.5], &[2, 2], &SIGMA);
    let err = model.check_params(&params).expect_err("NaN mean");
    assert!(err.contains("`mu`") && err.contains("not finite"), "{err}");
}

#[test]
fn negative_starting_variance_is_rejected_for_diagonal_covariances() {
    let p = plan("gmm_diag");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let mut params = DynParams::default();
    params.insert(
        "w",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.5, 0.5]).unwrap(),
    );
    params.insert(
        "mu",
        ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![4.3, 80.0, 2.0, 54.5]).unwrap(),
    );
    params.insert(
        "v",
        ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![0.17, 36.0, -0.07, 33.7]).unwrap(),
    );
    let err = model.check_params(&params).expect_err("negative variance");
    assert!(err.contains("`v`"), "{err}");
    assert!(
        err.contains("constraint") && err.contains("positive"),
        "{err}"
    );
}

#[test]
fn negative_starting_variance_is_rejected_for_spherical_covariances() {
    let p = plan("gmm_spherical");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let mut params = DynParams::default();
    params.insert(
        "w",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.5, 0.5]).unwrap(),
    );
    params.insert(
        "mu",
        ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![4.3, 80.0, 2.0, 54.5]).unwrap(),
    );
    params.insert(
        "s",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![10.0, 0.0]).unwrap(),
    );
    let err = model.check_params(&params).expect_err("zero variance");
    assert!(err.contains("`s`"), "{err}");
}

#[test]
fn negative_starting_rate_is_rejected() {
    let p = plan("poisson_mix");
    let t = table("counts.csv", "year,discoveries\n1860,5\n1861,3\n1862,0\n");
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let mut params = DynParams::default();
    params.insert(
        "w",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.5, 0.5]).unwrap(),
    );
    params.insert(
        "rate",
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![2.0, -1.0]).unwrap(),
    );
    let err = model.check_params(&params).expect_err("negative rate");
    assert!(err.contains("`rate`"), "{err}");
}

/// A full covariance with a negative variance on its diagonal is not positive definite, so
/// user-supplied starting parameters with it are rejected (not silently re-seeded).
#[test]
fn negative_starting_variance_is_rejected_for_full_covariances() {
    let p = plan("gmm");
    let t = table("faithful.csv", &faithful());
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let mut sigma = SIGMA;
    sigma[7] = -33.7; // Sigma[1][1][1]
    let params = gmm_params(&[0.64, 0.36], &[4.3, 80.0, 2.0, 54.5], &[2, 2], &sigma);
    let err = model
        .check_params(&params)
        .expect_err("Sigma[1] has a negative variance");
    assert!(err.contains("`Sigma`"), "{err}");
}

/// Large but valid Poisson counts (around 10^9) must fit like small ones: `-Σ ln x!` (about
/// -2e10 per row) cancels against `Σ x ln rate`, and the monotonicity guard allows for the
/// round-off of such terms (`log_density_magnitude`) instead of reporting a derivation bug.
#[test]
fn large_poisson_counts_fit() {
    let t = table(
        "large_counts.csv",
        "year,discoveries\n1,1000000000\n2,1000000000\n3,2000000000\n4,2000000000\n",
    );
    let p = plan("poisson_mix");
    let bound = bind_ok(&p, &t, &[]);
    let model = PlanModel::new(&p, &bound);
    let fit = jensen::fit(&model, &FitOptions::default()).unwrap_or_else(|e| panic!("{e:?}: {e}"));
    assert_finite_fit(&fit, "large counts");
}

/// A component that collapses onto duplicated rows without regularisation is re-seeded (and
/// the fit goes on) rather than stopping the fit; the log-likelihood may fall right after a
/// re-seed, which must not be taken for convergence.
#[test]
fn collapsed_component_is_reseeded_not_fatal() {
    let mut csv = faithful();
    for _ in 0..60 {
        csv.push_str("2.0,60\n");
    }
    let p = plan("gmm");
    let t = table("dupes.csv", &csv);
    let bound = bind_ok(&p, &t, &[("K", 3)]);
    let model = PlanModel::new(&p, &bound);
    let opts = FitOptions {
        m_step: MStepConfig { reg_covar: 0.0 },
        seed: 0,
        max_iter: 300,
        ..FitOptions::default()
    };
    match jensen::fit(&model, &opts) {
        Ok(fit) => {
            assert_finite_fit(&fit, "collapsed component");
            if fit.converged {
                let last = fit.elbo_trace.len() - 1;
                assert!(
                    fit.elbo_trace[last] >= fit.elbo_trace[last - 1] - 1e-6,
                    "converged on a drop: {:?}",
                    &fit.elbo_trace[last - 1..]
                );
            }
        }
        Err(e) => panic!("a collapsed component should be re-seeded, got: {e}"),
    }
}

/// A continuous latent needs fewer dimensions than the data it explains: the executor's
/// binding and the generated model both refuse `L ≥ D`, saying which constant to change.
#[test]
fn a_latent_as_wide_as_the_data_is_refused_by_both_back_ends() {
    use jensen_tests::models::{PpcaIrisConsts, PpcaIrisData, PpcaIrisModel};
    let iris = std::fs::read_to_string(root().join("data/iris.csv")).unwrap();
    let t = table("iris.csv", &iris);
    let e = bind_error("ppca_iris", &t, &[("L", 4)]);
    assert!(
        matches!(
            e,
            BindError::LatentDim {
                dim: 4,
                columns: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("choose L < 4"), "{e}");
    let bound = jensen::bind(&plan("ppca_iris"), &t, &opts(&[])).unwrap();
    let x = bound.items[plan("ppca_iris").model.var("x").unwrap()]
        .as_ref()
        .unwrap()
        .values
        .clone();
    let err = PpcaIrisModel::new(PpcaIrisData { x }, PpcaIrisConsts { L: 5 }).unwrap_err();
    assert!(err.to_string().contains("has L = 5 dimensions"), "{err}");
}

/// Factor analysis on data with constant columns: their noise variances settle at the
/// regularisation, the fit is finite; without regularisation the noise is not positive and
/// the fit stops with an error that says what to change.
#[test]
fn factor_analysis_with_constant_columns() {
    let source = std::fs::read_to_string(root().join("models/ppca_iris.em"))
        .unwrap()
        .replace("param  s2: positive", "param  psi: positive[D]")
        .replace("s2 * I", "diag(psi)");
    let (fa, _) = jensen::compile(&source).unwrap();
    let mut text = String::from("sepal_length,sepal_width,petal_length,petal_width\n");
    for i in 0..60 {
        let a = (i as f64 * 0.37).sin();
        let b = (i as f64 * 0.91).cos();
        text.push_str(&format!("{},{},3.0,{}\n", a, a + 0.5 * b, b));
    }
    let t = table("constant.csv", &text);
    let bound = jensen::bind(&fa, &t, &opts(&[("L", 1)])).unwrap();
    let fit = jensen::fit(&PlanModel::new(&fa, &bound), &FitOptions::default()).unwrap();
    assert!(fit.log_likelihood.is_finite());
    let psi = fit.params.get("psi").unwrap();
    assert!(psi[[2]] < 1e-5, "constant column's noise {}", psi[[2]]);
    let opts0 = FitOptions {
        m_step: MStepConfig { reg_covar: 0.0 },
        ..FitOptions::default()
    };
    match jensen::fit(&PlanModel::new(&fa, &bound), &opts0) {
        Err(e @ FitError::Numerical { .. }) => {
            assert!(e.to_string().contains("`reg_covar`"), "{e}")
        }
        Ok(f) => assert!(f.log_likelihood.is_finite()),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Starting loadings with a zero column would never move (W = 0 is a fixed point of EM):
/// refused with the parameter and the column named.
#[test]
fn zero_starting_loadings_are_refused() {
    let p = plan("ppca_iris");
    let iris = std::fs::read_to_string(root().join("data/iris.csv")).unwrap();
    let bound = jensen::bind(&p, &table("iris.csv", &iris), &opts(&[])).unwrap();
    let model = PlanModel::new(&p, &bound);
    let mut params = DynParams::default();
    let mut w = ArrayD::from_elem(IxDyn(&[4, 2]), 0.5);
    for i in 0..4 {
        w[[i, 1]] = 0.0;
    }
    params.insert("W", w);
    params.insert("mu", ArrayD::zeros(IxDyn(&[4])));
    params.insert("s2", DynParams::scalar(1.0));
    let e = model.check_params(&params).unwrap_err();
    assert!(
        e.contains("loadings `W`") && e.contains("zero column 1"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// Sizes that would exhaust memory: refused at binding, before anything of their size is
// allocated (binding computes the sizes and an estimate; nothing here allocates them).

/// The text of `data/geyser_classes.csv` with the cell of data row `row` (1-based) replaced.
fn geyser_classes_with(row: usize, cell: &str) -> String {
    let text = std::fs::read_to_string(root().join("data/geyser_classes.csv")).expect("csv");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[row] = cell;
    lines.join("\n") + "\n"
}

fn memory_opts(consts: &[(&str, usize)], limit: Option<u64>) -> BindOptions {
    BindOptions {
        memory_limit: limit,
        ..opts(consts)
    }
}

#[test]
fn a_category_code_beyond_any_machine_is_refused_naming_the_cell() {
    // One code of 10^11 makes C = 10^11 + 1: `q` alone would be 2 × 10^11 numbers.
    let t = table("classes.csv", &geyser_classes_with(3, "100000000000"));
    for limit in [None, Some(64 << 30)] {
        let err = jensen::bind(&plan("hmm_categorical"), &t, &memory_opts(&[], limit))
            .expect_err("refused");
        let BindError::Memory {
            driver,
            needed,
            limit: bound,
            limit_from,
            largest,
        } = &err
        else {
            panic!("expected BindError::Memory, got {err:?}");
        };
        assert_eq!(
            **driver,
            SizeSource::Cell {
                file: "classes.csv".into(),
                row: 3,
                line: 4,
                column: "eruption".into(),
                value: 1e11,
                set: "C".into(),
                item: "eruption".into(),
            }
        );
        assert!(*needed > 3.2e12 && *needed > *bound as f64, "{needed}");
        if limit.is_some() {
            assert_eq!(limit_from, "the given bound");
            assert_eq!(*bound, 64 << 30);
        }
        assert!(
            largest.contains("`q`") || largest.contains("ln_q"),
            "{largest}"
        );
        let msg = err.to_string();
        assert_names_place(&msg, "classes.csv", 3, 4, "eruption");
        assert!(
            msg.contains(
                "the code 100000000000 makes `C` = 100000000001 categories of data `eruption`"
            ),
            "{msg}"
        );
        assert!(msg.contains("--max-memory"), "{msg}");
        assert!(msg.contains("recode the column"), "{msg}");
    }
}

#[test]
fn a_category_code_far_above_the_rows_is_refused_when_it_costs_a_lot() {
    // C = 2·10^7 + 1 with 299 rows: a few GiB, within many machines, but most of those
    // categories cannot occur. (Whatever the machine, this is refused: by the memory
    // available, or as suspicious.)
    let t = table("classes.csv", &geyser_classes_with(7, "20000000"));
    let err =
        jensen::bind(&plan("hmm_categorical"), &t, &memory_opts(&[], None)).expect_err("refused");
    let driver = match &err {
        BindError::SuspiciousCategories { driver, rows, .. } => {
            assert_eq!(*rows, 299);
            let msg = err.to_string();
            assert!(msg.contains("more categories than the 299 rows"), "{msg}");
            assert!(
                msg.contains("if the codes are right, allow it with --max-memory"),
                "{msg}"
            );
            driver
        }
        BindError::Memory { driver, .. } => driver,
        other => panic!("expected a memory error, got {other:?}"),
    };
    assert!(
        matches!(&**driver, SizeSource::Cell { row: 7, line: 8, value, .. } if *value == 2e7),
        "{driver:?}"
    );
    assert_names_place(&err.to_string(), "classes.csv", 7, 8, "eruption");
    // With a bound given, the codes are taken as meant.
    jensen::bind(
        &plan("hmm_categorical"),
        &t,
        &memory_opts(&[], Some(64 << 30)),
    )
    .expect("within the given bound");
}

#[test]
fn unobserved_categories_of_modest_size_are_accepted() {
    // A code of 1000 with 299 rows: most categories unobserved, but cheap.
    let t = table("classes.csv", &geyser_classes_with(5, "1000"));
    let p = plan("hmm_categorical");
    let bound = jensen::bind(&p, &t, &BindOptions::default()).expect("cheap enough");
    let c = p.model.sets.iter().position(|s| s.name == "C").unwrap();
    assert_eq!(bound.sizes[c], 1001);
}

#[test]
fn a_constant_override_too_large_is_named() {
    let t = table("faithful.csv", &faithful());
    let err = bind_error("gmm", &t, &[("K", 100_000_000_000)]);
    let BindError::Memory { driver, .. } = &err else {
        panic!("expected BindError::Memory, got {err:?}");
    };
    assert_eq!(
        **driver,
        SizeSource::Const {
            name: "K".into(),
            value: 100_000_000_000,
            overridden: true
        }
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("`--set K=100000000000`: a fit would need at least "),
        "{msg}"
    );
    assert!(msg.contains("pass a smaller value to `--set K=…`"), "{msg}");
}

#[test]
fn a_model_constant_too_large_for_the_bound_is_named() {
    // The model's own value (1e6 categories: `q` is 2 × 10^6 numbers, 16 MB) against a
    // bound of 16 MiB.
    let source = std::fs::read_to_string(root().join("models/hmm_categorical.em"))
        .unwrap()
        .replace(
            "const K: int = 2",
            "const K: int = 2\nconst C: int = 1000000",
        );
    let p = jensen::compile(&source).expect("compiles").0;
    let t = table("classes.csv", &geyser_classes_with(1, "1"));
    let err = jensen::bind(&p, &t, &memory_opts(&[], Some(16 << 20))).expect_err("refused");
    let BindError::Memory {
        driver, limit_from, ..
    } = &err
    else {
        panic!("expected BindError::Memory, got {err:?}");
    };
    assert_eq!(
        **driver,
        SizeSource::Const {
            name: "C".into(),
            value: 1_000_000,
            overridden: false
        }
    );
    assert_eq!(limit_from, "the given bound");
    let msg = err.to_string();
    assert!(
        msg.starts_with("constant `C` = 1000000 (the model's value): a fit would need at least "),
        "{msg}"
    );
    assert!(msg.contains("more than the given bound (16 MiB)"), "{msg}");
    assert!(msg.contains("lower the constant `C` in the model"), "{msg}");
    // Within a larger bound it binds.
    jensen::bind(&p, &t, &memory_opts(&[], Some(1 << 30))).expect("within 1 GiB");
}

// ---------------------------------------------------------------------------------------
// Values that would overflow the statistics

#[test]
fn a_value_whose_square_overflows_names_the_cell() {
    let mut text = faithful();
    text = text.replacen("1.8,54", "1.8,1e308", 1);
    let t = table("huge.csv", &text);
    let err = bind_error("gmm", &t, &[]);
    let (value, expected) = assert_bad_value(&err, "huge.csv", 2, "waiting", "x");
    assert_eq!(value, 1e308);
    assert!(expected.contains("magnitude at most 1e150"), "{expected}");
    let msg = err.to_string();
    assert!(
        msg.contains("huge.csv, row 2 (line 3), column `waiting`: 1e308 is not a number of magnitude at most 1e150"),
        "{msg}"
    );
    assert!(msg.contains("rescale the column"), "{msg}");
    // Negative, and in a diagonal model and a chain alike.
    let t = table("huge.csv", &faithful().replacen("3.6,79", "-2e200,79", 1));
    for model in ["gmm_diag", "hmm_gaussian"] {
        let err = bind_error(model, &t, &[]);
        assert_bad_value(&err, "huge.csv", 1, "eruptions", "x");
        assert!(err.to_string().contains("-2e200 is not"), "{err}");
    }
    // Up to 1e150 is data.
    let t = table("big.csv", &faithful().replacen("1.8,54", "1.8,1e150", 1));
    jensen::bind(&plan("gmm"), &t, &BindOptions::default()).expect("1e150 is admitted");
}

#[test]
fn positive_data_out_of_range_names_the_cell() {
    for (cell, what) in [
        ("1e300", "magnitude at most 1e150"),
        ("1e-300", "at least 1e-150"),
    ] {
        let t = table(
            "waits.csv",
            &faithful().replacen("3.6,79", &format!("3.6,{cell}"), 1),
        );
        let err = bind_error("exponential_mix", &t, &[]);
        let (_, expected) = assert_bad_value(&err, "waits.csv", 1, "waiting", "waiting");
        assert!(expected.contains(what), "{cell}: {expected}");
        assert!(err.to_string().contains(&format!("{cell} is not")), "{err}");
    }
}

#[test]
fn counts_beyond_exact_integers_name_the_cell() {
    let t = table("counts.csv", "year,discoveries\n1860,5\n1861,1e300\n");
    let err = bind_error("poisson_mix", &t, &[]);
    let (value, expected) = assert_bad_value(&err, "counts.csv", 2, "discoveries", "discoveries");
    assert_eq!(value, 1e300);
    assert!(expected.contains("below 2^53"), "{expected}");
    assert!(err.to_string().contains("1e300 is not"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Line numbers and the header

/// Faithful's first 16 rows with blank lines after the header and after rows 5 and 10 (so
/// data row 15 is on line 19), with `cell` in place of row 15's `waiting`.
fn faithful_with_blank_lines(cell: &str) -> String {
    let text = faithful();
    let mut out = String::new();
    for (i, line) in text.lines().take(17).enumerate() {
        // Line `i` holds data row `i` (row 0: the header).
        if i == 15 {
            let (eruptions, _) = line.split_once(',').unwrap();
            out.push_str(&format!("{eruptions},{cell}\n"));
        } else {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if [0, 5, 10].contains(&i) {
            out.push('\n');
        }
    }
    out
}

#[test]
fn blank_lines_do_not_shift_line_numbers() {
    let text = faithful_with_blank_lines("x9");
    assert_eq!(text.lines().nth(18).unwrap(), "4.7,x9", "row 15 on line 19");
    let err = csv_error("blank_lines.csv", text.as_bytes());
    assert!(
        matches!(&err, CsvError::BadCell { row: 15, line: 19, column, .. } if column == "waiting"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("blank_lines.csv, row 15 (line 19), column `waiting`: `x9`"),
        "{err}"
    );
    // A value refused at binding.
    let t = table("blank_lines.csv", &faithful_with_blank_lines("-inf"));
    assert_eq!(t.n_rows, 16);
    let err = bind_error("gmm", &t, &[]);
    assert!(
        matches!(
            &err,
            BindError::BadValue {
                row: 15,
                line: 19,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names_place(&err.to_string(), "blank_lines.csv", 15, 19, "waiting");
    // Rows before the first blank line keep their lines.
    let text = faithful_with_blank_lines("79").replacen("\n\n", "\n", 1);
    let text = text.replacen("3.333,74", "3.333,x", 1);
    let err = csv_error("blank_lines.csv", text.as_bytes());
    assert!(
        matches!(
            &err,
            CsvError::BadCell {
                row: 3,
                line: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn blank_lines_do_not_shift_label_and_memory_lines() {
    let mut text = String::from("eruption\n0\n\n1\n\n\n2\n");
    text.push_str("100000000000\n");
    let t = table("classes.csv", &text);
    assert_eq!(t.lines, [2, 4, 7, 8]);
    let err = jensen::bind(
        &plan("hmm_categorical"),
        &t,
        &memory_opts(&[], Some(1 << 30)),
    )
    .expect_err("refused");
    let BindError::Memory { driver, .. } = &err else {
        panic!("expected BindError::Memory, got {err:?}");
    };
    assert!(
        matches!(
            **driver,
            SizeSource::Cell {
                row: 4,
                line: 8,
                ..
            }
        ),
        "{driver:?}"
    );
    // A label beyond a constant's categories (labels from text).
    let source = std::fs::read_to_string(root().join("models/hmm_categorical.em"))
        .unwrap()
        .replace("const K: int = 2", "const K: int = 2\nconst C: int = 2");
    let p = jensen::compile(&source).expect("compiles").0;
    let t = table("labels.csv", "eruption\na\n\nb\n\nc\n");
    let err = jensen::bind(&p, &t, &BindOptions::default()).expect_err("3 labels, C = 2");
    assert!(
        matches!(
            &err,
            BindError::BadLabel {
                row: 3,
                line: 6,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_trailing_delimiter_adds_no_column() {
    let text: String = faithful()
        .lines()
        .map(|l| format!("{},\n", l.trim_end()))
        .collect();
    let t = table("trailing.csv", &text);
    assert_eq!(t.headers, ["eruptions", "waiting"]);
    assert_eq!(t.columns.len(), 2);
    let p = plan("gmm");
    let bound = jensen::bind(&p, &t, &BindOptions::default()).expect("binds");
    let x = p.model.vars.iter().position(|v| v.name == "x").unwrap();
    assert_eq!(bound.item(x).columns, ["eruptions", "waiting"]);
    // Two trailing delimiters, and an unnamed empty column in the middle.
    let t = table("trailing.csv", "a,,b,,\n1,,2,,\n3, ,4,,\n");
    assert_eq!(t.headers, ["a", "b"]);
    assert_eq!(t.columns, [Some(vec![1.0, 3.0]), Some(vec![2.0, 4.0])]);
}

#[test]
fn an_unnamed_column_with_data_is_named_by_position() {
    let err = csv_error("unnamed.csv", b"a,,b\n1,,2\n3,7,4\n");
    let CsvError::UnnamedColumn {
        file,
        position,
        row,
        line,
        cell,
    } = &err
    else {
        panic!("expected UnnamedColumn, got {err:?}");
    };
    assert_eq!(
        (file.as_str(), *position, *row, *line, cell.as_str()),
        ("unnamed.csv", 2, 2, 3, "7")
    );
    assert!(
        err.to_string().starts_with(
            "unnamed.csv, row 2 (line 3): column 2 has no name in the header, but holds `7`: name it in the header line"
        ),
        "{err}"
    );
    // Trailing, with data.
    let err = csv_error("unnamed.csv", b"a,b,\n1,2,3\n");
    assert!(
        matches!(
            &err,
            CsvError::UnnamedColumn {
                position: 3,
                row: 1,
                line: 2,
                ..
            }
        ),
        "{err:?}"
    );
}
