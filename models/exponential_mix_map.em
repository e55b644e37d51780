// The exponential mixture of exponential_mix.em fitted by MAP-EM, with a Gamma prior on the
// rates (shape 2, rate 10: one pseudo-wait of 10 minutes per component).
model exponential_mix_map
const K: int = 2
data   waiting[N]: positive
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
waiting[n] ~ Exponential(rate[z[n]])
rate[k] ~ Gamma(2.0, 10.0)
