//! End-to-end tests of the `jensen` binary: `fit`, `decode`, `check`, `explain` and `generate`, run
//! from the repository root on the model files in `models/` and the data in `data/`.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root (model and data paths below are relative to it).
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs `jensen ARGS` from the repository root.
fn jensen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jensen"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("run the jensen binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `jensen ARGS` and asserts it exits 0; returns stdout.
fn jensen_ok(args: &[&str]) -> String {
    let out = jensen(args);
    assert!(
        out.status.success(),
        "jensen {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The summary line of a fit's output (`log-likelihood … · … converged · …`), up to the time
/// it took.
fn summary_line(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with("log-likelihood"))
        .expect("summary");
    line.rsplit_once(" · ").expect("a time").0.to_string()
}

/// Two CSV files of numbers with the same header, `b`'s every cell within 1e-9 (relative)
/// of `a`'s.
fn same_numbers(a: &str, b: &str) {
    assert_eq!(a.lines().next(), b.lines().next(), "the same columns");
    assert_eq!(a.lines().count(), b.lines().count(), "the same rows");
    for (x, y) in a.lines().zip(b.lines()).skip(1) {
        for (u, v) in x.split(',').zip(y.split(',')) {
            let (u, v): (f64, f64) = (u.parse().unwrap(), v.parse().unwrap());
            assert!((u - v).abs() <= 1e-9 * u.abs().max(1.0), "{x} vs {y}");
        }
    }
}

/// Runs `jensen ARGS` and asserts it fails with a classified status — 2 (bad options), 3
/// (numerical failure), 4 (bad model) or 5 (bad data), not 1 (unclassified), 101 (a panic)
/// or a signal — and an error message; returns stderr.
fn jensen_fails(args: &[&str]) -> String {
    let out = jensen(args);
    assert!(
        matches!(out.status.code(), Some(2..=5)) && !stderr(&out).is_empty(),
        "jensen {args:?} should fail with status 2 to 5, got {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// Runs `jensen ARGS` and asserts it exits with `code`; returns stderr.
fn jensen_exits(code: i32, args: &[&str]) -> String {
    let out = jensen(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "jensen {args:?} should exit {code}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("jensen-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// A path inside the directory, as a string for the command line.
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The shape of a nested JSON array of numbers.
fn shape(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(items) => {
            let mut s = vec![items.len()];
            if let Some(first) = items.first() {
                let inner = shape(first);
                for item in items {
                    assert_eq!(shape(item), inner, "ragged array {v}");
                }
                s.extend(inner);
            }
            s
        }
        Value::Number(_) => Vec::new(),
        other => panic!("not a number or an array: {other}"),
    }
}

/// Every number in a nested JSON array.
fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().expect("f64")],
        other => panic!("not a number or an array: {other}"),
    }
}

/// The raw text of a top-level key's value in a pretty-printed JSON document.
fn raw_value<'t>(text: &'t str, key: &str) -> &'t str {
    let start_tag = format!("\n  \"{key}\": ");
    let start = text.find(&start_tag).expect("key present") + start_tag.len();
    let rest = &text[start..];
    // The next top-level key, or the closing brace of the document.
    let end = rest
        .find("\n  \"")
        .or_else(|| rest.rfind("\n}"))
        .expect("value ends");
    &rest[..end]
}

// ---------------------------------------------------------------------------------------
// fit

#[test]
fn fit_prints_the_elbo_table_and_the_log_likelihood() {
    let out = jensen_ok(&["fit", "models/gmm.em", "--data", "data/faithful.csv"]);
    assert!(
        out.contains("model gmm on data/faithful.csv (272 rows)"),
        "{out}"
    );
    assert!(out.contains("ELBO (= log-lik)"), "{out}");
    assert!(out.contains("iter"), "{out}");
    // The table starts at iteration 0 and each later row shows the change.
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<usize>().is_ok())
        })
        .collect();
    assert!(rows.len() >= 2, "{out}");
    assert!(rows[0].trim_start().starts_with("0 "), "{out}");
    assert!(rows[1].contains("e"), "change column: {out}");
    assert!(out.contains("log-likelihood -1130.26"), "{out}");
    assert!(out.contains("converged"), "{out}");
    for name in ["w = ", "mu = ", "Sigma = "] {
        assert!(out.contains(name), "{name} missing: {out}");
    }
}

#[test]
fn fit_quiet_prints_only_the_summary() {
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--quiet",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("log-likelihood -1130.26"), "{out}");
}

#[test]
fn fit_writes_the_json_document() {
    let tmp = TempDir::new("fit_json");
    let json = tmp.file("fit.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &json,
        "--quiet",
    ]);
    let doc = read_json(&json);
    for key in [
        "log_likelihood",
        "elbo_trace",
        "iterations",
        "converged",
        "bic",
        "aic",
        "params",
    ] {
        assert!(doc.get(key).is_some(), "key {key} missing: {doc}");
    }
    let ll = doc["log_likelihood"].as_f64().unwrap();
    assert!((ll - -1130.264).abs() < 0.01, "log-likelihood {ll}");

    let trace: Vec<f64> = doc["elbo_trace"]
        .as_array()
        .expect("elbo_trace is an array")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(!trace.is_empty());
    for pair in trace.windows(2) {
        assert!(pair[1] >= pair[0], "ELBO decreased: {trace:?}");
    }
    let prior = doc["log_prior"].as_f64().unwrap();
    assert!(prior < 0.0 && prior > -1e-3, "log prior {prior}");
    assert_eq!(
        *trace.last().unwrap(),
        ll + prior,
        "the last entry of the trace is the penalised objective"
    );
    assert_eq!(doc["status"], "converged");
    let iterations = doc["iterations"].as_u64().expect("iterations") as usize;
    assert_eq!(trace.len(), iterations + 1);
    assert_eq!(doc["converged"], Value::Bool(true));

    let (bic, aic) = (doc["bic"].as_f64().unwrap(), doc["aic"].as_f64().unwrap());
    let p = doc["free_parameters"].as_u64().unwrap() as f64;
    assert_eq!(p, 11.0, "2 weights - 1 + 2x2 means + 2x3 covariances");
    assert!((aic - (-2.0 * ll + 2.0 * p)).abs() < 1e-9);
    assert!((bic - (-2.0 * ll + p * 272f64.ln())).abs() < 1e-9);

    let params = &doc["params"];
    assert_eq!(shape(&params["w"]), [2]);
    assert_eq!(shape(&params["mu"]), [2, 2]);
    assert_eq!(shape(&params["Sigma"]), [2, 2, 2]);
    let w = numbers(&params["w"]);
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{w:?}");
    assert_eq!(doc["n_rows"], 272);
    assert_eq!(doc["constants"]["K"], 2);
    assert_eq!(doc["assignments"].as_array().unwrap().len(), 272);
}

#[test]
fn set_k_and_init_from_a_previous_fit() {
    let tmp = TempDir::new("set_k_init");
    let first = tmp.file("fit.json");
    let again = tmp.file("again.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--out",
        &first,
        "--quiet",
    ]);
    let doc = read_json(&first);
    assert_eq!(shape(&doc["params"]["w"]), [3]);
    assert_eq!(shape(&doc["params"]["mu"]), [3, 4]);
    assert_eq!(shape(&doc["params"]["Sigma"]), [3, 4, 4]);
    assert_eq!(doc["constants"]["K"], 3);

    // Starting from the fitted parameters with no iteration gives back their log-likelihood.
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--init",
        &first,
        "--max-iter",
        "0",
        "--out",
        &again,
        "--quiet",
    ]);
    let redo = read_json(&again);
    let (a, b) = (
        doc["log_likelihood"].as_f64().unwrap(),
        redo["log_likelihood"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * a.abs(), "{a} vs {b}");
    assert_eq!(redo["iterations"], 0);
    assert_eq!(redo["params"], doc["params"]);
}

#[test]
fn init_with_the_wrong_number_of_components_names_the_parameter() {
    let tmp = TempDir::new("init_wrong_k");
    let k3 = tmp.file("k3.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--out",
        &k3,
        "--quiet",
    ]);
    // The model's default K is 2.
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--init",
        &k3,
    ]);
    assert!(err.contains(&k3), "{err}");
    assert!(err.contains("`w`") && err.contains("shape"), "{err}");
}

#[test]
fn init_with_a_value_that_is_not_numbers_names_it() {
    let tmp = TempDir::new("init_not_numbers");
    let init = tmp.file("init.json");
    std::fs::write(
        &init,
        r#"{"case": "a note", "w": [0.5, 0.5], "mu": [[1, 2], [3, 4]]}"#,
    )
    .unwrap();
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--init",
        &init,
    ]);
    assert!(
        err.contains(&init) && err.contains("`case` is not a parameter value"),
        "{err}"
    );
    assert!(!err.contains("untagged"), "{err}");
}

#[test]
fn thread_count_does_not_change_the_result() {
    let tmp = TempDir::new("threads");
    let mut texts = Vec::new();
    for threads in ["1", "2"] {
        let path = tmp.file(&format!("t{threads}.json"));
        jensen_ok(&[
            "fit",
            "models/gmm.em",
            "--data",
            "data/iris.csv",
            "--set",
            "K=3",
            "--seed",
            "7",
            "--restarts",
            "3",
            "--threads",
            threads,
            "--out",
            &path,
            "--quiet",
        ]);
        texts.push(std::fs::read_to_string(&path).unwrap());
    }
    assert_eq!(
        raw_value(&texts[0], "params"),
        raw_value(&texts[1], "params"),
        "params differ between 1 and 2 threads"
    );
    assert!(raw_value(&texts[0], "params").contains("\"Sigma\""));
    for key in [
        "log_likelihood",
        "elbo_trace",
        "restart",
        "restart_log_likelihoods",
    ] {
        assert_eq!(
            raw_value(&texts[0], key),
            raw_value(&texts[1], key),
            "{key} differs"
        );
    }
    let doc = serde_json::from_str::<Value>(&texts[0]).unwrap();
    assert_eq!(
        doc["restart_log_likelihoods"].as_array().unwrap().len(),
        3,
        "one final log-likelihood per restart"
    );
}

/// More rows than one parallel task (4096), so the E-step statistics of several chunks are
/// merged: still the same bits with 1 or 3 threads.
#[test]
fn thread_count_does_not_change_a_multi_chunk_result() {
    let tmp = TempDir::new("threads_chunks");
    let csv = tmp.file("big.csv");
    let faithful = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).unwrap();
    let mut text = String::from("eruptions,waiting\n");
    for copy in 0..40 {
        for line in faithful.lines().skip(1) {
            let (e, w) = line.split_once(',').unwrap();
            let jitter = copy as f64 * 1e-3;
            text.push_str(&format!(
                "{},{}\n",
                e.parse::<f64>().unwrap() + jitter,
                w.parse::<f64>().unwrap() - jitter
            ));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let mut texts = Vec::new();
    for threads in ["1", "3"] {
        let path = tmp.file(&format!("t{threads}.json"));
        jensen_ok(&[
            "fit",
            "models/gmm.em",
            "--data",
            &csv,
            "--seed",
            "3",
            "--restarts",
            "2",
            "--threads",
            threads,
            "--out",
            &path,
            "--quiet",
        ]);
        texts.push(std::fs::read_to_string(&path).unwrap());
    }
    let doc = serde_json::from_str::<Value>(&texts[0]).unwrap();
    assert_eq!(doc["n_rows"], 272 * 40);
    for key in ["params", "log_likelihood", "elbo_trace"] {
        assert_eq!(
            raw_value(&texts[0], key),
            raw_value(&texts[1], key),
            "{key} differs between 1 and 3 threads"
        );
    }
}

#[test]
fn posterior_csv_has_one_row_per_data_row() {
    let tmp = TempDir::new("posterior");
    let post = tmp.file("post.csv");
    let summary = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--posterior",
        &post,
        "--quiet",
    ]);
    let text = std::fs::read_to_string(&post).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("r0,r1,assignment,log_likelihood"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 272);
    let mut total = 0.0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 4, "row {i}");
        assert!(row.iter().all(|v| v.is_finite()), "row {i}: {row:?}");
        assert!((row[0] + row[1] - 1.0).abs() < 1e-9, "row {i}: {row:?}");
        let assignment = row[2] as usize;
        assert!(assignment < 2);
        assert!(row[assignment] >= row[1 - assignment], "row {i}: {row:?}");
        total += row[3];
    }
    // Per-row log-likelihoods add up to the reported total.
    assert!((total - -1130.264).abs() < 0.01, "{total}");
    assert!(summary.contains("log-likelihood -1130.26"), "{summary}");
}

// ---------------------------------------------------------------------------------------
// Errors of fit

#[test]
fn bad_cell_error_names_file_row_and_column() {
    let tmp = TempDir::new("bad_cell");
    let csv = tmp.file("bad.csv");
    std::fs::write(&csv, "eruptions,waiting\n3.6,79\n1.8,abc\n3.3,74\n").unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &csv]);
    assert!(err.contains(&csv), "file: {err}");
    assert!(err.contains("row 2"), "row: {err}");
    assert!(err.contains("line 3"), "line: {err}");
    assert!(err.contains("`waiting`"), "column: {err}");
    assert!(err.contains("`abc` is not a number"), "{err}");
}

#[test]
fn bad_value_error_names_file_row_and_column() {
    let tmp = TempDir::new("bad_value");
    let csv = tmp.file("counts.csv");
    std::fs::write(&csv, "year,discoveries\n1860,5\n1861,2.5\n").unwrap();
    let err = jensen_fails(&["fit", "models/poisson_mix.em", "--data", &csv]);
    assert!(err.contains(&csv), "file: {err}");
    assert!(err.contains("row 2"), "row: {err}");
    assert!(err.contains("`discoveries`"), "column: {err}");
    assert!(err.contains("a count"), "{err}");
}

