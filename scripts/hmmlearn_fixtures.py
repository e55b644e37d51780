#!/usr/bin/env python3
"""Generate hmmlearn reference Baum-Welch (EM) trajectories for jensen's tests.

What
----
For a small set of hidden Markov model cases this script runs exactly
``ITERATIONS`` EM iterations of hmmlearn (``GaussianHMM`` with full or
diagonal covariances, ``PoissonHMM``, ``CategoricalHMM``) from explicitly
stored, deterministic starting parameters and writes, per case,
``tests/fixtures/hmmlearn/<case>.json`` containing:

* ``init``: the starting parameters, under jensen's parameter names
  (``p0``, ``A`` and ``mu``/``Sigma``, ``mu``/``v``, ``rate`` or ``q``);
* ``log_likelihood``: the TOTAL log-likelihood (summed over all sequences)
  before every M-step and after the last one -- ``ITERATIONS + 1`` values;
  entry i is evaluated at the parameters after i M-steps;
* ``final``: the parameters after the ``ITERATIONS``-th M-step;
* ``viterbi``: hmmlearn's ``decode(algorithm="viterbi")`` under the final
  parameters (log-probability of the best path, summed over sequences, and
  the path, one state per row);
* ``posterior_first``: ``predict_proba`` (smoothed state posteriors) of the
  first 5 rows under the final parameters;
* ``versions``: python, numpy, scipy, hmmlearn.

Why
---
jensen's HMM EM must reproduce hmmlearn's trajectory step for step when it
starts from the same parameters. hmmlearn's M-step is a MAP estimate; every
prior is set here so that it contributes nothing, leaving plain maximum
likelihood (see "M-step" below). Each EM iteration is hmmlearn's own
``fit`` with ``n_iter=1`` and ``init_params=""`` (nothing is re-initialised,
the attributes we set are used as they are), so the E-step and M-step
arithmetic is exactly hmmlearn's.

M-step (hmmlearn 0.3.3 source, with the priors used here)
---------------------------------------------------------
* ``startprob_ = normalize(max(startprob_prior - 1 + sum_seq gamma_1, 0))``
  and ``transmat_ = normalize_rows(max(transmat_prior - 1 + sum xi, 0))``;
  ``startprob_prior = transmat_prior = 1.0`` add 0 pseudo-counts. Entries
  that are exactly 0 before the M-step are kept at 0 (``np.where``). That
  is what EM does anyway (a zero start or transition probability gets zero
  posterior mass), so it only matters once a probability has underflowed:
  with a single sequence ``p0`` converges to a one-hot vector (final
  ``p0`` is exactly [0, 1] in ``gaussian_full``; in ``gaussian_diag`` one
  entry passes through subnormals, ~1e-313 after 20 iterations, to exactly
  0), and since a short eruption is never followed by another, some
  transition probabilities decay to ~1e-95..1e-107. Compare probabilities
  with an absolute tolerance as well as a relative one.
* Gaussian means: ``(means_weight*means_prior + sum gamma x) /
  (means_weight + sum gamma)`` with ``means_prior = means_weight = 0``.
* Gaussian full covariances: ``(covars_prior + C) / (max(covars_weight - D,
  0) + sum gamma)`` with ``covars_prior = 0``, ``covars_weight = 1`` (so the
  extra denominator term is ``max(1 - D, 0) = 0``) and
  ``C = sum gamma x x^T - s mu^T - mu s^T + (sum gamma) mu mu^T`` (uncentred
  second moment, ``s = sum gamma x``, ``mu`` the NEW mean) -- algebraically
  the usual ``sum gamma (x - mu)(x - mu)^T``. No regularisation is added.
* Gaussian diagonal variances: ``(covars_prior + c) / max(max(covars_weight
  - 1, 0) + sum gamma, 1e-5)`` with ``c = sum gamma x^2 - 2 mu s + (sum
  gamma) mu^2`` (element-wise). The ``1e-5`` floor on the denominator is
  hard-coded; it is inactive here because every state keeps a total
  posterior weight far above 1e-5 (the script asserts this at every
  iteration). ``min_covar`` is only used by hmmlearn's own initialisation,
  which is disabled.
* Poisson rates: ``(lambdas_prior + n * ybar) / (lambdas_weight + n)`` with
  ``ybar = sum gamma x / sum gamma`` and ``n`` the total number of rows (sic:
  not the state's weight); with ``lambdas_prior = lambdas_weight = 0`` this
  is ``ybar`` (to rounding).
* Categorical emissions: ``normalize_rows(max(emissionprob_prior - 1 +
  sum gamma [x = c], 0))`` with ``emissionprob_prior = 1.0``.

The log-likelihood (``score``) and the E-step use hmmlearn's
``implementation="log"`` (log-space forward-backward in its C extension);
state posteriors are renormalised per row. Full-covariance densities use a
Cholesky factor; hmmlearn would retry with ``+1e-7 I`` if that failed, which
never happens here (asserted). The script also cross-checks every
trajectory against an independent numpy/scipy Baum-Welch implementation.

Starting parameters
-------------------
* ``p0``: uniform, 1/K;
* ``A``: 0.7 on the diagonal, the remaining 0.3 spread evenly across the
  other K-1 entries of the row;
* Gaussian ``mu``: data rows at fixed indices (``mean_rows`` below), as
  (waiting, duration): K=2 uses rows 1 = (71, 2.15) (short eruption) and
  9 = (56, 4.83) (long eruption); K=3 adds row 7 = (86, 4.28) (long eruption
  after a long wait). None of them is one of MASS::geyser's coded 2/3/4
  minute durations. (Rows 0 = (80, 4.02) and 1 were tried for K=2 but lead
  to a poor local optimum, -1493.68, with one state covering both eruption
  types; rows 1 and 9 reach the short/long-eruption solution, -1341.93.);
* Gaussian ``Sigma`` (full): K copies of the whole-data biased (divide by
  N) sample covariance; ``v`` (diag): K copies of its diagonal;
* Poisson ``rate``: the 25% and 75% quantiles of the counts (numpy's
  default linear interpolation): 2 and 4;
* Categorical ``q``: [[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]]. (The milder
  [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]] drifts, with the persistent starting
  ``A``, to the saddle where both states emit the marginal frequencies,
  log-likelihood about -264.4, and escapes it only slowly; the start used
  reaches the short-eruption -> long-eruption solution, about -190.10.)

Usage
-----
    python scripts/hmmlearn_fixtures.py [--data-dir DIR] [--out-dir DIR]

Defaults: data is read from ``<repo>/data`` and fixtures are written to
``<repo>/tests/fixtures/hmmlearn``. The derived ``geyser_classes.csv`` (see
``scripts/classify_geyser.py``) is taken from ``<repo>/data`` when DIR does
not have it; it is checked against ``geyser.csv`` either way. Normally
invoked through ``scripts/make_fixtures.sh``, which sets up the pinned
``.venv-ref``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import warnings
from pathlib import Path

import hmmlearn
import numpy as np
import scipy
from hmmlearn.base import ConvergenceMonitor
from hmmlearn.hmm import CategoricalHMM, GaussianHMM, PoissonHMM
from scipy import stats
from scipy.special import logsumexp

REPO_ROOT = Path(__file__).resolve().parent.parent

ITERATIONS = 30
# Relative slack allowed when checking that the log-likelihood never decreases.
MONOTONE_RTOL = 1e-9
# Agreement required of the independent numpy implementation.
CROSSCHECK_RTOL = 1e-9
# hmmlearn's hard-coded floor on the diagonal-covariance denominator.
DIAG_DENOMINATOR_FLOOR = 1e-5
N_POSTERIOR_ROWS = 5

GEYSER_COLUMNS = ["waiting", "duration"]

# case -> specification
CASES = {
    "gaussian_full": dict(
        model="hmm_gaussian", data="geyser.csv", columns=GEYSER_COLUMNS,
        K=2, lengths=None, mean_rows=[1, 9],
    ),
    "gaussian_full_lengths": dict(
        model="hmm_gaussian", data="geyser.csv", columns=GEYSER_COLUMNS,
        K=2, lengths=[100, 99, 100], mean_rows=[1, 9],
    ),
    "gaussian_diag": dict(
        model="hmm_gaussian_diag", data="geyser.csv", columns=GEYSER_COLUMNS,
        K=3, lengths=None, mean_rows=[1, 9, 7],
    ),
    "poisson": dict(
        model="hmm_poisson", data="discoveries.csv", columns=["discoveries"],
        K=2, lengths=None, rate_quantiles=[0.25, 0.75],
    ),
    "categorical": dict(
        model="hmm_categorical", data="geyser_classes.csv", columns=["eruption"],
        K=2, lengths=None, q=[[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]],
    ),
    # MAP-EM: the same chains with Dirichlet priors, written in models/*_map.em.
    "poisson_map": dict(
        model="hmm_poisson_map", base="hmm_poisson", data="discoveries.csv",
        columns=["discoveries"], K=2, lengths=None, rate_quantiles=[0.25, 0.75],
        priors=dict(startprob=3.0, transmat=2.5),
    ),
    # hmmlearn's default covariance prior (covars_prior = 0.01, covars_weight = 1); for full
    # covariances as the matrix 0.01 I (a scalar covars_prior would be added to every entry
    # of the scatter, not only its diagonal).
    "gaussian_full_map": dict(
        model="hmm_gaussian_map", base="hmm_gaussian", data="geyser.csv",
        columns=GEYSER_COLUMNS, K=2, lengths=None, mean_rows=[1, 9],
        priors=dict(covars=0.01),
    ),
    "gaussian_diag_map": dict(
        model="hmm_gaussian_diag_map", base="hmm_gaussian_diag", data="geyser.csv",
        columns=GEYSER_COLUMNS, K=3, lengths=None, mean_rows=[1, 9, 7],
        priors=dict(covars=0.01),
    ),
    # Non-default priors: means_prior = 3, means_weight = 0.5 (a normal-inverse-Wishart or
    # -Gamma prior with the covariance prior) and covars_weight above 1.
    "gaussian_full_niw": dict(
        model="hmm_gaussian_niw", base="hmm_gaussian", data="geyser.csv",
        columns=GEYSER_COLUMNS, K=2, lengths=None, mean_rows=[1, 9],
        priors=dict(covars=0.05, covars_weight=6.0, means=(3.0, 0.5)),
    ),
    "gaussian_diag_nig": dict(
        model="hmm_gaussian_diag_nig", base="hmm_gaussian_diag", data="geyser.csv",
        columns=GEYSER_COLUMNS, K=3, lengths=None, mean_rows=[1, 9, 7],
        priors=dict(covars=0.05, covars_weight=4.0, means=(3.0, 0.5)),
    ),
    "categorical_map": dict(
        model="hmm_categorical_map", base="hmm_categorical", data="geyser_classes.csv",
        columns=["eruption"], K=2, lengths=None, q=[[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]],
        priors=dict(startprob=2.0, transmat=3.0, emissionprob=1.5),
    ),
}


def base(spec: dict) -> str:
    """The model without priors whose emissions and parameters a case has."""
    return spec.get("base", spec["model"])


def prior(spec: dict, name: str) -> float:
    """A hyperparameter of the case: a Dirichlet concentration (1.0, no pseudo-counts, when
    not given) or the covariance prior `covars`."""
    return spec.get("priors", {}).get(name, 1.0)


def gaussian_log_prior(spec: dict, params: dict) -> float:
    """ln p(θ) of hmmlearn's Gaussian priors as the model files write them: per state an
    inverse-Wishart IW(nu, c I) on a full covariance, nu = max(w - D, 0) - D - 1 (one less with
    a prior on the mean), or per variance an inverse-Gamma IG(a, c / 2),
    a = (max(w - 1, 0) - 2) / 2 (a half less with a prior on the mean), with c = covars_prior
    and w = covars_weight; improper ones (nu <= D - 1, a <= 0) enter as their kernels; plus
    ln N(mu | m0, Sigma / kappa) for means_prior = m0 and means_weight = kappa."""
    priors = spec["priors"]
    c, w = priors["covars"], priors.get("covars_weight", 1.0)
    means = priors.get("means")
    extra = 1.0 if means else 0.0
    total = 0.0
    if base(spec) == "hmm_gaussian":
        d = params["Sigma"].shape[1]
        nu = max(w - d, 0.0) - d - 1.0 - extra
        for s in params["Sigma"]:
            total += -0.5 * (nu + d + 1) * np.linalg.slogdet(s)[1] - 0.5 * c * np.trace(np.linalg.inv(s))
            if nu > d - 1:
                total += 0.5 * nu * d * np.log(c / 2) - scipy.special.multigammaln(nu / 2, d)
        if means:
            m0, kappa = means
            for mu, s in zip(params["mu"], params["Sigma"]):
                total += float(stats.multivariate_normal.logpdf(mu, np.full(d, m0), s / kappa))
    else:
        a, b = (max(w - 1.0, 0.0) - 2.0 - extra) / 2.0, c / 2.0
        v = params["v"]
        total += float(np.sum(-(a + 1.0) * np.log(v) - b / v))
        if a > 0:
            total += v.size * (a * np.log(b) - scipy.special.gammaln(a))
        if means:
            m0, kappa = means
            total += float(np.sum(stats.norm.logpdf(params["mu"], m0, np.sqrt(v / kappa))))
    return total


def log_prior(spec: dict, params: dict) -> float:
    """ln p(θ) as the model files write it (0 without priors): symmetric Dirichlets, and
    hmmlearn's covariance prior with covars_weight = 1, which is improper, so only its kernel
    enters: an inverse-Gamma with shape -1, ln p(v) = -b / v with b = covars_prior / 2, per
    variance; an inverse-Wishart with nu = -D - 1, ln p(S) = -c tr(S^-1) / 2 with
    c = covars_prior."""
    total = 0.0
    rows = {"startprob": [params["p0"]], "transmat": list(params["A"])}
    if base(spec) == "hmm_categorical":
        rows["emissionprob"] = list(params["q"])
    priors = spec.get("priors", {})
    for name, value in priors.items():
        if name in ("covars_weight", "means"):
            continue  # with "covars"
        if name == "covars":
            total += gaussian_log_prior(spec, params)
            continue
        for p in rows[name]:
            total += float(stats.dirichlet.logpdf(p / p.sum(), np.full(len(p), value)))
    return total


# --------------------------------------------------------------------------
# data


def read_columns(path: Path, columns: list[str], dtype=np.float64) -> np.ndarray:
    """Read the named columns of a headed CSV into an (N, D) array."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if dtype is np.int64:
            rows = [[int(row[c]) for c in columns] for row in reader]
        else:
            rows = [[float(row[c]) for c in columns] for row in reader]
    return np.asarray(rows, dtype=dtype)


