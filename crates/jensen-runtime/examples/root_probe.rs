//! Times the scatter root of factor analysis (`moments::scatter_root`, a tall-skinny QR of
//! the centred rows, each piece scaled by a power of two first), and faer's QR of one piece
//! of the rows as they are (whose column norms meet subnormal numbers on data of unit scale).
//!
//! ```text
//! cargo run --release -p jensen-runtime --example root_probe -- [N] [D] [THREADS]
//! ```
//!
//! Prints the fastest of `REPEAT` (default 10) of each.
use std::time::Instant;

use jensen_runtime::kernels::moments::scatter_root;
use ndarray::{Array2, ShapeBuilder};

mod support;

fn main() {
    let (n, d, threads) = (
        support::arg(1, 100_000),
        support::arg(2, 50),
        support::arg(3, 1),
    );
    // Values of unit scale, in [-0.5, 0.5).
    let repeat = support::env_number("REPEAT", 10);
    let mut next = support::stream();
    let x = Array2::from_shape_fn((n, d).f(), |_| next());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t = Instant::now();
        let r = pool.install(|| scatter_root(x.view()));
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(r);
    }
    println!(
        "scatter_root {n} x {d}, {threads} thread(s): {:.2} ms",
        best * 1e3
    );
    let piece = 8192.min(n);
    let m = faer::Mat::<f64>::from_fn(piece, d, |i, j| x[[i, j]]);
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t = Instant::now();
        let r = m.qr().thin_R().to_owned();
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(r);
    }
    println!("faer qr of {piece} x {d}: {:.2} ms", best * 1e3);
}
