//! Times the diagonal-covariance E-step's three passes alone, on one block of rows as the
//! E-step cuts them: the log-joint (every component's log-density and log-weight), its
//! normalisation into responsibilities, and the weighted sums of the M-step's statistics.
//!
//! ```text
//! cargo run --release -p jensen-runtime --example diag_kernels -- [D] [K]
//! ```
//!
//! Prints the fastest of 400 passes (`PASSES`) over one block (`ROWS` rows, default 1024, the
//! E-step's block) of each, per block and per 100,000 rows (the diagonal mixture benchmark's
//! size). With `BLOCKS=n` the data are `n` blocks, and each pass runs block by block as the
//! E-step runs them (the three passes on a block before the next block), so that every block
//! comes from memory rather than the cache: each pass's time summed over the blocks.
//! A probe for kernel work (run it before and after a change, binaries in turn); the fits'
//! benchmarks are in `bench/`.
use std::time::Instant;

use jensen_runtime::kernels::gaussian::{accumulate_diag_all, mvn_diag_set_log_joint};
use jensen_runtime::mixture::normalise_rows;
use jensen_runtime::Workspace;
use ndarray::{s, Array1, Array2, ShapeBuilder};

mod support;

fn main() {
    let (d, k) = (support::arg(1, 8), support::arg(2, 8));
    let block = support::env_number("ROWS", 1024);
    let blocks = support::env_number("BLOCKS", 1);
    let m = block * blocks;
    let mut next = support::stream();
    let mut x = Array2::<f64>::zeros((m, d).f());
    x.iter_mut().for_each(|v| *v = next() * 4.0);
    let means = Array2::from_shape_fn((k, d), |_| next() * 2.0);
    let vars = Array2::from_shape_fn((k, d), |_| next() + 1.0);
    let log_w = Array1::from_elem(k, -(k as f64).ln());
    let mut lj = Array2::<f64>::zeros((m, k).f());
    let mut resp = lj.clone();
    let mut row_ll = vec![0.0; m];
    let (mut sum, mut sq) = (Array2::<f64>::zeros((k, d)), Array2::<f64>::zeros((k, d)));
    let mut ws = Workspace::default();
    let (mut density, mut normalise, mut sums) = (f64::MAX, f64::MAX, f64::MAX);
    let mut loglik = 0.0;
    let passes = support::env_number("PASSES", 400);
    for _ in 0..passes {
        let (mut pass_density, mut pass_normalise, mut pass_sums) = (0.0, 0.0, 0.0);
        loglik = 0.0;
        sum.fill(0.0);
        sq.fill(0.0);
        for start in (0..m).step_by(block) {
            let rows = s![start..start + block, ..];
            let t = Instant::now();
            mvn_diag_set_log_joint(
                x.slice(rows),
                log_w.view(),
                means.view(),
                vars.view(),
                lj.slice_mut(rows),
                &mut ws,
            );
            pass_density += t.elapsed().as_secs_f64();
            // (The probe keeps the log-joint: its normalisation works on a copy.)
            resp.slice_mut(rows).assign(&lj.slice(rows));
            let t = Instant::now();
            loglik += normalise_rows(resp.slice_mut(rows), &mut row_ll[start..start + block]).0;
            pass_normalise += t.elapsed().as_secs_f64();
            let t = Instant::now();
            accumulate_diag_all(
                x.slice(rows),
                means.view(),
                resp.slice(rows),
                sum.view_mut(),
                sq.view_mut(),
            );
            pass_sums += t.elapsed().as_secs_f64();
        }
        density = density.min(pass_density);
        normalise = normalise.min(pass_normalise);
        sums = sums.min(pass_sums);
    }
    let (per_block, per_n) = (1e6 / blocks as f64, 1e5 / m as f64 * 1e3);
    println!(
        "D={d} K={k}, {blocks} blocks of {block} rows, µs per block (ms per 100,000 rows): \
         log-joint {:.1} ({:.3}), normalisation {:.1} ({:.3}), sums {:.1} ({:.3}); \
         checksums {:.6e} {:.6e}",
        density * per_block,
        density * per_n,
        normalise * per_block,
        normalise * per_n,
        sums * per_block,
        sums * per_n,
        loglik,
        sq.sum()
    );
}
