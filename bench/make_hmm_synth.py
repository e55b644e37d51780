#!/usr/bin/env python3
"""Generate a synthetic Gaussian-HMM sequence and EM starting point for benchmarks.

What
----
Writes two files into ``--out``:

* ``hmm_synth.csv``: a header row ``x0,...,x{d-1}`` followed by ``n`` rows,
  ONE sequence (row t is the observation at time t) sampled from a K-state
  hidden Markov model with Gaussian emissions and full covariances: random
  means in a box small enough that neighbouring states overlap, random full
  covariances, a "sticky" transition matrix (0.9 on the diagonal, the other
  0.1 of each row spread at random over the other states) and a random
  initial distribution;
* ``hmm_init.json``: EM starting parameters, deliberately NOT the truth, in
  the parameter names of ``models/hmm_gaussian.em``:
  ``{"p0": [K], "A": [K][K], "mu": [K][D], "Sigma": [K][D][D]}`` with
  uniform ``p0``, ``A`` = 0.5 on the diagonal and the other 0.5 of each row
  spread evenly, ``mu`` = the data rows at the K evenly spread indices
  ``(2j+1)n/(2K)``, and ``Sigma`` = K copies of the whole-data (biased,
  divide-by-N) covariance. The starting point is a function of the data
  alone (no rng draws), so it is reproducible by hand.

Why
---
jensen and hmmlearn (``bench/hmmlearn_ghmm.py``) are timed on the same
sequence from the same starting parameters, so per-iteration costs are
comparable and the final log-likelihoods can be cross-checked.

Everything is drawn from ``numpy.random.default_rng(seed)``, so the output is
reproducible. Values are written with 17 significant digits, so the numbers
in ``hmm_synth.csv`` parse back to exactly the float64 values used to build
``hmm_init.json``.

Usage
-----
    python bench/make_hmm_synth.py --n 100000 --d 4 --k 8 --seed 7 --out bench/out/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

STAY = 0.9  # true probability of staying in the current state
INIT_STAY = 0.5  # starting-point probability of staying


def make_hmm(rng: np.random.Generator, d: int, k: int) -> dict:
    """Random true parameters: overlapping means, SPD covariances, sticky transitions."""
    # Within-state spread is O(1) (covariances below); a box of half-width 5
    # keeps most pairs of states apart while neighbouring ones still overlap.
    means = rng.uniform(-5.0, 5.0, size=(k, d))
    # Random full covariances: B B^T / d is a random PSD matrix with O(1)
    # scale; the ridge keeps every state comfortably non-degenerate.
    covs = np.empty((k, d, d))
    for j in range(k):
        b = rng.normal(size=(d, d))
        covs[j] = b @ b.T / d + 0.25 * np.eye(d)
    if k == 1:
        transmat = np.ones((1, 1))
    else:
        transmat = np.empty((k, k))
        for j in range(k):
            off = rng.dirichlet(np.full(k - 1, 2.0)) * (1.0 - STAY)
            transmat[j] = np.insert(off, j, STAY)
    start = rng.dirichlet(np.full(k, 5.0))
    return {"p0": start, "A": transmat, "mu": means, "Sigma": covs}


def sample(rng: np.random.Generator, hmm: dict, n: int) -> np.ndarray:
    """Draw one sequence of n observations from the HMM."""
    k, d = hmm["mu"].shape
    cdf = np.cumsum(hmm["A"], axis=1)
    u = rng.random(n)
    states = np.empty(n, dtype=np.intp)
    s = min(int(np.searchsorted(np.cumsum(hmm["p0"]), u[0], side="right")), k - 1)
    states[0] = s
    for t in range(1, n):
        # min(): guards against a cumulative sum that rounds to just under 1.
        s = min(int(np.searchsorted(cdf[s], u[t], side="right")), k - 1)
        states[t] = s
    X = np.empty((n, d))
    for j in range(k):
        idx = np.flatnonzero(states == j)
        chol = np.linalg.cholesky(hmm["Sigma"][j])
        X[idx] = hmm["mu"][j] + rng.normal(size=(idx.size, d)) @ chol.T
    return X


def make_init(X: np.ndarray, k: int) -> dict:
    """Uniform p0, A with 0.5 on the diagonal, evenly spread rows as means, data covariance x K."""
    n, d = X.shape
    if k == 1:
        transmat = np.ones((1, 1))
    else:
        transmat = np.full((k, k), (1.0 - INIT_STAY) / (k - 1))
        np.fill_diagonal(transmat, INIT_STAY)
    rows = (2 * np.arange(k) + 1) * n // (2 * k)
    centred = X - X.mean(axis=0)
    cov = centred.T @ centred / n  # biased (divide by N)
    return {
        "p0": np.full(k, 1.0 / k).tolist(),
        "A": transmat.tolist(),
        "mu": X[rows].tolist(),
        "Sigma": np.repeat(cov[np.newaxis], k, axis=0).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="sequence length (rows)")
    parser.add_argument("--d", type=int, default=4, help="number of columns")
    parser.add_argument("--k", type=int, default=8, help="number of hidden states")
    parser.add_argument("--seed", type=int, default=7, help="numpy default_rng seed")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="output directory")
    args = parser.parse_args()
    if args.n < args.k or args.k < 1 or args.d < 1:
        parser.error("need n >= k >= 1 and d >= 1")

    rng = np.random.default_rng(args.seed)
    hmm = make_hmm(rng, args.d, args.k)
    X = sample(rng, hmm, args.n)
    init = make_init(X, args.k)

    args.out.mkdir(parents=True, exist_ok=True)
    header = ",".join(f"x{j}" for j in range(args.d))
    # %.17g round-trips float64 exactly.
    np.savetxt(args.out / "hmm_synth.csv", X, fmt="%.17g", delimiter=",", header=header, comments="")
    with (args.out / "hmm_init.json").open("w") as f:
        json.dump(init, f)  # floats are written with repr: exact f64 round trip
        f.write("\n")
    print(f"wrote {args.out / 'hmm_synth.csv'} ({args.n}x{args.d}) and {args.out / 'hmm_init.json'} (k={args.k})")


if __name__ == "__main__":
    main()
