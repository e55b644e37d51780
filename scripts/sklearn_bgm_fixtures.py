#!/usr/bin/env python3
"""Generate scikit-learn variational-Bayes GMM trajectories for jensen's tests.

What
----
For a small set of (data set, K, covariance type, priors) cases this script
runs exactly ``ITERATIONS`` mean-field variational-Bayes iterations of
scikit-learn's ``BayesianGaussianMixture`` with a finite Dirichlet weight
prior (``weight_concentration_prior_type="dirichlet_distribution"``), started
from stored initial hard responsibilities, and writes, per case,
``tests/fixtures/sklearn_bgm/<case>.json`` containing:

* the case description (data file, columns, K, covariance type, priors
  ``alpha0, kappa0, m0, nu0, c``) and the scikit-learn version;
* ``init_labels``: the integer labels (0..K-1) whose one-hot encoding is the
  initial responsibility matrix; they come from
  ``KMeans(n_clusters=K, n_init=1, random_state=0)`` (Lloyd) and are stored so
  that the consumer does not need to recompute them;
* ``trajectory``: ``ITERATIONS + 1`` snapshots of the posterior parameters --
  entry 0 right after ``_initialize`` (the M-step-like update from the one-hot
  responsibilities), entry i after the i-th M-step. Each snapshot holds
  ``weight_concentration`` (K), ``mean_precision`` (K), ``means`` (K x D),
  ``degrees_of_freedom`` (K) and ``covariances`` (K x D x D for full, K x D
  for diag), i.e. scikit-learn's fitted attributes of the same names with a
  trailing underscore;
* ``lower_bound``: ``ITERATIONS`` values of scikit-learn's
  ``_compute_lower_bound`` (informational only, see below);
* ``estep``: ``"sklearn"`` or ``"exact-diagonal"`` (see below).

Why
---
jensen's mean-field VB must reproduce scikit-learn's trajectory step for step
(to ~1e-8 relative in every posterior parameter) when it starts from the same
responsibilities. ``BayesianGaussianMixture.fit`` cannot be given starting
responsibilities and applies its own convergence test, so instead we perform
the set-up that ``fit_predict`` does (``_validate_params``,
``_check_parameters``, which set ``weight_concentration_prior_``,
``mean_precision_prior_``, ``mean_prior_``, ``degrees_of_freedom_prior_`` and
``covariance_prior_``), call ``_initialize(X, resp0)`` and then drive the
private ``_e_step`` / ``_m_step`` ourselves, in the order ``fit`` uses:

    log_prob_norm, log_resp = bgm._e_step(X)
    bgm._m_step(X, log_resp)
    lower_bound.append(bgm._compute_lower_bound(log_resp, log_prob_norm))

The lower bound is evaluated after the M-step, as ``fit`` does (its
simplified formula drops terms that only cancel when the parameters are the
M-step optimum for ``log_resp``); for the full cases the values are checked to
be identical to ``fit(max_iter=ITERATIONS, tol=0).lower_bounds_``, and the
last snapshot identical to the fitted attributes.

Diagonal covariance: corrected E-step
-------------------------------------
scikit-learn's ``_estimate_log_prob`` uses the Wishart expected
log-determinant ``D ln 2 + sum_{d<D} digamma((nu - d) / 2)`` for every
covariance type. With a diagonal precision and independent Gamma posteriors
per coordinate (shape nu/2, rate nu*cov_d/2 -- exactly the posterior
scikit-learn's own diagonal M-step computes), the exact expectation is
``E[sum_d ln lambda_d] = D digamma(nu/2) + D ln 2 - D ln nu - sum_d ln cov_d``.
The ``-D ln nu - sum ln cov`` parts are already in scikit-learn's expression,
so the diagonal cases use ``ExactDiagBGM``, whose ``_estimate_log_prob`` is
scikit-learn's with the single change
``log_lambda = D ln 2 + D digamma(nu/2)``. These fixtures record
``"estep": "exact-diagonal"``; full ones ``"estep": "sklearn"``. For the
diagonal cases the script also runs stock scikit-learn the same way and
prints (only) the largest relative difference of the final
``weight_concentration`` between stock and corrected. The ``lower_bound`` of
the diagonal cases is still scikit-learn's formula (Wishart normaliser), which
is not the exact bound of the Gamma model: informational only.

Usage
-----
    python scripts/sklearn_bgm_fixtures.py [--data-dir DIR] [--out-dir DIR]

Defaults: data is read from ``<repo>/data`` and fixtures are written to
``<repo>/tests/fixtures/sklearn_bgm``. Normally invoked through
``scripts/make_fixtures.sh``, which sets up the pinned ``.venv-ref``. BLAS and
OpenMP are limited to one thread so that the output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np
import sklearn
from scipy.special import digamma
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_log_gaussian_prob
from threadpoolctl import threadpool_limits

REPO_ROOT = Path(__file__).resolve().parent.parent

ITERATIONS = 60
REG_COVAR = 0.0

FAITHFUL = ("faithful.csv", ["eruptions", "waiting"])
IRIS = ("iris.csv", ["sepal_length", "sepal_width", "petal_length", "petal_width"])

# name -> (data, K, covariance type, priors)
CASES = {
    "faithful_full_k6": (
        FAITHFUL, 6, "full", dict(alpha0=0.01, kappa0=0.01, m0=0.0, nu0=2.0, c=1.0)
    ),
    "faithful_full_k2": (
        FAITHFUL, 2, "full", dict(alpha0=1.0, kappa0=0.01, m0=0.0, nu0=3.0, c=0.5)
    ),
    "iris_full_k3": (
        IRIS, 3, "full", dict(alpha0=0.1, kappa0=0.05, m0=3.0, nu0=5.0, c=0.1)
    ),
    "faithful_diag_k6": (
        FAITHFUL, 6, "diag", dict(alpha0=0.01, kappa0=0.01, m0=0.0, nu0=2.0, c=1.0)
    ),
    "iris_diag_k3": (
        IRIS, 3, "diag", dict(alpha0=0.1, kappa0=0.05, m0=3.0, nu0=5.0, c=0.1)
    ),
    "faithful_spherical_k4": (
        FAITHFUL, 4, "spherical", dict(alpha0=0.05, kappa0=0.01, m0=0.0, nu0=2.0, c=1.0)
    ),
    # scikit-learn's default priors, computed from the data: weight concentration 1/K, mean
    # precision 1, mean prior X.mean(0), D degrees of freedom, covariance prior np.cov(X.T)
    # (full), np.var(X, 0, ddof=1) (diag) or its mean (spherical). jensen writes them as
    # `mean(x)`, `cov(x)` and `var(x)` in the model file.
    "faithful_full_k6_defaults": (FAITHFUL, 6, "full", dict(defaults=True)),
    "iris_diag_k3_defaults": (IRIS, 3, "diag", dict(defaults=True)),
    "faithful_spherical_k4_defaults": (FAITHFUL, 4, "spherical", dict(defaults=True)),
    "iris_spherical_k3": (
        IRIS, 3, "spherical", dict(alpha0=0.1, kappa0=0.05, m0=3.0, nu0=5.0, c=0.1)
    ),
}

PARAMETERS = (
    "weight_concentration",
    "mean_precision",
    "means",
    "degrees_of_freedom",
    "covariances",
)


class ExactDiagBGM(BayesianGaussianMixture):
    """``BayesianGaussianMixture`` with the exact E[ln|Lambda|] for diagonal precisions.

    ``_estimate_log_prob`` is scikit-learn 1.9.1's body verbatim except for the
    ``log_lambda`` line: ``D ln 2 + D digamma(nu/2)`` (independent Gamma
    posteriors) instead of the Wishart ``D ln 2 + sum_d digamma((nu - d)/2)``.
    """

    def _estimate_log_prob(self, X, xp=None):
        _, n_features = X.shape
        # We remove `n_features * np.log(self.degrees_of_freedom_)` because
        # the precision matrix is normalized
        log_gauss = _estimate_log_gaussian_prob(
            X, self.means_, self.precisions_cholesky_, self.covariance_type
        ) - 0.5 * n_features * np.log(self.degrees_of_freedom_)

        # The only change: E[sum_d ln lambda_d] for independent Gamma(nu/2, nu*cov_d/2)
        # posteriors is D digamma(nu/2) + D ln 2 - D ln nu - sum_d ln cov_d; the last
        # two terms are already in log_gauss above.
        log_lambda = n_features * np.log(2.0) + n_features * digamma(
            0.5 * self.degrees_of_freedom_
        )

        return log_gauss + 0.5 * (log_lambda - n_features / self.mean_precision_)


class ExactSphericalBGM(BayesianGaussianMixture):
    """``BayesianGaussianMixture`` with the exact E[D ln lambda] for a spherical precision.

    scikit-learn's spherical M-step is the conjugate posterior of one precision lambda
    shared by the D coordinates with a Gamma(D nu0 / 2, D c / 2) prior (shape D nu / 2, rate
    D nu cov / 2 after the data), for which E[D ln lambda] = D digamma(D nu / 2) + D ln 2 -
    D ln D - D ln nu - D ln cov. ``_estimate_log_prob`` is scikit-learn 1.9.1's body verbatim
    except for the ``log_lambda`` line: ``D ln 2 + D digamma(D nu / 2) - D ln D`` instead of
    the Wishart ``D ln 2 + sum_d digamma((nu - d)/2)``.
    """

    def _estimate_log_prob(self, X, xp=None):
        _, n_features = X.shape
        log_gauss = _estimate_log_gaussian_prob(
            X, self.means_, self.precisions_cholesky_, self.covariance_type
        ) - 0.5 * n_features * np.log(self.degrees_of_freedom_)
        log_lambda = (
            n_features * np.log(2.0)
            + n_features * digamma(0.5 * n_features * self.degrees_of_freedom_)
            - n_features * np.log(n_features)
        )
        return log_gauss + 0.5 * (log_lambda - n_features / self.mean_precision_)


def read_columns(path: Path, columns: list[str]) -> np.ndarray:
    """Read the named numeric columns of a headed CSV into an (N, D) float64 array."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [[float(row[c]) for c in columns] for row in reader]
    return np.asarray(rows, dtype=np.float64)


