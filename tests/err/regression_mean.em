// A mean not linear in the data (a multivariate response: tests/err/mv_regression.em).
model r
const K: int = 2
data u[N]: real
data y1[N]: real
param w: simplex[K]
param b1[K]: real
param s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y1[n] ~ Normal(b1[z[n]] * u[n] * u[n], s[z[n]])
