// A Gaussian mixture with one covariance shared by the components (models/gmm_tied.em) fitted
// by MAP-EM on the Old Faithful eruptions (data/faithful.csv), with a normal-inverse-Wishart
// prior whose scales come from the data: every component's mean shrinks towards the data's
// mean with the weight of a tenth of a row, scaled by the shared covariance, whose
// inverse-Wishart prior is centred on a tenth of the data's covariance. The shared
// covariance's update adds each component's deviation from the prior mean, and one row per
// component.
model gmm_tied_map
const K: int = 2
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma)
w ~ Dirichlet(2.0)
mu[k] ~ MvNormal(mean(x), Sigma / 0.1)
Sigma ~ InvWishart(4.0, 0.1 * cov(x))
