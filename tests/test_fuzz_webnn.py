"""Fault suite, WebNN files: random graphs in the text and JSON forms, mutated manifests and weights files.

Every example either builds or raises one of our errors (no other exception), within 10 s and
256 MiB at the peak; graphs are built with ``max_bytes`` of 64 MiB. Example counts are bounded so CI
stays fast (docs/reliability.md lists them).
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults import bounded, ours_or_nothing
from minilm.webnn.build import to_graph
from minilm.webnn.calls import SUPPORTED
from minilm.webnn.document import Call, Document, Operand, Ref
from minilm.webnn.json_form import from_json, to_json
from minilm.webnn.text import parse, write
from minilm.webnn.weights import read_manifest, read_weights, write_weights

MAX_BYTES = 64 << 20
NAMES = ["x", "y", "w", "c", "z", "t"]
OPS = sorted(SUPPORTED) + ["squeeze", "unsqueeze", "tile", "shape", "constant", "bogus"]
OPTIONS = ["axis", "axes", "newShape", "permutation", "epsilon", "keepDimensions", "starts", "sizes", "strides", "splits",
           "type", "to", "minValue", "maxValue", "scale", "bias", "padding", "dilations", "groups", "ends", "steps", "shape",
           "repetitions", "dataType", "data", "k", "diagonal", "inputLayout", "filterLayout", "outputSizes", "alpha"]
DTYPES = ["float32"] * 4 + ["int32", "int64", "uint8", "float16", "int8", "uint32", "uint64", "int4", "uint4"]
DIM = st.one_of(*[st.integers(1, 4)] * 6, st.just(0), st.sampled_from([1_000_000, 10**12]))
SHAPE = st.lists(DIM, min_size=1, max_size=4) | st.just([])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.sampled_from([10**30, -(10**30)]),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(alphabet="abcf32xy", max_size=4))
LITERAL = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4), max_leaves=10)
BYTES = {"int4": 4, "uint4": 4, "float16": 16, "int8": 8, "uint8": 8, "int32": 32, "uint32": 32, "float32": 32,
         "int64": 64, "uint64": 64}


@st.composite
def documents(draw) -> tuple[Document, dict]:
    """Mostly well-formed declarations (so that nodes get built), with random operations, arguments and
    options; now and then a wrong size, a missing tensor, a huge shape or an unknown name."""
    doc, known, weights = Document(name=draw(st.text(max_size=5))), [], {}
    for name in draw(st.lists(st.sampled_from(["x", "x2", "ids"]), min_size=1, max_size=3, unique=True)):
        dtype = draw(st.sampled_from(DTYPES[:6] + (["int4"] if not draw(st.integers(0, 20)) else [])))
        doc.inputs.append(Operand(name, dtype, draw(SHAPE)))
        known.append(name)
    for name in draw(st.lists(st.sampled_from(["w", "b", "s"]), max_size=3, unique=True)):
        dtype, shape = draw(st.sampled_from(DTYPES)), draw(SHAPE)
        count = math.prod(shape)
        kind = draw(st.sampled_from(["weights", "scalar", "bytes"]))
        if kind == "weights":
            init = ("weights", name)
            if draw(st.integers(0, 5)) and max(shape, default=0) <= 64 and dtype not in ("int4", "uint4"):
                weights[name] = np.ones(shape, dtype)
            elif draw(st.booleans()):  # present, of another shape
                weights[name] = np.ones(draw(st.lists(st.integers(0, 3), max_size=3)), np.float32)
        elif kind == "scalar":
            init = ("scalar", draw(st.one_of(st.integers(-5, 300), st.floats(allow_nan=True), st.sampled_from([10**30]))))
        else:
            size = (count * BYTES[dtype] + 7) // 8 if count <= 64 else 3
            init = ("bytes", draw(st.lists(st.integers(0, 255), min_size=size, max_size=size) if draw(st.integers(0, 5))
                                  else st.lists(st.integers(0, 255), max_size=9)))
        doc.consts.append(Operand(name, dtype, shape, init))
        known.append(name)
    for i in range(draw(st.integers(1, 5))):
        ref = st.sampled_from(known * 8 + ["nowhere"]).map(Ref)
        value = st.one_of(ref, LITERAL, st.lists(ref, min_size=1, max_size=3))
        outputs = [f"n{i}"] if draw(st.integers(0, 6)) else [f"n{i}", f"m{i}"]
        args = draw(st.lists(ref, min_size=1, max_size=2)) + (draw(st.lists(value, max_size=1)) if draw(st.booleans()) else [])
        options = draw(st.dictionaries(st.sampled_from(OPTIONS), value, max_size=3))
        doc.nodes.append(Call(outputs, draw(st.sampled_from(OPS)), args, options, len(outputs) > 1))
        known += outputs
    doc.outputs = draw(st.lists(st.sampled_from(known[-4:]), min_size=1, max_size=2, unique=True))
    return doc, weights


def build(doc: Document, weights: dict, source: str):
    return to_graph(doc, weights or None, source, max_bytes=MAX_BYTES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_random_text_graphs_build_or_raise_ours(case):
    doc, weights = case
    text = write(doc)
    with bounded():
        parsed = ours_or_nothing(parse, text, "fuzz.webnn")
        if parsed is not None:
            ours_or_nothing(build, parsed, weights, "fuzz.webnn")


VALID = """webnn_graph "ok" v1 {
  inputs { x: f32[2, 3]; ids: i32[2]; }
  consts { w: f32[3, 4] @weights("w"); c: u8[2, 3] @scalar(1); k: f32[] @scalar(0.5); }
  nodes {
    y = NODE;
  }
  outputs { y; }
}
"""
NODES = ["relu(x)", "softmax(x, axis=1)", "reshape(x, newShape=[3, 2])", "transpose(x, permutation=[1, 0])",
         "layerNormalization(x, axes=[1], epsilon=1e-5)", "reduceSum(x, axes=[0], keepDimensions=true)",
         "concat([x, x], axis=0)", "slice(x, starts=[0, 1], sizes=[2, 2])", "expand(x, newShape=[4, 2, 3])",
         "gather(x, ids, axis=0)", "cast(x, type=\"int32\")", "matmul(x, w)", "gemm(x, w, alpha=2.0)",
         "clamp(x, minValue=0, maxValue=1)", "where(c, x, x)", "add(x, k)", "triangular(x, upper=false, diagonal=1)",
         "elu(x, alpha=0.5)", "reduceMean(x, axes=[1])", "split(x, splits=[1, 2], axis=1)", "unsqueeze(x, axes=[0])",
         "tile(x, repetitions=[2, 1])", "squeeze(x)"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NODES), st.data())
def test_mutated_valid_graphs_build_and_run_or_raise_ours(node, data):
    """One option or argument of a valid node replaced (or dropped); what builds is also run on the
    NumPy interpreter, whose result is an array or one of our errors."""
    from minilm.runtime import make_executor
    doc = parse(VALID.replace("NODE", node), "ok.webnn")
    call = doc.nodes[0]
    change = data.draw(st.sampled_from(["option", "drop", "arg", "none"]))
    if change == "option" and call.options:
        call.options[data.draw(st.sampled_from(sorted(call.options)))] = data.draw(LITERAL)
    elif change == "drop" and call.options:
        del call.options[data.draw(st.sampled_from(sorted(call.options)))]
    elif change == "arg":
        i = data.draw(st.integers(0, len(call.args) - 1))
        call.args[i] = data.draw(st.one_of(st.sampled_from(["x", "ids", "w", "c", "k"]).map(Ref), LITERAL))
    if call.op == "split":
        call.multi, call.outputs = True, ["y", "y2"]
    weights = {"w": np.arange(12, dtype=np.float32).reshape(3, 4)}
    with bounded():
        graph = ours_or_nothing(build, doc, weights, "ok.webnn")
        if graph is not None:
            feeds = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([1, 0], np.int32)}
            feeds = {k: v for k, v in feeds.items() if k in graph.inputs}
            ours_or_nothing(lambda: make_executor("numpy", graph).run(feeds))


def mutate(data, value, draw):
    """``value`` with one node of its JSON tree replaced by a random JSON value."""
    if isinstance(value, (dict, list)) and value and draw(st.integers(0, 3)):
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = mutate(data, value[key], draw)
        return copy
    json_value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2, 10**13), st.floats(allow_nan=False),
                                        st.text(max_size=4)),
                              lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                              max_leaves=6)
    return draw(json_value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.data())
def test_mutated_json_graphs_build_or_raise_ours(case, data):
    doc, weights = case
    try:
        tree = to_json(doc)
    except ValueError:  # a positional literal the JSON form cannot hold
        return
    for _ in range(data.draw(st.integers(1, 3))):
        tree = mutate(data, tree, data.draw)
    with bounded():
        parsed = ours_or_nothing(from_json, json.dumps(tree), "fuzz.json")
        if parsed is not None:
            ours_or_nothing(build, parsed, weights, "fuzz.json")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_manifests_and_weights_read_or_raise_ours(tmp_path, data):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=np.int64), "c": np.zeros(0, np.uint8)}
    weights, manifest = tmp_path / "m.weights", tmp_path / "manifest.json"
    write_weights(arrays, weights, manifest)
    tree = json.loads(manifest.read_text())
    for _ in range(data.draw(st.integers(0, 3))):
        tree = mutate(data, tree, data.draw)
    manifest.write_text(json.dumps(tree))
    raw = bytearray(weights.read_bytes())
    for _ in range(data.draw(st.integers(0, 3))):  # flip, cut or extend the weights file
        action = data.draw(st.sampled_from(["flip", "cut", "extend", "version"]))
        if action == "flip" and raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            raw = raw[:data.draw(st.integers(0, len(raw)))]
        elif action == "extend":
            raw += data.draw(st.binary(max_size=16))
        elif len(raw) >= 8:
            raw[4:8] = struct.pack("<I", data.draw(st.integers(0, 2**32 - 1)))
    weights.write_bytes(bytes(raw))
    with bounded():
        entries = ours_or_nothing(read_manifest, manifest)
        if entries is not None:
            ours_or_nothing(read_weights, weights, entries)
