//! `jensen select`: every model file × every value of a constant fitted to the same data,
//! compared by BIC, AIC and ICL.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use rayon::prelude::*;
use serde::Serialize;

use crate::failure::{self, Failure};
use crate::fit::{fit_document, Candidate};
use crate::input::{bind_options, compile_source, read_model, read_table, Control, Data, DataArgs};

#[derive(Debug, clap::Args)]
pub(crate) struct SelectArgs {
    /// The model files (`.em`) to compare.
    #[arg(required = true)]
    models: Vec<String>,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    control: Control,
    /// A constant and the values to try: `K=1..8` (1 to 8, both included), `K=2,3,5`, or
    /// `K=4`. Without it each model file is fitted once, at its own constants.
    #[arg(long, value_name = "NAME=VALUES")]
    range: Option<String>,
    /// The criterion that picks the best fit (lower is better for all three).
    #[arg(long, value_enum, default_value = "bic")]
    criterion: Criterion,
    /// Write the table here: JSON when the name ends in `.json`, else CSV.
    #[arg(long)]
    out: Option<String>,
    /// Write every candidate's fit (the document of `jensen fit --out`) into this directory,
    /// as `MODEL-NAME=VALUE.json`, for `predict`, `sample` and `plot`.
    #[arg(long, value_name = "DIR")]
    fits: Option<String>,
    /// Print the table as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Criterion {
    /// −2 ln L + p ln n.
    Bic,
    /// −2 ln L + 2p.
    Aic,
    /// BIC + 2 × the entropy of the latent's posterior (favours well-separated components).
    Icl,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// The model file.
    pub(crate) model: String,
    /// The constant varied and its value, e.g. `("K", 3)`.
    pub(crate) setting: Option<(String, usize)>,
    /// Log-likelihood (`null` when the fit failed).
    pub(crate) log_likelihood: Option<f64>,
    /// Free parameters.
    pub(crate) free_parameters: Option<usize>,
    /// −2 ln L + p ln n.
    pub(crate) bic: Option<f64>,
    /// −2 ln L + 2p.
    pub(crate) aic: Option<f64>,
    /// BIC + 2 × entropy of the latent's posterior.
    pub(crate) icl: Option<f64>,
    /// EM iterations of the kept restart.
    pub(crate) iterations: Option<usize>,
    /// `converged`, `not-converged`, `degenerate`, `unsettled`, or `failed`.
    pub(crate) status: String,
    /// Why the fit failed or is doubtful.
    pub(crate) note: Option<String>,
    /// Whether this row is the best by the chosen criterion.
    pub(crate) best: bool,
}

impl Row {
    fn value(&self, c: Criterion) -> Option<f64> {
        match c {
            Criterion::Bic => self.bic,
            Criterion::Aic => self.aic,
            Criterion::Icl => self.icl,
        }
        .filter(|v| v.is_finite())
    }
}