def initial_labels(X: np.ndarray, k: int, name: str) -> np.ndarray:
    """Lloyd k-means labels (what init_params="kmeans" uses); every label must occur."""
    labels = KMeans(n_clusters=k, n_init=1, random_state=0).fit(X).labels_
    counts = np.bincount(labels, minlength=k)
    if counts.shape != (k,) or np.any(counts == 0):
        raise SystemExit(f"{name}: k-means left a component empty: counts {counts.tolist()}")
    return labels.astype(np.int64)


def make_model(cls, k: int, d: int, covariance_type: str, priors: dict):
    if priors.get("defaults"):
        return cls(
            n_components=k,
            covariance_type=covariance_type,
            weight_concentration_prior_type="dirichlet_distribution",
            reg_covar=REG_COVAR,
            max_iter=ITERATIONS,
            tol=0.0,
            init_params="kmeans",
            random_state=0,
        )
    c = priors["c"]
    return cls(
        n_components=k,
        covariance_type=covariance_type,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=priors["alpha0"],
        mean_precision_prior=priors["kappa0"],
        mean_prior=np.full(d, priors["m0"]),
        degrees_of_freedom_prior=priors["nu0"],
        covariance_prior={"full": c * np.eye(d), "diag": np.full(d, c), "spherical": c}[
            covariance_type
        ],
        reg_covar=REG_COVAR,
        max_iter=ITERATIONS,
        tol=0.0,
        init_params="kmeans",
        random_state=0,
    )


