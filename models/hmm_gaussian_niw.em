// The Gaussian HMM of hmm_gaussian.em fitted by MAP-EM with a normal-inverse-Wishart prior on
// every state: hmmlearn's means_prior = 3, means_weight = 0.5, covars_prior = 0.05 I and
// covars_weight = 6 for D = 2, i.e. κ = 0.5, m0 = 3 and ν = max(6 − D, 0) − D − 2 = 0 (the
// mean's Normal prior counts one more row), so each covariance is
// (S_k + 0.05 I + 0.5 (μ_k − 3)(μ_k − 3)ᵀ) / (N_k + 4).
model hmm_gaussian_niw
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
mu[k] ~ MvNormal(3.0, Sigma[k] / 0.5)
Sigma[k] ~ InvWishart(0.0, 0.05 * I)
