// A Bayesian Gaussian mixture fitted by mean-field variational Bayes: the model of gmm.em
// with conjugate priors. A small Dirichlet concentration lets the posterior empty the
// components the data do not need (with K = 6 on Old Faithful three remain); the
// normal-inverse-Wishart prior is scikit-learn's `BayesianGaussianMixture` with
// mean_precision_prior = 0.01, mean_prior = 0, degrees_of_freedom_prior = 2 and
// covariance_prior = I.
model bgmm
method vb
const K: int = 6
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
w ~ Dirichlet(0.01)
mu[k] ~ MvNormal(0.0, Sigma[k] / 0.01)
Sigma[k] ~ InvWishart(2.0, 1.0 * I)
