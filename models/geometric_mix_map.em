// The geometric mixture of geometric_mix.em fitted by MAP-EM, with a Beta(2, 2) prior on
// each success probability (one pseudo-success and one pseudo-failure per component).
model geometric_mix_map
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  p[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Geometric(p[z[n]])
p[k] ~ Beta(2.0, 2.0)
