//! What every command reads: the model file (compiled, its diagnostics rendered), the data
//! (CSV or `.npy`, bound to the model's items) and parameter files.

use std::io::IsTerminal;

use jensen::bind::{BindOptions, Sequences};
use jensen::csv::CsvOptions;
use jensen::lang::Plan;
use jensen::{DynParams, PlanModel};

use crate::failure::{self, Failure};
use crate::render;

/// How a CSV file binds to a model's data items.
#[derive(Debug, clap::Args)]
pub(crate) struct DataArgs {
    /// The data: CSV with a header line (the delimiter is detected from it: comma, semicolon,
    /// tab or `|`; `\n`, `\r\n` or `\r` line endings), a NumPy `.npy` array (1-D or 2-D,
    /// numbers or booleans; its columns are named `c0`, `c1`, …), or with the `parquet`
    /// feature an Apache Parquet file (numeric and string columns; null cells are missing). Data items bind to columns
    /// of their name, to their `from (...)` columns, or — for a model with one vector-valued
    /// item — to every numeric column.
    #[arg(long)]
    pub(crate) data: String,
    /// Override a constant, e.g. `--set K=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub(crate) set: Vec<String>,
    /// Columns for a data item, e.g. `--bind x=eruptions,waiting` (repeatable).
    #[arg(long = "bind", value_name = "ITEM=COL,COL")]
    pub(crate) bind: Vec<String>,
    /// A column never taken by default (repeatable).
    #[arg(long = "exclude", value_name = "COLUMN")]
    pub(crate) exclude: Vec<String>,
    /// Chains: a sequence-id column; consecutive rows with the same id form one
    /// independent sequence (the column is not data).
    #[arg(long, value_name = "COLUMN", conflicts_with = "lengths")]
    pub(crate) sequence: Option<String>,
    /// Chains: lengths of consecutive independent sequences, e.g. `--lengths 100,99,100`.
    #[arg(long, value_name = "N,N,...")]
    pub(crate) lengths: Option<String>,
    /// A column of row weights (the column is not data): a row of weight 3 counts as three
    /// copies of it, a row of weight 0 as none; BIC counts Σ weight observations. For a
    /// chain, one weight per sequence, repeated on its rows. A model file says the same
    /// with `data w[N]: weight`.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) weights: Option<String>,
    /// A column of partial labels (the column is not data): the discrete latent's value
    /// where the cell holds one (`0..K`, or text labels coded in sorted order), empty where
    /// unknown. Labelled rows' posteriors are clamped to their label (semi-supervised EM). A
    /// model file says the same with `latent z[N]: 0..K from (COLUMN)`.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) labels: Option<String>,
    /// The CSV field delimiter, one character, e.g. `--delimiter ';'`, or `tab` (default:
    /// detected from the header line).
    #[arg(long, value_parser = parse_delimiter)]
    pub(crate) delimiter: Option<u8>,
    /// The memory a fit may need, e.g. `--max-memory 64G` (units K, M, G, T; binary).
    /// Default: the memory available to the process (on Linux; else 8G). Before anything is
    /// allocated, a fit estimated to need more is refused, naming the constant, the cell or
    /// the columns that drive its size; with this option given, a category code far above
    /// the number of rows is no longer refused for its cost alone.
    #[arg(long = "max-memory", value_name = "SIZE", value_parser = parse_memory)]
    pub(crate) max_memory: Option<u64>,
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
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum EStepArg {
    Soft,
    Hard,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum MethodArg {
    /// EM: maximum likelihood, or MAP with the priors written in the model file.
    Em,
    /// Mean-field variational Bayes: a posterior for every parameter with a conjugate prior;
    /// the objective is the ELBO.
    Vb,
}

impl MethodArg {
    pub(crate) fn method(self) -> jensen::lang::ir::Method {
        match self {
            MethodArg::Em => jensen::lang::ir::Method::Em,
            MethodArg::Vb => jensen::lang::ir::Method::Vb,
        }
    }
}
/// How EM runs: seeds, restarts, the stopping rule, threads, the E-step and the
/// covariances' regularisation (shared by `fit` and `select`).
#[derive(Debug, clap::Args)]
pub(crate) struct Control {
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Independent restarts (run in parallel; the best log-likelihood is kept).
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub(crate) restarts: usize,
    /// Stop when the mean log-likelihood gain per row falls below this.
    #[arg(long, default_value_t = 1e-6)]
    pub(crate) tol: f64,
    /// Maximum number of EM iterations.
    #[arg(long = "max-iter", default_value_t = 500)]
    pub(crate) max_iter: usize,
    /// Run exactly this many iterations, ignoring the convergence rule (for benchmarks).
    #[arg(long, conflicts_with_all = ["max_iter", "tol"])]
    pub(crate) iterations: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one)]
    pub(crate) threads: Option<usize>,
    /// `soft` (EM: the posterior over the discrete latent) or `hard` (classification EM: each
    /// row's most probable component, a chain's Viterbi path; it maximises the complete-data
    /// log-likelihood). Default: the model file's `estep` line, else soft.
    #[arg(long, value_enum)]
    pub(crate) estep: Option<EStepArg>,
    /// Strength of the regularising prior on every variance and covariance, relative to each
    /// data column's variance: each covariance update is `(S + ε·diag(var)) / N_k` and the
    /// prior `−½ ε Σ var_d (Σ⁻¹)_dd` is part of the monitored objective. Being relative,
    /// it does not depend on the data's units. `0` is maximum likelihood.
    #[arg(long = "reg-covar", default_value_t = 1e-6)]
    pub(crate) reg_covar: f64,
}

