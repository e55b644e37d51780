// Mixed-type mixture on data/quakes.csv: location, depth and magnitude (diagonal Gaussian)
// and the number of reporting stations (Poisson) share one latent cluster per event.
model quakes_mixed
const K: int = 3
data   site[N]: vector[D] from (lat, long, depth, mag)
data   stations[N]: count
param  w: simplex[K]
param  mu[K]: vector[D]
param  v[K]: positive[D]
param  rate[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
site[n] ~ MvNormal(mu[z[n]], diag(v[z[n]]))
stations[n] ~ Poisson(rate[z[n]])
