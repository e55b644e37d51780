//! Files read through DataFusion, for a fit whose every E-step is one aggregate query:
//! [`Files`], [`Engine`], and the [`TableSource`] that joins them ([`Source`]).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::array::{Array, BinaryArray};
use datafusion::arrow::datatypes::SchemaRef;
use std::sync::Arc;

use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{ident, CsvReadOptions, Expr, ParquetReadOptions, SessionConfig};
use futures::StreamExt;
use jensen::bind::{Sequences, Table};
use jensen::exec::{ExecStats, PlanModel};
use jensen::parquet::{table_of_batches, ParquetError};
use jensen::stream::TableSource;
use jensen::{BindOptions, DynParams};
use jensen_runtime::{FitError, MixtureModel, PassStats};

use crate::job::{decode, Job, Start};
use crate::udaf::EStep;
use crate::Error;
use jensen_runtime::init::Scaling;
use ndarray::Array2;

/// The table's name in the query engine's catalogue.
const TABLE: &str = "jensen_data";

/// The files' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header line.
    Csv,
}

/// Data files: one file, or the files a pattern names (`dir/part-*.parquet`: `*` and `?` in
/// the file name), read in the order of their paths. The driver lists them once: every
/// process of a cluster reads that list, not the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// The path or pattern, absolute.
    pub location: String,
    /// The files, absolute, sorted.
    pub paths: Vec<String>,
    /// The files' format.
    pub format: Format,
    /// The files' extension as written (`.parquet`, `.CSV`).
    extension: String,
    /// CSV: the field delimiter.
    delimiter: u8,
}

/// Whether the file name `name` matches `pattern` (`*`: any run of characters, `?`: one).
fn matches(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..]))
        }
        (Some('?'), Some(_)) => matches(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => matches(&pattern[1..], &name[1..]),
        _ => false,
    }
}

