// Exponential mixture of the waiting times between Old Faithful's eruptions (minutes), each
// component with its own rate (the inverse of its mean wait). A mixture of exponentials has a
// coefficient of variation of at least 1 and these waits have 0.19, so the maximum-likelihood
// fit merges the components into one rate, 1 / mean; the family is shown here, and
// tests/tests/references.rs follows an independent EM from a start with distinct rates.
model exponential_mix
const K: int = 2
data   waiting[N]: positive
param  w: simplex[K]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
waiting[n] ~ Exponential(rate[z[n]])
