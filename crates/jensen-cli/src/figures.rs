//! `jensen plot`: SVG pictures of a saved fit (its objective per iteration, its components
//! over two data columns, a chain's decoded states) and of a `select` table.

use std::process::ExitCode;

use jensen::lang::plan::{BlockKind, Cov};
use jensen::PlanModel;

use crate::failure::{self, Failure};
use crate::input::{read_table, DataArgs};
use crate::plot::{self, Ellipse, SelectPoint};
use crate::predict::SavedFit;

#[derive(Debug, clap::Args)]
pub(crate) struct PlotArgs {
    #[command(subcommand)]
    what: Picture,
}

#[derive(Debug, clap::Subcommand)]
enum Picture {
    /// The objective per iteration of a saved fit (log-likelihood, log posterior or ELBO).
    Trace {
        /// A fit written by `jensen fit --out`.
        fit: String,
        /// The SVG file to write.
        #[arg(short, long, default_value = "trace.svg")]
        out: String,
    },
    /// A `jensen select --out` table: each criterion against the constant varied, one line
    /// per model file, the best marked.
    Select {
        /// The table (`.json` or `.csv`) written by `jensen select --out`.
        table: String,
        /// The criterion whose best is marked (default: the one the table was selected by).
        #[arg(long)]
        criterion: Option<String>,
        /// The SVG file to write.
        #[arg(short, long, default_value = "select.svg")]
        out: String,
    },
    /// Two data columns, each row coloured by its most probable component (a chain's Viterbi
    /// state), with each Gaussian component's covariance ellipses (1 and 2 standard
    /// deviations) and mean.
    Clusters {
        /// A fit written by `jensen fit --out`.
        fit: String,
        #[command(flatten)]
        data: DataArgs,
        /// The two columns, e.g. `--columns eruptions,waiting` (default: the first two
        /// columns of the first multivariate Normal item, else of the data).
        #[arg(long, value_name = "X,Y")]
        columns: Option<String>,
        /// The SVG file to write.
        #[arg(short, long, default_value = "clusters.svg")]
        out: String,
    },
    /// A chain's decoded (Viterbi) states over time, under one data column.
    States {
        /// A fit of a chain written by `jensen fit --out`.
        fit: String,
        #[command(flatten)]
        data: DataArgs,
        /// The column drawn above the states (default: the first column of the first data
        /// item).
        #[arg(long, value_name = "COLUMN")]
        column: Option<String>,
        /// The SVG file to write.
        #[arg(short, long, default_value = "states.svg")]
        out: String,
    },
}

pub(crate) fn plot(args: PlotArgs) -> Result<ExitCode, Failure> {
    let (svg, out) = match args.what {
        Picture::Trace { fit, out } => (trace(&fit)?, out),
        Picture::Select {
            table,
            criterion,
            out,
        } => (select(&table, criterion.as_deref())?, out),
        Picture::Clusters {
            fit,
            data,
            columns,
            out,
        } => (clusters(&fit, &data, columns.as_deref())?, out),
        Picture::States {
            fit,
            data,
            column,
            out,
        } => (states(&fit, &data, column.as_deref())?, out),
    };
    std::fs::write(&out, svg).map_err(|e| failure::other(format!("cannot write {out}: {e}")))?;
    eprintln!("wrote {out}");
    Ok(ExitCode::SUCCESS)
}

/// The document's name for its objective.
fn objective(fit: &SavedFit) -> &'static str {
    let map = fit.plan.updates.iter().any(|u| u.prior.is_some());
    match (fit.doc.method.as_str(), fit.doc.e_step.as_str(), map) {
        ("vb", _, _) => "ELBO",
        (_, "hard", false) => "complete-data log-likelihood",
        (_, "hard", true) => "complete-data log posterior",
        (_, _, true) => "log posterior",
        _ => "log-likelihood",
    }
}

fn trace(path: &str) -> Result<String, Failure> {
    let fit = SavedFit::read(path, None)?;
    let what = objective(&fit);
    let title = format!(
        "{}: {what} per iteration ({}, {} rows)",
        fit.doc.model,
        fit.doc.method.to_uppercase(),
        fit.doc.n_rows
    );
    plot::trace_svg(&title, what, &fit.doc.elbo_trace).map_err(failure::other)
}

