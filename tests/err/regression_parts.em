// Regressions with the wrong parts: a number where the covariates are a vector, coefficients
// shared by every component, another row's covariates, and a prior on the coefficients.
model r
const K: int = 2
data v[N]: vector[P] from (a, b)
data y2[N]: real
data y3[N]: real
data y4[N]: real
data y5[N]: real
param w: simplex[K]
param b2[K]: real
param b3: vector[P]
param b4[K]: vector[P]
param b5[K]: vector[P]
param c[K]: real
param s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y2[n] ~ Normal(dot(b2[z[n]], v[n]), s[z[n]])
y3[n] ~ Normal(dot(b3, v[n]), s[z[n]])
y4[n] ~ Normal(dot(b4[z[n]], v[0]) + c[z[n]], s[z[n]])
y5[n] ~ Normal(dot(b5[z[n]], v[n]), s[z[n]])
b5[k] ~ Normal(0.0, s[k] / 2.0)
