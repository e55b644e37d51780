//! Times the work of a factor-analysis fit on the data's summaries: per iteration (serial),
//! the posterior of `(W, Ψ)` (`FactorPosterior::new`, a thin SVD of the whitened loadings)
//! and the E-step's statistics from the scatter root (`factor_summary_statistics`); once per
//! fit (in parallel leaves), faer's Householder QR of a leaf of the centred rows with faer's
//! own blocking for the shape and with the blocking `moments::scatter_root` uses.
//!
//! ```text
//! cargo run --release -p jensen-runtime --example fa_probe -- [D] [L] [LEAF ROWS]
//! ```
//!
//! Prints the fastest of `REPEAT` (default 2000; a twentieth for the QRs) of each.
use std::time::Instant;

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, QrParams};
use jensen_runtime::kernels::linear::{factor_summary_statistics, FactorPosterior};
use ndarray::{Array1, Array2};

mod support;

fn best_of(repeat: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..repeat {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e6
}

fn main() {
    let (d, l) = (support::arg(1, 50), support::arg(2, 10));
    let leaf = support::arg(3, 1024.max(4 * d));
    let repeat = support::env_number("REPEAT", 2000);
    let mut next = support::stream();
    let w = Array2::from_shape_fn((d, l), |_| next());
    let psi = Array1::from_shape_fn(d, |_| 0.5 + next());
    let root = Array2::from_shape_fn((d, d), |(i, j)| if j >= i { next() * 300.0 } else { 0.0 });
    let mean = Array1::from_shape_fn(d, |_| next());
    let centre = Array1::from_shape_fn(d, |_| next());
    let post = FactorPosterior::new(w.view(), psi.view()).expect("a posterior");
    let t = best_of(repeat, || {
        std::hint::black_box(FactorPosterior::new(w.view(), psi.view()).expect("a posterior"));
    });
    println!("FactorPosterior::new, D = {d}, L = {l}: {t:.1} µs");
    let (mut s, mut q, mut hs) = (Array1::zeros(d), Array1::zeros(d), Array1::zeros(l));
    let (mut c, mut hh) = (Array2::zeros((l, d)), Array2::zeros((l, l)));
    let t = best_of(repeat, || {
        std::hint::black_box(factor_summary_statistics(
            1e5,
            mean.view(),
            root.view(),
            centre.view(),
            &post,
            s.view_mut(),
            q.view_mut(),
            hs.view_mut(),
            c.view_mut(),
            hh.view_mut(),
        ));
    });
    println!("factor_summary_statistics, D = {d}, L = {l}: {t:.1} µs");

    let a = faer::Mat::<f64>::from_fn(leaf, d, |_, _| next() * 1e100);
    let own = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(leaf, d);
    let auto: QrParams = faer::Auto::<f64>::auto();
    let unblocked = QrParams {
        blocking_threshold: usize::MAX,
        ..auto
    };
    let ours = if d > 64 { 16 } else { 8 }.min(d);
    for (what, block, params) in [
        ("faer's own blocking", own, auto),
        ("scatter_root's", ours, unblocked),
    ] {
        let mut buffer = MemBuffer::new(qr_in_place_scratch::<f64>(
            leaf,
            d,
            block,
            faer::Par::Seq,
            params.into(),
        ));
        let mut h = faer::Mat::<f64>::zeros(block, d.min(leaf));
        let mut b = a.clone();
        let t = best_of(repeat / 20 + 3, || {
            b.copy_from(&a);
            qr_in_place(
                b.as_mut(),
                h.as_mut(),
                faer::Par::Seq,
                MemStack::new(&mut buffer),
                params.into(),
            );
            std::hint::black_box(&b);
        });
        println!(
            "QR of {leaf} x {d}, {what} (blocks of {block}): {:.1} µs per 1000 rows",
            t * 1000.0 / leaf as f64
        );
    }
}
