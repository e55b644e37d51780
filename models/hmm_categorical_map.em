// The categorical hidden Markov model of hmm_categorical.em fitted by MAP-EM: symmetric
// Dirichlet priors on the initial distribution, on every row of the transition matrix and
// on every state's emission probabilities (α − 1 pseudo-counts per entry; hmmlearn's
// startprob_prior, transmat_prior and emissionprob_prior).
model hmm_categorical_map
const K: int = 2
data   eruption[T]: 0..C
param  p0: simplex[K]
param  A[K]: simplex[K]
param  q[K]: simplex[C]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
eruption[t] ~ Categorical(q[z[t]])
p0 ~ Dirichlet(2.0)
A[i] ~ Dirichlet(3.0)
q[k] ~ Dirichlet(1.5)