def check_geyser_classes(data_dir: Path, classes: np.ndarray) -> None:
    """geyser_classes.csv must be the duration classes of geyser.csv."""
    duration = read_columns(data_dir / "geyser.csv", ["duration"])[:, 0]
    expected = np.where(duration < 3.0, 0, np.where(duration < 4.0, 1, 2))
    assert np.array_equal(classes[:, 0], expected), (
        "geyser_classes.csv is stale: rerun scripts/classify_geyser.py"
    )


# --------------------------------------------------------------------------
# parameters


def initial_parameters(spec: dict, X: np.ndarray) -> dict:
    """Deterministic starting parameters, under jensen's names, as numpy arrays."""
    k = spec["K"]
    off = 0.3 / (k - 1)
    params = {
        "p0": np.full(k, 1.0 / k),
        "A": np.where(np.eye(k, dtype=bool), 0.7, off),
    }
    model = base(spec)
    if model in ("hmm_gaussian", "hmm_gaussian_diag"):
        n = X.shape[0]
        centred = X - X.mean(axis=0)
        cov = centred.T @ centred / n  # biased whole-data covariance
        params["mu"] = X[spec["mean_rows"]].copy()
        if model == "hmm_gaussian":
            params["Sigma"] = np.repeat(cov[np.newaxis], k, axis=0)
        else:
            params["v"] = np.repeat(np.diag(cov)[np.newaxis], k, axis=0)
    elif model == "hmm_poisson":
        rates = np.quantile(X[:, 0].astype(np.float64), spec["rate_quantiles"])
        assert len(set(rates.tolist())) == k, "starting rates must be distinct"
        params["rate"] = rates
    elif model == "hmm_categorical":
        params["q"] = np.asarray(spec["q"], dtype=np.float64)
    else:
        raise ValueError(model)
    return params


