// The Poisson mixture of poisson_mix.em fitted by MAP-EM, with a Dirichlet prior on the
// mixing weights (α − 1 = 4 pseudo-counts per component keep a small component alive).
model poisson_mix_map
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Poisson(rate[z[n]])
w ~ Dirichlet(5.0)
