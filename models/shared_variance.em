// Two petal measurements of iris (data/iris.csv) with their own means but one variance per
// component shared by both features: the M-step of `v` pools the statistics of both
// statements.
model shared_variance
const K: int = 3
data   petal_length[N]: real
data   petal_width[N]: real
param  w: simplex[K]
param  m_length[K]: real
param  m_width[K]: real
param  v[K]: positive
latent z[N]: 0..K
z[n] ~ Categorical(w)
petal_length[n] ~ Normal(m_length[z[n]], v[z[n]])
petal_width[n] ~ Normal(m_width[z[n]], v[z[n]])