def make_model(spec: dict, n_iter: int):
    """An hmmlearn model whose M-step is plain maximum likelihood."""
    common = dict(
        n_components=spec["K"],
        # Dirichlet(1): prior - 1 = 0 pseudo-counts, unless the case has priors.
        startprob_prior=prior(spec, "startprob"),
        transmat_prior=prior(spec, "transmat"),
        n_iter=n_iter,
        tol=-np.inf,  # never stop early: exactly n_iter iterations
        init_params="",  # use the attributes we set, initialise nothing
        implementation="log",
    )
    model = base(spec)
    if model in ("hmm_gaussian", "hmm_gaussian_diag"):
        priors = spec.get("priors", {})
        covars = priors.get("covars", 0.0)
        if model == "hmm_gaussian" and covars:
            n_features = len(spec["columns"])
            covars = covars * np.eye(n_features)
        means_prior, means_weight = priors.get("means", (0.0, 0.0))
        return GaussianHMM(
            covariance_type="full" if model == "hmm_gaussian" else "diag",
            means_prior=means_prior, means_weight=means_weight,
            covars_prior=covars, covars_weight=priors.get("covars_weight", 1.0),
            params="stmc", **common,
        )
    if model == "hmm_poisson":
        return PoissonHMM(lambdas_prior=0.0, lambdas_weight=0.0, params="stl", **common)
    if model == "hmm_categorical":
        return CategoricalHMM(
            emissionprob_prior=prior(spec, "emissionprob"), n_features=len(spec["q"][0]),
            params="ste", **common
        )
    raise ValueError(model)