#[test]
fn missing_data_file_cannot_be_read() {
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", "data/no_such_file.csv"]);
    assert!(err.contains("cannot read"), "{err}");
    assert!(err.contains("data/no_such_file.csv"), "{err}");
}

#[test]
fn missing_model_file_cannot_be_read() {
    let err = jensen_fails(&[
        "fit",
        "models/no_such_model.em",
        "--data",
        "data/faithful.csv",
    ]);
    assert!(err.contains("cannot read"), "{err}");
    assert!(err.contains("models/no_such_model.em"), "{err}");
}

#[test]
fn missing_column_lists_the_available_columns() {
    let tmp = TempDir::new("missing_column");
    let csv = tmp.file("quakes.csv");
    std::fs::write(&csv, "lat,long,depth,mag\n-20.42,181.62,562,4.8\n").unwrap();
    let err = jensen_fails(&["fit", "models/quakes_mixed.em", "--data", &csv]);
    assert!(err.contains(&csv), "{err}");
    assert!(err.contains("`stations`"), "{err}");
    assert!(err.contains("lat, long, depth, mag"), "{err}");
}

#[test]
fn bad_constants_are_rejected() {
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "K=0",
    ]);
    assert!(err.contains("`K`") && err.contains("at least 1"), "{err}");
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "J=3",
    ]);
    assert!(
        err.contains("`J`") && err.contains("not a constant"),
        "{err}"
    );
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "K=two",
    ]);
    assert!(err.contains("whole number"), "{err}");
}

#[test]
fn fewer_rows_than_components_is_reported() {
    let tmp = TempDir::new("few_rows");
    let csv = tmp.file("two.csv");
    std::fs::write(&csv, "eruptions,waiting\n3.6,79\n1.8,54\n").unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &csv, "--set", "K=3"]);
    assert!(err.contains("fewer than the 3 components"), "{err}");
}

/// `data/geyser_classes.csv` with data row `row` replaced by `cell`, written to `path`.
fn geyser_classes_with(path: &str, row: usize, cell: &str) {
    let text = std::fs::read_to_string(format!("{ROOT}/data/geyser_classes.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[row] = cell;
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_huge_category_code_is_refused_before_anything_is_allocated() {
    let tmp = TempDir::new("huge_code");
    let csv = tmp.file("classes.csv");
    geyser_classes_with(&csv, 3, "100000000000");
    let err = jensen_fails(&["fit", "models/hmm_categorical.em", "--data", &csv]);
    let place = format!(
        "error: {csv}, row 3 (line 4), column `eruption`: the code 100000000000 makes `C` = 100000000001 categories of data `eruption`: a fit would need at least "
    );
    assert!(err.starts_with(&place), "{err}");
    assert!(
        err.contains("(the largest is the parameter `q`, 2 × 100000000001 numbers (1.5 TiB))"),
        "{err}"
    );
    assert!(
        err.contains("category codes are 0, 1, …, C − 1, so the largest code sets `C`: correct the cell, recode the column to consecutive codes, or give the categories as text labels, or raise the bound with --max-memory"),
        "{err}"
    );
    // Also against a given bound.
    let err = jensen_fails(&[
        "fit",
        "models/hmm_categorical.em",
        "--data",
        &csv,
        "--max-memory",
        "64G",
    ]);
    assert!(err.starts_with(&place), "{err}");
    assert!(err.contains("more than the given bound (64 GiB)"), "{err}");
}

#[test]
fn a_category_code_far_above_the_rows_is_allowed_with_a_bound() {
    let tmp = TempDir::new("far_code");
    let csv = tmp.file("classes.csv");
    // C = 3001 for 299 rows: unobserved categories, but cheap.
    geyser_classes_with(&csv, 7, "3000");
    let out = jensen_ok(&[
        "fit",
        "models/hmm_categorical.em",
        "--data",
        &csv,
        "--quiet",
    ]);
    assert!(out.contains("6003 free parameters"), "{out}");
    // A bound too small for it names the cell.
    let err = jensen_fails(&[
        "fit",
        "models/hmm_categorical.em",
        "--data",
        &csv,
        "--max-memory",
        "64K",
    ]);
    assert!(
        err.starts_with(&format!("error: {csv}, row 7 (line 8), column `eruption`: the code 3000 makes `C` = 3001 categories")),
        "{err}"
    );
    assert!(err.contains("more than the given bound (64 KiB)"), "{err}");
}

#[test]
fn a_constant_too_large_is_named() {
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "K=1000000000",
    ]);
    assert!(
        err.starts_with("error: `--set K=1000000000`: a fit would need at least "),
        "{err}"
    );
    assert!(
        err.contains("; pass a smaller value to `--set K=…`, or raise the bound with --max-memory"),
        "{err}"
    );
    // Beyond 2^31 − 1 the size itself is refused, before any estimate.
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "K=100000000000",
    ]);
    assert!(err.contains("must be at most 2147483647"), "{err}");
    let tmp = TempDir::new("const_c");
    let model = tmp.file("hmm.em");
    let source = std::fs::read_to_string(format!("{ROOT}/models/hmm_categorical.em"))
        .unwrap()
        .replace(
            "const K: int = 2",
            "const K: int = 2\nconst C: int = 1000000",
        );
    std::fs::write(&model, source).unwrap();
    let args = [
        "fit",
        &model,
        "--data",
        "data/geyser_classes.csv",
        "--quiet",
    ];
    let err = jensen_fails(&[&args[..], &["--max-memory", "16M"]].concat());
    assert!(
        err.starts_with(
            "error: constant `C` = 1000000 (the model's value): a fit would need at least "
        ),
        "{err}"
    );
    assert!(
        err.contains("more than the given bound (16 MiB); lower the constant `C` in the model, or override it with `--set C=…`, or raise the bound with --max-memory"),
        "{err}"
    );
    let err = jensen_fails(&[&args[..], &["--max-memory", "16M", "--set", "C=2000000"]].concat());
    assert!(err.starts_with("error: `--set C=2000000`: "), "{err}");
    jensen_ok(&[&args[..], &["--set", "C=3"]].concat());
    let out = jensen(&[&args[..], &["--max-memory", "lots"]].concat());
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr(&out);
    assert!(
        err.contains("`lots`: expected a size such as `64G`"),
        "{err}"
    );
}

#[test]
fn a_value_that_overflows_the_statistics_names_the_cell() {
    let tmp = TempDir::new("huge_value");
    let csv = tmp.file("faithful.csv");
    let text = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv"))
        .unwrap()
        .replacen("1.8,54", "1.8,1e308", 1);
    std::fs::write(&csv, text).unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &csv]);
    assert_eq!(
        err.trim_end(),
        format!("error: {csv}, row 2 (line 3), column `waiting`: 1e308 is not a number of magnitude at most 1e150 — beyond it squares and sums of squares overflow the statistics; rescale the column (e.g. change its units) (data `x`)")
    );
}

#[test]
fn blank_lines_keep_the_file_line_of_a_bad_cell() {
    let tmp = TempDir::new("blank_lines");
    let csv = tmp.file("blank.csv");
    // Row 15 is on line 19: blank lines after the header and after rows 5 and 10.
    let mut text = String::from("eruptions,waiting\n\n");
    for row in 1..=15 {
        let waiting = if row == 15 {
            "7x".to_string()
        } else {
            format!("{}", 50 + row)
        };
        text.push_str(&format!("{}.5,{waiting}\n", row % 5 + 1));
        if row == 5 || row == 10 {
            text.push('\n');
        }
    }
    assert_eq!(text.lines().nth(18), Some("1.5,7x"));
    std::fs::write(&csv, &text).unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &csv]);
    assert_eq!(
        err.trim_end(),
        format!("error: {csv}, row 15 (line 19), column `waiting`: `7x` is not a number")
    );
    // A value refused at binding, in a file with CRLF line endings.
    std::fs::write(&csv, text.replace("7x", "-1").replace('\n', "\r\n")).unwrap();
    let err = jensen_fails(&["fit", "models/exponential_mix.em", "--data", &csv]);
    assert!(
        err.starts_with(&format!(
            "error: {csv}, row 15 (line 19), column `waiting`: -1 is not a number above zero"
        )),
        "{err}"
    );
}

#[test]
fn a_trailing_comma_is_not_a_column() {
    let tmp = TempDir::new("trailing_comma");
    let csv = tmp.file("faithful.csv");
    let text: String = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv"))
        .unwrap()
        .lines()
        .map(|l| format!("{},\n", l.trim_end()))
        .collect();
    std::fs::write(&csv, text).unwrap();
    let out = jensen_ok(&["fit", "models/gmm.em", "--data", &csv, "--quiet"]);
    let plain = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--quiet",
    ]);
    let summary = |s: &str| s.split(" · ").take(3).collect::<Vec<_>>().join(" · ");
    assert_eq!(summary(&out), summary(&plain));
    // An unnamed column with data is an error naming its position.
    std::fs::write(&csv, "eruptions,,waiting\n3.6,1,79\n1.8,,54\n").unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &csv]);
    assert_eq!(
        err.trim_end(),
        format!("error: {csv}, row 1 (line 2): column 2 has no name in the header, but holds `1`: name it in the header line (a column with no name is read only when all its cells are empty, as left by a trailing delimiter)")
    );
}

// ---------------------------------------------------------------------------------------
// check, explain, generate

#[test]
fn check_reports_an_unknown_name_with_a_suggestion() {
    let err = jensen_fails(&["check", "tests/err/unknown_name.em"]);
    assert!(err.contains("unknown name"), "{err}");
    assert!(err.contains("did you mean"), "{err}");
    assert!(err.contains("tests/err/unknown_name.em"), "{err}");
}

#[test]
fn check_accepts_a_good_model() {
    let out = jensen_ok(&["check", "models/gmm.em"]);
    assert!(out.contains("models/gmm.em: ok"), "{out}");
}

#[test]
fn explain_prints_the_m_step() {
    let out = jensen_ok(&["explain", "models/gmm.em"]);
    assert!(out.contains("M-step"), "{out}");
    assert!(out.contains("E-step"), "{out}");
    assert!(out.contains("ELBO"), "{out}");
}

#[test]
fn generate_prints_the_model_impl() {
    let out = jensen_ok(&["generate", "models/gmm.em"]);
    assert!(out.contains("impl MixtureModel for GmmModel"), "{out}");
}

/// The header of a Gaussian mixture; a statement for `x` follows.
const GMM: &str = "model m\nconst K: int = 2\ndata x[N]: vector[D]\nparam w: simplex[K]\n\
                   param mu[K]: vector[D]\nparam Sigma[K]: cov[D]\nlatent z[N]: 0..K\n\
                   z[n] ~ Categorical(w)\n";

/// Runs `jensen check FILE` on `text` written to a temporary file; asserts that it exits 4,
/// a bad model (not 101, a panic, nor a signal such as the SIGABRT of a stack overflow) and
/// returns stderr.
fn check_rejects(test: &str, text: &str) -> String {
    let tmp = TempDir::new(test);
    let path = tmp.file("model.em");
    std::fs::write(&path, text).expect("write the model file");
    let out = jensen(&["check", &path]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "jensen check should exit 4, got {:?}\nstderr (start):\n{}",
        out.status,
        stderr(&out).chars().take(2000).collect::<String>()
    );
    stderr(&out)
}

#[test]
fn check_reports_a_line_of_65536_and_of_1000000_characters() {
    for len in [65_536, 1_000_000] {
        let err = check_rejects("long_line", &("a".repeat(len) + "\n"));
        assert!(err.contains("E-syntax") && err.contains(":1:1"), "{err}");
        // The excerpt is a window of the line, not the line.
        assert!(err.lines().all(|l| l.chars().count() < 400), "{err}");
        // An error far to the right of a long line: its column, and the text around it.
        let far = format!(
            "{GMM}{}x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]]) )\n",
            " ".repeat(len)
        );
        let err = check_rejects("long_line_far", &far);
        let column = len + "x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]]) ".len() + 1;
        assert!(err.contains(&format!(":9:{column}")), "{err}");
        let excerpt = err
            .lines()
            .find(|l| l.starts_with(" 9 │ …"))
            .unwrap_or_else(|| panic!("no cut line 9 in\n{err}"));
        assert!(
            excerpt.ends_with("x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]]) )"),
            "{err}"
        );
        assert!(err.lines().all(|l| l.chars().count() < 400), "{err}");
    }
}

