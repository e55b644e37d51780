// The Gaussian HMM of hmm_gaussian.em fitted by MAP-EM with an inverse-Wishart prior on every
// state's covariance: hmmlearn's covars_prior = 0.01 I, covars_weight = 1 for D = 2, i.e.
// ν = max(1 − D, 0) − D − 1 = −3, so each covariance is (S_k + 0.01 I) / N_k.
model hmm_gaussian_map
const K: int = 2
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], Sigma[z[t]])
Sigma[k] ~ InvWishart(-3.0, 0.01 * I)
