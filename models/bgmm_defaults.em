// scikit-learn's BayesianGaussianMixture with its default priors, on the Old Faithful
// eruptions (data/faithful.csv): the priors' hyperparameters are summaries of the data,
// computed when the data are bound — the prior mean is the data's mean, the inverse-Wishart
// scale the data's covariance (divided by N − 1), with D = 2 degrees of freedom, one prior
// row on the mean and a weight concentration of 1/K.
model bgmm_defaults
method vb
const K: int = 6
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
w ~ Dirichlet(0.16666666666666666)
mu[k] ~ MvNormal(mean(x), Sigma[k] / 1.0)
Sigma[k] ~ InvWishart(2.0, cov(x))
