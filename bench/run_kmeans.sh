#!/usr/bin/env bash
# Speed benchmark: k-means (models/kmeans.em, hard E-step) against scikit-learn's KMeans
# (algorithm="lloyd") on the same data, from the same centres, for the same number of Lloyd
# iterations, in the same run.
#
#   bash bench/run_kmeans.sh             # N=1000000, D=16, K=16, 20 iterations
#   N=100000 ITERS=10 REPEAT=1 bash bench/run_kmeans.sh
#
# Data and centres come from bench/make_synth.py (a K-component Gaussian mixture; centres =
# K data rows). Only the iterations are timed: scikit-learn's `fit` (its one-off checks and
# final assignment included), jensen's EM loop (`timing.seconds_per_iteration`, which includes
# one more E-step than M-steps). Each configuration is the fastest of REPEAT runs (default 3).
# Writes bench/out/kmeans/results.md and prints it, with the CPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-1000000}
D=${D:-16}
K=${K:-16}
ITERS=${ITERS:-20}
REPEAT=${REPEAT:-3}
SEED=${SEED:-7}
out=bench/out/kmeans
mkdir -p "$out"

bash bench/setup_peer.sh
py=.venv-ref/bin/python
cargo build --release --quiet -p jensen-cli
if [ ! -f "$out/synth.csv" ] || [ "$(head -c 200 "$out/params" 2>/dev/null)" != "$N $D $K $SEED" ]; then
    "$py" bench/make_synth.py --n "$N" --d "$D" --k "$K" --seed "$SEED" --out "$out/"
    echo "$N $D $K $SEED" > "$out/params"
fi
"$py" -c "import json; d=json.load(open('$out/init.json')); json.dump({'mu': d['means']}, open('$out/init_jensen.json', 'w'))"

jensen_time() { # threads -> fastest seconds per iteration, and the final inertia
    local best=""
    for _ in $(seq "$REPEAT"); do
        ./target/release/jensen fit models/kmeans.em --data "$out/synth.csv" --set K="$K" \
            --init "$out/init_jensen.json" --iterations "$ITERS" --threads "$1" --quiet \
            --out "$out/jensen_t$1.json" > /dev/null
        best=$("$py" -c "import json; d=json.load(open('$out/jensen_t$1.json')); t=d['timing']['seconds_per_iteration']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; print(json.load(open('$out/jensen_t$1.json'))['inertia'])")"
}

sklearn_time() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        "$py" bench/sklearn_kmeans.py --data "$out/synth.csv" --init "$out/init.json" --iters "$ITERS" --threads 1 > "$out/sklearn_t1.json"
        best=$("$py" -c "import json; d=json.load(open('$out/sklearn_t1.json')); assert d['iters'] == $ITERS, 'scikit-learn converged early: ' + str(d['iters']); t=d['seconds_per_iter']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; d=json.load(open('$out/sklearn_t1.json')); print(d['inertia'], d['version'])")"
}

read -r sk sk_in sk_version < <(sklearn_time)
read -r j1 j1_in < <(jensen_time 1)
read -r j2 j2_in < <(jensen_time 2)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)

"$py" - "$sk" "$j1" "$j2" "$sk_in" "$j1_in" "$j2_in" "$sk_version" "$cpu" <<PY | tee "$out/results.md"
import sys
sk, j1, j2 = map(float, sys.argv[1:4])
sk_in, j1_in, j2_in = map(float, sys.argv[4:7])
version, cpu = sys.argv[7], sys.argv[8]
print(f"k-means, N=$N, D=$D, K=$K, $ITERS Lloyd iterations from the same centres; {cpu}")
print()
print("| implementation | threads | ms / iteration | speed-up vs scikit-learn (1 thread) | final inertia |")
print("|---|---|---|---|---|")
print(f"| scikit-learn {version} KMeans (lloyd) | 1 | {sk*1e3:.1f} | 1.0× | {sk_in:.6f} |")
print(f"| jensen models/kmeans.em | 1 | {j1*1e3:.1f} | {sk/j1:.2f}× | {j1_in:.6f} |")
print(f"| jensen models/kmeans.em | 2 | {j2*1e3:.1f} | {sk/j2:.2f}× | {j2_in:.6f} |")
PY
