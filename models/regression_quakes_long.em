// One covariate: the depth of the Fiji earthquakes against longitude alone, two lines —
// the slab, whose depth falls about 10 km per degree eastward, and the shallow events.
// `beta[z[n]] * long[n]` is the scalar form of `dot(beta[z[n]], u[n])`.
model regression_quakes_long
const K: int = 2
data   long[N]: real
data   depth[N]: real
param  w: simplex[K]
param  beta[K]: real
param  c[K]: real
param  s[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
depth[n] ~ Normal(beta[z[n]] * long[n] + c[z[n]], s[z[n]])
