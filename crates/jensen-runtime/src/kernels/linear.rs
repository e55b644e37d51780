//! Linear-Gaussian blocks: `x = W h + μ + ε` with a continuous latent `h ~ N(0, I_L)` and
//! noise `ε ~ N(0, Ψ)`, `Ψ` diagonal (factor analysis) or `σ² I` (probabilistic PCA).
//!
//! The latent integrates out in closed form. With `M = I + Wᵀ Ψ⁻¹ W` (`L × L`) and
//! `G = M⁻¹`:
//! - the marginal is `x ~ N(μ, W Wᵀ + Ψ)`; its density never forms the `D × D` covariance:
//!   with `e = x − μ` and `u = Wᵀ Ψ⁻¹ e`, the Woodbury identity gives
//!   `eᵀ (W Wᵀ + Ψ)⁻¹ e = Σ_i e_i² / ψ_i − uᵀ G u`, and the determinant lemma
//!   `ln |W Wᵀ + Ψ| = Σ_i ln ψ_i + ln |M|`;
//! - the posterior is `h | x ~ N(G u, G)`: `E[h | x] = B e` with `B = G Wᵀ Ψ⁻¹`, and
//!   `E[h hᵀ | x] = G + E[h] E[h]ᵀ`.
//!
//! Statistics per component, about the centre `c` and the loadings `W°` the posterior was
//! computed under, with `e = x − c`, the residual `ẽ = e − W° h` and weights `r`: `n = Σ r`,
//! `s = Σ r e`, `ρ = Σ r E[ẽ²]` (elementwise), `s_h = Σ r E[h]`, `C̃ = Σ r E[h ẽᵀ]`
//! (`L × D`) and `S_h = Σ r E[h hᵀ]` (`L × L`). The M-step of `(W, μ)` is the joint
//! least-squares solution of `e ≈ W h + (μ − c)` under `q`, taken as a step from `W°`; the
//! noise is the expected residual; the ELBO term adds `E_q[ln p(h)]` and the entropy of
//! `q(h | x)` to the expected emission log-density. The second-order statistics are kept
//! about the residual, not the raw moments `Σ r e²` and `Σ r E[h] eᵀ`: the expected residual
//! at new parameters is then a sum of terms no larger than the residual and the step, and
//! keeps its digits when a column is many orders larger than the noise.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use ndarray::{
    Array1, Array2, ArrayView, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Dimension,
};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

use super::gaussian::{self, centred_transposed, LN_2PI};
use super::hyper::PerCoordinate;
use super::moments::{norm_safe_exponent, power_of_two};
use super::vb;
use crate::error::NumericalIssue;
use crate::linalg::{as_faer, as_faer_mut, Cholesky};
use crate::mixture::Workspace;

/// Why the posterior of a linear-Gaussian block could not be prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosteriorFailure {
    /// A noise variance is not positive, or not finite.
    Noise,
    /// The loadings are not finite, or so large that `I + Wᵀ Ψ⁻¹ W` cannot be factored.
    Loadings,
}

impl PosteriorFailure {
    /// The failure as a [`NumericalIssue`] naming the parameter at fault (with its component
    /// when it is indexed by one).
    pub fn issue(
        self,
        loading: &str,
        loading_component: Option<usize>,
        noise: &str,
        noise_component: Option<usize>,
    ) -> NumericalIssue {
        match self {
            PosteriorFailure::Noise => NumericalIssue::Constraint {
                param: noise.into(),
                component: noise_component,
                why: "noise variances must be positive and finite".into(),
            },
            PosteriorFailure::Loadings => NumericalIssue::Constraint {
                param: loading.into(),
                component: loading_component,
                why: "the loadings are not finite, or too large for I + Wᵀ Ψ⁻¹ W to be factored (rescale the data or start from other loadings)".into(),
            },
        }
    }
}

/// What the E-step of a linear-Gaussian block needs from `(W, Ψ)`, computed once per
/// iteration: the posterior covariance `G`, the projection `B`, and the log-determinants.
#[derive(Debug, Clone)]
pub struct FactorPosterior {
    /// `1 / ψ_i`.
    psi_inv: Array1<f64>,
    /// `B = G Wᵀ Ψ⁻¹`, `L × D`: `E[h | x] = B (x − μ)`.
    proj: Array2<f64>,
    /// `G = (I + Wᵀ Ψ⁻¹ W)⁻¹`, `L × L`: `Cov[h | x]`.
    cov: Array2<f64>,
    /// `ln |W Wᵀ + Ψ|`.
    log_det_marginal: f64,
    /// `ln |M| = −ln |G|`.
    log_det_precision: f64,
    /// `W`, `D × L`.
    w: Array2<f64>,
    /// `w_iᵀ G w_i` per coordinate: the posterior spread of `W h` the residual statistic adds.
    spread: Array1<f64>,
    /// `G Wᵀ`, `L × D`: the posterior spread the residual cross statistic removes.
    cov_wt: Array2<f64>,
    /// Variational Bayes: the latent's effective prior precision `P = I + D V` (`None`: `I`),
    /// see [`FactorPosterior::with_row_cov`].
    latent_precision: Option<Array2<f64>>,
}

