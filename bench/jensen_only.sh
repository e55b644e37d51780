#!/usr/bin/env bash
# jensen's side of bench/compare.sh again, for any binary, on the data compare.sh left in
# bench/out/: the same `jensen fit` commands as each script (fastest of REPEAT runs, 1 and 2
# threads), no peer. For a before/after comparison on one machine in one sitting:
#
#   git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release -p jensen-cli)
#   bash bench/jensen_only.sh /tmp/before/target/release/jensen
#   bash bench/jensen_only.sh ./target/release/jensen
#
# Prints one line per workload: milliseconds per EM iteration.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${1:?"usage: bench/jensen_only.sh PATH-TO-JENSEN"}
REPEAT=${REPEAT:-3}
o=bench/out/compare
for f in "$o/gmm_full/synth.csv" "$o/gmm_diag/synth.csv" "$o/gmm_large/synth.csv" \
    bench/out/hmm_synth.csv bench/out/kmeans/synth.csv; do
    [ -f "$f" ] || { echo "missing $f: run bash bench/compare.sh first" >&2; exit 2; }
done

best() { # a jensen fit command -> the fastest seconds per iteration, in ms
    local b=""
    for _ in $(seq "$REPEAT"); do
        "$@" --quiet --out /tmp/jensen_only.json > /dev/null
        b=$(python3 -c "import json; t = json.load(open('/tmp/jensen_only.json'))['timing']['seconds_per_iteration']; b = '$b'; print(min(t, float(b)) if b else t)")
    done
    python3 -c "print(f'{$b * 1e3:.1f}')"
}

eights=12500,12500,12500,12500,12500,12500,12500,12500
for t in 1 2; do
    echo "gmm_full  threads=$t $(best "$bin" fit models/gmm.em --data $o/gmm_full/synth.csv --set K=8 --init $o/gmm_full/init_jensen.json --iterations 20 --threads $t) ms"
    echo "gmm_diag  threads=$t $(best "$bin" fit models/gmm_diag.em --data $o/gmm_diag/synth.csv --set K=8 --init $o/gmm_diag/init_jensen.json --iterations 20 --threads $t) ms"
    echo "gmm_large threads=$t $(best "$bin" fit models/gmm.em --data $o/gmm_large/synth.csv --set K=16 --init $o/gmm_large/init_jensen.json --iterations 3 --threads $t) ms"
    echo "hmm       threads=$t $(best "$bin" fit models/hmm_gaussian.em --data bench/out/hmm_synth.csv --set K=8 --init bench/out/hmm_init.json --iterations 20 --threads $t --reg-covar 0 --lengths 100000) ms"
    echo "hmm_seq8  threads=$t $(best "$bin" fit models/hmm_gaussian.em --data bench/out/hmm_synth.csv --set K=8 --init bench/out/hmm_init.json --iterations 20 --threads $t --reg-covar 0 --lengths $eights) ms"
    echo "kmeans    threads=$t $(best "$bin" fit models/kmeans.em --data bench/out/kmeans/synth.csv --set K=16 --init bench/out/kmeans/init_jensen.json --iterations 20 --threads $t) ms"
done
