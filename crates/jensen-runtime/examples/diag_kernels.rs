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
//! size).
//! A probe for kernel work (run it before and after a change, binaries in turn); the fits'
//! benchmarks are in `bench/`.
use std::time::Instant;

use jensen_runtime::kernels::gaussian::{accumulate_diag_all, mvn_diag_set_log_joint};
use jensen_runtime::mixture::normalise_rows;
use jensen_runtime::Workspace;
use ndarray::{Array1, Array2, ShapeBuilder};

mod support;

fn main() {
    let (d, k) = (support::arg(1, 8), support::arg(2, 8));
    let m = support::env_number("ROWS", 1024);
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
        let t = Instant::now();
        mvn_diag_set_log_joint(
            x.view(),
            log_w.view(),
            means.view(),
            vars.view(),
            lj.view_mut(),
            &mut ws,
        );
        density = density.min(t.elapsed().as_secs_f64());
        resp.assign(&lj);
        let t = Instant::now();
        loglik = normalise_rows(resp.view_mut(), &mut row_ll).0;
        normalise = normalise.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        accumulate_diag_all(
            x.view(),
            means.view(),
            resp.view(),
            sum.view_mut(),
            sq.view_mut(),
        );
        sums = sums.min(t.elapsed().as_secs_f64());
    }
    let per_n = 1e5 / m as f64 * 1e3;
    println!(
        "D={d} K={k}, blocks of {m} rows, µs per block (ms per 100,000 rows): \
         log-joint {:.1} ({:.3}), normalisation {:.1} ({:.3}), sums {:.1} ({:.3}); \
         checksums {:.6e} {:.6e}",
        density * 1e6,
        density * per_n,
        normalise * 1e6,
        normalise * per_n,
        sums * 1e6,
        sums * per_n,
        loglik,
        sq.sum()
    );
}
