//! `jensen fit`: a model file fitted to a data file, the trace and parameters printed, the
//! fit written as JSON and the posterior as CSV.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use jensen::bind::{BindOptions, Sequences};
use jensen::document::{ItemBinding, LabelsUsed, Reseed, Viterbi, WeightsUsed};
use jensen::lang::plan::Rule;
use jensen::runtime::{EStepMode, InitStrategy, Progress};
use jensen::{FitDocument, PlanModel};

use crate::failure::{self, csv_error, Failure};
use crate::input::{
    bind_data, compile_source, format_array, number_cell, read_model, read_params, score_header,
    Control, Data, DataArgs, EStepArg, MethodArg,
};

/// The progress line of a fit: iterations done over every restart, and the latest one's
/// objective, redrawn at most a few times a second.
fn fit_progress(restarts: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{elapsed}} · {{pos}} iterations over {restarts} restart(s) · {{msg}}"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
#[derive(Debug, clap::Args)]
pub(crate) struct FitArgs {
    /// The model file (`.em`).
    model: String,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    control: Control,
    /// `kmeans++`, `random`, or a JSON file of starting parameters (as in `--out`'s `params`).
    #[arg(long, default_value = "kmeans++")]
    init: String,
    /// Hold parameter NAME at a known value instead of estimating it (repeatable): FILE is
    /// JSON holding the value (nested arrays as in `--out`'s `params`, or a number), or a fit
    /// or parameter file from which NAME is taken. A fixed parameter is not counted in BIC
    /// and AIC, and its value replaces any starting value of `--init`.
    #[arg(long = "fix", value_name = "NAME=FILE")]
    fix: Vec<String>,
    /// `em` (point estimates: maximum likelihood, or MAP with the file's priors) or `vb`
    /// (mean-field variational Bayes: every parameter with a conjugate prior gets a
    /// posterior, shown as its mean and strength, e.g. `w` and `w_concentration`; the
    /// objective is the ELBO). Default: the model file's `method` line, else em.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Write the fit as JSON: the model's text, the binding, parameters, ELBO trace,
    /// assignments, … (read by `jensen decode` and `--init`).
    #[arg(long)]
    out: Option<String>,
    /// Write per-row responsibilities, assignment and log-likelihood as CSV (for a chain: state
    /// posteriors, `ln p(x_t | earlier rows of its sequence)`, and the Viterbi state; for a
    /// continuous latent `h`: its posterior mean, the factor scores `h0`, `h1`, …; under
    /// variational Bayes the row's ELBO term, `elbo_term`, in place of its log-likelihood).
    #[arg(long)]
    posterior: Option<String>,
    /// Print only the summary: the fit's line, after the objective and inertia of a hard E-step
    /// (warnings still go to stderr).
    #[arg(long)]
    quiet: bool,
    /// Print the fit as JSON on stdout (the document `--out` writes) instead of text.
    #[arg(long)]
    json: bool,
    /// Read the data a chunk of rows at a time and never hold every row, for a CSV,
    /// Parquet or `.npy` file larger than memory: a first pass binds every chunk and takes the whole data's moments,
    /// then each EM iteration is one pass over the file. The fit equals the in-memory one to
    /// round-off; `--posterior` is written chunk by chunk. A chain needs `--sequence COLUMN`
    /// (each chunk then holds whole sequences); not for partial labels.
    #[arg(long)]
    stream: bool,
    /// Rows per chunk with `--stream` (rounded up to a multiple of 4096; default 262144):
    /// memory holds about two copies of one chunk.
    #[arg(long = "chunk-rows", value_name = "N", requires = "stream")]
    chunk_rows: Option<usize>,
    /// With `--stream`, where the first pass writes the bound chunks in binary (the data's
    /// size in f64; removed as soon as it is created), which later passes read instead of
    /// parsing the CSV again. Default: the system's temporary directory (`TMPDIR`), unless it
    /// is held in memory (tmpfs), when the CSV is parsed on every pass. The summary line says
    /// which.
    #[arg(long = "stream-cache", value_name = "DIR", requires = "stream")]
    stream_cache: Option<String>,
    /// With `--stream`, parse the CSV again on every pass instead of keeping a binary copy.
    #[arg(
        long = "no-stream-cache",
        requires = "stream",
        conflicts_with = "stream_cache"
    )]
    no_stream_cache: bool,
    /// Run every E-step as one aggregate query on an Apache Ballista cluster, by its
    /// scheduler's `HOST:PORT` (`jensen-ballista scheduler`; executors `jensen-ballista
    /// executor`), over the files `--data` names (a pattern such as `'dir/*.parquet'`, a
    /// directory of Parquet files, or one Parquet or CSV file), which every executor reads at
    /// the same path. Without it, such files are read by DataFusion in this process. Needs
    /// jensen built with `--features distributed`. A chain needs `--sequence COLUMN` and
    /// files of whole sequences.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "stream")]
    cluster: Option<String>,
}
/// `a, b, c`, or for a long list its ends and the count.
fn list_columns(columns: &[String]) -> String {
    if columns.len() <= 16 {
        columns.join(", ")
    } else {
        format!(
            "{}, …, {} ({} columns)",
            columns[..8].join(", "),
            columns[columns.len() - 4..].join(", "),
            columns.len()
        )
    }
}

