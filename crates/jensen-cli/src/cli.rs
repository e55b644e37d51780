//! Command-line parsing and the five commands: `check`, `explain`, `generate`, `fit` and
//! `decode`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use jensen::bind::{BindOptions, Sequences};
use jensen::csv::CsvOptions;
use jensen::document::{ItemBinding, LabelsUsed, Reseed, Viterbi, WeightsUsed};
use jensen::lang::plan::Rule;
use jensen::lang::Plan;
use jensen::runtime::{EStepMode, FitOptions, InitStrategy, MStepConfig, Progress};
use jensen::{DynParams, FitDocument, PlanModel};

use crate::render;

/// Why a command stopped before finishing.
#[derive(Debug)]
enum Failure {
    /// An error, printed to stderr; the exit status is 1.
    Message(String),
    /// Standard output was closed by its reader (e.g. `jensen decode … | head`): nothing
    /// more is wanted, so the command stops quietly with status 0.
    ClosedOutput,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Message(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Message(message.to_string())
    }
}

/// A failed write to standard output: a closed pipe ends the command quietly.
fn stdout_error(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::ClosedOutput
    } else {
        Failure::Message(format!("cannot write to standard output: {e}"))
    }
}

/// A failed CSV write to `dest`.
fn csv_error(e: csv::Error, dest: &str) -> Failure {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            Failure::ClosedOutput
        }
        _ => Failure::Message(format!("cannot write {dest}: {e}")),
    }
}

/// `print!` that stops the command quietly when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout(), $($arg)*).map_err(stdout_error)?
    };
}

/// `println!` that stops the command quietly when standard output is closed.
macro_rules! outln {
    () => {
        writeln!(std::io::stdout()).map_err(stdout_error)?
    };
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).map_err(stdout_error)?
    };
}

/// Declarative latent-variable models with derived closed-form EM updates.
#[derive(Debug, Parser)]
#[command(name = "jensen", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, check and derive a model file; print every diagnostic.
    Check {
        /// The model file (`.em`).
        model: String,
    },
    /// Print the derived E-step, M-step and ELBO in math notation.
    Explain {
        /// The model file (`.em`).
        model: String,
        /// `em` or `vb` (default: the model file's `method` line, else em).
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
    },
    /// Print the Rust code generated for a model file.
    Generate {
        /// The model file (`.em`).
        model: String,
        /// Name of the model struct (default: the model name in CamelCase).
        #[arg(long)]
        name: Option<String>,
        /// `em` or `vb` (default: the model file's `method` line, else em).
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
    },
    /// Fit a model file to a CSV file by EM (no cargo needed).
    Fit(Box<FitArgs>),
    /// Most probable latent values (Viterbi paths for a chain), posterior probabilities and
    /// the posterior mean of a continuous latent (factor scores) of a fitted model on a CSV file.
    Decode(Box<DecodeArgs>),
}

/// How a CSV file binds to a model's data items.
#[derive(Debug, clap::Args)]
struct DataArgs {
    /// CSV data with a header line. Data items bind to columns of their name, to their
    /// `from (...)` columns, or — for a model with one vector-valued item — to every numeric column.
    #[arg(long)]
    data: String,
    /// Override a constant, e.g. `--set K=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Columns for a data item, e.g. `--bind x=eruptions,waiting` (repeatable).
    #[arg(long = "bind", value_name = "ITEM=COL,COL")]
    bind: Vec<String>,
    /// A column never taken by default (repeatable).
    #[arg(long = "exclude", value_name = "COLUMN")]
    exclude: Vec<String>,
    /// Chains: a sequence-id column; consecutive rows with the same id form one
    /// independent sequence (the column is not data).
    #[arg(long, value_name = "COLUMN", conflicts_with = "lengths")]
    sequence: Option<String>,
    /// Chains: lengths of consecutive independent sequences, e.g. `--lengths 100,99,100`.
    #[arg(long, value_name = "N,N,...")]
    lengths: Option<String>,
    /// A column of row weights (the column is not data): a row of weight 3 counts as three
    /// copies of it, a row of weight 0 as none; BIC counts Σ weight observations. For a
    /// chain, one weight per sequence, repeated on its rows. A model file says the same
    /// with `data w[N]: weight`.
    #[arg(long, value_name = "COLUMN")]
    weights: Option<String>,
    /// A column of partial labels (the column is not data): the discrete latent's value
    /// where the cell holds one (`0..K`, or text labels coded in sorted order), empty where
    /// unknown. Labelled rows' posteriors are clamped to their label (semi-supervised EM). A
    /// model file says the same with `latent z[N]: 0..K from (COLUMN)`.
    #[arg(long, value_name = "COLUMN")]
    labels: Option<String>,
    /// The CSV field delimiter: one character, e.g. `--delimiter ';'`, or `tab`.
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    delimiter: u8,
    /// The memory a fit may need, e.g. `--max-memory 64G` (units K, M, G, T; binary).
    /// Default: the memory available to the process (on Linux; else 8G). Before anything is
    /// allocated, a fit estimated to need more is refused, naming the constant, the cell or
    /// the columns that drive its size; with this option given, a category code far above
    /// the number of rows is no longer refused for its cost alone.
    #[arg(long = "max-memory", value_name = "SIZE", value_parser = parse_memory)]
    max_memory: Option<u64>,
}

