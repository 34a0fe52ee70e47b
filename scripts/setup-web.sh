#!/usr/bin/env bash
# What the Node.js package and the browser test need (issue #8), on a bare Debian/Ubuntu machine:
# Node.js + npm and Chromium from apt (only those missing; never a test tool's own browser
# download), Playwright for Python in .venv, `npm ci` in js/, onnxruntime-web vendored into
# minilm/server/static/vendor/. Quiet on success, the log on failure. Run after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
log=.venv/setup-web.log
fail() { cat "$log" >&2; echo "setup-web: $1 failed (log above)" >&2; exit 1; }
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"; } >"$log" 2>&1 || fail "apt-get install ${missing[*]}"
fi
.venv/bin/python -m pip install -q playwright >"$log" 2>&1 || fail "pip install playwright"
# onnxruntime-node's install script would fetch CUDA binaries from nuget: skip it (also in js/.npmrc)
(cd js && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm ci in js/"
bash scripts/vendor-web.sh >"$log" 2>&1 || fail "scripts/vendor-web.sh"
