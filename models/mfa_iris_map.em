// A mixture of factor analysers of the iris measurements (models/mfa_iris.em) fitted by
// MAP-EM: every component's loadings have the prior `W[k]_d ~ N(0, psi_d I / 1)` scaled by the
// noise the components share, whose update adds every component's `‖W[k]_d‖²` and K L rows;
// `psi_d ~ IG(1, 0.01 var(x_d))`.
model mfa_iris_map
const K: int = 3
const L: int = 1
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  w: simplex[K]
param  W[K]: matrix[D, L]
param  mu[K]: vector[D]
param  psi: positive[D]
latent z[N]: 0..K
latent h[N]: vector[L]
z[n] ~ Categorical(w)
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W[z[n]] * h[n] + mu[z[n]], diag(psi))
W[k] ~ Normal(0.0, psi / 1.0)
psi ~ InvGamma(1.0, 0.01 * var(x))
