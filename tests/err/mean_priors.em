// Priors on means written wrongly: a covariance that is not the statement's, a mean prior
// whose covariance has no prior of its own, and per-component means scaled by a shared
// covariance.
model mean_priors
const K: int = 2
data   x[N]: vector[D]
data   y[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  nu[K]: vector[D]
param  Sigma[K]: cov[D]
param  Omega[K]: cov[D]
data   u[N]: vector[D]
param  lam[K]: vector[D]
param  Psi: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
y[n] ~ MvNormal(nu[z[n]], Omega[z[n]])
mu[k] ~ MvNormal(0.0, Omega[k] / 0.1)
nu[k] ~ MvNormal(0.0, Omega[k] / 0.1)
u[n] ~ MvNormal(lam[z[n]], Psi)
lam[k] ~ MvNormal(0.0, Psi / 0.1)
Psi ~ InvWishart(5.0, 0.1 * I)
