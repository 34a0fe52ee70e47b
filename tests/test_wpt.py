"""The W3C WebNN conformance cases (../shared/webnn-wpt) on our executors.

Each case is built through ``minilm.webnn.calls.call`` (the path a ``.webnn`` file takes), written
to ``.webnn`` text and parsed back, then run.

Tolerances (upstream states them in ULPs per operator; we use the README's advice):
- float32: rtol 1e-5 + atol 1e-6 for element-wise ops; rtol 1e-4 + atol 1e-5 for accumulating ops
  (matmul, conv, reductions, normalizations, softmax) whose summation order differs from upstream's;
- float16: rtol 1e-3 + atol 1e-3 (we compute float16 in float32 and round once; upstream's
  expectations were computed in higher precision, so a couple of half-ULPs of difference is normal);
- integers and uint8 booleans: exact.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from minilm.graph import GraphBuilder
from minilm.graph.ir import DTYPES
from minilm.runtime import make_executor
from minilm.webnn.build import from_graph, to_graph
from minilm.webnn.calls import call
from minilm.webnn.text import parse, write

WPT = Path(os.environ.get("MINILM_WPT", Path(__file__).resolve().parents[2] / "shared" / "webnn-wpt"))
ACCUMULATING = ("matmul", "conv", "reduce", "Normalization", "softmax")


def _cases():
    if not WPT.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no WPT cases at {WPT} (set MINILM_WPT)"))]
    params = []
    for path in sorted(WPT.glob("*.json")):
        for i, case in enumerate(json.loads(path.read_text())["tests"]):
            params.append(pytest.param(case, id=f"{path.stem}-{i}"))
    return params


CASES = _cases()


NUMBER = re.compile(r"-?\d+n|-?Infinity|NaN")


def _number(v):
    if isinstance(v, str):  # JavaScript BigInt ("-100n") and non-finite floats ("NaN", "Infinity")
        return int(v[:-1]) if v.endswith("n") else float(v)
    return v


def _array(spec) -> np.ndarray:
    d = spec["descriptor"]
    data = spec["data"]
    data = [_number(v) for v in data] if isinstance(data, list) else _number(data)
    return np.broadcast_to(np.asarray(data, dtype=DTYPES[d["dataType"]]), d["shape"]).copy() \
        if np.ndim(data) == 0 else np.asarray(data, dtype=DTYPES[d["dataType"]]).reshape(d["shape"])


def build(case):
    g = GraphBuilder("wpt")
    graph, operands, feeds = case["graph"], {}, {}
    for name, spec in graph["inputs"].items():
        value = _array(spec)
        if spec.get("constant"):
            operands[name] = g.constant(value, name=name)
        else:
            operands[name] = g.input(name, spec["descriptor"]["dataType"], value.shape)
            feeds[name] = value
    def resolve(v):
        if isinstance(v, str):
            return operands[v] if v in operands else _number(v) if NUMBER.fullmatch(v) else v
        return [resolve(x) for x in v] if isinstance(v, list) else v

    for op in graph["operators"]:
        args, options = [], {}
        for argument in op["arguments"]:
            (key, value), = argument.items()
            if key == "options":
                options = {k: resolve(v) for k, v in value.items()}
            else:
                args.append(resolve(value))
        outputs = op["outputs"] if isinstance(op["outputs"], list) else [op["outputs"]]
        operands.update(zip(outputs, call(g, op["name"], args, options, outputs=outputs)))
    return g.build({k: operands[k] for k in graph["expectedOutputs"]}), feeds


def _ops(case) -> set[str]:
    return {op["name"] for op in case["graph"]["operators"]}


def check(case, results):
    for name, spec in case["graph"]["expectedOutputs"].items():
        expected, got = _array(spec), results[name]
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        if expected.dtype.kind != "f":
            np.testing.assert_array_equal(got, expected, err_msg=case["name"])
        elif expected.dtype == np.float16:
            np.testing.assert_allclose(got.astype(np.float32), expected.astype(np.float32), rtol=1e-3, atol=1e-3,
                                       err_msg=case["name"])
        else:
            loose = any(k in op for op in _ops(case) for k in ACCUMULATING)
            np.testing.assert_allclose(got, expected, rtol=1e-4 if loose else 1e-5, atol=1e-5 if loose else 1e-6,
                                       err_msg=case["name"])


@pytest.mark.parametrize("case", CASES)
def test_wpt_numpy(case):
    graph, feeds = build(case)
    doc, arrays = from_graph(graph)
    again = to_graph(parse(write(doc)), arrays)  # through the text format and back
    renamed = dict(zip(again.inputs, feeds.values()))  # the writer makes odd names into identifiers
    check(case, make_executor("numpy", again).run(renamed))


@pytest.mark.parametrize("case", CASES)
def test_wpt_onnxruntime(case):
    graph, feeds = build(case)
    check(case, make_executor("onnxruntime", graph).run(feeds))
