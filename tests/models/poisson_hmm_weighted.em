// models/hmm_poisson.em with a weight per sequence (weighted ln x! totals in a chain).
model poisson_hmm_weighted
const K: int = 2
data   discoveries[T]: count
data   weight[T]: weight
param  p0: simplex[K]
param  A[K]: simplex[K]
param  rate[K]: positive
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
discoveries[t] ~ Poisson(rate[z[t]])
