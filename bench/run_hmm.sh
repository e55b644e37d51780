#!/usr/bin/env bash
# Speed benchmark: jensen's Gaussian hidden Markov model against hmmlearn's GaussianHMM on the
# same sequence, from the same starting parameters, for the same number of EM (Baum-Welch)
# iterations, in the same run.
#
#   bash bench/run_hmm.sh        # one sequence of N=100000, D=4, K=8 states, full covariance, 30 iterations
#   N=20000 ITERS=10 bash bench/run_hmm.sh
#   SEQS=8 bash bench/run_hmm.sh # the rows as 8 consecutive independent sequences (jensen
#                                # --lengths, hmmlearn lengths=): forward-backward runs per
#                                # sequence, in parallel in jensen
#
# Installs hmmlearn into .venv-ref/ (bench/setup_peer.sh), builds jensen in release mode,
# generates bench/out/hmm_synth.csv and the starting point bench/out/hmm_init.json
# (bench/make_hmm_synth.py), then times the EM loop only (no CSV parsing, no initialisation)
# of: jensen (models/hmm_gaussian.em) with 1 and 2 threads, hmmlearn with 1 thread. Neither
# side regularises the covariances (jensen --reg-covar 0; hmmlearn covars_prior=0). Each
# configuration runs REPEAT times (default 3) and the fastest run is reported, since the
# machine may be shared. Writes the table to bench/out/results_hmm.md and prints it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-100000}
D=${D:-4}
K=${K:-8}
ITERS=${ITERS:-30}
REPEAT=${REPEAT:-3}
SEED=${SEED:-7}
SEQS=${SEQS:-1}
out=bench/out
# The table: bench/out/results_hmm.md, or results_hmm_seqS.md with several sequences.
results=${RESULTS:-$out/results_hmm.md}
if [ "$SEQS" != 1 ] && [ -z "${RESULTS:-}" ]; then
    results=$out/results_hmm_seq$SEQS.md
fi
lengths=$(python3 -c "n, s = $N, $SEQS; print(','.join(str(n // s + (1 if i < n % s else 0)) for i in range(s)))")
mkdir -p "$out"

bash bench/setup_peer.sh
py=.venv-ref/bin/python
cargo build --release --quiet -p jensen-cli
# hmm_init.json is already in jensen's parameter names for models/hmm_gaussian.em.
"$py" bench/make_hmm_synth.py --n "$N" --d "$D" --k "$K" --seed "$SEED" --out "$out/"

jensen_time() { # threads -> fastest seconds per iteration, and the final log-likelihood
    local best=""
    for _ in $(seq "$REPEAT"); do
        ./target/release/jensen fit models/hmm_gaussian.em --data "$out/hmm_synth.csv" --set K="$K" \
            --init "$out/hmm_init.json" --iterations "$ITERS" --threads "$1" --reg-covar 0 --quiet \
            --lengths "$lengths" \
            --out "$out/jensen_hmm_t$1.json" > /dev/null
        best=$("$py" -c "import json; d=json.load(open('$out/jensen_hmm_t$1.json')); t=d['timing']['seconds_per_iteration']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; print(json.load(open('$out/jensen_hmm_t$1.json'))['log_likelihood'])")"
}

hmmlearn_time() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        "$py" bench/hmmlearn_ghmm.py --data "$out/hmm_synth.csv" --init "$out/hmm_init.json" --iters "$ITERS" --threads 1 --sequences "$SEQS" > "$out/hmmlearn_t1.json"
        best=$("$py" -c "import json; d=json.load(open('$out/hmmlearn_t1.json')); t=d['seconds_per_iter']; b='$best'; print(min(t, float(b)) if b else t)")
    done
    echo "$best $("$py" -c "import json; d=json.load(open('$out/hmmlearn_t1.json')); print(d['final_log_likelihood'], d['version'])")"
}

read -r hl hl_ll hl_version < <(hmmlearn_time)
read -r j1 j1_ll < <(jensen_time 1)
read -r j2 j2_ll < <(jensen_time 2)

"$py" - "$hl" "$j1" "$j2" "$hl_ll" "$j1_ll" "$j2_ll" "$hl_version" <<PY | tee "$results"
import sys
hl, j1, j2 = map(float, sys.argv[1:4])
hl_ll, j1_ll, j2_ll = map(float, sys.argv[4:7])
version = sys.argv[7]
seqs = "one sequence" if $SEQS == 1 else "$SEQS sequences"
print(f"Gaussian HMM, full covariance: {seqs}, N=$N, D=$D, K=$K, $ITERS EM iterations from the same start, fastest of $REPEAT runs")
print()
print("| implementation | threads | ms / iteration | speed-up vs hmmlearn (1 thread) | final log-likelihood |")
print("|---|---|---|---|---|")
print(f"| hmmlearn {version} | 1 | {hl*1e3:.1f} | 1.0× | {hl_ll:.6f} |")
print(f"| jensen | 1 | {j1*1e3:.1f} | {hl/j1:.1f}× | {j1_ll:.6f} |")
print(f"| jensen | 2 | {j2*1e3:.1f} | {hl/j2:.1f}× (×{j1/j2:.2f} over 1 thread) | {j2_ll:.6f} |")
PY