#[test]
fn check_reports_deep_nesting_without_overflowing_the_stack() {
    let deep = [
        format!(
            "{GMM}x[n] ~ MvNormal({}mu[z[n]]{}, Sigma[z[n]])\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
        format!(
            "{GMM}x[n] ~ MvNormal(mu[{}n{}], Sigma[z[n]])\n",
            "z[".repeat(10_000),
            "]".repeat(10_000)
        ),
        format!(
            "{GMM}x[n] ~ MvNormal({}, Sigma[z[n]])\n",
            vec!["mu[z[n]]"; 10_000].join(" + ")
        ),
    ];
    for text in &deep {
        let err = check_rejects("deep", text);
        assert!(
            err.contains("E-nesting") && err.contains("deeper than"),
            "{err}"
        );
        assert!(
            err.contains("m.em:9:") || err.contains("model.em:9:"),
            "{err}"
        );
        assert!(err.contains("help:"), "{err}");
    }
}

#[test]
fn check_rejects_absurd_sizes_and_fit_rejects_them_in_set() {
    let big = GMM.replace("const K: int = 2", "const K: int = 100000000000")
        + "x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])\n";
    let err = check_rejects("big_const", &big);
    assert!(
        err.contains("E-const-value") && err.contains("model.em:2:16"),
        "{err}"
    );
    assert!(err.contains("too large"), "{err}");
    for value in ["0", "100000000000", "99999999999999999999999"] {
        let err = jensen_fails(&[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--set",
            &format!("K={value}"),
        ]);
        assert!(
            err.contains(&format!("--set K={value}: `K` must be")),
            "{err}"
        );
    }
}

#[test]
fn every_command_reports_a_missing_model_file() {
    for cmd in ["check", "explain", "generate"] {
        let err = jensen_fails(&[cmd, "models/no_such_model.em"]);
        assert!(err.contains("cannot read"), "{cmd}: {err}");
    }
}

/// A chain fit stores its Viterbi path; `decode` recomputes it from the saved fit, with the
/// sequence split given on the command line.
#[test]
fn hmm_fit_then_decode() {
    let dir = TempDir::new("hmm-decode");
    let fit = dir.file("fit.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        "data/geyser.csv",
        "--lengths",
        "100,99,100",
        "--quiet",
        "--out",
        &fit,
    ]);
    let doc = read_json(&fit);
    assert_eq!(doc["sequences"], serde_json::json!([100, 99, 100]));
    let path: Vec<u64> = doc["viterbi"]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(path.len(), 299);
    let decoded = dir.file("decoded.csv");
    jensen_ok(&[
        "decode",
        &fit,
        "--data",
        "data/geyser.csv",
        "--lengths",
        "100,99,100",
        "--out",
        &decoded,
    ]);
    let text = std::fs::read_to_string(&decoded).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("row,sequence,viterbi,p0,p1,log_likelihood")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 299);
    assert_eq!(rows[100][1], "1", "row 101 opens the second sequence");
    for (row, &state) in rows.iter().zip(&path) {
        assert_eq!(row[2], state.to_string());
        let total: f64 = row[3..5].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}

/// Sequences from an id column (text ids), and the errors for sequences that do not fit.
#[test]
fn hmm_sequences_from_an_id_column_and_bad_splits() {
    let dir = TempDir::new("hmm-sequences");
    let csv = dir.file("days.csv");
    let mut text = String::from("day,discoveries\n");
    for (i, count) in [3, 4, 2, 5, 0, 1, 6, 2, 3, 3].iter().enumerate() {
        text.push_str(&format!("{},{count}\n", if i < 6 { "mon" } else { "tue" }));
    }
    std::fs::write(&csv, &text).unwrap();
    let out = dir.file("fit.json");
    jensen_ok(&[
        "fit",
        "models/hmm_poisson.em",
        "--data",
        &csv,
        "--sequence",
        "day",
        "--quiet",
        "--out",
        &out,
    ]);
    assert_eq!(read_json(&out)["sequences"], serde_json::json!([6, 4]));

    // An id that comes back after another one: rows of a sequence must be consecutive.
    let interrupted = dir.file("interrupted.csv");
    std::fs::write(
        &interrupted,
        "day,discoveries\nmon,1\ntue,2\nmon,3\ntue,1\n",
    )
    .unwrap();
    let err = jensen_fails(&[
        "fit",
        "models/hmm_poisson.em",
        "--data",
        &interrupted,
        "--sequence",
        "day",
    ]);
    assert!(
        err.contains("row 3") && err.contains("`mon`") && err.contains("after row 1"),
        "{err}"
    );

    let err = jensen_fails(&[
        "fit",
        "models/hmm_poisson.em",
        "--data",
        "data/discoveries.csv",
        "--lengths",
        "50,40",
    ]);
    assert!(
        err.contains("add up to 90") && err.contains("100 rows"),
        "{err}"
    );
    let err = jensen_fails(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--lengths",
        "100,172",
    ]);
    assert!(err.contains("no chain-structured latent"), "{err}");
}

#[test]
fn factor_scores_in_the_posterior_and_in_decode() {
    let dir = TempDir::new("factor-scores");
    let fit = dir.file("ppca.json");
    let post = dir.file("ppca.csv");
    jensen_ok(&[
        "fit",
        "models/ppca_iris.em",
        "--data",
        "data/iris.csv",
        "--quiet",
        "--out",
        &fit,
        "--posterior",
        &post,
    ]);
    let text = std::fs::read_to_string(&post).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("r0,assignment,log_likelihood,h0,h1"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 150);
    // Factor scores of a centred linear map: they average to zero over the data.
    for j in [3, 4] {
        let mean = rows.iter().map(|r| r[j]).sum::<f64>() / 150.0;
        assert!(mean.abs() < 1e-6, "column {j} has mean {mean}");
        assert!(rows.iter().any(|r| r[j].abs() > 0.5));
    }
    let decoded = jensen_ok(&["decode", &fit, "--data", "data/iris.csv"]);
    let mut lines = decoded.lines();
    assert_eq!(lines.next(), Some("row,map,p0,log_likelihood,h0,h1"));
    let first: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    // The same scores from the saved parameters (JSON round trip: to round-off).
    for (a, b) in first[4..].iter().zip(&rows[0][3..]) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn a_latent_as_wide_as_the_data_is_refused() {
    let err = jensen_fails(&[
        "fit",
        "models/ppca_iris.em",
        "--data",
        "data/iris.csv",
        "--set",
        "L=4",
    ]);
    assert!(
        err.contains("latent `h` has L = 4 dimensions but data `x` has only 4 columns")
            && err.contains("choose L < 4"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The fit document

/// Every parameter of two fit documents, by name, as bits.
fn param_bits(doc: &jensen::FitDocument) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    let mut all: Vec<_> = doc
        .params
        .iter()
        .map(|(name, a)| {
            (
                name.to_string(),
                a.shape().to_vec(),
                a.iter().map(|x| x.to_bits()).collect(),
            )
        })
        .collect();
    all.sort();
    all
}

fn read_doc(path: &str) -> jensen::FitDocument {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    jensen::FitDocument::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `fit --out` writes a typed document; reading it back gives the fitted parameters to the
/// bit: restarting from it with no iteration gives the very same log-likelihood and writes
/// the very same parameters.
#[test]
fn fit_document_round_trips_parameters_bit_for_bit() {
    let tmp = TempDir::new("roundtrip");
    let first = tmp.file("first.json");
    let again = tmp.file("again.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--out",
        &first,
        "--quiet",
    ]);
    let doc = read_doc(&first);
    assert_eq!(doc.model, "gmm");
    assert_eq!(doc.model_file, "models/gmm.em");
    let source = std::fs::read_to_string(format!("{ROOT}/models/gmm.em")).unwrap();
    assert_eq!(doc.model_source.as_deref(), Some(source.as_str()));
    assert_eq!(doc.constants["K"], 3);
    assert_eq!(doc.binding.len(), 1);
    assert_eq!(doc.binding[0].item, "x");
    assert_eq!(
        doc.binding[0].columns,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(doc.elbo_trace.len(), doc.iterations + 1);
    assert_eq!(
        doc.elbo_trace.last().unwrap().to_bits(),
        (doc.log_likelihood + doc.log_prior).to_bits()
    );
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--init",
        &first,
        "--max-iter",
        "0",
        "--out",
        &again,
        "--quiet",
    ]);
    let redo = read_doc(&again);
    assert_eq!(redo.iterations, 0);
    assert_eq!(param_bits(&redo), param_bits(&doc));
    assert_eq!(
        redo.log_likelihood.to_bits(),
        doc.log_likelihood.to_bits(),
        "{} vs {}",
        redo.log_likelihood,
        doc.log_likelihood
    );
    // The document re-serialised by the library reads back to the same bits too.
    let text = doc.to_json();
    let back = jensen::FitDocument::from_json(&text).unwrap();
    assert_eq!(param_bits(&back), param_bits(&doc));
}

/// The model's text is stored in the fit, so `decode` works from any directory; `--model`
/// reads another file instead.
#[test]
fn decode_works_from_another_directory_and_takes_model() {
    let tmp = TempDir::new("decode_elsewhere");
    let fit = tmp.file("fit.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    let data = format!("{ROOT}/data/faithful.csv");
    let from_root = jensen_ok(&["decode", &fit, "--data", &data]);
    let elsewhere = Command::new(env!("CARGO_BIN_EXE_jensen"))
        .current_dir(&tmp.0)
        .args(["decode", "fit.json", "--data", &data])
        .output()
        .unwrap();
    assert!(elsewhere.status.success(), "{}", stderr(&elsewhere));
    assert_eq!(stdout(&elsewhere), from_root);
    assert_eq!(from_root.lines().count(), 273);

    // `--model` overrides the stored text: a missing file is an error naming it…
    let err = jensen_fails(&[
        "decode",
        &fit,
        "--data",
        &data,
        "--model",
        "models/no_such_model.em",
    ]);
    assert!(
        err.contains("cannot read") && err.contains("models/no_such_model.em"),
        "{err}"
    );
    // …and a copy of the model gives the same result.
    let copy = tmp.file("copy.em");
    std::fs::copy(format!("{ROOT}/models/gmm.em"), &copy).unwrap();
    let with_model = jensen_ok(&["decode", &fit, "--data", &data, "--model", &copy]);
    assert_eq!(with_model, from_root);
}

// ---------------------------------------------------------------------------------------
// Command-line warts

/// Runs `jensen ARGS` from the repository root with standard output already closed by its
/// reader (as `| head` does once it has its lines).
fn jensen_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_jensen"))
        .current_dir(ROOT)
        .args(args)
        .stdout(writer)
        .output()
        .expect("run the jensen binary")
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_zero() {
    let tmp = TempDir::new("closed_stdout");
    let fit = tmp.file("geyser.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        "data/geyser.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    for args in [
        vec!["decode", &fit, "--data", "data/geyser.csv"],
        vec!["fit", "models/gmm.em", "--data", "data/faithful.csv"],
        vec!["explain", "models/gmm.em"],
        vec!["generate", "models/gmm.em"],
        vec!["check", "models/gmm.em"],
    ] {
        let out = jensen_closed_stdout(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "jensen {args:?}\nstderr:\n{}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(
            !err.contains("Broken pipe") && !err.contains("error") && !err.contains("panicked"),
            "jensen {args:?}: {err}"
        );
    }
    // Through a real `head`, as in the README (where bash is available).
    let script = format!(
        "set -o pipefail; {} decode {fit} --data data/geyser.csv | head -3",
        env!("CARGO_BIN_EXE_jensen")
    );
    if let Ok(out) = Command::new("bash")
        .current_dir(ROOT)
        .args(["-c", &script])
        .output()
    {
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), 3);
        assert!(!stderr(&out).contains("Broken pipe"), "{}", stderr(&out));
    }
}

#[test]
fn iterations_reports_the_requested_count() {
    let tmp = TempDir::new("iterations");
    let fit = tmp.file("fit.json");
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--iterations",
        "3",
        "--quiet",
        "--out",
        &fit,
    ]);
    assert!(out.contains("ran the requested 3 iterations"), "{out}");
    assert!(
        !out.contains("max-iter") && !out.contains("not converged"),
        "{out}"
    );
    let doc = read_doc(&fit);
    assert_eq!(doc.iterations, 3);
    assert_eq!(doc.iterations_requested, Some(3));
    // Without --iterations, running out of iterations still suggests --max-iter.
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--max-iter",
        "1",
        "--quiet",
    ]);
    assert!(out.contains("not converged (raise --max-iter)"), "{out}");
}

#[test]
fn fit_prints_the_binding_and_the_columns_not_used() {
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
    ]);
    assert!(
        out.contains("data x ← sepal_length, sepal_width, petal_length, petal_width\n"),
        "{out}"
    );
    assert!(out.contains("not used: species\n"), "{out}");
    let quiet = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/iris.csv",
        "--set",
        "K=3",
        "--quiet",
    ]);
    assert!(!quiet.contains('←'), "{quiet}");
}

