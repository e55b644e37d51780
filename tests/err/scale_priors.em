// Priors on scales that do not fit: an inverse-Gamma on a Poisson rate (a positive
// parameter, but not a variance), and a Normal prior on a mean, not supported yet.
model scale_priors
const K: int = 2
data   x[N]: vector[D]
data   c[N]: count
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
c[n] ~ Poisson(rate[z[n]])
v[k] ~ InvGamma(1.0, 0.5)
rate[k] ~ InvGamma(1.0, 0.5)
mu[k] ~ MvNormal(0, I)
