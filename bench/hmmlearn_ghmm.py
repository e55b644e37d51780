#!/usr/bin/env python3
"""hmmlearn benchmark peer: time EM (Baum-Welch) iterations of GaussianHMM.

What
----
Reads a headed, all-numeric CSV holding ONE sequence (row t = time t) and EM
starting parameters (``hmm_init.json`` as written by
``bench/make_hmm_synth.py``: ``{"p0", "A", "mu", "Sigma"}``, full
covariance), installs them into

    GaussianHMM(covariance_type="full", n_iter=I, tol=-inf, init_params="",
                params="stmc", implementation="log", covars_prior=0,
                covars_weight=1, means_prior=0, means_weight=0)

i.e. plain maximum-likelihood EM with no priors, no regularisation, no
initialisation and no convergence test, and times (``time.perf_counter``)
only ``model.fit(X)`` and ``model.score(X)`` after it. ``tol=-inf`` means the convergence test
(``history[-1] - history[-2] < tol``) never fires, so ``fit`` runs exactly
``--iters`` iterations; ``monitor_.iter`` is checked afterwards. Prints one
JSON line:

    {"peer": "hmmlearn", "version": ..., "threads": T, "iterations": I,
     "seconds": total_fit_seconds, "seconds_per_iter": ...,
     "final_log_likelihood": ..., "last_estep_log_likelihood": ...}

``final_log_likelihood`` is ``model.score(X)`` after the fit (timed, as jensen's
loop times its closing E-step, which computes the same value): the
total log-likelihood of the sequence at the parameters left by the I-th
M-step -- the same convention as jensen's ``log_likelihood``.
``last_estep_log_likelihood`` is hmmlearn's own last monitored value, the
log-likelihood computed in the I-th E-step, i.e. at the parameters after
I-1 M-steps (kept for cross-checking trajectories).

Why
---
It is the reference point for the per-iteration speed of jensen's Gaussian
HMM (``models/hmm_gaussian.em``): same sequence, same starting point, same
number of iterations.

Threading
---------
BLAS/OpenMP pools are sized at library load time, so OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set from ``--threads`` BEFORE
numpy is imported (numpy/hmmlearn are imported inside ``main`` after
argument parsing); ``threadpoolctl.threadpool_limits`` additionally caps the
pools during the run.

Usage
-----
    python bench/hmmlearn_ghmm.py --data bench/out/hmm_synth.csv \
        --init bench/out/hmm_init.json --iters 30 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="CSV with a header row, all columns numeric, one sequence")
    parser.add_argument("--init", required=True, help="hmm_init.json with p0/A/mu/Sigma (full covariance)")
    parser.add_argument("--iters", type=int, default=30, help="EM iterations to time")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP thread limit")
    parser.add_argument(
        "--sequences",
        type=int,
        default=1,
        help="split the rows into this many consecutive independent sequences of near-equal "
        "length (the first N mod S one row longer), as jensen's --lengths does",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.iters < 1:
        raise SystemExit("--iters must be at least 1")

    # Must happen before numpy (and hence any BLAS / OpenMP runtime) is loaded.
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(args.threads)

    import numpy as np
    import hmmlearn
    from hmmlearn.hmm import GaussianHMM
    from threadpoolctl import threadpool_limits

    X = np.loadtxt(args.data, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    with open(args.init) as f:
        init = json.load(f)
    startprob = np.asarray(init["p0"], dtype=np.float64)
    transmat = np.asarray(init["A"], dtype=np.float64)
    means = np.asarray(init["mu"], dtype=np.float64)
    covars = np.asarray(init["Sigma"], dtype=np.float64)
    k, d = means.shape
    assert X.shape[1] == d, f"data has {X.shape[1]} columns, init means have {d}"
    assert startprob.shape == (k,) and transmat.shape == (k, k), "p0 must be [K], A must be [K][K]"
    assert covars.shape == (k, d, d), "Sigma must be [K][D][D] (full covariance)"

    model = GaussianHMM(
        n_components=k,
        covariance_type="full",
        n_iter=args.iters,
        tol=-np.inf,
        init_params="",
        params="stmc",
        implementation="log",
        covars_prior=0.0,
        covars_weight=1.0,
        means_prior=0.0,
        means_weight=0.0,
    )
    model.startprob_ = startprob
    model.transmat_ = transmat
    model.means_ = means
    model.covars_ = covars

    n, s = X.shape[0], args.sequences
    lengths = [n // s + (1 if i < n % s else 0) for i in range(s)]
    with threadpool_limits(limits=args.threads):
        start = time.perf_counter()
        model.fit(X, lengths)
        # Timed with the fit: the log-likelihood at the final parameters, which jensen's EM
        # loop computes in its closing E-step (a forward pass here, a forward-backward there).
        final_ll = model.score(X, lengths)
        seconds = time.perf_counter() - start

    iterations = model.monitor_.iter
    assert iterations == args.iters, f"hmmlearn ran {iterations} iterations, asked for {args.iters}"

    print(
        json.dumps(
            {
                "peer": "hmmlearn",
                "version": hmmlearn.__version__,
                "threads": args.threads,
                "sequences": s,
                "iterations": iterations,
                "seconds": seconds,
                "seconds_per_iter": seconds / iterations,
                "final_log_likelihood": float(final_ll),
                "last_estep_log_likelihood": float(model.monitor_.history[-1]),
            }
        )
    )


if __name__ == "__main__":
    main()
