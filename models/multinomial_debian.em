// Multinomial mixture of documents (data/debian_descriptions.csv: the long descriptions of
// 628 Debian packages from six sections, as counts of 200 words). Each package's word
// counts are a multinomial draw from its cluster's word distribution, the row's total known:
// theta_k = Σ_n r_nk x_n / Σ_n r_nk Σ_v x_nv. The `package` name and `section` label are
// text, not data; compare the clusters with the sections in the README.
model multinomial_debian
const K: int = 6
data   x[N]: count[V] except (package, section)
param  w: simplex[K]
param  theta[K]: simplex[V]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Multinomial(theta[z[n]])
