model io_hmm
const K: int = 2
data   x[T]: vector[D]
data   u[T]: 0..K
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[u[t]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
