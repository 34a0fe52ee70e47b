"""The JSON form of a WebNN graph (``"format": "webnn-graph-json"``), to and from a Document.

Shape of the reference's ``GraphJson`` (github tarekziade/webnn-graph ``src/ast.rs``): ``inputs``
and ``consts`` map names to ``{dataType, shape}`` (consts add ``init``: ``{kind: "weights", ref}``,
``{kind: "scalar", value}`` or ``{kind: "inlineBytes", bytes}``), ``nodes`` is a list of
``{id, op, inputs, options, outputs}`` and ``outputs`` maps output names to operand names.
Node ``inputs`` hold operand names only, so every other argument travels as a named option.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ParseError
from .document import ITEM_BITS, Call, Document, Operand, Ref, plain
from .text import MAX_DEPTH

FORMAT = "webnn-graph-json"
INIT_KINDS = {"weights": ("weights", "ref"), "scalar": ("scalar", "value"), "inlineBytes": ("bytes", "bytes")}


def to_json(doc: Document) -> dict:
    nodes = []
    for n in doc.nodes:
        inputs: list[str] = []
        for a in n.args:
            refs = a if isinstance(a, list) else [a]
            if not all(isinstance(r, Ref) for r in refs):
                raise ValueError(f"node {n.outputs[0]!r} ({n.op}) has a positional literal argument {plain(a)!r}; "
                                 "the JSON form needs it as a named option")
            inputs += [r.name for r in refs]
        node: dict[str, Any] = {"id": n.outputs[0], "op": n.op, "inputs": inputs,
                                "options": {k: plain(v) for k, v in n.options.items()}}
        node["outputs"] = list(n.outputs) if n.multi else None
        nodes.append(node)
    kinds = {v[0]: (k, v[1]) for k, v in INIT_KINDS.items()}
    return {
        "format": FORMAT, "version": doc.version, "name": doc.name, "quantized": doc.quantized,
        "inputs": {d.name: {"dataType": d.dtype, "shape": list(d.shape)} for d in doc.inputs},
        "consts": {c.name: {"dataType": c.dtype, "shape": list(c.shape),
                            "init": {"kind": kinds[c.init[0]][0], kinds[c.init[0]][1]: c.init[1]}} for c in doc.consts},
        "nodes": nodes,
        "outputs": {o: o for o in doc.outputs},
    }


def _need(obj: Any, key: str, kind: type, where: str, source: str):
    if not isinstance(obj, dict) or key not in obj:
        raise ParseError(f"{where}: missing {key!r}", source)
    if not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
        raise ParseError(f"{where}: {key!r} must be {kind.__name__}, got {type(obj[key]).__name__}", source)
    return obj[key]


def _operand(name: str, desc: Any, where: str, source: str, path: str) -> Operand:
    dtype = _need(desc, "dataType", str, where, source)
    if dtype not in ITEM_BITS:
        raise ParseError(f"{where}: unknown data type {dtype!r}; use one of {sorted(ITEM_BITS)}", source)
    shape = _need(desc, "shape", list, where, source)
    if not all((isinstance(d, int) and not isinstance(d, bool) and d >= 0) or (isinstance(d, str) and d) for d in shape):
        raise ParseError(f"{where}: shape must list non-negative integers, got {shape}", source)
    return Operand(name, dtype, shape, path=path)


def _init(name: str, desc: dict, source: str) -> tuple:
    where = f"const {name!r}"
    init = _need(desc, "init", dict, where, source)
    if not isinstance(init.get("kind"), str) or init["kind"] not in INIT_KINDS:
        raise ParseError(f"{where}: init kind must be one of {sorted(INIT_KINDS)}, got {init.get('kind')!r}", source)
    kind, field = INIT_KINDS[init["kind"]]
    value = _need(init, field, object, f"{where} init", source)
    if kind == "weights" and not isinstance(value, str):
        raise ParseError(f"{where}: the weights ref must be a string (a key of the manifest), got {value!r}", source)
    if kind == "scalar" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ParseError(f"{where}: @scalar value must be a number, got {value!r}", source)
    if kind == "bytes" and not (isinstance(value, list) and all(type(b) is int and 0 <= b <= 255 for b in value)):
        raise ParseError(f"{where}: bytes must be a list of integers 0..255", source)
    return kind, value


def _depth(value: Any) -> int:
    """How deeply lists nest in a JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((x, depth + 1) for x in item)
        elif isinstance(item, dict):
            stack.extend((x, depth + 1) for x in item.values())
    return deepest


