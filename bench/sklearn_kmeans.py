#!/usr/bin/env python3
"""scikit-learn benchmark peer: time Lloyd iterations of KMeans.

Reads a headed, all-numeric CSV and starting centres (``init.json``'s ``means``, as written
by ``bench/make_synth.py``), fits ``KMeans(n_clusters=K, init=centres, n_init=1,
max_iter=ITERS, tol=0, algorithm="lloyd")`` with BLAS/OpenMP limited to ``--threads`` and
times (``time.perf_counter``) only ``fit``. Prints one JSON line:

    {"peer": "scikit-learn", "version": ..., "threads": T, "iters": n_iter_,
     "seconds": fit_seconds, "seconds_per_iter": ..., "inertia": inertia_}

``inertia`` is scikit-learn's ``inertia_``: the within-cluster sum of squares of the rows
assigned to the final centres. ``iters`` is ``n_iter_``; the run is only comparable when it
equals ``--iters`` (no strict convergence before), which the caller checks.

    python bench/sklearn_kmeans.py --data bench/out/kmeans/synth.csv \
        --init bench/out/kmeans/init.json --iters 20 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--iters", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(args.threads)

    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = np.loadtxt(args.data, delimiter=",", skiprows=1)
    centres = np.array(json.load(open(args.init))["means"], dtype=np.float64)
    km = KMeans(
        n_clusters=len(centres),
        init=centres,
        n_init=1,
        max_iter=args.iters,
        tol=0.0,
        algorithm="lloyd",
    )
    with threadpool_limits(limits=args.threads):
        start = time.perf_counter()
        km.fit(x)
        seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "peer": "scikit-learn",
                "version": sklearn.__version__,
                "threads": args.threads,
                "iters": int(km.n_iter_),
                "seconds": seconds,
                "seconds_per_iter": seconds / km.n_iter_,
                "inertia": float(km.inertia_),
            }
        )
    )


if __name__ == "__main__":
    main()
