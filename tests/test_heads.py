"""The BERT heads against transformers / sentence-transformers (tests/fixtures/heads, tools/make_head_fixtures.py):
logits per executor within 1e-4, CrossEncoder predict / rank, the text-classification and fill-mask pipelines,
batch invariance, pytorch_model.bin, and the ONNX / WebNN exports."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import FIXTURES

import minilm

HEADS = FIXTURES / "heads"
EXECUTORS = ["numpy", "onnxruntime", "torch"]
TOL = 1e-4  # max abs logit difference, fp32


def expected(name: str) -> dict:
    return json.loads((HEADS / name / "expected.json").read_text(encoding="utf-8"))


def backend_or_skip(backend: str) -> str:
    if backend == "torch":
        pytest.importorskip("torch")
    return backend


_MODELS: dict = {}


def model(cls, name: str, backend: str = "onnxruntime"):
    key = (cls, name, backend)
    if key not in _MODELS:
        _MODELS[key] = cls(HEADS / name, backend=backend_or_skip(backend))
    return _MODELS[key]


def test_fixtures_are_sharp():
    """A broken head cannot pass by accident: the reference outputs spread far beyond the tolerance."""
    for name in ("rerank", "nli"):
        logits = np.asarray(expected(name)["logits"])
        assert np.ptp(logits, axis=0).min() > 100 * TOL, name
    assert np.ptp(np.concatenate(expected("mlm")["logits_at_masks"])) > 100 * TOL


@pytest.mark.parametrize("backend", EXECUTORS)
@pytest.mark.parametrize("name", ["rerank", "nli"])
def test_classifier_logits_equal_transformers(name, backend):
    ref = expected(name)
    ce = model(minilm.CrossEncoder, name, backend)
    logits = ce.predict([tuple(p) for p in ref["pairs"]], activation_fn="identity")
    assert np.abs(logits.reshape(len(ref["pairs"]), -1) - np.asarray(ref["logits"])).max() <= TOL
    assert np.abs(np.asarray(ce.predict(ref["pairs"])) - np.asarray(ref["predict"])).max() <= TOL  # the default activation


@pytest.mark.parametrize("backend", EXECUTORS)
def test_masked_lm_logits_equal_transformers(backend):
    ref = expected("mlm")
    lm = model(minilm.MaskedLM, "mlm", backend)
    got = lm.logits(ref["texts"], positions=ref["mask_positions"])
    for ours, theirs in zip(got, ref["logits_at_masks"]):
        assert ours.shape == np.shape(theirs) and np.abs(ours - np.asarray(theirs)).max() <= TOL
    (every,) = lm.logits(ref["texts"][:1])  # every position of one text
    assert np.abs(every - np.asarray(ref["logits_all_0"])).max() <= TOL


def test_pair_ids_equal_the_hugging_face_tokenizer():
    ref = expected("rerank")
    ce = model(minilm.CrossEncoder, "rerank")
    assert ce.max_length == 32
    got = ce.tokenizer.encode_pairs([tuple(p) for p in ref["pairs"]])
    assert [ids for ids, _ in got] == ref["input_ids"] and [t for _, t in got] == ref["token_type_ids"]
    assert any(len(ids) == 32 for ids in ref["input_ids"])  # some were cut


def test_longest_first_on_a_grid_of_lengths():
    from minilm.tokenizer import load_tokenizer
    rows = expected("rerank")["truncation"]
    for max_length in sorted({r["max_length"] for r in rows}):
        tok = load_tokenizer(HEADS / "rerank", max_length)
        mine = [r for r in rows if r["max_length"] == max_length]
        got = tok.encode_pairs([(r["a"], r["b"]) for r in mine])
        assert [g[0] for g in got] == [r["input_ids"] for r in mine], max_length
        assert [g[1] for g in got] == [r["token_type_ids"] for r in mine], max_length
    assert sum(len(r["input_ids"]) == r["max_length"] for r in rows) > 20  # the cut matters in many


def test_vocab_txt_fallback_tokenizes_pairs_the_same(tmp_path):
    folder = tmp_path / "rerank"
    shutil.copytree(HEADS / "rerank", folder)
    (folder / "tokenizer.json").unlink()
    ref = expected("rerank")
    ce = minilm.CrossEncoder(folder, backend="numpy")
    assert [ids for ids, _ in ce.tokenizer.encode_pairs([tuple(p) for p in ref["pairs"]])] == ref["input_ids"]


def test_rank_equals_sentence_transformers():
    ref = expected("rerank")
    ce = model(minilm.CrossEncoder, "rerank")
    got = ce.rank(ref["query"], ref["documents"], return_documents=True)
    assert [r["corpus_id"] for r in got] == [r["corpus_id"] for r in ref["rank"]]
    assert [r["text"] for r in got] == [r["text"] for r in ref["rank"]]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(got, ref["rank"])) <= TOL
    top = ce.rank(ref["query"], ref["documents"], top_k=3)
    assert [sorted(r) for r in top] == [["corpus_id", "score"]] * 3
    assert [r["corpus_id"] for r in top] == [r["corpus_id"] for r in ref["rank_top3"]]


def test_nli_softmax_and_the_classification_pipeline():
    ref = expected("nli")
    ce = model(minilm.CrossEncoder, "nli")
    assert np.abs(ce.predict(ref["pairs"], apply_softmax=True) - np.asarray(ref["predict_softmax"])).max() <= TOL
    clf = model(minilm.Classifier, "nli")
    assert clf.labels == ("contradiction", "entailment", "neutral")
    got = clf.predict(ref["pipeline_inputs"], top_k=None)
    for ours, theirs in zip(got, ref["pipeline_top_k_none"]):
        assert [d["label"] for d in ours] == [d["label"] for d in theirs]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs)) <= TOL
    assert clf.predict(ref["texts"][0]) == got[0][:1]  # one text -> its list; top_k=1 by default
    assert clf.predict(("what is a cat", "a cat is a small animal"), top_k=2) == got[len(ref["texts"])][:2]
    text_logits = np.asarray(ref["text_logits"])
    assert np.abs(clf.predict(ref["texts"], top_k=None, function_to_apply="none")[0][0]["score"]
                  - text_logits[0].max()) <= TOL


def test_fill_mask_equals_the_pipeline():
    ref = expected("mlm")
    got = model(minilm.MaskedLM, "mlm").fill_mask(ref["texts"], top_k=5)
    for ours, theirs in zip(got, ref["fill_mask_top5"]):
        rows_ours, rows_theirs = (ours, theirs) if isinstance(ours[0], list) else ([ours], [theirs])
        assert len(rows_ours) == len(rows_theirs)
        for a_row, b_row in zip(rows_ours, rows_theirs):
            assert [(a["token"], a["token_str"], a["sequence"]) for a in a_row] == \
                   [(b["token"], b["token_str"], b["sequence"]) for b in b_row]
            assert max(abs(a["score"] - b["score"]) for a, b in zip(a_row, b_row)) <= 1e-5
    assert model(minilm.MaskedLM, "mlm").fill_mask(ref["texts"][0], top_k=2) == got[0][:2]


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_batch_invariance(backend):
    ref = expected("rerank")
    ce = model(minilm.CrossEncoder, "rerank", backend)
    pairs = [tuple(p) for p in ref["pairs"]]
    together = ce.predict(pairs, batch_size=32)
    alone = np.array([ce.predict(p) for p in pairs])
    in_threes = ce.predict(pairs, batch_size=3)
    assert np.abs(together - alone).max() <= 1e-5 and np.abs(together - in_threes).max() <= 1e-5
    lm = model(minilm.MaskedLM, "mlm", backend)
    texts = expected("mlm")["texts"]
    batched = lm.logits(texts, positions=expected("mlm")["mask_positions"])
    for text, pos, row in zip(texts, expected("mlm")["mask_positions"], batched):
        assert np.abs(lm.logits([text], positions=[pos])[0] - row).max() <= 1e-5


@pytest.mark.parametrize("name,cls", [("rerank", minilm.CrossEncoder), ("mlm", minilm.MaskedLM)])
def test_pytorch_model_bin_gives_the_same(tmp_path, name, cls):
    folder = tmp_path / name
    shutil.copytree(HEADS / name, folder)
    (folder / "model.safetensors").unlink()  # the .bin has the tied tensors twice (decoder.weight, decoder.bias)
    a, b = cls(folder, backend="numpy"), cls(HEADS / name, backend="numpy")
    assert a.weights.keys() == b.weights.keys()
    for key in a.weights:
        np.testing.assert_array_equal(a.weights[key], b.weights[key])


@pytest.mark.parametrize("variant", sorted(expected("rerank")["activations"]))
def test_default_activation_as_sentence_transformers_picks_it(tmp_path, variant):
    ref = expected("rerank")
    case = ref["activations"][variant]
    folder = tmp_path / variant
    shutil.copytree(HEADS / "rerank", folder)
    for file, content in case["files"].items():
        (folder / file).write_text(json.dumps(content))
    ce = minilm.CrossEncoder(folder, backend="numpy")
    assert ce.activation_fn.__name__ == case["activation_fn"].lower()
    assert np.abs(ce.predict(ref["pairs"]) - np.asarray(case["predict"])).max() <= TOL


def test_onnx_export_runs_alone_and_loads_back(tmp_path):
    import onnxruntime as ort

    from minilm.export import export_onnx
    ref = expected("rerank")
    ce = model(minilm.CrossEncoder, "rerank")
    path = export_onnx(ce, tmp_path / "rerank.onnx")
    settings = json.loads((tmp_path / "minilm_export.json").read_text())
    assert settings["head"] == "sequence_classification" and settings["labels"] == ["LABEL_0"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = ce._feeds(ce.tokenizer.encode_pairs([tuple(p) for p in ref["pairs"]]))
    (logits,) = session.run(["logits"], feeds)
    assert np.abs(logits - np.asarray(ref["logits"])).max() <= TOL
    again = minilm.CrossEncoder(path, tokenizer=HEADS / "rerank", backend="numpy")  # names recovered from the file
    assert np.abs(again.predict(ref["pairs"], activation_fn="identity") - np.asarray(ref["logits"])[:, 0]).max() <= TOL


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_a_torch_onnx_export_in_a_hub_layout_loads(backend):
    """onnx/model.onnx made by torch.onnx.export: named initializers and anonymous MatMul weights; config.json
    and the tokenizer one folder up, as in a hub repository."""
    ref = expected("rerank")
    ce = minilm.CrossEncoder(HEADS / "rerank" / "onnx" / "model.onnx", backend=backend)
    assert ce.max_length == 32 and ce.activation_fn is minilm.tasks.activations.identity  # from ../config.json
    assert np.abs(ce.predict(ref["pairs"]) - np.asarray(ref["logits"])[:, 0]).max() <= TOL


def test_webnn_export_of_the_masked_lm_runs(tmp_path):
    from minilm.runtime import make_executor
    from minilm.webnn import files
    from minilm.webnn.model import export_head
    ref = expected("mlm")
    lm = model(minilm.MaskedLM, "mlm")
    batch, seq = 2, 12
    graph = files.load(export_head(lm, tmp_path / "mlm", batch=batch, seq_len=seq))
    assert graph.inputs["positions"].shape == (batch * seq,)
    feeds = lm._feeds([(ids, [0] * len(ids)) for ids in ref["input_ids"][:batch]])
    feeds = {k: np.pad(v, [(0, 0), (0, seq - v.shape[1])]) for k, v in feeds.items()}
    flat = [row * seq + p for row, ps in enumerate(ref["mask_positions"][:batch]) for p in ps]
    feeds["positions"] = np.asarray(flat + [0] * (batch * seq - len(flat)), np.int64)
    logits = make_executor("numpy", graph).run(feeds)["logits"][:len(flat)]
    theirs = np.concatenate([np.asarray(x) for x in ref["logits_at_masks"][:batch]])
    assert np.abs(logits - theirs).max() <= TOL
    with pytest.raises(minilm.ConfigError, match="a WebNN export of a masked_lm head, not an embedding model"):
        minilm.load(tmp_path / "mlm")
