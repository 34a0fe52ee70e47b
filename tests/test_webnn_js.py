"""``minilm export --format webnn-js``: model.js is valid JavaScript (node --check) and, imported in
Node with a recording MLGraphBuilder, makes one builder call per graph node, in order, with every
operand defined before use and every constant the size of its shape."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from minilm.cli.main import main
from minilm.webnn.files import load
from tinymodel import write_tiny_model
from webdeps import require

NODE = shutil.which("node")
HARNESS = Path(__file__).parent / "webnn_js_harness.mjs"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    require(NODE is not None, "node (Node.js) is not installed; .ci/run installs it")
    root = tmp_path_factory.mktemp("webnnjs")
    model = write_tiny_model(root / "tiny")
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