fn to_array(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

impl FactorPosterior {
    /// The posterior under loadings `w` (`D × L`) and diagonal noise variances `psi` (`D`),
    /// or which of them is unusable.
    pub fn new(w: ArrayView2<'_, f64>, psi: ArrayView1<'_, f64>) -> Result<Self, PosteriorFailure> {
        let (d, l) = w.dim();
        let positive = |v: &f64| v.is_finite() && *v > 0.0;
        if psi.len() != d || !psi.iter().all(positive) {
            return Err(PosteriorFailure::Noise);
        }
        if !w.iter().all(|v| v.is_finite()) {
            return Err(PosteriorFailure::Loadings);
        }
        let psi_inv = psi.mapv(|v| 1.0 / v);
        // The whitened loadings A = Ψ^(−½) W = U S Vᵀ (thin SVD). Then M = I + AᵀA =
        // V (I + S²) Vᵀ, G = V (I + S²)⁻¹ Vᵀ and B = G Wᵀ Ψ⁻¹ = V S (I + S²)⁻¹ Uᵀ Ψ^(−½):
        // every factor is formed in the basis where M is diagonal, so B and G keep their
        // digits when M is ill-conditioned (a large column beside small noise, or loadings
        // whose columns nearly cancel, which the rotation freedom of W allows), where a
        // Cholesky solve with M would spread its error of `eps · |M|` into the small
        // directions — and through the large loadings into the residuals.
        let root_inv: Array1<f64> = psi_inv.mapv(f64::sqrt);
        let (proj, cov, log_det_precision, spread) = if d >= l {
            // `A` times a power of two, `2^e`, that keeps faer's column norms clear of
            // subnormal squares (which Intel CPUs compute in microcode: at unit scale they
            // took a third of the SVD's time); the singular values are scaled back, and
            // the vectors do not depend on the scale (see `moments::thin_r`).
            let mut a = Mat::<f64>::zeros(d, l);
            let mut largest = 0.0_f64;
            for (j, w) in w.columns().into_iter().enumerate() {
                for ((a, w), r) in a.col_as_slice_mut(j).iter_mut().zip(w).zip(&root_inv) {
                    *a = w * r;
                    largest = largest.max(a.abs());
                }
            }
            let exponent = norm_safe_exponent(largest, d);
            let (up, down) = (power_of_two(exponent), power_of_two(-exponent));
            if exponent != 0 {
                for j in 0..l {
                    for a in a.col_as_slice_mut(j) {
                        *a *= up;
                    }
                }
            }
            let svd = a.thin_svd().map_err(|_| PosteriorFailure::Loadings)?;
            let (u, v) = (svd.U(), svd.V());
            let sv: Vec<f64> = svd.S().column_vector().iter().map(|s| s * down).collect();
            // `s_j² / (1 + s_j²)` and `1 / (1 + s_j²)`, once per factor.
            let shrink: Vec<f64> = sv.iter().map(|s| s * s / (1.0 + s * s)).collect();
            let inverse: Vec<f64> = sv.iter().map(|s| 1.0 / (1.0 + s * s)).collect();
            // B_rc = Σ_j (V_rj s_j / (1 + s_j²)) U_cj / √ψ_c: the bracket once per `(r, j)`,
            // then for each `j` a multiple of `U`'s column `j` added to every row of `B`
            // (both contiguous), each row scaled by `1 / √ψ` at the end.
            let mut proj = Array2::<f64>::zeros((l, d));
            for j in 0..l {
                let u_j = u.col(j).try_as_col_major().expect("a column-major U");
                let u_j = u_j.as_slice();
                for (r, mut row) in proj.rows_mut().into_iter().enumerate() {
                    let t = v[(r, j)] * sv[j] * inverse[j];
                    let row = row.as_slice_mut().expect("a contiguous row");
                    for (b, u) in row.iter_mut().zip(u_j) {
                        *b += t * u;
                    }
                }
            }
            for mut row in proj.rows_mut() {
                for (b, r) in row.iter_mut().zip(&root_inv) {
                    *b *= r;
                }
            }
            let cov = Array2::from_shape_fn((l, l), |(r, c)| {
                (0..l)
                    .map(|j| v[(r, j)] * v[(c, j)] * inverse[j])
                    .sum::<f64>()
            });
            let log_det: f64 = sv.iter().map(|s| (s * s).ln_1p()).sum();
            // w_iᵀ G w_i = ψ_i Σ_j U_ij² s_j² / (1 + s_j²), since W V = Ψ^(½) U S: formed in
            // the basis, not as a product with G, whose error of `eps · |G|` would be
            // multiplied by `|w_i|²` (the square of the column's scale).
            let mut spread = Array1::<f64>::zeros(d);
            for (j, &shrink) in shrink.iter().enumerate() {
                let u_j = u.col(j).try_as_col_major().expect("a column-major U");
                for (w, u) in spread.iter_mut().zip(u_j.as_slice()) {
                    *w += u * u * shrink;
                }
            }
            spread *= &psi;
            (proj, cov, log_det, spread)
        } else {
            // More factors than columns: M through its Cholesky factor.
            let psi_inv_w = Array2::from_shape_fn((d, l), |(i, j)| w[[i, j]] * psi_inv[i]);
            let mut m = Mat::<f64>::identity(l, l);
            matmul(
                m.as_mut(),
                Accum::Add,
                as_faer(&w).transpose(),
                as_faer(&psi_inv_w.view()),
                1.0,
                Par::Seq,
            );
            let llt = m.llt(Side::Lower).map_err(|_| PosteriorFailure::Loadings)?;
            let factor = llt.L();
            let log_det = 2.0 * (0..l).map(|i| factor[(i, i)].ln()).sum::<f64>();
            let g = llt.inverse();
            let cov = Array2::from_shape_fn((l, l), |(i, j)| 0.5 * (g[(i, j)] + g[(j, i)]));
            let proj = to_array(llt.solve(as_faer(&psi_inv_w.view()).transpose()).as_ref());
            // w_iᵀ G w_i = ψ_i w_iᵀ B_:,i, as G Wᵀ = B Ψ.
            let spread = Array1::from_shape_fn(d, |i| psi[i] * w.row(i).dot(&proj.column(i)));
            (proj, cov, log_det, spread)
        };
        let log_det_psi: f64 = psi.iter().map(|v| v.ln()).sum();
        let log_det_marginal = log_det_psi + log_det_precision;
        let finite = log_det_marginal.is_finite()
            && cov.iter().all(|v| v.is_finite())
            && proj.iter().all(|v| v.is_finite());
        if !finite {
            return Err(PosteriorFailure::Loadings);
        }
        // G Wᵀ = B Ψ, from the projection that was formed in the SVD basis.
        let mut cov_wt = proj.clone();
        for mut row in cov_wt.rows_mut() {
            row *= &psi;
        }
        Ok(Self {
            psi_inv,
            proj,
            cov,
            log_det_marginal,
            log_det_precision,
            w: w.to_owned(),
            spread,
            cov_wt,
            latent_precision: None,
        })
    }

    /// Variational Bayes: the optimal `q(h | x)` under the posterior `q(W, Ψ)` whose rows are
    /// `w_d | ψ_d ~ N(m_d, ψ_d V)` and whose noise has `E[1 / ψ_d] = 1 / ψ̃_d`, for `w` the
    /// posterior means `M` (`D × L`), `psi` the effective variances `ψ̃` and `row_cov` the
    /// rows' shared covariance factor `V` (`L × L`). The expected emission log-density
    /// `E_q[ln N(x | W h + μ, Ψ)]` is `ln N(x | M h + μ, Ψ̃) − ½ D hᵀ V h` plus a constant, so
    /// `q(h | x)` is the posterior of the point model `(M, Ψ̃)` under the latent prior
    /// `N(0, P⁻¹)`, `P = I + D V`: precision `P + Mᵀ Ψ̃⁻¹ M`, mean `(P + Mᵀ Ψ̃⁻¹ M)⁻¹ Mᵀ Ψ̃⁻¹ e`.
    /// With `P = R Rᵀ` (Cholesky) it is formed as [`FactorPosterior::new`] of the whitened
    /// loadings `M R⁻ᵀ`, mapped back by `h = R⁻ᵀ u`; `ln |P|` enters `log_det_precision`,
    /// and the marginal becomes `N(μ, Ψ̃ + M P⁻¹ Mᵀ)`. `V = 0` is [`FactorPosterior::new`].
    pub fn with_row_cov(
        w: ArrayView2<'_, f64>,
        psi: ArrayView1<'_, f64>,
        row_cov: ArrayView2<'_, f64>,
    ) -> Result<Self, PosteriorFailure> {
        let (d, l) = w.dim();
        if row_cov.dim() != (l, l) || !row_cov.iter().all(|v| v.is_finite()) {
            return Err(PosteriorFailure::Loadings);
        }
        if row_cov.iter().all(|&v| v == 0.0) {
            return Self::new(w, psi);
        }
        let precision = Array2::from_shape_fn((l, l), |(i, j)| {
            let identity = if i == j { 1.0 } else { 0.0 };
            identity + d as f64 * 0.5 * (row_cov[[i, j]] + row_cov[[j, i]])
        });
        let root = Cholesky::new(precision.view()).ok_or(PosteriorFailure::Loadings)?;
        // The whitened loadings M R⁻ᵀ: their transpose solves R Y = Mᵀ.
        let mut wt = Mat::from_fn(l, d, |i, j| w[[j, i]]);
        root.solve_lower_in_place(wt.as_mut());
        let whitened = Array2::from_shape_fn((d, l), |(i, j)| wt[(j, i)]);
        let mut post = Self::new(whitened.view(), psi)?;
        // Back from u = Rᵀ h: B = R⁻ᵀ B', G = R⁻ᵀ G' R⁻¹ and G Mᵀ = R⁻ᵀ (G' M'ᵀ); the spread
        // m_iᵀ G m_i is the whitened one.
        let back = |a: &Array2<f64>| {
            let mut m = Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]]);
            root.solve_upper_transposed_in_place(m.as_mut());
            to_array(m.as_ref())
        };
        post.proj = back(&post.proj);
        post.cov_wt = back(&post.cov_wt);
        let half = back(&post.cov);
        let cov = back(&half.t().to_owned());
        post.cov = Array2::from_shape_fn((l, l), |(i, j)| 0.5 * (cov[[i, j]] + cov[[j, i]]));
        post.log_det_precision += root.log_det();
        post.w = w.to_owned();
        post.latent_precision = Some(precision);
        let finite = post.log_det_precision.is_finite()
            && post.cov.iter().all(|v| v.is_finite())
            && post.proj.iter().all(|v| v.is_finite());
        if !finite {
            return Err(PosteriorFailure::Loadings);
        }
        Ok(post)
    }

    /// [`FactorPosterior::with_row_cov`] under isotropic noise `σ̃² I`.
    pub fn isotropic_with_row_cov(
        w: ArrayView2<'_, f64>,
        var: f64,
        row_cov: ArrayView2<'_, f64>,
    ) -> Result<Self, PosteriorFailure> {
        Self::with_row_cov(w, isotropic(var, w.nrows()).view(), row_cov)
    }

    /// The posterior under isotropic noise `σ² I` (probabilistic PCA).
    pub fn isotropic(w: ArrayView2<'_, f64>, var: f64) -> Result<Self, PosteriorFailure> {
        Self::new(w, isotropic(var, w.nrows()).view())
    }

    /// Observed dimension `D`.
    pub fn dim(&self) -> usize {
        self.proj.ncols()
    }

    /// Latent dimension `L`.
    pub fn latent_dim(&self) -> usize {
        self.proj.nrows()
    }

    /// `G = Cov[h | x]` (the same for every row).
    pub fn posterior_cov(&self) -> ArrayView2<'_, f64> {
        self.cov.view()
    }

    /// `B`, with `E[h | x] = B (x − μ)`.
    pub fn projection(&self) -> ArrayView2<'_, f64> {
        self.proj.view()
    }

    /// `ln |W Wᵀ + Ψ|` (`ln |W P⁻¹ Wᵀ + Ψ|` with a latent precision `P`).
    pub fn log_det_marginal(&self) -> f64 {
        self.log_det_marginal
    }

    /// `ln |I + Wᵀ Ψ⁻¹ W|`, minus the log-determinant of the posterior covariance.
    pub fn log_det_precision(&self) -> f64 {
        self.log_det_precision
    }

    /// `E[h | x_b]` for every row of `x` (`rows × L`): the factor scores.
    pub fn posterior_means(
        &self,
        x: ArrayView2<'_, f64>,
        mean: ArrayView1<'_, f64>,
    ) -> Array2<f64> {
        let centred = &x - &mean;
        centred.dot(&self.proj.t())
    }
}

