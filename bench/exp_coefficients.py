# The coefficients of the vector exponential's polynomial (crates/jensen-runtime/src/mixture.rs,
# EXP_COEFFICIENTS): q(r) = r + r^2 p(r) with p of degree 4 approximates exp(r) - 1 on
# |r| <= ln 2 / 32, p's coefficients chosen to minimise the largest relative error of 1 + q
# against exp(r). p is written as Taylor's 1/(j+2)! plus a correction d(r), found by a linear
# programme on 2001 Chebyshev points (the residual exp's series beyond Taylor's terms, in
# exact rational arithmetic, scaled so that the solver works near 1), then checked in exact
# arithmetic at 20001 other points with the coefficients rounded to doubles.
#
#   .venv-ref/bin/python bench/exp_coefficients.py   (NumPy and SciPy: bench/setup_peer.sh)
import math
from fractions import Fraction as F

import numpy as np
from scipy.optimize import linprog

a = math.log(2) / 32
M = 2001
rs = np.cos(np.pi * np.arange(M) / (M - 1)) * a
n = 5


def beyond_taylor(r):
    """(e^r - 1 - r)/r^2 - sum_{j<5} r^j/(j+2)!, exactly: sum_{j>=5} r^j/(j+2)!."""
    rf = F(r)
    return sum(rf**j / math.factorial(j + 2) for j in range(n, 30))


res = np.array([float(beyond_taylor(r) * 10**12) for r in rs])
weight = rs**2 / np.exp(rs)  # q's error relative to exp(r)
A, b = [], []
for r, rv, wi in zip(rs, res, weight):
    row = [wi * (r / a) ** j for j in range(n)]
    A.append([-x for x in row] + [-1])
    b.append(-wi * rv)
    A.append(row + [-1])
    b.append(wi * rv)
sol = linprog([0] * n + [1], A_ub=A, b_ub=b, bounds=[(None, None)] * n + [(0, None)], method="highs")
d = sol.x[:n]
print("largest relative error on the grid:", sol.x[n] * 1e-12)
coef = [float(F(1, math.factorial(j + 2)) + F(d[j] * 1e-12) / F(a) ** j) for j in range(n)]
for j, c in enumerate(coef):
    bits = np.float64(c).view(np.uint64)
    print(f"c{j} = {c!r}  bits 0x{int(bits):016x}  (Taylor {1 / math.factorial(j + 2)!r})")
worst = 0.0
for r in np.linspace(-a, a, 20001):
    rf = F(r)
    q = rf + rf * rf * sum(F(coef[j]) * rf**j for j in range(n))
    e, term = F(0), F(1)
    for k in range(1, 30):
        e += term
        term = term * rf / k
    worst = max(worst, abs(float((1 + q - e) / e)))
print("largest relative error, rounded coefficients, exact check:", worst)
