// A Dirichlet concentration below 1: the posterior has no mode when a count is small.
model dirichlet_below_one
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
w ~ Dirichlet(0.5)
