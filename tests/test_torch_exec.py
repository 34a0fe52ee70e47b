"""The optional PyTorch executor, on CPU, against the NumPy reference and the golden fixtures."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import minilm
from conftest import cosine_rows, load_golden
from minilm.errors import MissingDependencyError
from minilm.runtime import make_executor
from test_graph import _random_graph


def test_missing_torch_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'minilm\[torch\]'"):
        make_executor("torch", _random_graph())


def test_random_graph_matches_numpy():
    pytest.importorskip("torch")
    graph = _random_graph()
    rng = np.random.default_rng(3)
    feeds = {"x": rng.normal(size=(3, 7, 6)).astype(np.float32), "m": np.ones((3, 7), np.int64)}
    feeds["m"][:, 4:] = 0
    ref = make_executor("numpy", graph).run(feeds)
    got = make_executor("torch", graph, threads=1).run(feeds)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], atol=2e-5, rtol=1e-4)


def test_golden_on_torch():
    pytest.importorskip("torch")
    meta, arrays = load_golden("all-MiniLM-L6-v2")
    model = minilm.load(backend="torch")
    assert model.executor("sentence_embedding", True).providers == ["torch:cpu"]
    ours = model.encode(meta["texts"])
    assert cosine_rows(ours, arrays["sentence_embedding"]).min() >= 0.99999
    assert np.abs(ours - arrays["sentence_embedding"]).max() <= 1e-4
    np.testing.assert_allclose(model.encode(meta["texts"][:40], output="pooler_output"), arrays["pooler_output"][:40], atol=1e-4)


def test_device_options_only_for_torch():
    from minilm.errors import BackendError
    with pytest.raises(BackendError, match="device= applies to the torch backend only"):
        minilm.load(backend="onnxruntime", device="cuda")
