"""The optional usearch HNSW graph of an index: same results as exact on small data, extended by add, crash-safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("usearch")
from minilm import Index, InputError, SearchIndexError  # noqa: E402
from minilm.search import ann as indexann  # noqa: E402
from minilm.search import store  # noqa: E402

TEXTS = ["A man is eating food.", "A man is riding a horse.", "A woman is playing violin.", "A monkey is playing drums.",
         "Stock markets fell sharply on Monday.", "The central bank raised interest rates.", "Kittens like yarn."]


def test_ann_equals_exact_on_a_small_index(tmp_path, ort_embedder):
    index = Index.build(tmp_path / "idx", TEXTS[:4], embedder=ort_embedder, ann="usearch")
    index.add(TEXTS[4:], ids=["s", "b", "k"])
    assert index.manifest["ann"]["rows"] == 7
    queries = ["someone eats", "music", "money", "a cat"]
    for approx, exact in zip(index.search(queries, k=5), index.search(queries, k=5, exact=True)):
        assert [r.id for r in approx] == [r.id for r in exact]
        np.testing.assert_allclose([r.score for r in approx], [r.score for r in exact], atol=1e-5)
    index.add(["one more"])  # the previous graph file is a stray now: removed by this writer
    assert sorted(p.name for p in index.path.glob("ann-*")) == [index.manifest["ann"]["file"]]


def test_recall_on_random_vectors(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3000, 32)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    record = indexann.extend(tmp_path, {"kind": "usearch", "file": None, "rows": 0}, 32, [base[:1000]], 0, 1)
    record = indexann.extend(tmp_path, record, 32, [base[1000:]], 1000, 2)
    graph = indexann.open_graph(tmp_path, record, 3000)
    queries = base[:100] + 0.1 * rng.standard_normal((100, 32)).astype(np.float32)
    _, rows = indexann.search(graph, queries, 10)
    truth = store.top_k(queries, [base], 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, truth)])
    assert recall >= 0.9


def test_ann_errors(tmp_path, ort_embedder):
    with pytest.raises(InputError, match="ann must be one of usearch"):
        Index.build(tmp_path / "x", ["a"], embedder=ort_embedder, ann="faiss")
    index = Index.build(tmp_path / "idx", TEXTS, embedder=ort_embedder, ann="usearch")
    meta = json.loads((index.path / "meta.json").read_text())
    (index.path / meta["ann"]["file"]).unlink()
    with pytest.raises(SearchIndexError, match="graph .* is missing .*rebuild it with `minilm index build --ann usearch`"):
        Index.open(index.path, ort_embedder).search("x")
    assert len(Index.open(index.path, ort_embedder).search("x", k=3, exact=True)) == 3


def test_kill_before_commit_keeps_the_old_graph(tmp_path, ort_embedder):
    index = Index.build(tmp_path / "idx", TEXTS, embedder=ort_embedder, ann="usearch")
    (tmp_path / "new.txt").write_text("a new text\nanother one\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "minilm", "index", "add", str(index.path), "--input", str(tmp_path / "new.txt")]
    proc = subprocess.run(cmd, env={**os.environ, "MINILM_INDEX_CRASH_AT": "before-commit"}, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert len(list(index.path.glob("ann-*.usearch"))) == 2  # the new graph was written, not listed
    again = Index.open(index.path, ort_embedder)
    assert len(again) == 7 and again.manifest["ann"] == index.manifest["ann"]
    assert [r.id for r in again.search("music", k=7)] == [r.id for r in again.search("music", k=7, exact=True)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert len(Index.open(index.path, ort_embedder).search("music", k=20)) == 9
