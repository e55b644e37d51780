// A weight indexed by another set than the latent's rows.
model weight_not_by_rows
const K: int = 2
data   x[N]: vector[D]
data   f[M]: weight
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
