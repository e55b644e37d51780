// Dirichlet priors written wrongly: on part of a parameter, twice, and a
// prior of a family that is not supported yet.
model dirichlet_priors
const K: int = 2
data   eruption[T]: 0..C
data   y[T]: real
param  p0: simplex[K]
param  A[K]: simplex[K]
param  q[K]: simplex[C]
param  m[K]: real
param  v[K]: positive
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
eruption[t] ~ Categorical(q[z[t]])
y[t] ~ Normal(m[z[t]], v[z[t]])
p0 ~ Dirichlet(2.0)
A[0] ~ Dirichlet(2.0)
q[k] ~ Dirichlet(2.0)
q[k] ~ Dirichlet(3.0)
m[k] ~ Normal(0, 10)
