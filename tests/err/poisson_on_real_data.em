model counts
const K: int = 2
data y[N]: real
param w: simplex[K]
param rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y[n] ~ Poisson(rate[z[n]])