def snapshot(bgm) -> dict:
    return {p: np.asarray(getattr(bgm, p + "_")).tolist() for p in PARAMETERS}


def run_vb(bgm, X: np.ndarray, labels: np.ndarray):
    """fit_predict's set-up, _initialize from one-hot labels, then ITERATIONS E/M steps."""
    n = X.shape[0]
    bgm._validate_params()
    bgm._check_parameters(X)
    resp0 = np.zeros((n, bgm.n_components), dtype=np.float64)
    resp0[np.arange(n), labels] = 1.0
    bgm._initialize(X, resp0)

    trajectory = [snapshot(bgm)]
    lower_bound = []
    for _ in range(ITERATIONS):
        log_prob_norm, log_resp = bgm._e_step(X)
        bgm._m_step(X, log_resp)
        # Same order as BaseMixture.fit_predict: the bound uses this E-step's
        # log_resp and the parameters of the M-step that followed it.
        lower_bound.append(float(bgm._compute_lower_bound(log_resp, log_prob_norm)))
        trajectory.append(snapshot(bgm))
    return trajectory, lower_bound


def check_finite(name: str, trajectory: list[dict], lower_bound: list[float]) -> None:
    for i, snap in enumerate(trajectory):
        for p in PARAMETERS:
            assert np.all(np.isfinite(snap[p])), f"{name}: non-finite {p} at iteration {i}"
    assert all(math.isfinite(v) for v in lower_bound), f"{name}: non-finite lower bound"


