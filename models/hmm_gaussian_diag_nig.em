// The Gaussian HMM of hmm_gaussian_diag.em fitted by MAP-EM with a normal-inverse-Gamma prior
// on every state's mean and variances: hmmlearn's means_prior = 3, means_weight = 0.5,
// covars_prior = 0.05 and covars_weight = 4, i.e. κ = 0.5, m0 = 3, and per variance
// a = (max(4 − 1, 0) − 3) / 2 = 0, b = 0.025, so each variance is
// (S_kd + 0.05 + 0.5 (μ_kd − 3)²) / (N_k + 3).
model hmm_gaussian_diag_nig
const K: int = 3
data   x[T]: vector[D]
param  p0: simplex[K]
param  A[K]: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
x[t] ~ MvNormal(mu[z[t]], diag(v[z[t]]))
mu[k] ~ MvNormal(3.0, diag(v[k]) / 0.5)
v[k] ~ InvGamma(0.0, 0.025)
