#!/usr/bin/env python3
"""Reference trajectories of variational Bayes for factor analysis and probabilistic PCA.

What
----
Writes ``tests/fixtures/vb_fa/<case>.json``: mean-field VB for the linear-Gaussian latent
model ``x_n = W h_n + mu + eps_n``, ``h_n ~ N(0, I_L)``, ``eps_n ~ N(0, Psi)`` with the
conjugate normal-inverse-Gamma prior on each coordinate's loadings and noise,

    w_d | psi_d ~ N(0, psi_d I_L / alpha),    psi_d ~ IG(a0, b0_d),

(``Psi = diag(psi)``; for PPCA one variance ``s`` for every coordinate, ``w_d | s ~
N(0, s I / alpha)``, ``s ~ IG(a0, b0)``) and a point estimate of ``mu`` (no prior). The
factorisation is ``q(h) q(W, psi)``; ``q(W, psi)`` stays normal-inverse-Gamma,
``w_d | psi_d ~ N(m_d, psi_d V)``, ``psi_d ~ IG(a, b_d)``.

From a given starting posterior (``M0``, ``V0``, ``b0 / a`` and ``a``, ``mu0``) every
iteration records the posterior, then

1. the E-step: ``q(h_n) = N(hbar_n, S)`` with precision ``I + sum_d E[w_d w_d^T / psi_d] =
   I + D V + M^T diag(a / b) M`` and mean ``S M^T diag(a / b) (x_n - mu)``;
2. the ELBO at ``q(h) q(W, psi)``, summed term by term from the definitions (expected
   log-likelihood with ``E[(r - w^T h)^2 / psi] = (a / b)((r - m^T hbar)^2 + m^T S m) +
   tr(V (S + hbar hbar^T))``, ``E ln p(h)``, the entropy of ``q(h)``, ``E ln p(W | psi) -
   E ln q(W | psi)`` and ``E ln p(psi) - E ln q(psi)`` with ``E ln psi = ln b - digamma(a)``);
3. the M-step: ``(m_d, mu_d)`` jointly, from the augmented normal equations with ``h~ =
   (h, 1)``: ``[[alpha I + S_h, sum hbar], [sum hbar^T, N]] (m_d, mu_d) = (sum_n x_nd hbar_n,
   sum_n x_nd)`` (the ridge with the intercept unpenalised, ``S_h = N S + sum hbar hbar^T``);
   ``V = (alpha I + S_h)^-1``; ``a = a0 + N / 2`` (PPCA: ``a0 + N D / 2``) and ``b_d = b0_d +
   (sum_n x_nd^2 - rhs^T sol) / 2``, the minimum of the penalised expected residual (PPCA: the
   sum over the coordinates).

This is written from the model's definition, not from jensen's formulas: jensen's E-step
moves ``-D/2 h^T V h`` into the latent prior and adds an offset, its ELBO is the E-step's
normaliser minus closed-form KL terms, and its M-step is a residual-based step from the
previous loadings.

Cases
-----
* ``fa_iris``: iris.csv, the four measurements, L = 2, alpha = 2, a0 = 1, b0 = 0.01 var(x)
  (per column, ``ddof=1``).
* ``ppca_iris``: the same data, isotropic noise, b0 = 0.01 * mean of the column variances.
* ``fa_digits``: digits.csv, the 61 non-constant pixels, L = 5, alpha = 1, a0 = 2,
  b0 = 0.05 var(x); 12 iterations (the others 40).

Usage: ``.venv-ref/bin/python scripts/vb_fa_fixtures.py [--data-dir data]``
(``scripts/make_fixtures.sh`` runs it).
"""

import argparse
import csv
import json
import os
import platform

import numpy as np
import scipy
from scipy.special import digamma, gammaln

ITERATIONS = 40


def read(path, columns=None):
    with open(path) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if columns is None:
        columns = header
    idx = [header.index(c) for c in columns]
    return np.array([[float(r[i]) for i in idx] for r in body]), columns


def elbo(x, mu, m, v, a, b, alpha, a0, b0, spherical):
    n, d = x.shape
    l = m.shape[1]
    e_inv = a / b  # E[1 / psi_d]
    e_ln = np.log(b) - digamma(a)  # E[ln psi_d]
    prec = np.eye(l) + d * v + m.T @ (e_inv[:, None] * m)
    s = np.linalg.inv(prec)
    hbar = ((x - mu) * e_inv) @ m @ s
    r = x - mu - hbar @ m.T
    spread = np.einsum("dl,lk,dk->d", m, s, m)  # m_d^T S m_d
    sh = n * s + hbar.T @ hbar
    e_sq = e_inv * ((r**2).sum(axis=0) + n * spread) + np.trace(v @ sh)
    loglik = -0.5 * (n * d * np.log(2 * np.pi) + n * e_ln.sum() + e_sq.sum())
    ln_p_h = -0.5 * (n * l * np.log(2 * np.pi) + np.trace(sh))
    entropy = 0.5 * n * (l * (1 + np.log(2 * np.pi)) + np.linalg.slogdet(s)[1])
    ln_p_w = (
        -0.5 * l * d * np.log(2 * np.pi)
        + 0.5 * l * d * np.log(alpha)
        - 0.5 * l * e_ln.sum()
        - 0.5 * alpha * (d * np.trace(v) + (e_inv * (m**2).sum(axis=1)).sum())
    )
    ln_q_w = d * (
        -0.5 * l * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(v)[1] - 0.5 * l
    ) - 0.5 * l * e_ln.sum()
    if spherical:
        # One variance: its terms once (e_ln, e_inv, b repeat it per coordinate).
        e_ln1, e_inv1, b1 = e_ln[0], e_inv[0], b[0]
        ln_p_psi = a0 * np.log(b0) - gammaln(a0) - (a0 + 1) * e_ln1 - b0 * e_inv1
        ln_q_psi = a * np.log(b1) - gammaln(a) - (a + 1) * e_ln1 - b1 * e_inv1
    else:
        ln_p_psi = (a0 * np.log(b0) - gammaln(a0) - (a0 + 1) * e_ln - b0 * e_inv).sum()
        ln_q_psi = (a * np.log(b) - gammaln(a) - (a + 1) * e_ln - b * e_inv).sum()
    total = loglik + ln_p_h + entropy + ln_p_w - ln_q_w + ln_p_psi - ln_q_psi
    return total, hbar, s