def set_parameters(hmm, model: str, params: dict) -> None:
    hmm.startprob_ = params["p0"].copy()
    hmm.transmat_ = params["A"].copy()
    if model == "hmm_gaussian":
        hmm.means_ = params["mu"].copy()
        hmm.covars_ = params["Sigma"].copy()
    elif model == "hmm_gaussian_diag":
        hmm.means_ = params["mu"].copy()
        hmm.covars_ = params["v"].copy()  # diag: stored as (K, D)
    elif model == "hmm_poisson":
        hmm.lambdas_ = params["rate"][:, np.newaxis].copy()  # (K, 1)
    elif model == "hmm_categorical":
        hmm.emissionprob_ = params["q"].copy()


def get_parameters(hmm, model: str) -> dict:
    params = {"p0": np.array(hmm.startprob_), "A": np.array(hmm.transmat_)}
    if model == "hmm_gaussian":
        params["mu"] = np.array(hmm.means_)
        params["Sigma"] = np.array(hmm.covars_)
    elif model == "hmm_gaussian_diag":
        params["mu"] = np.array(hmm.means_)
        params["v"] = np.array(hmm._covars_)  # (K, D); covars_ would expand to matrices
    elif model == "hmm_poisson":
        params["rate"] = np.array(hmm.lambdas_)[:, 0]
    elif model == "hmm_categorical":
        params["q"] = np.array(hmm.emissionprob_)
    return params


