//! `jensen predict` (alias `decode`) and `jensen score`: a saved fit applied to a data file.

use std::io::Write;
use std::process::ExitCode;

use jensen::lang::Plan;
use jensen::{DynParams, FitDocument, PlanModel};

use crate::failure::{self, csv_error, Failure};
use crate::input::{
    bind_options, compile_source, number_cell, read_model, read_table, score_header, Data, DataArgs,
};

/// A fit written by `jensen fit --out`, with its model compiled.
pub(crate) struct SavedFit {
    /// The fit's file.
    pub(crate) path: String,
    /// The document.
    pub(crate) doc: FitDocument,
    /// The model file's path, for messages.
    pub(crate) model_path: String,
    /// The compiled model.
    pub(crate) plan: Plan,
}

impl SavedFit {
    /// Reads the fit at `path`; `model` reads the model from another file instead of the
    /// text stored in the fit.
    pub(crate) fn read(path: &str, model: Option<&str>) -> Result<SavedFit, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| failure::options(format!("cannot read {path}: {e}")))?;
        let doc = FitDocument::from_json(&text).map_err(|e| {
            failure::options(format!(
                "{path}: {e} (this command reads a fit written by `jensen fit --out`)"
            ))
        })?;
        // The model: `--model`, else the text stored in the fit, else (an older fit) its file.
        let (model_path, source) = match (model, &doc.model_source) {
            (Some(p), _) => (p.to_string(), read_model(p)?),
            (None, Some(source)) => (doc.model_file.clone(), source.clone()),
            (None, None) => (doc.model_file.clone(), read_model(&doc.model_file)?),
        };
        // The method the fit used (a `--method vb` fit of a file without a `method` line).
        let method = match doc.method.as_str() {
            "vb" => Some(jensen::lang::ir::Method::Vb),
            _ => None,
        };
        let plan = compile_source(&model_path, &source, method)?;
        Ok(SavedFit {
            path: path.to_string(),
            doc,
            model_path,
            plan,
        })
    }

    /// Binds `args`'s data as the fit did (constants, columns, category labels), for the
    /// items this model has.
    pub(crate) fn bind(&self, args: &DataArgs) -> Result<Data, Failure> {
        let plan = &self.plan;
        let mut defaults = self.doc.bind_options();
        let is_item = |name: &String| {
            plan.model
                .vars
                .iter()
                .any(|v| v.kind == jensen::lang::ast::DeclKind::Data && v.name == *name)
        };
        defaults.columns.retain(|name, _| is_item(name));
        defaults.categories.retain(|name, _| is_item(name));
        defaults
            .consts
            .retain(|name, _| plan.model.consts.iter().any(|c| c.name == *name));
        defaults.category_counts.retain(|name, _| is_item(name));
        // The fit's weight and sequence-id columns, where the new data have them (the
        // options given here take precedence).
        let table = read_table(&args.data, args.delimiter)?;
        let has = |c: &String| table.headers.contains(c);
        if args.weights.is_none() {
            defaults.weights = self
                .doc
                .weights
                .as_ref()
                .map(|w| w.column.clone())
                .filter(has);
        }
        if args.sequence.is_none() && args.lengths.is_none() {
            if let Some(c) = self.doc.sequence_column.as_ref().filter(|c| has(c)) {
                defaults.sequences = jensen::bind::Sequences::Column(c.clone());
            }
        }
        let opts = bind_options(args, defaults)?;
        let bound = jensen::bind(plan, &table, &opts).map_err(failure::data)?;
        // Items as wide as the fit's (a `--bind` of another width cannot use its parameters).
        for b in &self.doc.binding {
            let Some(item) = plan
                .model
                .var(&b.item)
                .and_then(|v| bound.items[v].as_ref())
            else {
                continue;
            };
            if item.columns.len() != b.columns.len() {
                return Err(failure::data(format!(
                    "{}: data `{}` reads {} column(s) ({}), but the fit's read {} ({}): bind as many",
                    args.data,
                    b.item,
                    item.columns.len(),
                    item.columns.join(", "),
                    b.columns.len(),
                    b.columns.join(", ")
                )));
            }
        }
        Ok(Data {
            bound,
            opts,
            headers: table.headers,
        })
    }

    /// The size of every index set (by set id) as the fit had them, for parameters without
    /// data: constants, columns, categories (the rows count zero).
    pub(crate) fn sizes(&self) -> Result<Vec<usize>, Failure> {
        use jensen::lang::ir::SetSize;
        let model = &self.plan.model;
        let binding = |v: usize| {
            self.doc
                .binding
                .iter()
                .find(|b| b.item == model.vars[v].name)
        };
        model
            .sets
            .iter()
            .map(|set| {
                let size = match set.size {
                    SetSize::Literal(n) => Some(n),
                    SetSize::Const(c) => Some(
                        self.doc
                            .constants
                            .get(&model.consts[c].name)
                            .copied()
                            .unwrap_or(model.consts[c].default),
                    ),
                    SetSize::Rows => Some(0),
                    SetSize::Columns(v) => binding(v).map(|b| b.columns.len()),
                    SetSize::Categories(v) => binding(v).and_then(|b| {
                        b.categories.or_else(|| b.labels.as_ref().map(Vec::len))
                    }),
                };
                size.ok_or_else(|| {
                    failure::options(format!(
                        "{}: the fit does not record the size of `{}` (a fit written by an older jensen): fit again, or pass --data",
                        self.path, set.name
                    ))
                })
            })
            .collect()
    }

    /// The fit's parameters checked without data, at the fit's sizes.
    pub(crate) fn params_alone(&self) -> Result<DynParams, Failure> {
        let sizes = self.sizes()?;
        jensen::exec::check_param_values(&self.plan, &sizes, &self.doc.params)
            .map_err(|e| failure::options(format!("{}: {e}", self.path)))
    }

    /// The fit's parameters, checked against `model`.
    pub(crate) fn params(&self, model: &PlanModel<'_>) -> Result<DynParams, Failure> {
        model
            .check_priors()
            .map_err(|e| failure::model(format!("{}: {e}", self.model_path)))?;
        model
            .check_params(&self.doc.params)
            .map_err(|e| failure::options(format!("{}: {e}", self.path)))
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct PredictArgs {
    /// A fit written by `jensen fit --out`: its model (the stored text of the model file),
    /// constants, column binding, category labels and parameters are used.
    fit: String,
    /// Read the model from this file instead of the text stored in the fit.
    #[arg(long, value_name = "FILE")]
    model: Option<String>,
    /// The data to predict on. Without `--bind`, every data item reads the columns it read
    /// when the model was fitted.
    #[command(flatten)]
    data: DataArgs,
    /// Write the rows as CSV here instead of standard output.
    #[arg(long)]
    out: Option<String>,
}

pub(crate) fn predict(args: PredictArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    let plan = &fit.plan;
    let data = fit.bind(&args.data)?;
    let bound = &data.bound;
    let model = PlanModel::new(plan, bound);
    let params = fit.params(&model)?;
    let (path, joint) = jensen::runtime::decode(&model, &params).map_err(failure::numerical)?;
    let cache =
        jensen::runtime::MixtureModel::prepare(&model, &params).map_err(failure::numerical)?;
    let (posterior, point_ll) = jensen::runtime::em::posterior(&model, &cache);
    let loglik: f64 = point_ll.sum();
    if let Some(row) = point_ll.iter().position(|l| !l.is_finite()) {
        let rows = point_ll.iter().filter(|l| !l.is_finite()).count();
        return Err(failure::numerical(format!(
            "{}: row {} ({rows} row(s) in all) has no density under the fit (ln p = {}): a value the fitted parameters give probability zero — a category or count the fit never saw, a state the chain cannot reach; nothing is predicted",
            args.data.data,
            row + 1,
            point_ll[row]
        )));
    }
    let (mut w, dest) = failure::csv_output(args.out.as_deref())?;
    let dest = dest.as_str();
    let chain = plan.latent.is_chain();
    let k = posterior.ncols();
    let scores = model
        .latent_means(&params, posterior.view())
        .map_err(failure::numerical)?;
    let mut header: Vec<String> = vec!["row".into()];
    if chain {
        header.push("sequence".into());
    }
    header.push(if chain { "viterbi" } else { "map" }.into());
    header.extend((0..k).map(|j| format!("p{j}")));
    // Under variational Bayes a row's term is its share of the ELBO, not a log-likelihood.
    let vb = plan.model.method == jensen::lang::ir::Method::Vb;
    header.push(if vb { "elbo_term" } else { "log_likelihood" }.into());
    header.extend(score_header(plan, scores.as_ref()));
    w.write_record(&header).map_err(|e| csv_error(e, dest))?;
    for (s, seq) in bound.sequences.iter().enumerate() {
        for t in seq.clone() {
            let mut rec = vec![(t + 1).to_string()];
            if chain {
                rec.push(s.to_string());
            }
            rec.push(path[t].to_string());
            rec.extend(posterior.row(t).iter().map(|v| number_cell(*v)));
            rec.push(number_cell(point_ll[t]));
            if let Some(h) = &scores {
                rec.extend(h.row(t).iter().map(|v| number_cell(*v)));
            }
            w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
        }
    }
    w.flush()
        .map_err(|e| csv_error(csv::Error::from(e), dest))?;
    eprintln!(
        "{} rows{} · {} {loglik:.6} · {} ln p(x, z*) {joint:.6}",
        bound.n_rows,
        if chain {
            format!(" in {} sequence(s)", bound.sequences.len())
        } else {
            String::new()
        },
        if vb {
            "sum of the rows' ELBO terms"
        } else {
            "log-likelihood"
        },
        if chain {
            "Viterbi path"
        } else {
            "most probable components"
        },
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// A fit written by `jensen fit --out`.
    fit: String,
    /// Read the model from this file instead of the text stored in the fit.
    #[arg(long, value_name = "FILE")]
    model: Option<String>,
    /// The data to score, bound as the fit's data was unless `--bind` says otherwise.
    #[command(flatten)]
    data: DataArgs,
    /// Print a JSON object instead of the line of text.
    #[arg(long)]
    json: bool,
}

/// The log-likelihood of the data under the fitted parameters (held-out likelihood), with
/// the information criteria a fit of these rows would have.
pub(crate) fn score(args: ScoreArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    let data = fit.bind(&args.data)?;
    let bound = &data.bound;
    let model = PlanModel::new(&fit.plan, bound);
    let params = fit.params(&model)?;
    let cache =
        jensen::runtime::MixtureModel::prepare(&model, &params).map_err(failure::numerical)?;
    let (_, point_ll) = jensen::runtime::em::posterior(&model, &cache);
    let weights = bound.weights.as_ref().map(|w| &w.values);
    let (loglik, n) = match weights {
        Some(w) => (
            point_ll
                .iter()
                .zip(w)
                .map(|(l, w)| if *w == 0.0 { 0.0 } else { l * w })
                .sum::<f64>(),
            w.iter().sum::<f64>(),
        ),
        None => (point_ll.sum(), bound.n_rows as f64),
    };
    if !loglik.is_finite() {
        return Err(failure::numerical(format!(
            "the log-likelihood of {} is {loglik}: a row has no density under the fit (a category or count the fit never saw?); `jensen predict` shows each row's",
            args.data.data
        )));
    }
    // Under variational Bayes a row's term is its share of the ELBO before the KL terms.
    let vb = fit.plan.model.method == jensen::lang::ir::Method::Vb;
    let what = if vb {
        "sum of the rows' ELBO terms"
    } else {
        "log-likelihood"
    };
    let p = fit.doc.free_parameters as f64;
    let bic = -2.0 * loglik + p * n.ln();
    let aic = -2.0 * loglik + 2.0 * p;
    // (BIC and AIC are for a likelihood: not for variational Bayes.)
    let criteria = (!vb).then_some((bic, aic));
    let per = if weights.is_some() {
        "per unit of weight"
    } else {
        "per row"
    };
    if args.json {
        let key = if vb { "elbo_terms" } else { "log_likelihood" };
        let mut doc = serde_json::json!({
            "fit": args.fit,
            "data": args.data.data,
            "rows": bound.n_rows,
            "observations": n,
            "objective": what,
            key: loglik,
            "mean": loglik / n,
            "free_parameters": fit.doc.free_parameters,
        });
        if let Some((bic, aic)) = criteria {
            doc["bic"] = bic.into();
            doc["aic"] = aic.into();
        }
        outln!("{doc}");
    } else {
        let criteria = criteria.map_or(String::new(), |(bic, aic)| {
            format!(" · BIC {bic:.3} · AIC {aic:.3}")
        });
        outln!(
            "{}: {} rows · {what} {loglik:.6} · {:.6} {per}{criteria} · {} free parameters",
            args.data.data,
            bound.n_rows,
            loglik / n,
            fit.doc.free_parameters
        );
    }
    Ok(ExitCode::SUCCESS)
}
