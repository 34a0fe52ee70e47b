"""The heads at each precision (tests/fixtures/heads, reference logits from transformers): bf16 and int8
within their own bounds of the fp32 reference, the choice recorded, auto from the CPU flags, the
missing-engine message, the command line's --precision / --int8 and the server's /info.

Bounds (measured on these fixtures, docs/use.md has the full-size figures): the largest logit difference
over the reference's range <= 0.03 at bf16 (measured 0.010-0.018) and 0.06 at int8 (0.018-0.029); the
one-label scores' Pearson correlation >= 0.998; the three-label model's argmax and the masked LM's
top-1 token unchanged. A wrong head or weights misread at a precision misses these by far: the
fixtures' logits spread over 1.07-7.1."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
from conftest import FIXTURES

import minilm
import minilm.loading
import minilm.runtime.precision as prec
from minilm.cli.main import main
from minilm.errors import BackendError, MissingDependencyError, PrecisionWarning

HEADS = FIXTURES / "heads"
RANGE = {"bf16": 0.03, "int8": 0.06}  # max |logit - reference| / the reference's range
needs_engine = pytest.mark.skipif(not prec.engine_installed(), reason="could not import 'openvino' (pip install 'minilm[openvino]')")
PRECISIONS = [pytest.param("bf16", marks=needs_engine), "int8"]


def expected(name: str) -> dict:
    return json.loads((HEADS / name / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def native_bf16(monkeypatch):
    """This CPU counts as multiplying bfloat16 natively: no PrecisionWarning unless a test asks for one."""
    monkeypatch.setattr(minilm.loading, "cpu_flags", lambda: frozenset({"avx512_bf16"}))


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", ["rerank", "nli"])
def test_classifier_logits_at_each_precision(name, precision):
    ref = expected(name)
    want = np.asarray(ref["logits"])
    ce = minilm.CrossEncoder(HEADS / name, precision=precision)
    assert ce.precision == precision and ce.precision_reason == "asked for"
    got = ce.predict([tuple(p) for p in ref["pairs"]], activation_fn="identity").reshape(want.shape)
    assert np.abs(got - want).max() / np.ptp(want) <= RANGE[precision]
    assert np.abs(got - want).max() > 1e-6  # it did compute at a lower precision
    if want.shape[1] == 1:
        assert np.corrcoef(got[:, 0], want[:, 0])[0, 1] >= 0.998
    else:
        assert (got.argmax(1) == want.argmax(1)).all()
    again = ce.predict([tuple(p) for p in ref["pairs"]][::-1], activation_fn="identity", batch_size=3)[::-1]
    # other batches (int8 quantises activations per batch, so the logits move a little): the same bound
    assert np.abs(again.reshape(want.shape) - want).max() / np.ptp(want) <= RANGE[precision]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_masked_lm_at_each_precision(precision):
    ref = expected("mlm")
    lm = minilm.MaskedLM(HEADS / "mlm", precision=precision)
    got = lm.logits(ref["texts"], positions=ref["mask_positions"])
    want = [np.asarray(x) for x in ref["logits_at_masks"]]
    spread = np.ptp(np.concatenate(want))
    assert max(np.abs(a - b).max() for a, b in zip(got, want)) / spread <= RANGE[precision]
    assert all((a.argmax(1) == b.argmax(1)).all() for a, b in zip(got, want))


def test_auto_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset({"avx2"}))
    ce = minilm.CrossEncoder(HEADS / "rerank", precision="auto")
    assert ce.precision == "fp32" and "no native bfloat16" in ce.precision_reason and ce.backend == "onnxruntime"
    if prec.engine_installed():
        monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset({"amx_bf16", "avx512_bf16"}))
        ce = minilm.CrossEncoder(HEADS / "rerank", precision="auto")
        assert ce.precision == "bf16" and "(AMX)" in ce.precision_reason and ce.backend == "openvino"


def test_precision_errors(monkeypatch):
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, int8, auto, got 'fp16'"):
        minilm.CrossEncoder(HEADS / "rerank", precision="fp16")
    with pytest.raises(BackendError, match="precision='bf16' runs on OpenVINO; backend='numpy' computes in float32"):
        minilm.MaskedLM(HEADS / "mlm", backend="numpy", precision="bf16")
    with pytest.raises(BackendError, match=r"applies to the onnxruntime backend only \(precision='int8'\), not 'torch'"):
        minilm.Classifier(HEADS / "nli", backend="torch", precision="int8")
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(MissingDependencyError, match=r"needs OpenVINO: pip install 'minilm\[openvino\]'"):
        minilm.CrossEncoder(HEADS / "rerank", precision="bf16")


@needs_engine
def test_bf16_without_native_bfloat16_warns_at_the_callers_line(monkeypatch):
    monkeypatch.setattr(minilm.loading, "cpu_flags", lambda: frozenset({"avx2"}))
    for cls, name in ((minilm.CrossEncoder, "rerank"), (minilm.Classifier, "nli")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(HEADS / name, precision="bf16")
        (w,) = [w for w in caught if issubclass(w.category, PrecisionWarning)]
        assert "slower than fp32 here" in str(w.message) and w.filename == __file__


def test_cli_heads_take_precision(capsys):
    ref = minilm.CrossEncoder(HEADS / "rerank", precision="int8").rank("where is the cat", ["the cat sat", "a dog", "the box"])
    code = main(["rerank", "where is the cat", "the cat sat", "a dog", "the box", "--model", str(HEADS / "rerank"), "--int8", "--json"])
    got = json.loads(capsys.readouterr().out)["results"]
    assert code == 0 and [r["corpus_id"] for r in got] == [r["corpus_id"] for r in ref]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in ref], abs=1e-6)
    code = main(["classify", "hello world", "--model", str(HEADS / "nli"), "--precision", "int8", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["labels"][0]["label"] in ("contradiction", "entailment", "neutral")


def test_server_info_names_each_models_precision(ort_embedder):
    pytest.importorskip("fastapi")
    import httpx
    from test_server import running

    from minilm.server.app import Settings, create_app
    reranker = minilm.CrossEncoder(HEADS / "rerank", precision="int8")
    with running(create_app(ort_embedder, Settings(), reranker=reranker)) as url:
        info = httpx.get(url + "/info").json()
        assert info["reranker"]["precision"] == "int8" and info["precision"] == "fp32"
        got = httpx.post(url + "/rerank", json={"query": "where is the cat", "texts": ["the cat sat", "a dog"], "raw_scores": True}).json()
    logits = reranker.predict([("where is the cat", "the cat sat"), ("where is the cat", "a dog")], activation_fn="identity")
    assert sorted((r["index"], round(r["score"], 5)) for r in got) == [(i, round(float(v), 5)) for i, v in enumerate(logits)]
