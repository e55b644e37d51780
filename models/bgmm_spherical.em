// bgmm.em with one variance per component (s I): a normal-inverse-Gamma prior shared by the D
// coordinates, fitted by variational Bayes (scikit-learn's spherical BayesianGaussianMixture
// with degrees_of_freedom_prior ν = 2 and covariance_prior c = 1 is IG(D ν / 2, D c / 2),
// here for D = 2).
model bgmm_spherical
method vb
const K: int = 6
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], s[z[n]] * I)
w ~ Dirichlet(0.01)
mu[k] ~ MvNormal(0.0, s[k] * I / 0.01)
s[k] ~ InvGamma(2.0, 1.0)
