"""Runs the Node.js package's own tests (js/test, node --test): its vectors against the Python
embedder's fixtures. Skips without node or without js/node_modules (cd js && npm ci; .ci/run does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from webdeps import require

JS = Path(__file__).parent.parent / "js"
NODE = shutil.which("node")


def test_node_package():
    require(NODE is not None, "node (Node.js >= 18) is not installed; .ci/run installs it")
    require((JS / "node_modules" / "onnxruntime-node").exists(), "js/node_modules is missing: cd js && npm ci")
    env = dict(os.environ, PYTHON=sys.executable)  # the tests export the model with this Python when js/.model is absent
    tests = sorted(str(p.relative_to(JS)) for p in (JS / "test").glob("*.test.js"))
    result = subprocess.run([NODE, "--test", *tests], cwd=JS, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout, result.stdout[-2000:]