/// A stray numeric column is taken by a model with one vector item: the header shows it,
/// and a constant one is named in a warning.
#[test]
fn a_constant_column_is_named_in_a_warning() {
    let tmp = TempDir::new("constant_column");
    let csv = tmp.file("batch.csv");
    let faithful = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).unwrap();
    let mut text = String::from("eruptions,waiting,batch\n");
    for line in faithful.lines().skip(1) {
        text.push_str(&format!("{line},7\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let out = jensen(&["fit", "models/gmm_diag.em", "--data", &csv]);
    // A constant column makes the likelihood unbounded: its variances sit at the
    // regularisation floor, and the fit says so with its own exit status.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`v` of component 0 sits at the regularisation floor"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the fit is degenerate"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("data x ← eruptions, waiting, batch\n"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("warning: data `x`: 1 column is constant: `batch` (always 7)"),
        "{err}"
    );
    assert!(err.contains("--exclude"), "{err}");
    // Excluded, no warning.
    let out = jensen(&[
        "fit",
        "models/gmm_diag.em",
        "--data",
        &csv,
        "--exclude",
        "batch",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn a_crlf_file_fits_like_the_lf_file() {
    // (data/faithful.csv itself has CRLF line endings; iris.csv too, and it has a text column.)
    let tmp = TempDir::new("crlf");
    let (lf_csv, crlf_csv) = (tmp.file("lf.csv"), tmp.file("crlf.csv"));
    let faithful = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).unwrap();
    let lf_text = faithful.replace("\r\n", "\n");
    std::fs::write(&lf_csv, &lf_text).unwrap();
    std::fs::write(&crlf_csv, lf_text.replace('\n', "\r\n")).unwrap();
    let lf = jensen_ok(&["fit", "models/gmm.em", "--data", &lf_csv, "--quiet"]);
    let crlf = jensen_ok(&["fit", "models/gmm.em", "--data", &crlf_csv, "--quiet"]);
    let summary = |s: &str| s.rsplit_once(" · ").unwrap().0.to_string(); // without the time
    assert_eq!(summary(&crlf), summary(&lf));
}

#[test]
fn a_semicolon_separated_file_names_the_delimiter() {
    let tmp = TempDir::new("semicolon");
    let csv = tmp.file("faithful_semi.csv");
    let faithful = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).unwrap();
    std::fs::write(&csv, faithful.replace(',', ";")).unwrap();
    // Detected from the header line without the option …
    let out = jensen_ok(&["fit", "models/gmm.em", "--data", &csv, "--quiet"]);
    assert!(out.starts_with("log-likelihood -1130.26"), "{out}");
    // … and a wrong one named with a hint.
    let err = jensen_exits(
        5,
        &["fit", "models/gmm.em", "--data", &csv, "--delimiter", ","],
    );
    assert!(
        err.contains(&csv)
            && err.contains("the file seems to use ';' as delimiter")
            && err.contains("jensen reads comma-separated files")
            && err.contains("--delimiter ';'"),
        "{err}"
    );
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        &csv,
        "--delimiter",
        ";",
        "--quiet",
    ]);
    assert!(out.starts_with("log-likelihood -1130.26"), "{out}");
    // European numbers: a decimal comma gets a hint.
    let euro = tmp.file("euro.csv");
    std::fs::write(&euro, "eruptions;waiting\n3,6;79\n1,8;54\n").unwrap();
    let err = jensen_fails(&["fit", "models/gmm.em", "--data", &euro, "--delimiter", ";"]);
    assert!(
        err.contains("`3,6` is not a number") && err.contains("decimal comma"),
        "{err}"
    );
}

const IRIS_LABELLED: &str = "\
model iris_labelled
const K: int = 3
data   x[N]: vector[D] except (species)
data   species[N]: 0..C
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
param  q[K]: simplex[C]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
species[n] ~ Categorical(q[z[n]])
";

/// A text column bound as a category: its labels become codes in sorted order, printed in
/// the header and stored in the fit, and `decode` maps new data the same way.
#[test]
fn a_text_category_is_mapped_to_sorted_codes() {
    let tmp = TempDir::new("text_category");
    let model = tmp.file("iris_labelled.em");
    std::fs::write(&model, IRIS_LABELLED).unwrap();
    let fit = tmp.file("fit.json");
    let out = jensen_ok(&[
        "fit",
        &model,
        "--data",
        "data/iris.csv",
        "--out",
        &fit,
        "--seed",
        "1",
    ]);
    assert!(out.contains("data species ← species\n"), "{out}");
    assert!(
        out.contains("species is text: categories in sorted order, 0 = setosa, 1 = versicolor, 2 = virginica"),
        "{out}"
    );
    let doc = read_doc(&fit);
    let species = doc.binding.iter().find(|b| b.item == "species").unwrap();
    assert_eq!(species.columns, ["species"]);
    assert_eq!(
        species.labels.as_deref().unwrap(),
        ["setosa", "versicolor", "virginica"]
    );
    assert_eq!(doc.params.get("q").unwrap().shape(), [3, 3]);

    // New data with two of the three species, virginica first: codes follow the fit's
    // labels (not this file's), so C stays 3 and the parameters fit.
    let iris = std::fs::read_to_string(format!("{ROOT}/data/iris.csv")).unwrap();
    let header = iris.lines().next().unwrap();
    let mut subset = format!("{header}\n");
    for species in ["virginica", "setosa"] {
        for line in iris.lines().filter(|l| l.ends_with(species)).take(5) {
            subset.push_str(line);
            subset.push('\n');
        }
    }
    let new = tmp.file("subset.csv");
    std::fs::write(&new, &subset).unwrap();
    let decoded = jensen_ok(&["decode", &fit, "--data", &new]);
    let rows: Vec<Vec<f64>> = decoded
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 10);
    // The most probable component of a row is the one whose `q` favours its species.
    let q = doc.params.get("q").unwrap();
    for (row, code) in rows.iter().zip([2usize; 5].into_iter().chain([0; 5])) {
        let k = row[1] as usize;
        let favourite = (0..3)
            .max_by(|&a, &b| q[[k, a]].total_cmp(&q[[k, b]]))
            .unwrap();
        assert_eq!(favourite, code, "row {row:?}, q = {q}");
    }

    // A label the fit never saw is named with its row.
    let unknown = tmp.file("unknown.csv");
    std::fs::write(
        &unknown,
        format!("{header}\n5.1,3.5,1.4,0.2,setosa\n6.0,3.0,4.0,1.0,iris_nova\n"),
    )
    .unwrap();
    let err = jensen_fails(&["decode", &fit, "--data", &unknown]);
    assert!(
        err.contains("row 2")
            && err.contains("`species`")
            && err.contains("`iris_nova` is not one of the categories (0 = setosa"),
        "{err}"
    );
}

#[test]
fn help_lists_every_command() {
    let out = jensen_ok(&["--help"]);
    for cmd in ["check", "explain", "generate", "fit", "predict", "score"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd}: {out}"
        );
    }
}

