#!/usr/bin/env bash
# Two or more jensen binaries on one workload, interleaved (each run of each binary in turn,
# so a slow spell of the machine falls on all of them), fastest of REPEAT runs each, on the
# data bench/compare.sh left in bench/out/. For a change's effect on one kernel:
#
#   git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release -p jensen-cli)
#   REPEAT=5 bash bench/ab.sh diag /tmp/before/target/release/jensen ./target/release/jensen
#
# Workloads: full, diag, large, hmm, hmm8 (the same fits as bench/jensen_only.sh); THREADS
# (default 1); ITERATIONS (default the workload's own, 20 or 3: more iterations weigh the
# first iteration's start-up less). Prints milliseconds per EM iteration for each binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
workload=${1:?"usage: bench/ab.sh WORKLOAD BINARY..."}
shift
[ $# -ge 1 ] || { echo "usage: bench/ab.sh WORKLOAD BINARY..." >&2; exit 2; }
REPEAT=${REPEAT:-5}
THREADS=${THREADS:-1}
o=bench/out/compare
eights=12500,12500,12500,12500,12500,12500,12500,12500
case $workload in
    full) args=(models/gmm.em --data $o/gmm_full/synth.csv --set K=8 --init $o/gmm_full/init_jensen.json --iterations ${ITERATIONS:-20}) ;;
    diag) args=(models/gmm_diag.em --data $o/gmm_diag/synth.csv --set K=8 --init $o/gmm_diag/init_jensen.json --iterations ${ITERATIONS:-20}) ;;
    large) args=(models/gmm.em --data $o/gmm_large/synth.csv --set K=16 --init $o/gmm_large/init_jensen.json --iterations ${ITERATIONS:-3}) ;;
    hmm) args=(models/hmm_gaussian.em --data bench/out/hmm_synth.csv --set K=8 --init bench/out/hmm_init.json --iterations ${ITERATIONS:-20} --reg-covar 0 --lengths 100000) ;;
    hmm8) args=(models/hmm_gaussian.em --data bench/out/hmm_synth.csv --set K=8 --init bench/out/hmm_init.json --iterations ${ITERATIONS:-20} --reg-covar 0 --lengths $eights) ;;
    *) echo "unknown workload $workload (full, diag, large, hmm, hmm8)" >&2; exit 2 ;;
esac
[ -f "${args[2]}" ] || { echo "missing ${args[2]}: run bash bench/compare.sh first" >&2; exit 2; }
declare -A best
for _ in $(seq "$REPEAT"); do
    for bin in "$@"; do
        "$bin" fit "${args[@]}" --threads "$THREADS" --quiet --out /tmp/jensen_ab.json > /dev/null
        t=$(python3 -c "import json; print(json.load(open('/tmp/jensen_ab.json'))['timing']['seconds_per_iteration'] * 1e3)")
        best[$bin]=$(python3 -c "print(min($t, ${best[$bin]:-1e300}))")
    done
done
for bin in "$@"; do
    printf '%s threads=%s %s %.2f ms\n' "$workload" "$THREADS" "$bin" "${best[$bin]}"
done
