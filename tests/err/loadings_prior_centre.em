// A prior on loadings centred away from zero: the conjugate prior of a loading matrix is
// `W ~ Normal(0.0, psi / α)`.
model loadings_prior_centre
const L: int = 1
data   x[N]: vector[D]
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
W ~ Normal(1.0, psi / 1.0)
psi ~ InvGamma(1.0, 0.5)
