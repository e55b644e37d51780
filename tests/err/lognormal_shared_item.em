// A log-normal statement holds its item as ln x: no other statement may model the same item
// (the hint: a second item reading the same column).
model lognormal_shared_item
const K: int = 2
data   t[N]: positive
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
t[n] ~ LogNormal(m[z[n]], v[z[n]])
t[n] ~ Exponential(rate[z[n]])
