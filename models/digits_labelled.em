// Bernoulli pixels and a categorical label share one latent cluster per image
// (data/digits_binary.csv): a categorical emission beside a Bernoulli one.
model digits_labelled
const K: int = 10
data   x[N]: binary[D] except (label)
data   label[N]: 0..C                  // C = 10 digit classes, from the data
param  w: simplex[K]
param  p[K]: prob[D]
param  q[K]: simplex[C]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Bernoulli(p[z[n]])
label[n] ~ Categorical(q[z[n]])