/// `σ² · 1_D`: isotropic noise as the diagonal the kernels take.
pub fn isotropic(var: f64, d: usize) -> Array1<f64> {
    Array1::from_elem(d, var)
}

/// Fills `h = B e = E[h | x]` (`L × m`, row-major) for the centred, transposed rows `e`
/// (`D × m`, row-major).
fn project(post: &FactorPosterior, e: &[f64], m: usize, h: &mut [f64]) {
    let (d, l) = (post.dim(), post.latent_dim());
    matmul(
        MatMut::from_row_major_slice_mut(h, l, m),
        Accum::Replace,
        as_faer(&post.proj.view()),
        MatRef::from_row_major_slice(e, d, m),
        1.0,
        Par::Seq,
    );
}

/// `eᵀ (W Wᵀ + Ψ)⁻¹ e` for the centred, transposed rows `e` (`D × m`, row-major; overwritten
/// with the residuals) given their posterior means `h` (`L × m`), added to `quad`. The form
/// `(e − W h)ᵀ Ψ⁻¹ (e − W h) + hᵀ h` (the minimum over `h` that defines the posterior mean)
/// adds two non-negative terms, where the Woodbury form `eᵀ Ψ⁻¹ e − uᵀ G u` subtracts two
/// large ones: with a small noise variance beside a large column the latter loses every digit
/// the ratio of their scales takes.
/// `e ← e − W h` for the centred, transposed rows `e` (`D × m`) and their posterior means `h`
/// (`L × m`), both row-major.
fn subtract_fitted(post: &FactorPosterior, e: &mut [f64], h: &[f64], m: usize) {
    let (d, l) = (post.dim(), post.latent_dim());
    matmul(
        MatMut::from_row_major_slice_mut(e, d, m),
        Accum::Add,
        as_faer(&post.w.view()),
        MatRef::from_row_major_slice(h, l, m),
        -1.0,
        Par::Seq,
    );
}

fn residual_quad(post: &FactorPosterior, e: &mut [f64], h: &[f64], m: usize, quad: &mut [f64]) {
    subtract_fitted(post, e, h, m);
    for (row, &pi) in e.chunks_exact(m).zip(post.psi_inv.iter()) {
        for (q, &v) in quad.iter_mut().zip(row) {
            *q += v * v * pi;
        }
    }
    match &post.latent_precision {
        None => {
            for hr in h.chunks_exact(m) {
                for (q, &b) in quad.iter_mut().zip(hr) {
                    *q += b * b;
                }
            }
        }
        // hᵀ P h under the latent prior N(0, P⁻¹).
        Some(p) => {
            for (i, hi) in h.chunks_exact(m).enumerate() {
                for (j, hj) in h.chunks_exact(m).enumerate() {
                    let pij = p[[i, j]];
                    for ((q, &a), &b) in quad.iter_mut().zip(hi).zip(hj) {
                        *q += pij * a * b;
                    }
                }
            }
        }
    }
}

/// Adds the marginal `ln N(x_b | μ, W Wᵀ + Ψ)` to `out[b]`: the quadratic form as the
/// residual's plus the posterior mean's (see `residual_quad`), the determinant by the lemma.
pub fn factor_add_log_density(
    x: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    post: &FactorPosterior,
    mut out: ArrayViewMut1<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    let l = post.latent_dim();
    let (e, rest) = ws.two(m * d, l * m + m);
    centred_transposed(&x, &mean, e);
    let (h, quad) = rest.split_at_mut(l * m);
    project(post, e, m, h);
    quad.fill(0.0);
    residual_quad(post, e, h, m, quad);
    let constant = -0.5 * (d as f64 * LN_2PI + post.log_det_marginal);
    for (o, &q) in out.iter_mut().zip(quad.iter()) {
        *o += constant - 0.5 * q.max(0.0);
    }
}

/// Adds the statistics of a block of rows weighted by `resp`: `s`, `q`, `s_h`, `C` and
/// `S_h` (see the module documentation), about `centre`, which must be the mean `post` was
/// prepared with.
pub fn accumulate_factor(
    x: ArrayView2<'_, f64>,
    centre: ArrayView1<'_, f64>,
    resp: ArrayView1<'_, f64>,
    post: &FactorPosterior,
    mut sum: ArrayViewMut1<'_, f64>,
    mut resid_sq: ArrayViewMut1<'_, f64>,
    mut h_sum: ArrayViewMut1<'_, f64>,
    mut cross: ArrayViewMut2<'_, f64>,
    mut h_scatter: ArrayViewMut2<'_, f64>,
    ws: &mut Workspace,
) {
    let (m, d) = x.dim();
    let l = post.latent_dim();
    let (e, rest) = ws.two(m * d, 2 * l * m + m);
    centred_transposed(&x, &centre, e);
    let (h, rest) = rest.split_at_mut(l * m);
    let (hr, r) = rest.split_at_mut(l * m);
    project(post, e, m, h);
    // The responsibilities, contiguous (a column of the block's `rows × K` buffer is strided).
    for (rv, &v) in r.iter_mut().zip(resp.iter()) {
        *rv = v;
    }
    let r = &*r;
    for (row, s) in e.chunks_exact(m).zip(sum.iter_mut()) {
        *s += row.iter().zip(r).map(|(&v, &w)| w * v).sum::<f64>();
    }
    // hr = E[h] scaled by the responsibilities, column by column.
    for ((out, row), s) in hr
        .chunks_exact_mut(m)
        .zip(h.chunks_exact(m))
        .zip(h_sum.iter_mut())
    {
        let mut acc = 0.0;
        for ((o, &v), &w) in out.iter_mut().zip(row).zip(r) {
            *o = w * v;
            acc += *o;
        }
        *s += acc;
    }
    let hr = MatRef::from_row_major_slice(hr, l, m);
    // S_h += (r ∘ E[h]) E[h]ᵀ + (Σ r) G
    matmul(
        as_faer_mut(&mut h_scatter),
        Accum::Add,
        hr,
        MatRef::from_row_major_slice(h, l, m).transpose(),
        1.0,
        Par::Seq,
    );
    let total: f64 = r.iter().sum();
    h_scatter.scaled_add(total, &post.cov);
    // The residuals under the current loadings, weighted and squared, plus the posterior
    // spread `w_iᵀ G w_i` of each.
    subtract_fitted(post, e, h, m);
    // C̃ += (r ∘ E[h]) (e − W E[h])ᵀ − (Σ r) G Wᵀ
    matmul(
        as_faer_mut(&mut cross),
        Accum::Add,
        hr,
        MatRef::from_row_major_slice(e, d, m).transpose(),
        1.0,
        Par::Seq,
    );
    cross.scaled_add(-total, &post.cov_wt);
    for ((row, q), &spread) in e
        .chunks_exact(m)
        .zip(resid_sq.iter_mut())
        .zip(post.spread.iter())
    {
        *q += row.iter().zip(r).map(|(&v, &w)| w * v * v).sum::<f64>() + total * spread;
    }
}

