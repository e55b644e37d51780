//! Times the hard E-step's fused pass alone (`mvn_spherical_hard_step`, k-means's hot loop):
//! each row's nearest centre and its statistics, block by block as the hard E-step cuts
//! them, on clustered rows (each row a centre plus noise, the centres spread as
//! `bench/make_synth.py` spreads them).
//!
//! ```text
//! cargo run --release -p jensen-runtime --example hard_probe -- [D] [K]
//! ```
//!
//! Prints the fastest of `PASSES` (default 50) passes over `BLOCKS` blocks (default 100) of
//! `ROWS` rows (default 1024, the hard E-step's block), per pass and per 1,000,000 rows (the
//! k-means benchmark's size), and how many rows the pass deferred to the exact path. With
//! `BLOCKS=1` the block stays in the cache. The columns lie `PAD` rows (default 64) further
//! apart than the rows: with none, a row count that is a multiple of 512 puts every column's
//! rows at the same offset in a 4 KiB page, where the columns' lines compete for the same
//! sets of the L1 cache (15.3–16.9 against 11.8–13.1 ms per 1e6 rows at D = 16, K = 16, on
//! the Intel Xeon); a fit's data of 1,000,000 rows lie 512 bytes apart modulo a page, as
//! with the default. A probe for kernel work (run it before and after
//! a change, binaries in turn); the fit's benchmark is `bench/run_kmeans.sh`.
use std::time::Instant;

use jensen_runtime::kernels::gaussian::mvn_spherical_hard_step;
use jensen_runtime::mixture::Assigned;
use jensen_runtime::Workspace;
use ndarray::{s, Array1, Array2, ShapeBuilder};

mod support;

fn main() {
    let (d, k) = (support::arg(1, 16), support::arg(2, 16));
    let block = support::env_number("ROWS", 1024);
    let blocks = support::env_number("BLOCKS", 100);
    let m = block * blocks;
    let mut next = support::stream();
    // Centres in [-10, 10)^D; each row one of them (in a fixed pseudo-random order) plus
    // noise of unit scale; the pass's means are the centres moved a little.
    let centres = Array2::from_shape_fn((k, d), |_| next() * 20.0);
    let pad = support::env_number("PAD", 64);
    let mut padded = Array2::<f64>::zeros((m + pad, d).f());
    let mut x = padded.slice_mut(s![..m, ..]);
    for mut row in x.rows_mut() {
        let c = ((next() + 0.5) * k as f64) as usize % k;
        for (v, &mu) in row.iter_mut().zip(centres.row(c)) {
            *v = mu + 2.0 * next();
        }
    }
    let means = centres.mapv(|v| v + 0.2 * next());
    let var = Array1::from_elem(1, 1.0);
    let log_prior = Array1::from_elem(1, -(k as f64).ln());
    let (mut at, mut best) = (vec![0u64; block], vec![0.0; block]);
    let mut deferred = Vec::new();
    let (mut sum, mut sq) = (Array2::<f64>::zeros((k, d)), Array2::<f64>::zeros((k, d)));
    let mut ws = Workspace::default();
    let passes = support::env_number("PASSES", 50);
    let (mut fastest, mut deferred_rows) = (f64::MAX, 0);
    for _ in 0..passes {
        sum.fill(0.0);
        sq.fill(0.0);
        deferred_rows = 0;
        let t = Instant::now();
        for start in (0..m).step_by(block) {
            let mut assigned = Assigned {
                at: &mut at,
                best: &mut best,
                deferred: &mut deferred,
            };
            let done = mvn_spherical_hard_step(
                x.slice(s![start..start + block, ..]),
                means.view(),
                var.view(),
                log_prior.view(),
                &mut assigned,
                sum.view_mut(),
                sq.view_mut(),
                &mut ws,
            );
            assert!(done, "the block is column-major");
            deferred_rows += deferred.len();
        }
        fastest = fastest.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box((&sum, &sq, &at, &best));
    println!(
        "hard step, {m} rows (blocks of {block}), D={d} K={k}: {:.3} ms per pass, \
         {:.2} ms per 1e6 rows; {deferred_rows} rows deferred",
        fastest * 1e3,
        fastest * 1e3 * 1e6 / m as f64
    );
}
