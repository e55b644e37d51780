//! Hyperparameters of conjugate priors as the kernels take them: a prior mean or an
//! inverse-Gamma scale is one number for every coordinate (`MvNormal(0.0, …)`) or one per
//! coordinate (`mean(x)`, `var(x)`); an inverse-Wishart scale matrix is `c I` or a full
//! matrix (`cov(x)`). A number converts into either, so a kernel's caller writes `0.0` or
//! `self.mu_prior_mean.view()` alike.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use crate::linalg::Cholesky;

/// One value for every coordinate, or one per coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerCoordinate<'a> {
    /// The same value for every coordinate.
    All(f64),
    /// A value per coordinate.
    Each(ArrayView1<'a, f64>),
}

impl PerCoordinate<'_> {
    /// The value of coordinate `i`.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            PerCoordinate::All(v) => *v,
            PerCoordinate::Each(v) => v[i],
        }
    }
}

impl From<f64> for PerCoordinate<'_> {
    fn from(v: f64) -> Self {
        PerCoordinate::All(v)
    }
}

impl<'a> From<ArrayView1<'a, f64>> for PerCoordinate<'a> {
    fn from(v: ArrayView1<'a, f64>) -> Self {
        PerCoordinate::Each(v)
    }
}

/// An inverse-Wishart scale matrix `Ψ0`: `c I`, or a symmetric positive definite matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleMatrix<'a> {
    /// `c I`.
    Identity(f64),
    /// A full matrix.
    Matrix(ArrayView2<'a, f64>),
}

impl ScaleMatrix<'_> {
    /// `a + Ψ0`.
    pub fn add_to(&self, a: &mut Array2<f64>) {
        match self {
            ScaleMatrix::Identity(c) => a.diag_mut().iter_mut().for_each(|v| *v += c),
            ScaleMatrix::Matrix(m) => *a += m,
        }
    }

    /// `ln |Ψ0|` of a `d × d` matrix; `−∞` when it is not positive definite.
    pub fn log_det(&self, d: usize) -> f64 {
        match self {
            ScaleMatrix::Identity(c) => d as f64 * c.ln(),
            ScaleMatrix::Matrix(m) => Cholesky::new(*m).map_or(f64::NEG_INFINITY, |c| c.log_det()),
        }
    }

    /// `tr(Ψ0 Σ⁻¹)`, `Σ` given by its Cholesky factor.
    pub fn trace_solve(&self, chol: &Cholesky) -> f64 {
        match self {
            ScaleMatrix::Identity(c) => c * chol.inverse_diagonal().sum(),
            ScaleMatrix::Matrix(m) => chol.trace_solve(*m),
        }
    }
}

impl From<f64> for ScaleMatrix<'_> {
    fn from(c: f64) -> Self {
        ScaleMatrix::Identity(c)
    }
}

impl<'a> From<ArrayView2<'a, f64>> for ScaleMatrix<'a> {
    fn from(m: ArrayView2<'a, f64>) -> Self {
        ScaleMatrix::Matrix(m)
    }
}

/// The mean under a normal prior scaled by a covariance: one component's (the covariance is
/// per component), or every component's, one per row (a covariance the components share,
/// `Sigma` with `mu[k] ~ MvNormal(m0, Sigma / κ)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Means<'a> {
    /// One mean.
    One(ArrayView1<'a, f64>),
    /// A mean per row.
    Each(ArrayView2<'a, f64>),
}

impl<'a> Means<'a> {
    /// How many means: the rows the prior adds to the covariance's update.
    pub fn count(&self) -> usize {
        match self {
            Means::One(_) => 1,
            Means::Each(m) => m.nrows(),
        }
    }

    /// `Σ ‖μ − m0‖²` over the means, and how many coordinates that sums.
    pub fn squared_deviation(&self, m0: PerCoordinate<'_>) -> (f64, usize) {
        self.rows().iter().fold((0.0, 0), |(dev, values), m| {
            let d: f64 = m
                .iter()
                .enumerate()
                .map(|(i, &v)| (v - m0.at(i)) * (v - m0.at(i)))
                .sum();
            (dev + d, values + m.len())
        })
    }

    /// Each mean.
    pub fn rows(&self) -> Vec<ArrayView1<'a, f64>> {
        match *self {
            Means::One(m) => vec![m],
            Means::Each(m) => (0..m.nrows())
                .map(|i| m.index_axis_move(Axis(0), i))
                .collect(),
        }
    }
}

impl<'a> From<ArrayView1<'a, f64>> for Means<'a> {
    fn from(m: ArrayView1<'a, f64>) -> Self {
        Means::One(m)
    }
}

impl<'a> From<ArrayView2<'a, f64>> for Means<'a> {
    fn from(m: ArrayView2<'a, f64>) -> Self {
        Means::Each(m)
    }
}

