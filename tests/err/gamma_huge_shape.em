// A Gamma emission whose known shape is beyond 1e6: its density would lose all precision
// (and overflow for a shape near the largest number).
model g
const K: int = 2
data x[N]: positive
param w: simplex[K]
param b[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Gamma(1e307, b[z[n]])
