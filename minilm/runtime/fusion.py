"""Composite lowering for ONNX Runtime: BERT's attention block as one ONNX Runtime contrib op (domain
com.microsoft), found by pattern in the plain WebNN graph.

The WebNN graph stays as models/bert.py writes it; only its ONNX form changes:

- attention: ``reshape(transpose(matmul(softmax(add(mul(matmul(q, transpose(k)), scale), mask)), v)))``
  with q, k, v = ``transpose(reshape(add(matmul(x, transpose(W)), b)))`` and mask the additive form
  of an int attention_mask input  ->  one ``Attention(x, [Wq|Wk|Wv], [bq|bk|bv], mask)``: one packed
  QKV GEMM, then per-head scores, softmax and context inside ORT's kernel.
- the weights of the other linears are transposed once, here, so their MatMuls read a constant.

The residual layer norms stay ``Add`` + ``Add`` + ``LayerNormalization``: ONNX Runtime 1.32's
``SkipLayerNormalization`` CPU kernel measured 3.4x slower than those three (ORT profiler, 1 thread, 1,500
short texts: 0.61 s against 0.18 s of ~5 s of kernel time; the whole model 8-9% faster without it,
short and long texts, 2 threads; docs/notes/performance.md).

A pattern that does not match exactly is left to the plain lowering, so any graph still lowers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..graph import Graph, Node

MS = "com.microsoft"


@dataclass
class Plan:
    """Node index -> emitter replacing it; indices of nodes the fused ops make unnecessary."""

    emit: dict[int, Callable] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)


class _Matcher:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.producer = {o: i for i, n in enumerate(graph.nodes) for o in n.outputs}
        self.uses: dict[str, int] = {}
        for n in graph.nodes:
            for name in n.inputs:
                self.uses[name] = self.uses.get(name, 0) + 1
        for name in graph.outputs.values():
            self.uses[name] = self.uses.get(name, 0) + 1

    def node(self, operand: str, op: str, private: bool = True) -> tuple[int, Node] | None:
        """The node producing ``operand`` if it is an ``op`` (and, if ``private``, its only use)."""
        i = self.producer.get(operand)
        if i is None or self.graph.nodes[i].op != op or (private and self.uses.get(operand, 0) != 1):
            return None
        return i, self.graph.nodes[i]

    def const(self, operand: str) -> np.ndarray | None:
        return self.graph.constants.get(operand)

    def linear(self, operand: str, used: list[int]):
        """``add(matmul(x, transpose(W)), b)`` with constant W (out, in) and b -> (x, W, b)."""
        add = self.node(operand, "add")
        if not add:
            return None
        for mm_name, b_name in (add[1].inputs, add[1].inputs[::-1]):
            mm, b = self.node(mm_name, "matmul"), self.const(b_name)
            if not mm or b is None or b.ndim != 1:
                continue
            tr = self.node(mm[1].inputs[1], "transpose")
            w = self.const(tr[1].inputs[0]) if tr else None
            if w is None or w.ndim != 2 or tr[1].attributes.get("permutation") not in (None, [1, 0]):
                continue
            used += [add[0], mm[0], tr[0]]
            return mm[1].inputs[0], w, b, tr[1].inputs[0]
        return None

    def heads(self, operand: str, perm: list[int], used: list[int]):
        """``transpose(reshape(linear, [B, T, H, Dh]), perm)`` -> (x, W, b, H)."""
        tr = self.node(operand, "transpose")
        if not tr or list(tr[1].attributes.get("permutation") or []) != perm:
            return None
        rs = self.node(tr[1].inputs[0], "reshape")
        if not rs or len(rs[1].attributes["newShape"]) != 4:
            return None
        lin = self.linear(rs[1].inputs[0], used)
        if not lin:
            return None
        used += [tr[0], rs[0]]
        return (*lin[:3], rs[1].attributes["newShape"][2], lin[3])

    def mask(self, operand: str):
        """``reshape(mul(sub(1, cast(m)), fill), [B, 1, 1, T])`` of an int input m -> (m, fill)."""
        rs = self.node(operand, "reshape", private=False)
        if not rs or list(rs[1].attributes["newShape"][1:3]) != [1, 1]:
            return None
        mul = self.node(rs[1].inputs[0], "mul", private=False)
        if not mul:
            return None
        for sub_name, fill_name in (mul[1].inputs, mul[1].inputs[::-1]):
            sub, fill = self.node(sub_name, "sub", private=False), self.const(fill_name)
            one = self.const(sub[1].inputs[0]) if sub else None
            if fill is None or fill.size != 1 or one is None or one.size != 1 or float(one) != 1.0:
                continue
            cast = self.node(sub[1].inputs[1], "cast", private=False)
            if cast and cast[1].inputs[0] in self.graph.inputs and self.graph.operands[cast[1].inputs[0]].rank == 2:
                return cast[1].inputs[0], float(fill)
        return None


def _attention(m: _Matcher, i: int, plan: Plan) -> None:
    """Anchor: the reshape giving the (B, T, D) context."""
    used = [i]
    tr = m.node(m.graph.nodes[i].inputs[0], "transpose")
    ctx = tr and list(tr[1].attributes.get("permutation") or []) == [0, 2, 1, 3] and m.node(tr[1].inputs[0], "matmul")
    probs = ctx and m.node(ctx[1].inputs[0], "softmax")
    if not probs or probs[1].attributes["axis"] not in (3, -1):
        return
    used += [tr[0], ctx[0], probs[0]]
    masked = m.node(probs[1].inputs[0], "add")
    if not masked:
        return
    scaled, mask_name = masked[1].inputs
    mul = m.node(scaled, "mul")
    if not mul:
        return
    scores_name, scale_name = mul[1].inputs if m.const(mul[1].inputs[1]) is not None else mul[1].inputs[::-1]
    scale, scores = m.const(scale_name), m.node(scores_name, "matmul")
    mask = m.mask(mask_name)
    kt = scores and m.node(scores[1].inputs[1], "transpose")
    if scale is None or scale.size != 1 or not mask or not kt or list(kt[1].attributes.get("permutation") or []) != [0, 1, 3, 2]:
        return
    used += [masked[0], mul[0], scores[0], kt[0]]
    q = m.heads(scores[1].inputs[0], [0, 2, 1, 3], used)
    k = m.heads(kt[1].inputs[0], [0, 2, 1, 3], used)
    v = m.heads(ctx[1].inputs[1], [0, 2, 1, 3], used)
    if not (q and k and v) or not q[0] == k[0] == v[0] or not q[3] == k[3] == v[3]:
        return
    weights = np.concatenate([q[1].T, k[1].T, v[1].T], axis=1).astype(np.float32)  # (D, 3D)
    bias = np.concatenate([q[2], k[2], v[2]]).astype(np.float32)                    # (3D,)
    x, heads, out = q[0], int(q[3]), m.graph.nodes[i].outputs[0]
    source, fill = mask
    name = q[4].rsplit(".query", 1)[0]  # encoder.layer.3.attention.self

    def emit(low):
        index = low.shared(("mask_index", source), lambda: low.emit("Cast", [source], to=6))  # int32 (B, T)
        low.emit("Attention", [low.name(x), low.const(weights, "qkv_w"), low.const(bias, "qkv_b"), index],
                 [low.name(out)], domain=MS, num_heads=heads, scale=float(scale), mask_filter_value=fill, name=name)
    plan.emit[i] = emit
    plan.skip.update(u for u in used if u != i)


def transposed(low, name: str, w: np.ndarray) -> str:
    """The initializer ``name + ".T"``, W (out, in) stored as (in, out) for MatMul, added once."""
    def make():
        from onnx import numpy_helper
        low.initializers.append(numpy_helper.from_array(np.ascontiguousarray(w.T), name + ".T"))
        return name + ".T"
    return low.shared(("transposed", name), make)


def _weight_transpose(m: _Matcher, i: int, plan: Plan) -> None:
    """Anchor: transpose of a 2-D constant (a linear's weight): folded here, so MatMuls read a constant
    (what onnxruntime.quantization needs) named after the checkpoint tensor."""
    n = m.graph.nodes[i]
    w = m.const(n.inputs[0])
    if w is not None and w.ndim == 2 and n.attributes.get("permutation") in (None, [1, 0]):
        plan.emit[i] = lambda low: low.aliases.__setitem__(n.outputs[0], transposed(low, n.inputs[0], w))


def plan(graph: Graph) -> Plan:
    """Every attention block of ``graph`` that matches, with what replaces it."""
    m, found = _Matcher(graph), Plan()
    for i, n in enumerate(graph.nodes):
        if n.op == "reshape" and i not in found.skip:
            _attention(m, i, found)
    for i, n in enumerate(graph.nodes):  # weights of the linears left unfused
        if n.op == "transpose" and i not in found.skip:
            _weight_transpose(m, i, found)
    return found


def prune(nodes: list, initializers: list, outputs: list[str]) -> tuple[list, list]:
    """Drop ONNX nodes and initializers that no output needs (what fusion left behind); name each
    MatMul of a weight after its checkpoint tensor (so quantisation can exclude it by name)."""
    needed, kept = set(outputs), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
            if node.op_type == "MatMul" and not node.name and node.input[1].endswith(".weight.T"):
                node.name = node.input[1][:-len(".weight.T")]
    return kept[::-1], [t for t in initializers if t.name in needed]
