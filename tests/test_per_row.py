"""The feed-forward input projection quantised per row (runtime/per_row.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from minilm.models import bert
from minilm.runtime.lowering import to_onnx
from minilm.runtime.per_row import per_row_int8, targets


def _run(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]


@pytest.mark.parametrize("seven_bits", [False, True])
def test_per_row_replaces_the_feed_forward_input_and_stays_close(ort_embedder, seven_bits):
    emb = ort_embedder
    model = to_onnx(bert.build(emb.config, emb.weights, outputs=("sentence_embedding",)), fuse=True)
    layers = emb.config.num_hidden_layers
    assert len(targets(model)) == layers
    feeds = emb._feeds(emb.tokenize(["The cat sits on the mat.", "A much longer sentence, with more words in it than the first."]))
    expected = _run(model, feeds)
    rows = per_row_int8(model, seven_bits)
    ops = [n.op_type for n in rows.graph.node]
    assert ops.count("MatMulInteger") == layers and not targets(rows)
    assert ops.count("MatMul") == 2 * layers  # the attention output and the feed-forward output stay float32
    weights = [numpy_helper.to_array(t) for t in rows.graph.initializer if t.name.endswith(".weight.q")]
    assert len(weights) == layers and all(w.dtype == np.int8 for w in weights)
    assert max(int(np.abs(w).max()) for w in weights) == (63 if seven_bits else 127)
    got = _run(rows, feeds)
    cos = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() >= 0.998 and cos.min() < 0.9999999, cos  # quantised, and close (no channel scales here)


def test_a_model_without_feed_forward_matmuls_is_left_alone():
    from minilm.graph import GraphBuilder
    g = GraphBuilder("plain")
    x = g.input("x", "float32", [2, 3])
    model = to_onnx(g.build({"y": g.matmul(x, g.constant(np.eye(3, dtype=np.float32)))}))
    before = model.SerializeToString()
    assert per_row_int8(model).SerializeToString() == before
