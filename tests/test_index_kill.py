"""A kill (SIGKILL) during `minilm index add` leaves the index as it was before or after, never broken.

Each run adds INPUT (300 texts, 50 per segment) through the real command in a subprocess, killed:
at fixed stages (MINILM_INDEX_CRASH_AT: a segment written, all segments written but meta.json not
replaced, meta.json replaced), as soon as the first new segment file appears (mid-write), and after
a few delays. Then the index must open, equal the old or the new state, answer searches, and the
same add rerun must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from minilm import Index

BASE = [f"base text number {i} about {w}" for i, w in enumerate(["cats", "dogs", "boats", "rain", "tea"])]
NEW = [f"added sentence {i}: {w} in the {p}" for i, (w, p) in
       enumerate((w, p) for w in ("a cat", "a dog", "a ship", "the rain", "green tea", "a piano") for p in range(50))]


def _state(path, embedder):
    index = Index.open(path, embedder)
    texts = [r["text"] for s in index.manifest["segments"] for r in index._segment_rows(s)]
    assert len(index.vectors()) == len(index) == len(texts)
    return index.ids(), texts


@pytest.fixture()
def setup(tmp_path, ort_embedder):
    path = tmp_path / "idx"
    Index.build(path, BASE, embedder=ort_embedder)
    (tmp_path / "new.txt").write_text("\n".join(NEW) + "\n", encoding="utf-8")
    before = _state(path, ort_embedder)
    after = (before[0] + list(range(5, 5 + len(NEW))), before[1] + NEW)
    return path, tmp_path / "new.txt", before, after


def _add(path, new, env=None):
    cmd = [sys.executable, "-m", "minilm", "index", "add", str(path), "--input", str(new), "--chunk-size", "50"]
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_then_rerun(path, new, before, after, embedder) -> str:
    state = _state(path, embedder)
    assert state in (before, after)
    found = Index.open(path, embedder).search("a cat", k=3)
    assert len(found) == 3 and found[0].score > 0.3
    if state == before:  # the add did not happen: it can simply be run again
        assert _add(path, new).wait(timeout=120) == 0
        assert _state(path, embedder) == after
    assert sorted(p.name for p in path.iterdir() if p.name.endswith(".tmp")) == []
    return "after" if state == after else "before"


@pytest.mark.parametrize("stage, expect", [("segment-written", "before"), ("before-commit", "before"),
                                           ("after-commit", "after")])
def test_kill_at_each_stage(setup, ort_embedder, stage, expect):
    path, new, before, after = setup
    proc = _add(path, new, {"MINILM_INDEX_CRASH_AT": stage})
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert _check_then_rerun(path, new, before, after, ort_embedder) == expect


def test_kill_while_writing_segments(setup, ort_embedder):
    path, new, before, after = setup
    proc = _add(path, new)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith("seg-0001") for p in path.iterdir()) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert _check_then_rerun(path, new, before, after, ort_embedder) == "before"


@pytest.mark.parametrize("delay", [1.0, 3.0])
def test_kill_after_a_delay(setup, ort_embedder, delay):
    path, new, before, after = setup
    proc = _add(path, new)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    _check_then_rerun(path, new, before, after, ort_embedder)
