// A known variance of a univariate Normal is not supported yet; the hint shows the vector form.
model w
const K: int = 3
data   x[N]: vector[D]
data   y[N]: real
param  mu[K]: vector[D]
param  m[K]: real
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(1 / K)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
y[n] ~ Normal(m[z[n]], 1.0)
