// Gaussian mixture with spherical covariances: one variance per component, times the identity.
model gmm_spherical
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], s[z[n]] * I)
