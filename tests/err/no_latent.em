model plain
data x[N]: vector[D]
param mu: vector[D]
param Sigma: cov[D]
x[n] ~ MvNormal(mu, Sigma)
