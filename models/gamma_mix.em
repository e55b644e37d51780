// Gamma mixture of the waiting times between Old Faithful's eruptions (minutes), each
// component a Gamma of known shape 100 with its own rate (mean 100 / rate, coefficient of
// variation 1 / √100 = 0.1, about that of each of the two groups of waits). With the shape
// known the rate's M-step is closed form: 100 · N_k / Σ_n r_nk x_n. Unlike the exponential
// mixture (models/exponential_mix.em), whose components cannot be narrower than their mean,
// this one separates the short and the long waits.
model gamma_mix
const K: int = 2
data   waiting[N]: positive
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
waiting[n] ~ Gamma(100.0, rate[z[n]])
