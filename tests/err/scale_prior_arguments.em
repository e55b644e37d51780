// A scale prior with an argument of the wrong kind: an inverse-Wishart whose scale matrix is
// a parameter, not `c * I`.
model scale_prior_arguments
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
Sigma[k] ~ InvWishart(4.0, v[k])
