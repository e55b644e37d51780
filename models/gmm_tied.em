// Gaussian mixture with one covariance shared by all components (declared without [K]).
model gmm_tied
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma)
