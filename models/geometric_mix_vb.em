// The geometric mixture of geometric_mix.em by variational Bayes: a Dirichlet posterior on
// the weights and a Beta posterior on each success probability (prior Beta(2, 2)).
model geometric_mix_vb
method vb
const K: int = 2
data   discoveries[N]: count
param  w: simplex[K]
param  p[K]: prob
latent z[N]: 0..K
z[n] ~ Categorical(w)
discoveries[n] ~ Geometric(p[z[n]])
w ~ Dirichlet(1.0)
p[k] ~ Beta(2.0, 2.0)
