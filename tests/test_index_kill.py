"""A kill (SIGKILL) during `minilm index add` leaves the index as it was before or after, never broken.

Each run adds INPUT (300 texts, 50 per segment) through the real command in a subprocess, killed:
at fixed stages (MINILM_INDEX_CRASH_AT: a segment written, all segments written but meta.json not
replaced, meta.json replaced), and from outside as soon as it is seen to hold the writer lock (its
first segment being embedded), the first new segment file appears (mid-write) or the fourth of six
does. Then the index must open, equal the old or the new state, answer searches, and the same add
rerun must succeed. No kill waits for time to pass: each waits for a state of the index folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def _holds_lock(pid: int, lock: Path) -> bool:
    """Whether process PID holds an flock on LOCK (/proc/locks: 'N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...')."""
    inode = os.stat(lock).st_ino
    for line in Path("/proc/locks").read_text().split("\n"):
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[4] == str(pid) and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def _kill_when(proc: subprocess.Popen, seen) -> None:
    """SIGKILL PROC as soon as seen() holds (checked every 2 ms); fail if it exits first or 120 s pass."""
    deadline = time.monotonic() + 120
    while not seen():
        assert proc.poll() is None, f"the add ended (rc {proc.returncode}) before the state to kill it in"
        assert time.monotonic() < deadline, "the state to kill it in never came"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_kill_while_writing_segments(setup, ort_embedder):
    path, new, before, after = setup
    proc = _add(path, new)
    _kill_when(proc, lambda: any(p.name.startswith("seg-0001") for p in path.iterdir()))
    assert _check_then_rerun(path, new, before, after, ort_embedder) == "before"


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="Linux /proc/locks only")
def test_kill_while_holding_the_lock(setup, ort_embedder):
    path, new, before, after = setup
    proc = _add(path, new)
    _kill_when(proc, lambda: _holds_lock(proc.pid, path / "lock"))
    assert _check_then_rerun(path, new, before, after, ort_embedder) == "before"


def test_kill_midway_through_the_segments(setup, ort_embedder):
    path, new, before, after = setup
    proc = _add(path, new)
    _kill_when(proc, lambda: any(p.name.startswith("seg-0004") for p in path.iterdir()))  # 3 of 6 done
    assert _check_then_rerun(path, new, before, after, ort_embedder) == "before"
