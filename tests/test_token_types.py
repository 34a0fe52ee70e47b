"""Non-zero token_type_ids (segment B of a text pair, as a cross-encoder feeds it) reach every executor,
the packed graph, int8, and the ONNX and WebNN exports. Each is compared with the NumPy interpreter on
the padded graph, which tests/test_parity.py checks against transformers on text pairs; and the types
are first shown to move the outputs far more than the tolerance, so a path that drops them fails."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cosine_rows

import minilm
from minilm.config import BertConfig
from minilm.models import bert, packed
from minilm.runtime import make_executor
from tinymodel import CONFIG, random_weights, write_tiny_model

CFG = BertConfig(**{k: v for k, v in CONFIG.items() if k != "model_type"})
WEIGHTS = random_weights(seed=3)
BATCH = [[2, 5, 6, 7, 3, 8, 9, 3], [2, 10, 3, 11, 12, 13, 3], [2, 14, 15, 3]]
TYPES = [[0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0]]  # the last: one segment, all 0
OUTPUTS = ("sentence_embedding", "token_embeddings")
POOLING, NORMALIZE = "mean", False  # what a bare folder (no modules.json) gets, as the exports below
ATOL = 1e-5


def padded(batch, types, width=None):
    width = width or max(map(len, batch))
    ids = np.array([x + [0] * (width - len(x)) for x in batch], np.int64)
    mask = np.array([[1] * len(x) + [0] * (width - len(x)) for x in batch], np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.array([t + [0] * (width - len(t)) for t in types])}


def graph():
    return bert.build(CFG, WEIGHTS, POOLING, NORMALIZE, outputs=OUTPUTS)


@pytest.fixture(scope="module")
def reference():
    run = make_executor("numpy", graph()).run
    typed, untyped = run(padded(BATCH, TYPES)), run(padded(BATCH, [[0] * len(t) for t in TYPES]))
    # the types matter: pairs far apart with and without them, the one-segment text identical
    moved = np.abs(typed["sentence_embedding"] - untyped["sentence_embedding"]).max(1)
    assert moved[0] > 1000 * ATOL and moved[1] > 1000 * ATOL and moved[2] == 0
    return typed


def token_states(out):
    return [out["token_embeddings"][row, :len(ids)] for row, ids in enumerate(BATCH)]


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy", "torch"])
def test_padded_graph_on_every_executor(reference, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    out = make_executor(backend, graph()).run(padded(BATCH, TYPES))
    np.testing.assert_allclose(out["sentence_embedding"], reference["sentence_embedding"], atol=ATOL)
    for got, want in zip(token_states(out), token_states(reference)):
        np.testing.assert_allclose(got, want, atol=ATOL)


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy", "torch"])
def test_packed_graph_on_every_executor(reference, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    feeds = packed.feeds(BATCH)
    feeds["token_type_ids"] = np.array([t for types in TYPES for t in types], np.int64)
    got = make_executor(backend, packed.build(CFG, WEIGHTS, POOLING, NORMALIZE)).run(feeds)["sentence_embedding"]
    np.testing.assert_allclose(got, reference["sentence_embedding"], atol=ATOL)


def test_int8_keeps_the_types(reference):
    untyped = make_executor("numpy", graph()).run(padded(BATCH, [[0] * len(t) for t in TYPES]))["sentence_embedding"]
    got = make_executor("onnxruntime", graph(), quantize="int8", cache=False).run(padded(BATCH, TYPES))["sentence_embedding"]
    near, far = cosine_rows(got, reference["sentence_embedding"]), cosine_rows(got, untyped)
    assert near.min() >= 0.99 and (near[:2] > far[:2]).all(), (near, far)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return minilm.load(write_tiny_model(tmp_path_factory.mktemp("types") / "tiny", WEIGHTS), backend="numpy")


def test_onnx_export_in_plain_onnxruntime(reference, tiny, tmp_path):
    import onnxruntime as ort

    from minilm.export import export_onnx
    session = ort.InferenceSession(str(export_onnx(tiny, tmp_path / "tiny.onnx")), providers=["CPUExecutionProvider"])
    hidden, sentence = session.run(["last_hidden_state", "sentence_embedding"], padded(BATCH, TYPES))
    np.testing.assert_allclose(sentence, reference["sentence_embedding"], atol=ATOL)
    for got, want in zip(token_states({"token_embeddings": hidden}), token_states(reference)):
        np.testing.assert_allclose(got, want, atol=ATOL)


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_webnn_export(reference, tiny, tmp_path, backend):
    from minilm.webnn.model import export
    export(tiny, tmp_path / "webnn", batch=len(BATCH), seq_len=12)  # padded past the longest text: masked out
    model = minilm.load(tmp_path / "webnn", backend=backend)
    got = model.executor("sentence_embedding", model.pipeline.normalize).run(padded(BATCH, TYPES, width=12))
    np.testing.assert_allclose(got["sentence_embedding"], reference["sentence_embedding"], atol=ATOL)