impl Files {
    /// The files at `location` — a file, or a pattern with `*` or `?` in its file name — of
    /// the format its extension names (`.parquet`, `.csv`, in any case).
    pub fn new(location: &str) -> Result<Files, Error> {
        let options = |why: String| Error::Options(format!("{location}: {why}"));
        let lower = location.to_ascii_lowercase();
        let format = if lower.ends_with(".parquet") {
            Format::Parquet
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else {
            return Err(options(
                "name Parquet or CSV files by their extension (`dir/*.parquet`, `part-*.csv`)"
                    .into(),
            ));
        };
        let extension =
            location[location.len() - if format == Format::Csv { 4 } else { 8 }..].to_string();
        let absolute = std::path::absolute(location).map_err(|e| options(e.to_string()))?;
        let (Some(dir), Some(name)) = (absolute.parent(), absolute.file_name()) else {
            return Err(options("not a file name".into()));
        };
        let name = name.to_string_lossy();
        if dir.to_string_lossy().contains(['*', '?', '[']) || name.contains('[') {
            return Err(options(
                "only `*` and `?` in the file name are patterns (not in directories, not `[…]`)"
                    .into(),
            ));
        }
        let mut paths = Vec::new();
        if name.contains(['*', '?']) {
            let pattern: Vec<char> = name.chars().collect();
            let entries = std::fs::read_dir(dir)
                .map_err(|e| options(format!("cannot list {}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let chars: Vec<char> = file.chars().collect();
                if entry.path().is_file() && matches(&pattern, &chars) {
                    paths.push(entry.path().to_string_lossy().into_owned());
                }
            }
            paths.sort();
            if paths.is_empty() {
                return Err(options("no file matches".into()));
            }
        } else {
            if !absolute.is_file() {
                return Err(options("no such file".into()));
            }
            paths.push(absolute.to_string_lossy().into_owned());
        }
        Ok(Files {
            location: absolute.to_string_lossy().into_owned(),
            paths,
            format,
            extension,
            delimiter: b',',
        })
    }

    /// CSV files with `delimiter` between fields (default `,`).
    pub fn with_delimiter(mut self, delimiter: u8) -> Files {
        self.delimiter = delimiter;
        self
    }

    /// Registers the files as the table [`TABLE`] of `ctx`.
    async fn register(&self, ctx: &SessionContext) -> Result<(), Error> {
        let engine = |e: &dyn std::fmt::Display| Error::Engine(format!("{}: {e}", self.location));
        let urls = (self.paths.iter())
            .map(ListingTableUrl::parse)
            .collect::<datafusion::common::Result<Vec<_>>>()
            .map_err(|e| engine(&e))?;
        let (config, table_options) = (ctx.copied_config(), ctx.copied_table_options());
        let options = match self.format {
            Format::Parquet => ParquetReadOptions::default()
                .file_extension(&self.extension)
                .to_listing_options(&config, table_options),
            Format::Csv => CsvReadOptions::default()
                .file_extension(&self.extension)
                .delimiter(self.delimiter)
                .to_listing_options(&config, table_options),
        };
        let listing = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await
            .map_err(|e| engine(&e))?;
        let table = ListingTable::try_new(listing).map_err(|e| engine(&e))?;
        ctx.register_table(TABLE, Arc::new(table))
            .map_err(|e| engine(&e))?;
        Ok(())
    }
}

/// Where each E-step's aggregate runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process: partitions of the files in parallel, `threads` at a time
    /// (`0`: one per core).
    Local {
        /// Partitions at a time.
        threads: usize,
    },
    /// A Ballista cluster, by its scheduler's `host:port`: executors near the data (each
    /// with jensen's codec, [`crate::cluster`]) run the partitions.
    Cluster(String),
}

/// The [`TableSource`] of a fit over files through DataFusion: the driver reads the rows in
/// order, one partition of every file in path order, for the first pass and the seeding; each
/// E-step is one aggregate query of [`EStep`] on the [`Engine`].
pub struct Source {
    runtime: tokio::runtime::Runtime,
    files: Files,
    model: String,
    /// Reads the rows in order (one partition).
    read: SessionContext,
    /// Runs the E-step's aggregate.
    engine: SessionContext,
    schema: SchemaRef,
    /// The columns, and whether each is text.
    columns: Vec<(String, bool)>,
    /// Aggregate queries run.
    queries: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("files", &self.files)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// The files `files` of the model whose text is `model` (the text the plan was compiled
    /// from: workers compile it again), each E-step run on `engine`.
    pub fn new(model: &str, files: Files, engine: &Engine) -> Result<Source, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Options(
                "a fit through DataFusion blocks while it runs its own queries: call it outside an async runtime (from `tokio::task::spawn_blocking`, say)".into(),
            ));
        }
        // A chain's partitions read whole files in order.
        let chain = jensen::compile(model).is_ok_and(|(plan, _)| plan.latent.is_chain());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Engine(format!("cannot start the async runtime: {e}")))?;
        let (read, engine, schema) = runtime.block_on(async {
            let read =
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
            files.register(&read).await?;
            let engine = match engine {
                Engine::Local { threads } => {
                    let n = match threads {
                        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                        n => *n,
                    };
                    let mut config = SessionConfig::new().with_target_partitions(n);
                    if chain {
                        config = crate::cluster::in_order(config);
                    }
                    let ctx = SessionContext::new_with_config(config);
                    files.register(&ctx).await?;
                    ctx
                }
                Engine::Cluster(address) => {
                    let ctx = crate::cluster::client(address, chain).await?;
                    files.register(&ctx).await?;
                    ctx
                }
            };
            let schema = read
                .table(TABLE)
                .await
                .map_err(|e| Error::Engine(e.to_string()))?
                .schema()
                .inner()
                .clone();
            Ok::<_, Error>((read, engine, schema))
        })?;
        let empty = table_of_batches(&files.location, &schema, []).map_err(Error::Parquet)?;
        let columns = (empty.headers.iter().zip(&empty.text))
            .map(|(name, text)| (name.clone(), text.is_some()))
            .collect();
        Ok(Source {
            runtime,
            files,
            model: model.to_string(),
            read,
            engine,
            schema,
            columns,
            queries: Default::default(),
        })
    }

    /// The aggregate queries run so far: one for the start (from the seeding on a sample),
    /// one per soft E-step.
    pub fn queries(&self) -> usize {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The columns of the files, and whether each is text.
    pub fn columns(&self) -> &[(String, bool)] {
        &self.columns
    }

    /// The files.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The table of `batches`, its rows numbered from `first` in messages.
    fn table(&self, first: usize, batches: Vec<RecordBatch>) -> Result<Table, ParquetError> {
        table_of_batches(
            &self.files.location,
            &self.schema,
            batches.into_iter().map(Ok),
        )
        .map_err(|e| match e {
            ParquetError::NotFinite {
                file,
                row,
                column,
                value,
            } => ParquetError::NotFinite {
                file,
                row: row + first,
                column,
                value,
            },
            e => e,
        })
    }

    /// The columns the model's data read (its items', the weights', the labels' and a chain's
    /// sequence ids), in the files' order: the aggregate's arguments, so that the engine reads no other column
    /// (Parquet's columns are read apart). Every column where one the binding names is not
    /// among them.
    fn used_columns(&self, head: &PlanModel<'_>, sequences: &Sequences) -> Vec<(String, bool)> {
        let bound = head.bound();
        let mut used: Vec<&str> = bound
            .items
            .iter()
            .flatten()
            .flat_map(|item| item.columns.iter().map(String::as_str))
            .collect();
        used.extend(bound.weights.as_ref().map(|w| w.column.as_str()));
        used.extend(bound.labels.as_ref().map(|l| l.column.as_str()));
        if let (Sequences::Column(c), true) = (sequences, head.plan().latent.is_chain()) {
            used.push(c);
        }
        let known = |c: &&str| self.columns.iter().any(|(name, _)| name == c);
        if !used.iter().all(known) {
            return self.columns.clone();
        }
        (self.columns.iter())
            .filter(|(name, _)| used.contains(&name.as_str()))
            .cloned()
            .collect()
    }

    /// One pass over every row, as an aggregate query: an E-step under `params`, or (with
    /// `start`) the start's statistics under the neutral parameters `params`.
    async fn pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
        start: Option<Start>,
    ) -> Result<PassStats<ExecStats>, String> {
        let columns = self.used_columns(head, &options.sequences);
        let job = Job::new(&self.model, head, options, params, columns.clone(), start);
        let udaf = EStep::new(&job).map_err(|e| e.to_string())?.udaf();
        let args: Vec<Expr> = columns.iter().map(|(c, _)| ident(c)).collect();
        let df = self.engine.table(TABLE).await.map_err(|e| e.to_string())?;
        let df = df
            .aggregate(vec![], vec![udaf.call(args).alias("statistics")])
            .map_err(|e| e.to_string())?;
        let batches = df.collect().await.map_err(|e| e.to_string())?;
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .and_then(|b| b.column(0).as_any().downcast_ref::<BinaryArray>().cloned())
            .filter(|a| !a.is_null(0))
            .ok_or("the aggregate returned no statistics")?;
        let layout = (head.zero_stats().shapes(), head.n_components());
        let partial = decode(value.value(0), &layout).map_err(|e| e.to_string())?;
        // Every row, once: the responsibilities of each row sum to its weight.
        let context = head.context();
        let (seen, expected) = (partial.pass.latent.counts.sum(), context.total_weight());
        if (seen - expected).abs() > 1e-9 * expected.max(1.0) {
            return Err(format!(
                "the query read {seen} rows (or weight), the first pass {expected}: the engine reads other data than this process (do the files differ on the executors, or did they change?)"
            ));
        }
        // A chain: every sequence whole, its rows in order, in one partition.
        let found = (partial.sequences, partial.sequence_check);
        let read = (context.sequences() as u64, context.sequence_check());
        if found != read {
            return Err(format!(
                "the query's partitions held {} sequences, the first pass read {} in path order{}: each partition reads whole files in order, so a sequence must lie within one file (start a new file where a sequence begins, or fit the rows in memory)",
                found.0,
                read.0,
                if found.0 == read.0 {
                    ", but their rows differ in order"
                } else {
                    ""
                },
            ));
        }
        Ok(partial.pass)
    }
}

