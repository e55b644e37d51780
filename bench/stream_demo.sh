#!/usr/bin/env bash
# Streaming beyond memory: a CSV file larger than the address space the process may use
# (`ulimit -v`), fitted with `jensen fit --stream`; the same fit in memory is refused under
# that limit with a message, before anything is read. Then the streamed fit and the in-memory
# fit (without the limit) are compared, and each one's peak resident memory is reported.
#
#   bash bench/stream_demo.sh                # N=8,000,000 rows x 8 columns (about 1.4 GB of CSV)
#   N=2000000 LIMIT_MB=300 bash bench/stream_demo.sh
#
# Writes bench/out/stream/{synth.csv,*.log}. Needs python3 with numpy (bench/setup_peer.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-8000000}
K=${K:-8}
ITER=${ITER:-3}
LIMIT_MB=${LIMIT_MB:-400}
out=bench/out/stream
mkdir -p "$out"
py=python3
[ -x .venv-ref/bin/python ] && py=.venv-ref/bin/python
if [ ! -f "$out/synth.csv" ] || [ "$(($(wc -l < "$out/synth.csv") - 1))" != "$N" ]; then
    "$py" bench/make_synth.py --n "$N" --d 8 --k "$K" --seed 11 --out "$out"
fi
cargo build --release -q -p jensen-cli
jensen=./target/release/jensen
size=$(stat -c %s "$out/synth.csv")
echo "file: $out/synth.csv, $N rows x 8 columns, $((size / 1048576)) MiB of CSV, $((N * 8 * 8 / 1048576)) MiB as f64"
echo "limit: ulimit -v $((LIMIT_MB * 1024)) (${LIMIT_MB} MiB of address space)"
echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores"

common=(fit models/gmm.em --data "$out/synth.csv" --set "K=$K" --iterations "$ITER" --seed 1)

echo
echo "== in memory, under the limit (refused)"
set +e
(ulimit -v $((LIMIT_MB * 1024)); "$jensen" "${common[@]}" --quiet) > "$out/memory_limited.log" 2>&1
echo "exit status $?"
set -e
tail -n 3 "$out/memory_limited.log"

echo
echo "== streamed, under the limit"
(ulimit -v $((LIMIT_MB * 1024)); /usr/bin/time -v "$jensen" "${common[@]}" --stream) > "$out/streamed.log" 2>&1
grep -E "^model|^log-likelihood|Maximum resident|Elapsed" "$out/streamed.log"

echo
echo "== in memory, without the limit"
/usr/bin/time -v "$jensen" "${common[@]}" > "$out/memory.log" 2>&1
grep -E "^log-likelihood|Maximum resident|Elapsed" "$out/memory.log"

a=$(sed -n 's/^log-likelihood \([^ ]*\) .*/\1/p' "$out/streamed.log")
b=$(sed -n 's/^log-likelihood \([^ ]*\) .*/\1/p' "$out/memory.log")
echo
echo "log-likelihood streamed $a, in memory $b"
