"""WebNN calls in .webnn text: the W3C IDL names, the converter's extra ops, gemm, multi-output split, errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from minilm.errors import GraphError
from minilm.runtime import make_executor
from minilm.webnn.build import from_graph, to_graph
from minilm.webnn.text import parse, write

IDL = """webnn_graph "idl" v1 {
  inputs { x: f32[2, 3]; idx: i32[2]; }
  consts { w: f32[3, 4] @bytes(W); c: f32[4] @scalar(0.5); }
  nodes {
    r = reshape(x, newShape=[3, 2]);
    t = transpose(r, permutation=[1, 0]);
    i = cast(t, type="int32");
    f = cast(i, type="float32");
    s = slice(f, starts=[0, 1], sizes=[2, 2]);
    [a, b] = split(x, splits=[1, 2], axis=1);
    k = concat([b, a], axis=1);
    g = gather(k, idx, axis=0);
    m = gemm(g, w, c=c, alpha=2.0, beta=3.0);
    mt = gemm(w, g, aTranspose=true, bTranspose=true);
  }
  outputs { s; g; m; mt; }
}
"""


def _w() -> np.ndarray:
    return (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 4


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_idl_names_split_and_gemm(backend):
    w = _w()
    text = IDL.replace("W", "[" + ", ".join(str(b) for b in w.tobytes()) + "]")
    graph = to_graph(parse(text))
    x = np.array([[1.5, -2.7, 3.2], [0.4, 5.9, -6.1]], np.float32)
    idx = np.array([1, 0], np.int32)
    out = make_executor(backend, graph).run({"x": x, "idx": idx})
    np.testing.assert_array_equal(out["s"], x.reshape(3, 2).T.astype(np.int32).astype(np.float32)[:, 1:3])
    k = np.concatenate([x[:, 1:], x[:, :1]], axis=1)
    np.testing.assert_array_equal(out["g"], k[[1, 0]])
    np.testing.assert_allclose(out["m"], 2 * (k[[1, 0]] @ w) + 1.5, rtol=1e-6)
    np.testing.assert_allclose(out["mt"], (w.T @ k[[1, 0]].T), rtol=1e-6)
    doc, arrays = from_graph(graph)  # written back with the IDL names, it reads to the same graph
    again = write(doc)
    assert "newShape=" in again and "[a, b] = split(x, splits=[1, 2], axis=1);" in again and "aTranspose=true" in again
    np.testing.assert_array_equal(make_executor(backend, to_graph(parse(again), arrays)).run({"x": x, "idx": idx})["m"],
                                  out["m"])


CONVERTER = """webnn_graph "converted" v1 {
  inputs { x: f32[2, 3]; }
  consts { }
  nodes {
    u = unsqueeze(x, axes=[0]);
    q = squeeze(u, axes=[0]);
    t = tile(q, repetitions=[2, 1]);
    n = shape(t);
    z = constant(dataType="float32", shape=[3], data="DATA");
    y = add(t, z);
    lo = triangular(y, upper=false, k=0);
    e = expand(z, shape=[2, 3]);
    p = slice(y, starts=[-2, 1], ends=[9223372036854775807, 3], axes=[0, 1], steps=[1, 2]);
    at = constant(dataType="Int64", shape=[2, 1], data="AT");
    rows = constant(dataType="Float32", shape=[2, 3], data="ROWS");
    sc = scatterND(y, at, rows);
    co = cos(x);
    si = sin(x);
    trig = add(co, si);
  }
  outputs { u; n; lo; e; p; sc; trig; }
}
"""


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_converter_extra_ops(backend):
    z = np.array([10, 20, 30], np.float32)
    at, rows = np.array([[3], [0]], np.int64), -np.ones((2, 3), np.float32)
    encode = lambda a: base64.b64encode(a.tobytes()).decode()  # noqa: E731
    graph = to_graph(parse(CONVERTER.replace("DATA", encode(z)).replace("AT", encode(at)).replace("ROWS", encode(rows))))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = make_executor(backend, graph).run({"x": x})
    y = np.tile(x, (2, 1)) + z
    assert out["u"].shape == (1, 2, 3)
    np.testing.assert_array_equal(out["n"], [4, 3])
    np.testing.assert_array_equal(out["lo"], np.tril(y))
    np.testing.assert_array_equal(out["e"], np.broadcast_to(z, (2, 3)))
    np.testing.assert_array_equal(out["p"], y[-2:, 1:3:2])
    expected = y.copy()
    expected[[3, 0]] = rows
    np.testing.assert_array_equal(out["sc"], expected)
    np.testing.assert_allclose(out["trig"], np.cos(x) + np.sin(x), rtol=1e-6)


@pytest.mark.parametrize("line, message", [
    ("y = frob(x);", "unknown operation 'frob'; supported: .*abs.*conv2d"),
    ("y = reshape(x);", "reshape: missing argument 'newShape'"),
    ("y = reshape(x, [6], newShape=[6]);", "'newShape' is given both by position and by name"),
    ("y = relu(x, x);", "relu takes 1 positional arguments"),
    ("y = transpose(3);", "argument 'input' must be an operand"),
    ("y = layerNormalization(x, scale=1.0);", "option 'scale' must be an operand"),
    ("y = softmax(x, axis=x);", "'axis' must be a literal"),
    ("y = cast(x, to=\"Complex\");", "unknown data type 'Complex'"),
    ("y = split(x, splits=4, axis=1);", "3 elements on axis 1 do not split into 4 equal parts"),
    ("[y, z] = relu(x);", "relu gives 1 outputs, 2 names were given"),
    ("y = gemm(x, x);", "inner dimensions differ"),
])
def test_bad_calls_name_the_node_and_say_why(line, message):
    text = f'webnn_graph "g" v1 {{\n  inputs {{ x: f32[2, 3]; }}\n  nodes {{\n    {line}\n  }}\n  outputs {{ y; }}\n}}\n'
    with pytest.raises(GraphError, match=message):
        to_graph(parse(text), source="g.webnn")
