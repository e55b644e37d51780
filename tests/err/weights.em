// Row weights misused: modelled by a statement, used as an argument, declared twice, and
// indexed by something other than the latent's rows.
model weights
const K: int = 2
data   x[N]: vector[D]
data   y[N]: real
data   f[N]: weight
data   g[N]: weight
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
param  rate: positive
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
f[n] ~ Exponential(rate)
y[n] ~ Normal(f[n], v[z[n]])
