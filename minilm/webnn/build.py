"""Document <-> Graph: ``to_graph`` builds a checked Graph from a parsed file and its weights;
``from_graph`` turns any Graph into a Document and the arrays for its ``.weights`` file."""

from __future__ import annotations

import re
from math import prod
from typing import Mapping

import numpy as np

from ..errors import CheckpointError, GraphError
from ..graph import Graph, GraphBuilder
from ..graph.ir import Node
from ..graph.limits import DEFAULT_MAX_BYTES, Budget, check
from .calls import call, describe
from .document import Call, Document, Operand, Ref, byte_length
from .text import IDENT, KEYWORDS
from .weights import NUMPY, unpack


# what an operation given bad arguments raises before a check of ours catches it (the dialect's
# translations, mostly): the file is at fault, so it is a GraphError naming the node
BAD_ARGUMENTS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError)


def _at(source: str, item) -> str:
    """Where ``item`` is: ``file:line:column`` (text form) or ``file: nodes[3]`` (JSON form)."""
    if getattr(item, "line", 0):
        return f"{source}:{item.line}:{item.column}"
    return f"{source}: {item.path}" if getattr(item, "path", "") else source


def _constant(decl: Operand, weights: Mapping[str, np.ndarray] | None, source: str, budget: Budget) -> np.ndarray:
    kind, value = decl.init
    where = f"{_at(source, decl)}: constant {decl.name!r}"
    if not all(isinstance(d, int) for d in decl.shape):
        raise GraphError(f"{where}: a constant's shape must be static, got {decl.shape}")
    if prod(d for d in decl.shape if d) >= 1 << 56:  # NumPy cannot shape it, even with no element ([0, 1e12, 1e12])
        raise GraphError(f"{where}: shape {decl.shape} is too large for an array")
    if kind != "weights":  # filled here: counted first (a memory-mapped .weights tensor is not)
        try:
            budget.add(decl.name, decl.dtype, decl.shape, "constant")
        except GraphError as exc:
            raise GraphError(f"{_at(source, decl)}: {exc}") from exc
    if kind == "scalar":
        target = np.dtype(np.int8 if decl.dtype == "int4" else np.uint8 if decl.dtype == "uint4" else NUMPY[decl.dtype])
        low, high = {"int4": (-8, 7), "uint4": (0, 15)}.get(decl.dtype) or (
            (np.iinfo(target).min, np.iinfo(target).max) if target.kind in "iu" else (-np.inf, np.inf))
        if target.kind in "iu" and not (low <= value <= high):  # NaN (no comparison holds), 1e30 or 300 into uint8
            raise GraphError(f"{where}: @scalar({value!r}) is not a {decl.dtype} value ({low} to {high})")
        return np.full(decl.shape, value, dtype=target)
    if kind == "bytes":
        expected = byte_length(decl.dtype, decl.shape)
        if len(value) != expected:
            raise CheckpointError(f"{where}: @bytes has {len(value)} bytes, {decl.dtype}{decl.shape} needs {expected}")
        raw = np.frombuffer(bytes(value), dtype=NUMPY[decl.dtype])
        return unpack(raw, decl.dtype, decl.shape)
    if weights is None:
        raise CheckpointError(f"{where} uses @weights({value!r}) but no .weights file / manifest was given")
    if value not in weights:
        raise CheckpointError(f"{where} uses @weights({value!r}), which the manifest does not list")
    array = weights[value]
    want = {"int4": "int8", "uint4": "uint8"}.get(decl.dtype, decl.dtype)
    if list(array.shape) != list(decl.shape) or array.dtype != np.dtype(NUMPY[want]).newbyteorder("="):
        raise CheckpointError(f"{where}: declared {decl.dtype}{decl.shape}, but weights {value!r} are "
                              f"{array.dtype}{list(array.shape)} in the manifest")
    return array


def _resolve(value, operands: dict, source: str):
    if isinstance(value, Ref):
        if value.name not in operands:
            raise GraphError(f"{_at(source, value)}: unknown operand {value.name!r} "
                             "(not an input, a constant or an output of an earlier node)")
        return operands[value.name]
    if isinstance(value, list):
        return [_resolve(v, operands, source) for v in value]
    return value


