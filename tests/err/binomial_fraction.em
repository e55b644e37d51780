// A binomial whose number of trials is not a whole number.
model b
const K: int = 2
data u[N]: count
param w: simplex[K]
param q[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
u[n] ~ Binomial(2.5, q[z[n]])
