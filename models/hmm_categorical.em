// Categorical hidden Markov model on eruption classes of Old Faithful (data/geyser_classes.csv:
// 0 short, 1 medium, 2 long), the hidden state emitting one class per eruption.
model hmm_categorical
const K: int = 2
data   eruption[T]: 0..C
param  p0: simplex[K]
param  A[K]: simplex[K]
param  q[K]: simplex[C]
latent z[T]: 0..K
z[0] ~ Categorical(p0)
z[t] ~ Categorical(A[z[t-1]])
eruption[t] ~ Categorical(q[z[t]])
