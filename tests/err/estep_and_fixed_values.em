// Hard E-step and fixed values written wrongly: an unknown E-step, a second `estep` line,
// equal weights over the wrong index set, a covariance that is not positive, a fixed
// variance of a univariate Normal (not supported yet).
model wrong_fixed
const K: int = 3
const J: int = 2
estep greedy
estep hard
data   x[N]: vector[D]
data   y[N]: real
param  mu[K]: vector[D]
param  m[K]: real
latent z[N]: 0..K
z[n] ~ Categorical(1 / J)
x[n] ~ MvNormal(mu[z[n]], -2 * I)
y[n] ~ Normal(m[z[n]], 1.0)
