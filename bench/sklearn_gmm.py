#!/usr/bin/env python3
"""scikit-learn benchmark peer: time EM iterations of GaussianMixture.

What
----
Reads a headed, all-numeric CSV and EM starting parameters (``init.json``,
full covariance: ``{"weights", "means", "covariances"}`` as written by
``bench/make_synth.py``), installs those parameters into a
``GaussianMixture(covariance_type="full", reg_covar=1e-6)`` and times
(``time.perf_counter``) only a loop of ``--iters`` iterations of
scikit-learn's own ``_e_step`` + ``_m_step`` and the closing ``_e_step`` after
it (as ``GaussianMixture.fit`` runs them, and as jensen's EM loop does: I
M-steps and I + 1 E-steps on both sides). Prints one JSON line:

    {"peer": "scikit-learn", "version": ..., "threads": T, "iters": I,
     "seconds": total_loop_seconds, "seconds_per_iter": ...,
     "final_log_likelihood": total}

``final_log_likelihood`` is the TOTAL (summed over rows) log-likelihood at
the parameters left by the last M-step, from the closing E-step -- the same
convention as ``log_likelihood[-1]`` in
``tests/fixtures/sklearn/*.json``.

Why
---
It is the reference point for jensen's per-iteration speed: same data, same
starting point, same number of iterations, no convergence test, and no
initialisation (k-means etc.) inside the timed region.

Threading
---------
BLAS/OpenMP pools are sized at library load time, so OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set from ``--threads`` BEFORE
numpy is imported (numpy/sklearn are imported inside ``main`` after argument
parsing); ``threadpoolctl.threadpool_limits`` additionally caps the pools
during the run.

Usage
-----
    python bench/sklearn_gmm.py --data bench/out/synth.csv \
        --init bench/out/init.json --iters 50 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

REG_COVAR = 1e-6
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="CSV with a header row, all columns numeric")
    parser.add_argument("--init", required=True, help="init.json with weights/means/covariances (full)")
    parser.add_argument("--iters", type=int, default=50, help="EM iterations to time")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP thread limit")
    parser.add_argument(
        "--cov",
        choices=["full", "diag"],
        default="full",
        help="covariance type (diag: the diagonals of init.json's covariances)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    # Must happen before numpy (and hence any BLAS / OpenMP runtime) is loaded.
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(args.threads)

    import numpy as np
    import sklearn
    from sklearn.mixture import GaussianMixture
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
    from threadpoolctl import threadpool_limits

    X = np.loadtxt(args.data, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    n = X.shape[0]
    with open(args.init) as f:
        init = json.load(f)
    weights = np.asarray(init["weights"], dtype=np.float64)
    means = np.asarray(init["means"], dtype=np.float64)
    covariances = np.asarray(init["covariances"], dtype=np.float64)
    k, d = means.shape
    assert X.shape[1] == d, f"data has {X.shape[1]} columns, init means have {d}"
    assert weights.shape == (k,) and covariances.shape == (k, d, d), "init must be full covariance"

    if args.cov == "diag":
        covariances = np.stack([np.diag(c) for c in covariances])

    # Install the starting parameters exactly as scripts/sklearn_fixtures.py does.
    gm = GaussianMixture(n_components=k, covariance_type=args.cov, reg_covar=REG_COVAR)
    gm.weights_ = weights
    gm.means_ = means
    gm.covariances_ = covariances
    gm.precisions_cholesky_ = _compute_precision_cholesky(covariances, args.cov)

    with threadpool_limits(limits=args.threads):
        start = time.perf_counter()
        for _ in range(args.iters):
            _, log_resp = gm._e_step(X)
            gm._m_step(X, log_resp)
        # The closing E-step (the log-likelihood at the final parameters), timed: scikit-learn's
        # own `fit` runs it after its loop, and so does jensen's EM loop.
        log_prob_norm, _ = gm._e_step(X)
        seconds = time.perf_counter() - start

    print(
        json.dumps(
            {
                "peer": "scikit-learn",
                "version": sklearn.__version__,
                "threads": args.threads,
                "iters": args.iters,
                "seconds": seconds,
                "seconds_per_iter": seconds / args.iters if args.iters else float("nan"),
                "final_log_likelihood": float(log_prob_norm) * n,
            }
        )
    )


if __name__ == "__main__":
    main()