def _refs(value: Any, operands: set[str]) -> Any:
    """Option values naming a known operand become Refs (e.g. layerNormalization's scale)."""
    if isinstance(value, str) and value in operands:
        return Ref(value)
    return value


def _node(node: Any, i: int, known: set[str], source: str) -> Call:
    where = f"nodes[{i}]"
    op = _need(node, "op", str, where, source)
    outputs = node.get("outputs") or [_need(node, "id", str, where, source)]
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ParseError(f"{where} ({op}): outputs must be a list of names, got {outputs!r}", source)
    inputs = _need(node, "inputs", list, where, source) if "inputs" in node else []
    if not all(isinstance(x, str) for x in inputs):
        raise ParseError(f"{where} ({op}): inputs must be operand names", source)
    options = node.get("options") or {}
    if not isinstance(options, dict):
        raise ParseError(f"{where} ({op}): options must be an object", source)
    for key, value in options.items():
        if _depth(value) > MAX_DEPTH:
            raise ParseError(f"{where}.options.{key}: arrays nested deeper than {MAX_DEPTH}", source)
    return Call(list(outputs), op, [Ref(x) for x in inputs], {k: _refs(v, known) for k, v in options.items()},
                bool(node.get("outputs")), path=where)


def from_json(data: dict | str, source: str = "<json>") -> Document:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ParseError(f"not JSON: {exc.msg}", source, exc.lineno, exc.colno) from exc
        except ValueError as exc:  # an integer of more than 4300 digits
            raise ParseError(f"not a JSON this reader takes: {exc}", source) from exc
        except RecursionError as exc:
            raise ParseError("nested too deeply for a JSON reader (a WebNN graph needs a few levels)", source) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ParseError(f"'format' must be {FORMAT!r}, found {found!r}", source)
    name = data.get("name") or "graph"
    if not isinstance(name, str):
        raise ParseError(f"graph: 'name' must be str, got {type(name).__name__}", source)
    doc = Document(name=name, version=_need(data, "version", int, "graph", source),
                   quantized=bool(data.get("quantized", False)))
    for name, desc in _need(data, "inputs", dict, "graph", source).items():
        doc.inputs.append(_operand(name, desc, f"input {name!r}", source, f"inputs.{name}"))
    consts = data.get("consts", {})
    if not isinstance(consts, dict):
        raise ParseError(f"graph: 'consts' must be dict, got {type(consts).__name__}", source)
    for name, desc in consts.items():
        const = _operand(name, desc, f"const {name!r}", source, f"consts.{name}")
        const.init = _init(name, desc, source)
        doc.consts.append(const)
    known = {d.name for d in doc.inputs} | {c.name for c in doc.consts}
    for i, node in enumerate(_need(data, "nodes", list, "graph", source)):
        doc.nodes.append(_node(node, i, known, source))
        known.update(doc.nodes[-1].outputs)
    for name, ref in _need(data, "outputs", dict, "graph", source).items():
        if not isinstance(ref, str):
            raise ParseError(f"outputs.{name}: must name an operand (a string), got {ref!r}", source)
        if name != ref:  # an output named differently from its operand: an alias node
            doc.nodes.append(Call([name], "identity", [Ref(ref)], {}, path=f"outputs.{name}"))
        doc.outputs.append(name)
    return doc
