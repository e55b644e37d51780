// Summaries of the data used where they do not belong, all reported at once: `cov` of one
// real column, `var(x)` as an inverse-Wishart scale, a summary of a parameter, an indexed
// data item, a negative multiple of a variance, the mean of other data as a prior mean, a
// summary as the mean of data, and an unknown summary.
model data_summaries
const K: int = 2
data   x[N]: vector[D]
data   u[N]: vector[E]
data   y[N]: real
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
param  m[K]: real
param  v[K]: positive
param  c[K]: vector[E]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
y[n] ~ Normal(m[z[n]], v[z[n]])
u[n] ~ MvNormal(mean(u), I)
Sigma[k] ~ InvWishart(4.0, var(x))
mu[k] ~ MvNormal(mean(u), Sigma[k] / 0.5)
m[k] ~ Normal(mean(mu), v[k] / 0.5)
v[k] ~ InvGamma(1.0, -0.5 * var(y))
w ~ Dirichlet(median(x))
