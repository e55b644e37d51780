// Multivariate regressions: coefficients transposed, a spherical covariance, covariates that
// are one real column, and an intercept of the wrong shape.
model r
const K: int = 2
data v[N]: vector[P] from (a, b)
data t[N]: real
data x[N]: vector[D] from (d, e)
data x2[N]: vector[D] from (f, g)
data x3[N]: vector[D] from (h, i)
data x4[N]: vector[D] from (j, k)
param w: simplex[K]
param mu[K]: matrix[P, D]
param B2[K]: matrix[D, P]
param B3[K]: vector[D]
param S[K]: cov[D]
param s2[K]: positive
param c4[K]: real
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]] * v[n], S[z[n]])
x2[n] ~ MvNormal(B2[z[n]] * v[n], s2[z[n]] * I)
x3[n] ~ MvNormal(B3[z[n]] * t[n], S[z[n]])
x4[n] ~ MvNormal(B2[z[n]] * v[n] + c4[z[n]], S[z[n]])
