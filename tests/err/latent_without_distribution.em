model noprior
const K: int = 2
data x[N]: vector[D]
param mu[K]: vector[D]
param Sigma[K]: cov[D]
latent z[N]: 0..K
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
