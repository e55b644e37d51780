//! jensen's fits over files too large for one process's memory or one machine's cores, on
//! Apache DataFusion: every EM iteration's E-step is one aggregate query ([`udaf::EStep`])
//! whose state is the model's sufficient statistics, so partitions of the files are reduced
//! in parallel — by DataFusion in this process, or by the executors of an Apache Ballista
//! cluster — and the driver runs the M-step and the convergence test
//! ([`jensen_runtime::fit_chunked`] with [`source::Source`] as the rows).
//!
//! The statistics are a monoid: each partition's accumulator binds its record batches to
//! the model (with the whole data's context: its moments, the priors' hyperparameters, the
//! number of rows), adds their statistics, and sends them as bytes ([`job::encode`]); the
//! final aggregate merges them. The fit equals the in-memory fit to round-off (the sums are
//! added in another order).
//!
//! A hidden Markov model's partitions each read whole files in order, each file whole
//! sequences named by a column ([`jensen::bind::Sequences::Column`]): the accumulator cuts
//! its batches where the sequence id changes and runs forward–backward along each whole
//! sequence, and the driver checks the number of sequences and their order against its
//! first pass ([`job::Partial`]).
//!
//! The driver reads the rows itself, in path order, for the first pass (binding every row,
//! so a bad cell is reported before the fit, and the whole data's context) and to gather
//! the seeding's sample. The start (every row's nearest centre and the statistics of those
//! assignments: [`job::Start`]) and the soft E-steps run on the engine; with the seeding on
//! every row (up to 100,000 rows) the driver makes the start itself.
//!
//! ```no_run
//! # fn run() -> Result<(), jensen_datafusion::Error> {
//! use jensen_datafusion::source::{Engine, Files};
//! let text = std::fs::read_to_string("models/gmm.em").unwrap();
//! let fit = jensen_datafusion::fit(
//!     &text,
//!     Files::new("data/parts/*.parquet")?,
//!     &Engine::Local { threads: 0 },
//!     Default::default(),
//!     &jensen::FitOptions::default(),
//! )?;
//! println!("log-likelihood {}", fit.log_likelihood);
//! # Ok(()) }
//! ```

pub mod cluster;
pub mod codec;
pub mod job;
pub mod source;
pub mod udaf;

use jensen::stream::{StreamOptions, TableChunks};
use jensen::{BindOptions, DynParams, FitOptions, FitResult};

use source::{Engine, Files, Source};

/// Why a fit through DataFusion failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Options that cannot work together, or files not named as expected.
    #[error("{0}")]
    Options(String),
    /// The query engine, or the cluster, failed.
    #[error("{0}")]
    Engine(String),
    /// A record batch that does not read as a table.
    #[error(transparent)]
    Parquet(jensen::parquet::ParquetError),
    /// The model, the binding or the fit.
    #[error(transparent)]
    Jensen(#[from] jensen::Error),
}

/// Fits the model whose text is `model` to `files`, each E-step an aggregate query on
/// `engine`; the rows bind with `options`, chunks of [`jensen::stream::DEFAULT_CHUNK_ROWS`]
/// rows on the driver's passes.
pub fn fit(
    model: &str,
    files: Files,
    engine: &Engine,
    options: BindOptions,
    fit: &FitOptions<DynParams>,
) -> Result<FitResult<DynParams>, Error> {
    let (plan, _) = jensen::compile(model).map_err(jensen::Error::Model)?;
    let source = Source::new(model, files, engine)?;
    let chunks = TableChunks::new(&plan, source, options, &stream_options())?;
    jensen_runtime::Chunks::head(&chunks)
        .check_priors()
        .map_err(Error::Options)?;
    Ok(jensen_runtime::fit_chunked(&chunks, fit).map_err(jensen::Error::Fit)?)
}

/// How the driver reads the files: chunks of [`jensen::stream::DEFAULT_CHUNK_ROWS`] rows,
/// read again from the files on each of its few passes (no binary copy).
pub fn stream_options() -> StreamOptions {
    StreamOptions {
        csv: None,
        cache_dir: None,
        ..StreamOptions::default()
    }
}
