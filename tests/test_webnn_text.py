"""The .webnn text format and its JSON form: round trips, the reference's example, errors with positions, fuzzing."""

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minilm.errors import GraphError, ParseError
from minilm.webnn.document import Ref
from minilm.webnn.json_form import from_json, to_json
from minilm.webnn.text import parse, write

# examples/resnet_head.webnn of github tarekziade/webnn-graph, verbatim
RESNET_HEAD = """webnn_graph "resnet_head" v1 {
  inputs {
    x: f32[1, 2048];
  }

  consts {
    W: f32[2048, 1000] @weights("W");
    b: f32[1000]       @weights("b");
  }

  nodes {
    logits0 = matmul(x, W);
    logits  = add(logits0, b);
    probs   = softmax(logits, axis=1);
  }

  outputs { probs; }
}
"""

EVERYTHING = """# every construct of the format
webnn_graph "all \\"quoted\\" \\\\ name" v2 @quantized {
  inputs { x: f32[2, 3]; ids: i32[4]; h: f16[1]; a: u32[1]; b: i64[]; c: u64[2]; d: i8[2]; e: u8[2]; }
  consts {
    w: f32[3, 2] @weights("encoder.layer.0/w");  # a comment after a declaration
    s: f32[] @scalar(0.125);
    n: i32[2] @scalar(-7);
    q: i4[3] @bytes([33, 15]);
    r: u4[2] @bytes([255]);
  }
  nodes {
    y = matmul(x, w);
    [p, q2] = split(y, splits=[1, 1], axis=1);
    z = concat([p, q2], axis=1);
    k = clamp(z, minValue=-Infinity, maxValue=1e-12);
    l = layerNormalization(k, scale=null, axes=[-1], epsilon=1e-05, flag=true, off=false, nested=[[1, 2], [3]], s="a b");
    alias = l;
  }
  outputs { y, z; alias; }
}
"""


def test_reference_example_parses_and_round_trips():
    doc = parse(RESNET_HEAD)
    assert doc.name == "resnet_head" and doc.version == 1 and not doc.quantized
    assert [(d.name, d.dtype, d.shape) for d in doc.inputs] == [("x", "float32", [1, 2048])]
    assert [c.init for c in doc.consts] == [("weights", "W"), ("weights", "b")]
    assert [(n.outputs, n.op, n.args, n.options) for n in doc.nodes][-1] == (["probs"], "softmax", [Ref("logits")], {"axis": 1})
    assert doc.outputs == ["probs"]
    assert parse(write(doc)) == doc


def test_every_construct_round_trips_exactly():
    doc = parse(EVERYTHING)
    assert doc.name == 'all "quoted" \\ name' and doc.version == 2 and doc.quantized
    assert [d.dtype for d in doc.inputs] == ["float32", "int32", "float16", "uint32", "int64", "uint64", "int8", "uint8"]
    assert [c.init for c in doc.consts] == [("weights", "encoder.layer.0/w"), ("scalar", 0.125), ("scalar", -7),
                                            ("bytes", [33, 15]), ("bytes", [255])]
    split = doc.nodes[1]
    assert split.multi and split.outputs == ["p", "q2"] and split.options == {"splits": [1, 1], "axis": 1}
    assert doc.nodes[2].args == [[Ref("p"), Ref("q2")]]
    assert doc.nodes[3].options["minValue"] == float("-inf")
    ln = doc.nodes[4].options
    assert ln["scale"] is None and ln["flag"] is True and ln["off"] is False and ln["nested"] == [[1, 2], [3]] and ln["s"] == "a b"
    assert (doc.nodes[5].op, doc.nodes[5].args) == ("identity", [Ref("l")])  # `alias = l;`
    assert doc.outputs == ["y", "z", "alias"]
    text = write(doc)
    assert parse(text) == doc and write(parse(text)) == text


def test_numbers_keep_int_or_float_and_exact_values():
    doc = parse('webnn_graph "n" v1 { nodes { y = f(x, a=1, b=1.0, c=-2.5e-3, d=3E+2, e=0.1); } outputs { y; } }')
    options = doc.nodes[0].options
    assert options == {"a": 1, "b": 1.0, "c": -2.5e-3, "d": 300.0, "e": 0.1}
    assert type(options["a"]) is int and type(options["b"]) is float
    assert parse(write(doc)).nodes[0].options == options


