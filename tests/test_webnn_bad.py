"""Bad WebNN graph files: GraphError with line and column (text) or JSON path, exit 5; a wrong input at run is 5."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minilm.cli.main import main
from minilm.errors import GraphError, ParseError
from minilm.webnn import files
from minilm.webnn.build import to_graph
from minilm.webnn.json_form import from_json
from minilm.webnn.text import parse

GRAPH = """webnn_graph "g" v1 {
  inputs { x: f32[2, 3]; }
  nodes {
    y = CALL;
  }
  outputs { y; }
}
"""


def text_graph(call: str):
    return to_graph(parse(GRAPH.replace("CALL", call), "g.webnn"), source="g.webnn")


def json_graph(op: str, options: dict, inputs=("x",)):
    data = {"format": "webnn-graph-json", "version": 1, "inputs": {"x": {"dataType": "float32", "shape": [2, 3]}},
            "nodes": [{"id": "y", "op": op, "inputs": list(inputs), "options": options}], "outputs": {"y": "y"}}
    return to_graph(from_json(json.dumps(data), "g.json"), source="g.json")


BAD = [  # (text call, JSON op, JSON options, JSON inputs, message)
    ('softmax(x, axis="a")', "softmax", {"axis": "a"}, ["x"], "softmax: option 'axis' must be an integer, got 'a'"),
    ("softmax(x, axis=true)", "softmax", {"axis": True}, ["x"], "softmax: option 'axis' must be an integer, got True"),
    ("reshape(x, newShape=5)", "reshape", {"newShape": 5}, ["x"],
     "reshape: option 'newShape' must be a list of dimensions (non-negative integers), got 5"),
    ("reshape(x, newShape=[-1, -6])", "reshape", {"newShape": [-1, -6]}, ["x"],
     "reshape: option 'newShape' must be a list of dimensions (non-negative integers), got [-1, -6]"),
    ("concat([x, x], axis=null)", "concat", {"axis": None}, ["x", "x"], "concat: option 'axis' must be an integer, got None"),
    ("layerNormalization(x, axes=[0, 0, 0])", "layerNormalization", {"axes": [0, 0, 0]}, ["x"],
     "layerNormalization: axes [0, 0, 0] name an axis twice"),
    ("reduceSum(x, axes=[1, -1])", "reduceSum", {"axes": [1, -1]}, ["x"], "reduceSum: axes [1, -1] name an axis twice"),
    ("transpose(x, permutation=[1.5, 0])", "transpose", {"permutation": [1.5, 0]}, ["x"],
     "transpose: option 'permutation' must be a list of integers or null, got [1.5, 0]"),
    ("layerNormalization(x, epsilon=\"small\")", "layerNormalization", {"epsilon": "small"}, ["x"],
     "layerNormalization: option 'epsilon' must be a number, got 'small'"),
    ("reduceMean(x, keepDimensions=1)", "reduceMean", {"keepDimensions": 1}, ["x"],
     "reduceMean: option 'keepDimensions' must be true or false, got 1"),
    ("expand(x, newShape=[2, -3])", "expand", {"newShape": [2, -3]}, ["x"],
     "expand: option 'newShape' must be a list of dimensions (non-negative integers), got [2, -3]"),
    ("slice(x, starts=[0, 0], sizes=[1, -1])", "slice", {"starts": [0, 0], "sizes": [1, -1]}, ["x"],
     "slice: option 'sizes' must be a list of dimensions (non-negative integers), got [1, -1]"),
    ("split(x, splits=\"2\", axis=1)", "split", {"splits": "2", "axis": 1}, ["x"],
     "split: option 'splits' must be an integer or a list of integers, got '2'"),
    ("cast(x, type=5)", "cast", {"type": 5}, ["x"], "cast: option 'type' must be a string, got 5"),
    ("gather(x, x, axis=[0])", "gather", {"axis": [0]}, ["x", "x"], "gather: option 'axis' must be an integer, got [0]"),
]


@pytest.mark.parametrize("call, op, options, inputs, message", BAD, ids=[b[0] for b in BAD])
def test_bad_options_are_graph_errors_with_the_place(call, op, options, inputs, message):
    with pytest.raises(GraphError) as info:
        text_graph(call)
    assert str(info.value).startswith("g.webnn:4:5: node 'y': ") and message in str(info.value)
    with pytest.raises(GraphError) as info:
        json_graph(op, options, inputs)
    assert str(info.value).startswith("g.json: nodes[0]: node 'y': ") and message in str(info.value)


def test_good_options_still_build():
    assert text_graph("layerNormalization(x, axes=[1], epsilon=1e-5)").operands["y"].shape == (2, 3)
    assert text_graph("reshape(x, newShape=[3, 2])").operands["y"].shape == (3, 2)
    assert text_graph("softmax(x, axis=-1)").operands["y"].shape == (2, 3)
    assert text_graph("reduceSum(x, axes=[0, 1], keepDimensions=true)").operands["y"].shape == (1, 1)


def test_json_nested_100000_deep_is_a_parse_error(tmp_path, capsys):
    deep = '{"format": "webnn-graph-json", "version": 1, "inputs": {}, "nodes": [{"op": "relu", "id": "y", ' \
           '"inputs": [], "options": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}], \"outputs\": {}}"
    with pytest.raises(ParseError, match="nested too deeply"):
        from_json(deep, "deep.json")
    (tmp_path / "deep.json").write_text(deep)
    assert main(["webnn", "check", str(tmp_path / "deep.json")]) == 5
    assert "deep.json: nested too deeply" in capsys.readouterr().err


def test_json_option_nested_past_the_text_limit_names_its_path():
    options = {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    with pytest.raises(ParseError, match=r"nodes\[0\]\.options\.a: arrays nested deeper than 32"):
        json_graph("relu", options)


@pytest.mark.parametrize("node, message", [
    ({"id": "y", "op": "relu", "inputs": ["x"], "outputs": "y"}, "nodes[0] (relu): outputs must be a list of names"),
    ({"id": "y", "op": "relu", "inputs": ["x"], "outputs": [1]}, "nodes[0] (relu): outputs must be a list of names"),
])
def test_json_node_fields_of_the_wrong_type(node, message):
    data = {"format": "webnn-graph-json", "version": 1, "inputs": {"x": {"dataType": "float32", "shape": [2]}},
            "nodes": [node], "outputs": {"y": "y"}}
    with pytest.raises(ParseError) as info:
        from_json(json.dumps(data), "g.json")
    assert message in str(info.value)


@pytest.mark.parametrize("const, message", [
    ({"dataType": "float32", "shape": [2], "init": {"kind": "scalar", "value": "one"}}, "const 'c': @scalar value must be a number"),
    ({"dataType": "float32", "shape": [2], "init": {"kind": "inlineBytes", "bytes": [1, 300]}},
     "const 'c': bytes must be a list of integers 0..255"),
    ({"dataType": "complex", "shape": [2], "init": {"kind": "scalar", "value": 1}}, "const 'c': unknown data type 'complex'"),
])
def test_json_constants_of_the_wrong_type(tmp_path, const, message):
    data = {"format": "webnn-graph-json", "version": 1, "inputs": {}, "consts": {"c": const},
            "nodes": [{"id": "y", "op": "relu", "inputs": ["c"]}], "outputs": {"y": "y"}}
    (tmp_path / "g.json").write_text(json.dumps(data))
    with pytest.raises(GraphError) as info:
        files.load(tmp_path / "g.json")
    assert message in str(info.value)


def test_cli_bad_graph_file_exits_5(tmp_path, capsys):
    path = tmp_path / "g.webnn"
    path.write_text(GRAPH.replace("CALL", "reshape(x, newShape=[-1, -6])"))
    assert main(["webnn", "check", str(path)]) == 5  # was 0: -1 x -6 has the element count of [2, 3]
    assert f"{path}:4:5: node 'y': reshape: option 'newShape'" in capsys.readouterr().err
    path.write_text("webnn_graph")
    assert main(["webnn", "check", str(path)]) == 5  # a ParseError (was exit 1)


def test_wrong_input_at_run_is_bad_input(tmp_path, capsys):
    path = tmp_path / "g.webnn"
    path.write_text(GRAPH.replace("CALL", "relu(x)"))
    out = tmp_path / "out"
    x = tmp_path / "x.npy"
    for array, message in [(np.zeros((3, 2), np.float32), f"--input x: the graph's input 'x' is float32[2, 3], {x} is float32[3, 2]"),
                           (np.zeros((2, 3), np.float64), f"--input x: the graph's input 'x' is float32[2, 3], {x} is float64[2, 3]"),
                           (np.zeros((2,), np.float32), f"--input x: the graph's input 'x' is float32[2, 3], {x} is float32[2]")]:
        np.save(tmp_path / "x.npy", array)
        for backend in ("numpy", "onnxruntime"):
            argv = ["webnn", "run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out), "--backend", backend]
            assert main(argv) == 5, backend  # was 6, a backend failure
            assert message in capsys.readouterr().err
    assert not out.exists()


def test_integers_past_pythons_digit_limit_are_parse_errors(tmp_path):
    with pytest.raises(ParseError, match=r"g.webnn:1:38: an integer of 5000 digits; at most 4000 are read"):
        parse('webnn_graph "x" v1 { inputs { x: f32[' + "9" * 5000 + "]; } }", "g.webnn")
    with pytest.raises(ParseError, match="g.json: not a JSON this reader takes"):
        from_json('{"format": "webnn-graph-json", "version": ' + "1" * 5000 + "}", "g.json")
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"format": "wg-weights-manifest", "version": ' + "1" * 5000 + "}")
    from minilm.errors import CheckpointError
    from minilm.webnn.weights import read_manifest
    with pytest.raises(CheckpointError, match="manifest.json: not a JSON this reader takes"):
        read_manifest(manifest)