fn select(path: &str, criterion: Option<&str>) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| failure::options(format!("cannot read {path}: {e}")))?;
    let bad = |why: String| {
        failure::options(format!(
            "{path}: {why} (expected a table written by `jensen select --out`)"
        ))
    };
    let mut points = Vec::new();
    let mut chosen = None;
    let mut name = None;
    if path.ends_with(".json") {
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        chosen = doc["criterion"].as_str().map(String::from);
        for r in doc["rows"]
            .as_array()
            .ok_or_else(|| bad("no `rows`".into()))?
        {
            let Some(setting) = r["setting"].as_array() else {
                continue;
            };
            name = setting[0].as_str().map(String::from);
            let num = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
            points.push(SelectPoint {
                model: r["model"].as_str().unwrap_or("?").to_string(),
                k: setting[1]
                    .as_u64()
                    .ok_or_else(|| bad("a setting without a value".into()))?
                    as usize,
                bic: num("bic"),
                aic: num("aic"),
                icl: num("icl"),
            });
        }
    } else {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| bad(format!("no column `{name}`")))
        };
        let (model, constant, value) = (col("model")?, col("constant")?, col("value")?);
        let (bic, aic, icl) = (col("bic")?, col("aic")?, col("icl")?);
        for record in reader.records() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            let Ok(k) = record[value].parse::<usize>() else {
                continue;
            };
            name = Some(record[constant].to_string());
            let num = |c: usize| record[c].parse::<f64>().unwrap_or(f64::NAN);
            points.push(SelectPoint {
                model: record[model].to_string(),
                k,
                bic: num(bic),
                aic: num(aic),
                icl: num(icl),
            });
        }
    }
    if points.is_empty() {
        return Err(bad(
            "no row varies a constant (run select with --range to draw its curve)".into(),
        ));
    }
    let criterion = criterion
        .map(String::from)
        .or(chosen)
        .unwrap_or_else(|| "bic".into())
        .to_uppercase();
    let title = format!(
        "model selection over {}: BIC, AIC and ICL (lower is better)",
        name.unwrap_or_else(|| "K".into())
    );
    plot::select_svg(&title, &points, &criterion).map_err(failure::options)
}

/// Each component's 2-D Gaussian over coordinates `a` and `b` of the vector item a
/// multivariate Normal block models, when one does.
fn ellipses(
    fit: &SavedFit,
    item: jensen::lang::ir::VarId,
    (a, b): (usize, usize),
    k: usize,
) -> Vec<Option<Ellipse>> {
    let params = &fit.doc.params;
    let Some(block) = fit
        .plan
        .blocks
        .iter()
        .find(|blk| blk.data == item && !blk.log_scale)
    else {
        return Vec::new();
    };
    let BlockKind::MvNormal { mean, cov } = block.kind else {
        return Vec::new();
    };
    let name = |v| fit.plan.name(v).to_string();
    // The entry of component `j` of a parameter: `[j, ...]` when per component.
    let entry = |p: jensen::lang::plan::PRef, j: usize, idx: &[usize]| -> Option<f64> {
        let array = params.get(&name(p.param))?;
        let mut full = Vec::with_capacity(idx.len() + 1);
        if p.per_component {
            full.push(j);
        }
        full.extend_from_slice(idx);
        array.get(full.as_slice()).copied()
    };
    (0..k)
        .map(|j| {
            let m = [entry(mean, j, &[a])?, entry(mean, j, &[b])?];
            let c = match cov {
                Cov::Full(p) => [
                    [entry(p, j, &[a, a])?, entry(p, j, &[a, b])?],
                    [entry(p, j, &[b, a])?, entry(p, j, &[b, b])?],
                ],
                Cov::Diag(p) => [[entry(p, j, &[a])?, 0.0], [0.0, entry(p, j, &[b])?]],
                Cov::Spherical(p) => {
                    let s = entry(p, j, &[])?;
                    [[s, 0.0], [0.0, s]]
                }
                Cov::Fixed(s) => [[s, 0.0], [0.0, s]],
            };
            Some(Ellipse { mean: m, cov: c })
        })
        .collect()
}

/// A fit applied to a data file.
struct Decoded {
    fit: SavedFit,
    /// The data file as read.
    table: jensen::bind::Table,
    /// Each row's most probable component (a chain's Viterbi path).
    labels: Vec<usize>,
    /// The rows where a new sequence starts (after the first).
    starts: Vec<usize>,
    /// The number of components.
    k: usize,
}