def params_to_json(params: dict) -> dict:
    return {name: np.asarray(value, dtype=np.float64).tolist() for name, value in params.items()}


# --------------------------------------------------------------------------
# running hmmlearn


class RecordingMonitor(ConvergenceMonitor):
    """ConvergenceMonitor that also keeps every reported value (history keeps 2)."""

    def __init__(self, tol, n_iter, verbose):
        super().__init__(tol, n_iter, verbose)
        self.all_reports: list[float] = []

    def report(self, log_prob):
        self.all_reports.append(float(log_prob))
        super().report(log_prob)


def check_emission_parameters(name: str, hmm, model: str, X, lengths) -> None:
    """Guard the hmmlearn special cases we rely on being inactive."""
    hmm._check()  # sets n_features, as score()/fit() do
    stats_, _ = hmm._do_estep(X, lengths)
    if model in ("hmm_gaussian", "hmm_gaussian_diag"):
        # The diag M-step divides by max(sum gamma, 1e-5): must be inactive.
        assert stats_["post"].min() > 1e3 * DIAG_DENOMINATOR_FLOOR, (name, stats_["post"])
    if model == "hmm_gaussian":
        # hmmlearn retries a failed Cholesky with +1e-7 I: must not happen.
        for cv in hmm.covars_:
            np.linalg.cholesky(cv)


