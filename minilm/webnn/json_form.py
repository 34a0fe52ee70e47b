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
from .document import Call, Document, Operand, Ref, plain

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


def _operand(name: str, desc: Any, where: str, source: str) -> Operand:
    dtype = _need(desc, "dataType", str, where, source)
    shape = _need(desc, "shape", list, where, source)
    if not all((isinstance(d, int) and not isinstance(d, bool) and d >= 0) or isinstance(d, str) for d in shape):
        raise ParseError(f"{where}: shape must list non-negative integers, got {shape}", source)
    return Operand(name, dtype, shape)


def _refs(value: Any, operands: set[str]) -> Any:
    """Option values naming a known operand become Refs (e.g. layerNormalization's scale)."""
    if isinstance(value, str) and value in operands:
        return Ref(value)
    return value


def from_json(data: dict | str, source: str = "<json>") -> Document:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ParseError(f"not JSON: {exc.msg}", source, exc.lineno, exc.colno) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ParseError(f"'format' must be {FORMAT!r}, found {found!r}", source)
    doc = Document(name=data.get("name") or "graph", version=_need(data, "version", int, "graph", source),
                   quantized=bool(data.get("quantized", False)))
    for name, desc in _need(data, "inputs", dict, "graph", source).items():
        doc.inputs.append(_operand(name, desc, f"input {name!r}", source))
    for name, desc in data.get("consts", {}).items():
        const = _operand(name, desc, f"const {name!r}", source)
        init = _need(desc, "init", dict, f"const {name!r}", source)
        if init.get("kind") not in INIT_KINDS:
            raise ParseError(f"const {name!r}: init kind must be one of {sorted(INIT_KINDS)}, got {init.get('kind')!r}",
                             source)
        kind, field = INIT_KINDS[init["kind"]]
        const.init = (kind, _need(init, field, object, f"const {name!r} init", source))
        doc.consts.append(const)
    known = {d.name for d in doc.inputs} | {c.name for c in doc.consts}
    for i, node in enumerate(_need(data, "nodes", list, "graph", source)):
        where = f"nodes[{i}]"
        op = _need(node, "op", str, where, source)
        outputs = node.get("outputs") or [_need(node, "id", str, where, source)]
        inputs = _need(node, "inputs", list, where, source) if "inputs" in node else []
        if not all(isinstance(x, str) for x in inputs):
            raise ParseError(f"{where} ({op}): inputs must be operand names", source)
        options = node.get("options") or {}
        if not isinstance(options, dict):
            raise ParseError(f"{where} ({op}): options must be an object", source)
        doc.nodes.append(Call(list(outputs), op, [Ref(x) for x in inputs],
                              {k: _refs(v, known) for k, v in options.items()}, bool(node.get("outputs"))))
        known.update(outputs)
    for name, ref in _need(data, "outputs", dict, "graph", source).items():
        if name != ref:  # an output named differently from its operand: an alias node
            doc.nodes.append(Call([name], "identity", [Ref(ref)], {}))
        doc.outputs.append(name)
    return doc
