#!/usr/bin/env python3
"""Generate a synthetic factor-analysis data set for the jensen vs scikit-learn benchmark.

What
----
Writes two files into ``--out``:

* ``fa_synth.csv``: a header row ``x0,...,x{d-1}`` followed by ``n`` rows
  drawn from a factor-analysis model with ``l`` factors,
  ``x = W h + mu + e``, ``h ~ N(0, I_l)``, ``e ~ N(0, diag(psi))``, with the
  generating parameters drawn as: ``W`` (d x l) with N(0, 1) entries, ``mu``
  uniform in [-3, 3], ``psi`` uniform in [0.2, 1.0];
* ``fa_truth.json``: the generating parameters (``W``, ``mu``, ``psi``, in
  the parameter names of ``bench/fa.em``) and the TOTAL log-likelihood of the
  written data under them (``log_likelihood_truth``), for reference only: the
  maximum-likelihood fit is a little higher.

Why
---
jensen (``bench/fa.em``) and scikit-learn's ``FactorAnalysis``
(``bench/sklearn_fa.py``) are timed fitting the same data to convergence;
``log_likelihood_truth`` tells whether both reached a sensible optimum.

Everything is drawn from ``numpy.random.default_rng(seed)``, so the output is
reproducible. Values are written with 17 significant digits (exact float64
round trip), so the reference log-likelihood, computed from the rows in
memory, is that of the file as both tools parse it. It is in closed form: ``C = W W^T + diag(psi)`` is factored once
(Cholesky) and ``ln N(x | mu, C)`` summed over the rows.

Usage
-----
    python bench/make_fa_synth.py --n 100000 --d 50 --l 10 --seed 7 --out bench/out/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def make_fa(rng: np.random.Generator, n: int, d: int, l: int) -> tuple[np.ndarray, dict]:
    """Draw the generating parameters, then n rows x = W h + mu + e."""
    w = rng.normal(size=(d, l))
    mu = rng.uniform(-3.0, 3.0, size=d)
    psi = rng.uniform(0.2, 1.0, size=d)
    h = rng.normal(size=(n, l))
    e = rng.normal(size=(n, d)) * np.sqrt(psi)
    X = h @ w.T + mu + e
    return X, {"W": w, "mu": mu, "psi": psi}


def total_log_likelihood(X: np.ndarray, w: np.ndarray, mu: np.ndarray, psi: np.ndarray) -> float:
    """sum_n ln N(x_n | mu, W W^T + diag(psi)), via one Cholesky factor of the D x D covariance."""
    n, d = X.shape
    cov = w @ w.T + np.diag(psi)
    chol = np.linalg.cholesky(cov)
    # Solve L z = (x - mu)^T for all rows at once; ||z||^2 is the Mahalanobis term.
    z = np.linalg.solve(chol, (X - mu).T)
    maha = np.einsum("ij,ij->", z, z)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return float(-0.5 * (n * d * np.log(2.0 * np.pi) + n * log_det + maha))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of rows")
    parser.add_argument("--d", type=int, default=50, help="number of columns")
    parser.add_argument("--l", type=int, default=10, help="number of factors")
    parser.add_argument("--seed", type=int, default=7, help="numpy default_rng seed")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="output directory")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X, truth = make_fa(rng, args.n, args.d, args.l)

    args.out.mkdir(parents=True, exist_ok=True)
    csv = args.out / "fa_synth.csv"
    header = ",".join(f"x{j}" for j in range(args.d))
    # %.17g round-trips float64 exactly.
    np.savetxt(csv, X, fmt="%.17g", delimiter=",", header=header, comments="")

    # Reference log-likelihood of the data as written (and as both tools read it back).
    ll = total_log_likelihood(X, truth["W"], truth["mu"], truth["psi"])
    out = {key: value.tolist() for key, value in truth.items()}
    out.update({"n": args.n, "d": args.d, "l": args.l, "seed": args.seed, "log_likelihood_truth": ll})
    with (args.out / "fa_truth.json").open("w") as f:
        json.dump(out, f)  # floats are written with repr: exact f64 round trip
        f.write("\n")
    print(
        f"wrote {csv} ({args.n}x{args.d}, {args.l} factors) and {args.out / 'fa_truth.json'}: "
        f"log-likelihood at the generating parameters {ll:.6f}"
    )


if __name__ == "__main__":
    main()