def run_em(name: str, spec: dict, X: np.ndarray, init: dict):
    """ITERATIONS single-iteration fits; returns (trajectory, fitted model)."""
    model, lengths = base(spec), spec["lengths"]
    hmm = make_model(spec, n_iter=1)
    set_parameters(hmm, model, init)
    trajectory, priors = [], []
    for it in range(ITERATIONS + 1):
        check_emission_parameters(name, hmm, model, X, lengths)
        ll = float(hmm.score(X, lengths))  # total over sequences
        trajectory.append(ll)
        priors.append(log_prior(spec, get_parameters(hmm, model)))
        if it < ITERATIONS:
            hmm.fit(X, lengths)  # exactly one E-step + one M-step
            assert hmm.monitor_.iter == 1, name
            # fit's own log-likelihood (from its E-step) is the one we just scored
            assert list(hmm.monitor_.history) == [ll], (name, it, hmm.monitor_.history, ll)
    return trajectory, priors, hmm


def check_single_fit(name: str, spec: dict, X, init: dict, trajectory, final: dict) -> None:
    """One fit() with n_iter=ITERATIONS must give the same history and parameters."""
    hmm = make_model(spec, n_iter=ITERATIONS)
    hmm.monitor_ = RecordingMonitor(hmm.tol, hmm.n_iter, hmm.verbose)
    set_parameters(hmm, base(spec), init)
    hmm.fit(X, spec["lengths"])
    assert hmm.monitor_.iter == ITERATIONS, name
    assert hmm.monitor_.all_reports == trajectory[:ITERATIONS], (
        f"{name}: monitor history differs from the scored trajectory"
    )
    other = get_parameters(hmm, base(spec))
    for key, value in final.items():
        assert np.array_equal(other[key], value), (name, key)


def check_monotone(name: str, trajectory: list[float]) -> None:
    """EM must never decrease the log-likelihood (up to rounding)."""
    for i in range(1, len(trajectory)):
        prev, cur = trajectory[i - 1], trajectory[i]
        assert math.isfinite(cur), f"{name}: non-finite log-likelihood at step {i}"
        assert cur >= prev - MONOTONE_RTOL * abs(prev), (
            f"{name}: log-likelihood decreased at step {i}: {prev!r} -> {cur!r}"
        )


# --------------------------------------------------------------------------
# independent numpy/scipy Baum-Welch, used only as a cross-check


def log_emission(model: str, params: dict, X: np.ndarray) -> np.ndarray:
    """(N, K) log-densities of each row under each state."""
    k = len(params["p0"])
    if model == "hmm_gaussian":
        return np.column_stack([
            stats.multivariate_normal.logpdf(X, params["mu"][j], params["Sigma"][j])
            for j in range(k)
        ])
    if model == "hmm_gaussian_diag":
        return np.column_stack([
            stats.norm.logpdf(X, params["mu"][j], np.sqrt(params["v"][j])).sum(axis=1)
            for j in range(k)
        ])
    if model == "hmm_poisson":
        return np.column_stack([stats.poisson.logpmf(X[:, 0], params["rate"][j]) for j in range(k)])
    if model == "hmm_categorical":
        return np.log(params["q"][:, X[:, 0]]).T
    raise ValueError(model)