impl Control {
    /// Refuses a negative or non-finite tolerance or regularisation.
    pub(crate) fn check(&self) -> Result<(), Failure> {
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(failure::options("--tol must be a non-negative number"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(failure::options(
                "--reg-covar must be a non-negative number",
            ));
        }
        Ok(())
    }

    /// The fit's options, checked.
    pub(crate) fn fit_options<P>(
        &self,
        init: jensen::runtime::InitStrategy<P>,
        progress: Option<jensen::runtime::em::ProgressFn>,
    ) -> Result<jensen::runtime::FitOptions<P>, Failure> {
        self.check()?;
        let (max_iter, tol) = match self.iterations {
            Some(n) => (n, f64::NEG_INFINITY),
            None => (self.max_iter, self.tol),
        };
        Ok(jensen::runtime::FitOptions {
            max_iter,
            tol,
            seed: self.seed,
            restarts: self.restarts,
            threads: self.threads,
            init,
            m_step: jensen::runtime::MStepConfig {
                reg_covar: self.reg_covar,
            },
            progress,
            e_step: self.estep.map(|e| match e {
                EStepArg::Soft => jensen::runtime::EStepMode::Soft,
                EStepArg::Hard => jensen::runtime::EStepMode::Hard,
            }),
            ..jensen::runtime::FitOptions::default()
        })
    }
}

/// A count that must be at least one (restarts, threads).
pub(crate) fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number ({e})")),
    }
}
/// The text of the model file at `path`.
pub(crate) fn read_model(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| failure::model(format!("cannot read {path}: {e}")))
}

/// Compiles the model file at `path` with the method chosen on the command line; prints its
/// diagnostics to stderr.
pub(crate) fn compile(path: &str, method: Option<MethodArg>) -> Result<Plan, Failure> {
    compile_source(path, &read_model(path)?, method.map(MethodArg::method))
}

/// Compiles the text of the model file `path`; prints its diagnostics (warnings too) to
/// stderr. A model with errors is [`Failure::Model`] (exit status 4).
pub(crate) fn compile_source(
    path: &str,
    source: &str,
    method: Option<jensen::lang::ir::Method>,
) -> Result<Plan, Failure> {
    let color = std::io::stderr().is_terminal();
    match jensen::lang::compile_for(source, method) {
        Ok((plan, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", render::render(path, source, &warnings, color));
            }
            Ok(plan)
        }
        Err(diags) => {
            eprint!("{}", render::render(path, source, &diags, color));
            Err(Failure::Model(None))
        }
    }
}

/// Data read and bound to a model.
pub(crate) struct Data {
    pub(crate) bound: jensen::Bound,
    pub(crate) opts: BindOptions,
    /// The CSV file's column names.
    pub(crate) headers: Vec<String>,
}

/// Reads a data file: `.npy` (a NumPy array; columns `c0`, `c1`, …), else CSV with the
/// delimiter given or detected from the header line.
pub(crate) fn read_table(
    path: &str,
    delimiter: Option<u8>,
) -> Result<jensen::bind::Table, Failure> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".npy") {
        return jensen::npy::read(path).map_err(failure::data);
    }
    if lower.ends_with(".parquet") {
        #[cfg(feature = "parquet")]
        return jensen::parquet::read(path).map_err(failure::data);
        #[cfg(not(feature = "parquet"))]
        return Err(failure::data(format!(
            "{path}: reading Parquet needs the `parquet` feature: build jensen with `cargo build --release -p jensen-cli --features parquet` (or convert the file to CSV or .npy)"
        )));
    }
    match delimiter {
        Some(delimiter) => {
            jensen::csv::read_with(path, &CsvOptions { delimiter }).map_err(failure::data)
        }
        None => jensen::csv::read_detected(path).map_err(failure::data),
    }
}

