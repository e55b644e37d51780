#!/usr/bin/env bash
# Streaming beyond memory: a CSV file larger than the memory the process is given, fitted
# with `jensen fit --stream`; the same fit in memory is refused under that limit, with a
# message, before the file is read. Then the in-memory fit runs without the limit, and the
# two are compared (log-likelihood, trace, parameters) with each one's peak resident memory.
#
#   bash bench/stream_demo.sh                    # N=8,000,000 rows x 8 (1.2 GiB of CSV, 488 MiB as f64)
#   N=2000000 LIMIT_MB=128 bash bench/stream_demo.sh
#
# The limit is a memory control group (cgroup v1 or v2, when this shell may create one, as
# root usually may); elsewhere `ulimit -v` (address space, which counts the threads' malloc
# arenas too, so give it some 200 MiB more). Writes bench/out/stream/. Needs python3 with
# numpy (bench/setup_peer.sh) to generate the data.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-8000000}
K=${K:-8}
ITER=${ITER:-3}
LIMIT_MB=${LIMIT_MB:-256}
out=bench/out/stream
mkdir -p "$out"
py=python3
[ -x .venv-ref/bin/python ] && py=.venv-ref/bin/python
if [ ! -f "$out/synth.csv" ] || [ "$(($(wc -l < "$out/synth.csv") - 1))" != "$N" ]; then
    "$py" bench/make_synth.py --n "$N" --d 8 --k "$K" --seed 11 --out "$out"
fi
cargo build --release -q -p jensen-cli
jensen=$PWD/target/release/jensen
size=$(stat -c %s "$out/synth.csv")
echo "file: $out/synth.csv, $N rows x 8 columns, $((size / 1048576)) MiB of CSV, $((N * 64 / 1048576)) MiB as f64"
echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores"

# A memory cgroup of LIMIT_MB, if one can be made.
group=""
for root in /sys/fs/cgroup/memory /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ -w "$root" ] && mkdir -p "$root/jensen-stream-demo" 2> /dev/null; then
        g=$root/jensen-stream-demo
        if [ -e "$g/memory.limit_in_bytes" ]; then
            echo $((LIMIT_MB * 1048576)) > "$g/memory.limit_in_bytes" && group=$g && break
        elif [ -e "$g/memory.max" ]; then
            echo $((LIMIT_MB * 1048576)) > "$g/memory.max" && group=$g && break
        fi
    fi
done
limited() {
    if [ -n "$group" ]; then
        [ -e "$group/memory.max_usage_in_bytes" ] && echo 0 > "$group/memory.max_usage_in_bytes"
        bash -c 'echo $$ > "$0/cgroup.procs"; shift; exec "$@"' "$group" -- "$@"
    else
        (ulimit -v $(((LIMIT_MB + 200) * 1024)); exec "$@")
    fi
}
if [ -n "$group" ]; then
    echo "limit: memory cgroup $group, ${LIMIT_MB} MiB"
else
    echo "limit: ulimit -v $(((LIMIT_MB + 200) * 1024)) KiB (no memory cgroup could be made)"
fi

common=(fit models/gmm.em --data "$out/synth.csv" --set "K=$K" --iterations "$ITER" --seed 1)

echo
echo "== in memory, under the limit (refused)"
set +e
limited "$jensen" "${common[@]}" --quiet > "$out/memory_limited.log" 2>&1
echo "exit status $?"
set -e
tail -n 2 "$out/memory_limited.log"

echo
echo "== streamed, under the limit"
limited /usr/bin/time -v "$jensen" "${common[@]}" --stream --out "$out/streamed.json" > "$out/streamed.log" 2>&1
grep -E "^model|^log-likelihood|Maximum resident|Elapsed" "$out/streamed.log"
[ -n "$group" ] && [ -e "$group/memory.max_usage_in_bytes" ] &&
    echo "the group's peak usage (page cache included): $(($(cat "$group/memory.max_usage_in_bytes") / 1048576)) MiB"

echo
echo "== in memory, without the limit"
/usr/bin/time -v "$jensen" "${common[@]}" --out "$out/memory.json" > "$out/memory.log" 2>&1
grep -E "^log-likelihood|Maximum resident|Elapsed" "$out/memory.log"

echo
"$py" - "$out/memory.json" "$out/streamed.json" << 'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def flat(x):
    return [v for y in x for v in flat(y)] if isinstance(x, list) else [x]
worst = max(abs(u - v) / max(abs(u), 1.0)
            for k in a["params"] for u, v in zip(flat(a["params"][k]), flat(b["params"][k])))
trace = max(abs(u - v) / max(abs(u), 1.0) for u, v in zip(a["elbo_trace"], b["elbo_trace"]))
print(f"log-likelihood in memory {a['log_likelihood']:.6f}, streamed {b['log_likelihood']:.6f}")
print(f"largest relative difference: trace {trace:.1e}, parameters {worst:.1e}")
for name, doc in (("in memory", a), ("streamed", b)):
    t = doc["timing"]
    print(f"{name}: seeding {t['init_seconds']:.2f} s, {t['seconds_per_iteration']:.2f} s per iteration")
PY
