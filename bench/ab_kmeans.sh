#!/usr/bin/env bash
# A/B of two revisions of jensen on the k-means workload of bench/run_kmeans.sh (same data,
# centres and iteration count): each revision is built in its own worktree, then the two
# binaries run alternately ROUNDS times on one thread, so that a noisy machine affects both
# alike. Prints ms per iteration of every run and the CPU.
#
#   bash bench/ab_kmeans.sh 4d78e4a~1 4d78e4a      # before / after a change
#   ROUNDS=6 bash bench/ab_kmeans.sh main~3 main
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -eq 2 ] || { echo "usage: bash bench/ab_kmeans.sh REV_A REV_B" >&2; exit 2; }
ROUNDS=${ROUNDS:-4}
ITERS=${ITERS:-20}
K=${K:-16}
out=bench/out/kmeans
ab=bench/out/ab
mkdir -p "$ab"
# The data and starting centres of bench/run_kmeans.sh (N=1e6, D=16, K=16).
if [ ! -f "$out/init_jensen.json" ]; then
    echo "run bash bench/run_kmeans.sh once first: it writes the data and centres" >&2
    exit 1
fi
py=.venv-ref/bin/python
build() { # rev -> path of its binary
    local rev=$1 dir
    dir="$ab/$(git rev-parse --short "$rev")"
    if [ ! -x "$dir/target/release/jensen" ]; then
        rm -rf "$dir"
        git worktree add --detach -f "$dir" "$rev" >/dev/null
        (cd "$dir" && cargo build --release --quiet -p jensen-cli) >&2
    fi
    echo "$dir/target/release/jensen"
}
a=$(build "$1")
b=$(build "$2")
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
for r in $(seq "$ROUNDS"); do
    for pair in "A:$a" "B:$b"; do
        bin=${pair#*:}
        "$bin" fit models/kmeans.em --data "$out/synth.csv" --set K="$K" \
            --init "$out/init_jensen.json" --iterations "$ITERS" --threads 1 --quiet \
            --out "$ab/run.json" > /dev/null
        ms=$("$py" -c "import json; print(round(json.load(open('$ab/run.json'))['timing']['seconds_per_iteration'] * 1000, 1))")
        echo "round $r ${pair%%:*} ($( [ "${pair%%:*}" = A ] && echo "$1" || echo "$2")): $ms ms/iteration"
    done
done
