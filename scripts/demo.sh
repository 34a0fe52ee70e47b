#!/usr/bin/env bash
# README command 1: set up, then embed a sentence and print the similarity table of five sentences.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/minilm info
.venv/bin/minilm embed "This is an example sentence" "Hello world"
.venv/bin/minilm similarity \
  "This is a sample sentence to encode" \
  "The cat sits on the mat" \
  "A feline rests on the carpet" \
  "The weather is sunny today" \
  "Python is a programming language"
