// bgmm.em with diagonal covariances: a normal-inverse-Gamma prior on every coordinate of
// every component (scikit-learn's degrees_of_freedom_prior ν = 2 and covariance_prior c = 1
// are IG(ν / 2, c / 2)), fitted by variational Bayes.
model bgmm_diag
method vb
const K: int = 6
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
w ~ Dirichlet(0.01)
mu[k] ~ MvNormal(0.0, diag(v[k]) / 0.01)
v[k] ~ InvGamma(1.0, 0.5)
