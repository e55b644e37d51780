// Poisson hidden Markov model for the number of great discoveries per year, 1860-1959
// (data/discoveries.csv): years of plenty and lean years as hidden regimes.
model hmm_poisson
const K: int = 2
data   discoveries[T]: count
param  p0: simplex[K]
param  A[K]: simplex[K]
param  rate[K]: positive
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
discoveries[t] ~ Poisson(rate[z[t]])
