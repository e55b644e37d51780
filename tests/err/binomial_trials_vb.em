// Variational Bayes with trials from a column: each row's offset would be its own.
model b
method vb
const K: int = 2
data t[N]: count
data x[N]: count
param w: simplex[K]
param p[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Binomial(t[n], p[z[n]])
w ~ Dirichlet(1.0)
p[k] ~ Beta(1.0, 1.0)
