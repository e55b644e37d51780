#!/usr/bin/env bash
# Regenerate tests/fixtures/sklearn/*.json from scikit-learn.
#
# Creates the reference venv .venv-ref/ at the repo root if it is missing,
# installs the pinned versions from scripts/requirements.txt, then runs
# scripts/sklearn_fixtures.py. Extra arguments are passed through to the
# script (e.g. --data-dir /path/to/data).
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

exec "$venv/bin/python" "$repo_root/scripts/sklearn_fixtures.py" "$@"
