// Probabilistic PCA of the iris measurements (models/ppca_iris.em) fitted by MAP-EM with a
// conjugate prior: every loading `W[d, l] ~ N(0, s2 / 0.5)`, scaled by the isotropic noise, and
// `s2 ~ IG(1, 0.01 · the data's variance averaged over the coordinates)`.
model ppca_iris_map
const L: int = 2
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  W: matrix[D, L]
param  mu: vector[D]
param  s2: positive
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, s2 * I)
W ~ Normal(0.0, s2 / 0.5)
s2 ~ InvGamma(1.0, 0.01 * var(x))