/// The whole E-step of a single linear-Gaussian component from the data's summaries — the row
/// count `n`, the column means `x̄` and a square root `R` of the scatter (`D × D`, rows `p_j`
/// with `Σ_j p_j p_jᵀ = S = Σ (x − x̄)(x − x̄)ᵀ`, from [`crate::kernels::moments::scatter_root`])
/// — instead of a pass over the rows: every statistic is linear in the first two moments of
/// the data. With `δ = x̄ − c`, the `D + 1` pseudo-rows `p_1 … p_D, √n δ` have the second
/// moment `E = S + n δ δᵀ = Σ (x − c)(x − c)ᵀ`; they go through the per-row E-step with unit
/// weights for the residual statistics `ρ` and `C̃ = Σ_j h_j ẽ_jᵀ − n G W°ᵀ` (with
/// `h_j = B p_j`, `ẽ_j = p_j − W° h_j`), `S_h = n G + B E Bᵀ` and the quadratic form
/// `tr((W Wᵀ + Ψ)⁻¹ E)` in its residual form (no cancellation between large terms, see
/// [`factor_add_log_density`]); `s = n δ` and `s_h = B s`. Adds them to the statistics
/// (which should be zero) and returns `Σ_n ln N(x_n | c, W Wᵀ + Ψ)`. `centre` must be the
/// mean `post` was prepared with. Each call costs `O(D² L)`, whatever `n`.
pub fn factor_summary_statistics(
    n: f64,
    data_mean: ArrayView1<'_, f64>,
    data_root: ArrayView2<'_, f64>,
    centre: ArrayView1<'_, f64>,
    post: &FactorPosterior,
    mut sum: ArrayViewMut1<'_, f64>,
    mut resid_sq: ArrayViewMut1<'_, f64>,
    mut h_sum: ArrayViewMut1<'_, f64>,
    mut cross: ArrayViewMut2<'_, f64>,
    mut h_scatter: ArrayViewMut2<'_, f64>,
) -> f64 {
    let d = post.dim();
    let l = post.latent_dim();
    let delta = &data_mean - &centre;
    let root_n = n.max(0.0).sqrt();
    // The pseudo-rows, transposed: column j of `e` (D × m, row-major) is p_j.
    let m = data_root.nrows() + 1;
    let mut e = vec![0.0; d * m];
    for i in 0..d {
        for (j, p) in data_root.rows().into_iter().enumerate() {
            e[i * m + j] = p[i];
        }
        e[i * m + m - 1] = root_n * delta[i];
    }
    let mut h = vec![0.0; l * m];
    project(post, &e, m, &mut h);
    let s = &delta * n;
    sum += &s;
    h_sum += &post.proj.dot(&s);
    let hm = MatRef::from_row_major_slice(&h, l, m);
    matmul(
        as_faer_mut(&mut h_scatter),
        Accum::Add,
        hm,
        hm.transpose(),
        1.0,
        Par::Seq,
    );
    h_scatter.scaled_add(n, &post.cov);
    let mut quad = vec![0.0; m];
    // `e` holds the pseudo-rows' residuals from here on.
    residual_quad(post, &mut e, &h, m, &mut quad);
    matmul(
        as_faer_mut(&mut cross),
        Accum::Add,
        hm,
        MatRef::from_row_major_slice(&e, d, m).transpose(),
        1.0,
        Par::Seq,
    );
    cross.scaled_add(-n, &post.cov_wt);
    for ((q, row), &spread) in resid_sq
        .iter_mut()
        .zip(e.chunks_exact(m))
        .zip(post.spread.iter())
    {
        *q += row.iter().map(|v| v * v).sum::<f64>() + n * spread;
    }
    let quad: f64 = quad.iter().sum();
    -0.5 * (n * (d as f64 * LN_2PI + post.log_det_marginal) + quad)
}

/// The M-step of the loadings, jointly with the mean, as a step from the loadings `W°` the
/// statistics were accumulated under: with `H = S_h − s_h s_hᵀ / n`, the mean residual
/// `s̃ = s − W° s_h` and `R̃ = C̃ − s_h s̃ᵀ / n`, `W = W° + R̃ᵀ H⁻¹` (a Cholesky solve) —
/// the least-squares solution `(C − s_h sᵀ / n)ᵀ H⁻¹` rewritten about `W°`, since the raw
/// cross moment is `C = C̃ + S_h W°ᵀ`. The step is formed from residuals, so it keeps its
/// digits when a column is large. The previous loadings when the component is empty or `H`
/// is not positive definite.
pub fn loadings_from_stats(
    prev: ArrayView2<'_, f64>,
    n: f64,
    sum: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
) -> Array2<f64> {
    if n.is_nan() || n <= 0.0 {
        return prev.to_owned();
    }
    loadings_step(prev, n, sum, h_sum, cross, h_scatter, 0.0)
}

/// `W° + ((H + α I)⁻¹ (R̃ − α W°ᵀ))ᵀ` for a component with rows (`n > 0`): the least-squares
/// loadings (`α = 0`) or their ridge; the previous loadings when the system is singular or the
/// step is not finite.
fn loadings_step(
    prev: ArrayView2<'_, f64>,
    n: f64,
    sum: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
    alpha: f64,
) -> Array2<f64> {
    let (l, d) = cross.dim();
    let h = Mat::from_fn(l, l, |i, j| {
        let ridge = if i == j { alpha } else { 0.0 };
        0.5 * (h_scatter[[i, j]] + h_scatter[[j, i]]) - h_sum[i] * h_sum[j] / n + ridge
    });
    // The mean residual under the old loadings, s̃ = s − W° s_h.
    let resid_sum = &sum - &prev.dot(&h_sum);
    let r = Mat::from_fn(l, d, |i, j| {
        cross[[i, j]] - h_sum[i] * resid_sum[j] / n - alpha * prev[[j, i]]
    });
    match h.llt(Side::Lower) {
        Ok(llt) => {
            let step = llt.solve(r.as_ref());
            let w = Array2::from_shape_fn((d, l), |(i, j)| prev[[i, j]] + step[(j, i)]);
            if w.iter().all(|v| v.is_finite()) {
                w
            } else {
                prev.to_owned()
            }
        }
        Err(_) => prev.to_owned(),
    }
}

/// The mode of the loadings, jointly with the mean, under the prior `w_d ~ N(0, ψ_d I / α)` on
/// every row (scaled by the row's noise variance): the ridge `W = Rᵀ (H + α I)⁻¹` with the
/// centred cross moment `R = C − s_h sᵀ / n`, taken as the step
/// `W = W° + ((H + α I)⁻¹ (R̃ − α W°ᵀ))ᵀ` from the loadings `W°` the statistics were
/// accumulated under (see [`loadings_from_stats`]). An empty component takes the prior's mode,
/// zero.
pub fn loadings_mode_from_stats(
    prev: ArrayView2<'_, f64>,
    n: f64,
    sum: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
    alpha: f64,
) -> Array2<f64> {
    if n.is_nan() || n <= 0.0 {
        let (l, d) = cross.dim();
        return Array2::zeros((d, l));
    }
    loadings_step(prev, n, sum, h_sum, cross, h_scatter, alpha)
}

/// `α Σ w²` over the loadings of each coordinate (the second-last axis of `w`; one
/// component's `D × L` loadings, or every component's `K × D × L` when they share the noise),
/// and how many loadings each coordinate has.
fn loading_deviations<Dm: Dimension>(
    w: ArrayView<'_, f64, Dm>,
    alpha: f64,
) -> (Array1<f64>, usize) {
    let w = w.into_dyn();
    let nd = w.ndim();
    let d = w.shape()[nd - 2];
    let mut dev = Array1::zeros(d);
    for (index, v) in w.indexed_iter() {
        dev[index[nd - 2]] += alpha * v * v;
    }
    (dev, w.len() / d.max(1))
}

/// The mode of the noise variances of a linear-Gaussian block under `ψ_d ~ IG(a, b)` and the
/// loadings' prior `w_d ~ N(0, ψ_d I / α)`: `(ρ_d + 2b + α Σ_l w_dl²) / (n + 2a + 2 + L)`, with
/// `ρ_d` the pooled expected squared residuals (and every component's loadings, `K L` rows,
/// when the components share the noise).
pub fn noise_variances_mode_with_loading_prior<'a, Dm: Dimension>(
    resid: ArrayView1<'_, f64>,
    count: f64,
    shape: f64,
    scale: impl Into<PerCoordinate<'a>>,
    w: ArrayView<'_, f64, Dm>,
    alpha: f64,
) -> Array1<f64> {
    let (dev, rows) = loading_deviations(w, alpha);
    let with = &resid + &dev;
    gaussian::variances_mode_from_scatter(with.view(), count + rows as f64, shape, scale)
}

