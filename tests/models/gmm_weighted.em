// models/gmm.em with a weight per row: the differential test of weights (tests/tests/weights.rs).
model gmm_weighted
const K: int = 2
data   x[N]: vector[D]
data   weight[N]: weight
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
