// Probabilistic PCA of iris (ppca_iris.em) fitted by variational Bayes: one noise variance
// `s2 ~ IG(1, 0.01 mean(var(x)))` with every row of the loadings `w_d | s2 ~ N(0, s2 I / 2)`;
// the posterior is `w_d | s2 ~ N(m_d, s2 V)`, `s2 ~ IG(1 + N D / 2, b)`. The mean is a point
// estimate.
model ppca_iris_vb
method vb
const L: int = 2
data   x[N]: vector[D] from (sepal_length, sepal_width, petal_length, petal_width)
param  W: matrix[D, L]
param  mu: vector[D]
param  s2: positive
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, s2 * I)
W ~ Normal(0.0, s2 / 2.0)
s2 ~ InvGamma(1.0, 0.01 * var(x))