/// Reads the data file and binds it as `args` says, on top of `defaults` (constants, and for
/// `predict` the fit's columns and category labels).
pub(crate) fn bind_data(
    plan: &Plan,
    args: &DataArgs,
    defaults: BindOptions,
) -> Result<Data, Failure> {
    let lower = args.data.to_ascii_lowercase();
    // A file too large to read whole is refused before it is read: a CSV file's size
    // estimated from its first MiB, a `.npy` file's from its header (read whole, the array
    // and then the table: two copies), a Parquet file's from its metadata (its columns as
    // numbers, at least).
    #[cfg(feature = "parquet")]
    if lower.ends_with(".parquet") {
        if let Ok(file) = jensen::stream::ParquetFile::open(&args.data) {
            let (rows, columns) = (file.rows(), file.headers().len());
            jensen::memory::check_table(
                &args.data,
                &format!("{rows} rows of {columns} columns"),
                (rows as f64) * (columns as f64) * 8.0,
                args.max_memory,
            )
            .map_err(failure::data)?;
        }
    }
    if lower.ends_with(".npy") {
        // (A header read in blocks gives the shape; any other, the file's size at least.)
        let (what, needed) = match jensen::npy::NpyFile::open(&args.data) {
            Ok(file) => {
                let (rows, columns) = (file.rows(), file.headers().len());
                let cells = (rows as f64) * (columns as f64);
                (
                    format!("{rows} rows of {columns} columns"),
                    2.0 * cells * 8.0,
                )
            }
            Err(_) => {
                let size = std::fs::metadata(&args.data).map_or(0, |m| m.len());
                (
                    format!("its {} of data", jensen::memory::bytes(size as f64)),
                    2.0 * size as f64,
                )
            }
        };
        jensen::memory::check_table(&args.data, &what, needed, args.max_memory)
            .map_err(failure::data)?;
    } else if !lower.ends_with(".parquet") {
        jensen::memory::check_csv_file(&args.data, args.max_memory).map_err(failure::data)?;
    }
    let table = read_table(&args.data, args.delimiter)?;
    let opts = bind_options(args, defaults)?;
    let bound = jensen::bind(plan, &table, &opts).map_err(failure::data)?;
    Ok(Data {
        bound,
        opts,
        headers: table.headers,
    })
}

/// The binding `args` asks for, on top of `defaults`.
pub(crate) fn bind_options(args: &DataArgs, defaults: BindOptions) -> Result<BindOptions, Failure> {
    let mut opts = BindOptions {
        exclude: args.exclude.clone(),
        memory_limit: args.max_memory,
        // The defaults' (a saved fit's) unless given here.
        weights: args.weights.clone().or(defaults.weights.clone()),
        labels: args.labels.clone().or(defaults.labels.clone()),
        ..defaults
    };
    // A fit's constants (the defaults of `predict`) and `--set` values are sizes like the
    // constants of the model file, and obey the same bound.
    for (name, &v) in &opts.consts {
        if let Some(why) = jensen::lang::check::size_problem(v) {
            return Err(failure::options(format!(
                "constant {name} = {v}: `{name}` {why}"
            )));
        }
    }
    for (name, value) in parse_pairs(&args.set, "--set")? {
        let v: usize = match value.parse() {
            Ok(v) => v,
            // Digits only: larger than any size.
            Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
            Err(_) => {
                return Err(failure::options(format!(
                    "--set {name}={value}: the value must be a whole number"
                )))
            }
        };
        if let Some(why) = jensen::lang::check::size_problem(v) {
            return Err(failure::options(format!(
                "--set {name}={value}: `{name}` {why}"
            )));
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
            failure::options(format!(
                "--lengths {lengths}: expected whole numbers separated by commas"
            ))
        })?);
    }
    Ok(opts)
}

/// Reads starting or fitted parameters from a JSON file: a whole fit (`{"params": ...}`) or
/// the parameters alone, checked against the model's shapes and constraints.
pub(crate) fn read_params(path: &str, model: &PlanModel<'_>) -> Result<DynParams, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| failure::options(format!("cannot read {path}: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failure::options(format!("{path}: {e}")))?;
    let params_json = value.get("params").cloned().unwrap_or(value);
    let params: DynParams = serde_json::from_value(params_json)
        .map_err(|e| failure::options(format!("{path}: {e}")))?;
    model
        .check_params(&params)
        .map_err(|e| failure::options(format!("{path}: {e}")))
}
pub(crate) fn parse_pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>, Failure> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                .ok_or_else(|| failure::options(format!("{what} `{s}` must look like NAME=VALUE")))
        })
        .collect()
}
/// Column names of the factor scores: the continuous latent's name and the coordinate.
pub(crate) fn score_header(
    plan: &jensen::Plan,
    scores: Option<&ndarray::Array2<f64>>,
) -> Vec<String> {
    match (plan.continuous, scores) {
        (Some(c), Some(h)) => {
            let name = plan.name(c.var);
            (0..h.ncols()).map(|j| format!("{name}{j}")).collect()
        }
        _ => Vec::new(),
    }
}
pub(crate) fn format_array(a: &ndarray::ArrayD<f64>) -> String {
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
pub(crate) fn number_cell(v: f64) -> String {
    format!("{v:?}")
}
