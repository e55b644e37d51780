// A mixture of linear regressions (issue 11, item 4) on the Fiji earthquakes: the depth of
// each event against its latitude and longitude, one plane per component, each with its own
// coefficients, intercept and residual variance. The subducting slab dips westward (depth
// falls by about 100 km per degree of longitude), the shallow events do not. The M-step is
// weighted least squares per component, solved by a Cholesky factor of the design's weighted
// scatter; the variance is the weighted mean squared residual.
model regression_quakes
const K: int = 3
data   u[N]: vector[P] from (lat, long)
data   depth[N]: real
param  w: simplex[K]
param  beta[K]: vector[P]
param  c[K]: real
param  s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
depth[n] ~ Normal(dot(beta[z[n]], u[n]) + c[z[n]], s[z[n]])
