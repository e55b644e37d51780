// A Bayesian Gaussian mixture with one covariance shared by the components, fitted by
// mean-field variational Bayes on the Old Faithful eruptions (data/faithful.csv): the
// conjugate normal-inverse-Wishart model, q(Sigma) = IW(ν0 + N, Ψ0 + Σ_k (S_k + κ0 (m_k − m0)
// (m_k − m0)ᵀ)) and q(mu[k] | Sigma) = N(m_k, Sigma / κ_k). (scikit-learn's tied
// BayesianGaussianMixture is not this model: it adds N / K, not N, to the degrees of freedom.)
model bgmm_tied
method vb
const K: int = 4
data   x[N]: vector[D]
param  w: simplex[K]
param  mu[K]: vector[D]
param  Sigma: cov[D]
latent z[N]: 0..K
z[n] ~ Categorical(w)
x[n] ~ MvNormal(mu[z[n]], Sigma)
w ~ Dirichlet(0.05)
mu[k] ~ MvNormal(mean(x), Sigma / 1.0)
Sigma ~ InvWishart(2.0, 0.1 * cov(x))
