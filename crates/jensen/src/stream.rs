//! Fitting a CSV file too large for memory: the file is read a chunk of rows at a time, and
//! every EM iteration is one pass over it ([`jensen_runtime::fit_chunked`]).
//!
//! [`CsvChunks::open`] makes the first pass: it binds every chunk (so a bad cell anywhere is
//! reported, with its row, before the fit starts), counts the rows and accumulates what a
//! model of one chunk must know of the whole data — the moments of each block's data, the
//! priors' hyperparameters that summarise it, the sums of per-row terms
//! ([`ContextBuilder`]). Category labels read from text, and the number of categories read
//! from codes, are taken over the whole file: if a chunk lacks a category, a second pass
//! binds every chunk with the file's categories. Each later pass reads the chunks one at a
//! time, so memory holds one chunk and the statistics, whatever the length of the file: from
//! a binary copy of the bound chunks that the first pass writes to a temporary file
//! ([`StreamOptions::cache_dir`]; data with missing cells are not copied), or by parsing and
//! binding the CSV again.
//!
//! A hidden Markov model's chunks are cut where the sequence id changes
//! ([`WholeSequences`], by the column of [`Sequences::Column`]), so that each holds whole
//! sequences and forward–backward runs along each; the first pass reports a sequence
//! interrupted by another, even in another chunk, and records the number of sequences and
//! their order check ([`Bound::sequence_check`]) in the context.
//!
//! The fit equals the in-memory fit to round-off: with chunks of a multiple of
//! [`jensen_runtime::em::TASK_ROWS`] rows the statistics are added in the same order, and
//! only the whole-data moments are merged differently ([`jensen_runtime::kernels::moments::Summary`]).
//!
//! ```no_run
//! # fn run() -> Result<(), jensen::Error> {
//! let (plan, _) = jensen::compile(&std::fs::read_to_string("models/gmm.em").unwrap())?;
//! let stream = jensen::stream::StreamOptions::default();
//! let data = jensen::stream::CsvChunks::open(&plan, "big.csv", Default::default(), &stream)?;
//! let fit = jensen::runtime::fit_chunked(&data, &jensen::FitOptions::default())?;
//! println!("{} rows: log-likelihood {}", data.rows(), fit.log_likelihood);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jensen_lang::ir::SetSize;
use jensen_lang::Plan;

use jensen_runtime::init::Scaling;
use jensen_runtime::{Chunks, FitError, PassStats};
use ndarray::Array2;

use crate::bind::{bind, BindOptions, Bound, Sequences, Table};
use crate::csv::{self, CsvOptions};
use crate::exec::{ContextBuilder, DataContext, ExecStats, PlanModel};
use crate::params::DynParams;

/// Rows per chunk unless asked otherwise: 262,144 (about 2 MB per column of data).
pub const DEFAULT_CHUNK_ROWS: usize = 1 << 18;

/// How to read a file a chunk at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamOptions {
    /// Rows per chunk (at least 1). With a multiple of [`jensen_runtime::em::TASK_ROWS`] the
    /// statistics are added in the in-memory fit's order; any other number gives the same fit
    /// to round-off.
    pub chunk_rows: usize,
    /// How to read the CSV file; `None`: the delimiter of its header line
    /// ([`csv::read_detected`]).
    pub csv: Option<CsvOptions>,
    /// Where the first pass writes the bound chunks in binary, read back by every later pass
    /// instead of parsing the CSV again (the file is removed as soon as it is created and
    /// takes the data's size in `f64`); `None`: parse the CSV on every pass. Default: the
    /// system's temporary directory, unless it is held in memory ([`in_memory_fs`]).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        let temp = std::env::temp_dir();
        StreamOptions {
            chunk_rows: DEFAULT_CHUNK_ROWS,
            csv: None,
            // A temporary directory in memory (tmpfs) would hold the data in memory.
            cache_dir: (!in_memory_fs(&temp)).then_some(temp),
        }
    }
}

/// Whether `dir` lies on a file system held in memory (`tmpfs`, `ramfs`), by the longest
/// mount point of `/proc/self/mounts` that contains it; `false` where that cannot be read.
pub fn in_memory_fs(dir: &std::path::Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(point).then_some((point.len(), kind))
        })
        .max_by_key(|&(len, _)| len)
        .is_some_and(|(_, kind)| matches!(kind, "tmpfs" | "ramfs"))
}

/// Where the tables of a chunked fit come from, in the same order on every pass: a CSV file
/// ([`CsvFile`]), or another reader of rows (a query engine's record batches, say).
pub trait TableSource: Sync {
    /// Its name in messages: the file.
    fn name(&self) -> &str;

    /// Calls `f(first, table)` on each table of the rows in order — about `rows` rows each,
    /// `first` the index of its first row among all — until `f` returns `Ok(false)`; at least
    /// one table, even when there are no rows. `keep_text`: columns to read as text in every
    /// table (those in which the first pass found text).
    fn each_table(
        &self,
        rows: usize,
        keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error>;

    /// The soft E-step over every row computed by the source itself, next to the data
    /// ([`Chunks::e_step_pass`]): every table bound with `options` to `head`'s plan, each a
    /// model with `head`'s context. `None` (the default): the fit reads the tables.
    fn e_step_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        let _ = (head, options, params);
        None
    }