def m_step(x, hbar, s, alpha, a0, b0, spherical):
    n, d = x.shape
    l = hbar.shape[1]
    sh = n * s + hbar.T @ hbar
    aug = np.zeros((l + 1, l + 1))
    aug[:l, :l] = alpha * np.eye(l) + sh
    aug[:l, l] = aug[l, :l] = hbar.sum(axis=0)
    aug[l, l] = n
    rhs = np.vstack([hbar.T @ x, x.sum(axis=0)])  # (L + 1) x D
    sol = np.linalg.solve(aug, rhs)
    m, mu = sol[:l].T, sol[l]
    v = np.linalg.inv(alpha * np.eye(l) + sh)
    penalised = (x**2).sum(axis=0) - (rhs * sol).sum(axis=0)
    if spherical:
        a = a0 + 0.5 * n * d
        b = np.full(d, b0 + 0.5 * penalised.sum())
    else:
        a = a0 + 0.5 * n
        b = b0 + 0.5 * penalised
    return mu, m, 0.5 * (v + v.T), a, b


def case(name, x, columns, data, l, alpha, a0, factor, spherical, seed, iterations=ITERATIONS):
    n, d = x.shape
    var = x.var(axis=0, ddof=1)
    b0 = factor * (var.mean() if spherical else var)
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(d, l)) * np.sqrt(var)[:, None] / np.sqrt(l)
    mu = x.mean(axis=0) + 0.1 * np.sqrt(var) * rng.normal(size=d)
    v = 0.02 * np.eye(l) + 0.005
    a = a0 + 0.5 * n * (d if spherical else 1)
    psi = np.full(d, 0.5 * var.mean()) if spherical else 0.5 * var
    b = a * psi
    trajectory = []
    last = -np.inf
    for _ in range(iterations):
        value, hbar, s = elbo(x, mu, m, v, a, b, alpha, a0, b0, spherical)
        assert value >= last - 1e-9 * abs(value), (name, last, value)
        last = value
        trajectory.append(
            {
                "W": m.tolist(),
                "W_row_cov": v.tolist(),
                "mu": mu.tolist(),
                # jensen keeps b / a = E[1 / psi]^-1 and the shape a.
                "psi": (b[0] / a if spherical else b / a).tolist(),
                "psi_shape": a,
                "elbo": value,
            }
        )
        mu, m, v, a, b = m_step(x, hbar, s, alpha, a0, b0, spherical)
    out = {
        "case": name,
        "data": data,
        "columns": columns,
        "N": n,
        "D": d,
        "L": l,
        "spherical": spherical,
        "priors": {"alpha": alpha, "a0": a0, "b0_factor": factor, "b0": np.atleast_1d(b0).tolist()},
        "trajectory": trajectory,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
    }
    return out


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=os.path.join(repo, "data"))
    args = parser.parse_args()
    out_dir = os.path.join(repo, "tests", "fixtures", "vb_fa")
    os.makedirs(out_dir, exist_ok=True)
    iris_cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    iris, _ = read(os.path.join(args.data_dir, "iris.csv"), iris_cols)
    digits_all, header = read(os.path.join(args.data_dir, "digits.csv"))
    pixels = [c for c in header if c != "label"]
    keep = [c for c in pixels if digits_all[:, header.index(c)].var() > 0]
    digits = digits_all[:, [header.index(c) for c in keep]]
    cases = [
        case("fa_iris", iris, iris_cols, "iris.csv", 2, 2.0, 1.0, 0.01, False, 1),
        case("ppca_iris", iris, iris_cols, "iris.csv", 2, 2.0, 1.0, 0.01, True, 2),
        case("fa_digits", digits, keep, "digits.csv", 5, 1.0, 2.0, 0.05, False, 3, 12),
    ]
    for c in cases:
        path = os.path.join(out_dir, c["case"] + ".json")
        with open(path, "w") as f:
            json.dump(c, f, indent=1)
            f.write("\n")
        t = c["trajectory"]
        print(f"{path}: ELBO {t[0]['elbo']:.6f} -> {t[-1]['elbo']:.6f} in {len(t)} iterations")


if __name__ == "__main__":
    main()
