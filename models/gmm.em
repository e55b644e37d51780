// Gaussian mixture with a full covariance per component.
model gmm
const K: int = 2                      // overridable at fit time: --set K=3
data   x[N]: vector[D]                // N and D come from the data
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
