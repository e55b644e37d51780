// A mixture of factor analysers on iris (data/iris.csv): each cluster is a line through its
// own centre (one factor, its own loadings), with diagonal noise shared by all
// clusters (Ghahramani & Hinton 1996). The categorical and the continuous latent together.
model mfa_iris
const K: int = 3
const L: int = 1
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  w: simplex[K]
param  W[K]: matrix[D, L]
param  mu[K]: vector[D]
param  psi: positive[D]
latent z[N]: 0..K
latent h[N]: vector[L]
z[n] ~ Categorical(w)
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W[z[n]] * h[n] + mu[z[n]], diag(psi))