/// The header's account of the binding: `data x ← a, b` per item, the category labels of
/// text columns, and the columns nothing reads.
fn print_binding(data: &Data, binding: &[ItemBinding]) -> Result<(), Failure> {
    for b in binding {
        outln!("data {} ← {}", b.item, list_columns(&b.columns));
        if b.missing_cells() > 0 {
            let per_column: Vec<String> = b
                .columns
                .iter()
                .zip(&b.missing)
                .filter(|(_, &m)| m > 0)
                .map(|(c, m)| format!("{c} {m}"))
                .collect();
            outln!(
                "     missing: {} of {} cells, in {} of {} rows ({}), integrated out of each row's E-step",
                b.missing_cells(),
                b.columns.len() * data.bound.n_rows,
                b.missing_rows,
                data.bound.n_rows,
                per_column.join(", ")
            );
        }
        if let Some(labels) = &b.labels {
            let codes: Vec<String> = labels
                .iter()
                .enumerate()
                .map(|(k, l)| format!("{k} = {l}"))
                .collect();
            outln!(
                "     {} is text: categories in sorted order, {}",
                b.columns.join(", "),
                codes.join(", ")
            );
        }
    }
    if let Some(w) = &data.bound.weights {
        let values = &w.values;
        let zero = values.iter().filter(|&&v| v == 0.0).count();
        outln!(
            "weights ← {}: Σ = {} over {} rows (from {} to {}{})",
            w.column,
            w.total,
            values.len(),
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            if zero > 0 {
                format!("; {zero} rows of weight 0 left out")
            } else {
                String::new()
            }
        );
    }
    let sequence = match &data.opts.sequences {
        Sequences::Column(c) => Some(c),
        _ => None,
    };
    if let Some(l) = &data.bound.labels {
        let given = l.values.iter().flatten().count();
        let names = l.names.as_ref().map_or(String::new(), |names| {
            let codes: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(k, n)| format!("{k} = {n}"))
                .collect();
            format!("; {}", codes.join(", "))
        });
        outln!(
            "labels ← {}: {given} of {} rows labelled, the others inferred{names}",
            l.column,
            l.values.len()
        );
    }
    let labels = data.bound.labels.as_ref().map(|l| &l.column);
    let weights = data.bound.weights.as_ref().map(|w| &w.column);
    let unused: Vec<String> = data
        .headers
        .iter()
        .filter(|h| {
            Some(*h) != sequence
                && Some(*h) != weights
                && Some(*h) != labels
                && !binding.iter().any(|b| b.columns.contains(h))
        })
        .cloned()
        .collect();
    if !unused.is_empty() {
        outln!("not used: {}", list_columns(&unused));
    }
    Ok(())
}

/// Warns on stderr about columns whose value never changes.
fn warn_constant_columns(plan: &jensen::Plan, bound: &jensen::Bound) {
    for (v, item) in bound.items.iter().enumerate() {
        let Some(item) = item else { continue };
        let constant = item.constant_columns();
        if constant.is_empty() || item.labels.is_some() {
            continue;
        }
        let list: Vec<String> = constant
            .iter()
            .map(|(name, value)| format!("`{name}` (always {value})"))
            .collect();
        eprintln!(
            "warning: data `{}`: {} {} constant: {}; a constant column carries no information \
             (leave it out with --exclude, --bind or `except (...)`)",
            plan.model.vars[v].name,
            constant.len(),
            if constant.len() == 1 {
                "column is"
            } else {
                "columns are"
            },
            list.join(", ")
        );
    }
}

