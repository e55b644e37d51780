// Trials from a column, written wrongly: a real column, the successes as their own trials,
// another row's trials, and a rate where the probability goes.
model b
const K: int = 2
data t[N]: count
data u[N]: real
data x[N]: count
data y[N]: count
data s[N]: count
data c[N]: count
param w: simplex[K]
param p[K]: prob
param q[K]: prob
param o[K]: prob
param r[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Binomial(u[n], p[z[n]])
y[n] ~ Binomial(y[n], q[z[n]])
s[n] ~ Binomial(t[0], o[z[n]])
c[n] ~ Binomial(t[n], r[z[n]])
