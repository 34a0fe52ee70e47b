#!/usr/bin/env bash
# Copy the playground's in-browser runtime from npm into minilm/server/static/vendor/ (git-ignored:
# the wasm is 14 MB): onnxruntime-web (wasm build) and @huggingface/tokenizers, at the versions in
# js/package-lock.json. Needs Node.js + npm; runs `npm ci` in js/ when js/node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d js/node_modules/onnxruntime-web ] || [ ! -d js/node_modules/@huggingface/tokenizers ]; then
  (cd js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
out=minilm/server/static/vendor
mkdir -p "$out"
dist=js/node_modules/onnxruntime-web/dist
cp "$dist/ort.wasm.bundle.min.mjs" "$dist/ort-wasm-simd-threaded.wasm" "$dist/ort-wasm-simd-threaded.mjs" "$out/"
cp js/node_modules/@huggingface/tokenizers/dist/tokenizers.min.mjs "$out/"
echo "vendor-web: $(ls "$out" | tr '\n' ' ')-> $out/"
