// The Gaussian HMM of hmm_gaussian.em fitted by variational Bayes (a VB-HMM): Dirichlet
// posteriors on the initial distribution and on every row of the transition matrix, a
// normal-inverse-Wishart posterior on every state's mean and covariance. The E-step runs
// forward-backward with exp E[ln A] and exp E[ln p0]; the ELBO subtracts every KL term.
model hmm_gaussian_vb
method vb
const K: int = 3
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
p0 ~ Dirichlet(1.0)
A[k] ~ Dirichlet(1.0)
mu[k] ~ MvNormal(3.0, Sigma[k] / 0.01)
Sigma[k] ~ InvWishart(4.0, 0.1 * I)
