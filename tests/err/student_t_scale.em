// A latent scale written wrongly: its Gamma's shape and rate differ (the Student-t needs
// `Gamma(ν/2, ν/2)`).
model t
const K: int = 2
data x[N]: vector[D]
param w: simplex[K]
param mu[K]: vector[D]
param S[K]: cov[D]
latent z[N]: 0..K
latent u[N]: positive
z[n] ~ Categorical(w)
u[n] ~ Gamma(2.0, 3.0)
x[n] ~ MvNormal(mu[z[n]], S[z[n]] / u[n])
