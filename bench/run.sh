#!/usr/bin/env bash
# Speed benchmark: jensen against scikit-learn's GaussianMixture on the same data, from the
# same starting parameters, for the same number of EM iterations, in the same run.
#
#   bash bench/run.sh            # N=100000, D=8, K=8, full covariance, 50 iterations
#   N=20000 ITERS=20 bash bench/run.sh
#   COV=diag OUT=bench/out/diag bash bench/run.sh   # diagonal covariances (models/gmm_diag.em)
#
# Installs scikit-learn into .venv-ref/ (bench/setup_peer.sh), builds jensen in release mode,
# generates bench/out/synth.csv and the starting point, then times the EM loop only (no CSV
# parsing, no initialisation) of: jensen with 1 and 2 threads, scikit-learn with 1 thread.
# Each configuration runs REPEAT times (default 3) and the fastest run is reported, since
# the machine may be shared. Writes the table to bench/out/results.md and prints it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-100000}
D=${D:-8}
K=${K:-8}
ITERS=${ITERS:-50}
REPEAT=${REPEAT:-3}
SEED=${SEED:-7}
COV=${COV:-full}
out=${OUT:-bench/out}
mkdir -p "$out"
case "$COV" in
    full) model=models/gmm.em ;;
    diag) model=models/gmm_diag.em ;;
    *) echo "COV must be full or diag" >&2; exit 2 ;;
esac

bash bench/setup_peer.sh
py=.venv-ref/bin/python
cargo build --release --quiet -p jensen-cli
"$py" bench/make_synth.py --n "$N" --d "$D" --k "$K" --seed "$SEED" --out "$out/"
# jensen's parameter names for models/gmm.em (models/gmm_diag.em: the covariances' diagonals).
"$py" -c "
import json
d = json.load(open('$out/init.json'))
p = {'w': d['weights'], 'mu': d['means']}
if '$COV' == 'full':
    p['Sigma'] = d['covariances']
else:
    p['v'] = [[c[i][i] for i in range(len(c))] for c in d['covariances']]
json.dump(p, open('$out/init_jensen.json', 'w'))"

jensen_time() { # threads -> fastest seconds per iteration, and the final log-likelihood
    local best=""
    for _ in $(seq "$REPEAT"); do
        ./target/release/jensen fit "$model" --data "$out/synth.csv" --set K="$K" \
            --init "$out/init_jensen.json" --iterations "$ITERS" --threads "$1" --quiet \
            --out "$out/jensen_t$1.json" > /dev/null
        best=$("$py" -c "import json; d=json.load(open('$out/jensen_t$1.json')); t=d['timing']['seconds_per_iteration']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; print(json.load(open('$out/jensen_t$1.json'))['log_likelihood'])")"
}

sklearn_time() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        "$py" bench/sklearn_gmm.py --data "$out/synth.csv" --init "$out/init.json" --iters "$ITERS" --threads 1 --cov "$COV" > "$out/sklearn_t1.json"
        best=$("$py" -c "import json; d=json.load(open('$out/sklearn_t1.json')); t=d['seconds_per_iter']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; d=json.load(open('$out/sklearn_t1.json')); print(d['final_log_likelihood'], d['version'])")"
}

read -r sk sk_ll sk_version < <(sklearn_time)
read -r j1 j1_ll < <(jensen_time 1)
read -r j2 j2_ll < <(jensen_time 2)

"$py" - "$sk" "$j1" "$j2" "$sk_ll" "$j1_ll" "$j2_ll" "$sk_version" <<PY | tee "$out/results.md"
import sys
sk, j1, j2 = map(float, sys.argv[1:4])
sk_ll, j1_ll, j2_ll = map(float, sys.argv[4:7])
version = sys.argv[7]
print(f"GMM, $COV covariance: N=$N, D=$D, K=$K, $ITERS EM iterations from the same start, fastest of $REPEAT runs")
print()
print("| implementation | threads | ms / iteration | speed-up vs scikit-learn (1 thread) | final log-likelihood |")
print("|---|---|---|---|---|")
print(f"| scikit-learn {version} | 1 | {sk*1e3:.1f} | 1.0× | {sk_ll:.6f} |")
print(f"| jensen | 1 | {j1*1e3:.1f} | {sk/j1:.1f}× | {j1_ll:.6f} |")
print(f"| jensen | 2 | {j2*1e3:.1f} | {sk/j2:.1f}× (×{j1/j2:.2f} over 1 thread) | {j2_ll:.6f} |")
PY
