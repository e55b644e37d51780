// The mixture of factor analysers of mfa_iris.em fitted by variational Bayes: a Dirichlet
// posterior on the weights, each cluster's loadings with a normal posterior per row given
// the shared noise (`W[k]_d | psi_d ~ N(m_kd, psi_d V_k)`), an inverse-Gamma posterior on
// each coordinate's noise pooled over the clusters; the means are point estimates.
model mfa_iris_vb
method vb
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
w ~ Dirichlet(1.0)
W[k] ~ Normal(0.0, psi / 2.0)
psi ~ InvGamma(1.0, 0.01 * var(x))
