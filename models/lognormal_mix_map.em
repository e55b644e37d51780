// The log-normal mixture of models/lognormal_mix.em by MAP-EM, with a conjugate
// normal-inverse-Gamma prior on each component's log-scale mean and variance: the mean of
// ln x near 1 (e ≈ 2.7 minutes) with the weight of 0.1 rows, the variance with
// InvGamma(2, 0.01). The updates are the Normal's posterior modes on ln x.
model lognormal_mix_map
const K: int = 2
data   eruptions[N]: positive
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
eruptions[n] ~ LogNormal(m[z[n]], v[z[n]])
m[k] ~ Normal(1.0, v[k] / 0.1)
v[k] ~ InvGamma(2.0, 0.01)
