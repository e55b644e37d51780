// models/hmm_gaussian.em with a weight per sequence: the differential test of weights.
model hmm_gaussian_weighted
const K: int = 2
data   x[T]: vector[D]
data   weight[T]: weight
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
