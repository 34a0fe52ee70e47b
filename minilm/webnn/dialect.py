"""The reference converter's dialect (``webnn-graph convert-onnx``), translated to W3C WebNN calls.

``translate`` returns None when the call is already W3C WebNN, ``(op, args, options)`` when it only
needs renaming, or the result Operand when the dialect op is built from WebNN ops here.
"""

from __future__ import annotations

import base64
from math import prod

import numpy as np

from ..errors import GraphError
from ..graph.ir import DTYPES, Operand

INT64_MAX = 2**63 - 1


def _type(name: str) -> str:
    short = {"f32": "float32", "f16": "float16", "i32": "int32", "u32": "uint32", "i64": "int64",
             "u64": "uint64", "i8": "int8", "u8": "uint8", "bool": "uint8"}
    value = short.get(str(name).lower(), str(name).lower())
    if value not in DTYPES:
        raise GraphError(f"cast: unknown data type {name!r}; use one of {sorted(DTYPES)}")
    return value


def _static(op: str, x: Operand) -> list[int]:
    if not all(isinstance(d, int) for d in x.shape):
        raise GraphError(f"{op}: needs a static shape, got {x!r}")
    return list(x.shape)


def _slice(g, x: Operand, options: dict):
    """ONNX-style slice(starts, ends, axes, steps) -> WebNN slice(starts, sizes, {strides})."""
    rank = x.rank
    axes = [a % rank for a in options.pop("axes", range(rank))]
    starts, ends = list(options.pop("starts")), list(options.pop("ends"))
    steps = list(options.pop("steps", [1] * len(axes)))
    begin, sizes, strides = [0] * rank, list(x.shape), [1] * rank
    for axis, start, end, step in zip(axes, starts, ends, steps):
        dim = x.shape[axis]
        if step <= 0:
            raise GraphError(f"slice: step {step} on axis {axis} is not supported (steps must be positive)")
        if isinstance(dim, str):
            if start != 0 or end < INT64_MAX:
                raise GraphError(f"slice: axis {axis} of {x!r} is symbolic; only the whole axis can be taken")
            continue
        lo = min(max(start + dim if start < 0 else start, 0), dim)
        hi = min(max(end + dim if end < 0 else end, 0), dim)
        begin[axis], sizes[axis], strides[axis] = lo, max(0, -(-(hi - lo) // step)), step
    extra = {"strides": strides} if any(s != 1 for s in strides) else {}
    return g._node("slice", [x], starts=begin, sizes=sizes, **extra)


def _squeeze(x: Operand, axes) -> list:
    axes = [a % x.rank for a in axes] if axes is not None else [i for i, d in enumerate(x.shape) if d == 1]
    return [d for i, d in enumerate(x.shape) if i not in axes]


def _unsqueeze(x: Operand, axes) -> list:
    shape = list(x.shape)
    rank = x.rank + len(axes)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    return shape


def _tile(g, x: Operand, repetitions) -> Operand:
    shape = _static("tile", x)
    wide = [v for d in shape for v in (1, d)]
    tiled = [v for r, d in zip(repetitions, shape) for v in (r, d)]
    return g.reshape(g.expand(g.reshape(x, wide), tiled), [r * d for r, d in zip(repetitions, shape)])


def _constant(g, options: dict) -> Operand:
    dtype = _type(options["dataType"])
    shape = list(options.get("shape", []))
    raw = base64.b64decode(options["data"])
    array = np.frombuffer(raw, dtype=DTYPES[dtype])
    if array.size != prod(shape):
        raise GraphError(f"constant: {len(raw)} bytes of data do not fill {dtype}{shape}")
    return g.constant(array.reshape(shape).copy())


def translate(g, op: str, args: list, options: dict):
    if op == "cast" and "to" in options:
        options["type"] = _type(options.pop("to"))
        return op, args, options
    if op == "cast" and len(args) > 1 and isinstance(args[1], str):
        return op, [args[0], _type(args[1])], options
    if op == "slice" and "ends" in options:
        return _slice(g, args[0], options)
    if op == "concat" and args and isinstance(args[0], Operand):
        operands = [a for a in args if isinstance(a, Operand)]
        literals = [a for a in args if not isinstance(a, Operand)]
        if literals:
            options["axis"] = literals[0]
        return op, [operands], options
    if op == "layerNormalization" and len(args) > 1:
        x, params = args[0], args[1:]
        options.update(zip(("scale", "bias"), params))
        options.setdefault("axes", list(range(x.rank - params[0].rank, x.rank)))
        return op, [x], options
    if op == "expand" and "shape" in options:
        options["newShape"] = options.pop("shape")
        return op, args, options
    if op == "reshape" and "shape" in options:
        options["newShape"] = options.pop("shape")
        return op, args, options
    if op == "reshape" and "axes" in options and "newShape" not in options and len(args) == 1:
        return g.reshape(args[0], _squeeze(args[0], options["axes"]))
    if op == "squeeze":
        return g.reshape(args[0], _squeeze(args[0], options.get("axes", args[1] if len(args) > 1 else None)))
    if op == "unsqueeze":
        return g.reshape(args[0], _unsqueeze(args[0], options.get("axes", args[1] if len(args) > 1 else None)))
    if op == "tile":
        return _tile(g, args[0], options.get("repetitions", args[1] if len(args) > 1 else None))
    if op == "shape":
        return g.constant(np.array(_static("shape", args[0]), np.int64))
    if op == "constant" and not args:
        return _constant(g, options)
    if op == "triangular" and "k" in options:
        options["diagonal"] = options.pop("k")
        return op, args, options
    return None