def to_graph(doc: Document, weights: Mapping[str, np.ndarray] | None = None, source: str = "<text>",
             max_bytes: int | None = DEFAULT_MAX_BYTES) -> Graph:
    """The checked Graph of a Document; its operands may take ``max_bytes`` in all (None: no limit;
    minilm.graph.limits), counted before anything is allocated."""
    budget = Budget(max_bytes)  # the constants filled here; limits.check adds the rest once the shapes are known
    g = GraphBuilder(doc.name)
    operands: dict = {}
    places = {decl.name: f"{_at(source, decl)}: " for decl in doc.inputs}
    for decl in doc.inputs + doc.consts:
        if decl.name in operands:
            raise GraphError(f"{_at(source, decl)}: {decl.name!r} is declared twice")
    for decl in doc.inputs:
        if decl.dtype in ("int4", "uint4"):
            raise GraphError(f"{_at(source, decl)}: input {decl.name!r} is {decl.dtype}; "
                             "graph inputs must be a byte-sized type (int4 is for constants)")
        operands[decl.name] = g.input(decl.name, decl.dtype, decl.shape)
    for decl in doc.consts:
        operands[decl.name] = g.constant(_constant(decl, weights, source, budget), name=decl.name)
    for node in doc.nodes:
        clash = [o for o in node.outputs if o in operands]
        if clash:
            raise GraphError(f"{_at(source, node)}: {clash[0]!r} is already defined; each name is assigned once")
        args = [_resolve(a, operands, source) for a in node.args]
        options = {k: _resolve(v, operands, source) for k, v in node.options.items()}
        try:
            results = call(g, node.op, args, options, outputs=list(node.outputs))
        except GraphError as exc:
            raise GraphError(f"{_at(source, node)}: node {node.outputs[0]!r}: {exc}") from exc
        except BAD_ARGUMENTS as exc:
            raise GraphError(f"{_at(source, node)}: node {node.outputs[0]!r}: {node.op}: bad arguments "
                             f"({type(exc).__name__}: {exc})") from exc
        if len(results) != len(node.outputs):
            raise GraphError(f"{_at(source, node)}: {node.op} gives {len(results)} outputs, "
                             f"{len(node.outputs)} names were given")
        operands.update(zip(node.outputs, results))
        places.update((r.name, f"{_at(source, node)}: node {node.outputs[0]!r}: ") for r in results)
    missing = [o for o in doc.outputs if o not in operands]
    if missing:
        raise GraphError(f"{source}: output {missing[0]!r} is not an operand of the graph")
    if not doc.outputs:
        raise GraphError(f"{source}: the graph declares no outputs")
    graph = g.build({o: operands[o] for o in doc.outputs})
    check(graph, max_bytes, held=budget.held, where=lambda name: places.get(name, f"{source}: "))
    return graph


def _names(graph: Graph) -> dict[str, str]:
    """Operand name -> a valid, unique .webnn identifier."""
    taken, out = set(), {}
    for name in graph.operands:
        new = name if IDENT.match(name) and name not in KEYWORDS else re.sub(r"[^A-Za-z0-9_./]", "_", name)
        if not IDENT.match(new) or new in KEYWORDS:
            new = "_" + new
        base, i = new, 1
        while new in taken:
            new, i = f"{base}_{i}", i + 1
        taken.add(new)
        out[name] = new
    return out


def _refs(value, node: Node, names: dict[str, str]):
    if isinstance(value, str) and value in node.inputs:
        return Ref(names[value])
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v in node.inputs for v in value):
        return [Ref(names[v]) for v in value]
    return list(value) if isinstance(value, tuple) else value


def from_graph(graph: Graph, name: str | None = None) -> tuple[Document, dict[str, np.ndarray]]:
    """The Document for ``graph`` and the arrays its ``@weights`` keys name (0-d constants are @scalar)."""
    names = _names(graph)
    doc = Document(name=name or graph.name)
    doc.inputs = [Operand(names[o.name], o.dtype, list(o.shape)) for o in graph.inputs.values()]
    arrays = {}
    for key, array in graph.constants.items():
        operand = graph.operands[key]
        if array.ndim == 0 and array.dtype.kind in "fiu":
            init = ("scalar", array.item())
        else:
            init = ("weights", key)
            arrays[key] = array
        doc.consts.append(Operand(names[key], operand.dtype, list(operand.shape), init))
    for node in graph.nodes:
        args, options = describe(node)
        doc.nodes.append(Call([names[o] for o in node.outputs], node.op, [_refs(a, node, names) for a in args],
                              {k: _refs(v, node, names) for k, v in options.items()}, len(node.outputs) > 1))
    for public, operand in graph.outputs.items():
        if public != operand and public not in names:
            doc.nodes.append(Call([public], "identity", [Ref(names[operand])], {}))
            doc.outputs.append(public)
        else:
            doc.outputs.append(names[operand])
    return doc, arrays