def reference_em_step(spec: dict, params: dict, X: np.ndarray, lengths):
    """One textbook Baum-Welch iteration (with the case's Dirichlet pseudo-counts, alpha - 1,
    in the M-step); returns (log-likelihood before, new params)."""
    model = base(spec)
    pseudo = {name: prior(spec, name) - 1.0 for name in ("startprob", "transmat", "emissionprob")}
    covars = spec.get("priors", {}).get("covars", 0.0)
    covars_weight = spec.get("priors", {}).get("covars_weight", 1.0)
    means_prior, means_weight = spec.get("priors", {}).get("means", (0.0, 0.0))
    k = len(params["p0"])
    with np.errstate(divide="ignore"):  # probabilities may have underflowed to 0
        log_a = np.log(params["A"])
        log_p0 = np.log(params["p0"])
    log_b = log_emission(model, params, X)
    bounds = np.cumsum([0] + list(lengths if lengths is not None else [len(X)]))
    gamma = np.empty((len(X), k))
    start = np.zeros(k)
    trans = np.zeros((k, k))
    total = 0.0
    for s, e in zip(bounds[:-1], bounds[1:]):
        lb = log_b[s:e]
        t_len = e - s
        alpha = np.empty((t_len, k))
        beta = np.zeros((t_len, k))
        alpha[0] = log_p0 + lb[0]
        for t in range(1, t_len):
            alpha[t] = logsumexp(alpha[t - 1][:, None] + log_a, axis=0) + lb[t]
        for t in range(t_len - 2, -1, -1):
            beta[t] = logsumexp(log_a + (lb[t + 1] + beta[t + 1])[None, :], axis=1)
        ll = logsumexp(alpha[-1])
        total += ll
        g = np.exp(alpha + beta - ll)
        gamma[s:e] = g
        start += g[0]
        xi = (alpha[:-1, :, None] + log_a[None] + (lb[1:] + beta[1:])[:, None, :]) - ll
        trans += np.exp(xi).sum(axis=0)
    start = start + pseudo["startprob"]
    trans = trans + pseudo["transmat"]
    new = {"p0": start / start.sum(), "A": trans / trans.sum(axis=1, keepdims=True)}
    nk = gamma.sum(axis=0)
    if model in ("hmm_gaussian", "hmm_gaussian_diag"):
        mu = (gamma.T @ X + means_weight * means_prior) / (nk[:, None] + means_weight)
        new["mu"] = mu
        d = X.shape[1]
        if model == "hmm_gaussian":
            eye = np.eye(d)
            new["Sigma"] = np.stack([
                ((gamma[:, j, None] * (X - mu[j])).T @ (X - mu[j]) + covars * eye
                 + means_weight * np.outer(mu[j] - means_prior, mu[j] - means_prior))
                / (nk[j] + max(covars_weight - d, 0.0))
                for j in range(k)
            ])
        else:
            new["v"] = np.stack([
                (gamma[:, j] @ (X - mu[j]) ** 2 + covars + means_weight * (mu[j] - means_prior) ** 2)
                / (nk[j] + max(covars_weight - 1.0, 0.0))
                for j in range(k)
            ])
    elif model == "hmm_poisson":
        new["rate"] = gamma.T @ X[:, 0] / nk
    elif model == "hmm_categorical":
        n_symbols = params["q"].shape[1]
        onehot = np.eye(n_symbols)[X[:, 0]]
        counts = gamma.T @ onehot + pseudo["emissionprob"]
        new["q"] = counts / counts.sum(axis=1, keepdims=True)
    return total, new


def crosscheck(name: str, spec: dict, X, init: dict, trajectory, final: dict) -> float:
    """Max relative difference between hmmlearn and the reference implementation."""
    params = {key: value.copy() for key, value in init.items()}
    worst = 0.0
    for it in range(ITERATIONS + 1):
        ll, new = reference_em_step(spec, params, X, spec["lengths"])
        worst = max(worst, abs(ll - trajectory[it]) / abs(trajectory[it]))
        if it < ITERATIONS:
            params = new
    for key, value in final.items():
        scale = np.max(np.abs(value))
        worst = max(worst, float(np.max(np.abs(params[key] - value)) / scale))
    assert worst < CROSSCHECK_RTOL, f"{name}: reference implementation differs by {worst:.3g}"
    return worst


# --------------------------------------------------------------------------


