#!/usr/bin/env python3
"""Generate scikit-learn KMeans references for jensen's `models/kmeans.em` tests.

For each data set and K, writes ``tests/fixtures/kmeans/<data>_k<K>.json`` with:

- ``optimum``: the best inertia (within-cluster sum of squares) scikit-learn's Lloyd
  k-means finds over 100 k-means++ starts (``n_init=100``, ``tol=0``: strict convergence),
  with its centres sorted lexicographically;
- ``weights`` (files ``<data>_k<K>_weighted.json`` only): a weight per row,
  ``((37 i) mod 11) / 4`` for row ``i`` (zeros, fractions and weights up to 2.5), passed to
  scikit-learn as ``sample_weight`` in every fit below, so that the optimum, the inertia and
  the trajectory are those of the weighted rows;
- ``trajectory``: from fixed initial centres (``init``: K distinct rows of the data chosen
  by a seeded generator), the centres after each Lloyd iteration ``t = 1..T`` and the
  assignment of every row to the centres it had at the start of iteration ``t``
  (``labels[t-1]``, computed by scikit-learn's own ``predict`` on the centres of iteration
  ``t - 1``), until the assignments stop changing; ``inertia[t]`` is the inertia of the
  rows under ``labels[t]`` and the centres of iteration ``t``'s start.

Run with the reference environment (scripts/requirements.txt), e.g.
``.venv-ref/bin/python scripts/kmeans_fixtures.py``; data are read from ``<repo>/data``.
"""
import argparse
import json
import pathlib

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

REPO = pathlib.Path(__file__).resolve().parent.parent

CASES = [
    ("faithful", ["eruptions", "waiting"], 2),
    ("faithful", ["eruptions", "waiting"], 3),
    ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 3),
    ("quakes", ["lat", "long", "depth", "mag", "stations"], 4),
]


def load(data_dir, name, columns):
    import csv

    with open(data_dir / f"{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float64)


def lloyd_step(x, centres, w=None):
    """One Lloyd iteration by scikit-learn from `centres`: the centres after one update."""
    km = KMeans(n_clusters=len(centres), init=centres, n_init=1, max_iter=1, tol=0.0, algorithm="lloyd")
    return km.fit(x, sample_weight=w).cluster_centers_.copy()


def nearest(x, centres):
    """scikit-learn's assignment of every row to `centres` (`KMeans.predict`)."""
    km = KMeans(n_clusters=len(centres), init=centres, n_init=1, max_iter=1, algorithm="lloyd").fit(x)
    km.cluster_centers_ = centres.copy()
    return km.predict(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=pathlib.Path, default=REPO / "data")
    p.add_argument("--out", type=pathlib.Path, default=REPO / "tests" / "fixtures" / "kmeans")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(limits=1):
        for (name, columns, k), weighted in [(c, w) for c in CASES for w in (False, True)]:
            x = load(args.data_dir, name, columns)
            w = np.array([((37 * i) % 11) / 4 for i in range(len(x))]) if weighted else None
            best = KMeans(
                n_clusters=k, n_init=100, tol=0.0, max_iter=1000, algorithm="lloyd", random_state=0
            ).fit(x, sample_weight=w)
            order = np.lexsort(best.cluster_centers_.T[::-1])
            rng = np.random.default_rng(2026 + k)
            init = x[np.sort(rng.choice(len(x), size=k, replace=False))]
            centres = [init]
            labels = []
            inertia = []
            # Lloyd from `init`, one scikit-learn iteration at a time, until no label changes.
            for _ in range(300):
                lab = nearest(x, centres[-1])
                labels.append(lab.tolist())
                sq = ((x - centres[-1][lab]) ** 2).sum(axis=1)
                inertia.append(float(sq.sum() if w is None else (w * sq).sum()))
                if len(labels) > 1 and labels[-1] == labels[-2]:
                    break
                centres.append(lloyd_step(x, centres[-1], w))
            doc = {
                "generator": f"scripts/kmeans_fixtures.py, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
                "data": f"data/{name}.csv",
                "columns": columns,
                "k": k,
                "optimum": {
                    "inertia": float(best.inertia_),
                    "centres": best.cluster_centers_[order].tolist(),
                },
                **({"weights": w.tolist()} if weighted else {}),
                "init": init.tolist(),
                "trajectory": {
                    "centres": [c.tolist() for c in centres],
                    "labels": labels,
                    "inertia": inertia,
                },
            }
            path = args.out / f"{name}_k{k}{'_weighted' if weighted else ''}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n")
            print(f"{path}: optimum {best.inertia_:.9f}, {len(labels)} Lloyd steps")


if __name__ == "__main__":
    main()
