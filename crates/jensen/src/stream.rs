//! Fitting a CSV file too large for memory: the file is read a chunk of rows at a time, and
//! every EM iteration is one pass over it ([`jensen_runtime::fit_chunked`]).
//!
//! [`CsvChunks::open`] makes the first pass: it binds every chunk (so a bad cell anywhere is
//! reported, with its row, before the fit starts), counts the rows and accumulates what a
//! model of one chunk must know of the whole data — the moments of each block's data, the
//! priors' hyperparameters that summarise it, the sums of per-row terms
//! ([`ContextBuilder`]). Category labels read from text, and the number of categories read
//! from codes, are taken over the whole file: if a chunk lacks a category, a second pass
//! binds every chunk with the file's categories. Each later pass parses and binds the chunks
//! again, one at a time, so memory holds one chunk and the statistics, whatever the length
//! of the file.
//!
//! The fit equals the in-memory fit to round-off: with chunks of a multiple of
//! [`jensen_runtime::em::TASK_ROWS`] rows the statistics are added in the same order, and
//! only the whole-data moments are merged differently ([`jensen_runtime::kernels::moments::Summary`]).
//!
//! ```no_run
//! # fn run() -> Result<(), jensen::Error> {
//! let (plan, _) = jensen::compile(&std::fs::read_to_string("models/gmm.em").unwrap())?;
//! let data = jensen::stream::CsvChunks::open(&plan, "big.csv", Default::default(), 1 << 18)?;
//! let fit = jensen::runtime::fit_chunked(&data, &jensen::FitOptions::default())?;
//! println!("{} rows: log-likelihood {}", data.rows(), fit.log_likelihood);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jensen_lang::ir::SetSize;
use jensen_lang::Plan;

use jensen_runtime::{Chunks, FitError};

use crate::bind::{bind, BindOptions, Bound, Table};
use crate::csv::{self, CsvOptions};
use crate::exec::{ContextBuilder, DataContext, PlanModel};

/// Rows per chunk unless asked otherwise: 262,144 (about 2 MB per column of data).
pub const DEFAULT_CHUNK_ROWS: usize = 1 << 18;

/// A CSV file bound to a plan chunk by chunk: the [`Chunks`] of a fit that never holds every
/// row (see the [module documentation](self)).
pub struct CsvChunks<'a> {
    reader: Reader<'a>,
    /// A model of the first chunk with the whole data's context.
    head: PlanModel<'a>,
    rows: usize,
    chunks: usize,
}

/// How to read and bind the chunks.
struct Reader<'a> {
    plan: &'a Plan,
    path: String,
    csv: CsvOptions,
    options: BindOptions,
    chunk_rows: usize,
}

impl std::fmt::Debug for CsvChunks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvChunks")
            .field("path", &self.reader.path)
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
    /// Opens the CSV file at `path` (its delimiter detected from the header line) to be read
    /// in chunks of `chunk_rows` rows, binding every chunk to `plan` with `options` in a first
    /// pass. Errors name the file, row and column, as reading it whole would. With a multiple
    /// of [`jensen_runtime::em::TASK_ROWS`] rows per chunk the statistics are added in the in-memory fit's order
    /// (the CLI rounds `--chunk-rows` up to one); any other number gives the same fit to
    /// round-off.
    pub fn open(
        plan: &'a Plan,
        path: &str,
        options: BindOptions,
        chunk_rows: usize,
    ) -> Result<Self, crate::Error> {
        let csv = {
            use std::io::BufRead;
            let io = |e: std::io::Error| csv::CsvError::Io {
                file: path.to_string(),
                message: e.to_string(),
            };
            let file = std::fs::File::open(path).map_err(io)?;
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            CsvOptions {
                delimiter: csv::delimiter_of(reader.fill_buf().map_err(io)?),
            }
        };
        Self::open_with(plan, path, &csv, options, chunk_rows)
    }

    /// [`CsvChunks::open`] with the CSV options given.
    pub fn open_with(
        plan: &'a Plan,
        path: &str,
        csv: &CsvOptions,
        mut options: BindOptions,
        chunk_rows: usize,
    ) -> Result<Self, crate::Error> {
        if plan.latent.is_chain() {
            return Err(crate::Error::Fit(FitError::InvalidOption {
                option: "chunked data",
                value: "a chain".into(),
                reason: "forward–backward runs over whole sequences: fit a chain in memory",
            }));
        }
        let chunk_rows = chunk_rows.max(1);
        let mut reader = Reader {
            plan,
            path: path.to_string(),
            csv: csv.clone(),
            options: options.clone(),
            chunk_rows,
        };
        // The first pass; again with the whole file's categories if the chunks differ.
        for attempt in 0..2 {
            let mut builder = ContextBuilder::new(plan);
            let mut categories = Categories::default();
            let mut first: Option<Bound> = None;
            let mut chunks = 0;
            reader.options = options.clone();
            reader.each_bound(&mut |_, bound| {
                categories.add(plan, &bound);
                builder.add(plan, &bound);
                chunks += 1;
                if first.is_none() {
                    first = Some(bound);
                }
                Ok(true)
            })?;
            let first = first.expect("the first chunk is bound even without rows");
            // Every later chunk, and the seeding's sample, binds to the whole file's
            // categories (a sample may lack one).
            options.categories = categories
                .labels
                .into_iter()
                .map(|(name, l)| (name, l.into_iter().collect()))
                .collect();
            options.category_counts = categories.counts;
            if categories.same || attempt == 1 {
                reader.options = options;
                let context = builder.finish(plan);
                return Ok(CsvChunks {
                    reader,
                    rows: context.rows(),
                    chunks,
                    head: PlanModel::of_chunk(plan, first, Arc::new(context)),
                });
            }
        }
        unreachable!("the second pass binds every chunk alike")
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
            "{} changed while it was fitted: it had {} rows in the first pass and now has {rows}; fit a file that does not change",
            self.reader.path, self.rows
        ))
    }
}

impl Reader<'_> {
    /// Calls `f(first, table)` on every chunk's table in order (`first`: the index of its
    /// first row in the file) until it returns `Ok(false)`; the first chunk is read even
    /// when the file has no rows.
    fn each_table(
        &self,
        f: &mut dyn FnMut(usize, Table) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        let io = |e: std::io::Error| csv::CsvError::Io {
            file: self.path.clone(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(&self.path).map_err(io)?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut chunks = csv::Chunks::new(&self.path, reader, &self.csv)?;
        loop {
            let first = chunks.rows_read();
            match chunks.next_chunk(self.chunk_rows)? {
                None => return Ok(()),
                Some(table) => {
                    if !f(first, table)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// [`CsvChunks::each_table`], each table bound.
    fn each_bound(
        &self,
        f: &mut dyn FnMut(usize, Bound) -> Result<bool, crate::Error>,
    ) -> Result<(), crate::Error> {
        self.each_table(&mut |first, table| {
            let bound = bind(self.plan, &table, &self.options).map_err(|e| e.after_rows(first))?;
            f(first, bound)
        })
    }
}

impl<'a> Chunks for CsvChunks<'a> {
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
            if end > self.rows {
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
}
