// The Gaussian HMM of hmm_gaussian_diag.em fitted by MAP-EM with hmmlearn's default prior on
// the variances (covars_prior = 0.01, covars_weight = 1): an inverse-Gamma with shape −1 (the
// flat-volume prior) and scale 0.005, so each variance is (S_d + 0.01) / N_k and never
// collapses on repeated values (geyser's durations hold 53 values of exactly 4.0).
model hmm_gaussian_diag_map
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
v[k] ~ InvGamma(-1.0, 0.005)
