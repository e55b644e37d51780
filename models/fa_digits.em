// Factor analysis of handwritten digits (data/digits.csv: 8x8 images, pixel intensities 0-16):
// each image is a point of a 10-dimensional latent space, mapped to the 61 pixels that vary
// by the loading matrix W, plus a per-pixel offset and per-pixel noise. The constant pixels
// p0, p32 and p39 are left out (their noise variance would go to zero).
model fa_digits
const L: int = 10
data   x[N]: vector[D] except (label, p0, p32, p39)
param  W: matrix[D, L]
param  mu: vector[D]
param  psi: positive[D]
latent h[N]: vector[L]
h[n] ~ MvNormal(0, I)
x[n] ~ MvNormal(W * h[n] + mu, diag(psi))
