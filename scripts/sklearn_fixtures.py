#!/usr/bin/env python3
"""Generate scikit-learn reference EM trajectories for jensen's tests.

What
----
For a small set of (data set, K, covariance type) cases this script runs
exactly ``ITERATIONS`` EM iterations of scikit-learn's ``GaussianMixture``
from explicitly stored, deterministic starting parameters and writes, per
case, ``tests/fixtures/sklearn/<data>_<covariance_type>.json`` containing:

* the starting parameters (``init``) in scikit-learn's own array shapes,
* the TOTAL log-likelihood (sum over samples, not the per-sample mean) after
  every E-step -- ``ITERATIONS + 1`` values, the last one evaluated at the
  parameters produced by the final M-step,
* the final parameters (``final``).

Why
---
jensen's EM must reproduce scikit-learn's trajectory step for step when it
starts from the same parameters. ``GaussianMixture.fit`` cannot be given a
full set of starting covariances (only precisions, and it also applies its
own convergence test), so instead we set the fitted attributes directly and
drive scikit-learn's private ``_e_step`` / ``_m_step`` ourselves. The
E-step and M-step arithmetic is therefore exactly scikit-learn's.

Starting parameters
-------------------
* weights: uniform, 1/K;
* means: data rows at fixed indices (``MEAN_ROWS``);
* covariances: the whole-data sample covariance (biased, divided by N),
  shaped for the covariance type: full -> K x D x D copies, tied -> D x D,
  diag -> K x D copies of its diagonal, spherical -> K copies of the mean of
  its diagonal (this matches how scikit-learn reduces full -> diag ->
  spherical in its own M-step).

Usage
-----
    python scripts/sklearn_fixtures.py [--data-dir DIR] [--out-dir DIR]

Defaults: data is read from ``<repo>/../shared/data`` and fixtures are
written to ``<repo>/tests/fixtures/sklearn``. Normally invoked through
``scripts/make_fixtures.sh``, which sets up the pinned ``.venv-ref``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

REPO_ROOT = Path(__file__).resolve().parent.parent

ITERATIONS = 40
REG_COVAR = 0.0
COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")
# Relative slack allowed when checking that the log-likelihood never decreases.
MONOTONE_RTOL = 1e-9

# name -> (csv file, columns used, K, row indices used as starting means)
DATASETS = {
    # rows 0 and 1 are (3.6, 79) and (1.8, 54): one in each cluster, but far
    # from the cluster centres.
    "faithful": ("faithful.csv", ["eruptions", "waiting"], 2, [0, 1]),
    # one row from each species block (setosa 0-49, versicolor 50-99,
    # virginica 100-149).
    "iris": (
        "iris.csv",
        ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        3,
        [0, 60, 120],
    ),
}


def read_columns(path: Path, columns: list[str]) -> np.ndarray:
    """Read the named numeric columns of a headed CSV into an (N, D) float64 array."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [[float(row[c]) for c in columns] for row in reader]
    return np.asarray(rows, dtype=np.float64)


def initial_parameters(X: np.ndarray, k: int, mean_rows: list[int], covariance_type: str):
    """Deterministic starting (weights, means, covariances) in sklearn's shapes."""
    n, d = X.shape
    weights = np.full(k, 1.0 / k)
    means = X[mean_rows].copy()
    # Biased (divide-by-N) whole-data covariance.
    centred = X - X.mean(axis=0)
    cov = centred.T @ centred / n
    if covariance_type == "full":
        covariances = np.repeat(cov[np.newaxis, :, :], k, axis=0)  # (K, D, D)
    elif covariance_type == "tied":
        covariances = cov.copy()  # (D, D)
    elif covariance_type == "diag":
        covariances = np.repeat(np.diag(cov)[np.newaxis, :], k, axis=0)  # (K, D)
    elif covariance_type == "spherical":
        covariances = np.full(k, np.diag(cov).mean())  # (K,)
    else:
        raise ValueError(f"unknown covariance type {covariance_type!r}")
    return weights, means, covariances


def run_em(X: np.ndarray, k: int, covariance_type: str, weights, means, covariances):
    """Run ITERATIONS EM steps with sklearn's internals; return (ll trajectory, model)."""
    n = X.shape[0]
    gm = GaussianMixture(
        n_components=k, covariance_type=covariance_type, reg_covar=REG_COVAR
    )
    # Install the starting parameters exactly as fit() would leave them.
    gm.weights_ = weights.copy()
    gm.means_ = means.copy()
    gm.covariances_ = covariances.copy()
    gm.precisions_cholesky_ = _compute_precision_cholesky(covariances, covariance_type)

    trajectory = []
    for it in range(ITERATIONS + 1):
        log_prob_norm, log_resp = gm._e_step(X)  # log_prob_norm is a per-sample mean
        trajectory.append(float(log_prob_norm) * n)  # record the TOTAL log-likelihood
        if it < ITERATIONS:
            gm._m_step(X, log_resp)
    return trajectory, gm


def check_monotone(name: str, trajectory: list[float]) -> None:
    """EM must never decrease the log-likelihood (up to rounding)."""
    for i in range(1, len(trajectory)):
        prev, cur = trajectory[i - 1], trajectory[i]
        assert math.isfinite(cur), f"{name}: non-finite log-likelihood at step {i}"
        assert cur >= prev - MONOTONE_RTOL * abs(prev), (
            f"{name}: log-likelihood decreased at step {i}: {prev!r} -> {cur!r}"
        )


def params_to_json(weights, means, covariances) -> dict:
    return {
        "weights": np.asarray(weights).tolist(),
        "means": np.asarray(means).tolist(),
        "covariances": np.asarray(covariances).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / ".." / "shared" / "data",
        help="directory holding faithful.csv and iris.csv (default: <repo>/../shared/data)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "tests" / "fixtures" / "sklearn",
        help="where to write <name>.json (default: <repo>/tests/fixtures/sklearn)",
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    for data_name, (filename, columns, k, mean_rows) in DATASETS.items():
        X = read_columns(args.data_dir / filename, columns)
        for covariance_type in COVARIANCE_TYPES:
            name = f"{data_name}_{covariance_type}"
            init = initial_parameters(X, k, mean_rows, covariance_type)
            trajectory, gm = run_em(X, k, covariance_type, *init)
            check_monotone(name, trajectory)
            # Sanity: the stored init shapes are exactly sklearn's covariances_ shapes.
            assert np.shape(init[2]) == np.shape(gm.covariances_), name

            fixture = {
                "data": filename,
                "columns": columns,
                "k": k,
                "covariance_type": covariance_type,
                "reg_covar": REG_COVAR,
                "sklearn_version": sklearn.__version__,
                "iterations": ITERATIONS,
                "init": params_to_json(*init),
                "log_likelihood": trajectory,
                "final": params_to_json(gm.weights_, gm.means_, gm.covariances_),
            }
            out = args.out_dir / f"{name}.json"
            with out.open("w") as f:
                json.dump(fixture, f, indent=1)  # floats are written with repr: exact f64 round trip
                f.write("\n")
            print(
                f"{out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}: "
                f"ll[0]={trajectory[0]!r} ll[{ITERATIONS}]={trajectory[-1]!r}"
            )


if __name__ == "__main__":
    main()
