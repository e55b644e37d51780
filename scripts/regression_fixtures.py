#!/usr/bin/env python3
"""Reference EM trajectories for mixtures of multivariate regressions, for jensen's tests.

What
----
Fixtures ``tests/fixtures/regression/<case>.json``: ``ITERATIONS`` iterations of EM for a
mixture of multivariate linear regressions, ``x_n | z_n = k ~ N(B_k u_n + mu_k, Sigma_k)``,
written here from scratch with NumPy/SciPy on the Fiji earthquakes: the epicentre
(latitude, longitude) against the depth, K = 2 (``models/regression_quakes_mv.em``). Cases:

- ``quakes_full``: a full residual covariance per component;
- ``quakes_diag``: a diagonal residual covariance per component;
- ``quakes_origin``: no intercept (the mean ``B_k u_n``), on depth and magnitude, full
  covariance.

The E-step evaluates ``scipy.stats.multivariate_normal.logpdf`` of each row at its own mean
``B_k u_n + mu_k``; the M-step solves each component's weighted least squares for all
response coordinates at once from the normal equations ``(AᵀWA) Θ = AᵀWX`` over the design
``A = (u, 1)`` (``A = u`` without an intercept; ``numpy.linalg.solve``), and the covariance is the weighted scatter of the
residuals at the new coefficients divided by ``N_k`` (its diagonal for ``quakes_diag``). No
regularisation (jensen's ``reg_covar = 0``). Each fixture holds the starting parameters,
the total log-likelihood after every E-step (``ITERATIONS + 1`` values, the last at the
parameters of the final M-step) and the final parameters.

Why
---
jensen derives the same M-step differently: statistics about the coefficients of the
E-step, a correction solved by a Cholesky factor of the design's weighted scatter, and the
residual scatter expanded about that correction (``jensen_runtime::kernels::regression``).
From the same start it must follow this implementation step for step
(``tests/tests/references.rs``).

Usage
-----
    .venv-ref/bin/python scripts/regression_fixtures.py
"""
import csv
import json
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OUT = ROOT / "tests" / "fixtures" / "regression"
ITERATIONS = 30

RESPONSE = ["lat", "long"]

# (case, covariates, intercept, diagonal covariance, starting coefficients, intercepts)
CASES = [
    ("quakes_full", ["depth"], True, False, [[[0.0], [0.0]], [[0.0], [0.0]]], [[-20.0, 182.0], [-17.0, 170.0]]),
    ("quakes_diag", ["depth"], True, True, [[[0.0], [0.0]], [[0.0], [0.0]]], [[-20.0, 182.0], [-17.0, 170.0]]),
    ("quakes_origin", ["depth", "mag"], False, False, [[[0.0, -4.0], [0.0, 39.0]], [[0.0, -3.5], [0.0, 37.0]]], None),
]


def read(name, columns):
    with open(DATA / name, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[c]) for c in columns] for r in rows])


def run(x, u, intercept, diag, b, mu):
    n, d = x.shape
    k = len(b)
    a = np.hstack([u, np.ones((n, 1))]) if intercept else u
    w = np.full(k, 1.0 / k)
    b = np.array(b, dtype=float)
    mu = np.array(mu, dtype=float) if intercept else np.zeros((k, d))
    sigma = np.array([np.diag([20.0, 20.0]) for _ in range(k)])
    init = {"w": w.copy(), "B": b.copy(), "Sigma": sigma.copy()}
    if intercept:
        init["mu"] = mu.copy()
    trace = []
    for it in range(ITERATIONS + 1):
        log_joint = np.column_stack(
            [
                np.log(w[j])
                + np.array(
                    [
                        multivariate_normal.logpdf(x[i], b[j] @ u[i] + mu[j], sigma[j])
                        for i in range(n)
                    ]
                )
                for j in range(k)
            ]
        )
        norm = logsumexp(log_joint, axis=1)
        trace.append(float(norm.sum()))
        if it == ITERATIONS:
            break
        resp = np.exp(log_joint - norm[:, None])
        for j in range(k):
            r = resp[:, j]
            nk = r.sum()
            theta = np.linalg.solve(a.T @ (a * r[:, None]), a.T @ (x * r[:, None]))
            b[j] = theta[: u.shape[1]].T
            if intercept:
                mu[j] = theta[-1]
            e = x - a @ theta
            s = (e * r[:, None]).T @ e / nk
            sigma[j] = np.diag(np.diag(s)) if diag else s
            w[j] = nk / n
    final = {"w": w, "B": b, "Sigma": sigma}
    if intercept:
        final["mu"] = mu
    return init, trace, final


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = read("quakes.csv", RESPONSE)
    for case, covariates, intercept, diag, b, mu in CASES:
        u = read("quakes.csv", covariates)
        init, trace, final = run(x, u, intercept, diag, b, mu)
        listed = lambda d: {key: v.tolist() for key, v in d.items()}
        fixture = {
            "data": "quakes.csv",
            "response": RESPONSE,
            "covariates": covariates,
            "intercept": intercept,
            "covariance": "diag" if diag else "full",
            "iterations": ITERATIONS,
            "init": listed(init),
            "log_likelihood": trace,
            "final": listed(final),
        }
        path = OUT / f"{case}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: log-likelihood {trace[0]:.6f} -> {trace[-1]:.6f}")


if __name__ == "__main__":
    main()
