#!/usr/bin/env bash
# Set up the benchmark peers (scikit-learn for bench/sklearn_gmm.py, hmmlearn for
# bench/hmmlearn_ghmm.py).
#
# Creates the shared reference venv .venv-ref/ at the repo root if it is
# missing and installs the pinned scripts/requirements.txt into it. Safe to
# re-run: an existing venv is reused and pip only installs what is missing.
# Run the peer afterwards with .venv-ref/bin/python bench/sklearn_gmm.py ...
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
