"""``minilm export --format webnn-js``: model.js is valid JavaScript (node --check) and, imported in
Node with a recording MLGraphBuilder, makes one builder call per graph node, in order, with every
operand defined before use and every constant the size of its shape; with a computing MLGraphBuilder
(tests/webnn_js_numeric.mjs) its outputs equal our NumPy interpreter's on the same graph, for a batch
with padding and a text pair typed 0 / 1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import minilm
from minilm.cli.main import main
from minilm.webnn.files import load
from tinymodel import write_tiny_model
from webdeps import require

NODE = shutil.which("node")
HARNESS = Path(__file__).parent / "webnn_js_harness.mjs"
NUMERIC = Path(__file__).parent / "webnn_js_numeric.mjs"
MODULES = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
           {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
           {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    require(NODE is not None, "node (Node.js) is not installed; .ci/run installs it")
    root = tmp_path_factory.mktemp("webnnjs")
    model = write_tiny_model(root / "tiny")
    (model / "modules.json").write_text(json.dumps(MODULES))  # mean pooling, then Normalize: its ops too
    (model / "1_Pooling").mkdir()
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 16, "pooling_mode_mean_tokens": True}))
    out = root / "out"
    assert main(["export", "--model", str(model), "--format", "webnn-js", "--out", str(out), "--batch", "2", "--seq-len", "8"]) == 0
    return out


def test_files_and_syntax(exported):
    for name in ("model.js", "model.webnn", "model.weights", "manifest.json", "tokenizer.json"):
        assert (exported / name).exists(), name
    subprocess.run([NODE, "--check", str(exported / "model.js")], check=True)


def test_one_builder_call_per_node(exported):
    graph = load(exported / "model.webnn")
    out = subprocess.run([NODE, str(HARNESS), str(exported)], check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    calls = result["calls"]
    assert result["built"] and result["outputs"] == list(graph.outputs)
    assert result["inputs"] == {k: {"dataType": o.dtype, "shape": list(o.shape)} for k, o in graph.inputs.items()}
    kinds = [c["op"] for c in calls]
    n_in, n_const = len(graph.inputs), len(graph.constants)
    assert kinds[:n_in] == ["input"] * n_in
    assert kinds[n_in:n_in + n_const] == ["constant"] * n_const
    assert kinds[n_in + n_const:-1] == [node.op for node in graph.nodes]
    assert kinds[-1] == "build"
    for call, (name, array) in zip(calls[n_in:], graph.constants.items()):
        desc, data = call["args"]
        assert desc["shape"] == list(array.shape) and data["length"] == max(array.size, 1), name
    made = n_in + n_const  # operands are numbered in creation order: every reference is to an earlier one

    def refs(value):
        if isinstance(value, dict) and "operand" in value:
            yield value["operand"]
        elif isinstance(value, dict):
            for x in value.values():
                yield from refs(x)
        elif isinstance(value, list):
            for x in value:
                yield from refs(x)

    for call in calls[n_in + n_const:-1]:
        assert None not in call["args"], call
        assert all(r < made for r in refs(call["args"])), call
        made += 1


def test_layer_norm_axes_are_not_negative(exported):
    text = (exported / "model.js").read_text()
    assert "b.layerNormalization(" in text and "axes: [-" not in text and "axis: -" not in text
    assert text.count("b.softmax(") == sum(1 for n in load(exported / "model.webnn").nodes if n.op == "softmax")


def test_model_js_computes_what_the_graph_computes(exported, tmp_path):
    feeds = {"input_ids": [[2, 31, 32, 3, 0, 0, 0, 0], [2, 7, 8, 9, 3, 10, 11, 3]],
             "attention_mask": [[1, 1, 1, 1, 0, 0, 0, 0], [1] * 8], "token_type_ids": [[0] * 8, [0] * 5 + [1] * 3]}
    (tmp_path / "feeds.json").write_text(json.dumps(feeds))
    out = subprocess.run([NODE, str(NUMERIC), str(exported), str(tmp_path / "feeds.json")], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    got = {k: np.array(v["data"]).reshape(v["shape"]) for k, v in json.loads(out).items()}
    model = minilm.load(exported, backend="numpy")
    assert model.pipeline.normalize
    executor = model.executor("sentence_embedding", True)
    want = executor.run({k: np.array(v, np.int64) for k, v in feeds.items()})["sentence_embedding"]
    np.testing.assert_allclose(got["sentence_embedding"], want, atol=1e-5)
    untyped = executor.run({**{k: np.array(v, np.int64) for k, v in feeds.items()}, "token_type_ids": np.zeros((2, 8), np.int64)})
    assert np.abs(untyped["sentence_embedding"][1] - want[1]).max() > 1e-2  # the pair's types matter, far past 1e-5
