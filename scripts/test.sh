#!/usr/bin/env bash
# README command 2: set up, then run the whole test suite (no PyTorch needed: fixtures are committed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
