"""The packed graph equals the padded one; token-budget batching; product symbols in reshape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.batching import batches
from minilm.config import BertConfig
from minilm.errors import GraphError
from minilm.graph import GraphBuilder
from minilm.models import bert, packed
from minilm.runtime import make_executor
from tinymodel import CONFIG, random_weights

CFG = BertConfig(**{k: v for k, v in CONFIG.items() if k != "model_type"})
WEIGHTS = random_weights()
BATCH = [[2, 5, 6, 7, 3], [2, 3], [2] + list(range(5, 25)) + [3], [2, 9, 3]]


def padded_feeds(batch):
    width = max(map(len, batch))
    ids = np.array([x + [0] * (width - len(x)) for x in batch], np.int64)
    mask = np.array([[1] * len(x) + [0] * (width - len(x)) for x in batch], np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"])
def test_packed_equals_padded(backend, pooling):
    expected = make_executor("numpy", bert.build(CFG, WEIGHTS, pooling, True)).run(padded_feeds(BATCH))["sentence_embedding"]
    got = make_executor(backend, packed.build(CFG, WEIGHTS, pooling, True)).run(packed.feeds(BATCH))["sentence_embedding"]
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_packed_on_torch():
    pytest.importorskip("torch")
    expected = make_executor("numpy", bert.build(CFG, WEIGHTS)).run(padded_feeds(BATCH))["sentence_embedding"]
    got = make_executor("torch", packed.build(CFG, WEIGHTS)).run(packed.feeds(BATCH))["sentence_embedding"]
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_packed_feeds_layout():
    f = packed.feeds([[2, 7, 3], [2, 3]])
    assert f["input_ids"].tolist() == [2, 7, 3, 2, 3]
    assert f["position_ids"].tolist() == [0, 1, 2, 0, 1]
    assert f["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert f["pad_index"].tolist() == [[0, 1, 2], [3, 4, 0]]
    assert f["unpad_index"].tolist() == [0, 1, 2, 3, 4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), max_size=80), st.one_of(st.none(), st.integers(1, 50)), st.integers(1, 5000))
def test_batches_cover_everything_within_budget(lengths, batch_size, budget):
    calls = batches(lengths, batch_size, budget)
    assert sorted(i for c in calls for i in c) == list(range(len(lengths)))
    flat = [lengths[i] for c in calls for i in c]
    assert flat == sorted(flat, reverse=True)  # longest first
    for c in calls:
        assert len(c) == 1 or len(c) * max(lengths[i] for i in c) <= budget
        assert batch_size is None or len(c) <= batch_size


def test_reshape_product_symbols():
    g = GraphBuilder()
    x = g.input("x", "float32", ["batch", "sequence", 4])
    flat = g.reshape(x, ["batch*sequence", 4])
    back = g.reshape(flat, ["batch", "sequence", 2, 2])
    graph = g.build({"flat": flat, "back": back})
    value = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for backend in ("numpy", "onnxruntime"):
        out = make_executor(backend, graph).run({"x": value})
        assert out["flat"].shape == (6, 4) and out["back"].shape == (2, 3, 2, 2)
        np.testing.assert_array_equal(out["flat"].ravel(), value.ravel())
    with pytest.raises(GraphError, match="element counts differ"):
        g.reshape(x, ["batch*sequence", 8])
    with pytest.raises(GraphError, match="element counts differ"):
        g.reshape(x, ["batch", 4, 3])


def test_encode_packed_equals_encode_in_any_order():
    import minilm
    from tinymodel import write_tiny_model
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        model = minilm.load(write_tiny_model(Path(tmp) / "m"))
        ids = model.tokenize(["hello world", "a", "abc def ghi hello", "", "world world world world world"] * 7)
        expected = model.encode_ids(ids)
        np.testing.assert_allclose(model.encode_packed(ids), expected, atol=2e-6)
        np.testing.assert_allclose(model.encode_packed(ids, normalize=False), model.encode_ids(ids, normalize=False), atol=2e-6)
        assert model.encode_packed([]).shape == (0, model.dim)


def test_encode_packed_cuts_calls_by_the_packed_budget(monkeypatch):
    """A server's batch of short texts goes in calls of at most TOKENS_PER_BATCH padded tokens (the
    attention rectangle), longest first, and the rows still come back in the caller's order."""
    import tempfile
    from pathlib import Path

    import minilm
    from minilm.batching import TOKENS_PER_BATCH
    from tinymodel import write_tiny_model
    with tempfile.TemporaryDirectory() as tmp:
        model = minilm.load(write_tiny_model(Path(tmp) / "m"))
        ids = [[2] + [7] * n + [3] for n in (28, 3, 13, 1, 25, 20, 7, 2) * 8]      # 64 texts, 3..30 tokens
        expected = model.encode_ids(ids)
        executor = model.executor("sentence_embedding", model.pipeline.normalize, packed=True)
        shapes, run = [], executor.run
        monkeypatch.setattr(executor, "run",
                            lambda feeds, outputs: shapes.append(feeds["attention_mask"].shape) or run(feeds, outputs))
        np.testing.assert_allclose(model.encode_packed(ids), expected, atol=2e-6)
    assert len(shapes) == len(batches([len(x) for x in ids])) > 1          # 64 x 30 is over the budget
    assert all(b * t <= TOKENS_PER_BATCH for b, t in shapes)
    assert [t for _, t in shapes] == sorted((t for _, t in shapes), reverse=True)


def test_encode_packed_runs_calls_without_padding_on_the_padded_graph(monkeypatch):
    """One text (a lone request), or texts of one length, need no packing: the padded graph (fused
    attention) runs them, with the same result; uneven lengths still go to the packed graph."""
    import tempfile
    from pathlib import Path

    import minilm
    from tinymodel import write_tiny_model
    with tempfile.TemporaryDirectory() as tmp:
        model = minilm.load(write_tiny_model(Path(tmp) / "m"))
        normalize = model.pipeline.normalize
        ran = []
        for packed_graph in (False, True):
            executor = model.executor("sentence_embedding", normalize, packed=packed_graph)
            monkeypatch.setattr(executor, "run", lambda feeds, outputs, run=executor.run, name=packed_graph:
                                ran.append(name) or run(feeds, outputs))
        for ids, graphs in (([[2, 9, 8, 3]], [False]), ([[2, 9, 8, 3], [2, 5, 6, 3]], [False]),
                            ([[2, 9, 8, 3], [2, 3]], [True])):
            ran.clear()
            np.testing.assert_allclose(model.encode_packed(ids), model.encode_ids(ids), atol=2e-6)
            assert ran[:len(graphs)] == graphs  # encode_ids' own padded call comes after