fn parse_memory(s: &str) -> Result<u64, String> {
    jensen::memory::parse_bytes(s).ok_or_else(|| {
        format!("`{s}`: expected a size such as `64G`, `512M` or `1.5T` (binary units)")
    })
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "`{s}`: the delimiter must be one ASCII character (or `tab`)"
        )),
    }
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// A fit written by `jensen fit --out`: its model (the stored text of the model file),
    /// constants, column binding, category labels and parameters are used.
    fit: String,
    /// Read the model from this file instead of the text stored in the fit.
    #[arg(long, value_name = "FILE")]
    model: Option<String>,
    /// The data to decode. Without `--bind`, every data item reads the columns it read when
    /// the model was fitted.
    #[command(flatten)]
    data: DataArgs,
    /// Write the decoded rows as CSV here instead of standard output.
    #[arg(long)]
    out: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EStepArg {
    Soft,
    Hard,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MethodArg {
    /// EM: maximum likelihood, or MAP with the priors written in the model file.
    Em,
    /// Mean-field variational Bayes: a posterior for every parameter with a conjugate prior;
    /// the objective is the ELBO.
    Vb,
}

impl MethodArg {
    fn method(self) -> jensen::lang::ir::Method {
        match self {
            MethodArg::Em => jensen::lang::ir::Method::Em,
            MethodArg::Vb => jensen::lang::ir::Method::Vb,
        }
    }
}

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

/// A count that must be at least one (restarts, threads).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number ({e})")),
    }
}

