model mfa_wrong
const K: int = 3
const L: int = 2
data   x[N]: vector[D] from (a, b, c, d)
data   y[N]: vector[E] from (e, f, g)
param  w: simplex[K]
param  W: matrix[D, L]
param  mu[K]: vector[D]
param  psi: positive[D]
param  V[K]: matrix[L, E]
param  nu[K]: vector[E]
param  q: positive[E]
latent z[N]: 0..K
latent h[N]: vector[L]
z[n] ~ Categorical(w)
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu[z[n]], diag(psi))
y[n] ~ MvNormal(V[z[n]] * h[n] + nu[z[n]], diag(q))
