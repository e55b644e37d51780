// Names Rust reserves cannot name a declaration (the generated code uses the model's names).
model reserved
const K: int = 2
data   self[N]: real
param  w: simplex[K]
param  crate[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
self[n] ~ Normal(crate[z[n]], v[z[n]])
