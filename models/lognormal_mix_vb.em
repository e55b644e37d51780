// The log-normal mixture of models/lognormal_mix.em by variational Bayes: a
// normal-inverse-Gamma posterior over each component's log-scale mean and variance, a
// Dirichlet over the weights; the E-step reads E[1/v], E[m/v] and E[ln v] on ln x.
model lognormal_mix_vb
method vb
const K: int = 2
data   eruptions[N]: positive
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
eruptions[n] ~ LogNormal(m[z[n]], v[z[n]])
m[k] ~ Normal(1.0, v[k] / 0.1)
v[k] ~ InvGamma(2.0, 0.01)
w ~ Dirichlet(1.0)