/// The fit, its data, and each row's most probable component (a chain's Viterbi path).
fn decoded(path: &str, data: &DataArgs) -> Result<Decoded, Failure> {
    let fit = SavedFit::read(path, None)?;
    let bound = fit.bind(data)?;
    let model = PlanModel::new(&fit.plan, &bound.bound);
    let params = fit.params(&model)?;
    let (labels, _) = jensen::runtime::decode(&model, &params).map_err(failure::numerical)?;
    let k = jensen::runtime::MixtureModel::n_components(&model);
    let starts: Vec<usize> = bound
        .bound
        .sequences
        .iter()
        .skip(1)
        .map(|s| s.start)
        .collect();
    let table = read_table(&data.data, data.delimiter)?;
    Ok(Decoded {
        fit,
        table,
        labels,
        starts,
        k,
    })
}

/// The column named `name` of the table, as numbers.
fn column<'t>(table: &'t jensen::bind::Table, name: &str) -> Result<&'t [f64], Failure> {
    let c = table
        .headers
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| {
            failure::options(format!(
                "{}: no column `{name}` (its columns: {})",
                table.source,
                table.headers.join(", ")
            ))
        })?;
    table.columns[c].as_deref().ok_or_else(|| {
        failure::options(format!(
            "{}: column `{name}` is text, not numbers",
            table.source
        ))
    })
}

/// The columns the fit bound to its data items, in item order.
fn bound_columns(fit: &SavedFit) -> Vec<(String, Vec<String>)> {
    fit.doc
        .binding
        .iter()
        .map(|b| (b.item.clone(), b.columns.clone()))
        .collect()
}

fn clusters(path: &str, data: &DataArgs, columns: Option<&str>) -> Result<String, Failure> {
    let Decoded {
        fit,
        table,
        labels,
        k,
        ..
    } = decoded(path, data)?;
    let binding = bound_columns(&fit);
    // The pair: given, else the first two columns of the first multivariate Normal item,
    // else the first two columns the fit reads.
    let (x, y) = match columns {
        Some(text) => {
            let parts: Vec<&str> = text.split(',').map(str::trim).collect();
            match parts.as_slice() {
                [x, y] => (x.to_string(), y.to_string()),
                _ => {
                    return Err(failure::options(format!(
                        "--columns {text}: expected two column names, X,Y"
                    )))
                }
            }
        }
        None => {
            let mvn = fit.plan.blocks.iter().find_map(|b| match b.kind {
                BlockKind::MvNormal { .. } => Some(fit.plan.name(b.data).to_string()),
                _ => None,
            });
            let preferred = binding
                .iter()
                .find(|(item, cols)| Some(item) == mvn.as_ref() && cols.len() >= 2);
            let all: Vec<&String> = match preferred {
                Some((_, cols)) => cols.iter().collect(),
                None => binding.iter().flat_map(|(_, c)| c).collect(),
            };
            match all.as_slice() {
                [x, y, ..] => (x.to_string(), y.to_string()),
                _ => {
                    return Err(failure::options(
                        "the fit reads fewer than two columns: a scatter needs two (use `plot states` or `plot trace`)",
                    ))
                }
            }
        }
    };
    let (xs, ys) = (column(&table, &x)?, column(&table, &y)?);
    // Ellipses when both columns are coordinates of one multivariate Normal item.
    let ell = binding
        .iter()
        .find_map(|(item, cols)| {
            let a = cols.iter().position(|c| *c == x)?;
            let b = cols.iter().position(|c| *c == y)?;
            let v = fit.plan.model.var(item)?;
            Some(ellipses(&fit, v, (a, b), k))
        })
        .unwrap_or_default();
    let what = if fit.plan.latent.is_chain() {
        "Viterbi states"
    } else {
        "most probable components"
    };
    let title = format!("{}, K = {k}: {what}", fit.doc.model);
    plot::scatter_svg(&title, &x, &y, xs, ys, &labels, k, &ell).map_err(failure::other)
}

fn states(path: &str, data: &DataArgs, column_name: Option<&str>) -> Result<String, Failure> {
    let Decoded {
        fit,
        table,
        labels: states,
        starts,
        k,
    } = decoded(path, data)?;
    if !fit.plan.latent.is_chain() {
        return Err(failure::options(format!(
            "{path}: `{}` has no chain; `plot states` draws a hidden Markov model's decoded states (use `plot clusters`)",
            fit.doc.model
        )));
    }
    let name = match column_name {
        Some(c) => c.to_string(),
        None => bound_columns(&fit)
            .iter()
            .flat_map(|(_, c)| c.first())
            .next()
            .cloned()
            .ok_or_else(|| failure::options("the fit reads no column"))?,
    };
    let values = column(&table, &name)?;
    let title = format!("{}, K = {k}: Viterbi path", fit.doc.model);
    plot::states_svg(&title, &name, values, &states, k, &starts).map_err(failure::other)
}