/// The reproducer of the panic the "one semantics" issue found: a scalar `binary` item with a
/// per-component `prob` made `jensen fit` panic (`could not broadcast array from shape: [1]
/// to: []`) while the derive fitted it. Now both read the statistic's shape from the lowered
/// program; the mixture (every initialisation, several restarts) and the HMM form fit.
#[test]
fn a_scalar_bit_with_a_probability_per_component_fits() {
    let dir = TempDir::new("scalar-bit");
    let quakes = std::fs::read_to_string(format!("{ROOT}/data/quakes.csv")).unwrap();
    let mut csv = String::from("deep\n");
    for line in quakes.lines().skip(1) {
        let depth: f64 = line.split(',').nth(2).unwrap().trim().parse().unwrap();
        csv.push_str(if depth > 300.0 { "1\n" } else { "0\n" });
    }
    let data = dir.file("deep.csv");
    std::fs::write(&data, csv).unwrap();
    let mixture = dir.file("deep.em");
    std::fs::write(
        &mixture,
        "model m\nconst K: int = 2\ndata   deep[N]: binary\nparam  w: simplex[K]\nparam  p[K]: prob\nlatent z[N]: 0..K\nz[n] ~ Categorical(w)\ndeep[n] ~ Bernoulli(p[z[n]])\n",
    )
    .unwrap();
    let chain = dir.file("deep_hmm.em");
    std::fs::write(
        &chain,
        "model h\nconst K: int = 2\ndata   deep[T]: binary\nparam  p0: simplex[K]\nparam  A[K]: simplex[K]\nparam  p[K]: prob\nlatent z[T]: 0..K\nz[0] ~ Categorical(p0)\nz[t] ~ Categorical(A[z[t-1]])\ndeep[t] ~ Bernoulli(p[z[t]])\n",
    )
    .unwrap();
    for (model, extra) in [
        (&mixture, &[][..]),
        (&mixture, &["--init", "random"][..]),
        (&mixture, &["--restarts", "4"][..]),
        (&chain, &[][..]),
    ] {
        let out = dir.file("fit.json");
        let mut args = vec![
            "fit",
            model.as_str(),
            "--data",
            data.as_str(),
            "--quiet",
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        jensen_ok(&args);
        let doc = read_json(&out);
        let ll = doc["log_likelihood"].as_f64().expect("log-likelihood");
        // 1,000 bits: the likelihood of two Bernoulli clusters lies between that of the
        // fitted single rate and zero.
        assert!(
            ll.is_finite() && ll < 0.0 && ll > -1000.0 * std::f64::consts::LN_2,
            "{ll}"
        );
        assert_eq!(shape(&doc["params"]["p"]), vec![2], "{model} {extra:?}");
    }
}

#[test]
fn kmeans_model_fits_with_its_hard_e_step_and_reports_inertia() {
    let tmp = TempDir::new("kmeans");
    let json = tmp.file("fit.json");
    let out = jensen_ok(&[
        "fit",
        "models/kmeans.em",
        "--data",
        "data/iris.csv",
        "--exclude",
        "species",
        "--restarts",
        "10",
        "--seed",
        "1",
        "--out",
        &json,
    ]);
    assert!(out.contains("complete log-lik"), "{out}");
    assert!(
        out.contains("inertia (within-cluster sum of squares) 78.851441"),
        "{out}"
    );
    let doc = read_json(&json);
    assert_eq!(doc["e_step"], "hard");
    let inertia = doc["inertia"].as_f64().unwrap();
    assert!((inertia - 78.851441426146).abs() < 1e-6, "{inertia}");
    // The trace is the complete-data log-likelihood; ℓ (for BIC) is the likelihood.
    let complete = doc["complete_log_likelihood"].as_f64().unwrap();
    assert_eq!(
        doc["elbo_trace"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_f64(),
        Some(complete)
    );
    assert!(doc["log_likelihood"].as_f64().unwrap() > complete);
}

#[test]
fn estep_option_overrides_the_model_file() {
    // A soft fit of the k-means model is EM with unit covariances and equal weights.
    let soft = jensen_ok(&[
        "fit",
        "models/kmeans.em",
        "--data",
        "data/faithful.csv",
        "--estep",
        "soft",
        "--quiet",
    ]);
    assert!(!soft.contains("hard E-step"), "{soft}");
    // A hard fit of a Gaussian mixture: classification EM.
    let hard = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--estep",
        "hard",
        "--quiet",
    ]);
    assert!(
        hard.contains("hard E-step: complete-data log-likelihood"),
        "{hard}"
    );
    assert!(
        !hard.contains("inertia"),
        "a learned covariance has no inertia: {hard}"
    );
    let out = jensen(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--estep",
        "greedy",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr(&out);
    assert!(err.contains("soft") && err.contains("hard"), "{err}");
}

/// Variational Bayes from a model file's `method vb` line and from `--method vb`: the ELBO
/// trace and summary, posteriors' strengths among the parameters, a warm start from the
/// saved fit, and the refusals (a hard E-step; an inverse-Wishart prior that is improper for
/// the data's dimension).
#[test]
fn variational_bayes_fits_explains_generates_and_refuses() {
    let dir = TempDir::new("vb");
    let out = dir.file("bgmm.json");
    let text = jensen_ok(&[
        "fit",
        "models/bgmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &out,
    ]);
    assert!(text.contains("ELBO"), "{text}");
    assert!(text.contains("variational Bayes: ELBO"), "{text}");
    assert!(!text.contains("BIC"), "no BIC under VB: {text}");
    assert!(text.contains("w_concentration = "), "{text}");
    assert!(text.contains("Sigma_dof = "), "{text}");
    let doc = read_json(&out);
    assert_eq!(shape(&doc["params"]["Sigma_dof"]), vec![6]);
    assert_eq!(doc["method"], "vb");
    let rows = dir.file("rows.csv");
    jensen_ok(&[
        "fit",
        "models/bgmm.em",
        "--data",
        "data/faithful.csv",
        "--posterior",
        &rows,
        "--quiet",
    ]);
    let header = std::fs::read_to_string(&rows).unwrap();
    assert!(
        header.starts_with("r0,r1,r2,r3,r4,r5,assignment,elbo_term\n"),
        "{}",
        &header[..80]
    );
    // E[Σ_k] = (Ψ_k / ν_k) ν_k / (ν_k − D − 1) where it exists; `null` for the emptied
    // components, whose ν_k = 2 is their prior's.
    assert!(text.contains("E[Sigma] = [none"), "{text}");
    let means = doc["posterior_means"].as_array().unwrap();
    let sigma = means.iter().find(|m| m["name"] == "Sigma").unwrap();
    let dofs = numbers(&doc["params"]["Sigma_dof"]);
    let slots = numbers(&doc["params"]["Sigma"]);
    for (k, component) in sigma["components"].as_array().unwrap().iter().enumerate() {
        let nu = dofs[k];
        if nu <= 3.0 {
            assert!(component.is_null(), "component {k}: {component}");
            continue;
        }
        let mean = numbers(component);
        for (i, m) in mean.iter().enumerate() {
            let expected = slots[4 * k + i] * nu / (nu - 3.0);
            assert!(
                (m - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                "{m} vs {expected}"
            );
        }
    }
    // A warm start from the saved posteriors converges at once.
    let params = dir.file("params.json");
    std::fs::write(&params, doc["params"].to_string()).unwrap();
    let again = jensen_ok(&[
        "fit",
        "models/bgmm.em",
        "--data",
        "data/faithful.csv",
        "--init",
        &params,
    ]);
    assert!(again.contains("converged"), "{again}");

    let text = jensen_ok(&[
        "fit",
        "models/poisson_mix_map.em",
        "--data",
        "data/discoveries.csv",
        "--method",
        "vb",
    ]);
    assert!(text.contains("rate_shape = "), "{text}");
    assert!(text.contains("variational Bayes: ELBO"), "{text}");
    // `decode` reads the method from the fit: the file has no `method` line.
    let fit = dir.file("poisson_vb.json");
    jensen_ok(&[
        "fit",
        "models/poisson_mix_map.em",
        "--data",
        "data/discoveries.csv",
        "--method",
        "vb",
        "--out",
        &fit,
        "--quiet",
    ]);
    let decoded = jensen_ok(&["decode", &fit, "--data", "data/discoveries.csv"]);
    assert!(decoded.lines().count() > 100, "{decoded}");

    let err = jensen_fails(&[
        "fit",
        "models/bgmm.em",
        "--data",
        "data/faithful.csv",
        "--estep",
        "hard",
    ]);
    assert!(err.contains("--estep hard with variational Bayes"), "{err}");
    let improper = dir.file("improper.em");
    let source = std::fs::read_to_string(format!("{ROOT}/models/bgmm.em"))
        .unwrap()
        .replace("InvWishart(2.0,", "InvWishart(0.5,");
    std::fs::write(&improper, source).unwrap();
    let err = jensen_fails(&["fit", &improper, "--data", "data/faithful.csv"]);
    assert!(err.contains("ν > D − 1 = 1"), "{err}");

    let code = jensen_ok(&["generate", "models/poisson_mix_map.em", "--method", "vb"]);
    assert!(code.contains("vb::gamma_kl"), "{code}");
    assert!(code.contains("fn keeps_empty_components"), "{code}");
    let math = jensen_ok(&["explain", "models/bgmm.em"]);
    assert!(math.contains("Variational Bayes (method vb)"), "{math}");
    let math = jensen_ok(&["explain", "models/poisson_mix_map.em", "--method", "vb"]);
    assert!(math.contains("q(rate_k) = Gamma(a_k, b_k)"), "{math}");
    let math = jensen_ok(&["explain", "models/poisson_mix_map.em"]);
    assert!(!math.contains("Variational Bayes (method vb)"), "{math}");
    // Under EM the small concentration of bgmm.em has no posterior mode: refused, with a hint.
    let err = jensen_fails(&["explain", "models/bgmm.em", "--method", "em"]);
    assert!(err.contains("variational Bayes (`method vb`)"), "{err}");
}

/// Priors whose hyperparameters are summaries of the data: `explain` says what each one is,
/// the fit computes them from the bound data, and a summary the prior cannot take (the
/// covariance of data with a constant column) is refused with what to write instead.
#[test]
fn priors_from_the_data_are_explained_fitted_and_checked() {
    let math = jensen_ok(&["explain", "models/bgmm_defaults.em"]);
    assert!(
        math.contains("hyper    cov(x) = Σ_n (x[n] − mean(x))(x[n] − mean(x))ᵀ / (N − 1)"),
        "{math}"
    );
    assert!(math.contains("Ψ_k = cov(x) + S_k"), "{math}");
    let text = jensen_ok(&[
        "fit",
        "models/bgmm_defaults.em",
        "--data",
        "data/faithful.csv",
    ]);
    assert!(text.contains("variational Bayes: ELBO"), "{text}");
    // The values on these data (NumPy's `np.cov` of the eruptions and waiting times).
    assert!(
        text.contains(
            "Sigma_prior_scale = cov(x) = [[1.302728, 13.977808], [13.977808, 184.823312]]"
        ),
        "{text}"
    );
    assert!(
        text.contains("mu_prior_mean = mean(x) = [3.487783, 70.897059]"),
        "{text}"
    );
    let dir = TempDir::new("data_priors");
    let csv = dir.file("constant.csv");
    let mut rows = String::from("a,b\n");
    for i in 0..40 {
        rows.push_str(&format!("{},3.0\n", (i as f64 * 0.37).sin()));
    }
    std::fs::write(&csv, rows).unwrap();
    let err = jensen_fails(&["fit", "models/bgmm_defaults.em", "--data", &csv]);
    assert!(
        err.contains("`cov(x)` in the prior on `Sigma` is not positive definite"),
        "{err}"
    );
    assert!(err.contains("InvWishart(5.0, 0.1 * I)"), "{err}");
}

/// `--weights COL`: the column weighs the rows and is not data; a frequency table fits as the
/// rows it counts (same ℓ, BIC with N = Σ w); the document records the weights; a bad weight
/// names its row and column.
#[test]
fn weights_column_fits_a_frequency_table_as_its_rows() {
    let tmp = TempDir::new("weights");
    let (weighted, plain) = (tmp.file("weighted.json"), tmp.file("plain.json"));
    let out = jensen_ok(&[
        "fit",
        "models/poisson_mix.em",
        "--data",
        "data/discoveries_counts.csv",
        "--weights",
        "years",
        "--seed",
        "3",
        "--out",
        &weighted,
    ]);
    assert!(
        out.contains("weights ← years: Σ = 100 over 12 rows"),
        "{out}"
    );
    assert!(!out.contains("not used: years"), "{out}");
    // The model's own weight item, on the same table.
    let own = jensen_ok(&[
        "fit",
        "models/poisson_mix_weighted.em",
        "--data",
        "data/discoveries_counts.csv",
        "--seed",
        "3",
        "--quiet",
    ]);
    jensen_ok(&[
        "fit",
        "models/poisson_mix.em",
        "--data",
        "data/discoveries.csv",
        "--seed",
        "3",
        "--out",
        &plain,
    ]);
    let (w, p) = (read_json(&weighted), read_json(&plain));
    let close = |a: &Value, b: &Value| {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        (a - b).abs() < 1e-6 * b.abs()
    };
    assert!(
        close(&w["log_likelihood"], &p["log_likelihood"]),
        "{} vs {}",
        w["log_likelihood"],
        p["log_likelihood"]
    );
    assert!(
        close(&w["bic"], &p["bic"]),
        "BIC {} vs {}",
        w["bic"],
        p["bic"]
    );
    assert_eq!(w["weights"]["column"], "years");
    assert_eq!(w["weights"]["total"], 100.0);
    assert_eq!(w["n_rows"], 12);
    assert!(
        own.contains(&format!("{:.6}", w["log_likelihood"].as_f64().unwrap())),
        "{own}"
    );

    let csv = tmp.file("bad_weights.csv");
    std::fs::write(&csv, "discoveries,years\n0,9\n1,-2\n").unwrap();
    let err = jensen_fails(&[
        "fit",
        "models/poisson_mix.em",
        "--data",
        &csv,
        "--weights",
        "years",
    ]);
    assert!(
        err.contains("row 2") && err.contains("`years`") && err.contains("-2"),
        "{err}"
    );
    let err = jensen_fails(&[
        "fit",
        "models/poisson_mix.em",
        "--data",
        &csv,
        "--weights",
        "nope",
    ]);
    assert!(err.contains("no column `nope`"), "{err}");
}

/// Partial labels: `from (species)` clamps the labelled rows; the document records the label
/// codes, and `decode` keeps them on data with a subset of the labels, and decodes data
/// without the column unlabelled.
#[test]
fn partial_labels_fit_and_decode() {
    let tmp = TempDir::new("labels");
    let fit = tmp.file("fit.json");
    let out = jensen_ok(&[
        "fit",
        "models/gmm_iris_semisupervised.em",
        "--data",
        "data/iris_partially_labelled.csv",
        "--restarts",
        "5",
        "--out",
        &fit,
    ]);
    assert!(
        out.contains("labels ← species: 15 of 150 rows labelled"),
        "{out}"
    );
    let doc = read_json(&fit);
    assert_eq!(doc["labels"]["labelled"], 15);
    assert_eq!(doc["labels"]["names"][1], "versicolor");
    // Only versicolor and virginica: still codes 1 and 2, clamped.
    let text = std::fs::read_to_string(format!("{ROOT}/data/iris.csv")).unwrap();
    let subset: String = text
        .lines()
        .filter(|l| !l.contains("setosa"))
        .map(|l| format!("{l}\n"))
        .collect();
    let csv = tmp.file("subset.csv");
    std::fs::write(&csv, subset).unwrap();
    let decoded = jensen_ok(&["decode", &fit, "--data", &csv]);
    let first = decoded.lines().nth(1).unwrap();
    assert!(first.starts_with("1,1,0.0,1.0,0.0"), "{first}");
    // No label column: decoded from the measurements alone.
    let bare: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    let csv = tmp.file("bare.csv");
    std::fs::write(&csv, bare).unwrap();
    let decoded = jensen_ok(&["decode", &fit, "--data", &csv]);
    assert_eq!(decoded.lines().count(), 151);
}

#[test]
fn missing_cells_are_counted_integrated_out_and_recorded() {
    let tmp = TempDir::new("missing");
    let fit = tmp.file("fit.json");
    let out = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful_missing30.csv",
        "--seed",
        "3",
        "--out",
        &fit,
    ]);
    assert!(
        out.contains("missing: 163 of 544 cells, in 138 of 272 rows (eruptions 81, waiting 82), integrated out of each row's E-step"),
        "{out}"
    );
    let doc = read_json(&fit);
    assert_eq!(doc["binding"][0]["missing"], serde_json::json!([81, 82]));
    assert_eq!(doc["binding"][0]["missing_rows"], 138);
    assert!(doc["log_likelihood"].as_f64().unwrap().is_finite());
    // `explain` says how each block treats a missing cell.
    let explained = jensen_ok(&["explain", "models/gmm.em"]);
    assert!(
        explained.contains("missing cells: density N(x_o"),
        "{explained}"
    );
    // A block that cannot integrate gaps out names the first empty cell.
    let err = jensen_fails(&[
        "fit",
        "models/bgmm.em",
        "--data",
        "data/faithful_missing10.csv",
    ]);
    assert!(
        err.contains("data/faithful_missing10.csv, row")
            && err.contains("variational Bayes does not integrate out missing cells"),
        "{err}"
    );
    // A factor analysis integrates them out.
    let fa = jensen_ok(&[
        "fit",
        "models/fa_iris.em",
        "--data",
        "data/iris_missing10.csv",
    ]);
    assert!(fa.contains("missing: 60 of 600 cells"), "{fa}");
}

/// `--fix NAME=FILE` (issue 11, item 7): a parameter held at a value from a JSON file is not
/// estimated and not counted in BIC/AIC. Fixing the variances of a Normal mixture at 0.1
/// gives the fit of the model file that declares `param v[K]: positive = 0.1`; fixing a
/// fitted covariance at its value reproduces the fit with six fewer free parameters; a
/// wrong name, a value that breaks the type, a parameter with a prior, and one fixed in the
/// file already are errors that say so.
#[test]
fn fix_holds_a_parameter_at_a_value_from_a_file() {
    let tmp = TempDir::new("fix");
    let value = tmp.file("v.json");
    std::fs::write(&value, "[0.1, 0.1]").unwrap();
    let (fixed, declared) = (tmp.file("fixed.json"), tmp.file("declared.json"));
    let model = tmp.file("normal_mix.em");
    std::fs::write(
        &model,
        std::fs::read_to_string(format!("{ROOT}/models/normal_mix_known_variance.em"))
            .unwrap()
            .replace("positive = 0.1", "positive"),
    )
    .unwrap();
    let args = |m: &str, out: &str| {
        vec![
            "fit".to_string(),
            m.to_string(),
            "--data".into(),
            "data/faithful.csv".into(),
            "--out".into(),
            out.to_string(),
            "--quiet".into(),
        ]
    };
    let mut with_fix = args(&model, &fixed);
    with_fix.extend(["--fix".to_string(), format!("v={value}")]);
    jensen_ok(&with_fix.iter().map(String::as_str).collect::<Vec<_>>());
    let file_args = args("models/normal_mix_known_variance.em", &declared);
    jensen_ok(&file_args.iter().map(String::as_str).collect::<Vec<_>>());
    let (a, b) = (read_json(&fixed), read_json(&declared));
    assert_eq!(a["params"], b["params"]);
    assert_eq!(numbers(&a["params"]["v"]), [0.1, 0.1]);
    assert_eq!(a["free_parameters"], 3);
    assert_eq!(a["log_likelihood"], b["log_likelihood"]);
    assert_eq!(a["bic"], b["bic"]);

    // A fitted covariance fixed at its own value: the same fit, 6 fewer free parameters.
    let (full, again) = (tmp.file("full.json"), tmp.file("again.json"));
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &full,
        "--quiet",
    ]);
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--fix",
        &format!("Sigma={full}"),
        "--init",
        &full,
        "--out",
        &again,
        "--quiet",
    ]);
    let (full, again) = (read_json(&full), read_json(&again));
    assert_eq!(again["params"]["Sigma"], full["params"]["Sigma"]);
    let (l1, l2) = (
        full["log_likelihood"].as_f64().unwrap(),
        again["log_likelihood"].as_f64().unwrap(),
    );
    assert!((l1 - l2).abs() <= 1e-6 * l1.abs(), "{l1} vs {l2}");
    assert_eq!(
        full["free_parameters"].as_u64().unwrap() - again["free_parameters"].as_u64().unwrap(),
        6
    );

    let bad = tmp.file("bad.json");
    std::fs::write(&bad, "[-1.0, 0.1]").unwrap();
    for (fix, said) in [
        (
            format!("sigma={value}"),
            "the model has no parameter `sigma`",
        ),
        (format!("v={bad}"), "violates its constraint `positive`"),
        ("v".to_string(), "expected NAME=FILE"),
    ] {
        let mut a = args(&model, &tmp.file("x.json"));
        a.extend(["--fix".to_string(), fix]);
        let err = jensen_fails(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(err.contains(said), "{err}");
    }
    let err = jensen_fails(&[
        "fit",
        "models/normal_mix_known_variance.em",
        "--data",
        "data/faithful.csv",
        "--fix",
        &format!("v={value}"),
    ]);
    assert!(err.contains("fixed in the model file already"), "{err}");
    let err = jensen_fails(&[
        "fit",
        "models/gmm_spherical_map.em",
        "--data",
        "data/faithful.csv",
        "--fix",
        &format!("s={value}"),
    ]);
    assert!(err.contains("has a prior"), "{err}");
}

