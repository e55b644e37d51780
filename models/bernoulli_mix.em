// Bernoulli mixture for binary images (data/digits_binary.csv: 8x8 digits, pixels > 7).
// `except (label)`: every numeric column but the digit label is a pixel.
model bernoulli_mix
const K: int = 10
data   x[N]: binary[D] except (label)
param  w: simplex[K]
param  p[K]: prob[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Bernoulli(p[z[n]])
