// Under variational Bayes a prior whose scale is a summary of the data must still be proper.
model vb_data_prior
method vb
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
v[k] ~ InvGamma(-1.0, var(x))
