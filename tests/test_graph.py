"""The graph IR: shape inference, validation errors, symbolic dims, and executor agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minilm.errors import BackendError, GraphError
from minilm.graph import GraphBuilder
from minilm.runtime import make_executor
from minilm.runtime.kernels import erf, gelu


def test_matmul_shape_error_names_op_and_both_shapes():
    g = GraphBuilder()
    a = g.input("a", "float32", ["batch", 3, 4])
    b = g.constant(np.zeros((5, 6), np.float32))
    with pytest.raises(GraphError, match=r"matmul: inner dimensions differ: \[batch, 3, 4\] @ \[5, 6\]"):
        g.matmul(a, b)


def test_broadcast_error_names_op_and_shapes():
    g = GraphBuilder()
    a = g.input("a", "float32", [2, 3])
    b = g.constant(np.zeros((4,), np.float32))
    with pytest.raises(GraphError, match=r"add: shapes \[2, 3\] and \[4\] do not broadcast"):
        g.add(a, b)


def test_dtype_mismatch_and_unknown_op():
    g = GraphBuilder()
    a = g.input("a", "float32", [2])
    i = g.input("i", "int64", [2])
    with pytest.raises(GraphError, match="share one data type"):
        g.mul(a, i)
    with pytest.raises(GraphError, match="unknown operation 'frobnicate'; supported: .*matmul"):
        g._node("frobnicate", [a])


def test_reshape_checks_element_count_with_symbols():
    g = GraphBuilder()
    x = g.input("x", "float32", ["batch", "sequence", 8])
    assert g.reshape(x, ["batch", "sequence", 2, 4]).shape == ("batch", "sequence", 2, 4)
    with pytest.raises(GraphError, match="reshape: cannot reshape"):
        g.reshape(x, ["batch", 2, 4])
    with pytest.raises(GraphError, match="reshape: cannot reshape"):
        g.reshape(x, ["batch", "sequence", 3, 3])


def test_symbolic_shape_inference():
    g = GraphBuilder()
    x = g.input("x", "float32", ["batch", "sequence", 8])
    w = g.constant(np.zeros((8, 16), np.float32))
    y = g.matmul(x, w)
    assert y.shape == ("batch", "sequence", 16)
    assert g.reduceSum(y, axes=[1]).shape == ("batch", 16)
    assert g.reduceSum(y, axes=[1], keepDimensions=True).shape == ("batch", 1, 16)
    assert g.transpose(y, [2, 0, 1]).shape == (16, "batch", "sequence")
    idx = g.constant(np.int64(0), "int64")
    assert g.gather(y, idx, axis=1).shape == ("batch", 16)
    with pytest.raises(GraphError, match="axis 3 is out of range"):
        g.softmax(y, axis=3)


def test_erf_and_gelu_match_math():
    x = np.linspace(-6, 6, 2001, dtype=np.float32)
    expected = np.array([math.erf(float(v)) for v in x])
    assert np.abs(erf(x) - expected).max() < 2e-7
    ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    assert np.abs(gelu(x) - ref).max() < 1e-6


def _random_graph():
    """A small graph touching most ops, with symbolic dims, run by both executors."""
    g = GraphBuilder("mix")
    x = g.input("x", "float32", ["batch", "sequence", 6])
    m = g.input("m", "int64", ["batch", "sequence"])
    rng = np.random.default_rng(0)
    w = g.constant(rng.normal(size=(6, 6)).astype(np.float32), name="w")
    pos = g.constant(rng.normal(size=(10, 6)).astype(np.float32), name="pos")
    h = g.add(g.matmul(x, g.transpose(w)), g.slice(pos, [0, 0], ["sequence", 6]))
    h = g.layerNormalization(h, g.constant(np.ones(6, np.float32)), g.constant(np.zeros(6, np.float32)), epsilon=1e-6)
    h = g.gelu(g.tanh(h))
    mf = g.reshape(g.cast(m, "float32"), ["batch", "sequence", 1])
    s = g.softmax(g.reshape(g.mul(h, mf), ["batch", "sequence", 2, 3]), axis=3)
    s = g.reshape(g.transpose(s, [0, 1, 3, 2]), ["batch", "sequence", 6])
    mx = g.reduceMax(g.where(g.greater(mf, g.constant(np.float32(0))), s, g.constant(np.float32(-1e9))), axes=[1])
    mean = g.div(g.reduceSum(g.mul(s, mf), axes=[1]), g.clamp(g.reduceSum(mf, axes=[1]), minValue=1e-9))
    cat = g.concat([mx, mean], axis=1)
    out = g.sqrt(g.pow(g.sub(cat, g.constant(np.float32(0.5))), g.constant(np.float32(2))))
    cls = g.gather(h, g.constant(np.int64(0), "int64"), axis=1)
    return g.build({"out": out, "cls": g.erf(cls), "reduced": g.reduceMean(g.expand(cls, ["batch", 6]), axes=[0])})


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (2, 10)])
def test_executors_agree_on_random_graph(shape):
    graph = _random_graph()
    rng = np.random.default_rng(1)
    feeds = {"x": rng.normal(size=shape + (6,)).astype(np.float32), "m": np.ones(shape, np.int64)}
    feeds["m"][:, shape[1] // 2 + 1:] = 0
    ref = make_executor("numpy", graph).run(feeds)
    got = make_executor("onnxruntime", graph, threads=1).run(feeds)
    for name in ("out", "cls", "reduced"):
        assert ref[name].shape == got[name].shape
        np.testing.assert_allclose(got[name], ref[name], atol=2e-5, rtol=1e-4)


def test_pruned_graph_keeps_only_what_outputs_need():
    graph = _random_graph().pruned(["cls"])
    assert set(graph.inputs) == {"x"}
    assert "m" not in graph.operands


def test_feeds_are_checked():
    graph = _random_graph()
    ex = make_executor("numpy", graph)
    with pytest.raises(BackendError, match="missing input 'm'"):
        ex.run({"x": np.zeros((1, 2, 6), np.float32)})
    with pytest.raises(BackendError, match="input 'x' must be float32"):
        ex.run({"x": np.zeros((1, 2, 6), np.float64), "m": np.ones((1, 2), np.int64)})
    with pytest.raises(BackendError, match="dimension 'sequence' is 3 here but 2"):
        ex.run({"x": np.zeros((1, 2, 6), np.float32), "m": np.ones((1, 3), np.int64)})
