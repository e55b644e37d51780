model mismatch
const K: int = 2
const J: int = 3
data x[N]: vector[D]
param w: simplex[K]
param mu[J]: vector[D]
param Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