    /// The start's statistics over every row computed by the source itself
    /// ([`Chunks::start_pass`]): every table bound with `options` to `head`'s plan, each a
    /// model with `head`'s context, each row a member of the component of its nearest centre
    /// among `centres` (its seeding features scaled by `scaling`), under the neutral
    /// parameters `neutral`. `None` (the default): the fit reads the tables.
    fn start_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        neutral: &DynParams,
        scaling: &Scaling,
        centres: &Array2<f64>,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        let _ = (head, options, neutral, scaling, centres);
        None
    }
}

impl<S: TableSource + ?Sized> TableSource for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn each_table(
        &self,
        rows: usize,
        keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        (**self).each_table(rows, keep_text, f)
    }

    fn e_step_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        params: &DynParams,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        (**self).e_step_pass(head, options, params)
    }

    fn start_pass(
        &self,
        head: &PlanModel<'_>,
        options: &BindOptions,
        neutral: &DynParams,
        scaling: &Scaling,
        centres: &Array2<f64>,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        (**self).start_pass(head, options, neutral, scaling, centres)
    }
}

/// A CSV file read a chunk at a time, parsed again on every pass.
#[derive(Debug, Clone)]
pub struct CsvFile {
    path: String,
    csv: CsvOptions,
}

impl CsvFile {
    /// The CSV file at `path`, read with `csv` (`None`: the delimiter of its header line).
    /// It must be a regular file: every pass reads it again.
    pub fn open(path: &str, csv: Option<CsvOptions>) -> Result<CsvFile, crate::Error> {
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => {
                return Err(crate::Error::Fit(FitError::InvalidOption {
                    option: "chunked data",
                    value: path.to_string(),
                    reason: "the file is read once per pass, so it must be a regular file, not a pipe or a device: save it to a file first",
                }))
            }
            _ => {}
        }
        let csv = match csv {
            Some(csv) => csv,
            None => csv::Chunks::open_detected(path)?.options(),
        };
        Ok(CsvFile {
            path: path.to_string(),
            csv,
        })
    }
}

impl TableSource for CsvFile {
    fn name(&self) -> &str {
        &self.path
    }

