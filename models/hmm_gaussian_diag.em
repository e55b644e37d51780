// Gaussian hidden Markov model with diagonal covariances (data/geyser.csv).
model hmm_gaussian_diag
const K: int = 3
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], diag(v[z[t]]))
