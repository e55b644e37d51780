// A diagonal Gaussian mixture of the iris measurements (data/iris.csv) fitted by MAP-EM, with
// priors scaled to the data: each mean shrinks towards the data's mean with the weight of
// one row per component, and each variance has an inverse-Gamma prior whose scale is half
// the data's variance of that coordinate (two pseudo-rows at the data's spread), so that no
// component collapses onto a few equal measurements whatever the units.
model gmm_diag_data_prior
const K: int = 3
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
w ~ Dirichlet(2.0)
mu[k] ~ MvNormal(mean(x), diag(v[k]) / 1.0)
v[k] ~ InvGamma(1.0, 0.5 * var(x))
