// Gaussian mixture with diagonal covariances: a positive vector per component, used as diag(...).
model gmm_diag
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