/// Zero restarts or zero threads would run nothing: refused as bad options (exit code 2),
/// with the flag named.
#[test]
fn zero_restarts_or_threads_are_refused() {
    for flag in ["--restarts", "--threads"] {
        let out = jensen(&[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            flag,
            "0",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag} 0");
        let err = stderr(&out);
        assert!(
            err.contains(flag) && err.contains("must be at least 1"),
            "{flag} 0: {err}"
        );
    }
}

/// The progress line (indicatif) is drawn on a terminal only: piped, stderr stays clean.
#[test]
fn no_progress_line_when_piped() {
    let out = jensen(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--restarts",
        "3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("iterations over"), "{err}");
    assert!(!err.contains('\r'), "{err:?}");
}

#[test]
fn exit_statuses_name_the_kind_of_failure() {
    let tmp = TempDir::new("exit-statuses");
    // 2: bad options (ours and clap's).
    jensen_exits(
        2,
        &[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--tol",
            "-1",
        ],
    );
    jensen_exits(
        2,
        &[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--restarts",
            "0",
        ],
    );
    jensen_exits(
        2,
        &[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--set",
            "K=two",
        ],
    );
    // 4: a bad model file, or none.
    let bad = tmp.file("bad.em");
    std::fs::write(&bad, "model m\ndata x[N]: real\nx[n] ~ Normal(mu, 1.0)\n").unwrap();
    let err = jensen_exits(4, &["check", &bad]);
    assert!(err.contains("mu"), "{err}");
    jensen_exits(
        4,
        &["fit", "no/such/model.em", "--data", "data/faithful.csv"],
    );
    // 5: bad data — a file that is missing, a cell that is not a number, a missing column.
    jensen_exits(5, &["fit", "models/gmm.em", "--data", "no/such/data.csv"]);
    let cells = tmp.file("cells.csv");
    std::fs::write(&cells, "eruptions,waiting\n3.6,79\n1.8,fifty\n").unwrap();
    let err = jensen_exits(5, &["fit", "models/gmm.em", "--data", &cells]);
    assert!(err.contains("row 2") && err.contains("waiting"), "{err}");
    // 1: anything else, e.g. an output that cannot be written.
    let err = jensen_exits(
        1,
        &[
            "fit",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--out",
            "/no/such/dir/fit.json",
        ],
    );
    assert!(err.contains("cannot write /no/such/dir/fit.json"), "{err}");
}

#[test]
fn data_from_a_numpy_array() {
    // faithful.csv as a 272 × 2 float64 `.npy` (C order), written byte by byte.
    let tmp = TempDir::new("npy");
    let table = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).unwrap();
    let rows: Vec<[f64; 2]> = table
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            [a.parse().unwrap(), b.parse().unwrap()]
        })
        .collect();
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, 2), }}",
        rows.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for r in &rows {
        for v in r {
            bytes.extend(v.to_le_bytes());
        }
    }
    let npy = tmp.file("faithful.npy");
    std::fs::write(&npy, bytes).unwrap();
    let from_npy = jensen_ok(&["fit", "models/gmm.em", "--data", &npy, "--quiet"]);
    let from_csv = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--quiet",
    ]);
    let summary = |s: &str| s.split(" · ").take(3).collect::<Vec<_>>().join(" · ");
    assert_eq!(summary(&from_npy), summary(&from_csv));
    let shown = jensen_ok(&["fit", "models/gmm.em", "--data", &npy]);
    assert!(shown.contains("data x ← c0, c1"), "{shown}");
    // A truncated array is bad data.
    let cut = tmp.file("cut.npy");
    let full = std::fs::read(&npy).unwrap();
    std::fs::write(&cut, &full[..full.len() - 5]).unwrap();
    let err = jensen_exits(5, &["fit", "models/gmm.em", "--data", &cut]);
    assert!(err.contains("cut.npy"), "{err}");
    // Read a block of rows at a time (--stream): the same fit; the truncated file refused
    // before any block is read.
    let streamed = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        &npy,
        "--stream",
        "--no-stream-cache",
    ]);
    assert!(
        streamed.contains("(272 rows, read in 1 chunk(s) of 262144 rows, one pass per iteration over the .npy file)"),
        "{streamed}"
    );
    assert_eq!(summary(&summary_line(&streamed)), summary(&from_csv));
    let err = jensen_exits(5, &["fit", "models/gmm.em", "--data", &cut, "--stream"]);
    assert!(
        err.contains("cut.npy") && err.contains("bytes of data"),
        "{err}"
    );
    // Too large to read whole under the bound: refused from its header, pointing to --stream.
    let err = jensen_exits(
        5,
        &["fit", "models/gmm.em", "--data", &npy, "--max-memory", "8K"],
    );
    assert!(
        err.contains("272 rows of 2 columns need at least 8.5 KiB") && err.contains("--stream"),
        "{err}"
    );
}

#[test]
fn select_reaches_scikit_learns_criteria_and_marks_the_best() {
    let fixture = read_json(&format!("{ROOT}/tests/fixtures/select/faithful.json"));
    let tmp = TempDir::new("select");
    let table = tmp.file("table.csv");
    let fits = tmp.file("fits");
    let out = jensen_ok(&[
        "select",
        "models/gmm.em",
        "models/gmm_diag.em",
        "--data",
        "data/faithful.csv",
        "--range",
        "K=1..3",
        "--restarts",
        "10",
        "--tol",
        "1e-10",
        "--max-iter",
        "5000",
        "--reg-covar",
        "0",
        "--json",
        "--out",
        &table,
        "--fits",
        &fits,
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for want in fixture["rows"].as_array().unwrap() {
        let got = rows
            .iter()
            .find(|r| r["model"] == want["model"] && r["setting"][1] == want["K"])
            .unwrap_or_else(|| panic!("no row for {want}"));
        assert_eq!(got["free_parameters"], want["free_parameters"], "{want}");
        // ICL's entropy moves along the flat ridge of the diagonal K = 3 optimum more than
        // the likelihood does: 1e-5 for it.
        for (key, tol) in [
            ("log_likelihood", 1e-6),
            ("bic", 1e-6),
            ("aic", 1e-6),
            ("icl", 1e-5),
        ] {
            let (g, w) = (got[key].as_f64().unwrap(), want[key].as_f64().unwrap());
            assert!(
                (g - w).abs() <= tol * w.abs(),
                "{key} of {}: jensen {g}, scikit-learn {w}",
                want
            );
        }
    }
    // The best by BIC is the full-covariance mixture with K = 2, as for scikit-learn.
    let best: Vec<&Value> = rows.iter().filter(|r| r["best"] == true).collect();
    assert_eq!(best.len(), 1);
    assert_eq!(best[0]["model"], "models/gmm.em");
    assert_eq!(best[0]["setting"], serde_json::json!(["K", 2]));
    // The table as CSV, and each fit ready for predict.
    let csv = std::fs::read_to_string(&table).unwrap();
    assert!(csv.starts_with("model,constant,value,log_likelihood,free_parameters,bic,aic,icl"));
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.contains("models/gmm.em,K,2,"));
    let fit = format!("{fits}/gmm-K=2.json");
    let score = jensen_ok(&["score", &fit, "--data", "data/faithful.csv", "--json"]);
    let score: Value = serde_json::from_str(&score).unwrap();
    let ll = score["log_likelihood"].as_f64().unwrap();
    assert!((ll - -1130.26396).abs() < 1e-4, "{ll}");
    // Text, with ICL picking the best.
    let text = jensen_ok(&[
        "select",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--range",
        "K=1,2,3",
        "--criterion",
        "icl",
    ]);
    assert!(text.contains("ICL*"), "{text}");
    assert!(
        text.lines().last().unwrap()
            == "best by ICL (lowest; * marks the criterion): models/gmm.em with K = 2",
        "{text}"
    );
}

#[test]
fn select_refuses_what_it_cannot_compare() {
    let err = jensen_exits(
        2,
        &[
            "select",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--range",
            "Q=1..3",
        ],
    );
    assert!(
        err.contains("has no constant `Q` (its constants: K)"),
        "{err}"
    );
    let err = jensen_exits(
        2,
        &[
            "select",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--range",
            "K=3..1",
        ],
    );
    assert!(err.contains("the range is empty"), "{err}");
    jensen_exits(4, &["select", "no/such.em", "--data", "data/faithful.csv"]);
    jensen_exits(5, &["select", "models/gmm.em", "--data", "no/such.csv"]);
    // A K the data cannot support fails alone; the others are still compared.
    let tmp = TempDir::new("select-few");
    let few = tmp.file("few.csv");
    std::fs::write(
        &few,
        "eruptions,waiting\n3.6,79\n1.8,54\n3.3,74\n2.3,62\n4.5,85\n",
    )
    .unwrap();
    let out = jensen(&[
        "select",
        "models/gmm.em",
        "--data",
        &few,
        "--range",
        "K=1..9",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("failed"), "{text}");
    assert!(text.contains("← best"), "{text}");
}

/// Parses an SVG file; returns the number of elements named `tag`.
fn svg_elements(path: &str, tag: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{path}");
    assert!(!text.contains("NaN") && !text.contains("inf\""), "{path}");
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag)
        .count()
}

#[test]
fn plot_draws_every_picture_as_well_formed_svg() {
    let tmp = TempDir::new("plot");
    let fit = tmp.file("gmm.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--set",
        "K=3",
        "--out",
        &fit,
        "--quiet",
    ]);
    // The trace: one point per iteration.
    let trace = tmp.file("trace.svg");
    jensen_ok(&["plot", "trace", &fit, "-o", &trace]);
    let doc = read_json(&fit);
    let iterations = doc["elbo_trace"].as_array().unwrap().len();
    assert!(svg_elements(&trace, "circle") >= iterations);
    // The clusters: a point per row (272) and three means, with their ellipses.
    let clusters = tmp.file("clusters.svg");
    jensen_ok(&[
        "plot",
        "clusters",
        &fit,
        "--data",
        "data/faithful.csv",
        "-o",
        &clusters,
    ]);
    assert!(svg_elements(&clusters, "circle") >= 272 + 3);
    assert!(
        svg_elements(&clusters, "polyline") >= 6,
        "two ellipses per component"
    );
    // A chosen pair, and a pair that is not a column.
    jensen_ok(&[
        "plot",
        "clusters",
        &fit,
        "--data",
        "data/faithful.csv",
        "--columns",
        "waiting,eruptions",
        "-o",
        &clusters,
    ]);
    let err = jensen_exits(
        2,
        &[
            "plot",
            "clusters",
            &fit,
            "--data",
            "data/faithful.csv",
            "--columns",
            "waiting,speed",
        ],
    );
    assert!(err.contains("no column `speed`"), "{err}");
    // The select curve.
    let table = tmp.file("select.json");
    jensen_ok(&[
        "select",
        "models/gmm.em",
        "models/gmm_diag.em",
        "--data",
        "data/faithful.csv",
        "--range",
        "K=1..4",
        "--out",
        &table,
    ]);
    let select = tmp.file("select.svg");
    jensen_ok(&["plot", "select", &table, "-o", &select]);
    assert!(
        svg_elements(&select, "polyline") >= 6,
        "three criteria × two models"
    );
    let text = std::fs::read_to_string(&select).unwrap();
    assert!(
        text.contains("best BIC: models/gmm.em, K = 2"),
        "the best is labelled"
    );
    // A chain's states over time, with its sequences.
    let hmm = tmp.file("hmm.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        "data/geyser.csv",
        "--lengths",
        "100,99,100",
        "--out",
        &hmm,
        "--quiet",
    ]);
    let states = tmp.file("states.svg");
    jensen_ok(&[
        "plot",
        "states",
        &hmm,
        "--data",
        "data/geyser.csv",
        "--lengths",
        "100,99,100",
        "-o",
        &states,
    ]);
    assert!(svg_elements(&states, "circle") >= 299);
    // A mixture has no states; a fit that is not one is refused.
    let err = jensen_exits(2, &["plot", "states", &fit, "--data", "data/faithful.csv"]);
    assert!(err.contains("has no chain"), "{err}");
    let err = jensen_exits(2, &["plot", "trace", "data/faithful.csv"]);
    assert!(err.contains("jensen fit --out"), "{err}");
}

#[test]
fn sample_draws_data_that_fits_back() {
    let tmp = TempDir::new("sample");
    let fit = tmp.file("gmm.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    // The fit's columns, whole numbers without a fraction; the latent only on request.
    let few = jensen_ok(&["sample", &fit, "-n", "3", "--seed", "1"]);
    assert_eq!(few.lines().next(), Some("eruptions,waiting"));
    assert_eq!(few.lines().count(), 4);
    assert_eq!(
        few,
        jensen_ok(&["sample", &fit, "-n", "3", "--seed", "1"]),
        "seeded"
    );
    let with = jensen_ok(&["sample", &fit, "-n", "3", "--latent"]);
    assert_eq!(with.lines().next(), Some("z,eruptions,waiting"));
    // 20,000 draws fit back to the parameters they came from.
    let drawn = tmp.file("drawn.csv");
    jensen_ok(&[
        "sample", &fit, "-n", "20000", "--seed", "3", "--out", &drawn,
    ]);
    let refit = tmp.file("refit.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        &drawn,
        "--out",
        &refit,
        "--quiet",
    ]);
    let (a, b) = (read_json(&fit), read_json(&refit));
    let w = |d: &Value| numbers(&d["params"]["w"]);
    let (wa, wb) = (w(&a), w(&b));
    // The components may come back in either order.
    let flip = (wa[0] - wb[0]).abs() > (wa[0] - wb[1]).abs();
    for k in 0..2 {
        let j = if flip { 1 - k } else { k };
        assert!((wa[k] - wb[j]).abs() < 0.02, "weights {wa:?} vs {wb:?}");
        let (ma, mb) = (
            numbers(&a["params"]["mu"][k]),
            numbers(&b["params"]["mu"][j]),
        );
        for (x, y) in ma.iter().zip(&mb) {
            assert!((x - y).abs() < 0.02 * x.abs(), "means {ma:?} vs {mb:?}");
        }
    }
    // Errors: no row count, -n with --data, a model that conditions on data.
    let err = jensen_exits(2, &["sample", &fit]);
    assert!(err.contains("give -n ROWS or --data FILE"), "{err}");
    jensen_exits(
        2,
        &["sample", &fit, "-n", "5", "--data", "data/faithful.csv"],
    );
    let reg = tmp.file("reg.json");
    jensen_ok(&[
        "fit",
        "models/regression_quakes_mv.em",
        "--data",
        "data/quakes.csv",
        "--out",
        &reg,
        "--quiet",
    ]);
    let err = jensen_exits(2, &["sample", &reg, "-n", "10"]);
    assert!(err.contains("`u` is a regression's covariates"), "{err}");
    // With the data, one draw per row and the covariate copied through.
    let out = jensen_ok(&["sample", &reg, "--data", "data/quakes.csv"]);
    assert_eq!(out.lines().next(), Some("lat,long,depth"));
    assert_eq!(out.lines().count(), 1001);
    let quakes = std::fs::read_to_string(format!("{ROOT}/data/quakes.csv")).unwrap();
    let depth_col = quakes
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "depth")
        .unwrap();
    let depths: Vec<&str> = quakes
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(depth_col).unwrap())
        .collect();
    let drawn_depths: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(depths, drawn_depths);
}

