// Variational Bayes cannot run with a hard E-step, and needs proper priors.
model bad_vb
method vb
estep hard
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
w ~ Dirichlet(0.0)
v[k] ~ InvGamma(-1.0, 0.5)
