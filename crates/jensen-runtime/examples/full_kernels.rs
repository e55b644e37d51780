//! Times the full-covariance E-step kernels alone: the log-density (a triangular solve per
//! row) and the scatter, on blocks of rows as the E-step cuts them, for `K` components.
//!
//! ```text
//! cargo run --release -p jensen-runtime --example full_kernels -- [D] [K]
//! ```
//!
//! Prints the fastest of 150 passes over one block (`ROWS` rows, default 1024, the E-step's
//! block), per block and per million rows, and with `STREAM=1` a pass over a million rows
//! block by block, each block's components in turn, as the E-step reads them. A probe for
//! kernel work (run it before and after a change, binaries in turn); the fits'
//! benchmarks are in `bench/`.
//!
//! `MANY=1` gives each component its own mean and covariance (as a fit's are; the same
//! times); `STRIDE=N` takes the block from columns `N` rows long, as a fit's data is: the
//! scatter slows down where the columns lie a multiple of 4 KB apart (`STRIDE=101376`,
//! 99 · 1024 rows: 117 → 164 ms per million rows on the AMD EPYC), the density does not.
use std::time::Instant;

use jensen_runtime::kernels::gaussian::{accumulate_scatter, mvn_full_add_log_density};
use jensen_runtime::linalg::Cholesky;
use jensen_runtime::Workspace;
use ndarray::{s, Array1, Array2, ShapeBuilder};

mod support;

fn main() {
    let (d, k) = (support::arg(1, 16), support::arg(2, 16));
    let m = support::env_number("ROWS", 1024);
    let mut next = support::stream();
    // With STRIDE=n, the block is the first rows of n-row columns (a fit's data).
    let stride = support::env_number("STRIDE", m);
    let mut whole = Array2::<f64>::zeros((stride.max(m), d).f());
    whole.iter_mut().for_each(|v| *v = next() * 4.0);
    let x = whole.slice(s![..m, ..]);
    let mut a = Array2::<f64>::zeros((d, d));
    a.iter_mut().for_each(|v| *v = next());
    let sigma = a.t().dot(&a) + Array2::<f64>::eye(d);
    let chol = Cholesky::new(sigma.view()).expect("a positive definite matrix");
    let mean = Array1::from_iter((0..d).map(|_| next()));
    // With MANY=1, each component its own mean and covariance (as in a fit).
    let many: Vec<(Array1<f64>, Cholesky)> = (0..k)
        .map(|_| {
            let mut a = Array2::<f64>::zeros((d, d));
            a.iter_mut().for_each(|v| *v = next());
            let sigma = a.t().dot(&a) + Array2::<f64>::eye(d);
            let mean = Array1::from_iter((0..d).map(|_| next()));
            (
                mean,
                Cholesky::new(sigma.view()).expect("a positive definite matrix"),
            )
        })
        .collect();
    let several = std::env::var("MANY").is_ok();
    let resp = Array1::from_iter((0..m).map(|_| next() + 0.5));
    let mut out = Array1::<f64>::zeros(m);
    let mut sum = Array1::<f64>::zeros(d);
    let mut scatter = Array2::<f64>::zeros((d, d));
    let mut ws = Workspace::default();
    let (mut density, mut scatter_time) = (f64::MAX, f64::MAX);
    for _ in 0..150 {
        let t = Instant::now();
        for c in 0..k {
            let (mean, chol) = if several {
                (&many[c].0, &many[c].1)
            } else {
                (&mean, &chol)
            };
            mvn_full_add_log_density(x.view(), mean.view(), chol, out.view_mut(), &mut ws);
        }
        density = density.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for _ in 0..k {
            accumulate_scatter(
                x.view(),
                mean.view(),
                resp.view(),
                sum.view_mut(),
                scatter.view_mut(),
                &mut ws,
            );
        }
        scatter_time = scatter_time.min(t.elapsed().as_secs_f64());
    }
    let per_million = 1e6 / m as f64 * 1e3;
    println!(
        "D={d} K={k}, blocks of {m} rows: density {:.1} µs per block ({:.1} ms per million rows), \
         scatter {:.1} µs ({:.1} ms); checksums {:.6e} {:.6e}",
        density * 1e6,
        density * per_million,
        scatter_time * 1e6,
        scatter_time * per_million,
        out.sum(),
        scatter.sum()
    );
    if std::env::var("STREAM").is_ok() {
        let n = 1_000_000;
        let mut big = Array2::<f64>::zeros((n, d).f());
        big.iter_mut().for_each(|v| *v = next() * 4.0);
        let resp = Array1::from_iter((0..n).map(|_| next() + 0.5));
        let mut out = Array1::<f64>::zeros(n);
        let (mut density, mut scatter_time) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            let (mut dt, mut st) = (0.0, 0.0);
            for start in (0..n).step_by(m) {
                let rows = start..(start + m).min(n);
                let block = big.slice(s![rows.clone(), ..]);
                let t = Instant::now();
                for _ in 0..k {
                    let out = out.slice_mut(s![rows.clone()]);
                    mvn_full_add_log_density(block, mean.view(), &chol, out, &mut ws);
                }
                dt += t.elapsed().as_secs_f64();
                let t = Instant::now();
                for _ in 0..k {
                    accumulate_scatter(
                        block,
                        mean.view(),
                        resp.slice(s![rows.clone()]),
                        sum.view_mut(),
                        scatter.view_mut(),
                        &mut ws,
                    );
                }
                st += t.elapsed().as_secs_f64();
            }
            density = density.min(dt);
            scatter_time = scatter_time.min(st);
        }
        println!(
            "a million rows, block by block: density {:.1} ms, scatter {:.1} ms",
            density * 1e3,
            scatter_time * 1e3
        );
    }
}
