//! What one EM iteration costs as an aggregate query, against the same fit in this process.
//!
//! ```text
//! cargo run --release -p jensen-datafusion --example overhead -- [ROWS] [FILES] [SCHEDULER]
//! ```
//!
//! Writes ROWS (default 1,000,000) rows of an eight-component mixture in eight dimensions to
//! FILES (default 8) Parquet files, then fits `models/gmm.em` with K = 8 for 10 iterations
//! from the same k-means++ start: in memory (the rows read from the same files), on DataFusion
//! in this process, and — when SCHEDULER (`host:port` of `jensen-ballista scheduler`) is
//! given — on that Ballista cluster. Prints each one's seconds per iteration (E-step and
//! M-step, initialisation excluded) and the difference, the aggregate query's overhead.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use jensen::{BindOptions, DynParams, FitOptions, PlanModel, Table};
use jensen_datafusion::source::{Engine, Files};

const D: usize = 8;
const K: usize = 8;
const ITERATIONS: usize = 10;

fn write(dir: &Path, rows: usize, files: usize) -> Table {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut columns: Vec<Vec<f64>> = (0..D).map(|_| Vec::with_capacity(rows)).collect();
    for r in 0..rows {
        let k = r % K;
        for (d, c) in columns.iter_mut().enumerate() {
            let (u, v) = (uniform().max(1e-300), uniform());
            let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            c.push(3.0 * ((k * 7 + d * 3) % 5) as f64 + z);
        }
    }
    let headers: Vec<String> = (0..D).map(|d| format!("x{d}")).collect();
    let schema = Arc::new(Schema::new(
        (headers.iter())
            .map(|h| Field::new(h, DataType::Float64, false))
            .collect::<Vec<_>>(),
    ));
    let per_file = rows.div_ceil(files);
    for (i, start) in (0..rows).step_by(per_file).enumerate() {
        let end = (start + per_file).min(rows);
        let arrays: Vec<ArrayRef> = (columns.iter())
            .map(|c| Arc::new(Float64Array::from(c[start..end].to_vec())) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).expect("a batch");
        let file = std::fs::File::create(dir.join(format!("part-{i:03}.parquet"))).expect("file");
        let mut w = ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    }
    Table {
        source: "synthetic".into(),
        headers,
        columns: columns.into_iter().map(Some).collect(),
        text: vec![None; D],
        n_rows: rows,
        lines: Vec::new(),
        missing: Vec::new(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().map_or(1_000_000, |a| a.parse().expect("ROWS"));
    let files: usize = args.get(1).map_or(8, |a| a.parse().expect("FILES"));
    let scheduler = args.get(2).cloned();
    let dir = std::env::temp_dir().join(format!("jensen-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let table = write(&dir, rows, files);
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/gmm.em"))
            .expect("models/gmm.em");
    let options = BindOptions {
        consts: [("K".to_string(), K)].into_iter().collect(),
        ..Default::default()
    };
    let fit_options = FitOptions::<DynParams> {
        max_iter: ITERATIONS,
        tol: 0.0,
        threads: Some(2),
        ..Default::default()
    };
    let (plan, _) = jensen::compile(&text).expect("the model");
    let bound = jensen::bind(&plan, &table, &options).expect("the binding");
    let started = Instant::now();
    let memory = jensen::fit(&PlanModel::new(&plan, &bound), &fit_options).expect("the fit");
    let memory_total = started.elapsed().as_secs_f64();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!("{rows} rows × {D} columns in {files} Parquet files, K = {K}, {ITERATIONS} iterations, 2 threads; {cpu}");
    println!(
        "| where | s per iteration | overhead per iteration | whole fit, s | log-likelihood |"
    );
    println!("|---|---|---|---|---|");
    let per = |t: &jensen::runtime::Timing| t.seconds_per_iteration;
    println!(
        "| in memory | {:.3} | — | {memory_total:.2} | {:.6} |",
        per(&memory.timing),
        memory.log_likelihood
    );
    let mut engines = vec![("DataFusion, this process", Engine::Local { threads: 2 })];
    if let Some(s) = scheduler {
        engines.push(("Ballista", Engine::Cluster(s)));
    }
    for (name, engine) in engines {
        let files = Files::new(dir.join("*.parquet").to_str().expect("a path")).expect("files");
        let started = Instant::now();
        let fit = jensen_datafusion::fit(&text, files, &engine, options.clone(), &fit_options)
            .expect("the fit");
        let total = started.elapsed().as_secs_f64();
        let rel = (fit.log_likelihood - memory.log_likelihood).abs() / memory.log_likelihood.abs();
        println!(
            "| {name} | {:.3} | {:+.3} | {total:.2} | {:.6} (relative difference {rel:.1e}) |",
            per(&fit.timing),
            per(&fit.timing) - per(&memory.timing),
            fit.log_likelihood
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
