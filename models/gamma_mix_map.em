// The Gamma mixture of gamma_mix.em fitted by MAP-EM, with a Gamma prior on the rates
// (shape 2, rate 1: one pseudo-event over a pseudo-wait of 1 minute per component, mode 1,
// i.e. a mean wait of 100 minutes for the known shape 100).
model gamma_mix_map
const K: int = 2
data   waiting[N]: positive
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
waiting[n] ~ Gamma(100.0, rate[z[n]])
rate[k] ~ Gamma(2.0, 1.0)