/// Marks the parameters of `--fix NAME=FILE` as fixed at fit time and reads their values.
fn read_fixes(
    plan: &mut jensen::Plan,
    fixes: &[String],
) -> Result<Vec<(String, ndarray::ArrayD<f64>)>, String> {
    let mut out = Vec::new();
    for fix in fixes {
        let Some((name, path)) = fix.split_once('=') else {
            return Err(format!("--fix {fix}: expected NAME=FILE"));
        };
        let params: Vec<&str> = plan
            .model
            .vars
            .iter()
            .filter(|v| v.kind == jensen::lang::ast::DeclKind::Param)
            .map(|v| v.name.as_str())
            .collect();
        let Some(v) = plan.model.var(name).filter(|_| params.contains(&name)) else {
            return Err(format!(
                "--fix {fix}: the model has no parameter `{name}` (its parameters: {})",
                params.join(", ")
            ));
        };
        if plan.model.vars[v].fixed.is_some() {
            return Err(format!(
                "--fix {fix}: `{}` is fixed in the model file already",
                plan.model.vars[v].text
            ));
        }
        if let Some(prior) = plan
            .updates
            .iter()
            .find(|u| u.param == v)
            .and_then(|u| u.prior.as_ref())
        {
            return Err(format!(
                "--fix {fix}: `{name}` has a prior, `{}`: a known value takes none (remove the prior to fix it)",
                plan.model.factors[prior.factor].text
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--fix {fix}: cannot read {path}: {e}"))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("--fix {fix}: {path}: {e}"))?;
        // The value itself, or NAME in a parameter file, or in a fit's `params`.
        let value = match &json {
            serde_json::Value::Object(map) => map
                .get("params")
                .and_then(|p| p.get(name))
                .or_else(|| map.get(name))
                .cloned()
                .ok_or_else(|| format!("--fix {fix}: {path} holds no value of `{name}`"))?,
            other => other.clone(),
        };
        let nested: jensen::runtime::nested::Nested =
            serde_json::from_value(value).map_err(|e| {
                format!("--fix {fix}: {path}: not a number or nested arrays of numbers ({e})")
            })?;
        let array = nested
            .to_array()
            .map_err(|e| format!("--fix {fix}: {path}: {e}"))?;
        plan.model.vars[v].fixed = Some(jensen::lang::ir::Fixed::Given);
        out.push((name.to_string(), array));
    }
    Ok(out)
}

pub(crate) fn fit(args: FitArgs) -> Result<ExitCode, Failure> {
    // `--threads` for all the command runs: the fit (on a pool of its own), and also the
    // reading of the data (a large CSV file's cells are parsed on a second thread when the
    // pool has one) and a streamed fit's first passes, on rayon's global pool. (Only the first
    // call in a process sets the global pool.)
    if let Some(threads) = args.control.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    let source = read_model(&args.model)?;
    let method = args.method.map(MethodArg::method);
    let mut plan = compile_source(&args.model, &source, method)?;
    let fixes = read_fixes(&mut plan, &args.fix).map_err(failure::options)?;
    let vb = plan.model.method == jensen::lang::ir::Method::Vb;
    if vb && matches!(args.control.estep, Some(EStepArg::Hard)) {
        return Err(Failure::Options("--estep hard with variational Bayes: VB keeps the whole posterior of the latent; drop --estep hard or fit with --method em".into()));
    }
    let files = args.cluster.is_some() || crate::stream::names_files(&args.data.data);
    if files && args.stream {
        return Err(failure::options(format!(
            "--stream with --data {}: files read through DataFusion are always read a chunk at a time; drop --stream",
            args.data.data
        )));
    }
    let mut headers = None;
    let mut chunked = match args.stream {
        _ if files => {
            let (chunks, columns) = crate::stream::open_files(
                &plan,
                &source,
                &args.data,
                args.cluster.as_deref(),
                args.control.threads,
            )?;
            headers = Some(columns);
            Some(chunks)
        }
        true => {
            let cache = match (&args.stream_cache, args.no_stream_cache) {
                (_, true) => crate::stream::Cache::None,
                (Some(dir), _) => crate::stream::Cache::In(dir),
                (None, false) => crate::stream::Cache::Temp,
            };
            Some(crate::stream::open(
                &plan,
                &args.data,
                args.chunk_rows,
                cache,
            )?)
        }
        false => None,
    };
    let data = match &chunked {
        None => bind_data(&plan, &args.data, BindOptions::default())?,
        // The first chunk stands for the data in what is shown of the binding.
        Some(chunked) => match headers {
            Some(headers) => crate::stream::files_data(chunked, &args.data, headers)?,
            None => crate::stream::data(chunked, &args.data)?,
        },
    };
    let bound = &data.bound;
    let binding = ItemBinding::of(&plan, bound);
    if chunked.is_none() {
        warn_constant_columns(&plan, bound);
    }
    let mut in_memory = None;
    let model: &mut PlanModel<'_> = match chunked.as_mut() {
        Some(chunked) => chunked.head_mut(),
        None => in_memory.insert(PlanModel::new(&plan, bound)),
    };
    for (name, value) in fixes {
        model
            .fix(&name, value)
            .map_err(|e| failure::options(format!("--fix {name}: {e}")))?;
    }
    let model: &PlanModel<'_> = match &chunked {
        Some(chunked) => jensen::runtime::Chunks::head(chunked),
        None => in_memory.as_ref().expect("the model of the rows in memory"),
    };
    model
        .check_priors()
        .map_err(|e| failure::model(format!("{}: {e}", args.model)))?;
    args.control.check()?;
    let init = match args.init.as_str() {
        "kmeans++" | "k-means++" => InitStrategy::KMeansPlusPlus,
        "random" => InitStrategy::RandomFromData,
        path if !std::path::Path::new(path).exists() => {
            return Err(failure::options(format!(
                "--init {path}: not `kmeans++` or `random`, and no such file"
            )))
        }
        path => InitStrategy::Params(read_params(path, model)?),
    };
    if !args.quiet && !args.json {
        outln!(
            "model {} on {} ({} rows{}{})",
            plan.model.name,
            args.data.data,
            chunked.as_ref().map_or(bound.n_rows, |s| s.rows()),
            if plan.latent.is_chain() {
                let sequences = chunked
                    .as_ref()
                    .map_or(bound.sequences.len(), |s| s.context().sequences());
                format!(" in {sequences} sequence(s)")
            } else {
                String::new()
            },
            if let (Some(s), true) = (&chunked, files) {
                let hard = match args.control.estep {
                    Some(e) => matches!(e, EStepArg::Hard),
                    None => {
                        jensen::runtime::MixtureModel::e_step_mode(model)
                            == jensen::runtime::EStepMode::Hard
                    }
                };
                format!(
                    ", read by DataFusion in chunks of {} rows for the first pass; {}",
                    s.chunk_rows(),
                    match (&args.cluster, hard) {
                        (_, true) => "each hard E-step reads the files here".to_string(),
                        (Some(address), false) => format!(
                            "each E-step one aggregate query on the Ballista cluster at {address}"
                        ),
                        (None, false) =>
                            "each E-step one aggregate query in this process".to_string(),
                    }
                )
            } else if let Some(s) = &chunked {
                format!(
                    ", read in {} chunk(s) of {} rows, one pass per iteration{}",
                    s.chunks(),
                    s.chunk_rows(),
                    if s.cached() {
                        " over their binary copy"
                    } else if args.data.data.to_ascii_lowercase().ends_with(".parquet") {
                        " over the Parquet file"
                    } else if args.data.data.to_ascii_lowercase().ends_with(".npy") {
                        " over the .npy file"
                    } else {
                        " over the CSV"
                    }
                )
            } else {
                String::new()
            }
        );
        print_binding(&data, &binding)?;
    }
    // Progress on a terminal (silent when stderr is piped, or with --quiet).
    let show_progress = std::io::stderr().is_terminal() && !args.quiet && !args.json;
    let started = Instant::now();
    let bar = show_progress.then(|| fit_progress(args.control.restarts));
    let progress: Option<jensen::runtime::em::ProgressFn> = bar.clone().map(|bar| {
        let best = Arc::new(std::sync::Mutex::new(f64::NEG_INFINITY));
        Arc::new(move |p: Progress| {
            let best = {
                let mut best = best.lock().unwrap_or_else(|e| e.into_inner());
                if p.log_likelihood > *best {
                    *best = p.log_likelihood;
                }
                *best
            };
            bar.inc(1);
            bar.set_message(format!(
                "restart {}: iteration {}, objective {:.4}; best {best:.4}",
                p.restart + 1,
                p.iteration,
                p.log_likelihood
            ));
        }) as jensen::runtime::em::ProgressFn
    });
    let fit_opts = args.control.fit_options(init, progress)?;
    let result = match &chunked {
        None => jensen::fit(model, &fit_opts),
        Some(chunked) => jensen::runtime::fit_chunked(chunked, &fit_opts),
    }
    .map_err(Failure::from_fit)?;
    // Priors written in the model file: the objective is the log posterior.
    let map = plan.updates.iter().any(|u| u.prior.is_some());
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();

    if !args.quiet && !args.json {
        print_trace(&result.elbo_trace, result.e_step, map, vb)?;
        outln!();
        for (name, value) in result.params.iter() {
            outln!("{name} = {}", format_array(value));
        }
        outln!();
        let hypers = model.data_hyperparameters();
        if !hypers.is_empty() {
            outln!("prior hyperparameters from the data:");
            for h in &hypers {
                outln!("  {} = {} = {}", h.name, h.summary, format_array(&h.value));
            }
            outln!();
        }
        // Variational Bayes: the slots of a covariance and of a variance are E[Σ⁻¹]⁻¹ and
        // E[1/v]⁻¹; their posterior means differ.
        if let Some(means) = model.posterior_means(&result.params) {
            let scales = means.iter().filter(|m| {
                let slot = model.program().params.iter().find(|p| p.name == m.name);
                slot.is_some_and(|p| {
                    matches!(
                        p.rule,
                        Rule::Covariance | Rule::DiagonalVariances | Rule::Variance
                    )
                })
            });
            for mean in scales {
                let shown: Vec<String> = mean
                    .components
                    .iter()
                    .map(|c| c.as_ref().map_or("none".into(), format_array))
                    .collect();
                let text = if mean.per_component {
                    format!("[{}]", shown.join(", "))
                } else {
                    shown.join("")
                };
                outln!("E[{}] = {text}", mean.name);
            }
            if means
                .iter()
                .any(|m| m.components.iter().any(Option::is_none))
            {
                outln!("(none: a posterior too weak for a finite mean, ν ≤ D + 1 or a ≤ 1, e.g. an emptied component back at its prior)");
            }
            outln!();
        }
    }
    let stopped = match args.control.iterations {
        // The convergence rule is off: say what was run, not that it failed to converge.
        Some(n) if result.iterations == n => format!("ran the requested {n} iterations"),
        Some(n) => format!("{} of the requested {n} iterations", result.iterations),
        None if result.converged => format!("{} iterations · converged", result.iterations),
        None => format!(
            "{} iterations · not converged (raise --max-iter)",
            result.iterations
        ),
    };
    if !args.json {
        if vb {
            // The latents in the model's names: `z`, `h`, or both.
            let latents: Vec<&str> = plan
                .latent
                .var_components()
                .map(|(z, _)| plan.name(z))
                .into_iter()
                .chain(plan.continuous.map(|c| plan.name(c.var)))
                .collect();
            let latents = latents.join(", ");
            outln!(
            "variational Bayes: ELBO {:.6} = E_q[ln p(x, {latents} | θ)] + H[q({latents})] {:.6} − KL(q(θ) ‖ p(θ)) {:.6} · {stopped} · {:.3}s",
            result.log_likelihood + result.log_prior,
            result.log_likelihood,
            -result.log_prior,
            elapsed,
        );
        } else if map {
            outln!(
                "MAP-EM: log prior {:.6} · log posterior (up to a constant, the objective) {:.6}",
                result.log_prior,
                result
                    .complete_log_likelihood
                    .unwrap_or(result.log_likelihood)
                    + result.log_prior
            );
        }
        if let Some(complete) = result.complete_log_likelihood {
            match result.inertia {
            Some(inertia) => outln!(
                "hard E-step: complete-data log-likelihood {complete:.6} at the final assignments · inertia (within-cluster sum of squares) {inertia:.6}"
            ),
            None => outln!(
                "hard E-step: complete-data log-likelihood {complete:.6} at the final assignments"
            ),
        }
        }
        if !vb {
            outln!(
            "log-likelihood {:.6} · {stopped} · BIC {:.3} · AIC {:.3} · {} free parameters · {:.3}s",
            result.log_likelihood,
            result.bic,
            result.aic,
            result.free_parameters,
            elapsed,
        );
        }
    }
    for r in &result.reseeds {
        eprintln!(
            "note: component {} was {} at iteration {} and re-seeded at row {}",
            r.component,
            r.reason,
            r.iteration,
            r.row + 1
        );
    }
    let status = result.status();
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if !result.warnings.is_empty() {
        eprintln!(
            "warning: the fit is {}: its parameters are written but should not be trusted (exit status 3)",
            status.as_str()
        );
    }
    // For a chain the jointly most probable path can differ from the rowwise argmax. Read
    // in chunks, its score is summed chunk by chunk and the path is not held (the
    // per-row values go to --posterior), but the sequences' lengths are; that takes a pass,
    // made only for the fit's document.
    let document = args.out.is_some() || args.json;
    let (viterbi, lengths) = match (&chunked, plan.latent.is_chain()) {
        (_, false) => (None, None),
        (Some(_), true) if !document => (None, None),
        (Some(chunked), true) => {
            let (lengths, score) = crate::stream::viterbi(chunked, &result.params)?;
            (Some((Vec::new(), score)), Some(lengths))
        }
        (None, true) => (
            Some(jensen::runtime::decode(model, &result.params).map_err(failure::numerical)?),
            None,
        ),
    };
    if args.out.is_some() || args.json {
        let mut doc = fit_document(
            &Candidate {
                model_file: &args.model,
                source: &source,
                data_file: &args.data.data,
                plan: &plan,
                data: &data,
                model,
            },
            &result,
            viterbi.as_ref(),
            &args.control,
        );
        if let Some(chunked) = &chunked {
            crate::stream::whole_data(&mut doc, chunked, lengths);
        }
        if let Some(out) = &args.out {
            std::fs::write(out, doc.to_json())
                .map_err(|e| failure::other(format!("cannot write {out}: {e}")))?;
        }
        if args.json {
            outln!("{}", doc.to_json());
        }
    }
    if let (Some(path), Some(chunked)) = (&args.posterior, &chunked) {
        crate::stream::write_posterior(path, &plan, chunked, &result.params, vb)?;
    } else if let Some(path) = &args.posterior {
        let mut w = csv::Writer::from_path(path)
            .map_err(|e| failure::other(format!("cannot write {path}: {e}")))?;
        let k = result.responsibilities.ncols();
        let scores = model
            .latent_means(&result.params, result.responsibilities.view())
            .map_err(failure::numerical)?;
        let header = posterior_header(&plan, k, vb, viterbi.is_some(), scores.as_ref());
        w.write_record(&header).map_err(|e| csv_error(e, path))?;
        for (i, row) in result.responsibilities.rows().into_iter().enumerate() {
            let mut rec: Vec<String> = row.iter().map(|v| number_cell(*v)).collect();
            rec.push(result.assignments[i].to_string());
            rec.push(number_cell(result.point_log_likelihood[i]));
            if let Some((path, _)) = &viterbi {
                rec.push(path[i].to_string());
            }
            if let Some(h) = &scores {
                rec.extend(h.row(i).iter().map(|v| number_cell(*v)));
            }
            w.write_record(&rec).map_err(|e| csv_error(e, path))?;
        }
        w.flush()
            .map_err(|e| csv_error(csv::Error::from(e), path))?;
    }
    // A doubtful fit (degenerate, unsettled) is not a success.
    Ok(if result.warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// The header of `--posterior`'s CSV: the responsibilities of `k` components, the assignment,
/// the row's term, the Viterbi state (a chain) and the continuous latent's scores.
pub(crate) fn posterior_header(
    plan: &jensen::Plan,
    k: usize,
    vb: bool,
    viterbi: bool,
    scores: Option<&ndarray::Array2<f64>>,
) -> Vec<String> {
    let mut header: Vec<String> = (0..k).map(|j| format!("r{j}")).collect();
    // Under variational Bayes a row's term is `ln Σ_k exp(E_q[ln p(x_n, z_n = k | θ)])`,
    // its share of the ELBO before the KL terms, not a log-likelihood.
    let row_term = if vb { "elbo_term" } else { "log_likelihood" };
    header.extend(["assignment".into(), row_term.into()]);
    if viterbi {
        header.push("viterbi".into());
    }
    header.extend(score_header(plan, scores));
    header
}

/// The trace: the objective per iteration, named for the E-step and for whether the model
/// has priors (`map`: the objective is then a log posterior).
fn print_trace(trace: &[f64], mode: EStepMode, map: bool, vb: bool) -> Result<(), Failure> {
    let objective = match (mode, map) {
        _ if vb => "ELBO",
        (EStepMode::Soft, false) => "ELBO (= log-lik)",
        (EStepMode::Hard, false) => "complete log-lik",
        (EStepMode::Soft, true) => "log posterior",
        (EStepMode::Hard, true) => "complete log post.",
    };
    outln!("{:>5}  {:>20}  {:>14}", "iter", objective, "change");
    let line = |i: usize| -> Result<(), Failure> {
        let change = if i == 0 {
            String::new()
        } else {
            format!("{:+.6e}", trace[i] - trace[i - 1])
        };
        outln!("{i:>5}  {:>20.6}  {change:>14}", trace[i]);
        Ok(())
    };
    if trace.len() <= 40 {
        (0..trace.len()).try_for_each(line)?;
    } else {
        (0..15).try_for_each(line)?;
        outln!("  ...  ({} iterations not shown)", trace.len() - 30);
        (trace.len() - 15..trace.len()).try_for_each(line)?;
    }
    Ok(())
}

/// A model bound to its data, ready to fit.
pub(crate) struct Candidate<'a> {
    /// The model file's path.
    pub(crate) model_file: &'a str,
    /// Its text.
    pub(crate) source: &'a str,
    /// The data file's path.
    pub(crate) data_file: &'a str,
    /// The compiled model.
    pub(crate) plan: &'a jensen::Plan,
    /// The data, bound.
    pub(crate) data: &'a Data,
    /// The executor.
    pub(crate) model: &'a PlanModel<'a>,
}

/// The JSON document of a fit (`--out`), read back by `predict`, `score`, `sample`, `plot`
/// and `--init`.
pub(crate) fn fit_document(
    c: &Candidate<'_>,
    result: &jensen::FitResult<jensen::DynParams>,
    viterbi: Option<&(Vec<usize>, f64)>,
    control: &Control,
) -> FitDocument {
    let (plan, model) = (c.plan, c.model);
    let (bound, opts) = (&c.data.bound, &c.data.opts);
    let constants: BTreeMap<String, usize> = plan
        .model
        .consts
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                opts.consts.get(&c.name).copied().unwrap_or(c.default),
            )
        })
        .collect();
    FitDocument {
        model: plan.model.name.clone(),
        model_file: c.model_file.to_string(),
        model_source: Some(c.source.to_string()),
        data: c.data_file.to_string(),
        binding: ItemBinding::of(c.plan, bound),
        sequences: bound.sequences.iter().map(|r| r.len()).collect(),
        sequence_column: match &opts.sequences {
            Sequences::Column(c) => Some(c.clone()),
            _ => None,
        },
        constants,
        n_rows: bound.n_rows,
        weights: bound.weights.as_ref().map(|w| WeightsUsed {
            column: w.column.clone(),
            total: w.total,
            zero_rows: w.values.iter().filter(|&&v| v == 0.0).count(),
        }),
        labels: bound.labels.as_ref().map(|l| LabelsUsed {
            column: l.column.clone(),
            labelled: l.values.iter().flatten().count(),
            names: l.names.clone(),
        }),
        log_likelihood: result.log_likelihood,
        log_prior: result.log_prior,
        e_step: result.e_step.name().into(),
        complete_log_likelihood: result.complete_log_likelihood,
        inertia: result.inertia,
        elbo_trace: result.elbo_trace.clone(),
        status: result.status().as_str().into(),
        warnings: result.warnings.iter().map(|w| w.to_string()).collect(),
        iterations: result.iterations,
        iterations_requested: control.iterations,
        converged: result.converged,
        bic: result.bic,
        aic: result.aic,
        free_parameters: result.free_parameters,
        seed: control.seed,
        restart: result.restart,
        restart_log_likelihoods: result
            .restart_log_likelihoods
            .iter()
            .map(|v| v.is_finite().then_some(*v))
            .collect(),
        data_hyperparameters: model.data_hyperparameters(),
        params: result.params.clone(),
        assignments: result.assignments.clone(),
        viterbi: viterbi.as_ref().map(|(path, score)| Viterbi {
            path: path.clone(),
            log_prob: *score,
        }),
        reseeds: result.reseeds.iter().map(Reseed::from).collect(),
        method: plan.model.method.name().into(),
        posterior_means: model.posterior_means(&result.params),
        timing: result.timing.into(),
    }
}
