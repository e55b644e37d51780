#!/usr/bin/env bash
# Every speed benchmark in one run, and one table of the ratios with the machine's facts
# (issue 13): GMM full and diagonal (N=1e5, D=8, K=8), GMM full at N=1e6 D=16 K=16, the
# Gaussian HMM against hmmlearn, k-means against scikit-learn's KMeans, and factor analysis
# against scikit-learn's FactorAnalysis. Each row comes from its own script (bench/run*.sh),
# which times jensen and the peer in the same run from the same start; this script only
# chooses their sizes and collects their tables.
#
#   bash bench/compare.sh                 # the sizes below
#   QUICK=1 bash bench/compare.sh         # smaller N and fewer iterations, one run each
#   COLLECT=1 bash bench/compare.sh       # only the table, from the scripts' last results
#
# Writes bench/out/compare/results.md (the table, then each script's own table) and prints it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=bench/out/compare
mkdir -p "$out"
if [ -n "${QUICK:-}" ]; then
    small="N=20000 ITERS=10 REPEAT=1"
    large="N=100000 D=16 K=16 ITERS=2 REPEAT=1"
    hmm="N=20000 ITERS=10 REPEAT=1"
    kmeans="N=100000 ITERS=10 REPEAT=1"
    fa="N=20000 REPEAT=1"
else
    small="ITERS=20 REPEAT=3"
    large="N=1000000 D=16 K=16 ITERS=3 REPEAT=1"
    hmm="ITERS=20 REPEAT=3"
    kmeans="REPEAT=3"
    fa="REPEAT=3"
fi

# (Each script prints its table; the logs keep everything else.)
if [ -z "${COLLECT:-}" ]; then
env $small OUT="$out/gmm_full" bash bench/run.sh > "$out/gmm_full.log" 2>&1
env $small COV=diag OUT="$out/gmm_diag" bash bench/run.sh > "$out/gmm_diag.log" 2>&1
env $large OUT="$out/gmm_large" bash bench/run.sh > "$out/gmm_large.log" 2>&1
env $hmm bash bench/run_hmm.sh > "$out/hmm.log" 2>&1
env $kmeans bash bench/run_kmeans.sh > "$out/kmeans.log" 2>&1
env $fa bash bench/run_fa.sh > "$out/fa.log" 2>&1
fi

py=.venv-ref/bin/python
"$py" - "$out" <<'PY' | tee "$out/results.md"
import os, platform, re, subprocess, sys, datetime
out = sys.argv[1]
tables = [
    ("GMM, full covariance", f"{out}/gmm_full/results.md"),
    ("GMM, diagonal covariance", f"{out}/gmm_diag/results.md"),
    ("GMM, full covariance, large", f"{out}/gmm_large/results.md"),
    ("Gaussian HMM, full covariance", "bench/out/results_hmm.md"),
    ("k-means (hard EM)", "bench/out/kmeans/results.md"),
    ("factor analysis, to convergence", "bench/out/results_fa.md"),
]

def rows(path):
    """The table rows of a results file: lists of cells."""
    lines = open(path).read().splitlines()
    body = [l for l in lines if l.startswith("|") and not l.startswith("|---")]
    return lines[0], [[c.strip() for c in l.strip("|").split("|")] for l in body[1:]]

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

lscpu = sh("lscpu")
model = re.search(r"Model name:\s*(.*)", lscpu)
flags = re.search(r"Flags:\s*(.*)", lscpu)
flags = flags.group(1).split() if flags else []
widest = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
print(f"Machine: {model.group(1) if model else '?'} ({widest}), {os.cpu_count()} logical cores, "
      f"{mem:.0f} GiB; {sh('rustc --version')}; jensen {sh('git rev-parse --short HEAD')}; "
      f"{datetime.date.today().isoformat()}")
print()
print("| workload | sizes | peer (1 thread) | peer | jensen 1 thread | ratio | jensen 2 threads | ratio | 2 threads over 1 |")
print("|---|---|---|---|---|---|---|---|---|")
for name, path in tables:
    if not os.path.exists(path):
        print(f"| {name} | (no result: see the log) | | | | | | | |")
        continue
    title, body = rows(path)
    sizes = ", ".join(re.findall(r"\b[NDKL]=\d+", title)) or title
    sizes += "".join(f", {m} iterations" for m in re.findall(r"(\d+) (?:EM|Lloyd) iterations", title))
    if name.startswith("factor analysis"):
        # implementation | svd method / threads | iterations | seconds to convergence | ...
        peer = [r for r in body if r[0].startswith("scikit-learn") and "randomized" in r[1]][0]
        j1 = [r for r in body if r[0] == "jensen (EM)" and r[1].startswith("1 ")][0]
        j2 = [r for r in body if r[0] == "jensen (EM)" and r[1].startswith("2 ")][0]
        p, t1, t2 = float(peer[3]), float(j1[3]), float(j2[3])
        print(f"| {name} | {sizes} | {peer[0]} ({peer[1]}) | {p:.3f} s | {t1:.3f} s | {p / t1:.1f}× "
              f"| {t2:.3f} s | {p / t2:.1f}× | ×{t1 / t2:.2f} |")
        continue
    peer = body[0]
    j1 = [r for r in body if r[0].startswith("jensen") and r[1] == "1"][0]
    j2 = [r for r in body if r[0].startswith("jensen") and r[1] == "2"][0]
    p, t1, t2 = float(peer[2]), float(j1[2]), float(j2[2])
    print(f"| {name} | {sizes} | {peer[0]} | {p:.1f} ms | {t1:.1f} ms | {p / t1:.1f}× "
          f"| {t2:.1f} ms | {p / t2:.1f}× | ×{t1 / t2:.2f} |")
print()
print("Times are per EM iteration (the loop only, from the same start, fastest of the runs), except")
print("factor analysis: seconds to convergence, initialisation included, each from its own start.")
for name, path in tables:
    if os.path.exists(path):
        print()
        print(f"### {name}")
        print()
        print(open(path).read().strip())
PY
