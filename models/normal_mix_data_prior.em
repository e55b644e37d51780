// A two-component Normal mixture of the Old Faithful eruption durations (data/faithful.csv),
// fitted by MAP-EM with priors from the data: the means shrink towards the data's mean with
// a tenth of a row's weight, and each variance has an inverse-Gamma prior whose scale is a
// tenth of the data's variance.
model normal_mix_data_prior
const K: int = 2
data   y[N]: real from (eruptions)
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
y[n] ~ Normal(m[z[n]], v[z[n]])
w ~ Dirichlet(2.0)
m[k] ~ Normal(mean(y), v[k] / 0.1)
v[k] ~ InvGamma(1.0, 0.1 * var(y))
