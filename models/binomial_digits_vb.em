// The binomial mixture of binomial_digits.em by variational Bayes: a Dirichlet posterior on
// the weights and a Beta posterior on every success probability (prior Beta(2, 2)).
model binomial_digits_vb
method vb
const K: int = 3
data   p20[N]: count
data   p28[N]: count
data   p36[N]: count
data   p43[N]: count
param  w: simplex[K]
param  a[K]: prob
param  b[K]: prob
param  c[K]: prob
param  d[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
p20[n] ~ Binomial(16, a[z[n]])
p28[n] ~ Binomial(16, b[z[n]])
p36[n] ~ Binomial(16, c[z[n]])
p43[n] ~ Binomial(16, d[z[n]])
a[k] ~ Beta(2.0, 2.0)
b[k] ~ Beta(2.0, 2.0)
c[k] ~ Beta(2.0, 2.0)
d[k] ~ Beta(2.0, 2.0)
w ~ Dirichlet(1.0)
