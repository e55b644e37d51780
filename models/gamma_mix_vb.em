// The Gamma mixture of gamma_mix.em by variational Bayes: a Dirichlet posterior on the
// weights and a Gamma posterior on each rate (prior shape 2, rate 1, as gamma_mix_map.em).
model gamma_mix_vb
method vb
const K: int = 2
data   waiting[N]: positive
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
waiting[n] ~ Gamma(100.0, rate[z[n]])
w ~ Dirichlet(1.0)
rate[k] ~ Gamma(2.0, 1.0)
