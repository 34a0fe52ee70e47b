"""Shared fixtures: the default model on both executors, loaded once per session."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

import minilm

FIXTURES = Path(__file__).parent / "fixtures"
# built models go to a cache of this run, not the user's (subprocesses inherit it)
os.environ["MINILM_CACHE_DIR"] = tempfile.mkdtemp(prefix="minilm-test-cache-")
BACKENDS = ["onnxruntime", "numpy"]


@pytest.fixture(scope="session", params=BACKENDS)
def embedder(request) -> minilm.Embedder:
    return _load(request.param)


@pytest.fixture(scope="session")
def ort_embedder() -> minilm.Embedder:
    return _load("onnxruntime")


@pytest.fixture(scope="session")
def reranker() -> minilm.CrossEncoder:
    """The tiny random cross-encoder of tests/fixtures/heads (one label)."""
    return minilm.CrossEncoder(FIXTURES / "heads" / "rerank")


@pytest.fixture(scope="session")
def classifier() -> minilm.Classifier:
    """The tiny random three-label classifier of tests/fixtures/heads."""
    return minilm.Classifier(FIXTURES / "heads" / "nli")


_CACHE: dict[str, minilm.Embedder] = {}


def _load(backend: str) -> minilm.Embedder:
    if backend not in _CACHE:
        _CACHE[backend] = minilm.load(backend=backend)
    return _CACHE[backend]


def load_golden(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    meta = json.loads((FIXTURES / "golden" / f"{name}.json").read_text(encoding="utf-8"))
    arrays = dict(np.load(FIXTURES / "golden" / f"{name}.npz"))
    return meta, arrays


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """No test touches the network: the hub is off unless a test fakes it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# MINILM_REQUIRE=torch,ray,...: modules that must be importable here (.ci/run sets it after installing
# them). A test that pytest.importorskip would skip for one of them fails instead, at collection too.
REQUIRED = {name.strip() for name in os.environ.get("MINILM_REQUIRE", "").split(",") if name.strip()}


def _required_but_missing(report) -> str | None:
    if not (REQUIRED and report.skipped):
        return None
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    found = re.search(r"could not import '([\w.]+)'", reason)
    return reason if found and found.group(1).split(".")[0] in REQUIRED else None


def _fail_if_required(report) -> None:
    reason = _required_but_missing(report)
    if reason:
        report.outcome, report.longrepr = "failed", f"MINILM_REQUIRE names this module, but {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_if_required(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_if_required(outcome.get_result())