/// [`Means`] of a univariate Normal: one component's mean, or every component's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarMeans<'a> {
    /// One mean.
    One(f64),
    /// A mean per component.
    Each(ArrayView1<'a, f64>),
}

impl ScalarMeans<'_> {
    /// How many means.
    pub fn count(&self) -> usize {
        match self {
            ScalarMeans::One(_) => 1,
            ScalarMeans::Each(m) => m.len(),
        }
    }

    /// `Σ (m − m0)²` over the means.
    pub fn squared_deviation(&self, m0: f64) -> f64 {
        match self {
            ScalarMeans::One(m) => (m - m0) * (m - m0),
            ScalarMeans::Each(m) => m.iter().map(|m| (m - m0) * (m - m0)).sum(),
        }
    }
}

impl From<f64> for ScalarMeans<'_> {
    fn from(m: f64) -> Self {
        ScalarMeans::One(m)
    }
}

impl<'a> From<ArrayView1<'a, f64>> for ScalarMeans<'a> {
    fn from(m: ArrayView1<'a, f64>) -> Self {
        ScalarMeans::Each(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn a_scaled_identity_and_its_matrix_agree() {
        let sigma = array![[2.0, 0.3], [0.3, 1.5]];
        let chol = Cholesky::new(sigma.view()).unwrap();
        let m = array![[0.7, 0.0], [0.0, 0.7]];
        let (a, b) = (ScaleMatrix::from(0.7), ScaleMatrix::from(m.view()));
        assert_relative_eq!(a.log_det(2), b.log_det(2), max_relative = 1e-14);
        assert_relative_eq!(
            a.trace_solve(&chol),
            b.trace_solve(&chol),
            max_relative = 1e-14
        );
        let (mut x, mut y) = (sigma.clone(), sigma.clone());
        a.add_to(&mut x);
        b.add_to(&mut y);
        assert_eq!(x, y);
        assert_eq!(PerCoordinate::from(0.5).at(3), 0.5);
        // Every kernel that takes a scale matrix or a per-coordinate value gives the same
        // result for a number and for the matrix or vector it stands for.
        use crate::kernels::{gaussian, vb};
        let (c, m0) = (0.7, -0.3);
        let ci = ndarray::Array2::from_diag(&ndarray::Array1::from_elem(2, c));
        let m0s = ndarray::Array1::from_elem(2, m0);
        let mean = array![0.4, 1.1];
        let means = array![[0.4, 1.1], [-0.2, 0.5]];
        let sq = array![0.9, 1.7];
        let close = |a: f64, b: f64| assert_relative_eq!(a, b, max_relative = 1e-14);
        close(
            gaussian::inv_wishart_log_density(sigma.view(), 5.0, c),
            gaussian::inv_wishart_log_density(sigma.view(), 5.0, ci.view()),
        );
        close(
            vb::inv_wishart_kl(sigma.view(), 9.0, 5.0, c),
            vb::inv_wishart_kl(sigma.view(), 9.0, 5.0, ci.view()),
        );
        let (a, b) = (
            gaussian::covariance_mode_with_mean_prior(
                sigma.view(),
                10.0,
                5.0,
                c,
                mean.view(),
                0.5,
                m0,
            ),
            gaussian::covariance_mode_with_mean_prior(
                sigma.view(),
                10.0,
                5.0,
                ci.view(),
                mean.view(),
                0.5,
                m0s.view(),
            ),
        );
        a.iter().zip(b.iter()).for_each(|(a, b)| close(*a, *b));
        let (a, b) = (
            vb::variances_posterior_with_mean_prior(sq.view(), 10.0, 2.0, c, means.view(), 0.5, m0),
            vb::variances_posterior_with_mean_prior(
                sq.view(),
                10.0,
                2.0,
                m0s.mapv(|_| c).view(),
                means.view(),
                0.5,
                m0s.view(),
            ),
        );
        a.iter().zip(b.iter()).for_each(|(a, b)| close(*a, *b));
        // Two components' means sharing the scale add both deviations (and, for the mode,
        // both rows): the same as the deviations summed by hand.
        let both = gaussian::variances_mode_with_mean_prior(
            sq.view(),
            10.0,
            2.0,
            c,
            means.view(),
            0.5,
            m0,
        );
        for d in 0..2 {
            let dev: f64 = means
                .column(d)
                .iter()
                .map(|m| 0.5 * (m - m0) * (m - m0))
                .sum();
            close(
                both[d],
                (sq[d] + 2.0 * c + dev) / (10.0 + 2.0 + 2.0 * 2.0 + 2.0),
            );
        }
        let v = array![1.0, 2.0];
        assert_eq!(PerCoordinate::from(v.view()).at(1), 2.0);
    }
}
