// A mean not linear in the data, and a regression with a multivariate response.
model r
const K: int = 2
data u[N]: real
data v[N]: vector[P] from (a, b)
data y1[N]: real
data x[N]: vector[D] from (d, e)
param w: simplex[K]
param b1[K]: real
param mu[K]: matrix[D, P]
param S[K]: cov[D]
param s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y1[n] ~ Normal(b1[z[n]] * u[n] * u[n], s[z[n]])
x[n] ~ MvNormal(mu[z[n]] * v[n], S[z[n]])