/// The spherical form of [`noise_variances_mode_with_loading_prior`] (probabilistic PCA's
/// `s I`): `(ρ + 2b + α ‖W‖²) / (n + 2a + 2 + D L)`, `ρ` and `n` summed over the coordinates.
pub fn noise_variance_mode_with_loading_prior<Dm: Dimension>(
    resid: f64,
    count: f64,
    shape: f64,
    scale: f64,
    w: ArrayView<'_, f64, Dm>,
    alpha: f64,
) -> f64 {
    let values = w.len() as f64;
    let dev = alpha * w.iter().map(|v| v * v).sum::<f64>();
    gaussian::variance_mode_from_scatter(resid + dev, count + values, shape, scale)
}

/// `ln p(W) = Σ_d Σ_l ln N(w_dl | 0, ψ_d / α)`, the loadings' prior (`ψ` one variance per
/// coordinate, or one for all).
pub fn loadings_prior_log_density<'a>(
    w: ArrayView2<'_, f64>,
    alpha: f64,
    noise: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let noise = noise.into();
    w.rows()
        .into_iter()
        .enumerate()
        .map(|(d, row)| {
            let v = noise.at(d) / alpha;
            row.iter()
                .map(|&x| -0.5 * (LN_2PI + v.ln() + x * x / v))
                .sum::<f64>()
        })
        .sum()
}

/// The M-step of the mean given the new loadings: `μ = c + (s − W s_h) / n`; the centre
/// when the component is empty.
pub fn factor_mean_from_stats(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    n: f64,
    w: ArrayView2<'_, f64>,
) -> Array1<f64> {
    if n.is_nan() || n <= 0.0 {
        return centre.to_owned();
    }
    let wh = w.dot(&h_sum);
    let mut mean = centre.to_owned();
    for ((m, &s), &v) in mean.iter_mut().zip(sum.iter()).zip(wh.iter()) {
        *m += (s - v) / n;
    }
    mean
}

/// The expected squared residuals `Σ r E[(e − W' h − (μ' − c))²]`, per coordinate, under the
/// posterior the statistics were accumulated with (loadings `W`, mean `c`), at new loadings
/// `W'` and mean `μ'`: the noise M-step pools these. Expanded about the residual statistic
/// `ρ_i = Σ r E[(e_i − w_iᵀ h)²]` with `Δ = W' − W` and `a = μ' − c`, coordinate `i` is
/// `ρ_i − 2 Δ_iᵀ C̃_:,i + Δ_iᵀ S_h Δ_i − 2 a_i (s_i − w'_iᵀ s_h) + n a_i²`, with the residual
/// cross statistic `C̃`. Every term that cancels is as large as the step `Δ`, `a` times a
/// residual — not `Σ r e_i²`, nor the loadings times `C` (which is as large as the column and
/// grows with the rotation the loadings are free to make) — so the residual keeps its digits
/// when the noise is small beside a large column.
pub fn factor_residual(
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    resid_sq: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
    n: f64,
    w: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    w_before: ArrayView2<'_, f64>,
) -> Array1<f64> {
    let d = sum.len();
    // Every coordinate's `Δ_i = w_i − w°_i` and `S_h Δ_i` at once, as the rows of `Δ` and of
    // one product `Δ S_hᵀ`: with a matrix-vector product per coordinate, this function's two
    // calls per iteration (the M-step's and its check's) took about a fifth of factor
    // analysis's iteration, which runs on `D × D` summaries.
    let delta = &w - &w_before;
    let moved = delta.dot(&h_scatter.t());
    Array1::from_shape_fn(d, |i| {
        let (delta, moved) = (delta.row(i), moved.row(i));
        let a = mean[i] - centre[i];
        let value = resid_sq[i] - 2.0 * delta.dot(&cross.column(i)) + delta.dot(&moved)
            - 2.0 * a * (sum[i] - w.row(i).dot(&h_sum))
            + n * a * a;
        value.max(0.0)
    })
}

/// `E_q[Σ_n r_n (ln N(x_n | W h_n + μ, Ψ) + ln N(h_n | 0, I))] + Σ_n r_n H(q(h_n))` from
/// statistics, where `q(h | x)` is the posterior under the parameters the statistics were
/// accumulated with (`log_det_precision_at_centre` is its `ln |M|`).
pub fn factor_expected(
    n: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    resid_sq: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    psi: ArrayView1<'_, f64>,
    log_det_precision_at_centre: f64,
    w_at_centre: ArrayView2<'_, f64>,
) -> f64 {
    let resid = factor_residual(
        centre,
        sum,
        resid_sq,
        h_sum,
        cross,
        h_scatter,
        n,
        w,
        mean,
        w_at_centre,
    );
    let d = psi.len() as f64;
    let l = h_sum.len() as f64;
    let log_det: f64 = psi.iter().map(|v| v.ln()).sum();
    let quad: f64 = resid.iter().zip(psi.iter()).map(|(r, v)| r / v).sum();
    let trace: f64 = h_scatter.diag().sum();
    let emission = -0.5 * (n * (d * LN_2PI + log_det) + quad);
    // E[ln N(h | 0, I)] + H(N(E[h], G)) = L/2 − E[hᵀh]/2 − ln|M|/2 per unit weight.
    let latent = 0.5 * (n * l - trace - n * log_det_precision_at_centre);
    emission + latent
}

// ---------------------------------------------------------------------------------------
// Variational Bayes: the normal-inverse-Gamma posterior of the loadings and the noise
//
// Under the priors `w_d | ψ_d ~ N(0, ψ_d I / α)` and `ψ_d ~ IG(a0, b0)`, and a point mean
// `μ`, the posterior given `q(h)` is `w_d | ψ_d ~ N(m_d, ψ_d V)`, `ψ_d ~ IG(a, b_d)` with
// `V = (α I + S_h)⁻¹` (shared by the coordinates), `m_d` the ridge of
// [`loadings_mode_from_stats`], `a = a0 + n / 2` and `b_d = b0 + ½ (ρ_d + α ‖m_d‖²)` (`ρ_d`
// the expected squared residual at `(M, μ)`, [`factor_residual`]). The slots keep `M`, `V`,
// `ψ̃ = b / a` (`E[1 / ψ]⁻¹`) and `a`.

/// `V = (α I + S_h)⁻¹`: the covariance factor of every row of the loadings' posterior
/// (`Cov[w_d | ψ_d] = ψ_d V`), from the latent's second moment `S_h = Σ r E[h hᵀ]`. An
/// empty component has the prior's, `I / α`. Not finite when `S_h` is not.
pub fn loadings_row_cov(h_scatter: ArrayView2<'_, f64>, alpha: f64) -> Array2<f64> {
    let l = h_scatter.nrows();
    let a = Mat::from_fn(l, l, |i, j| {
        let ridge = if i == j { alpha } else { 0.0 };
        0.5 * (h_scatter[[i, j]] + h_scatter[[j, i]]) + ridge
    });
    match a.llt(Side::Lower) {
        Ok(llt) => {
            let inv = llt.inverse();
            Array2::from_shape_fn((l, l), |(i, j)| 0.5 * (inv[(i, j)] + inv[(j, i)]))
        }
        Err(_) => Array2::from_elem((l, l), f64::NAN),
    }
}

/// `−½ ln |I + D V|`: a linear-Gaussian block's offset under the loadings' posterior (the
/// expected emission's `−½ D hᵀ V h` moves into the latent's prior precision, see
/// [`FactorPosterior::with_row_cov`]; this is the normaliser it leaves behind).
pub fn loadings_offset(w: ArrayView2<'_, f64>, row_cov: ArrayView2<'_, f64>) -> f64 {
    let (d, l) = w.dim();
    let precision = Array2::from_shape_fn((l, l), |(i, j)| {
        let identity = if i == j { 1.0 } else { 0.0 };
        identity + d as f64 * 0.5 * (row_cov[[i, j]] + row_cov[[j, i]])
    });
    Cholesky::new(precision.view()).map_or(f64::NEG_INFINITY, |c| -0.5 * c.log_det())
}

