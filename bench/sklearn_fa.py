#!/usr/bin/env python3
"""scikit-learn benchmark peer: time FactorAnalysis.fit to convergence.

What
----
Reads a headed, all-numeric CSV and times (``time.perf_counter``) one call of

    FactorAnalysis(n_components=L, tol=TOL, max_iter=100000,
                   svd_method=METHOD, random_state=0).fit(X)

i.e. scikit-learn's whole fit from its own default start (centring, noise
variances 1, then its SVD fixed point until the TOTAL log-likelihood gain of
an iteration is below ``tol``). Prints one JSON line:

    {"peer": "scikit-learn", "version": ..., "threads": T, "svd_method": ...,
     "tol": ..., "n_iter": I, "seconds": fit_seconds,
     "log_likelihood": total, "last_monitored_log_likelihood": ...,
     "blas": [threadpoolctl info of the BLAS/OpenMP pools]}

``log_likelihood`` is the TOTAL (summed over rows) log-likelihood of the data
at the fitted parameters, ``fa.score(X) * N``, computed after the timed fit.
``last_monitored_log_likelihood`` is ``fa.loglike_[-1]``, the value scikit-learn
itself tested for convergence (with ``svd_method="randomized"`` it comes from
an approximate SVD, so it need not equal ``log_likelihood``).

Why
---
scikit-learn's FactorAnalysis is not EM (Barber's SVD fixed point: each
iteration is an SVD of the N x D scaled data), so a per-iteration comparison
with jensen means nothing; ``bench/run_fa.sh`` compares the time to
convergence at a matched stopping rule instead.

Threading
---------
BLAS/OpenMP pools are sized at library load time, so OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set from ``--threads`` BEFORE
numpy is imported (numpy/sklearn are imported inside ``main`` after argument
parsing); ``threadpoolctl.threadpool_limits`` additionally caps the pools
during the run. The ``blas`` field records which library, kernel
(``architecture``) and thread count were in force, so a run slowed by an
``OPENBLAS_CORETYPE`` override can be recognised.

Usage
-----
    python bench/sklearn_fa.py --data bench/out/fa_synth.csv --l 10 \
        --tol 1e-2 --svd-method lapack --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="CSV with a header row, all columns numeric")
    parser.add_argument("--l", type=int, default=10, help="number of factors (n_components)")
    parser.add_argument("--tol", type=float, default=1e-2, help="stop when the total log-likelihood gain is below this")
    parser.add_argument("--svd-method", choices=("lapack", "randomized"), default="randomized")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP thread limit")
    return parser.parse_args()


def main() -> None:
    args = parse_args()

    # Must happen before numpy (and hence any BLAS / OpenMP runtime) is loaded.
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(args.threads)

    import numpy as np
    import sklearn
    from sklearn.decomposition import FactorAnalysis
    from threadpoolctl import threadpool_info, threadpool_limits

    X = np.loadtxt(args.data, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    n = X.shape[0]

    fa = FactorAnalysis(
        n_components=args.l,
        tol=args.tol,
        max_iter=100_000,
        svd_method=args.svd_method,
        random_state=0,
    )
    with threadpool_limits(limits=args.threads):
        blas = [
            {key: info.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
            for info in threadpool_info()
        ]
        start = time.perf_counter()
        fa.fit(X)  # copy=True: X itself is left as read
        seconds = time.perf_counter() - start
        # Untimed: total log-likelihood of the data at the fitted parameters.
        log_likelihood = float(fa.score(X)) * n

    print(
        json.dumps(
            {
                "peer": "scikit-learn",
                "version": sklearn.__version__,
                "threads": args.threads,
                "svd_method": args.svd_method,
                "tol": args.tol,
                "n_iter": int(fa.n_iter_),
                "seconds": seconds,
                "log_likelihood": log_likelihood,
                "last_monitored_log_likelihood": float(fa.loglike_[-1]),
                "blas": blas,
            }
        )
    )


if __name__ == "__main__":
    main()
