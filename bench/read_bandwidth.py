"""One thread's read bandwidth, for the bound of a pass over the data.

What: the fastest of 15 sums (NumPy, one thread) of a float64 array of the k-means
benchmark's size (1,000,000 x 16 values, 128 MB) and of two such arrays' dot product.

Why: an EM or k-means iteration reads the data at least once, so the time of these sums is
the floor of one pass over them on this machine; the README compares k-means's iteration
with it.

Usage: .venv-ref/bin/python bench/read_bandwidth.py   (after bench/setup_peer.sh)
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402


def fastest(f, repeat=15):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    n = 16_000_000
    rng = np.random.default_rng(7)
    a, b = rng.random(n), rng.random(n)
    mb = a.nbytes / 1e6
    t = fastest(lambda: a.sum())
    print(f"sum of {mb:.0f} MB: {t * 1e3:.1f} ms, {a.nbytes / t / 1e9:.1f} GB/s")
    t = fastest(lambda: np.dot(a, b))
    print(f"dot of 2 x {mb:.0f} MB: {t * 1e3:.1f} ms, {2 * a.nbytes / t / 1e9:.1f} GB/s")


if __name__ == "__main__":
    main()
