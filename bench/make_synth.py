#!/usr/bin/env python3
"""Generate a synthetic Gaussian-mixture data set and EM starting point for benchmarks.

What
----
Writes two files into ``--out``:

* ``synth.csv``: a header row ``x0,...,x{d-1}`` followed by ``n`` rows drawn
  from a K-component Gaussian mixture with random means, random full
  covariances and random (not too unbalanced) weights;
* ``init.json``: EM starting parameters in the same format as
  ``tests/fixtures/sklearn/*.json``'s ``init`` (full covariance):
  ``{"weights": [K], "means": [K][D], "covariances": [K][D][D]}`` with uniform
  weights, means = data rows at distinct indices chosen by the rng, and
  covariances = K copies of the whole-data (biased, divide-by-N) covariance.

Why
---
jensen and its peers (e.g. ``bench/sklearn_gmm.py``) are timed on the same
data from the same starting parameters, so per-iteration costs are
comparable and the final log-likelihoods can be cross-checked.

Everything is drawn from ``numpy.random.default_rng(seed)``, so the output is
reproducible. Values are written with 17 significant digits, so the numbers
in ``synth.csv`` parse back to exactly the float64 values used to build
``init.json``.

Usage
-----
    python bench/make_synth.py --n 100000 --d 8 --k 8 --seed 7 --out bench/out/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def make_mixture(rng: np.random.Generator, n: int, d: int, k: int) -> np.ndarray:
    """Draw n points from a random, fairly well separated K-component mixture."""
    # Component means spread over a wide box; within-cluster spread is O(1),
    # so clusters are "well-separated-ish" but may still touch.
    means = rng.uniform(-10.0, 10.0, size=(k, d))
    # Random full covariances: A A^T / d is a random PSD matrix with O(1)
    # scale; the ridge keeps every component comfortably non-degenerate.
    covs = []
    for _ in range(k):
        a = rng.normal(size=(d, d))
        covs.append(a @ a.T / d + 0.25 * np.eye(d))
    # Mildly unbalanced weights.
    weights = rng.dirichlet(np.full(k, 5.0))
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    for j in range(k):
        idx = np.flatnonzero(labels == j)
        X[idx] = rng.multivariate_normal(means[j], covs[j], size=idx.size)
    return X


def make_init(rng: np.random.Generator, X: np.ndarray, k: int) -> dict:
    """Uniform weights, rng-chosen distinct data rows as means, data covariance x K."""
    n, d = X.shape
    rows = np.sort(rng.choice(n, size=k, replace=False))
    centred = X - X.mean(axis=0)
    cov = centred.T @ centred / n  # biased (divide by N)
    return {
        "weights": np.full(k, 1.0 / k).tolist(),
        "means": X[rows].tolist(),
        "covariances": np.repeat(cov[np.newaxis], k, axis=0).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of rows")
    parser.add_argument("--d", type=int, default=8, help="number of columns")
    parser.add_argument("--k", type=int, default=8, help="number of mixture components")
    parser.add_argument("--seed", type=int, default=7, help="numpy default_rng seed")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="output directory")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    X = make_mixture(rng, args.n, args.d, args.k)
    init = make_init(rng, X, args.k)

    args.out.mkdir(parents=True, exist_ok=True)
    header = ",".join(f"x{j}" for j in range(args.d))
    # %.17g round-trips float64 exactly.
    np.savetxt(args.out / "synth.csv", X, fmt="%.17g", delimiter=",", header=header, comments="")
    with (args.out / "init.json").open("w") as f:
        json.dump(init, f)  # floats are written with repr: exact f64 round trip
        f.write("\n")
    print(f"wrote {args.out / 'synth.csv'} ({args.n}x{args.d}) and {args.out / 'init.json'} (k={args.k})")


if __name__ == "__main__":
    main()
