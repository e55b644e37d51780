// The Bernoulli mixture of bernoulli_mix.em fitted by MAP-EM: a Beta(2, 2) prior on every
// pixel's probability (one pseudo-on and one pseudo-off pixel per component) keeps the
// probabilities away from 0 and 1, where a pixel never on in a component would otherwise
// sit at the floor.
model bernoulli_mix_map
const K: int = 10
data   x[N]: binary[D] except (label)
param  w: simplex[K]
param  p[K]: prob[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Bernoulli(p[z[n]])
p[k] ~ Beta(2.0, 2.0)
