//! `jensen fit --stream`: the data read a chunk of rows at a time ([`jensen::stream`]).

use jensen::runtime::{em, Chunks, MixtureModel};
use jensen::stream::{CsvFile, StreamOptions, TableChunks, TableSource, DEFAULT_CHUNK_ROWS};
use jensen::{BindOptions, DynParams, FitDocument, Plan};

/// Data read a chunk at a time: a CSV file (`--stream`), or files through DataFusion
/// (`--data 'dir/*.parquet'`, `--cluster`).
pub(crate) type Chunked<'a> = TableChunks<'a, Box<dyn TableSource + 'a>>;

/// Whether `--data` names several files (a pattern or a directory), read through DataFusion.
pub(crate) fn names_files(data: &str) -> bool {
    data.contains(['*', '?', '[']) || std::path::Path::new(data).is_dir()
}

/// Opens `args.data` (files: a pattern, a directory or one Parquet or CSV file) for a fit
/// whose every E-step is one DataFusion aggregate query, in this process or (`cluster`) on
/// the Ballista scheduler at `HOST:PORT`; `model` is the model file's text. Returns the
/// chunks and the files' columns.
#[cfg(feature = "distributed")]
pub(crate) fn open_files<'a>(
    plan: &'a Plan,
    model: &str,
    args: &DataArgs,
    cluster: Option<&str>,
    threads: Option<usize>,
) -> Result<(Chunked<'a>, Vec<String>), Failure> {
    use jensen_datafusion::source::{Engine, Files, Source};
    if args.labels.is_some() {
        return Err(failure::options(
            "fits through DataFusion do not take partial labels: their supervised start reads every label at once; fit them in memory",
        ));
    }
    if plan.latent.is_chain() && args.lengths.is_some() {
        return Err(failure::options(
            "a chain through DataFusion: each partition reads whole files, each whole sequences, cut where the sequence id changes; give the sequence ids as a column (--sequence COLUMN), not --lengths",
        ));
    }
    let mut location = args.data.clone();
    if std::path::Path::new(&location).is_dir() {
        location = format!("{}/*.parquet", location.trim_end_matches('/'));
    }
    let mut files = Files::new(&location).map_err(|e| failure::options(e.to_string()))?;
    if let Some(d) = args.delimiter {
        files = files.with_delimiter(d);
    }
    let engine = match cluster {
        Some(address) => Engine::Cluster(address.to_string()),
        None => Engine::Local {
            threads: threads.unwrap_or(0),
        },
    };
    let source = Source::new(model, files, &engine).map_err(|e| failure::data(e.to_string()))?;
    let headers = source.columns().iter().map(|(c, _)| c.clone()).collect();
    let options = bind_options(args, BindOptions::default())?;
    let source: Box<dyn TableSource + 'a> = Box::new(source);
    let stream = jensen_datafusion::stream_options();
    let chunks = TableChunks::new(plan, source, options, &stream).map_err(|e| match e {
        jensen::Error::Fit(e) => failure::options(e),
        e => failure::data(e),
    })?;
    Ok((chunks, headers))
}

/// Without the feature `distributed`: what to do instead.
#[cfg(not(feature = "distributed"))]
pub(crate) fn open_files<'a>(
    _plan: &'a Plan,
    _model: &str,
    args: &DataArgs,
    _cluster: Option<&str>,
    _threads: Option<usize>,
) -> Result<(Chunked<'a>, Vec<String>), Failure> {
    Err(failure::options(format!(
        "--data {} names several files (or --cluster was given): fits through DataFusion and Ballista need jensen built with `--features distributed` (cargo install --path crates/jensen-cli --features distributed); or fit one file",
        args.data
    )))
}

use crate::failure::{self, csv_error, Failure};
use crate::fit::posterior_header;
use crate::input::{bind_options, number_cell, Data, DataArgs};

/// Where `--stream` keeps the bound chunks between passes.
pub(crate) enum Cache<'s> {
    /// The system's temporary directory.
    Temp,
    /// A directory given.
    In(&'s str),
    /// Nowhere: the CSV is parsed on every pass.
    None,
}

/// Opens `args.data` (CSV, Parquet or `.npy`) for a fit read in chunks of `chunk_rows` rows, binding every chunk
/// in a first pass.
pub(crate) fn open<'a>(
    plan: &'a Plan,
    args: &DataArgs,
    chunk_rows: Option<usize>,
    cache: Cache<'_>,
) -> Result<Chunked<'a>, Failure> {
    let options = bind_options(args, BindOptions::default())?;
    open_with(plan, args, options, chunk_rows, cache, "fit")
}

