// A mixture of probabilistic PCA models on handwritten digits (data/digits.csv; Tipping &
// Bishop 1999): each of K clusters is a two-dimensional plane through its own centre in the
// 64-pixel space, with its own isotropic noise s2[k].
model mppca_digits
const K: int = 10
const L: int = 2
data   x[N]: vector[D] except (label)
param  w: simplex[K]
param  W[K]: matrix[D, L]
param  mu[K]: vector[D]
param  s2[K]: positive
latent z[N]: 0..K
latent h[N]: vector[L]
z[n] ~ Categorical(w)
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W[z[n]] * h[n] + mu[z[n]], s2[z[n]] * I)
