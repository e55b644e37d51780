//! `jensen predict` (alias `decode`) and `jensen score`: a saved fit applied to a data file.

use std::io::Write;
use std::process::ExitCode;

use jensen::lang::Plan;
use jensen::{BindOptions, DynParams, FitDocument, PlanModel};

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
        let table = read_table(&args.data, args.delimiter)?;
        let opts = self.options(args, &table.headers)?;
        let bound = jensen::bind(&self.plan, &table, &opts).map_err(failure::data)?;
        self.check_widths(args, &bound)?;
        Ok(Data {
            bound,
            opts,
            headers: table.headers,
        })
    }

    /// The options that bind data with the columns `headers` as the fit's data were bound
    /// (`args` taking precedence).
    fn options(&self, args: &DataArgs, headers: &[String]) -> Result<BindOptions, Failure> {
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
        let has = |c: &String| headers.contains(c);
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
        bind_options(args, defaults)
    }

    /// Items as wide as the fit's (a `--bind` of another width cannot use its parameters).
    fn check_widths(&self, args: &DataArgs, bound: &jensen::Bound) -> Result<(), Failure> {
        for b in &self.doc.binding {
            let Some(item) = self
                .plan
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
        Ok(())
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
    #[command(flatten)]
    stream: StreamArgs,
}

/// `--stream` for `predict` and `score`.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// Read the data a chunk of rows at a time and never hold every row, for a CSV, Parquet
    /// or `.npy` file larger than memory (a chain's chunks hold whole sequences, by the fit's sequence-id
    /// column): a first pass binds every chunk, a second computes each chunk's rows. The rows equal those of the file read whole, the
    /// totals (added chunk by chunk) to round-off.
    #[arg(long)]
    stream: bool,
    /// Rows per chunk with `--stream` (rounded up to a multiple of 4096; default 262144).
    #[arg(long = "chunk-rows", value_name = "N", requires = "stream")]
    chunk_rows: Option<usize>,
}

impl SavedFit {
    /// `args.data` (CSV) read a chunk at a time, bound as the fit's data were.
    fn open_chunks(
        &self,
        args: &DataArgs,
        stream: &StreamArgs,
        what: &str,
    ) -> Result<crate::stream::Chunked<'_>, Failure> {
        crate::stream::streamable(&self.plan, args, what)?;
        let headers = crate::stream::headers(args)?;
        let options = self.options(args, &headers)?;
        let chunks = crate::stream::open_with(
            &self.plan,
            args,
            options,
            stream.chunk_rows,
            crate::stream::Cache::None,
            what,
        )?;
        self.check_widths(args, jensen::runtime::Chunks::head(&chunks).bound())?;
        Ok(chunks)
    }
}

/// The header line of `jensen predict`'s rows: `k` components, `scores` the continuous
/// latent's posterior means (if the model has one).
fn predict_header(plan: &Plan, k: usize, scores: Option<&ndarray::Array2<f64>>) -> Vec<String> {
    let chain = plan.latent.is_chain();
    let mut header: Vec<String> = vec!["row".into()];
    if chain {
        header.push("sequence".into());
    }
    header.push(if chain { "viterbi" } else { "map" }.into());
    header.extend((0..k).map(|j| format!("p{j}")));
    // Under variational Bayes a row's term is its share of the ELBO, not a log-likelihood.
    header.push(
        if vb(plan) {
            "elbo_term"
        } else {
            "log_likelihood"
        }
        .into(),
    );
    header.extend(score_header(plan, scores));
    header
}

/// One row of `jensen predict`'s output: row `t` (from 0) of a block whose first row is
/// `first`.
fn predict_record(
    first: usize,
    t: usize,
    sequence: Option<usize>,
    state: usize,
    posterior: &ndarray::Array2<f64>,
    point_ll: &ndarray::Array1<f64>,
    scores: Option<&ndarray::Array2<f64>>,
) -> Vec<String> {
    let mut rec = vec![(first + t + 1).to_string()];
    rec.extend(sequence.map(|s| s.to_string()));
    rec.push(state.to_string());
    rec.extend(posterior.row(t).iter().map(|v| number_cell(*v)));
    rec.push(number_cell(point_ll[t]));
    if let Some(h) = scores {
        rec.extend(h.row(t).iter().map(|v| number_cell(*v)));
    }
    rec
}

