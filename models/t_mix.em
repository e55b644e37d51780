// A robust mixture (issue 11, item 5): Student-t components with ν = 4 degrees of freedom,
// written as Normals whose covariance a per-row latent scale divides. Given its component,
// a row's scale has the posterior Gamma((ν + D)/2, (ν + δ)/2) (δ its Mahalanobis distance),
// so the E-step weighs the row by w = (ν + D)/(ν + δ): outlying rows count less in the means
// and covariances (McLachlan & Peel's t-mixture EM, ν known).
model t_mix
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K
latent u[N]: positive
z[n] ~ Categorical(w)
u[n] ~ Gamma(2.0, 2.0)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]] / u[n])
