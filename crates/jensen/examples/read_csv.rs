//! How fast `jensen::csv` reads a numeric CSV file, against the plainest reader the `csv`
//! crate allows (its `ByteRecord`s, each cell parsed with `str::parse::<f64>` into a column;
//! no trimming, gaps, line numbers or error reports): on one thread and on two (where
//! jensen's reader parses the cells on a second thread).
//!
//! `cargo run --release -p jensen --example read_csv -- FILE [REPEAT]` prints the fastest of
//! `REPEAT` (3) reads of each, in seconds and MB/s of the file.

use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: read_csv FILE [REPEAT]: a numeric CSV file with a header line")?;
    let repeat: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let megabytes = std::fs::metadata(&path)?.len() as f64 / 1e6;
    let fastest = |read: &dyn Fn() -> Result<usize, Error>| {
        let mut best = f64::INFINITY;
        let mut cells = 0;
        for _ in 0..repeat.max(1) {
            let start = Instant::now();
            cells = read()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok::<_, Error>((best, cells))
    };
    let jensen = || -> Result<usize, Error> {
        let table = jensen::csv::read_detected(&path)?;
        Ok(table.n_rows * table.headers.len())
    };
    let plain = || -> Result<usize, Error> {
        let mut reader = csv::ReaderBuilder::new().from_path(&path)?;
        let mut record = csv::ByteRecord::new();
        let mut columns: Vec<Vec<f64>> = Vec::new();
        while reader.read_byte_record(&mut record)? {
            columns.resize_with(record.len(), Vec::new);
            for (column, cell) in columns.iter_mut().zip(record.iter()) {
                column.push(std::str::from_utf8(cell)?.parse().unwrap_or(f64::NAN));
            }
        }
        Ok(columns.iter().map(Vec::len).sum())
    };
    println!("{path}: {megabytes:.1} MB, fastest of {repeat}");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        for (name, read) in [
            (
                "jensen::csv::read_detected",
                &jensen as &(dyn Fn() -> _ + Sync),
            ),
            ("csv ByteRecord + str::parse", &plain),
        ] {
            let (seconds, cells) = pool.install(|| fastest(read))?;
            println!(
                "{name:<28} {threads} thread(s): {seconds:.3} s, {:.0} MB/s ({cells} cells)",
                megabytes / seconds
            );
        }
    }
    Ok(())
}
