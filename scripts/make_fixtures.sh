#!/usr/bin/env bash
# Regenerate the reference fixtures under tests/fixtures/:
#   sklearn/*.json   scripts/sklearn_fixtures.py   (GaussianMixture EM)
#   hmmlearn/*.json  scripts/hmmlearn_fixtures.py  (HMM Baum-Welch)
#   fa/*.json        scripts/fa_fixtures.py        (factor analysis, PPCA)
#   kmeans/*.json    scripts/kmeans_fixtures.py    (KMeans optima and Lloyd trajectories)
#   sklearn_bgm/*.json scripts/sklearn_bgm_fixtures.py (BayesianGaussianMixture VB trajectories)
#   vb_fa/*.json     scripts/vb_fa_fixtures.py     (VB for factor analysis and PPCA, NumPy)
#   regression/*.json scripts/regression_fixtures.py (mixtures of multivariate regressions, NumPy)
#   select/*.json    scripts/select_fixtures.py    (BIC, AIC and ICL of GaussianMixture fits)
#   parquet/*.parquet scripts/parquet_fixtures.py  (faithful and iris written by pyarrow)
#   missing/*.json   scripts/missing_fixtures.py   (EM with missing cells, NumPy; also writes
#                                                   data/*_missing*.csv)
#
# Creates the reference venv .venv-ref/ at the repo root if it is missing,
# installs the pinned versions from scripts/requirements.txt, then runs the
# scripts above in that order. Extra arguments are passed through to every
# script (e.g. --data-dir /path/to/data; note that sklearn_fixtures.py reads
# ../shared/data by default, the others <repo>/data).
#
# data/geyser_classes.csv (used by hmmlearn_fixtures.py) is a committed derived
# file; regenerate it with scripts/classify_geyser.py if geyser.csv changes.
#
# Override the interpreter used to create the venv with PYTHON=... .
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv-ref"

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$repo_root/scripts/requirements.txt"

for script in sklearn_fixtures.py hmmlearn_fixtures.py fa_fixtures.py kmeans_fixtures.py \
    sklearn_bgm_fixtures.py vb_fa_fixtures.py missing_fixtures.py regression_fixtures.py select_fixtures.py parquet_fixtures.py; do
    "$venv/bin/python" "$repo_root/scripts/$script" "$@"
done
