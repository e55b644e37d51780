model fa_prior
const L: int = 2
data   x[N]: vector[D]
param  m: vector[L]
param  S: cov[L]
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(m, S)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
