model coupled
const K: int = 2
data a[N]: real
data b[N]: real
param w: simplex[K]
param m[K]: real
param va[K]: positive
param vb[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
a[n] ~ Normal(m[z[n]], va[z[n]])
b[n] ~ Normal(m[z[n]], vb[z[n]])
