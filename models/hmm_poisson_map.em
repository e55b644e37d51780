// The Poisson hidden Markov model of hmm_poisson.em fitted by MAP-EM: Dirichlet priors on
// the initial distribution and the transition rows (hmmlearn's startprob_prior and
// transmat_prior).
model hmm_poisson_map
const K: int = 2
data   discoveries[T]: count
param  p0: simplex[K]
param  A[K]: simplex[K]
param  rate[K]: positive
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
discoveries[t] ~ Poisson(rate[z[t]])
p0 ~ Dirichlet(3.0)
A[i] ~ Dirichlet(2.5)
