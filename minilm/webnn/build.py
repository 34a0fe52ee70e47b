"""Document <-> Graph: ``to_graph`` builds a checked Graph from a parsed file and its weights;
``from_graph`` turns any Graph into a Document and the arrays for its ``.weights`` file."""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from ..errors import CheckpointError, GraphError
from ..graph import Graph, GraphBuilder
from ..graph.ir import Node
from .calls import call, describe
from .document import Call, Document, Operand, Ref, byte_length
from .text import IDENT, KEYWORDS
from .weights import NUMPY, unpack


def _at(source: str, item) -> str:
    return f"{source}:{item.line}:{item.column}" if getattr(item, "line", 0) else source


def _constant(decl: Operand, weights: Mapping[str, np.ndarray] | None, source: str) -> np.ndarray:
    kind, value = decl.init
    where = f"{_at(source, decl)}: constant {decl.name!r}"
    if kind == "scalar":
        target = np.int8 if decl.dtype == "int4" else np.uint8 if decl.dtype == "uint4" else NUMPY[decl.dtype]
        return np.full([int(d) for d in decl.shape], value, dtype=target)
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


def to_graph(doc: Document, weights: Mapping[str, np.ndarray] | None = None, source: str = "<text>") -> Graph:
    g = GraphBuilder(doc.name)
    operands: dict = {}
    for decl in doc.inputs + doc.consts:
        if decl.name in operands:
            raise GraphError(f"{_at(source, decl)}: {decl.name!r} is declared twice")
    for decl in doc.inputs:
        if decl.dtype in ("int4", "uint4"):
            raise GraphError(f"{_at(source, decl)}: input {decl.name!r} is {decl.dtype}; "
                             "graph inputs must be a byte-sized type (int4 is for constants)")
        operands[decl.name] = g.input(decl.name, decl.dtype, decl.shape)
    for decl in doc.consts:
        operands[decl.name] = g.constant(_constant(decl, weights, source), name=decl.name)
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
        if len(results) != len(node.outputs):
            raise GraphError(f"{_at(source, node)}: {node.op} gives {len(results)} outputs, "
                             f"{len(node.outputs)} names were given")
        operands.update(zip(node.outputs, results))
    missing = [o for o in doc.outputs if o not in operands]
    if missing:
        raise GraphError(f"{source}: output {missing[0]!r} is not an operand of the graph")
    if not doc.outputs:
        raise GraphError(f"{source}: the graph declares no outputs")
    return g.build({o: operands[o] for o in doc.outputs})


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
