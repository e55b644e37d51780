// Geometric mixture of the yearly counts of great discoveries (1860–1959): each count read as
// the failures before a first success, with a success probability per component (mean count
// (1 − p) / p). The geometric's variance p⁻¹ − 1 times its mean exceeds a Poisson's, so it is
// the heavier-tailed alternative to models/poisson_mix.em; the M-step is closed form,
// p_k = N_k / (N_k + Σ_n r_nk x_n).
model geometric_mix
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  p[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Geometric(p[z[n]])
