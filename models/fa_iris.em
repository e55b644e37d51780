// Factor analysis on the four iris measurements with two factors. (D − L)² = 4 < D + L = 6:
// the model is not identified, so BIC and AIC count it as the full covariance it can
// represent (D(D+1)/2 = 10 for the loadings with the noise, plus the mean), not as
// 7 rotation-free loadings + 4 noise variances.
model fa_iris
const L: int = 2
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
