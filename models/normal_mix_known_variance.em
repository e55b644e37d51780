// A parameter fixed in the model file (issue 11, item 7): the eruption durations of Old
// Faithful as a mixture of two Normals whose variance is known, 0.1 min² (a measurement
// model), so only the weights and the means are estimated. `= 0.1` holds every entry of
// `v` at that value: the M-step keeps it, and BIC/AIC count 3 free parameters, not 5.
model normal_mix_known_variance
const K: int = 2
data   eruptions[N]: real
param  w: simplex[K]
param  m[K]: real
param  v[K]: positive = 0.1
latent z[N]: 0..K
z[n] ~ Categorical(w)
eruptions[n] ~ Normal(m[z[n]], v[z[n]])
