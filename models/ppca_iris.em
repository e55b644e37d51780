// Probabilistic PCA of the four iris measurements (data/iris.csv): a two-dimensional latent
// plane with isotropic noise s2 around it (Tipping & Bishop 1999).
model ppca_iris
const L: int = 2
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  W: matrix[D, L]
param  mu: vector[D]
param  s2: positive
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, s2 * I)
