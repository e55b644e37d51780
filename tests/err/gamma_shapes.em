// One rate shared by Gamma emissions of different known shapes: a shared rate pools the
// statements' events, which needs one shape.
model g
const K: int = 2
data x[N]: positive
data y[N]: positive
param w: simplex[K]
param b[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Gamma(2.0, b[z[n]])
y[n] ~ Gamma(3.0, b[z[n]])
