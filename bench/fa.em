// Factor analysis for the speed benchmark (bench/run_fa.sh): models/fa_digits.em with the
// data item binding every column of bench/out/fa_synth.csv (x0..x{D-1}), i.e. no except
// clause. Each row is a point of an L-dimensional latent space mapped to the D columns by
// the loading matrix W, plus a per-column offset mu and per-column noise psi.
model fa_bench
const L: int = 10
data   x[N]: vector[D]
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
