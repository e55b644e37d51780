// k-means on the Old Faithful eruptions (data/faithful.csv), written as a model: unit
// covariances, equal weights and a hard E-step. Each iteration assigns every row to its
// nearest centre and moves each centre to the mean of its rows (Lloyd's algorithm); the
// objective, the complete-data log-likelihood, is −½ · inertia up to a constant.
model kmeans
const K: int = 3
estep hard
data   x[N]: vector[D]
param  mu[K]: vector[D]
latent z[N]: 0..K
z[n] ~ Categorical(1 / K)
x[n] ~ MvNormal(mu[z[n]], I)
