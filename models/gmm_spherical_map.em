// The spherical mixture of gmm_spherical.em fitted by MAP-EM with a normal-inverse-Gamma prior
// on every component: μ_k ~ N(0, s_k I / 0.01) and s_k ~ IG(2, 1), so each variance is
// (Σ_n r_nk ‖x_n − μ_k‖² + 2 + 0.01 ‖μ_k‖²) / (D N_k + 6 + D).
model gmm_spherical_map
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], s[z[n]] * I)
mu[k] ~ MvNormal(0.0, s[k] * I / 0.01)
s[k] ~ InvGamma(2.0, 1.0)