impl TableSource for Source {
    fn name(&self) -> &str {
        &self.files.location
    }

    fn each_table(
        &self,
        rows: usize,
        _keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, jensen::Error>,
    ) -> Result<(), jensen::Error> {
        let engine = |e: &dyn std::fmt::Display| {
            jensen::Error::Fit(FitError::Source(format!("{}: {e}", self.files.location)))
        };
        self.runtime.block_on(async {
            let df = self.read.table(TABLE).await.map_err(|e| engine(&e))?;
            let streams = df
                .execute_stream_partitioned()
                .await
                .map_err(|e| engine(&e))?;
            let (mut first, mut pending, mut pending_rows, mut any) = (0, Vec::new(), 0, false);
            for mut stream in streams {
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(|e| engine(&e))?;
                    pending_rows += batch.num_rows();
                    pending.push(batch);
                    if pending_rows >= rows {
                        let table = self.table(first, std::mem::take(&mut pending))?;
                        any = true;
                        if !f(first, table)? {
                            return Ok(());
                        }
                        first += pending_rows;
                        pending_rows = 0;
                    }
                }
            }
            if pending_rows > 0 || !any {
                let table = self.table(first, pending)?;
                f(first, table)?;
            }
            Ok(())
        })
    }

    fn e_step_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        let outcome = self
            .runtime
            .block_on(self.pass(head, options, params, None));
        Some(outcome.map_err(|e| {
            FitError::Source(format!(
                "the E-step's query over {}: {e}",
                self.files.location
            ))
        }))
    }

    fn start_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        neutral: &DynParams,
        scaling: &Scaling,
        centres: &Array2<f64>,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        // (A job carries finite numbers only: the driver makes such a start itself.)
        let finite = |a: &[f64]| a.iter().all(|v| v.is_finite());
        let values = [
            scaling.mean.as_slice(),
            scaling.scale.as_slice(),
            centres.as_slice(),
        ];
        if !values.iter().all(|v| v.is_some_and(finite)) {
            return None;
        }
        let start = Start::new(scaling, centres);
        let outcome = self
            .runtime
            .block_on(self.pass(head, options, neutral, Some(start)));
        Some(outcome.map_err(|e| {
            FitError::Source(format!(
                "the start's query over {}: {e}",
                self.files.location
            ))
        }))
    }
}
