// The document mixture of models/multinomial_debian.em by variational Bayes: Dirichlet
// posteriors over the weights and each cluster's word distribution,
// q(theta_k) = Dir(0.5 + Σ_n r_nk x_n), and responsibilities from exp E[ln theta_kv].
model multinomial_debian_vb
method vb
const K: int = 6
data   x[N]: count[V] except (package, section)
param  w: simplex[K]
param  theta[K]: simplex[V]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ Multinomial(theta[z[n]])
theta[k] ~ Dirichlet(0.5)
w ~ Dirichlet(1.0)