/// `E_q(ψ)[KL(N(m_d, ψ_d V) ‖ N(0, ψ_d I / α))]` summed over the coordinates:
/// `½ Σ_d (α tr V + α ‖m_d‖² / ψ̃_d − L − L ln α − ln |V|)`, `1 / ψ̃_d = E[1 / ψ_d]` (one
/// variance for every coordinate, or one each); `+∞` when `V` is not positive definite.
pub fn loadings_kl<'a>(
    w: ArrayView2<'_, f64>,
    row_cov: ArrayView2<'_, f64>,
    alpha: f64,
    noise: impl Into<PerCoordinate<'a>>,
) -> f64 {
    let Some(chol) = Cholesky::new(row_cov) else {
        return f64::INFINITY;
    };
    let noise = noise.into();
    let l = row_cov.nrows() as f64;
    let per_row = alpha * row_cov.diag().sum() - l - l * alpha.ln() - chol.log_det();
    w.rows()
        .into_iter()
        .enumerate()
        .map(|(d, m)| 0.5 * (per_row + alpha * m.dot(&m) / noise.at(d)))
        .sum()
}

/// The noise's posterior `ψ̃_d = b_d / a` under `ψ_d ~ IG(a0, b0)` and the loadings' prior
/// `w_d ~ N(0, ψ_d I / α)`: `(ρ_d + α ‖m_d‖² + 2 b0) / (n + 2 a0)`, `ρ_d` the pooled expected
/// squared residuals at the new loadings' means (and every component's loadings when the
/// components share the noise). Unlike the mode
/// ([`noise_variances_mode_with_loading_prior`]) the `L` rows of the loadings add nothing to
/// the count: they are integrated out.
pub fn noise_variances_posterior_with_loading_prior<'a, Dm: Dimension>(
    resid: ArrayView1<'_, f64>,
    count: f64,
    shape: f64,
    scale: impl Into<PerCoordinate<'a>>,
    w: ArrayView<'_, f64, Dm>,
    alpha: f64,
) -> Array1<f64> {
    let (dev, _) = loading_deviations(w, alpha);
    let with = &resid + &dev;
    vb::variances_posterior(with.view(), count, shape, scale)
}

/// The spherical form of [`noise_variances_posterior_with_loading_prior`] (probabilistic
/// PCA's `s I`): `(ρ + α ‖M‖² + 2 b0) / (n + 2 a0)`, `ρ` and `n` summed over the coordinates.
pub fn noise_variance_posterior_with_loading_prior<Dm: Dimension>(
    resid: f64,
    count: f64,
    shape: f64,
    scale: f64,
    w: ArrayView<'_, f64, Dm>,
    alpha: f64,
) -> f64 {
    let dev = alpha * w.iter().map(|v| v * v).sum::<f64>();
    vb::variance_posterior(resid + dev, count, shape, scale)
}

/// [`factor_expected`] under the loadings' posterior `q(W, Ψ)`: `w`, `psi` the posterior's
/// means and effective variances, `row_cov` its `V`. The expected emission adds
/// `−½ D tr(V S_h)`; written as the latent's prior precision `P = I + D V` it is
/// `½ n ln |P| − ½ tr((P − I) S_h)`, the `½ n ln |P|` cancelling the block's offset
/// ([`loadings_offset`]) that the caller adds per row. `log_det_precision_at_centre` is
/// `ln |P° + M°ᵀ Ψ̃°⁻¹ M°|` of the posterior the statistics were accumulated under.
pub fn factor_expected_with_row_cov(
    n: f64,
    centre: ArrayView1<'_, f64>,
    sum: ArrayView1<'_, f64>,
    resid_sq: ArrayView1<'_, f64>,
    h_sum: ArrayView1<'_, f64>,
    cross: ArrayView2<'_, f64>,
    h_scatter: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    mean: ArrayView1<'_, f64>,
    psi: ArrayView1<'_, f64>,
    log_det_precision_at_centre: f64,
    w_at_centre: ArrayView2<'_, f64>,
    row_cov: ArrayView2<'_, f64>,
) -> f64 {
    let point = factor_expected(
        n,
        centre,
        sum,
        resid_sq,
        h_sum,
        cross,
        h_scatter,
        w,
        mean,
        psi,
        log_det_precision_at_centre,
        w_at_centre,
    );
    let d = psi.len() as f64;
    let spread: f64 = (row_cov.t().to_owned() * h_scatter).sum();
    point - n * loadings_offset(w, row_cov) - 0.5 * d * spread
}

