// A mixture of multivariate regressions (issue 11, item 4) on the Fiji earthquakes: each
// event's epicentre (latitude, longitude) against its depth, one line in the plane per
// component, each with its own 2 × 1 coefficient matrix, intercept and full residual
// covariance. The two components are the two subduction zones: Tonga–Kermadec in the east,
// whose slab dips west (deeper events lie further west), and the New Hebrides in the west,
// whose slab dips east. The M-step is weighted least squares for both coordinates on one
// design (a Cholesky factor of its weighted scatter per component), the covariance the
// weighted scatter of the residuals about the new coefficients.
model regression_quakes_mv
const K: int = 2
data   x[N]: vector[D] from (lat, long)
data   u[N]: vector[P] from (depth)
param  w: simplex[K]
param  B[K]: matrix[D, P]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(B[z[n]] * u[n] + mu[z[n]], Sigma[z[n]])
