// models/bgmm_defaults.em with a weight per row (its priors summarise the weighted data).
model bgmm_defaults_weighted
method vb
const K: int = 6
data   x[N]: vector[D]
data   weight[N]: weight
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
w ~ Dirichlet(0.16666666666666666)
mu[k] ~ MvNormal(mean(x), Sigma[k] / 1.0)
Sigma[k] ~ InvWishart(2.0, cov(x))
