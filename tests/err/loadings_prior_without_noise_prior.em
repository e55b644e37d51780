// A prior on loadings scaled by a noise that has no prior of its own: the two form one
// normal-inverse-Gamma prior, so the noise needs `InvGamma` too.
model loadings_prior_without_noise_prior
const L: int = 1
data   x[N]: vector[D]
param  W: matrix[D, L]
param  mu: vector[D]
param  s2: positive
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, s2 * I)
W ~ Normal(0.0, s2 / 1.0)
