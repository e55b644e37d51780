// A latent scale dividing a diagonal covariance, and a prior on a Student-t mean.
model t
const K: int = 2
data x[N]: vector[D]
data y[N]: vector[E]
param w: simplex[K]
param mu[K]: vector[D]
param v[K]: positive[D]
param m[K]: vector[E]
param S[K]: cov[E]
latent z[N]: 0..K
latent u[N]: positive
latent s[N]: positive
z[n] ~ Categorical(w)
u[n] ~ Gamma(2.0, 2.0)
s[n] ~ Gamma(1.5, 1.5)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]) / u[n])
y[n] ~ MvNormal(m[z[n]], S[z[n]] / s[n])
m[k] ~ MvNormal(0.0, S[k] / 0.1)