    fn each_table(
        &self,
        rows: usize,
        keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        let io = |e: std::io::Error| csv::CsvError::Io {
            file: self.path.clone(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(&self.path).map_err(io)?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut chunks = csv::Chunks::new(&self.path, reader, &self.csv)?;
        chunks.keep_text(keep_text);
        loop {
            let first = chunks.rows_read();
            match chunks.next_chunk(rows)? {
                None => return Ok(()),
                Some(table) => {
                    if !f(first, table)? {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// An Apache Parquet file read a batch of rows at a time, decoded again on every pass
/// (behind the cargo feature `parquet`): its columns typed as [`crate::parquet::read`] types
/// them, a null or NaN cell missing.
#[cfg(feature = "parquet")]
#[derive(Debug, Clone)]
pub struct ParquetFile {
    path: String,
    schema: arrow_schema::SchemaRef,
    rows: usize,
}

#[cfg(feature = "parquet")]
impl ParquetFile {
    /// The Parquet file at `path` (its schema read now).
    pub fn open(path: &str) -> Result<ParquetFile, crate::Error> {
        let file = std::fs::File::open(path).map_err(|e| crate::parquet::ParquetError::Read {
            file: path.to_string(),
            message: e.to_string(),
        })?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| crate::parquet::ParquetError::Read {
                file: path.to_string(),
                message: e.to_string(),
            })?;
        let rows = builder.metadata().file_metadata().num_rows();
        Ok(ParquetFile {
            path: path.to_string(),
            schema: builder.schema().clone(),
            rows: usize::try_from(rows).unwrap_or(0),
        })
    }

    /// The number of rows, as the file's metadata gives it.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The names of its columns.
    pub fn headers(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

#[cfg(feature = "parquet")]
impl TableSource for ParquetFile {
    fn name(&self) -> &str {
        &self.path
    }

    fn each_table(
        &self,
        rows: usize,
        _keep_text: &[String],
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        use crate::parquet::{table_of_batches, ParquetError};
        let fail = |e: &dyn std::fmt::Display| ParquetError::Read {
            file: self.path.clone(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(&self.path).map_err(|e| fail(&e))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| fail(&e))?
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| fail(&e))?;
        let mut first = 0;
        for batch in reader {
            let batch = batch.map_err(|e| fail(&e))?;
            // Rows in messages count from the file's first.
            let table =
                table_of_batches(&self.path, &self.schema, [Ok(batch)]).map_err(|e| match e {
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
                })?;
            let n = table.n_rows;
            if !f(first, table)? {
                return Ok(());
            }
            first += n;
        }
        if first == 0 {
            f(0, table_of_batches(&self.path, &self.schema, [])?)?;
        }
        Ok(())
    }
}

/// A source of tables bound to a plan chunk by chunk: the [`Chunks`] of a fit that never
/// holds every row (see the [module documentation](self)).
pub struct TableChunks<'a, S: TableSource> {
    reader: Reader<'a, S>,
    /// A model of the first chunk with the whole data's context.
    head: PlanModel<'a>,
    rows: usize,
    chunks: usize,
}

/// A CSV file bound to a plan chunk by chunk.
pub type CsvChunks<'a> = TableChunks<'a, CsvFile>;

/// How to read and bind the chunks.
struct Reader<'a, S> {
    plan: &'a Plan,
    source: S,
    options: BindOptions,
    chunk_rows: usize,
    /// The bound chunks in binary, when the first pass could write them.
    cache: Option<Cache>,
    /// Columns read as text in every chunk: those that hold text anywhere in the file.
    keep_text: Vec<String>,
    /// A chain's column of sequence ids: chunks are cut where the id changes, so that each
    /// holds whole sequences.
    sequences: Option<String>,
}

/// What the first pass learns of each column over the whole file: a CSV reader decides a
/// column's type per chunk, the file decides it over all rows.
#[derive(Default)]
struct Kinds {
    /// By column: the first non-empty text cell (row, line, cell), if any.
    text: BTreeMap<String, (usize, usize, String)>,
    /// Columns with a number somewhere.
    number: BTreeSet<String>,
    /// Columns read as numbers (perhaps every cell empty) in some chunk.
    numeric_somewhere: BTreeSet<String>,
}

impl Kinds {
    fn add(&mut self, first: usize, table: &Table) {
        for (c, name) in table.headers.iter().enumerate() {
            if let Some(cells) = &table.text[c] {
                if let Some(i) = cells.iter().position(|s| !s.is_empty()) {
                    self.text.entry(name.clone()).or_insert((
                        first + i,
                        table.line(i),
                        cells[i].clone(),
                    ));
                }
            }
            if let Some(values) = &table.columns[c] {
                self.numeric_somewhere.insert(name.clone());
                if values.iter().any(|v| !v.is_nan()) {
                    self.number.insert(name.clone());
                }
            }
        }
    }

    /// A column with text in some chunks and numbers in others: the error reading the file
    /// whole gives (its first text cell is not a number).
    fn mixed(&self, file: &str) -> Option<csv::CsvError> {
        let (name, (row, line, cell)) = self
            .text
            .iter()
            .filter(|(name, _)| self.number.contains(*name))
            .min_by_key(|(_, (row, _, _))| *row)?;
        Some(csv::CsvError::BadCell {
            file: file.to_string(),
            row: row + 1,
            line: *line,
            column: name.clone(),
            what: format!("`{cell}` is not a number"),
        })
    }

    /// The text columns that some chunk read as numbers (every cell there empty).
    fn to_keep(&self) -> Vec<String> {
        self.text
            .keys()
            .filter(|name| self.numeric_somewhere.contains(*name))
            .cloned()
            .collect()
    }
}

/// The bound chunks, written in the first pass to a temporary file that is removed as soon
/// as it is created (it lives while the source holds it open), and read back on every later
/// pass instead of parsing and binding the CSV again: each chunk's values column by column,
/// then its weights, as little-endian `f64`. Data with missing cells are not cached.
struct Cache {
    file: std::fs::File,
    /// Where each chunk starts in the file, with its first row and its number of rows.
    chunks: Vec<(u64, usize, usize)>,
    /// Bytes written.
    end: u64,
    /// The first chunk's binding: the items' columns and labels, the sizes.
    template: Bound,
    /// The index set of the rows.
    rows_set: Option<usize>,
    /// A chain's sequences in each chunk (empty for a mixture).
    sequences: Vec<Vec<std::ops::Range<usize>>>,
    chain: bool,
}

impl Cache {
    /// A new cache in `dir`.
    fn create(dir: &std::path::Path, template: &Bound, plan: &Plan) -> std::io::Result<Cache> {
        let path = dir.join(format!(
            "jensen-stream-{}-{}.bin",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Removed now: the open handle keeps it until the source is dropped (even when the
        // process is killed, nothing is left behind).
        std::fs::remove_file(&path)?;
        Ok(Cache {
            file,
            chunks: Vec::new(),
            end: 0,
            template: template.clone(),
            rows_set: plan
                .model
                .sets
                .iter()
                .position(|s| matches!(s.size, SetSize::Rows)),
            sequences: Vec::new(),
            chain: plan.latent.is_chain(),
        })
    }

    /// Appends a chunk.
    fn write(&mut self, first: usize, bound: &Bound) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut bytes = Vec::new();
        for item in bound.items.iter().flatten() {
            // Column by column.
            for v in item.values.t().iter() {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(w) = &bound.weights {
            for v in &w.values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(&bytes)?;
        self.chunks.push((self.end, first, bound.n_rows));
        if self.chain {
            self.sequences.push(bound.sequences.clone());
        }
        self.end += bytes.len() as u64;
        Ok(())
    }

    /// Chunk `i`, bound.
    fn read(&self, i: usize) -> std::io::Result<Bound> {
        use std::os::unix::fs::FileExt;
        let (offset, _, rows) = self.chunks[i];
        let t = &self.template;
        let widths: Vec<usize> = t.items.iter().flatten().map(|i| i.values.ncols()).collect();
        let cells = rows * widths.iter().sum::<usize>() + t.weights.as_ref().map_or(0, |_| rows);
        let mut bytes = vec![0u8; cells * 8];
        self.file.read_exact_at(&mut bytes, offset)?;
        let mut numbers = bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")));
        let items = (t.items.iter())
            .map(|item| {
                item.as_ref().map(|item| {
                    let width = item.values.ncols();
                    let values: Vec<f64> = numbers.by_ref().take(rows * width).collect();
                    ndarray::Array2::from_shape_vec(ndarray::ShapeBuilder::f((rows, width)), values)
                        .expect("the cached shape")
                })
            })
            .collect();
        let weights = t
            .weights
            .as_ref()
            .map(|_| numbers.by_ref().take(rows).collect());
        let mut bound = self.bound(rows, items, weights);
        if self.chain {
            bound.sequences = self.sequences[i].clone();
        }
        Ok(bound)
    }

    /// The bound data of `rows` rows with the template's binding: each item's values (in the
    /// template's order) and the weights.
    fn bound(
        &self,
        rows: usize,
        items: Vec<Option<ndarray::Array2<f64>>>,
        weights: Option<Vec<f64>>,
    ) -> Bound {
        let t = &self.template;
        let mut bound = Bound {
            sizes: t.sizes.clone(),
            n_rows: rows,
            items: Vec::with_capacity(t.items.len()),
            sequences: std::iter::once(0..rows).collect(),
            weights: None,
            labels: None,
        };
        if let Some(s) = self.rows_set {
            bound.sizes[s] = rows;
        }
        for (item, values) in t.items.iter().zip(items) {
            bound.items.push(
                item.as_ref()
                    .zip(values)
                    .map(|(item, values)| crate::bind::Item {
                        columns: item.columns.clone(),
                        values,
                        labels: item.labels.clone(),
                        gaps: item.gaps.clone(),
                    }),
            );
        }
        if let (Some(w), Some(values)) = (&t.weights, weights) {
            let values = ndarray::Array1::from(values);
            bound.weights = Some(crate::bind::RowWeights {
                total: values.sum(),
                values,
                column: w.column.clone(),
            });
        }
        bound
    }
}

impl<S: TableSource> std::fmt::Debug for TableChunks<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableChunks")
            .field("source", &self.reader.source.name())
            .field("chunk_rows", &self.reader.chunk_rows)
            .field("rows", &self.rows)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

/// The categories one chunk found: text labels and code counts, by item.
type Found = (BTreeMap<String, Vec<String>>, BTreeMap<String, usize>);

/// The categories the chunks of a file found: text labels and code counts, by item.
#[derive(Default)]
struct Categories {
    labels: BTreeMap<String, BTreeSet<String>>,
    counts: BTreeMap<String, usize>,
    /// Whether every chunk found the same.
    same: bool,
    /// The first chunk's.
    first: Option<Found>,
}

impl Categories {
    fn add(&mut self, plan: &Plan, bound: &Bound) {
        let mut labels = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for set in plan.model.sets.iter().enumerate() {
            let (id, set) = set;
            if let SetSize::Categories(v) = set.size {
                let name = plan.model.vars[v].name.clone();
                match &bound.item(v).labels {
                    Some(l) => {
                        labels.insert(name, l.clone());
                    }
                    None => {
                        counts.insert(name, bound.sizes[id]);
                    }
                }
            }
        }
        for (name, l) in &labels {
            self.labels
                .entry(name.clone())
                .or_default()
                .extend(l.iter().cloned());
        }
        for (name, &c) in &counts {
            let e = self.counts.entry(name.clone()).or_default();
            *e = (*e).max(c);
        }
        match &self.first {
            None => {
                self.first = Some((labels, counts));
                self.same = true;
            }
            Some(first) => self.same &= *first == (labels, counts),
        }
    }
}

impl<'a> CsvChunks<'a> {
    /// Opens the CSV file at `path` to be read a chunk at a time as `stream` says, binding
    /// every chunk to `plan` with `options` in a first pass (and keeping the bound chunks in
    /// a temporary binary file, when `stream` names a directory for it). Errors name the file,
    /// row and column, as reading it whole would.
    pub fn open(
        plan: &'a Plan,
        path: &str,
        options: BindOptions,
        stream: &StreamOptions,
    ) -> Result<Self, crate::Error> {
        sequence_column(plan, &options)?;
        let source = CsvFile::open(path, stream.csv.clone())?;
        TableChunks::new(plan, source, options, stream)
    }
}

/// A chain's sequence-id column, by which chunks are cut so that each holds whole
/// sequences (forward–backward runs along each); `None` for a mixture. A chain whose
/// sequences are not named by a column is refused.
fn sequence_column(plan: &Plan, options: &BindOptions) -> Result<Option<String>, crate::Error> {
    if !plan.latent.is_chain() {
        return Ok(None);
    }
    match &options.sequences {
        Sequences::Column(name) => Ok(Some(name.clone())),
        Sequences::Whole | Sequences::Lengths(_) => {
            Err(crate::Error::Fit(FitError::InvalidOption {
                option: "chunked data",
                value: "a chain without a sequence-id column".into(),
                reason: "each chunk holds whole sequences, cut where the sequence id changes: name the column of sequence ids (`--sequence COLUMN`), or fit the rows in memory (all of them as one sequence, or sequences given by their lengths)",
            }))
        }
    }
}

/// A table's column of sequence ids: numbers or text.
enum Ids<'t> {
    Numbers(&'t [f64]),
    Text(&'t [String]),
}

impl<'t> Ids<'t> {
    /// The column `name` of `table`, if it has one.
    fn of(table: &'t Table, name: &str) -> Option<Ids<'t>> {
        let c = table.headers.iter().position(|h| h == name)?;
        match (&table.columns[c], &table.text[c]) {
            (Some(values), _) => Some(Ids::Numbers(values)),
            (None, Some(text)) => Some(Ids::Text(text)),
            (None, None) => None,
        }
    }

    /// Whether row `i` has the id of row `j` of `other` (as [`Sequences::Column`] compares
    /// them: an empty numeric cell equals none).
    fn same(&self, i: usize, other: &Ids<'_>, j: usize) -> bool {
        match (self, other) {
            (Ids::Numbers(a), Ids::Numbers(b)) => a[i] == b[j],
            (Ids::Text(a), Ids::Text(b)) => a[i] == b[j],
            _ => false,
        }
    }

    /// Row `i`'s id as a key, equal for equal ids (as
    /// [`jensen_runtime::chain::SequenceId`] keys them); `None` for an empty numeric cell,
    /// which equals no id.
    fn key(&self, i: usize) -> Option<IdKey> {
        use jensen_runtime::chain::SequenceId;
        match self {
            Ids::Numbers(v) => v[i].key().map(IdKey::Number),
            Ids::Text(t) => Some(IdKey::Text(t[i].clone())),
        }
    }

    /// Row `i`'s id in messages.
    fn show(&self, i: usize) -> String {
        match self {
            Ids::Numbers(v) => v[i].to_string(),
            Ids::Text(t) => t[i].clone(),
        }
    }
}

/// A sequence id as a key ([`Ids::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IdKey {
    Number(u64),
    Text(String),
}

/// Cuts tables of rows read in order into tables of whole sequences, by a column of sequence
/// ids (consecutive rows with the same id form one sequence, as [`Sequences::Column`] says):
/// each table pushed gives back the rows of the sequences it completes, with any rows
/// that waited before it, and the rows of its last sequence wait for the next table, or
/// for [`WholeSequences::finish`]. A chunked fit of a chain reads its chunks so, and a query
/// engine's partition its record batches.
#[derive(Debug, Clone)]
pub struct WholeSequences {
    column: String,
    /// The rows of the last sequence seen, perhaps not complete.
    waiting: Vec<Table>,
}

impl WholeSequences {
    /// Cuts by the sequence ids in the column `column`.
    pub fn new(column: &str) -> WholeSequences {
        WholeSequences {
            column: column.to_string(),
            waiting: Vec::new(),
        }
    }

    /// The rows of the sequences that `table` completes (`None`: it only continues the last
    /// one). A table without the column is passed on whole, with the rows that waited (the
    /// binding reports the missing column).
    pub fn push(&mut self, table: Table) -> Option<Table> {
        let n = table.n_rows;
        if n == 0 {
            return None;
        }
        let Some(ids) = Ids::of(&table, &self.column) else {
            let mut parts = std::mem::take(&mut self.waiting);
            parts.push(table);
            return Some(Table::concat(parts));
        };
        // Where the table's last sequence starts.
        let mut start = n - 1;
        while start > 0 && ids.same(start - 1, &ids, start) {
            start -= 1;
        }
        if start == 0 {
            let continues = self.waiting.last().is_some_and(|last| {
                Ids::of(last, &self.column).is_some_and(|l| l.same(last.n_rows - 1, &ids, 0))
            });
            if continues || self.waiting.is_empty() {
                self.waiting.push(table);
                return None;
            }
        }
        let mut parts = std::mem::take(&mut self.waiting);
        if start == 0 {
            self.waiting.push(table);
        } else {
            parts.push(table.select(&(0..start).collect::<Vec<_>>()));
            self.waiting
                .push(table.select(&(start..n).collect::<Vec<_>>()));
        }
        Some(Table::concat(parts))
    }

    /// The number of rows waiting for the rest of their sequence.
    pub fn waiting_rows(&self) -> usize {
        self.waiting.iter().map(|t| t.n_rows).sum()
    }

    /// The rows still waiting: the last sequence, now complete (`None`: no rows).
    pub fn finish(&mut self) -> Option<Table> {
        let parts = std::mem::take(&mut self.waiting);
        (!parts.is_empty()).then(|| Table::concat(parts))
    }
}

/// Where each sequence of the chunks read so far ended (by its id: the row after its last),
/// for the first pass to report a sequence whose rows are not consecutive — within a chunk
/// or across chunks — with its rows in the whole file, as binding every row at once would.
#[derive(Default)]
struct SequenceEnds(HashMap<IdKey, usize>);

impl SequenceEnds {
    /// Adds the sequences of the chunk `table` (whole sequences, its first row `at` among
    /// all rows), or the error of the first that an earlier one interrupted.
    fn add(&mut self, column: &str, table: &Table, at: usize) -> Result<(), crate::Error> {
        let Some(ids) = Ids::of(table, column) else {
            return Ok(());
        };
        let n = table.n_rows;
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && ids.same(end - 1, &ids, end) {
                end += 1;
            }
            if let Some(key) = ids.key(start) {
                if let Some(before) = self.0.insert(key, at + end) {
                    return Err(crate::Error::Bind(crate::BindError::Sequences {
                        file: table.source.clone(),
                        message: format!(
                            "row {}: sequence `{}` continues here but was interrupted after row {before}; the rows of a sequence must be consecutive (sort the file by sequence)",
                            at + start + 1,
                            ids.show(start),
                        ),
                    }));
                }
            }
            start = end;
        }
        Ok(())
    }
}

impl<'a, S: TableSource> TableChunks<'a, S> {
    /// Reads `source` a chunk at a time as `stream` says (its `csv` aside), binding every
    /// chunk to `plan` with `options` in a first pass (and keeping the bound chunks in a
    /// temporary binary file, when `stream` names a directory for it). Errors name the row
    /// and column, as reading the rows whole would.
    pub fn new(
        plan: &'a Plan,
        source: S,
        mut options: BindOptions,
        stream: &StreamOptions,
    ) -> Result<Self, crate::Error> {
        let sequences = sequence_column(plan, &options)?;
        let path = source.name().to_string();
        let path = path.as_str();
        // A chunk's weights may all be zero; the whole rows' total is checked below.
        options.chunk = true;
        let mut reader = Reader {
            plan,
            source,
            options: options.clone(),
            chunk_rows: stream.chunk_rows.max(1),
            cache: None,
            keep_text: Vec::new(),
            sequences: sequences.clone(),
        };
        // The first pass; again with the whole file's column types and categories if the
        // chunks differ (a chunk may lack a category, or hold a text column's empty cells
        // only).
        for _ in 0..3 {
            let mut builder = ContextBuilder::new(plan);
            let mut categories = Categories::default();
            let mut kinds = Kinds::default();
            let mut first: Option<Bound> = None;
            let mut chunks = 0;
            reader.options = options.clone();
            reader.cache = None;
            let mut cache: Option<Cache> = None;
            let mut caching = stream.cache_dir.is_some();
            let options_now = reader.options.clone();
            let mut reshaped = false;
            // A sequence interrupted by another: reported once the pass has read every
            // column with the file's type (a text id column read as numbers in a chunk of
            // empty cells could seem interrupted), before `bind` reports it with the
            // chunk's rows.
            let mut ends = SequenceEnds::default();
            let mut interrupted = None;
            reader.each_table(&mut |at, table| {
                kinds.add(at, &table);
                if let (Some(column), None) = (&sequences, &interrupted) {
                    if let Err(e) = ends.add(column, &table, at) {
                        interrupted = Some(e);
                    }
                }
                if interrupted.is_some() {
                    return Ok(true);
                }
                let bound = bind(plan, &table, &options_now).map_err(|e| e.after_rows(at))?;
                // Other columns than the first chunk's (a text column read as numbers where
                // its cells are all empty): the pass is done again with the file's types.
                if first.as_ref().is_some_and(|f| !same_columns(f, &bound)) {
                    reshaped = true;
                    return Ok(true);
                }
                categories.add(plan, &bound);
                builder.add(plan, &bound);
                chunks += 1;
                // Data with missing cells are parsed again on each pass; so is everything
                // when the cache cannot be written (the fit goes on without it).
                let gaps = bound.items.iter().flatten().any(|i| !i.gaps.is_empty());
                if caching && gaps {
                    caching = false;
                    cache = None;
                }
                if caching {
                    let dir = stream.cache_dir.as_deref().expect("a directory");
                    if cache.is_none() {
                        cache = Cache::create(dir, &bound, plan).ok();
                    }
                    let written = cache.as_mut().map(|c| c.write(at, &bound));
                    if !matches!(written, Some(Ok(()))) {
                        caching = false;
                        cache = None;
                    }
                }
                if first.is_none() {
                    first = Some(bound);
                }
                Ok(true)
            })?;
            if let Some(e) = kinds.mixed(path) {
                return Err(e.into());
            }
            let keep = kinds.to_keep();
            if let Some(e) = interrupted {
                // Reported once every column is read with the file's type.
                if keep.iter().all(|k| reader.keep_text.contains(k)) {
                    return Err(e);
                }
                reader.keep_text.extend(keep);
                reader.keep_text.sort();
                reader.keep_text.dedup();
                continue;
            }
            let first = first.expect("the first chunk is bound even without rows");
            let consistent =
                !reshaped && categories.same && keep.iter().all(|k| reader.keep_text.contains(k));

            reader.keep_text.extend(keep);
            reader.keep_text.sort();
            reader.keep_text.dedup();
            // Every later chunk, and the seeding's sample, binds to the whole file's
            // categories (a sample may lack one); labels given keep their order.
            for (name, labels) in categories.labels {
                options
                    .categories
                    .entry(name)
                    .or_insert_with(|| labels.into_iter().collect());
            }
            for (name, count) in categories.counts {
                options.category_counts.entry(name).or_insert(count);
            }
            if consistent {
                reader.options = options;
                reader.cache = cache;
                if first.weights.is_some() && builder.total_weight() <= 0.0 {
                    let column = first.weights.as_ref().map_or("", |w| w.column.as_str());
                    return Err(crate::Error::Bind(crate::BindError::Weights {
                        file: path.to_string(),
                        message: format!(
                            "every weight in `{column}` is 0: at least one row must weigh more than 0"
                        ),
                    }));
                }
                let context = builder.finish(plan);
                return Ok(TableChunks {
                    reader,
                    rows: context.rows(),
                    chunks,
                    head: PlanModel::of_chunk(plan, first, Arc::new(context)),
                });
            }
        }
        Err(crate::Error::Fit(FitError::Source(format!(
            "{path}: its chunks bind differently however they are read (column types or categories); fit it in memory"
        ))))
    }

    /// The source of the rows.
    pub fn source(&self) -> &S {
        &self.reader.source
    }

    /// Whether later passes read the bound chunks from the binary cache (else they parse the
    /// CSV again).
    pub fn cached(&self) -> bool {
        self.reader.cache.is_some()
    }

    /// The model of the first chunk, with the whole data's context: fix parameters on it
    /// ([`PlanModel::fix`]) and every chunk's model has them.
    pub fn head_mut(&mut self) -> &mut PlanModel<'a> {
        &mut self.head
    }

    /// The number of rows of the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of chunks.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// Rows per chunk (the last may have fewer).
    pub fn chunk_rows(&self) -> usize {
        self.reader.chunk_rows
    }

    /// The whole data's context.
    pub fn context(&self) -> &Arc<DataContext> {
        self.head.context()
    }

    /// The error of a pass after the first: the file changed since.
    fn changed(&self, rows: usize) -> FitError {
        FitError::Source(format!(
            "{} changed while it was fitted: it had {} rows in the first pass, and now a chunk ends at row {rows} or binds other columns; fit a file that does not change",
            self.reader.source.name(),
            self.rows
        ))
    }
}

impl<S: TableSource> Reader<'_, S> {
    fn cache_error(&self, e: std::io::Error) -> crate::Error {
        crate::Error::Fit(FitError::Source(format!(
            "cannot read the chunks of {} back from the temporary file: {e}",
            self.source.name()
        )))
    }

    /// The rows `at` (ascending) of the cached chunks, bound.
    fn gather_cached(&self, cache: &Cache, at: &[usize]) -> Result<Bound, crate::Error> {
        let t = &cache.template;
        let n = at.len();
        let mut items: Vec<Option<ndarray::Array2<f64>>> = (t.items.iter())
            .map(|i| {
                i.as_ref().map(|i| {
                    ndarray::Array2::zeros(ndarray::ShapeBuilder::f((n, i.values.ncols())))
                })
            })
            .collect();
        let mut weights = Vec::with_capacity(if t.weights.is_some() { n } else { 0 });
        let mut next = 0;
        for (i, &(_, first, rows)) in cache.chunks.iter().enumerate() {
            if next == n {
                break;
            }
            if at[next] >= first + rows {
                continue;
            }
            let bound = cache.read(i).map_err(|e| self.cache_error(e))?;
            while next < n && at[next] < first + rows {
                let r = at[next] - first;
                for (to, from) in items.iter_mut().zip(&bound.items) {
                    if let (Some(to), Some(from)) = (to, from) {
                        to.row_mut(next).assign(&from.values.row(r));
                    }
                }
                if let Some(w) = &bound.weights {
                    weights.push(w.values[r]);
                }
                next += 1;
            }
        }
        let weights = t.weights.as_ref().map(|_| weights);
        Ok(cache.bound(n, items, weights))
    }

    /// Calls `f(first, table)` on every chunk's table in order (`first`: the index of its
    /// first row in the file) until it returns `Ok(false)`; the first chunk is read even
    /// when the file has no rows.
    fn each_table(
        &self,
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        let Some(column) = &self.sequences else {
            return self.source.each_table(self.chunk_rows, &self.keep_text, f);
        };
        // A chain's chunks: whole sequences, at least one each.
        let mut cut = WholeSequences::new(column);
        let (mut first, mut go_on) = (0, true);
        let mut no_rows = None;
        self.source
            .each_table(self.chunk_rows, &self.keep_text, &mut |_, table| {
                if no_rows.is_none() && first == 0 {
                    no_rows = Some(table.select(&[]));
                }
                let Some(whole) = cut.push(table) else {
                    return Ok(true);
                };
                let rows = whole.n_rows;
                go_on = f(first, whole)?;
                first += rows;
                Ok(go_on)
            })?;
        if go_on {
            match cut.finish() {
                Some(last) => {
                    f(first, last)?;
                }
                None if first == 0 => {
                    f(0, no_rows.unwrap_or_else(|| Table::concat(Vec::new())))?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// [`Reader::each_table`], each table bound (from the cache when there is one).
    fn each_bound(
        &self,
        f: &mut dyn FnMut(usize, Bound) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        if let Some(cache) = &self.cache {
            for (i, &(_, first, _)) in cache.chunks.iter().enumerate() {
                let bound = cache.read(i).map_err(|e| self.cache_error(e))?;
                if !f(first, bound)? {
                    break;
                }
            }
            return Ok(());
        }
        self.each_table(&mut |first, table| {
            let bound = bind(self.plan, &table, &self.options).map_err(|e| e.after_rows(first))?;
            f(first, bound)
        })
    }
}

/// Whether `a` and `b` bind the same columns to every item.
fn same_columns(a: &Bound, b: &Bound) -> bool {
    a.items.len() == b.items.len()
        && (a.items.iter().zip(&b.items)).all(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => a.columns == b.columns,
            (a, b) => a.is_none() && b.is_none(),
        })
}

impl<'a, S: TableSource> Chunks for TableChunks<'a, S> {
    type Model = PlanModel<'a>;

    fn head(&self) -> &PlanModel<'a> {
        &self.head
    }

    fn n_rows(&self) -> usize {
        self.rows
    }

    fn observations(&self) -> f64 {
        self.head.total_weight()
    }

    fn for_each(
        &self,
        f: &mut dyn FnMut(usize, &PlanModel<'a>) -> Result<bool, FitError>,
    ) -> Result<(), FitError> {
        let mut end = 0;
        let mut complete = true;
        let outcome = self.reader.each_bound(&mut |first, bound| {
            end = first + bound.n_rows;
            if end > self.rows || !same_columns(self.head.bound(), &bound) {
                return Err(crate::Error::Fit(self.changed(end)));
            }
            let model = self.head.with_rows(bound);
            let go_on = f(first, &model).map_err(crate::Error::Fit)?;
            complete = go_on;
            Ok(go_on)
        });
        match outcome {
            Err(crate::Error::Fit(e)) => Err(e),
            Err(e) => Err(FitError::Source(e.to_string())),
            Ok(()) if complete && end != self.rows => Err(self.changed(end)),
            Ok(()) => Ok(()),
        }
    }

    fn gather(&self, at: &[usize]) -> Result<PlanModel<'a>, FitError> {
        if let Some(cache) = &self.reader.cache {
            if at.last().is_some_and(|&r| r >= self.rows) {
                return Err(self.changed(at[at.len() - 1]));
            }
            return match self.reader.gather_cached(cache, at) {
                Ok(bound) => Ok(self.head.with_rows(bound)),
                Err(crate::Error::Fit(e)) => Err(e),
                Err(e) => Err(FitError::Source(e.to_string())),
            };
        }
        let mut parts: Vec<Table> = Vec::new();
        let mut next = 0;
        self.reader
            .each_table(&mut |first, table| {
                let end = first + table.n_rows;
                let start = next;
                while next < at.len() && at[next] < end {
                    next += 1;
                }
                if next > start {
                    let rows: Vec<usize> = at[start..next].iter().map(|&i| i - first).collect();
                    parts.push(table.select(&rows));
                }
                Ok(next < at.len())
            })
            .map_err(|e| FitError::Source(e.to_string()))?;
        if next < at.len() {
            return Err(self.changed(at[next]));
        }
        let table = Table::concat(parts);
        let bound = bind(self.reader.plan, &table, &self.reader.options)
            .map_err(|e| FitError::Source(format!("the seeding's sample: {e}")))?;
        Ok(self.head.with_rows(bound))
    }

    fn e_step_pass(&self, params: &DynParams) -> Option<Result<PassStats<ExecStats>, FitError>> {
        (self.reader.source).e_step_pass(&self.head, &self.reader.options, params)
    }

    fn start_pass(
        &self,
        neutral: &DynParams,
        scaling: &Scaling,
        centres: &Array2<f64>,
    ) -> Option<Result<PassStats<ExecStats>, FitError>> {
        (self.reader.source).start_pass(&self.head, &self.reader.options, neutral, scaling, centres)
    }
}