@pytest.mark.parametrize("text, line, column, expected", [
    ('webnn_grap "x" v1 {}', 1, 1, "'webnn_graph'"),
    ('webnn_graph x v1 {}', 1, 13, "graph name"),
    ('webnn_graph "x" 1 {}', 1, 17, "version"),
    ('webnn_graph "x" v1 {\n  input { }\n}', 2, 3, "a block (inputs, consts, nodes, outputs)"),
    ('webnn_graph "x" v1 {\n  inputs {\n    x: f64[1];\n  }\n}', 3, 8, "a data type"),
    ('webnn_graph "x" v1 {\n  inputs {\n    x f32[1];\n  }\n}', 3, 7, "':' after 'x'"),
    ('webnn_graph "x" v1 {\n  inputs { x: f32[1, -2]; }\n}', 2, 22, "a dimension"),
    ('webnn_graph "x" v1 {\n  consts { w: f32[2]; }\n}', 2, 21, "@weights"),
    ('webnn_graph "x" v1 {\n  consts { w: f32[2] @weights(1); }\n}', 2, 31, "weights key as a string"),
    ('webnn_graph "x" v1 {\n  consts { w: f32[2] @bytes([1, 256]); }\n}', 2, 29, "0..255"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = relu(x)\n  }\n}', 4, 3, "';' after the relu statement"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = add(x, a=1, z);\n  }\n}', 3, 21, "positional arguments of add come first"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = add(x, a=1, a=2);\n  }\n}', 3, 21, "option 'a' is given twice"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = add(x, [1, 2);\n  }\n}', 3, 21, "',' or ']'"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = add(x, "open);\n  }\n}', 3, 16, "unterminated string"),
    ('webnn_graph "x" v1 {\n  nodes {\n    y = add(x, %);\n  }\n}', 3, 16, "unexpected character '%'"),
    ('webnn_graph "x" v1 {\n  outputs { y; }\n}\nextra', 4, 1, "end of file"),
    ('webnn_graph "x" v1 {\n  outputs { y; }\n', 3, 1, "found end of file"),
])
def test_malformed_text_reports_line_column_and_expectation(text, line, column, expected):
    with pytest.raises(ParseError) as info:
        parse(text, "bad.webnn")
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert expected in str(err) and str(err).startswith(f"bad.webnn:{line}:{column}: ")


def test_deep_nesting_and_wrong_types_are_parse_errors():
    with pytest.raises(ParseError, match="nested deeper"):
        parse('webnn_graph "x" v1 { nodes { y = f(' + "[" * 5000 + "]" * 5000 + "); } }")
    with pytest.raises(ParseError, match="expected text"):
        parse(b"webnn_graph")


def test_writer_refuses_names_the_format_cannot_hold():
    doc = parse(RESNET_HEAD)
    doc.inputs[0].name = "has space"
    with pytest.raises(ValueError, match="not a valid .webnn identifier"):
        write(doc)


SOURCE = string.ascii_letters + string.digits + ' \n\t{}[]();:,=@#"\\.-_/$' + "é\x00"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=SOURCE, max_size=200))
def test_fuzz_any_text_parses_or_raises_parse_error(text):
    try:
        parse(text)
    except ParseError as err:
        assert err.line >= 1 and err.column >= 1


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutations_of_a_valid_file(data):
    text = EVERYTHING
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.text(alphabet=SOURCE, max_size=4)) + text[j:]
    try:
        doc = parse(text)
    except ParseError:
        return
    try:
        again = write(doc)
    except ValueError:  # a mutated name the writer cannot emit is refused, not mangled
        return
    assert parse(again) == doc


def test_json_form_both_ways():
    doc = parse(RESNET_HEAD)
    data = to_json(doc)
    assert data["format"] == "webnn-graph-json" and data["outputs"] == {"probs": "probs"}
    assert data["consts"]["W"] == {"dataType": "float32", "shape": [2048, 1000], "init": {"kind": "weights", "ref": "W"}}
    assert data["nodes"][2] == {"id": "probs", "op": "softmax", "inputs": ["logits"], "options": {"axis": 1}, "outputs": None}
    assert from_json(json.dumps(data)) == doc
    multi = parse(EVERYTHING)
    multi.nodes[2].args = [Ref("p"), Ref("q2")]  # the JSON form holds concat's operands flat
    again = from_json(to_json(multi))
    assert again == multi
    assert again.consts[3].init == ("bytes", [33, 15])


@pytest.mark.parametrize("data, message", [
    ("{", "not JSON"),
    ({"format": "other"}, "'format' must be 'webnn-graph-json'"),
    ({"format": "webnn-graph-json", "version": 1, "inputs": {"x": {"dataType": "float32"}}, "nodes": [], "outputs": {}},
     "input 'x': missing 'shape'"),
    ({"format": "webnn-graph-json", "version": 1, "inputs": {}, "consts": {"w": {"dataType": "float32", "shape": [1],
      "init": {"kind": "magic"}}}, "nodes": [], "outputs": {}}, "init kind must be one of"),
    ({"format": "webnn-graph-json", "version": "1", "inputs": {}, "nodes": [], "outputs": {}}, "'version' must be int"),
])
def test_malformed_json_form(data, message):
    with pytest.raises(ParseError, match=message):
        from_json(data if isinstance(data, str) else json.dumps(data))


def test_json_outputs_with_other_names_become_aliases():
    doc = from_json({"format": "webnn-graph-json", "version": 2, "inputs": {"x": {"dataType": "float32", "shape": [2]}},
                     "nodes": [{"id": "y", "op": "relu", "inputs": ["x"], "options": {}}], "outputs": {"out": "y"}})
    assert doc.outputs == ["out"] and (doc.nodes[-1].op, doc.nodes[-1].args) == ("identity", [Ref("y")])


def test_parse_error_is_a_graph_error():
    assert issubclass(ParseError, GraphError)
