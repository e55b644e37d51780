// A mean linear in another data column (a mixture of regressions): not yet in the language.
model r
const K: int = 2
data u[N]: real
data y[N]: real
param w: simplex[K]
param beta[K]: real
param s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y[n] ~ Normal(beta[z[n]] * u[n], s[z[n]])
