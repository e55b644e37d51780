// Known values that the parameters' types do not admit: a negative variance, a probability
// of one, a simplex, and a value that overflows.
model f
const K: int = 2
data x[N]: real
data b[N]: binary
param w: simplex[K] = 0.5
param m[K]: real = 1e999
param v[K]: positive = -1.0
param p[K]: prob = 1.0
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Normal(m[z[n]], v[z[n]])
b[n] ~ Bernoulli(p[z[n]])
