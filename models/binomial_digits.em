// Binomial mixture of four pixels of the handwritten digits (data/digits.csv: each pixel an
// intensity 0–16, read here as successes in 16 trials), with a success probability per
// pixel and component. With the trials known the M-step is closed form:
// p_k = Σ_n r_nk x_n / (16 N_k).
model binomial_digits
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
