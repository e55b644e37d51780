// The Poisson mixture of models/poisson_mix.em fitted to a frequency table: each row of
// data/discoveries_counts.csv is a number of great discoveries in a year with the number of
// years that saw it. The weight multiplies each row's statistics and its terms of the
// log-likelihood, so the 11 weighted rows fit exactly as the 100 years of discoveries.csv.
model poisson_mix_weighted
const K: int = 2
data   discoveries[N]: count
data   years[N]: weight
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Poisson(rate[z[n]])
