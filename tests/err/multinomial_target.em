// A multinomial's probabilities must run over the categories of its counts, and its data
// must be a vector of counts (`count[V]`): a scalar count is binomial or Poisson.
model multinomial_target
const K: int = 2
data   x[N]: count[V]
data   y[N]: count
param  w: simplex[K]
param  theta[K]: simplex[K]
param  q[K]: simplex[V]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Multinomial(theta[z[n]])
y[n] ~ Multinomial(q[z[n]])