/// Whether the fit is variational Bayes.
fn vb(plan: &Plan) -> bool {
    plan.model.method == jensen::lang::ir::Method::Vb
}

/// The error for rows the fit gives no density: `row` (from 0) the first, `bad` of them in
/// all (so far, reading in chunks).
fn no_density(data: &str, row: usize, bad: usize, ll: f64, after: &str) -> Failure {
    failure::numerical(format!(
        "{data}: row {} ({bad} row(s) in all{after}) has no density under the fit (ln p = {ll}): a value the fitted parameters give probability zero — a category or count the fit never saw, a state the chain cannot reach; {}",
        row + 1,
        if after.is_empty() {
            "nothing is predicted"
        } else {
            "the rows of the chunks before its own were written"
        }
    ))
}

/// The line `predict` ends with.
fn predict_summary(plan: &Plan, rows: usize, sequences: usize, loglik: f64, joint: f64) {
    let chain = plan.latent.is_chain();
    eprintln!(
        "{rows} rows{} · {} {loglik:.6} · {} ln p(x, z*) {joint:.6}",
        if chain {
            format!(" in {sequences} sequence(s)")
        } else {
            String::new()
        },
        if vb(plan) {
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
}

/// `jensen predict --stream`: each chunk's rows computed and written in turn.
fn predict_stream(args: &PredictArgs, fit: &SavedFit) -> Result<ExitCode, Failure> {
    use jensen::runtime::{em, Chunks, MixtureModel};
    let chunks = fit.open_chunks(&args.data, &args.stream, "predict")?;
    let params = fit.params(chunks.head())?;
    let cache = chunks.head().prepare(&params).map_err(failure::numerical)?;
    // Opened at the first chunk that passes its checks: an error there leaves no output.
    let mut output = None;
    let (mut loglik, mut joint) = (0.0, 0.0);
    // A chain's chunks hold whole sequences, numbered across chunks.
    let chain = fit.plan.latent.is_chain();
    let mut sequences = 0;
    crate::stream::each_chunk(&chunks, &mut |first, chunk| {
        let (posterior, point_ll) = em::posterior(chunk, &cache);
        if let Some(t) = point_ll.iter().position(|l| !l.is_finite()) {
            let bad = point_ll.iter().filter(|l| !l.is_finite()).count();
            let after = format!(
                " of the chunk of rows {}–{}",
                first + 1,
                first + chunk.n_rows()
            );
            return Err(no_density(
                &args.data.data,
                first + t,
                bad,
                point_ll[t],
                &after,
            ));
        }
        let (path, chunk_joint) =
            jensen::runtime::decode(chunk, &params).map_err(failure::numerical)?;
        let scores = chunk
            .latent_means(&params, posterior.view())
            .map_err(failure::numerical)?;
        if output.is_none() {
            let (mut w, dest) = failure::csv_output(args.out.as_deref())?;
            let line = predict_header(&fit.plan, posterior.ncols(), scores.as_ref());
            w.write_record(&line).map_err(|e| csv_error(e, &dest))?;
            output = Some((w, dest));
        }
        let (w, dest) = output.as_mut().expect("opened");
        for (s, seq) in chunk.bound().sequences.iter().enumerate() {
            for t in seq.clone() {
                let rec = predict_record(
                    first,
                    t,
                    chain.then_some(sequences + s),
                    path[t],
                    &posterior,
                    &point_ll,
                    scores.as_ref(),
                );
                w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
            }
        }
        sequences += chunk.bound().sequences.len();
        // (Summed chunk by chunk: the totals equal those of the rows read whole to
        // round-off.)
        loglik += point_ll.sum();
        joint += chunk_joint;
        Ok(())
    })?;
    if let Some((mut w, dest)) = output {
        w.flush()
            .map_err(|e| csv_error(csv::Error::from(e), &dest))?;
    }
    predict_summary(&fit.plan, chunks.rows(), sequences, loglik, joint);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn predict(args: PredictArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    if args.stream.stream {
        return predict_stream(&args, &fit);
    }
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
        let bad = point_ll.iter().filter(|l| !l.is_finite()).count();
        return Err(no_density(&args.data.data, row, bad, point_ll[row], ""));
    }
    let (mut w, dest) = failure::csv_output(args.out.as_deref())?;
    let dest = dest.as_str();
    let chain = plan.latent.is_chain();
    let scores = model
        .latent_means(&params, posterior.view())
        .map_err(failure::numerical)?;
    let header = predict_header(plan, posterior.ncols(), scores.as_ref());
    w.write_record(&header).map_err(|e| csv_error(e, dest))?;
    for (s, seq) in bound.sequences.iter().enumerate() {
        for t in seq.clone() {
            let sequence = chain.then_some(s);
            let rec = predict_record(
                0,
                t,
                sequence,
                path[t],
                &posterior,
                &point_ll,
                scores.as_ref(),
            );
            w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
        }
    }
    w.flush()
        .map_err(|e| csv_error(csv::Error::from(e), dest))?;
    predict_summary(plan, bound.n_rows, bound.sequences.len(), loglik, joint);
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
    #[command(flatten)]
    stream: StreamArgs,
}

/// `Σ_n w_n ln p(x_n)` of a model's rows (a weight 0 adds nothing, even to a row of no
/// density) and their observations `Σ_n w_n` (the rows, unweighted).
fn weighted_loglik(model: &PlanModel<'_>, params: &DynParams) -> Result<(f64, f64), Failure> {
    let cache =
        jensen::runtime::MixtureModel::prepare(model, params).map_err(failure::numerical)?;
    let (_, point_ll) = jensen::runtime::em::posterior(model, &cache);
    let bound = model.bound();
    Ok(match bound.weights.as_ref().map(|w| &w.values) {
        Some(w) => (
            point_ll
                .iter()
                .zip(w)
                .map(|(l, w)| if *w == 0.0 { 0.0 } else { l * w })
                .sum::<f64>(),
            w.iter().sum::<f64>(),
        ),
        None => (point_ll.sum(), bound.n_rows as f64),
    })
}

/// The log-likelihood of the data under the fitted parameters (held-out likelihood), with
/// the information criteria a fit of these rows would have.
pub(crate) fn score(args: ScoreArgs) -> Result<ExitCode, Failure> {
    let fit = SavedFit::read(&args.fit, args.model.as_deref())?;
    let (rows, loglik, n, weighted) = if args.stream.stream {
        use jensen::runtime::Chunks;
        let chunks = fit.open_chunks(&args.data, &args.stream, "score")?;
        let params = fit.params(chunks.head())?;
        let (mut loglik, mut n) = (0.0, 0.0);
        crate::stream::each_chunk(&chunks, &mut |_, chunk| {
            let (l, w) = weighted_loglik(chunk, &params)?;
            loglik += l;
            n += w;
            Ok(())
        })?;
        let weighted = chunks.head().bound().weights.is_some();
        (chunks.rows(), loglik, n, weighted)
    } else {
        let data = fit.bind(&args.data)?;
        let model = PlanModel::new(&fit.plan, &data.bound);
        let params = fit.params(&model)?;
        let (loglik, n) = weighted_loglik(&model, &params)?;
        (data.bound.n_rows, loglik, n, data.bound.weights.is_some())
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
    let per = if weighted {
        "per unit of weight"
    } else {
        "per row"
    };
    if args.json {
        let key = if vb { "elbo_terms" } else { "log_likelihood" };
        let mut doc = serde_json::json!({
            "fit": args.fit,
            "data": args.data.data,
            "rows": rows,
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
            rows,
            loglik / n,
            fit.doc.free_parameters
        );
    }
    Ok(ExitCode::SUCCESS)
}
