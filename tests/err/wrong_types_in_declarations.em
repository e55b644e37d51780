model types
const K: real = 2.5
data x[N]: vec[D]
param c[K]: count
latent z[N]: 1..K
