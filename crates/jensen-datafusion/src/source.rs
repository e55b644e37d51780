//! Files read through DataFusion, for a fit whose every E-step is one aggregate query:
//! [`Files`], [`Engine`], and the [`TableSource`] that joins them ([`Source`]).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::array::{Array, BinaryArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{ident, CsvReadOptions, Expr, ParquetReadOptions, SessionConfig};
use futures::StreamExt;
use jensen::bind::Table;
use jensen::exec::{ExecStats, PlanModel};
use jensen::parquet::{table_of_batches, ParquetError};
use jensen::stream::TableSource;
use jensen::{BindOptions, DynParams};
use jensen_runtime::{FitError, MixtureModel, PassStats};

use crate::job::{decode, Job};
use crate::udaf::EStep;
use crate::Error;

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

/// Data files: a file, a directory of files, or a glob pattern (`dir/*.parquet`), read in
/// the order of their paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    /// The path or pattern, absolute (every process of a cluster reads it).
    pub location: String,
    /// The files' format.
    pub format: Format,
}

impl Files {
    /// The files at `location` (a file, a directory ending in `/`, or a pattern), of the
    /// format its extension names (`.parquet`, `.csv`).
    pub fn new(location: &str) -> Result<Files, Error> {
        let lower = location.to_ascii_lowercase();
        let format = if lower.ends_with(".parquet") || lower.ends_with(".parq") {
            Format::Parquet
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else {
            return Err(Error::Options(format!(
                "{location}: name Parquet or CSV files by their extension (`dir/*.parquet`, `part-*.csv`)"
            )));
        };
        let absolute = std::path::absolute(location)
            .map_err(|e| Error::Options(format!("{location}: {e}")))?;
        Ok(Files {
            location: absolute.to_string_lossy().into_owned(),
            format,
        })
    }

    /// Registers the files as the table [`TABLE`] of `ctx`.
    async fn register(&self, ctx: &SessionContext) -> Result<(), Error> {
        let outcome = match self.format {
            Format::Parquet => {
                ctx.register_parquet(TABLE, &self.location, ParquetReadOptions::default())
                    .await
            }
            Format::Csv => {
                ctx.register_csv(TABLE, &self.location, CsvReadOptions::default())
                    .await
            }
        };
        outcome.map_err(|e| Error::Engine(format!("{}: {e}", self.location)))
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
                    let ctx = SessionContext::new_with_config(
                        SessionConfig::new().with_target_partitions(n),
                    );
                    files.register(&ctx).await?;
                    ctx
                }
                Engine::Cluster(address) => {
                    let ctx = crate::cluster::client(address).await?;
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

    /// The aggregate queries run so far: one per E-step.
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

    /// One E-step: the aggregate query.
    async fn e_step(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
    ) -> Result<PassStats<ExecStats>, String> {
        let job = Job::new(&self.model, head, options, params, self.columns.clone());
        let udaf = EStep::new(&job).map_err(|e| e.to_string())?.udaf();
        let args: Vec<Expr> = self.columns.iter().map(|(c, _)| ident(c)).collect();
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
        decode(value.value(0), &layout).map_err(|e| e.to_string())
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
        let outcome = self.runtime.block_on(self.e_step(head, options, params));
        Some(outcome.map_err(|e| {
            FitError::Source(format!(
                "the E-step's query over {}: {e}",
                self.files.location
            ))
        }))
    }
}