def check_against_fit(name: str, model, X, labels, trajectory, lower_bound) -> None:
    """Stock fit() (same kmeans seed, tol=0) must give the identical run."""
    with warnings.catch_warnings():
        # tol=0 never "converges"; exactly ITERATIONS iterations are wanted.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = model.fit(X)
    assert fitted.n_iter_ == ITERATIONS, name
    assert [float(v) for v in fitted.lower_bounds_] == lower_bound, (
        f"{name}: lower bounds differ from fit()"
    )
    assert snapshot(fitted) == trajectory[-1], f"{name}: final parameters differ from fit()"
    # fit() draws its k-means labels from the same seed, so they must agree too.
    refit = KMeans(n_clusters=len(np.unique(labels)), n_init=1, random_state=0).fit(X)
    assert np.array_equal(refit.labels_, labels), name


def max_rel_diff(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "data",
        help="directory holding faithful.csv and iris.csv (default: <repo>/data)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "tests" / "fixtures" / "sklearn_bgm",
        help="where to write <case>.json (default: <repo>/tests/fixtures/sklearn_bgm)",
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    with threadpool_limits(limits=1):
        for name, ((filename, columns), k, covariance_type, priors) in CASES.items():
            X = read_columns(args.data_dir / filename, columns)
            d = X.shape[1]
            labels = initial_labels(X, k, name)

            if covariance_type == "diag":
                estep = "exact-diagonal"
                bgm = make_model(ExactDiagBGM, k, d, covariance_type, priors)
            elif covariance_type == "spherical":
                estep = "exact-spherical"
                bgm = make_model(ExactSphericalBGM, k, d, covariance_type, priors)
            else:
                estep = "sklearn"
                bgm = make_model(BayesianGaussianMixture, k, d, covariance_type, priors)
            trajectory, lower_bound = run_vb(bgm, X, labels)
            check_finite(name, trajectory, lower_bound)

            stock = make_model(BayesianGaussianMixture, k, d, covariance_type, priors)
            if covariance_type in ("diag", "spherical"):
                stock_trajectory, _ = run_vb(stock, X, labels)
                print(
                    f"{name}: stock vs exact-{covariance_type} E-step, max relative difference of "
                    f"final weight_concentration: "
                    f"{max_rel_diff(stock_trajectory[-1]['weight_concentration'], trajectory[-1]['weight_concentration']):.3e}"
                )
                print(f"  stock final weight_concentration: {stock_trajectory[-1]['weight_concentration']}")
            else:
                check_against_fit(name, stock, X, labels, trajectory, lower_bound)

            fixture = {
                "data": filename,
                "columns": columns,
                "K": k,
                "covariance_type": covariance_type,
                # The defaults as scikit-learn resolved them (data summaries named).
                "priors": dict(
                    alpha0=float(bgm.weight_concentration_prior_),
                    kappa0=float(bgm.mean_precision_prior_),
                    m0="mean(x)",
                    nu0=float(bgm.degrees_of_freedom_prior_),
                    c="data",
                    covariance_prior=np.asarray(bgm.covariance_prior_).tolist(),
                    mean_prior=np.asarray(bgm.mean_prior_).tolist(),
                )
                if priors.get("defaults")
                else priors,
                "estep": estep,
                "reg_covar": REG_COVAR,
                "sklearn_version": sklearn.__version__,
                "iterations": ITERATIONS,
                "init_labels": labels.tolist(),
                "trajectory": trajectory,
                "lower_bound": lower_bound,
            }
            out = args.out_dir / f"{name}.json"
            with out.open("w") as f:
                json.dump(fixture, f, indent=1)  # floats are written with repr: exact f64 round trip
                f.write("\n")
            print(
                f"{out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}: "
                f"final weight_concentration {trajectory[-1]['weight_concentration']}"
            )


if __name__ == "__main__":
    main()
