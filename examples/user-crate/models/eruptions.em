// Old Faithful's eruptions: the duration and the wait before it, each a Normal per
// component (a diagonal two-component mixture).
model eruptions
const K: int = 2
data   eruptions[N]: real
data   waiting[N]: real
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
param  mw[K]: real
param  vw[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
eruptions[n] ~ Normal(m[z[n]], v[z[n]])
waiting[n] ~ Normal(mw[z[n]], vw[z[n]])