def duration_collapse(data_dir: Path, out_dir: Path) -> None:
    """geyser durations (53 values exactly 4.0), K = 3, diagonal: hmmlearn's best of 20
    random starts under its default prior (covars_prior = 0.01, covars_weight = 1), where one
    state sits on the repeated value with variance (0 + 0.01) / N_k. Written as a start for
    jensen, with hmmlearn's score and variances there."""
    X = read_columns(data_dir / "geyser.csv", ["duration"])
    best = None
    for seed in range(20):
        hmm = GaussianHMM(
            n_components=3, covariance_type="diag", n_iter=500, tol=1e-8,
            random_state=seed, implementation="log",
        )
        hmm.fit(X)
        score = float(hmm.score(X))
        if best is None or score > best[0]:
            best = (score, hmm)
    score, hmm = best
    variances = hmm.covars_[:, 0, 0]  # diagonal covariances, one feature
    start = {
        "p0": hmm.startprob_, "A": hmm.transmat_, "mu": hmm.means_,
        "v": variances[:, np.newaxis],
    }
    fixture = {
        "case": "geyser_duration_map",
        "data": "geyser.csv",
        "columns": ["duration"],
        "K": 3,
        "start": params_to_json(start),
        "log_likelihood": score,
        "variances": variances.tolist(),
        "versions": versions(),
    }
    out = out_dir / "geyser_duration_map.json"
    with out.open("w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    # The start alone, for `jensen fit --init`.
    with (out_dir / "geyser_duration_start.json").open("w") as f:
        json.dump(params_to_json(start), f, indent=1)
        f.write("\n")
    print(f"{out.name}: hmmlearn best of 20 starts {score!r}, variances {variances.tolist()}")


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "hmmlearn": hmmlearn.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "data",
        help="directory holding geyser.csv, geyser_classes.csv and discoveries.csv "
        "(default: <repo>/data)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "tests" / "fixtures" / "hmmlearn",
        help="where to write <case>.json (default: <repo>/tests/fixtures/hmmlearn)",
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    for name, spec in CASES.items():
        model = base(spec)
        integer = model in ("hmm_poisson", "hmm_categorical")
        path = args.data_dir / spec["data"]
        if not path.exists() and spec["data"] == "geyser_classes.csv":
            path = REPO_ROOT / "data" / spec["data"]  # derived file, not in shared/data
        X = read_columns(path, spec["columns"], dtype=np.int64 if integer else np.float64)
        if spec["data"] == "geyser_classes.csv":
            check_geyser_classes(args.data_dir, X)
        if spec["lengths"] is not None:
            assert sum(spec["lengths"]) == len(X), name

        init = initial_parameters(spec, X)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any hmmlearn/numpy warning is a failure
            trajectory, priors, hmm = run_em(name, spec, X, init)
            final = get_parameters(hmm, model)
            # MAP-EM never decreases the log posterior, ln p(x | θ) + ln p(θ).
            check_monotone(name, [ll + lp for ll, lp in zip(trajectory, priors)])
            check_single_fit(name, spec, X, init, trajectory, final)
            worst = crosscheck(name, spec, X, init, trajectory, final)

            log_prob, path = hmm.decode(X, spec["lengths"], algorithm="viterbi")
            posterior = hmm.predict_proba(X, spec["lengths"])
        assert path.shape == (len(X),) and path.min() >= 0 and path.max() < spec["K"], name
        assert np.allclose(posterior.sum(axis=1), 1.0), name

        fixture = {
            "case": name,
            "model": spec["model"],
            "data": spec["data"],
            "columns": spec["columns"],
            "lengths": spec["lengths"],
            "K": spec["K"],
            "iterations": ITERATIONS,
            "init": params_to_json(init),
            "log_likelihood": trajectory,
            # ln p(θ) of the priors written in the model file at each iterate (absent
            # without priors): jensen's objective is log_likelihood + log_prior.
            **({"log_prior": priors} if "priors" in spec else {}),
            "final": params_to_json(final),
            "viterbi": {"log_prob": float(log_prob), "path": [int(s) for s in path]},
            "posterior_first": posterior[:N_POSTERIOR_ROWS].tolist(),
            "versions": versions(),
        }
        out = args.out_dir / f"{name}.json"
        with out.open("w") as f:
            json.dump(fixture, f, indent=1)  # floats are written with repr: exact f64 round trip
            f.write("\n")
        shown = out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out
        print(
            f"{shown}: ll[0]={trajectory[0]!r} ll[{ITERATIONS}]={trajectory[-1]!r} "
            f"viterbi={float(log_prob)!r} (numpy cross-check max rel diff {worst:.1e})"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn warns about some random starts
        duration_collapse(args.data_dir, args.out_dir)


if __name__ == "__main__":
    main()
