"""The int8 model's channel scales (runtime/smooth.py): exact in float32, and closer to the reference in int8."""

from __future__ import annotations

import copy

import numpy as np
import onnxruntime as ort
import pytest

import minilm
from minilm.embedder import Embedder
from minilm.models import bert, packed
from minilm.runtime import make_executor, model_cache
from minilm.runtime.lowering import to_onnx
from minilm.runtime.smooth import calibration_ids, smooth, targets

from conftest import load_golden


def _run(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]


def test_calibration_ids_are_fixed_and_framed_by_the_special_tokens():
    ids = calibration_ids(30522, [101, 102])
    assert ids == calibration_ids(30522, [101, 102]) and len(ids) == 64
    assert all(x[0] == 101 and x[-1] == 102 and 6 <= len(x) <= 61 for x in ids)
    assert all(1017 <= t < 30522 for x in ids for t in x[1:-1])
    assert all(len(x) >= 4 for x in calibration_ids(50, []))  # no special tokens, a tiny vocabulary


def test_scales_leave_the_float32_model_unchanged(ort_embedder):
    """x W = (x / s)(s W): before quantisation the scaled models give the same vectors, on both graphs."""
    emb = ort_embedder
    texts = ["A short one.", "A somewhat longer sentence, with a comma and some more words in it.", "x"]
    ids = emb.tokenize(texts)
    for is_packed in (False, True):
        if is_packed:
            graph, feeds = packed.build(emb.config, emb.weights), packed.feeds(ids)
        else:
            graph, feeds = bert.build(emb.config, emb.weights, outputs=("sentence_embedding",)), emb._feeds(ids)
        model = to_onnx(graph, fuse=True)
        scaled = smooth(copy.deepcopy(model), emb._calibration(is_packed))
        muls = [n for n in scaled.graph.node if n.name.endswith(".smooth")]
        assert len(muls) == 3 * emb.config.num_hidden_layers  # the inputs of QKV, attention output, feed-forward
        assert len(targets(scaled)) == len(targets(model)) == emb.config.num_hidden_layers * (3 if not is_packed else 5)
        scales = [1 / x for x in (np.asarray(t.float_data or np.frombuffer(t.raw_data, np.float32))
                                  for t in scaled.graph.initializer if t.name.endswith(".smooth"))]
        assert all((s >= 1).all() for s in scales) and any((s > 1.5).any() for s in scales)  # only outliers shrink
        np.testing.assert_allclose(_run(scaled, feeds), _run(model, feeds), atol=2e-6, err_msg=f"packed={is_packed}")


@pytest.mark.parametrize("seven_bits", [False, True])
def test_int8_with_the_scales_is_closer_to_the_reference(monkeypatch, tmp_path, seven_bits):
    """Also with the 7-bit weights of a CPU without VNNI (runtime/quantize.py), forced here."""
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("minilm.runtime.ort.saturates", lambda: seven_bits)
    meta, arrays = load_golden("all-MiniLM-L6-v2")
    ref = arrays["sentence_embedding"]

    def cosines():
        got = minilm.load(quantize="int8").encode(meta["texts"])
        return (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)

    # with the scales the feed-forward input is int8 too (per row); without, it stays float32
    scaled = cosines()  # measured: min 0.9946, mean 0.9988 (7 bits: 0.9941, 0.9981)
    monkeypatch.setattr(Embedder, "_calibration", lambda self, is_packed: None)
    plain = cosines()  # measured: min 0.9935, mean 0.9982 (7 bits: 0.9914, 0.9976)
    assert scaled.min() >= 0.993 and scaled.mean() >= 0.9978, (scaled.min(), scaled.mean())
    assert scaled.mean() > plain.mean() + 3e-4 and scaled.min() > plain.min(), (scaled, plain)


def test_calibration_is_part_of_the_cache_key(monkeypatch, tmp_path, ort_embedder):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    graph = bert.build(ort_embedder.config, ort_embedder.weights, outputs=("sentence_embedding",))
    keys = []
    monkeypatch.setattr(model_cache, "lookup", lambda key: keys.append(key))
    monkeypatch.setattr(model_cache, "store", lambda key, write: None)
    monkeypatch.setattr("minilm.runtime.ort.OnnxRuntimeExecutor._onnx_bytes", lambda self: to_onnx(graph).SerializeToString())
    feeds = ort_embedder._calibration(False)
    for calibration in (None, feeds, feeds[:1]):
        make_executor("onnxruntime", graph, threads=1, quantize="int8", calibration=calibration)
    assert len(set(keys)) == 3
