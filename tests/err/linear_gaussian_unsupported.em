model linear_wrong
const L: int = 2
data   t[N]: vector[D] from (a, b, c)
data   x[N]: vector[D] from (d, e, f)
data   y[N]: vector[E] from (g, h1, i)
data   u[N]: vector[L] from (j, k)
param  U: matrix[D, L]
param  m: vector[D]
param  Sigma: cov[D]
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
param  V: matrix[E, L]
param  nu: vector[E]
param  q: positive[E]
param  r: positive[L]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
t[n] ~ MvNormal(U * h[n] + m, Sigma)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
y[n] ~ MvNormal(V * h[n] * h[n] + nu, diag(q))
u[n] ~ MvNormal(h[n], diag(r))
y[n] ~ MvNormal(V * h[n] + nu, diag(q))
y[n] ~ MvNormal(V * h[n] - nu, diag(q))
