// The document mixture of models/multinomial_debian.em by MAP-EM, with a symmetric
// Dirichlet(1.1) prior on each cluster's word distribution: every word gets 0.1 pseudo-counts,
// theta_kv ∝ Σ_n r_nk x_nv + 0.1. Maximum likelihood gives words a cluster never uses
// probability zero (the 1e-12 floor), so a document with one such word cannot join it and
// small clusters of a few documents form; the prior smooths that away.
model multinomial_debian_map
const K: int = 6
data   x[N]: count[V] except (package, section)
param  w: simplex[K]
param  theta[K]: simplex[V]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Multinomial(theta[z[n]])
theta[k] ~ Dirichlet(1.1)
