// Factor analysis of the iris measurements (models/fa_iris_map.em) fitted by variational
// Bayes: the same normal-inverse-Gamma prior on each coordinate's loadings and noise,
// `w_d | psi_d ~ N(0, psi_d I / 2)` and `psi_d ~ IG(1, 0.01 var(x_d))`, now with a posterior
// `w_d | psi_d ~ N(m_d, psi_d V)`, `psi_d ~ IG(a, b_d)` in place of the mode. The mean is a
// point estimate (it has no prior). q(h) reads E[W^T Psi^-1 W] = M^T Psi~^-1 M + D V; the ELBO
// subtracts the posterior's divergence from the prior.
model fa_iris_vb
method vb
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