/// Starting loadings: independent `N(0, scale_i² / L)` entries, so that `W Wᵀ` starts at the
/// scale of the data's variances.
pub fn random_loadings(rng: &mut dyn RngCore, scale: ArrayView1<'_, f64>, l: usize) -> Array2<f64> {
    let per = 1.0 / (l.max(1) as f64).sqrt();
    Array2::from_shape_fn((scale.len(), l), |(i, _)| {
        let z: f64 = StandardNormal.sample(rng);
        z * scale[i] * per
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use nalgebra::{DMatrix, DVector};
    use ndarray::{array, Array1};

    fn fixture() -> (Array2<f64>, Array1<f64>, Array1<f64>, Array2<f64>) {
        let w = array![[1.0, 0.2], [0.5, -0.7], [-0.3, 0.4], [0.8, 0.1]];
        let psi = array![0.5, 0.3, 0.9, 0.2];
        let mu = array![0.1, -0.2, 0.3, 0.0];
        let x = array![
            [0.3, 0.1, -0.5, 1.0],
            [1.5, -0.2, 0.3, 0.2],
            [-0.7, 0.9, 0.4, -1.1],
            [0.0, 0.0, 0.0, 0.0],
            [2.0, -1.0, 0.5, 0.7],
        ];
        (w, psi, mu, x)
    }

    fn dense(w: &Array2<f64>, psi: &Array1<f64>) -> DMatrix<f64> {
        let (d, l) = w.dim();
        let wm = DMatrix::from_fn(d, l, |i, j| w[[i, j]]);
        &wm * wm.transpose()
            + DMatrix::from_diagonal(&DVector::from_iterator(d, psi.iter().copied()))
    }

    #[test]
    fn marginal_density_matches_the_dense_covariance() {
        let (w, psi, mu, x) = fixture();
        let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
        let mut out = Array1::zeros(x.nrows());
        factor_add_log_density(
            x.view(),
            mu.view(),
            &post,
            out.view_mut(),
            &mut Workspace::default(),
        );
        let c = dense(&w, &psi);
        let inv = c.clone().try_inverse().unwrap();
        for (b, row) in x.rows().into_iter().enumerate() {
            let e = DVector::from_iterator(4, row.iter().zip(mu.iter()).map(|(a, m)| a - m));
            let q = (e.transpose() * &inv * &e)[(0, 0)];
            let expect = -0.5 * (4.0 * LN_2PI + c.determinant().ln() + q);
            assert_relative_eq!(out[b], expect, epsilon = 1e-12);
        }
    }

    #[test]
    fn posterior_moments_match_the_gaussian_conditional() {
        let (w, psi, mu, x) = fixture();
        let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
        // Cov[h | x] = I − Wᵀ C⁻¹ W and E[h | x] = Wᵀ C⁻¹ (x − μ).
        let c = dense(&w, &psi);
        let inv = c.try_inverse().unwrap();
        let wm = DMatrix::from_fn(4, 2, |i, j| w[[i, j]]);
        let g = DMatrix::identity(2, 2) - wm.transpose() * &inv * &wm;
        for i in 0..2 {
            for j in 0..2 {
                assert_relative_eq!(post.posterior_cov()[[i, j]], g[(i, j)], epsilon = 1e-12);
            }
        }
        let means = post.posterior_means(x.view(), mu.view());
        for (b, row) in x.rows().into_iter().enumerate() {
            let e = DVector::from_iterator(4, row.iter().zip(mu.iter()).map(|(a, m)| a - m));
            let h = wm.transpose() * &inv * e;
            for j in 0..2 {
                assert_relative_eq!(means[[b, j]], h[j], epsilon = 1e-12);
            }
        }
        assert_relative_eq!(
            post.log_det_precision(),
            -g.determinant().ln(),
            epsilon = 1e-12
        );
    }

    /// Loadings tiny to large beside the noise (`W 2^k`: whitened loadings where faer's
    /// column norms would meet subnormal squares, which `FactorPosterior::new` scales away):
    /// the posterior is still the Gaussian conditional's, and in other units (`W c`, `Ψ c²`)
    /// it is the same, `B` over `c`.
    #[test]
    fn the_posterior_holds_at_every_scale_of_the_loadings() {
        let (w, psi, _, _) = fixture();
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1e-300);
        for k in [-500, -200, -30, -1, 0, 1] {
            let w = &w * 2f64.powi(k);
            let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
            let c = dense(&w, &psi);
            let inv = c.try_inverse().unwrap();
            let wm = DMatrix::from_fn(4, 2, |i, j| w[[i, j]]);
            let b = wm.transpose() * &inv;
            let g = DMatrix::identity(2, 2) - &b * &wm;
            for i in 0..2 {
                for j in 0..2 {
                    let (a, e) = (post.posterior_cov()[[i, j]], g[(i, j)]);
                    assert!((a - e).abs() <= 1e-12, "2^{k}: G {a} against {e}");
                }
                for j in 0..4 {
                    let (a, e) = (post.projection()[[i, j]], b[(i, j)]);
                    assert!(close(a, e, 1e-10), "2^{k}: B {a} against {e}");
                }
            }
            for u in [2f64.powi(-300), 2f64.powi(300)] {
                let other = FactorPosterior::new((&w * u).view(), (&psi * (u * u)).view()).unwrap();
                for (a, e) in other.cov.iter().zip(&post.cov) {
                    assert!(close(*a, *e, 1e-14), "2^{k}: G {a} against {e}");
                }
                for (a, e) in other.proj.iter().zip(&post.proj) {
                    assert!(close(a * u, *e, 1e-14), "2^{k}: B {a} against {e}");
                }
            }
        }
    }

    #[test]
    fn statistics_are_the_weighted_posterior_moments() {
        let (w, psi, mu, x) = fixture();
        let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
        let r = array![0.2, 1.0, 0.5, 0.0, 0.9];
        let (mut s, mut q, mut sh) = (Array1::zeros(4), Array1::zeros(4), Array1::zeros(2));
        let (mut c, mut shh) = (Array2::zeros((2, 4)), Array2::zeros((2, 2)));
        // Two calls over a split of the rows equal one over all of them.
        let mut ws = Workspace::default();
        for rows in [0..2, 2..5] {
            accumulate_factor(
                x.slice(ndarray::s![rows.clone(), ..]),
                mu.view(),
                r.slice(ndarray::s![rows]),
                &post,
                s.view_mut(),
                q.view_mut(),
                sh.view_mut(),
                c.view_mut(),
                shh.view_mut(),
                &mut ws,
            );
        }
        let h = post.posterior_means(x.view(), mu.view());
        let e = &x - &mu;
        let mut expect_shh = post.posterior_cov().to_owned() * r.sum();
        for b in 0..5 {
            for i in 0..2 {
                for j in 0..2 {
                    expect_shh[[i, j]] += r[b] * h[[b, i]] * h[[b, j]];
                }
                for j in 0..4 {
                    assert!(c[[i, j]].is_finite());
                }
            }
        }
        // The residual cross statistic: Σ r E[h (e − W h)ᵀ] = Σ r E[h] (e − W E[h])ᵀ − (Σ r) G Wᵀ.
        let resid = &e - &h.dot(&w.t());
        let expect_c = h
            .t()
            .dot(&(&resid * &r.view().insert_axis(ndarray::Axis(1))))
            - post.posterior_cov().dot(&w.t()) * r.sum();
        for (a, b) in c.iter().zip(expect_c.iter()) {
            assert_relative_eq!(a, b, epsilon = 1e-12);
        }
        for (a, b) in shh.iter().zip(expect_shh.iter()) {
            assert_relative_eq!(a, b, epsilon = 1e-12);
        }
        assert_relative_eq!(
            s[1],
            (0..5).map(|b| r[b] * e[[b, 1]]).sum::<f64>(),
            epsilon = 1e-12
        );
        // The residual statistic: Σ r ((e − W E[h])_i² + w_iᵀ G w_i).
        let wi = w.row(2);
        let spread = wi.dot(&post.posterior_cov().dot(&wi));
        assert_relative_eq!(
            q[2],
            (0..5)
                .map(|b| r[b] * ((e[[b, 2]] - wi.dot(&h.row(b))).powi(2) + spread))
                .sum::<f64>(),
            epsilon = 1e-12
        );
    }

    #[test]
    fn one_em_step_does_not_decrease_the_likelihood_and_the_elbo_is_tight() {
        let (w, psi, mu, x) = fixture();
        let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
        let r = Array1::ones(5);
        let (mut s, mut q, mut sh) = (Array1::zeros(4), Array1::zeros(4), Array1::zeros(2));
        let (mut c, mut shh) = (Array2::zeros((2, 4)), Array2::zeros((2, 2)));
        accumulate_factor(
            x.view(),
            mu.view(),
            r.view(),
            &post,
            s.view_mut(),
            q.view_mut(),
            sh.view_mut(),
            c.view_mut(),
            shh.view_mut(),
            &mut Workspace::default(),
        );
        let loglik = |w: &Array2<f64>, psi: &Array1<f64>, mu: &Array1<f64>| {
            let p = FactorPosterior::new(w.view(), psi.view()).unwrap();
            let mut out = Array1::zeros(5);
            factor_add_log_density(
                x.view(),
                mu.view(),
                &p,
                out.view_mut(),
                &mut Workspace::default(),
            );
            out.sum()
        };
        let before = loglik(&w, &psi, &mu);
        let tight = factor_expected(
            5.0,
            mu.view(),
            s.view(),
            q.view(),
            sh.view(),
            c.view(),
            shh.view(),
            w.view(),
            mu.view(),
            psi.view(),
            post.log_det_precision(),
            w.view(),
        );
        assert_relative_eq!(tight, before, epsilon = 1e-10);
        let w1 = loadings_from_stats(w.view(), 5.0, s.view(), sh.view(), c.view(), shh.view());
        let mu1 = factor_mean_from_stats(mu.view(), s.view(), sh.view(), 5.0, w1.view());
        let resid = factor_residual(
            mu.view(),
            s.view(),
            q.view(),
            sh.view(),
            c.view(),
            shh.view(),
            5.0,
            w1.view(),
            mu1.view(),
            w.view(),
        );
        let psi1 = resid / 5.0;
        let bound = factor_expected(
            5.0,
            mu.view(),
            s.view(),
            q.view(),
            sh.view(),
            c.view(),
            shh.view(),
            w1.view(),
            mu1.view(),
            psi1.view(),
            post.log_det_precision(),
            w.view(),
        );
        assert!(
            bound >= before - 1e-12,
            "M-step lowered the bound: {bound} < {before}"
        );
        assert!(loglik(&w1, &psi1, &mu1) >= bound - 1e-10);
    }

    /// A loadings' posterior row covariance factor `V` for the tests.
    fn row_cov() -> Array2<f64> {
        array![[0.04, 0.01], [0.01, 0.02]]
    }

    #[test]
    fn variational_posterior_matches_the_dense_forms() {
        let (w, psi, mu, x) = fixture();
        let v = row_cov();
        let post = FactorPosterior::with_row_cov(w.view(), psi.view(), v.view()).unwrap();
        let (d, l) = w.dim();
        let wm = DMatrix::from_fn(d, l, |i, j| w[[i, j]]);
        let psi_inv =
            DMatrix::from_diagonal(&DVector::from_iterator(d, psi.iter().map(|v| 1.0 / v)));
        let p = DMatrix::identity(l, l) + DMatrix::from_fn(l, l, |i, j| d as f64 * v[[i, j]]);
        let precision = &p + wm.transpose() * &psi_inv * &wm;
        let g = precision.clone().try_inverse().unwrap();
        let b = &g * wm.transpose() * &psi_inv;
        for i in 0..l {
            for j in 0..l {
                assert_relative_eq!(post.posterior_cov()[[i, j]], g[(i, j)], epsilon = 1e-12);
            }
            for j in 0..d {
                assert_relative_eq!(post.projection()[[i, j]], b[(i, j)], epsilon = 1e-12);
            }
        }
        assert_relative_eq!(
            post.log_det_precision(),
            precision.determinant().ln(),
            epsilon = 1e-12
        );
        // The rows' density is the marginal under the latent prior N(0, P⁻¹).
        let cov = &wm * p.try_inverse().unwrap() * wm.transpose()
            + DMatrix::from_diagonal(&DVector::from_iterator(d, psi.iter().copied()));
        let mut out = Array1::zeros(x.nrows());
        factor_add_log_density(
            x.view(),
            mu.view(),
            &post,
            out.view_mut(),
            &mut Workspace::default(),
        );
        let inv = cov.clone().try_inverse().unwrap();
        for (r, row) in x.rows().into_iter().enumerate() {
            let e = DVector::from_iterator(d, row.iter().zip(mu.iter()).map(|(a, b)| a - b));
            let expect = -0.5
                * (d as f64 * LN_2PI
                    + cov.determinant().ln()
                    + (e.transpose() * &inv * &e)[(0, 0)]);
            assert_relative_eq!(out[r], expect, epsilon = 1e-12);
        }
        // V = 0 is the point posterior.
        let zero =
            FactorPosterior::with_row_cov(w.view(), psi.view(), Array2::zeros((2, 2)).view())
                .unwrap();
        let plain = FactorPosterior::new(w.view(), psi.view()).unwrap();
        assert_eq!(zero.projection(), plain.projection());
        assert!(FactorPosterior::with_row_cov(
            w.view(),
            psi.view(),
            array![[f64::NAN, 0.0], [0.0, 1.0]].view()
        )
        .is_err());
        assert!(FactorPosterior::with_row_cov(
            w.view(),
            psi.view(),
            array![[-1.0, 0.0], [0.0, 1.0]].view()
        )
        .is_err());
    }

    #[test]
    fn variational_expected_log_joint_is_tight_after_the_e_step() {
        // At the posterior's own q(h), E_q[ln p(x, h)] + H[q(h)] equals Σ_n ln Z_n, the
        // rows' marginal under N(0, P⁻¹) plus the offset −½ ln |P| each.
        let (w, psi, mu, x) = fixture();
        let v = row_cov();
        let post = FactorPosterior::with_row_cov(w.view(), psi.view(), v.view()).unwrap();
        let r = Array1::ones(5);
        let (mut s, mut q, mut sh) = (Array1::zeros(4), Array1::zeros(4), Array1::zeros(2));
        let (mut c, mut shh) = (Array2::zeros((2, 4)), Array2::zeros((2, 2)));
        accumulate_factor(
            x.view(),
            mu.view(),
            r.view(),
            &post,
            s.view_mut(),
            q.view_mut(),
            sh.view_mut(),
            c.view_mut(),
            shh.view_mut(),
            &mut Workspace::default(),
        );
        let mut out = Array1::zeros(5);
        factor_add_log_density(
            x.view(),
            mu.view(),
            &post,
            out.view_mut(),
            &mut Workspace::default(),
        );
        let expected = factor_expected_with_row_cov(
            5.0,
            mu.view(),
            s.view(),
            q.view(),
            sh.view(),
            c.view(),
            shh.view(),
            w.view(),
            mu.view(),
            psi.view(),
            post.log_det_precision(),
            w.view(),
            v.view(),
        );
        assert_relative_eq!(expected, out.sum(), epsilon = 1e-10);
        // The same bound written out term by term: E[ln N(x | W h + μ, Ψ)] under q(W) adds
        // −½ D tr(V S_h) to the point emission; E[ln N(h | 0, I)] + H[q(h)].
        let d = 4.0;
        let resid = factor_residual(
            mu.view(),
            s.view(),
            q.view(),
            sh.view(),
            c.view(),
            shh.view(),
            5.0,
            w.view(),
            mu.view(),
            w.view(),
        );
        let emission = -0.5
            * (5.0 * (d * LN_2PI + psi.iter().map(|v| v.ln()).sum::<f64>())
                + resid
                    .iter()
                    .zip(psi.iter())
                    .map(|(r, v)| r / v)
                    .sum::<f64>())
            - 0.5 * d * (&v * &shh).sum();
        let latent = -0.5 * shh.diag().sum() + 0.5 * 5.0 * (2.0 - post.log_det_precision());
        assert_relative_eq!(
            emission + latent,
            out.sum() + 5.0 * loadings_offset(w.view(), v.view()),
            epsilon = 1e-10
        );
    }

    #[test]
    fn loadings_kl_is_the_gaussian_divergence_and_zero_at_the_prior() {
        let (w, psi, _, _) = fixture();
        let v = row_cov();
        let alpha = 2.0;
        let (d, l) = w.dim();
        // KL(N(m, ψ V) ‖ N(0, ψ I / α)) is linear in 1 / ψ: its expectation is its value at
        // 1 / ψ̃.
        let dense: f64 = (0..d)
            .map(|i| {
                let s0 = DMatrix::from_fn(l, l, |a, b| psi[i] * v[[a, b]]);
                let s1 = DMatrix::identity(l, l) * (psi[i] / alpha);
                let m = DVector::from_iterator(l, w.row(i).iter().copied());
                let s1_inv = s1.clone().try_inverse().unwrap();
                0.5 * ((&s1_inv * &s0).trace() + (m.transpose() * &s1_inv * &m)[(0, 0)] - l as f64
                    + (s1.determinant() / s0.determinant()).ln())
            })
            .sum();
        assert_relative_eq!(
            loadings_kl(w.view(), v.view(), alpha, psi.view()),
            dense,
            epsilon = 1e-12
        );
        let prior = Array2::eye(l) / alpha;
        assert_relative_eq!(
            loadings_kl(Array2::zeros((d, l)).view(), prior.view(), alpha, 0.7),
            0.0,
            epsilon = 1e-14
        );
        assert_eq!(
            loadings_kl(w.view(), Array2::zeros((l, l)).view(), alpha, 0.7),
            f64::INFINITY
        );
        // V is the inverse of α I + S_h; the prior's when the component is empty.
        let sh = array![[3.0, 0.5], [0.5, 2.0]];
        let vv = loadings_row_cov(sh.view(), alpha);
        let back = (&sh + &(Array2::<f64>::eye(2) * alpha)).dot(&vv);
        for (a, b) in back.iter().zip(Array2::<f64>::eye(2).iter()) {
            assert_relative_eq!(*a, *b, epsilon = 1e-12);
        }
        let empty = loadings_row_cov(Array2::zeros((2, 2)).view(), alpha);
        for (a, b) in empty.iter().zip(prior.iter()) {
            assert_relative_eq!(*a, *b, epsilon = 1e-15);
        }
    }

    #[test]
    fn summaries_give_the_statistics_and_likelihood_of_the_rows() {
        let (w, psi, mu, x) = fixture();
        let post = FactorPosterior::new(w.view(), psi.view()).unwrap();
        let ones = Array1::ones(5);
        let zeros = || {
            (
                Array1::zeros(4),
                Array1::zeros(4),
                Array1::zeros(2),
                Array2::zeros((2, 4)),
                Array2::zeros((2, 2)),
            )
        };
        let (mut s, mut q, mut sh, mut c, mut shh) = zeros();
        accumulate_factor(
            x.view(),
            mu.view(),
            ones.view(),
            &post,
            s.view_mut(),
            q.view_mut(),
            sh.view_mut(),
            c.view_mut(),
            shh.view_mut(),
            &mut Workspace::default(),
        );
        let mut ll = Array1::zeros(5);
        factor_add_log_density(
            x.view(),
            mu.view(),
            &post,
            ll.view_mut(),
            &mut Workspace::default(),
        );
        let (mut s2, mut q2, mut sh2, mut c2, mut shh2) = zeros();
        let total = factor_summary_statistics(
            5.0,
            crate::kernels::moments::column_means(x.view()).view(),
            crate::kernels::moments::scatter_root(x.view()).view(),
            mu.view(),
            &post,
            s2.view_mut(),
            q2.view_mut(),
            sh2.view_mut(),
            c2.view_mut(),
            shh2.view_mut(),
        );
        assert_relative_eq!(total, ll.sum(), epsilon = 1e-12);
        for (a, b) in [(&s, &s2), (&q, &q2), (&sh, &sh2)] {
            for (u, v) in a.iter().zip(b.iter()) {
                assert_relative_eq!(u, v, epsilon = 1e-12);
            }
        }
        for (a, b) in [(&c, &c2), (&shh, &shh2)] {
            for (u, v) in a.iter().zip(b.iter()) {
                assert_relative_eq!(u, v, epsilon = 1e-12);
            }
        }
    }

    #[test]
    fn rejects_bad_noise() {
        let (w, _, _, _) = fixture();
        let noise = Err(PosteriorFailure::Noise);
        assert_eq!(
            FactorPosterior::new(w.view(), array![1.0, 0.0, 1.0, 1.0].view()).map(|_| ()),
            noise
        );
        assert_eq!(
            FactorPosterior::new(w.view(), array![1.0, f64::NAN, 1.0, 1.0].view()).map(|_| ()),
            noise
        );
        let huge = w.mapv(|v| v * 1e200);
        assert_eq!(
            FactorPosterior::isotropic(huge.view(), 1.0).map(|_| ()),
            Err(PosteriorFailure::Loadings)
        );
        assert!(FactorPosterior::isotropic(w.view(), 0.5).is_ok());
    }
}
