model hmm2
const K: int = 2
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-2]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
