// Factor analysis of the iris measurements (models/fa_iris.em) fitted by MAP-EM with a
// conjugate prior on the loadings and the noise: each row of the loadings
// `w_d ~ N(0, psi_d I / 2)`, scaled by its coordinate's noise, and `psi_d ~ IG(1, 0.01 var(x_d))`.
// The loadings' update is a ridge, and the noise's adds `2 ‖w_d‖²` and L rows. Maximum
// likelihood drives two noise variances to near zero (a Heywood case, not converged after
// 500 iterations); with the prior the fit converges with every variance away from zero.
model fa_iris_map
const L: int = 2
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
W ~ Normal(0.0, psi / 2.0)
psi ~ InvGamma(1.0, 0.01 * var(x))
