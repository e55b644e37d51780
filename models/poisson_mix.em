// Poisson mixture for counts, e.g. great discoveries per year (data/discoveries.csv).
model poisson_mix
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Poisson(rate[z[n]])
