model hmm
const K: int = 3
data x[T]: vector[D]
param p0: simplex[K]
param A[K]: simplex[K]
param mu[K]: vector[D]
param Sigma[K]: cov[D]
latent z[T]: 0..K
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