/// `K=1..8`, `K=1..=8`, `K=2,3,5` or `K=4`.
fn parse_range(text: &str) -> Result<(String, Vec<usize>), Failure> {
    let bad = || {
        failure::options(format!(
            "--range {text}: expected NAME=FROM..TO (both included), NAME=A,B,C or NAME=VALUE, e.g. K=1..8"
        ))
    };
    let (name, values) = text.split_once('=').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad());
    }
    let values: Vec<usize> = if let Some((a, b)) = values.split_once("..") {
        let b = b.strip_prefix('=').unwrap_or(b);
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(failure::options(format!(
                "--range {text}: the range is empty ({a} > {b})"
            )));
        }
        if b - a >= 1000 {
            return Err(failure::options(format!(
                "--range {text}: {} fits; at most 1000 at a time",
                b - a + 1
            )));
        }
        (a..=b).collect()
    } else {
        values
            .split(',')
            .map(|v| v.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    if values.is_empty() {
        return Err(bad());
    }
    for &v in &values {
        if let Some(why) = jensen::lang::check::size_problem(v) {
            return Err(failure::options(format!(
                "--range {text}: `{name}` = {v} {why}"
            )));
        }
    }
    Ok((name.to_string(), values))
}

/// A file name for a candidate's fit: the model file's stem and the setting.
fn fit_file_name(model: &str, setting: Option<&(String, usize)>) -> String {
    let stem = std::path::Path::new(model)
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    match setting {
        Some((name, v)) => format!("{stem}-{name}={v}.json"),
        None => format!("{stem}.json"),
    }
}

pub(crate) fn select(args: SelectArgs) -> Result<ExitCode, Failure> {
    args.control.check()?;
    let range = args.range.as_deref().map(parse_range).transpose()?;
    if let Some((name, _)) = &range {
        if args
            .data
            .set
            .iter()
            .any(|s| s.split_once('=').is_some_and(|(n, _)| n.trim() == name))
        {
            return Err(failure::options(format!(
                "--set {name}=… and --range {name}=…: the range gives `{name}` its values; drop the --set"
            )));
        }
    }
    if args.control.iterations.is_some() {
        return Err(failure::options(
            "--iterations: select compares converged fits; use --max-iter and --tol",
        ));
    }
    // Every model compiles, and has the constant varied, before anything is fitted.
    let mut models = Vec::new();
    for path in &args.models {
        let source = read_model(path)?;
        let plan = compile_source(path, &source, None)?;
        if plan.model.method == jensen::lang::ir::Method::Vb {
            return Err(failure::options(format!(
                "{path}: a variational Bayes model; select compares EM fits by BIC, AIC and ICL (compare VB fits by the ELBO of `jensen fit`)"
            )));
        }
        if let Some((name, _)) = &range {
            if !plan.model.consts.iter().any(|c| c.name == *name) {
                let consts: Vec<&str> = plan.model.consts.iter().map(|c| c.name.as_str()).collect();
                return Err(failure::options(format!(
                    "--range: {path} has no constant `{name}` (its constants: {})",
                    if consts.is_empty() {
                        "none".into()
                    } else {
                        consts.join(", ")
                    }
                )));
            }
        }
        models.push((path.clone(), source, plan));
    }
    let stem = |p: &String| std::path::Path::new(p).file_stem().map(|s| s.to_owned());
    let stems_collide = args
        .models
        .iter()
        .enumerate()
        .any(|(i, a)| args.models[..i].iter().any(|b| stem(a) == stem(b)));
    if let Some(dir) = &args.fits {
        std::fs::create_dir_all(dir)
            .map_err(|e| failure::other(format!("cannot create {dir}: {e}")))?;
    }
    // The candidates run in parallel, each fit (and its restarts) on one thread.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.control.threads.unwrap_or(0))
        .build()
        .map_err(failure::other)?;
    let table = pool.install(|| read_table(&args.data.data, args.data.delimiter))?;
    let base = bind_options(&args.data, Default::default())?;
    let settings: Vec<Option<(String, usize)>> = match &range {
        Some((name, values)) => values.iter().map(|&v| Some((name.clone(), v))).collect(),
        None => vec![None],
    };
    let jobs: Vec<(usize, Option<(String, usize)>)> = (0..models.len())
        .flat_map(|m| settings.iter().map(move |s| (m, s.clone())))
        .collect();
    let bar = (std::io::stderr().is_terminal() && !args.json).then(|| {
        let bar = indicatif::ProgressBar::new(jobs.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} fits · {elapsed} · {msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let fit_one = |(m, setting): &(usize, Option<(String, usize)>)| -> Result<Row, Failure> {
        let (path, source, plan) = &models[*m];
        let mut opts = base.clone();
        if let Some((name, v)) = setting {
            opts.consts.insert(name.clone(), *v);
        }
        let row = |status: &str, note: String| Row {
            model: path.clone(),
            setting: setting.clone(),
            log_likelihood: None,
            free_parameters: None,
            bic: None,
            aic: None,
            icl: None,
            iterations: None,
            status: status.into(),
            note: Some(note),
            best: false,
        };
        // The data must bind (columns, codes, memory): if not, nothing can be compared.
        let bound = jensen::bind(plan, &table, &opts).map_err(|e| {
            failure::data(match setting {
                Some((n, v)) => format!("{path} with {n} = {v}: {e}"),
                None => format!("{path}: {e}"),
            })
        })?;
        let data = Data {
            bound,
            opts,
            headers: table.headers.clone(),
        };
        let model = jensen::PlanModel::new(plan, &data.bound);
        model
            .check_priors()
            .map_err(|e| failure::model(format!("{path}: {e}")))?;
        let mut fit_opts = args
            .control
            .fit_options(jensen::runtime::InitStrategy::KMeansPlusPlus, None)?;
        fit_opts.threads = Some(1);
        let result = match jensen::fit(&model, &fit_opts) {
            Ok(r) => r,
            Err(e) => return Ok(row("failed", e.to_string())),
        };
        if let Some(dir) = &args.fits {
            let viterbi = if plan.latent.is_chain() {
                jensen::runtime::decode(&model, &result.params).ok()
            } else {
                None
            };
            let doc = fit_document(
                &Candidate {
                    model_file: path,
                    source,
                    data_file: &args.data.data,
                    plan,
                    data: &data,
                    model: &model,
                },
                &result,
                viterbi.as_ref(),
                &args.control,
            );
            // Models of the same file name are told apart by their place on the command line.
            let mut name = fit_file_name(path, setting.as_ref());
            if stems_collide {
                name = format!("{}-{name}", m + 1);
            }
            let file = std::path::Path::new(dir).join(name);
            std::fs::write(&file, doc.to_json())
                .map_err(|e| failure::other(format!("cannot write {}: {e}", file.display())))?;
        }
        // ICL: BIC plus twice the entropy of the latent's posterior.
        let weights = data.bound.weights.as_ref().map(|w| &w.values);
        let entropy: f64 = result
            .responsibilities
            .rows()
            .into_iter()
            .enumerate()
            .map(|(n, r)| {
                let w = weights.map_or(1.0, |w| w[n]);
                let h: f64 = r.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
                if w == 0.0 {
                    0.0
                } else {
                    w * h
                }
            })
            .sum();
        let status = result.status();
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(format!(
                "{path}{}: BIC {:.2}",
                setting
                    .as_ref()
                    .map_or(String::new(), |(n, v)| format!(" {n}={v}")),
                result.bic
            ));
        }
        Ok(Row {
            model: path.clone(),
            setting: setting.clone(),
            log_likelihood: Some(result.log_likelihood),
            free_parameters: Some(result.free_parameters),
            bic: Some(result.bic),
            aic: Some(result.aic),
            icl: Some(result.bic + 2.0 * entropy),
            iterations: Some(result.iterations),
            status: status.as_str().into(),
            // The first warning, and how many more.
            note: result
                .warnings
                .first()
                .map(|w| match result.warnings.len() {
                    1 => w.to_string(),
                    n => format!("{w} (and {} more warning(s))", n - 1),
                }),
            best: false,
        })
    };
    let rows: Result<Vec<Row>, Failure> = pool.install(|| jobs.par_iter().map(fit_one).collect());
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut rows = rows?;
    // The best: the lowest criterion among fits that are not failed or doubtful; else among
    // every fit with a value.
    let trusted = |r: &Row| matches!(r.status.as_str(), "converged" | "not-converged");
    let pick = |only_trusted: bool| {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| !only_trusted || trusted(r))
            .filter_map(|(i, r)| r.value(args.criterion).map(|v| (i, v)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    };
    let sound = pick(true);
    let best = sound.or_else(|| pick(false));
    if let Some(i) = best {
        rows[i].best = true;
    }
    if let Some(out) = &args.out {
        write_table(out, &rows, args.criterion)?;
    }
    if args.json {
        let doc = serde_json::json!({
            "data": args.data.data,
            "criterion": args.criterion,
            "rows": rows,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(failure::other)?
        );
    } else {
        print_table(&rows, args.criterion, range.as_ref().map(|r| r.0.as_str()))?;
    }
    match (sound, best) {
        (Some(_), _) => Ok(ExitCode::SUCCESS),
        (None, Some(_)) => Err(failure::numerical(
            "no fit is sound (each failed or is degenerate or unsettled): the best of the doubtful ones is marked, but should not be trusted (see the notes)",
        )),
        (None, None) => Err(failure::numerical(
            "every fit failed: no model can be selected (see the table's notes)",
        )),
    }
}

fn criterion_name(c: Criterion) -> &'static str {
    match c {
        Criterion::Bic => "BIC",
        Criterion::Aic => "AIC",
        Criterion::Icl => "ICL",
    }
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.decimals$}"))
}

fn print_table(rows: &[Row], criterion: Criterion, name: Option<&str>) -> Result<(), Failure> {
    let width = rows
        .iter()
        .map(|r| r.model.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let setting_head = name.unwrap_or("");
    let sw = setting_head.len().max(if name.is_some() { 3 } else { 0 });
    let mark = |c: Criterion| {
        if c == criterion {
            format!("{}*", criterion_name(c))
        } else {
            criterion_name(c).to_string()
        }
    };
    outln!(
        "{:<width$}  {setting_head:>sw$}  {:>14}  {:>6}  {:>12}  {:>12}  {:>12}  {:>6}  status",
        "model",
        "log-lik",
        "params",
        mark(Criterion::Bic),
        mark(Criterion::Aic),
        mark(Criterion::Icl),
        "iters",
    );
    for r in rows {
        let setting = r
            .setting
            .as_ref()
            .map_or(String::new(), |(_, v)| v.to_string());
        outln!(
            "{:<width$}  {setting:>sw$}  {:>14}  {:>6}  {:>12}  {:>12}  {:>12}  {:>6}  {}{}",
            r.model,
            cell(r.log_likelihood, 4),
            r.free_parameters.map_or("—".into(), |p| p.to_string()),
            cell(r.bic, 3),
            cell(r.aic, 3),
            cell(r.icl, 3),
            r.iterations.map_or("—".into(), |i| i.to_string()),
            r.status,
            if r.best { "  ← best" } else { "" },
        );
    }
    for r in rows.iter().filter(|r| r.note.is_some()) {
        eprintln!(
            "note: {}{}: {}",
            r.model,
            r.setting
                .as_ref()
                .map_or(String::new(), |(n, v)| format!(" {n}={v}")),
            r.note.as_deref().unwrap_or_default()
        );
    }
    if let Some(best) = rows.iter().find(|r| r.best) {
        outln!(
            "best by {} (lowest; * marks the criterion): {}{}",
            criterion_name(criterion),
            best.model,
            best.setting
                .as_ref()
                .map_or(String::new(), |(n, v)| format!(" with {n} = {v}")),
        );
    }
    Ok(())
}

fn write_table(path: &str, rows: &[Row], criterion: Criterion) -> Result<(), Failure> {
    let cannot = |e: &dyn std::fmt::Display| failure::other(format!("cannot write {path}: {e}"));
    if path.ends_with(".json") {
        let doc = serde_json::json!({ "criterion": criterion, "rows": rows });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| cannot(&e))?;
        return std::fs::write(path, text + "\n").map_err(|e| cannot(&e));
    }
    let mut w = csv::Writer::from_path(path).map_err(|e| cannot(&e))?;
    w.write_record([
        "model",
        "constant",
        "value",
        "log_likelihood",
        "free_parameters",
        "bic",
        "aic",
        "icl",
        "iterations",
        "status",
        "best",
        "note",
    ])
    .map_err(|e| cannot(&e))?;
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:?}"));
    for r in rows {
        w.write_record([
            r.model.clone(),
            r.setting.as_ref().map_or(String::new(), |s| s.0.clone()),
            r.setting
                .as_ref()
                .map_or(String::new(), |s| s.1.to_string()),
            num(r.log_likelihood),
            r.free_parameters.map_or(String::new(), |p| p.to_string()),
            num(r.bic),
            num(r.aic),
            num(r.icl),
            r.iterations.map_or(String::new(), |i| i.to_string()),
            r.status.clone(),
            r.best.to_string(),
            r.note.clone().unwrap_or_default(),
        ])
        .map_err(|e| cannot(&e))?;
    }
    w.flush().map_err(|e| cannot(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_lists_or_single_values() {
        assert_eq!(
            parse_range("K=1..4").unwrap(),
            ("K".into(), vec![1, 2, 3, 4])
        );
        assert_eq!(parse_range("K=2..=3").unwrap(), ("K".into(), vec![2, 3]));
        assert_eq!(parse_range(" K = 2, 5 ").unwrap(), ("K".into(), vec![2, 5]));
        assert_eq!(parse_range("L=3").unwrap(), ("L".into(), vec![3]));
        for bad in ["K", "=3", "K=", "K=a..3", "K=4..2", "K=1..5000", "K=1,x"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fit_files_are_named_by_model_and_setting() {
        assert_eq!(
            fit_file_name("models/gmm.em", Some(&("K".into(), 3))),
            "gmm-K=3.json"
        );
        assert_eq!(fit_file_name("hmm.em", None), "hmm.json");
    }
}
