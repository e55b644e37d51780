model kalman
const L: int = 2
data   x[T]: vector[D]
param  A: matrix[L, L]
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[T]: vector[L]
h[t] ~ MvNormal(A * h[t-1], I)
x[t] ~ MvNormal(W * h[t] + mu, diag(psi))