#[test]
fn sample_draws_a_chain_in_sequences() {
    let tmp = TempDir::new("sample-chain");
    let fit = tmp.file("hmm.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        "data/geyser.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    let drawn = tmp.file("drawn.csv");
    jensen_ok(&[
        "sample",
        &fit,
        "-n",
        "4000",
        "--sequences",
        "5",
        "--seed",
        "2",
        "--out",
        &drawn,
    ]);
    let text = std::fs::read_to_string(&drawn).unwrap();
    assert_eq!(text.lines().next(), Some("sequence,waiting,duration"));
    assert_eq!(text.lines().count(), 20001);
    // Refitted by sequence, the transition matrix comes back.
    let refit = tmp.file("refit.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        &drawn,
        "--sequence",
        "sequence",
        "--out",
        &refit,
        "--quiet",
    ]);
    let a = |d: &Value| numbers(&d["params"]["A"]);
    let (aa, ab) = (a(&read_json(&fit)), a(&read_json(&refit)));
    let same = aa.iter().zip(&ab).all(|(x, y)| (x - y).abs() < 0.02);
    // States in either order: A' = P A Pᵀ swaps both rows and columns.
    let swapped = [ab[3], ab[2], ab[1], ab[0]];
    let flipped = aa.iter().zip(&swapped).all(|(x, y)| (x - y).abs() < 0.02);
    assert!(same || flipped, "A {aa:?} vs {ab:?}");
    assert_eq!(read_json(&refit)["sequences"].as_array().unwrap().len(), 5);
}

