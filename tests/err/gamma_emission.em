// A Gamma emission with its shape estimated: outside the closed-form class (a known shape,
// `Gamma(2.0, b[z[n]])`, is a closed-form block).
model g
const K: int = 2
data x[N]: positive
param w: simplex[K]
param a[K]: positive
param b[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Gamma(a[z[n]], b[z[n]])