#[derive(Debug, clap::Args)]
struct FitArgs {
    /// The model file (`.em`).
    model: String,
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Independent restarts (run in parallel; the best log-likelihood is kept).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    restarts: usize,
    /// Stop when the mean log-likelihood gain per row falls below this.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Maximum number of EM iterations.
    #[arg(long = "max-iter", default_value_t = 500)]
    max_iter: usize,
    /// Run exactly this many iterations, ignoring the convergence rule (for benchmarks).
    #[arg(long, conflicts_with_all = ["max_iter", "tol"])]
    iterations: Option<usize>,
    /// `kmeans++`, `random`, or a JSON file of starting parameters (as in `--out`'s `params`).
    #[arg(long, default_value = "kmeans++")]
    init: String,
    /// Hold parameter NAME at a known value instead of estimating it (repeatable): FILE is
    /// JSON holding the value (nested arrays as in `--out`'s `params`, or a number), or a fit
    /// or parameter file from which NAME is taken. A fixed parameter is not counted in BIC
    /// and AIC, and its value replaces any starting value of `--init`.
    #[arg(long = "fix", value_name = "NAME=FILE")]
    fix: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one)]
    threads: Option<usize>,
    /// `soft` (EM: the posterior over the discrete latent) or `hard` (classification EM: each
    /// row's most probable component, a chain's Viterbi path; it maximises the complete-data
    /// log-likelihood). Default: the model file's `estep` line, else soft.
    #[arg(long, value_enum)]
    estep: Option<EStepArg>,
    /// `em` (point estimates: maximum likelihood, or MAP with the file's priors) or `vb`
    /// (mean-field variational Bayes: every parameter with a conjugate prior gets a
    /// posterior, shown as its mean and strength, e.g. `w` and `w_concentration`; the
    /// objective is the ELBO). Default: the model file's `method` line, else em.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Strength of the regularising prior on every variance and covariance, relative to each
    /// data column's variance: each covariance update is `(S + ε·diag(var)) / N_k` and the
    /// prior `−½ ε Σ var_d (Σ⁻¹)_dd` is part of the monitored objective. Being relative,
    /// it does not depend on the data's units. `0` is maximum likelihood.
    #[arg(long = "reg-covar", default_value_t = 1e-6)]
    reg_covar: f64,
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
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::ClosedOutput) => ExitCode::SUCCESS,
        Err(Failure::Message(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_model(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Compiles a model file; prints diagnostics to stderr. `None` when it has errors.
fn compile(path: &str) -> Result<Option<Plan>, String> {
    compile_source(path, &read_model(path)?)
}

/// [`compile`] with the method chosen on the command line.
fn compile_for(path: &str, method: Option<MethodArg>) -> Result<Option<Plan>, String> {
    compile_source_for(path, &read_model(path)?, method.map(MethodArg::method))
}

/// Compiles the text of the model file `path`; prints diagnostics to stderr. `None` when it
/// has errors.
fn compile_source(path: &str, source: &str) -> Result<Option<Plan>, String> {
    compile_source_for(path, source, None)
}

/// [`compile_source`] with the inference method chosen on the command line.
fn compile_source_for(
    path: &str,
    source: &str,
    method: Option<jensen::lang::ir::Method>,
) -> Result<Option<Plan>, String> {
    let color = std::io::stderr().is_terminal();
    match jensen::lang::compile_for(source, method) {
        Ok((plan, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", render::render(path, source, &warnings, color));
            }
            Ok(Some(plan))
        }
        Err(diags) => {
            eprint!("{}", render::render(path, source, &diags, color));
            Ok(None)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Check { model } => {
            let Some(plan) = compile(&model)? else {
                return Ok(ExitCode::FAILURE);
            };
            outln!(
                "{model}: ok — model `{}`: {} emission block(s), {} parameter(s) with closed-form updates",
                plan.model.name,
                plan.blocks.len(),
                plan.updates.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { model, method } => {
            let Some(plan) = compile_for(&model, method)? else {
                return Ok(ExitCode::FAILURE);
            };
            out!("{}", jensen_codegen::explain(&plan));
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            model,
            name,
            method,
        } => {
            let Some(plan) = compile_for(&model, method)? else {
                return Ok(ExitCode::FAILURE);
            };
            let name = name.unwrap_or_else(|| jensen_codegen::camel_case(&plan.model.name));
            let code = jensen_codegen::generate_module(&plan, &name).map_err(|e| e.to_string())?;
            out!("{code}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Fit(args) => fit(*args),
        Command::Decode(args) => decode(*args),
    }
}

/// Data read and bound to a model.
struct Data {
    bound: jensen::Bound,
    opts: BindOptions,
    /// The CSV file's column names.
    headers: Vec<String>,
}

/// Reads the CSV file and binds it as `args` says, on top of `defaults` (constants, and for
/// `decode` the fit's columns and category labels).
fn bind_data(plan: &Plan, args: &DataArgs, defaults: BindOptions) -> Result<Data, String> {
    let csv_opts = CsvOptions {
        delimiter: args.delimiter,
    };
    let table = jensen::csv::read_with(&args.data, &csv_opts).map_err(|e| e.to_string())?;
    let mut opts = BindOptions {
        exclude: args.exclude.clone(),
        memory_limit: args.max_memory,
        weights: args.weights.clone(),
        labels: args.labels.clone(),
        ..defaults
    };
    // A fit's constants (the defaults of `decode`) and `--set` values are sizes like the
    // constants of the model file, and obey the same bound.
    for (name, &v) in &opts.consts {
        if let Some(why) = jensen::lang::check::size_problem(v) {
            return Err(format!("constant {name} = {v}: `{name}` {why}"));
        }
    }
    for (name, value) in parse_pairs(&args.set, "--set")? {
        let v: usize = match value.parse() {
            Ok(v) => v,
            // Digits only: larger than any size.
            Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
            Err(_) => {
                return Err(format!(
                    "--set {name}={value}: the value must be a whole number"
                ))
            }
        };
        if let Some(why) = jensen::lang::check::size_problem(v) {
            return Err(format!("--set {name}={value}: `{name}` {why}"));
        }
        opts.consts.insert(name, v);
    }
    for (name, cols) in parse_pairs(&args.bind, "--bind")? {
        opts.columns.insert(
            name,
            cols.split(',').map(|c| c.trim().to_string()).collect(),
        );
    }
    if let Some(column) = &args.sequence {
        opts.sequences = Sequences::Column(column.clone());
    }
    if let Some(lengths) = &args.lengths {
        let parsed: Result<Vec<usize>, _> = lengths
            .split(',')
            .map(|l| l.trim().parse::<usize>())
            .collect();
        opts.sequences = Sequences::Lengths(parsed.map_err(|_| {
            format!("--lengths {lengths}: expected whole numbers separated by commas")
        })?);
    }
    let bound = jensen::bind(plan, &table, &opts).map_err(|e| e.to_string())?;
    Ok(Data {
        bound,
        opts,
        headers: table.headers,
    })
}

/// Reads starting or fitted parameters from a JSON file: a whole fit (`{"params": ...}`) or
/// the parameters alone, checked against the model's shapes and constraints.
fn read_params(path: &str, model: &PlanModel<'_>) -> Result<DynParams, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let params_json = value.get("params").cloned().unwrap_or(value);
    let params: DynParams =
        serde_json::from_value(params_json).map_err(|e| format!("{path}: {e}"))?;
    model
        .check_params(&params)
        .map_err(|e| format!("{path}: {e}"))
}

fn decode(args: DecodeArgs) -> Result<ExitCode, Failure> {
    let text =
        std::fs::read_to_string(&args.fit).map_err(|e| format!("cannot read {}: {e}", args.fit))?;
    let doc = FitDocument::from_json(&text).map_err(|e| {
        format!(
            "{}: {e} (decode reads a fit written by `jensen fit --out`)",
            args.fit
        )
    })?;
    // The model: `--model`, else the text stored in the fit, else (an older fit) its file.
    let (model_path, source) = match (&args.model, &doc.model_source) {
        (Some(path), _) => (path.clone(), read_model(path)?),
        (None, Some(source)) => (doc.model_file.clone(), source.clone()),
        (None, None) => (doc.model_file.clone(), read_model(&doc.model_file)?),
    };
    // The method the fit used (a `--method vb` fit of a file without a `method` line).
    let method = match doc.method.as_str() {
        "vb" => Some(jensen::lang::ir::Method::Vb),
        _ => None,
    };
    let Some(plan) = compile_source_for(&model_path, &source, method)? else {
        return Ok(ExitCode::FAILURE);
    };
    // Bind as the fit did (constants, columns, category labels), for the items this model has.
    let mut defaults = doc.bind_options();
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
    let data = bind_data(&plan, &args.data, defaults)?;
    let bound = &data.bound;
    let model = PlanModel::new(&plan, bound);
    model
        .check_priors()
        .map_err(|e| format!("{}: {e}", model_path))?;
    let params = model
        .check_params(&doc.params)
        .map_err(|e| format!("{}: {e}", args.fit))?;
    let (path, joint) = jensen::runtime::decode(&model, &params).map_err(|e| e.to_string())?;
    let cache =
        jensen::runtime::MixtureModel::prepare(&model, &params).map_err(|e| e.to_string())?;
    let (posterior, point_ll) = jensen::runtime::em::posterior(&model, &cache);
    let loglik: f64 = point_ll.sum();
    let dest = args.out.as_deref().unwrap_or("standard output");
    let mut w: csv::Writer<Box<dyn Write>> = csv::Writer::from_writer(match &args.out {
        Some(p) => {
            Box::new(std::fs::File::create(p).map_err(|e| format!("cannot write {p}: {e}"))?)
        }
        None => Box::new(std::io::stdout()),
    });
    let chain = plan.latent.is_chain();
    let k = posterior.ncols();
    let scores = model
        .latent_means(&params, posterior.view())
        .map_err(|e| e.to_string())?;
    let mut header: Vec<String> = vec!["row".into()];
    if chain {
        header.push("sequence".into());
    }
    header.push(if chain { "viterbi" } else { "map" }.into());
    header.extend((0..k).map(|j| format!("p{j}")));
    header.extend(score_header(&plan, scores.as_ref()));
    w.write_record(&header).map_err(|e| csv_error(e, dest))?;
    for (s, seq) in bound.sequences.iter().enumerate() {
        for t in seq.clone() {
            let mut rec = vec![(t + 1).to_string()];
            if chain {
                rec.push(s.to_string());
            }
            rec.push(path[t].to_string());
            rec.extend(posterior.row(t).iter().map(|v| number_cell(*v)));
            if let Some(h) = &scores {
                rec.extend(h.row(t).iter().map(|v| number_cell(*v)));
            }
            w.write_record(&rec).map_err(|e| csv_error(e, dest))?;
        }
    }
    w.flush()
        .map_err(|e| csv_error(csv::Error::from(e), dest))?;
    eprintln!(
        "{} rows{} · log-likelihood {loglik:.6} · {} ln p(x, z*) {joint:.6}",
        bound.n_rows,
        if chain {
            format!(" in {} sequence(s)", bound.sequences.len())
        } else {
            String::new()
        },
        if chain {
            "Viterbi path"
        } else {
            "most probable components"
        },
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .ok_or_else(|| format!("{what} `{s}` must look like NAME=VALUE"))
        })
        .collect()
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
fn warn_constant_columns(plan: &Plan, bound: &jensen::Bound) {
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

fn fit(args: FitArgs) -> Result<ExitCode, Failure> {
    let source = read_model(&args.model)?;
    let method = args.method.map(MethodArg::method);
    let Some(mut plan) = compile_source_for(&args.model, &source, method)? else {
        return Ok(ExitCode::FAILURE);
    };
    let fixes = read_fixes(&mut plan, &args.fix)?;
    let vb = plan.model.method == jensen::lang::ir::Method::Vb;
    if vb && matches!(args.estep, Some(EStepArg::Hard)) {
        return Err("--estep hard with variational Bayes: VB keeps the whole posterior of the latent; drop --estep hard or fit with --method em".into());
    }
    let data = bind_data(&plan, &args.data, BindOptions::default())?;
    let (bound, opts) = (&data.bound, &data.opts);
    let binding = ItemBinding::of(&plan, bound);
    warn_constant_columns(&plan, bound);
    let mut model = PlanModel::new(&plan, bound);
    for (name, value) in fixes {
        model
            .fix(&name, value)
            .map_err(|e| format!("--fix {name}: {e}"))?;
    }
    model
        .check_priors()
        .map_err(|e| format!("{}: {e}", args.model))?;
    if !(args.tol.is_finite() && args.tol >= 0.0) {
        return Err("--tol must be a non-negative number".into());
    }
    if !(args.reg_covar.is_finite() && args.reg_covar >= 0.0) {
        return Err("--reg-covar must be a non-negative number".into());
    }
    let init = match args.init.as_str() {
        "kmeans++" | "k-means++" => InitStrategy::KMeansPlusPlus,
        "random" => InitStrategy::RandomFromData,
        path if !std::path::Path::new(path).exists() => {
            return Err(
                format!("--init {path}: not `kmeans++` or `random`, and no such file").into(),
            )
        }
        path => InitStrategy::Params(read_params(path, &model)?),
    };
    if !args.quiet {
        outln!(
            "model {} on {} ({} rows{})",
            plan.model.name,
            args.data.data,
            bound.n_rows,
            if plan.latent.is_chain() {
                format!(" in {} sequence(s)", bound.sequences.len())
            } else {
                String::new()
            }
        );
        print_binding(&data, &binding)?;
    }
    // Progress on a terminal (silent when stderr is piped, or with --quiet).
    let show_progress = std::io::stderr().is_terminal() && !args.quiet;
    let started = Instant::now();
    let bar = show_progress.then(|| fit_progress(args.restarts));
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
    let (max_iter, tol) = match args.iterations {
        Some(n) => (n, f64::NEG_INFINITY),
        None => (args.max_iter, args.tol),
    };
    let fit_opts = FitOptions {
        max_iter,
        tol,
        seed: args.seed,
        restarts: args.restarts,
        threads: args.threads,
        init,
        m_step: MStepConfig {
            reg_covar: args.reg_covar,
        },
        progress,
        e_step: args.estep.map(|e| match e {
            EStepArg::Soft => EStepMode::Soft,
            EStepArg::Hard => EStepMode::Hard,
        }),
        ..FitOptions::default()
    };
    let result = jensen::fit(&model, &fit_opts).map_err(|e| e.to_string())?;
    // Priors written in the model file: the objective is the log posterior.
    let map = plan.updates.iter().any(|u| u.prior.is_some());
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();

    if !args.quiet {
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
    let stopped = match args.iterations {
        // The convergence rule is off: say what was run, not that it failed to converge.
        Some(n) if result.iterations == n => format!("ran the requested {n} iterations"),
        Some(n) => format!("{} of the requested {n} iterations", result.iterations),
        None if result.converged => format!("{} iterations · converged", result.iterations),
        None => format!(
            "{} iterations · not converged (raise --max-iter)",
            result.iterations
        ),
    };
    if vb {
        outln!(
            "variational Bayes: ELBO {:.6} = E_q[ln p(x, z | θ)] + H[q(z)] {:.6} − KL(q(θ) ‖ p(θ)) {:.6} · {stopped} · {:.3}s",
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
    // For a chain the jointly most probable path can differ from the rowwise argmax.
    let viterbi = if plan.latent.is_chain() {
        Some(jensen::runtime::decode(&model, &result.params).map_err(|e| e.to_string())?)
    } else {
        None
    };
    if let Some(out) = &args.out {
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
        let doc = FitDocument {
            model: plan.model.name.clone(),
            model_file: args.model.clone(),
            model_source: Some(source.clone()),
            data: args.data.data.clone(),
            binding: binding.clone(),
            sequences: bound.sequences.iter().map(|r| r.len()).collect(),
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
            status: status.as_str().into(),
            warnings: result.warnings.iter().map(|w| w.to_string()).collect(),
            iterations: result.iterations,
            iterations_requested: args.iterations,
            converged: result.converged,
            bic: result.bic,
            aic: result.aic,
            free_parameters: result.free_parameters,
            seed: args.seed,
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
        };
        std::fs::write(out, doc.to_json()).map_err(|e| format!("cannot write {out}: {e}"))?;
    }
    if let Some(path) = &args.posterior {
        let mut w =
            csv::Writer::from_path(path).map_err(|e| format!("cannot write {path}: {e}"))?;
        let k = result.responsibilities.ncols();
        let scores = model
            .latent_means(&result.params, result.responsibilities.view())
            .map_err(|e| e.to_string())?;
        let mut header: Vec<String> = (0..k).map(|j| format!("r{j}")).collect();
        // Under variational Bayes a row's term is `ln Σ_k exp(E_q[ln p(x_n, z_n = k | θ)])`,
        // its share of the ELBO before the KL terms, not a log-likelihood.
        let row_term = if vb { "elbo_term" } else { "log_likelihood" };
        header.extend(["assignment".into(), row_term.into()]);
        if viterbi.is_some() {
            header.push("viterbi".into());
        }
        header.extend(score_header(&plan, scores.as_ref()));
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

/// Column names of the factor scores: the continuous latent's name and the coordinate.
fn score_header(plan: &jensen::Plan, scores: Option<&ndarray::Array2<f64>>) -> Vec<String> {
    match (plan.continuous, scores) {
        (Some(c), Some(h)) => {
            let name = plan.name(c.var);
            (0..h.ncols()).map(|j| format!("{name}{j}")).collect()
        }
        _ => Vec::new(),
    }
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

fn format_array(a: &ndarray::ArrayD<f64>) -> String {
    let nested = jensen::runtime::nested::Nested::from_array(a);
    fn go(n: &jensen::runtime::nested::Nested) -> String {
        match n {
            jensen::runtime::nested::Nested::Num(v) => format!("{v:.6}"),
            jensen::runtime::nested::Nested::List(items) => {
                format!("[{}]", items.iter().map(go).collect::<Vec<_>>().join(", "))
            }
        }
    }
    go(&nested)
}

/// A number for a CSV cell: the shortest text that reads back as the same `f64`, in
/// scientific notation when very small or large (`4.5e-127`, not 127 zeros).
fn number_cell(v: f64) -> String {
    format!("{v:?}")
}
