model wide
data x[N]: vector[D]
param W: matrix[D, D]
param mu: vector[D]
param s: positive
latent h[N]: vector[D]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, s * I)
