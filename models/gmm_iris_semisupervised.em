// Semi-supervised Gaussian mixture of the iris measurements: the species is known for 15 of
// the 150 flowers (data/iris_partially_labelled.csv, empty elsewhere). `from (species)` reads
// the latent's known values: those rows' posteriors are clamped to their species, the others
// are inferred, and the components are the species (0 = setosa, 1 = versicolor,
// 2 = virginica, in sorted order).
model gmm_iris_semisupervised
const K: int = 3
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma[K]: cov[D]
latent z[N]: 0..K from (species)
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma[z[n]])
