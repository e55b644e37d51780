// One probability shared by binomial emissions of different numbers of trials.
model b
const K: int = 2
data x[N]: count
data y[N]: count
param w: simplex[K]
param p[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Binomial(10, p[z[n]])
y[n] ~ Binomial(12, p[z[n]])