#[test]
fn data_read_from_a_pipe() {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_jensen"))
        .args(["fit", "models/gmm.em", "--data", "/dev/stdin", "--quiet"])
        .current_dir(ROOT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(format!("{ROOT}/data/faithful.csv")).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("log-likelihood -1130.263966"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_saved_fit_keeps_its_categories_weights_and_labels() {
    let tmp = TempDir::new("saved-sizes");
    // Three codes in the fit; new data without the largest binds to the fit's three.
    let fit = tmp.file("cat.json");
    jensen_ok(&[
        "fit",
        "models/hmm_categorical.em",
        "--data",
        "data/geyser_classes.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    let two = tmp.file("two.csv");
    std::fs::write(&two, "eruption\n0\n1\n1\n0\n").unwrap();
    let out = jensen_ok(&["score", &fit, "--data", &two]);
    assert!(out.contains("4 rows"), "{out}");
    let four = tmp.file("four.csv");
    std::fs::write(&four, "eruption\n0\n3\n").unwrap();
    let err = jensen_exits(5, &["score", &fit, "--data", &four]);
    assert!(
        err.contains("the code 3 is not one of the fit's 3 categories"),
        "{err}"
    );
    // A weighted fit scores its own data to its log-likelihood (the weights re-applied).
    let weighted = tmp.file("weighted.json");
    jensen_ok(&[
        "fit",
        "models/poisson_mix.em",
        "--data",
        "data/discoveries_counts.csv",
        "--weights",
        "years",
        "--out",
        &weighted,
        "--quiet",
    ]);
    let score = jensen_ok(&[
        "score",
        &weighted,
        "--data",
        "data/discoveries_counts.csv",
        "--json",
    ]);
    let score: Value = serde_json::from_str(&score).unwrap();
    let fitted = read_json(&weighted)["log_likelihood"].as_f64().unwrap();
    let scored = score["log_likelihood"].as_f64().unwrap();
    assert!(
        (fitted - scored).abs() < 1e-6 * fitted.abs(),
        "{fitted} vs {scored}"
    );
    // A fit whose sequences came from an id column splits new data by it again.
    let seq = tmp.file("seq.csv");
    let geyser = std::fs::read_to_string(format!("{ROOT}/data/geyser.csv")).unwrap();
    let mut text = String::from("run,waiting,duration\n");
    for (i, line) in geyser.lines().skip(1).enumerate() {
        text.push_str(&format!("{},{line}\n", i / 100));
    }
    std::fs::write(&seq, text).unwrap();
    let hmm = tmp.file("hmm.json");
    jensen_ok(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        &seq,
        "--sequence",
        "run",
        "--out",
        &hmm,
        "--quiet",
    ]);
    let score = jensen_ok(&["score", &hmm, "--data", &seq, "--json"]);
    let score: Value = serde_json::from_str(&score).unwrap();
    let fitted = read_json(&hmm)["log_likelihood"].as_f64().unwrap();
    let scored = score["log_likelihood"].as_f64().unwrap();
    assert!(
        (fitted - scored).abs() < 1e-6 * fitted.abs(),
        "{fitted} vs {scored}"
    );
}

#[test]
fn bad_saved_parameters_and_impossible_rows_are_refused() {
    let tmp = TempDir::new("bad-saved");
    let fit = tmp.file("diag.json");
    jensen_ok(&[
        "fit",
        "models/gmm_diag.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    let mut doc = read_json(&fit);
    for (name, value) in [
        ("v", serde_json::json!([[], []])),
        ("v", serde_json::json!([1.0, 2.0])),
        ("v", serde_json::json!([[1.0, -2.0], [1.0, 1.0]])),
        ("w", serde_json::json!([0.2, 0.2])),
    ] {
        let good = doc["params"][name].clone();
        doc["params"][name] = value.clone();
        let bad = tmp.file("bad.json");
        std::fs::write(&bad, doc.to_string()).unwrap();
        let err = jensen_exits(2, &["sample", &bad, "-n", "5"]);
        assert!(
            err.contains(&format!("`{name}`")),
            "{name} = {value}: {err}"
        );
        jensen_exits(2, &["score", &bad, "--data", "data/faithful.csv"]);
        doc["params"][name] = good;
    }
    // Rows the fit gives probability zero: predict stops as score does.
    let cat = tmp.file("cat.json");
    jensen_ok(&[
        "fit",
        "models/hmm_categorical.em",
        "--data",
        "data/geyser_classes.csv",
        "--out",
        &cat,
        "--quiet",
    ]);
    let mut doc = read_json(&cat);
    doc["params"]["q"] = serde_json::json!([[0.8, 0.2, 0.0], [0.0, 0.2, 0.8]]);
    doc["params"]["p0"] = serde_json::json!([1.0, 0.0]);
    doc["params"]["A"] = serde_json::json!([[1.0, 0.0], [0.0, 1.0]]);
    std::fs::write(&cat, doc.to_string()).unwrap();
    let err = jensen_exits(3, &["predict", &cat, "--data", "data/geyser_classes.csv"]);
    assert!(err.contains("has no density under the fit"), "{err}");
    jensen_exits(3, &["score", &cat, "--data", "data/geyser_classes.csv"]);
}

#[test]
fn draws_of_weighted_and_labelled_models_refit() {
    let tmp = TempDir::new("sample-refit");
    for (model, data) in [
        (
            "models/poisson_mix_weighted.em",
            "data/discoveries_counts.csv",
        ),
        (
            "models/gmm_iris_semisupervised.em",
            "data/iris_partially_labelled.csv",
        ),
    ] {
        let fit = tmp.file("fit.json");
        jensen_ok(&["fit", model, "--data", data, "--out", &fit, "--quiet"]);
        let drawn = tmp.file("drawn.csv");
        jensen_ok(&["sample", &fit, "-n", "500", "--out", &drawn]);
        let out = jensen(&["fit", model, "--data", &drawn, "--quiet"]);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{model}: {}",
            stderr(&out)
        );
    }
    // A mixture's rows are independent: --sequences is for chains.
    let fit = tmp.file("gmm.json");
    jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--out",
        &fit,
        "--quiet",
    ]);
    let err = jensen_exits(2, &["sample", &fit, "-n", "5", "--sequences", "3"]);
    assert!(err.contains("draw -n 15 rows"), "{err}");
    // A long draw streams: 200,000 rows, in chunks.
    let big = jensen_ok(&["sample", &fit, "-n", "200000"]);
    assert_eq!(big.lines().count(), 200_001);
}

#[test]
fn select_stops_on_data_that_does_not_bind_and_flags_doubtful_winners() {
    jensen_exits(
        5,
        &[
            "select",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--bind",
            "x=nope",
            "--range",
            "K=1..2",
        ],
    );
    jensen_exits(
        2,
        &[
            "select",
            "models/gmm.em",
            "--data",
            "data/faithful.csv",
            "--set",
            "K=3",
            "--range",
            "K=1..2",
        ],
    );
}

#[cfg(feature = "parquet")]
#[test]
fn data_from_parquet_files_written_by_pyarrow() {
    // faithful as Parquet (snappy, row groups of 100): the same fit as from the CSV.
    let pq = format!("{ROOT}/tests/fixtures/parquet/faithful.parquet");
    let from_pq = jensen_ok(&["fit", "models/gmm.em", "--data", &pq, "--quiet"]);
    let from_csv = jensen_ok(&[
        "fit",
        "models/gmm.em",
        "--data",
        "data/faithful.csv",
        "--quiet",
    ]);
    let summary = |s: &str| s.split(" · ").take(3).collect::<Vec<_>>().join(" · ");
    assert_eq!(summary(&from_pq), summary(&from_csv));
    // iris (zstd): the species, dictionary-encoded text, is not used; a null is missing.
    let iris = format!("{ROOT}/tests/fixtures/parquet/iris.parquet");
    let out = jensen_ok(&["fit", "models/gmm_diag.em", "--data", &iris, "--set", "K=3"]);
    assert!(out.contains("not used: species"), "{out}");
    assert!(out.contains("missing: 1 of 600 cells"), "{out}");
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_says_how_to_build_it() {
    let err = jensen_exits(5, &["fit", "models/gmm.em", "--data", "data/x.parquet"]);
    assert!(err.contains("--features parquet"), "{err}");
}

/// `jensen fit --stream` prints the in-memory fit, and its `--posterior`, written chunk by
/// chunk, holds the same rows; `predict --stream` and `score --stream` with the saved fit
/// print what they print reading the file whole.
#[test]
fn fit_stream_is_the_in_memory_fit() {
    let dir = std::env::temp_dir().join(format!("jensen-cli-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // 9,000 rows of three clusters (a fixed generator).
    let data = dir.join("clusters.csv");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::from("a,b\n");
    for i in 0..9000 {
        let centre = [0.0, 6.0, -4.0][i % 3];
        text.push_str(&format!(
            "{:.6},{:.6}\n",
            centre + uniform() - 0.5,
            centre * 0.5 + uniform() * 2.0
        ));
    }
    std::fs::write(&data, text).expect("write");
    let data = data.to_str().expect("utf-8");
    let (a, b) = (dir.join("memory.csv"), dir.join("streamed.csv"));
    let (a, b) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"));
    let common = [
        "fit",
        "models/gmm.em",
        "--data",
        data,
        "--set",
        "K=3",
        "--iterations",
        "5",
    ];
    let saved = dir.join("fit.json");
    let saved = saved.to_str().expect("utf-8");
    let memory = jensen_ok(&[&common[..], &["--posterior", a, "--out", saved]].concat());
    // Predicting and scoring chunk by chunk (3 of 4096 rows): the same bytes.
    let (p, q) = (
        dir.join("predict-memory.csv"),
        dir.join("predict-streamed.csv"),
    );
    let (p, q) = (p.to_str().expect("utf-8"), q.to_str().expect("utf-8"));
    let predict = ["predict", saved, "--data", data, "--out"];
    let said = jensen(&[&predict[..], &[p]].concat());
    let chunks = ["--stream", "--chunk-rows", "4000"];
    let said_streamed = jensen(&[&predict[..], &[q], &chunks[..]].concat());
    assert!(said.status.success() && said_streamed.status.success());
    assert_eq!(stderr(&said), stderr(&said_streamed));
    let predicted = std::fs::read_to_string(p).expect("predictions");
    assert_eq!(predicted.lines().count(), 9001);
    assert_eq!(predicted, std::fs::read_to_string(q).expect("predictions"));
    let score = ["score", saved, "--data", data];
    assert_eq!(
        jensen_ok(&score),
        jensen_ok(&[&score[..], &chunks[..]].concat())
    );
    // (The binary copy in the test's directory: by default it avoids a temporary directory
    // held in memory.)
    let cache = dir.to_str().expect("utf-8");
    let streamed = jensen_ok(
        &[
            &common[..],
            &[
                "--posterior",
                b,
                "--stream",
                "--chunk-rows",
                "4000",
                "--stream-cache",
                cache,
            ],
        ]
        .concat(),
    );
    assert!(
        streamed.contains(
            "(9000 rows, read in 3 chunk(s) of 4096 rows, one pass per iteration over their binary copy)"
        ),
        "{streamed}"
    );
    // The same summary line, up to the time taken.
    assert_eq!(summary_line(&memory), summary_line(&streamed));
    let (a, b) = (
        std::fs::read_to_string(a).expect("posterior"),
        std::fs::read_to_string(b).expect("posterior"),
    );
    assert_eq!(a.lines().count(), 9001);
    assert_eq!(b.lines().count(), 9001);
    assert_eq!(a.lines().next(), b.lines().next(), "the same columns");
    same_numbers(&a, &b);
    // Parsing the CSV on every pass instead: the same fit.
    let parsed = jensen_ok(
        &[
            &common[..],
            &["--stream", "--chunk-rows", "4000", "--no-stream-cache"],
        ]
        .concat(),
    );
    assert!(
        parsed.contains("one pass per iteration over the CSV)"),
        "{parsed}"
    );
    assert_eq!(summary_line(&memory), summary_line(&parsed));
}

/// The Old Faithful waiting times and durations (`data/geyser.csv`) as 13 sequences of 1 to
/// 61 rows, their ids `s0`, `s1`, … in a first column `seq`: the header and the rows.
fn geyser_sequences() -> (String, Vec<String>) {
    let geyser = std::fs::read_to_string(format!("{ROOT}/data/geyser.csv")).expect("geyser");
    let mut lines = geyser.lines();
    let header = format!("seq,{}", lines.next().expect("a header"));
    let (mut id, mut left, lengths) = (0, 23, [23, 1, 61, 7, 40]);
    let mut rows = Vec::new();
    for line in lines {
        if left == 0 {
            id += 1;
            left = lengths[id % 5];
        }
        left -= 1;
        rows.push(format!("s{id},{line}"));
    }
    (header, rows)
}

/// A Parquet file with `--stream`, decoded a batch at a time on every pass or read from the
/// binary copy: the fit and the posterior of the file read whole; `predict --stream` and
/// `score --stream` the same bytes and line.
#[cfg(feature = "parquet")]
#[test]
fn fit_stream_of_a_parquet_file_is_the_in_memory_fit() {
    let dir = std::env::temp_dir().join(format!("jensen-cli-pq-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let data = "tests/fixtures/parquet/faithful.parquet";
    let (a, b, saved) = (path("memory.csv"), path("streamed.csv"), path("fit.json"));
    let common = ["fit", "models/gmm.em", "--data", data, "--iterations", "10"];
    let memory = jensen_ok(&[&common[..], &["--posterior", &a, "--out", &saved]].concat());
    let streamed = jensen_ok(
        &[
            &common[..],
            &["--posterior", &b, "--stream", "--no-stream-cache"],
        ]
        .concat(),
    );
    assert!(
        streamed.contains(
            "(272 rows, read in 1 chunk(s) of 262144 rows, one pass per iteration over the Parquet file)"
        ),
        "{streamed}"
    );
    assert_eq!(summary_line(&memory), summary_line(&streamed));
    let cached = jensen_ok(&[&common[..], &["--stream", "--stream-cache", &path("")]].concat());
    assert!(cached.contains("over their binary copy"), "{cached}");
    assert_eq!(summary_line(&memory), summary_line(&cached));
    same_numbers(
        &std::fs::read_to_string(&a).expect("posterior"),
        &std::fs::read_to_string(&b).expect("posterior"),
    );
    let (p, q) = (path("predict-memory.csv"), path("predict-streamed.csv"));
    let predict = ["predict", &saved, "--data", data, "--out"];
    let said = jensen(&[&predict[..], &[&p]].concat());
    let said_streamed = jensen(&[&predict[..], &[&q], &["--stream"][..]].concat());
    assert!(said.status.success() && said_streamed.status.success());
    assert_eq!(stderr(&said), stderr(&said_streamed));
    assert_eq!(
        std::fs::read_to_string(&p).expect("predictions"),
        std::fs::read_to_string(&q).expect("predictions")
    );
    let score = ["score", &saved, "--data", data];
    assert_eq!(
        jensen_ok(&score),
        jensen_ok(&[&score[..], &["--stream"][..]].concat())
    );
    // Too large to read whole under the bound: refused from the file's metadata.
    let err = jensen_exits(5, &[&common[..], &["--max-memory", "1K"]].concat());
    assert!(
        err.contains("272 rows of 2 columns need at least") && err.contains("--stream"),
        "{err}"
    );
}

/// A chain read with `--stream`, its chunks cut where the sequence id changes: the fit, the
/// posterior with the Viterbi path, `predict` and `score` are those of the rows in memory;
/// a chain without a column of sequence ids is refused with what to do.
#[test]
fn fit_stream_of_a_chain_is_the_in_memory_fit() {
    let dir = std::env::temp_dir().join(format!("jensen-cli-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (header, rows) = geyser_sequences();
    let data = dir.join("sequences.csv");
    std::fs::write(&data, format!("{header}\n{}\n", rows.join("\n"))).expect("write");
    let data = data.to_str().expect("utf-8");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let (a, b, saved) = (path("memory.csv"), path("streamed.csv"), path("fit.json"));
    let common = [
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        data,
        "--sequence",
        "seq",
        "--iterations",
        "20",
    ];
    let memory = jensen_ok(&[&common[..], &["--posterior", &a, "--out", &saved]].concat());
    let chunks = ["--stream", "--chunk-rows", "50"];
    let streamed = jensen_ok(&[&common[..], &["--posterior", &b], &chunks[..]].concat());
    // (The chunks' first read ends inside a sequence, which waits for the second.)
    assert!(
        streamed.contains(
            "(299 rows in 13 sequence(s), read in 2 chunk(s) of 4096 rows, one pass per iteration over their binary copy)"
        ),
        "{streamed}"
    );
    assert_eq!(summary_line(&memory), summary_line(&streamed));
    let (a, b) = (
        std::fs::read_to_string(a).expect("posterior"),
        std::fs::read_to_string(b).expect("posterior"),
    );
    assert_eq!(
        a.lines().next(),
        Some("r0,r1,assignment,log_likelihood,viterbi")
    );
    assert_eq!(a.lines().next(), b.lines().next(), "the same columns");
    assert_eq!(a.lines().count(), 300);
    assert_eq!(b.lines().count(), 300);
    same_numbers(&a, &b);
    // Predicting and scoring from the fit, chunk by chunk: the same bytes and lines.
    let (p, q) = (path("predict-memory.csv"), path("predict-streamed.csv"));
    let predict = ["predict", &saved, "--data", data, "--out"];
    let said = jensen(&[&predict[..], &[&p]].concat());
    let said_streamed = jensen(&[&predict[..], &[&q], &chunks[..]].concat());
    assert!(said.status.success() && said_streamed.status.success());
    assert_eq!(stderr(&said), stderr(&said_streamed));
    assert!(
        stderr(&said).contains("299 rows in 13 sequence(s)"),
        "{}",
        stderr(&said)
    );
    let predicted = std::fs::read_to_string(&p).expect("predictions");
    assert_eq!(predicted, std::fs::read_to_string(&q).expect("predictions"));
    let score = ["score", &saved, "--data", data];
    assert_eq!(
        jensen_ok(&score),
        jensen_ok(&[&score[..], &chunks[..]].concat())
    );
    // One sequence of every row, or sequences by their lengths, cannot be cut.
    let out = jensen_fails(&["fit", "models/hmm_gaussian.em", "--data", data, "--stream"]);
    assert!(
        out.contains("name the column of sequence ids (`--sequence COLUMN`)"),
        "{out}"
    );
    let out = jensen_fails(&[
        "fit",
        "models/hmm_gaussian.em",
        "--data",
        data,
        "--stream",
        "--lengths",
        "100,199",
    ]);
    assert!(out.contains("--stream with --lengths"), "{out}");
}

/// `--data 'dir/*.parquet'`: every E-step one DataFusion aggregate query, the fit and the
/// posterior those of the same rows in memory (here the Old Faithful file twice, as two
/// parts).
#[cfg(feature = "distributed")]
#[test]
fn fit_over_parquet_files_through_datafusion_is_the_in_memory_fit() {
    let dir = std::env::temp_dir().join(format!("jensen-cli-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for part in ["part-0.parquet", "part-1.parquet"] {
        let faithful = format!("{ROOT}/tests/fixtures/parquet/faithful.parquet");
        std::fs::copy(faithful, dir.join(part)).expect("copy");
    }
    // The same rows in one CSV, in path order.
    let faithful = std::fs::read_to_string(format!("{ROOT}/data/faithful.csv")).expect("faithful");
    let mut lines = faithful.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let twice = format!("{header}\n{}\n{}\n", rows.join("\n"), rows.join("\n"));
    let csv = dir.join("twice.csv");
    std::fs::write(&csv, twice).expect("write");
    let pattern = dir.join("*.parquet");
    let (a, b) = (dir.join("memory.csv"), dir.join("files.csv"));
    let common = ["fit", "models/gmm.em", "--iterations", "20"];
    let memory = jensen_ok(
        &[
            &common[..],
            &[
                "--data",
                csv.to_str().unwrap(),
                "--posterior",
                a.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let files = jensen_ok(
        &[
            &common[..],
            &[
                "--data",
                pattern.to_str().unwrap(),
                "--posterior",
                b.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(
        files.contains("(544 rows, read by DataFusion in chunks of 262144 rows for the first pass; each E-step one aggregate query in this process)"),
        "{files}"
    );
    assert_eq!(summary_line(&memory), summary_line(&files));
    let (a, b) = (
        std::fs::read_to_string(a).expect("posterior"),
        std::fs::read_to_string(b).expect("posterior"),
    );
    assert_eq!(a.lines().count(), 545);
    assert_eq!(a.lines().next(), b.lines().next(), "the same columns");
    same_numbers(&a, &b);
    // A directory is its Parquet files.
    let by_dir = jensen_ok(&[&common[..], &["--data", dir.to_str().unwrap()]].concat());
    assert_eq!(summary_line(&memory), summary_line(&by_dir));
    // No scheduler listening: what to start.
    let err = jensen_fails(
        &[
            &common[..],
            &[
                "--data",
                pattern.to_str().unwrap(),
                "--cluster",
                "127.0.0.1:1",
            ],
        ]
        .concat(),
    );
    assert!(
        err.contains("cannot reach a Ballista scheduler at 127.0.0.1:1")
            && err.contains("jensen-ballista scheduler --bind 127.0.0.1:1"),
        "{err}"
    );
    // Files of another format.
    let err = jensen_fails(&[&common[..], &["--data", "data/*.json"]].concat());
    assert!(err.contains("name Parquet or CSV files"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A chain over CSV files through DataFusion, each file whole sequences: the fit and the
/// posterior (with the Viterbi path) of the same rows in memory.
#[cfg(feature = "distributed")]
#[test]
fn fit_of_a_chain_over_files_through_datafusion_is_the_in_memory_fit() {
    let dir = std::env::temp_dir().join(format!("jensen-cli-chain-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (header, rows) = geyser_sequences();
    let whole = dir.join("whole.csv");
    std::fs::write(&whole, format!("{header}\n{}\n", rows.join("\n"))).expect("write");
    let parts = dir.join("parts");
    std::fs::create_dir_all(&parts).expect("parts");
    // Files of whole sequences: s0–s5 (rows 0..155), s6–s12.
    assert!(rows[154].starts_with("s5,") && rows[155].starts_with("s6,"));
    for (name, range) in [("part-0.csv", 0..155), ("part-1.csv", 155..rows.len())] {
        let text = format!("{header}\n{}\n", rows[range].join("\n"));
        std::fs::write(parts.join(name), text).expect("write");
    }
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let (a, b) = (path("memory.csv"), path("files.csv"));
    let common = [
        "fit",
        "models/hmm_gaussian.em",
        "--sequence",
        "seq",
        "--iterations",
        "20",
    ];
    let memory = jensen_ok(
        &[
            &common[..],
            &["--data", &path("whole.csv"), "--posterior", &a],
        ]
        .concat(),
    );
    let pattern = parts.join("*.csv");
    let files = jensen_ok(
        &[
            &common[..],
            &["--data", pattern.to_str().unwrap(), "--posterior", &b],
        ]
        .concat(),
    );
    assert!(
        files.contains("(299 rows in 13 sequence(s), read by DataFusion in chunks of 262144 rows for the first pass; each E-step one aggregate query in this process)"),
        "{files}"
    );
    assert_eq!(summary_line(&memory), summary_line(&files));
    let (a, b) = (
        std::fs::read_to_string(a).expect("posterior"),
        std::fs::read_to_string(b).expect("posterior"),
    );
    assert_eq!(a.lines().count(), 300);
    assert_eq!(a.lines().next(), b.lines().next(), "the same columns");
    same_numbers(&a, &b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the feature `distributed`, several files or `--cluster` say how to build it.
#[cfg(not(feature = "distributed"))]
#[test]
fn fit_over_several_files_names_the_feature_it_needs() {
    for extra in [
        &["--data", "tests/fixtures/parquet/*.parquet"][..],
        &[
            "--data",
            "data/faithful.csv",
            "--cluster",
            "127.0.0.1:50050",
        ][..],
    ] {
        let err = jensen_fails(&[&["fit", "models/gmm.em"][..], extra].concat());
        assert!(err.contains("--features distributed"), "{err}");
    }
}
