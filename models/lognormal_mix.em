// Log-normal mixture of Old Faithful's eruption durations (data/faithful.csv, minutes): each
// component is a Normal on ln x, x = exp(y), and the objective carries the Jacobian −Σ ln x.
// The M-step is the Normal's on the logarithms: m_k = Σ_n r_nk ln x_n / N_k and
// v_k = Σ_n r_nk (ln x_n − m_k)² / N_k. Compare the Gaussian fit of models/gmm_diag.em.
model lognormal_mix
const K: int = 2
data   eruptions[N]: positive
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
eruptions[n] ~ LogNormal(m[z[n]], v[z[n]])