/// [`open`] with the binding `options` (a saved fit's, say); `what` is the command, for
/// messages.
pub(crate) fn open_with<'a>(
    plan: &'a Plan,
    args: &DataArgs,
    options: BindOptions,
    chunk_rows: Option<usize>,
    cache: Cache<'_>,
    what: &str,
) -> Result<Chunked<'a>, Failure> {
    streamable(plan, args, what)?;
    let chunk_rows = chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS);
    if chunk_rows == 0 {
        return Err(failure::options(
            "--chunk-rows 0: a chunk needs at least one row",
        ));
    }
    // The in-memory fit's order of adding the statistics (its tasks of 4096 rows).
    let chunk_rows = chunk_rows.div_ceil(em::TASK_ROWS) * em::TASK_ROWS;
    let csv = args
        .delimiter
        .map(|delimiter| jensen::csv::CsvOptions { delimiter });
    let stream = StreamOptions {
        chunk_rows,
        csv,
        cache_dir: match cache {
            Cache::Temp => StreamOptions::default().cache_dir,
            Cache::In(dir) => Some(dir.into()),
            Cache::None => None,
        },
    };
    let fail = |e| match e {
        jensen::Error::Fit(e) => failure::options(e),
        e => failure::data(e),
    };
    let source: Box<dyn TableSource + 'a> = if is_parquet(&args.data) {
        Box::new(parquet_file(&args.data)?)
    } else if is_npy(&args.data) {
        Box::new(jensen::npy::NpyFile::open(&args.data).map_err(failure::data)?)
    } else {
        Box::new(CsvFile::open(&args.data, stream.csv.clone()).map_err(fail)?)
    };
    TableChunks::new(plan, source, options, &stream).map_err(fail)
}

/// Whether `path` names a NumPy `.npy` file, by its extension.
fn is_npy(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".npy")
}

/// Whether `path` names a Parquet file, by its extension.
fn is_parquet(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".parquet")
}

/// The Parquet file at `path`, read a batch of rows at a time.
#[cfg(feature = "parquet")]
fn parquet_file(path: &str) -> Result<jensen::stream::ParquetFile, Failure> {
    jensen::stream::ParquetFile::open(path).map_err(failure::data)
}

/// Without the feature `parquet`: what to do instead.
#[cfg(not(feature = "parquet"))]
fn parquet_file(path: &str) -> Result<CsvFile, Failure> {
    Err(failure::options(format!(
        "{path}: reading Parquet needs the `parquet` feature: build jensen with `cargo build --release -p jensen-cli --features parquet` (or convert the file to CSV)"
    )))
}

/// Refuses what `--stream` does not read: a chain's sequences given by
/// their lengths (its chunks are cut by a column of sequence ids) and partial labels
/// (`what`: the command, for messages).
pub(crate) fn streamable(plan: &Plan, args: &DataArgs, what: &str) -> Result<(), Failure> {
    if plan.latent.is_chain() && args.lengths.is_some() {
        return Err(failure::options(format!(
            "--stream with --lengths: a chain's chunks are cut where the sequence id changes, so that each holds whole sequences; give the sequence ids as a column (--sequence COLUMN), or {what} it without --stream",
        )));
    }
    if args.labels.is_some() {
        return Err(failure::options(format!(
            "--stream with --labels: partial labels' supervised start reads every label at once; {what} without --stream",
        )));
    }
    Ok(())
}

/// What the fit shows of the data's binding: the first chunk's, with the files' `headers`.
pub(crate) fn files_data(
    source: &Chunked<'_>,
    args: &DataArgs,
    headers: Vec<String>,
) -> Result<Data, Failure> {
    Ok(Data {
        bound: source.head().bound().clone(),
        opts: bind_options(args, BindOptions::default())?,
        headers,
    })
}

/// What the fit shows of the data's binding: the first chunk's.
pub(crate) fn data(source: &Chunked<'_>, args: &DataArgs) -> Result<Data, Failure> {
    Ok(Data {
        bound: source.head().bound().clone(),
        opts: bind_options(args, BindOptions::default())?,
        headers: headers(args)?,
    })
}

