// Records with one field per data item (tests/tests/records.rs): a category, a bit, a count
// and a real value that may be missing.
model events
const K: int = 2
data   kind[N]: 0..C
data   flag[N]: binary
data   arrivals[N]: count
data   size[N]: real
param  w: simplex[K]
param  p[K]: simplex[C]
param  q[K]: prob
param  rate[K]: positive
param  m[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
kind[n] ~ Categorical(p[z[n]])
flag[n] ~ Bernoulli(q[z[n]])
arrivals[n] ~ Poisson(rate[z[n]])
size[n] ~ Normal(m[z[n]], v[z[n]])
