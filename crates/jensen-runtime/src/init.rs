//! Starting points: k-means++ seeding refined by Lloyd iterations, and random rows of the data.
//!
//! The driver runs both on a standardised copy of the model's numeric features, so that
//! columns on different scales (a depth in km beside a magnitude) weigh alike — except for a
//! model with a known covariance `c I` (k-means), whose distances are in the data's units
//! (`MixtureModel::init_in_data_units`). They produce hard assignments; the driver turns those
//! into starting parameters with one M-step.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;

/// Centres every column and scales it to unit variance (constant columns are only centred).
pub fn standardise(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    let n = x.nrows().max(1) as f64;
    for mut col in out.axis_iter_mut(Axis(1)) {
        let mean = col.sum() / n;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let scale = if var > 0.0 { var.sqrt() } else { 1.0 };
        col.mapv_inplace(|v| (v - mean) / scale);
    }
    out
}

fn sq_dist(a: ndarray::ArrayView1<'_, f64>, b: ndarray::ArrayView1<'_, f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly at random,
/// each next one with probability proportional to the squared distance to the nearest
/// centre chosen so far.
pub fn kmeans_plus_plus<R: Rng>(x: ArrayView2<'_, f64>, k: usize, rng: &mut R) -> Array2<f64> {
    let n = x.nrows();
    let mut centres = Array2::zeros((k, x.ncols()));
    let first = rng.random_range(0..n);
    centres.row_mut(0).assign(&x.row(first));
    let mut d2: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| sq_dist(r, x.row(first)))
        .collect();
    for c in 1..k {
        let total: f64 = d2.sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, &d) in d2.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // All points coincide with a centre already: any row will do.
            rng.random_range(0..n)
        };
        centres.row_mut(c).assign(&x.row(pick));
        for (i, row) in x.rows().into_iter().enumerate() {
            d2[i] = d2[i].min(sq_dist(row, x.row(pick)));
        }
    }
    centres
}

/// `k` distinct rows chosen uniformly at random (fewer distinct rows than `k` repeat).
pub fn random_rows<R: Rng>(x: ArrayView2<'_, f64>, k: usize, rng: &mut R) -> Array2<f64> {
    let n = x.nrows();
    let picks = rand::seq::index::sample(rng, n, k.min(n));
    let mut centres = Array2::zeros((k, x.ncols()));
    for c in 0..k {
        centres
            .row_mut(c)
            .assign(&x.row(picks.index(c % picks.len())));
    }
    centres
}

/// Index of the nearest centre of every row.
pub fn nearest(x: ArrayView2<'_, f64>, centres: ArrayView2<'_, f64>) -> Vec<usize> {
    x.rows()
        .into_iter()
        .map(|row| {
            let mut best = (f64::INFINITY, 0);
            for (c, centre) in centres.rows().into_iter().enumerate() {
                let d = sq_dist(row, centre);
                if d < best.0 {
                    best = (d, c);
                }
            }
            best.1
        })
        .collect()
}

/// Lloyd's algorithm from the given centres for at most `iters` rounds (stops when no
/// assignment changes). A centre that loses all its points stays where it was.
pub fn lloyd(x: ArrayView2<'_, f64>, mut centres: Array2<f64>, iters: usize) -> Vec<usize> {
    let mut labels = nearest(x, centres.view());
    for _ in 0..iters {
        let k = centres.nrows();
        let mut sums = Array2::<f64>::zeros(centres.dim());
        let mut counts = vec![0usize; k];
        for (row, &l) in x.rows().into_iter().zip(&labels) {
            let mut s = sums.row_mut(l);
            s += &row;
            counts[l] += 1;
        }
        for c in 0..k {
            if counts[c] > 0 {
                let mean = &sums.row(c) / counts[c] as f64;
                centres.row_mut(c).assign(&mean);
            }
        }
        let next = nearest(x, centres.view());
        if next == labels {
            break;
        }
        labels = next;
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;

    #[test]
    fn kmeans_separates_two_obvious_groups() {
        let x = array![
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [10.0, 10.0],
            [10.1, 10.0],
            [10.0, 10.1]
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let c = kmeans_plus_plus(x.view(), 2, &mut rng);
        let labels = lloyd(x.view(), c, 10);
        assert_eq!(labels[0], labels[1]);
        assert_eq!(labels[0], labels[2]);
        assert_eq!(labels[3], labels[5]);
        assert_ne!(labels[0], labels[3]);
    }

    #[test]
    fn standardise_leaves_constant_columns_finite() {
        let s = standardise(array![[1.0, 5.0], [3.0, 5.0]].view());
        assert!(s.iter().all(|v| v.is_finite()));
        assert_eq!(s.column(1).sum(), 0.0);
    }
}
