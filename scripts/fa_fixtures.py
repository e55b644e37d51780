#!/usr/bin/env python3
"""Generate reference fits of linear-Gaussian latent models for jensen's tests.

What
----
For iris (L = 2 latent dimensions) and digits (L = 10) this script writes
``tests/fixtures/fa/<case>.json`` for two models of the form
``x = mean + W z + noise``, ``z ~ N(0, I_L)``:

* ``fa_iris``, ``fa_digits`` -- factor analysis (diagonal noise ``psi``),
  fitted by scikit-learn's ``FactorAnalysis(n_components=L, tol=1e-12,
  max_iter=100000, svd_method="lapack", random_state=0)``. Recorded:
  ``log_likelihood`` (total: ``fa.score(X) * N``), ``log_likelihood_scipy``
  (the same, recomputed with ``scipy.stats.multivariate_normal.logpdf`` under
  ``N(mean, W^T W + diag(psi))``; asserted equal to 1e-10 relative),
  ``noise_variance`` (psi, length D), ``mean``, ``components`` (sklearn's
  ``components_``, L x D), ``n_iter``, ``converged`` (``n_iter < max_iter``)
  and the fit settings.
* ``ppca_iris``, ``ppca_digits`` -- probabilistic PCA (isotropic noise
  ``sigma2``), Tipping & Bishop (1999) closed-form maximum likelihood: with
  ``S`` the biased (divide by N) sample covariance and its eigenvalues
  ``lambda_1 >= ... >= lambda_D`` (``numpy.linalg.eigh``, re-sorted
  descending), ``sigma2`` = mean of the D - L discarded eigenvalues,
  ``W = U_L (Lambda_L - sigma2 I)^(1/2)`` (D x L; any ``W R`` with ``R``
  orthogonal is equally optimal), ``mean`` = sample mean. Recorded:
  ``sigma2``, ``eigenvalues`` (all D, descending), ``mean``, ``W``,
  ``log_likelihood`` (scipy ``multivariate_normal.logpdf`` under
  ``N(mean, W W^T + sigma2 I)``, summed) and ``log_likelihood_closed_form``
  ``= -N/2 (D ln 2 pi + sum_{i<=L} ln lambda_i + (D-L) ln sigma2 + D)``;
  the two are asserted equal to 1e-9 relative.

Why
---
jensen's factor-analysis and PPCA fits must reach the same maximum of the
likelihood. ``W`` is only identified up to an orthogonal rotation of the
latent space, so compare rotation-invariant quantities: the log-likelihood,
``psi``/``sigma2``, ``mean`` and the model covariance ``W^T W + diag(psi)``
(FA, sklearn's L x D ``components``) or ``W W^T + sigma2 I`` (PPCA, D x L
``W``). Eigenvector signs are fixed (largest-magnitude entry of each column
of ``U_L`` positive) only so that reruns give identical files.

Data
----
* iris.csv: sepal_length, sepal_width, petal_length, petal_width (N = 150,
  D = 4).
* digits.csv: pixels p0..p63 (label excluded) minus the pixels that are
  constant (zero variance: p0, p32, p39 -- all zero), which would make the
  FA noise variance 0 and the PPCA covariance singular in that direction;
  the columns used are listed in ``columns`` and the dropped ones in
  ``dropped_columns`` (N = 1797, D = 61).

scikit-learn's FactorAnalysis (for matching it)
-----------------------------------------------
It is not EM but the SVD-based fixed point of Barber, BRML 21.2: start
``psi = 1``; each iteration takes the SVD of ``X_c / (sqrt(psi) + 1e-12) /
sqrt(N)``, sets ``W = sqrt(max(s^2 - 1, 0)) V^T (sqrt(psi) + 1e-12)``,
evaluates the log-likelihood, stops when it rose by less than ``tol``
(absolute, on the total), otherwise updates
``psi = max(var(X) - sum_l W_l^2, 1e-12)`` (``var`` biased). Its stationary
points are those of the FA likelihood, so a converged EM must agree.

fa_iris is a Heywood case: with D = 4 and L = 2 the FA model has more
parameters (11) than the covariance matrix (10), and the likelihood has no
interior maximum -- sklearn drives psi for sepal_length and petal_length
towards 0 and does not converge in 100000 iterations (``converged`` is
false; a ``ConvergenceWarning`` is expected and silenced). Its numbers depend
on the iteration count; use it only as a loose check. Along sklearn's path
the log-likelihood tends to the supremum over the face psi_sepal_length =
psi_petal_length = 0, computed in closed form and recorded as
``heywood_limit`` (the saturated Gaussian of those two columns times OLS
regressions of the other two on them with their biased residual variances).
That is not the global supremum: the face psi_sepal_width = psi_petal_length
= 0 is higher (about -389.106). fa_digits converges normally (no noise
variance near the 1e-12 floor).

Usage
-----
    python scripts/fa_fixtures.py [--data-dir DIR] [--out-dir DIR]

Defaults: data is read from ``<repo>/data`` and fixtures are written to
``<repo>/tests/fixtures/fa``. Normally invoked through
``scripts/make_fixtures.sh``, which sets up the pinned ``.venv-ref``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning

REPO_ROOT = Path(__file__).resolve().parent.parent

FA_SETTINGS = dict(tol=1e-12, max_iter=100000, svd_method="lapack", random_state=0)
FA_LL_RTOL = 1e-10
PPCA_LL_RTOL = 1e-9
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# data name -> (csv file, L)
DATASETS = {"iris": ("iris.csv", 2), "digits": ("digits.csv", 10)}


def read_csv(path: Path):
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames)
        rows = list(reader)
    return header, rows


def load(data_dir: Path, name: str):
    """(X, columns used, dropped columns) for a data set."""
    filename, _ = DATASETS[name]
    header, rows = read_csv(data_dir / filename)
    if name == "iris":
        columns = IRIS_COLUMNS
    else:
        columns = [c for c in header if c != "label"]
    X = np.asarray([[float(r[c]) for c in columns] for r in rows], dtype=np.float64)
    dropped = []
    if name == "digits":
        keep = X.var(axis=0) > 0
        dropped = [c for c, k in zip(columns, keep) if not k]
        columns = [c for c, k in zip(columns, keep) if k]
        X = X[:, keep]
    return X, columns, dropped


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def heywood_limit(X: np.ndarray, zero_noise: list[int]) -> float:
    """Sup of the FA log-likelihood over the face psi[zero_noise] = 0 (len == L)."""
    n, d = X.shape
    a = list(zero_noise)
    b = [j for j in range(d) if j not in a]
    centred = X - X.mean(axis=0)
    S = centred.T @ centred / n
    Saa, Sba, Sbb = S[np.ix_(a, a)], S[np.ix_(b, a)], S[np.ix_(b, b)]
    residual = np.diag(Sbb - Sba @ np.linalg.solve(Saa, Sba.T))
    ll = -n / 2 * (len(a) * math.log(2 * math.pi) + np.linalg.slogdet(Saa)[1] + len(a))
    ll += sum(-n / 2 * (math.log(2 * math.pi) + math.log(r) + 1) for r in residual)
    return float(ll)


def fit_fa(X: np.ndarray, L: int) -> dict:
    n = X.shape[0]
    fa = FactorAnalysis(n_components=L, **FA_SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fa.fit(X)
    converged = fa.n_iter_ < FA_SETTINGS["max_iter"]
    assert converged == (not any(issubclass(w.category, ConvergenceWarning) for w in caught))
    ll = float(fa.score(X)) * n
    cov = fa.components_.T @ fa.components_ + np.diag(fa.noise_variance_)
    ll_scipy = float(stats.multivariate_normal.logpdf(X, fa.mean_, cov).sum())
    assert rel_diff(ll, ll_scipy) < FA_LL_RTOL, (ll, ll_scipy)
    return {
        "settings": {"n_components": L, **FA_SETTINGS},
        "log_likelihood": ll,
        "log_likelihood_scipy": ll_scipy,
        "noise_variance": fa.noise_variance_.tolist(),
        "mean": fa.mean_.tolist(),
        "components": fa.components_.tolist(),
        "n_iter": int(fa.n_iter_),
        "converged": bool(converged),
    }


def fit_ppca(X: np.ndarray, L: int) -> dict:
    n, d = X.shape
    mean = X.mean(axis=0)
    centred = X - mean
    S = centred.T @ centred / n
    eigenvalues, eigenvectors = np.linalg.eigh(S)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    assert eigenvalues[-1] > 0, "sample covariance must be positive definite"
    sigma2 = float(eigenvalues[L:].mean())
    assert eigenvalues[L - 1] > sigma2
    U = eigenvectors[:, :L]
    # Deterministic signs: the largest-magnitude entry of each column positive.
    signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(L)])
    U = U * signs
    W = U * np.sqrt(eigenvalues[:L] - sigma2)  # (D, L)
    cov = W @ W.T + sigma2 * np.eye(d)
    ll = float(stats.multivariate_normal.logpdf(X, mean, cov).sum())
    ll_closed = -n / 2 * (
        d * math.log(2 * math.pi)
        + float(np.log(eigenvalues[:L]).sum())
        + (d - L) * math.log(sigma2)
        + d
    )
    assert rel_diff(ll, ll_closed) < PPCA_LL_RTOL, (ll, ll_closed)
    return {
        "log_likelihood": ll,
        "log_likelihood_closed_form": ll_closed,
        "sigma2": sigma2,
        "eigenvalues": eigenvalues.tolist(),
        "mean": mean.tolist(),
        "W": W.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "data",
        help="directory holding iris.csv and digits.csv (default: <repo>/data)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "tests" / "fixtures" / "fa",
        help="where to write <case>.json (default: <repo>/tests/fixtures/fa)",
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    for data_name, (filename, L) in DATASETS.items():
        X, columns, dropped = load(args.data_dir, data_name)
        n, d = X.shape
        for model, fit in (("fa", fit_fa), ("ppca", fit_ppca)):
            name = f"{model}_{data_name}"
            fixture = {
                "case": name,
                "model": model,
                "data": filename,
                "columns": columns,
                "dropped_columns": dropped,
                "N": n,
                "D": d,
                "L": L,
            }
            fixture.update(fit(X, L))
            if model == "fa" and not fixture["converged"]:
                psi = np.asarray(fixture["noise_variance"])
                zero_noise = sorted(np.argsort(psi)[:L].tolist())
                limit = heywood_limit(X, zero_noise)
                assert fixture["log_likelihood"] < limit, (name, limit)
                fixture["heywood_limit"] = {
                    "zero_noise_columns": [columns[j] for j in zero_noise],
                    "log_likelihood": limit,
                }
            fixture["versions"] = versions()
            out = args.out_dir / f"{name}.json"
            with out.open("w") as f:
                json.dump(fixture, f, indent=1)  # floats are written with repr: exact f64 round trip
                f.write("\n")
            shown = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
            extra = ""
            if model == "fa":
                extra = f" n_iter={fixture['n_iter']} converged={fixture['converged']}"
                if "heywood_limit" in fixture:
                    extra += f" heywood_limit={fixture['heywood_limit']['log_likelihood']!r}"
            print(f"{shown}: N={n} D={d} L={L} ll={fixture['log_likelihood']!r}{extra}")


if __name__ == "__main__":
    main()
