// The Poisson mixture of poisson_mix.em fitted by MAP-EM: a Dirichlet prior on the mixing
// weights (α − 1 = 4 pseudo-counts per component keep a small component alive) and a Gamma
// prior on the rates (shape 2, rate 0.5: one pseudo-event over half a pseudo-year).
model poisson_mix_map
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Poisson(rate[z[n]])
w ~ Dirichlet(5.0)
rate[k] ~ Gamma(2.0, 0.5)
