// A parameter with a known value and a prior.
model f
const K: int = 2
data x[N]: real
param w: simplex[K]
param m[K]: real
param v[K]: positive = 0.5
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Normal(m[z[n]], v[z[n]])
v[k] ~ InvGamma(2.0, 1.0)