/// The named columns of the CSV file `args.data`, from its header line alone (of a Parquet
/// file, from its schema; of a `.npy` file, `c0`, `c1`, …).
pub(crate) fn headers(args: &DataArgs) -> Result<Vec<String>, Failure> {
    if is_parquet(&args.data) {
        #[cfg(feature = "parquet")]
        return Ok(parquet_file(&args.data)?.headers());
        #[cfg(not(feature = "parquet"))]
        return parquet_file(&args.data).map(|_| Vec::new());
    }
    if is_npy(&args.data) {
        let file = jensen::npy::NpyFile::open(&args.data).map_err(failure::data)?;
        return Ok(file.headers());
    }
    let headers = match args.delimiter {
        None => jensen::csv::Chunks::open_detected(&args.data),
        Some(delimiter) => std::fs::File::open(&args.data)
            .map_err(|e| jensen::csv::CsvError::Io {
                file: args.data.clone(),
                message: e.to_string(),
            })
            .and_then(|f| {
                jensen::csv::Chunks::new(
                    &args.data,
                    std::io::BufReader::new(f),
                    &jensen::csv::CsvOptions { delimiter },
                )
            }),
    }
    .map_err(failure::data)?
    .headers()
    .iter()
    .filter(|h| !h.is_empty())
    .cloned()
    .collect();
    Ok(headers)
}

/// The fit document's counts of the whole file (the binding shown is the first chunk's).
/// `lengths`: a chain's sequences' ([`viterbi`]).
pub(crate) fn whole_data(doc: &mut FitDocument, source: &Chunked<'_>, lengths: Option<Vec<usize>>) {
    doc.n_rows = source.rows();
    doc.sequences = lengths.unwrap_or_else(|| vec![source.rows()]);
    if let Some(w) = &mut doc.weights {
        w.total = source.context().total_weight();
        w.zero_rows = source.context().zero_weight_rows();
    }
}

/// Writes the per-row posterior (as `--posterior` does in memory) chunk by chunk.
pub(crate) fn write_posterior(
    path: &str,
    plan: &Plan,
    source: &Chunked<'_>,
    params: &DynParams,
    vb: bool,
) -> Result<(), Failure> {
    let mut w = csv::Writer::from_path(path)
        .map_err(|e| failure::other(format!("cannot write {path}: {e}")))?;
    let head = source.head();
    let cache = head.prepare(params).map_err(failure::numerical)?;
    let mut written_header = false;
    let chain = plan.latent.is_chain();
    each_chunk(source, &mut |_, chunk| {
        let (resp, ll) = em::posterior(chunk, &cache);
        let scores = chunk
            .latent_means(params, resp.view())
            .map_err(failure::numerical)?;
        // A chain's chunks hold whole sequences: each path is the whole data's.
        let viterbi = if chain {
            Some(jensen::runtime::decode(chunk, params).map_err(failure::numerical)?)
        } else {
            None
        };
        if !written_header {
            let header = posterior_header(plan, resp.ncols(), vb, chain, scores.as_ref());
            w.write_record(&header).map_err(|e| csv_error(e, path))?;
            written_header = true;
        }
        for (i, row) in resp.rows().into_iter().enumerate() {
            let mut rec: Vec<String> = row.iter().map(|v| number_cell(*v)).collect();
            rec.push(em::argmax(row).to_string());
            rec.push(number_cell(ll[i]));
            if let Some((path, _)) = &viterbi {
                rec.push(path[i].to_string());
            }
            if let Some(h) = &scores {
                rec.extend(h.row(i).iter().map(|v| number_cell(*v)));
            }
            w.write_record(&rec).map_err(|e| csv_error(e, path))?;
        }
        Ok(())
    })?;
    w.flush().map_err(|e| csv_error(csv::Error::from(e), path))
}

/// A chain's sequences' lengths and `ln p(x, z*)` of their Viterbi paths under `params`,
/// chunk by chunk (each holds whole sequences).
pub(crate) fn viterbi(
    source: &Chunked<'_>,
    params: &DynParams,
) -> Result<(Vec<usize>, f64), Failure> {
    let (mut lengths, mut score) = (Vec::new(), 0.0);
    each_chunk(source, &mut |_, chunk| {
        let (_, s) = jensen::runtime::decode(chunk, params).map_err(failure::numerical)?;
        score += s;
        lengths.extend(chunk.bound().sequences.iter().map(|s| s.len()));
        Ok(())
    })?;
    Ok((lengths, score))
}

/// Calls `f(first, chunk)` on each chunk in order, `first` the index of its first row among
/// all, stopping at the first error: `f`'s, or one reading a chunk.
pub(crate) fn each_chunk<'a>(
    source: &Chunked<'a>,
    f: &mut dyn FnMut(usize, &jensen::PlanModel<'a>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    use jensen::runtime::Chunks;
    let mut failed: Option<Failure> = None;
    let outcome = source.for_each(&mut |first, chunk| match f(first, chunk) {
        Ok(()) => Ok(true),
        Err(e) => {
            failed = Some(e);
            Ok(false)
        }
    });
    match failed {
        Some(e) => Err(e),
        None => outcome.map_err(Failure::from_fit),
    }
}
