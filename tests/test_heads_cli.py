"""`minilm rerank`, `classify`, `fill-mask`, `search --rerank` and `export --head`: output, --json, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES

import minilm
from minilm.cli.main import main

HEADS = FIXTURES / "heads"
DOCS = ["the cat sat on the mat", "a dog is a good animal", "", "the cat is in the old red box with the dog"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rerank_text_and_json(capsys, tmp_path, reranker):
    want = reranker.rank("where is the cat", DOCS)
    code, out, _ = run(capsys, "rerank", "where is the cat", *DOCS, "--model", HEADS / "rerank")
    assert code == 0
    shown = [d if d else '""' for d in DOCS]
    assert out.splitlines() == [f"{r:>3}  {x['score']:.4f}  #{x['corpus_id']}  {shown[x['corpus_id']]}" for r, x in enumerate(want, 1)]
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "rerank", "where is the cat", "--input", docs, "--model", HEADS / "rerank", "-k", "2", "--json")
    got = json.loads(out)
    assert code == 0 and got["query"] == "where is the cat" and len(got["results"]) == 2
    assert [(r["corpus_id"], r["text"]) for r in got["results"]] == [(x["corpus_id"], DOCS[x["corpus_id"]]) for x in want[:2]]
    assert abs(got["results"][0]["score"] - want[0]["score"]) < 1e-6
    code, out, _ = run(capsys, "rerank", "where is the cat", *DOCS, "--model", HEADS / "rerank", "--raw-scores", "--json")
    logits = reranker.predict([("where is the cat", d) for d in DOCS], activation_fn="identity")
    assert [r["score"] for r in json.loads(out)["results"]] == pytest.approx(sorted(logits.tolist(), reverse=True), abs=1e-6)


def test_rerank_exit_codes(capsys, monkeypatch):
    monkeypatch.delenv("MINILM_MODEL", raising=False)
    code, _, err = run(capsys, "rerank", "q", "d")
    assert code == 2 and "--model is required (CrossEncoder: a checkpoint with a head)" in err
    code, _, err = run(capsys, "rerank", "q", "d", "--model", HEADS / "mlm")
    assert code == 4 and "this checkpoint has no classifier: it has a masked-LM head" in err
    code, _, err = run(capsys, "rerank", "q", "d", "--model", HEADS / "rerank", "--int8", "--precision", "bf16")
    assert code == 2 and "--int8 is --precision int8; it cannot be combined with --precision bf16" in err
    code, _, err = run(capsys, "rerank", "q", "--model", HEADS / "rerank")
    assert code == 2 and "no texts" in err


def test_classify_texts_and_pairs(capsys, tmp_path):
    clf = minilm.Classifier(HEADS / "nli")
    code, out, _ = run(capsys, "classify", "hello world", "the cat sat", "--model", HEADS / "nli", "-k", "2")
    want = clf.predict(["hello world", "the cat sat"], top_k=2)
    assert code == 0 and out.splitlines() == [f"{t}  " + ", ".join(f"{x['label']} {x['score']:.4f}" for x in w)
                                               for t, w in zip(["hello world", "the cat sat"], want)]
    rows = tmp_path / "nli.jsonl"
    rows.write_text("".join(json.dumps({"premise": a, "hypothesis": b}) + "\n" for a, b in
                            [("a cat sat", "the cat sat"), ("is the dog good", "the dog is bad")]), encoding="utf-8")
    code, out, _ = run(capsys, "classify", "--input", rows, "--field", "premise", "--pair-field", "hypothesis",
                       "--model", HEADS / "nli", "--json")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [(x["text"], x["text_pair"]) for x in lines] == [("a cat sat", "the cat sat"), ("is the dog good", "the dog is bad")]
    assert lines[1]["labels"][0]["label"] == clf.predict(("is the dog good", "the dog is bad"))[0]["label"]
    code, out, _ = run(capsys, "classify", "a cat", "--pair", "the cat", "--model", HEADS / "nli", "--json")
    assert json.loads(out)["text_pair"] == "the cat"
    code, _, err = run(capsys, "classify", "a", "--pair", "b", "--pair-field", "c", "--model", HEADS / "nli")
    assert code == 2 and "give --pair TEXT or --pair-field NAME, not both" in err


def test_fill_mask_text_and_json(capsys):
    lm = minilm.MaskedLM(HEADS / "mlm")
    code, out, _ = run(capsys, "fill-mask", "the cat sat on the [MASK].", "--model", HEADS / "mlm", "-k", "2")
    want = lm.fill_mask("the cat sat on the [MASK].", top_k=2)
    assert code == 0 and out.splitlines() == ["the cat sat on the [MASK]."] + [
        f"  {x['score']:.4f}  {x['token_str']:<16}  {x['sequence']}" for x in want]
    code, out, _ = run(capsys, "fill-mask", "the [MASK] sat on the [MASK]", "--model", HEADS / "mlm", "--json", "-k", "1")
    got = json.loads(out)
    assert code == 0 and len(got["masks"]) == 2 and got["masks"][0][0]["token"] == lm.fill_mask("the [MASK] sat on the [MASK]")[0][0]["token"]
    code, _, err = run(capsys, "fill-mask", "no mask", "--model", HEADS / "mlm")
    assert code == 5 and "texts[0] has no [MASK] token" in err


def test_search_reranks_the_candidates(capsys, tmp_path, reranker):
    texts = ["the cat sat on the mat", "a dog is a good animal", "numbers 123 and 456", "the cat is in the old red box",
             "many people like the new blue text model", "where where where", "cats and dogs", "hello world"]
    (tmp_path / "docs.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    tiny = FIXTURES / "tiny" / "mean_norm"
    idx = tmp_path / "docs.idx"
    assert run(capsys, "index", "build", "--input", tmp_path / "docs.txt", "--out", idx, "--model", tiny)[0] == 0
    index = minilm.Index.open(idx, embedder=minilm.load(tiny))
    candidates = index.search("where is the cat", k=5)
    want = reranker.rank("where is the cat", [r.text for r in candidates], top_k=3)
    code, out, _ = run(capsys, "search", idx, "where is the cat", "--rerank", HEADS / "rerank", "--candidates", 5, "-k", 3, "--json")
    got = json.loads(out)["results"]
    assert code == 0 and [r["text"] for r in got] == [candidates[x["corpus_id"]].text for x in want]
    assert [r["score"] for r in got] == pytest.approx([x["score"] for x in want], abs=1e-6)
    assert [r["retrieval_score"] for r in got] == pytest.approx([candidates[x["corpus_id"]].score for x in want], abs=1e-6)
    assert [r["id"] for r in got] == [candidates[x["corpus_id"]].id for x in want]
    code, _, err = run(capsys, "search", idx, "q", "--candidates", 5)
    assert code == 2 and "--candidates applies with --rerank MODEL" in err


def test_export_head_onnx_and_webnn(capsys, tmp_path):
    ref = json.loads((HEADS / "nli" / "expected.json").read_text(encoding="utf-8"))
    code, _, err = run(capsys, "export", "--model", HEADS / "nli", "--head", "sequence_classification", "--out", tmp_path / "nli.onnx")
    assert code == 0 and "outputs logits" in err
    back = minilm.CrossEncoder(tmp_path / "nli.onnx", tokenizer=HEADS / "nli", backend="numpy")
    assert back.labels == ("contradiction", "entailment", "neutral") and back.max_length == 32
    assert np.abs(back.predict(ref["pairs"]) - np.asarray(ref["logits"])).max() <= 1e-4
    code, _, err = run(capsys, "export", "--model", HEADS / "nli", "--head", "sequence_classification", "--format", "webnn",
                       "--out", tmp_path / "webnn", "--seq-len", 16)
    assert code == 0 and "run it with minilm webnn run" in err
    assert json.loads((tmp_path / "webnn" / "webnn_config.json").read_text())["labels"] == ["contradiction", "entailment", "neutral"]
    code, _, err = run(capsys, "export", "--model", HEADS / "nli", "--head", "masked_lm", "--out", tmp_path / "x.onnx")
    assert code == 4 and "no masked-LM head" in err
    code, _, err = run(capsys, "export", "--model", HEADS / "nli", "--head", "sequence_classification", "--int8", "--out", tmp_path / "y.onnx")
    assert code == 2 and "--head exports --format onnx or webnn, in float32" in err
