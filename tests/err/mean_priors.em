// Priors on means written wrongly: a covariance that is not the statement's, and a mean
// prior whose covariance has no prior of its own. (Per-component means scaled by a shared
// covariance are accepted: models/gmm_tied_map.em.)
model mean_priors
const K: int = 2
data   x[N]: vector[D]
data   y[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  nu[K]: vector[D]
param  Sigma[K]: cov[D]
param  Omega[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
y[n] ~ MvNormal(nu[z[n]], Omega[z[n]])
mu[k] ~ MvNormal(0.0, Omega[k] / 0.1)
nu[k] ~ MvNormal(0.0, Omega[k] / 0.1)
