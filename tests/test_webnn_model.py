"""MiniLM through WebNN files, graphs in the reference converter's dialect, and the webnn / compare commands."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import cosine_rows, load_golden

import minilm
import minilm.compare
from minilm.cli.main import main
from minilm.errors import CheckpointError, ConfigError, GraphError, ParseError
from minilm.runtime import make_executor
from minilm.webnn import files
from minilm.webnn.build import from_graph, to_graph
from minilm.webnn.text import parse, write
from minilm.webnn.weights import write_weights

BATCH, SEQ = 3, 128


@pytest.fixture(scope="module")
def exported(tmp_path_factory, ort_embedder):
    out = tmp_path_factory.mktemp("webnn") / "minilm"
    assert main(["export", "--format", "webnn", "--out", str(out), "--batch", str(BATCH), "--seq-len", str(SEQ)]) == 0
    return out


def test_export_writes_the_files_and_the_text_round_trips(exported):
    names = {p.name for p in exported.iterdir()}
    assert {"model.webnn", "model.weights", "manifest.json", "tokenizer.json", "config.json", "webnn_config.json"} <= names
    text = (exported / "model.webnn").read_text()
    assert text.startswith('webnn_graph "') and "input_ids: i64[3, 128];" in text
    assert write(parse(text)) == text
    graph = files.load(exported / "model.webnn")
    doc, _ = from_graph(graph)
    assert write(doc) == text  # Graph -> text -> Graph -> text is stable


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_exported_minilm_matches_the_original(exported, ort_embedder, backend):
    meta, golden = load_golden("all-MiniLM-L6-v2")
    texts = meta["texts"]
    model = minilm.load(exported, backend=backend)
    assert (model.batch, model.seq_len, model.dim) == (BATCH, SEQ, 384)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = model.encode(texts)  # 240 texts: many calls of the static batch of 3
    truncated = sum(len(ids) > SEQ for ids in meta["input_ids"])
    assert any(f"longer than this WebNN export's sequence length ({SEQ} tokens)" in str(w.message) for w in caught)
    assert truncated > 0
    original = minilm.load(max_length=SEQ).encode(texts)
    assert cosine_rows(ours, original).min() >= 0.99999
    short = [i for i, ids in enumerate(meta["input_ids"]) if len(ids) <= SEQ]
    assert len(short) > 150
    assert cosine_rows(ours[short], golden["sentence_embedding"][short]).min() >= 0.99999


def test_exported_model_refuses_what_it_cannot_compute(exported):
    model = minilm.load(exported, backend="numpy")
    with pytest.raises(ConfigError, match="computes only sentence_embedding"):
        model.encode(["x"], output="token_embeddings")
    with pytest.raises(ConfigError, match="from 2 to 128"):
        minilm.load(exported, max_length=200)


# A BERT-style block written as the reference converter (webnn-graph convert-onnx) writes it: cast(to=...),
# slice(starts, ends, axes), positional layerNormalization scale/bias, concat(a, b, axis), unsqueeze.
DIALECT = """webnn_graph "converted" v1 {
  inputs {
    input_ids: i64[2, 4];
    attention_mask: i64[2, 4];
  }
  consts {
    word: f32[10, 8] @weights("word");
    pos: f32[6, 8] @weights("pos");
    ln_w: f32[8] @weights("ln_w");
    ln_b: f32[8] @weights("ln_b");
    wq: f32[8, 8] @weights("wq");
    one: f32[] @scalar(1.0);
    big: f32[] @scalar(-10000.0);
  }
  nodes {
    emb = gather(word, input_ids, axis=0);
    p = slice(pos, starts=[0], ends=[4], axes=[0]);
    x0 = add(emb, p);
    x = layerNormalization(x0, ln_w, ln_b, epsilon=1e-12);
    q = matmul(x, wq);
    kt = transpose(x, permutation=[0, 2, 1]);
    s = matmul(q, kt);
    m = cast(attention_mask, to="Float32");
    inv = sub(one, m);
    neg = mul(inv, big);
    m3 = unsqueeze(neg, axes=[1]);
    scores = add(s, m3);
    probs = softmax(scores, axis=2);
    ctx = matmul(probs, x);
    both = concat(ctx, x, axis=2);
    out = gelu(both);
  }
  outputs { out; }
}
"""


def _dialect_reference(w, ids, mask):
    x0 = w["word"][ids] + w["pos"][:4]
    mu, var = x0.mean(-1, keepdims=True), x0.var(-1, keepdims=True)
    x = (x0 - mu) / np.sqrt(var + 1e-12) * w["ln_w"] + w["ln_b"]
    s = (x @ w["wq"]) @ x.transpose(0, 2, 1) + ((1 - mask.astype(np.float32)) * -10000.0)[:, None, :]
    e = np.exp(s - s.max(-1, keepdims=True))
    both = np.concatenate([(e / e.sum(-1, keepdims=True)) @ x, x], axis=2)
    from math import erf
    return both * 0.5 * (1 + np.vectorize(erf)(both / np.sqrt(2)))


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_graph_in_the_converter_dialect_runs(tmp_path, backend):
    rng = np.random.default_rng(0)
    w = {k: rng.standard_normal(s).astype(np.float32) for k, s in
         [("word", (10, 8)), ("pos", (6, 8)), ("ln_w", (8,)), ("ln_b", (8,)), ("wq", (8, 8))]}
    (tmp_path / "converted.webnn").write_text(DIALECT)
    write_weights(w, tmp_path / "converted.weights", tmp_path / "manifest.json")
    graph = files.load(tmp_path / "converted.webnn")
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], np.int64)
    mask = (ids > 0).astype(np.int64)
    out = make_executor(backend, graph).run({"input_ids": ids, "attention_mask": mask})["out"]
    np.testing.assert_allclose(out, _dialect_reference(w, ids, mask), rtol=1e-4, atol=1e-5)
    # our writer emits the W3C IDL names; the result reads back to the same computation
    doc, arrays = from_graph(graph)
    text = write(doc)
    assert 'cast(' in text and 'type="float32"' in text and "ends=" not in text
    again = make_executor(backend, to_graph(parse(text), arrays)).run({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_array_equal(again["out"], out)


GOOD = 'webnn_graph "g" v1 {\n  inputs { x: f32[2, 3]; }\n  consts { w: f32[3, 4] @weights("w"); }\n' \
       '  nodes {\n    y = matmul(x, w);\n  }\n  outputs { y; }\n}\n'


@pytest.fixture
def small(tmp_path):
    write_weights({"w": np.ones((3, 4), np.float32)}, tmp_path / "g.weights", tmp_path / "manifest.json")
    path = tmp_path / "g.webnn"
    path.write_text(GOOD)
    return path


@pytest.mark.parametrize("old, new, error, message", [
    ('@weights("w")', '@weights("v")', CheckpointError, "constant 'w' uses @weights\\('v'\\), which the manifest does not list"),
    ("w: f32[3, 4]", "w: f32[4, 3]", CheckpointError, "declared float32\\[4, 3\\], but weights 'w' are float32\\[3, 4\\]"),
    ("matmul(x, w)", "matmul(x, v)", GraphError, "g.webnn:5:19: unknown operand 'v'"),
    ("matmul(x, w)", "matmul(w, x)", GraphError, "g.webnn:5:5: node 'y': matmul"),
    ("matmul(x, w)", "frobnicate(x, w)", GraphError, "frobnicate.*matmul"),
    ("y = matmul", "x = matmul", GraphError, "'x' is already defined"),
    ("outputs { y; }", "outputs { z; }", GraphError, "output 'z' is not an operand"),
    ("x: f32[2, 3]", "x: i4[2, 3]", GraphError, "input 'x' is int4"),
])
def test_graph_errors_name_the_place(small, old, new, error, message):
    small.write_text(GOOD.replace(old, new))
    with pytest.raises(error, match=message):
        files.load(small)


def test_missing_weights_and_non_utf8(small):
    (small.parent / "g.weights").unlink()
    with pytest.raises(CheckpointError, match="g.weights does not exist; give it with --weights"):
        files.load(small)
    small.write_bytes(GOOD.encode().replace(b"matmul", b"m\xe9tmul"))
    with pytest.raises(ParseError, match="g.webnn:5:10: byte 0xe9 is not UTF-8"):
        files.load(small)


def test_cli_webnn_check_and_run(small, tmp_path, capsys):
    assert main(["webnn", "check", str(small), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["inputs"] == {"x": ["float32", [2, 3]]} and info["outputs"] == {"y": ["float32", [2, 4]]}
    assert info["operations"] == {"matmul": 1} and info["constant_bytes"] == 48
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    for backend in ("numpy", "onnxruntime"):
        out = tmp_path / backend
        assert main(["webnn", "run", str(small), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out),
                     "--backend", backend]) == 0
        np.testing.assert_allclose(np.load(out / "y.npy"), x @ np.ones((3, 4), np.float32))
    capsys.readouterr()
    assert main(["webnn", "run", str(small), "--output-dir", str(tmp_path)]) == 2
    assert "missing --input x=FILE.npy" in capsys.readouterr().err
    assert main(["webnn", "run", str(small), "--input", "q=a.npy", "--output-dir", str(tmp_path)]) == 2
    assert "the graph has no input 'q'" in capsys.readouterr().err
    small.write_text(GOOD.replace(";\n  }\n  outputs", "\n  }\n  outputs"))
    code = main(["webnn", "check", str(small)])
    assert code != 0 and ":6:3: expected ';'" in capsys.readouterr().err


def test_cli_compare(tmp_path, capsys):
    assert main(["compare", "--backend", "numpy", "--against", "onnxruntime"]) == 0
    out = capsys.readouterr().out
    assert "The cat sits on the mat" in out and "very similar" in out and "cosine" in out
    assert main(["compare", "--against-fixtures", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and report["count"] == 5 and report["cosine_min"] >= 0.99999
    assert set(report["texts"][0]) == {"text", "cosine", "euclidean", "mse", "mae"}
    # a reference that disagrees fails the verdict and the exit status
    data = json.loads((minilm.compare.REFERENCE).read_text())
    data["sentence_embedding"][2] = list(-np.asarray(data["sentence_embedding"][2]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["compare", "--against-fixtures", str(bad)]) == 1
    assert "DIFFERENT: text 2 has cosine -1.0" in capsys.readouterr().out
    assert main(["compare"]) == 2
    assert "--against BACKEND" in capsys.readouterr().err


def test_exported_model_serves_its_batches_padded(exported, ort_embedder):
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from minilm.server.app import batch_workers, create_app

    model = minilm.load(exported)
    assert model.encode_packed is None and batch_workers(model, None) == (1, None)  # static shapes: one worker
    texts = ["a short one", "a somewhat longer sentence than the first", "three"]
    with TestClient(create_app(model)) as client:  # the lifespan starts the batcher
        r = client.post("/v1/embeddings", json={"input": texts})
        assert r.status_code == 200, r.text
        got = np.array([d["embedding"] for d in r.json()["data"]], np.float32)
        assert client.get("/health").json() == {"status": "ok"}
    assert cosine_rows(got, ort_embedder.encode(texts)).min() >= 0.99999
