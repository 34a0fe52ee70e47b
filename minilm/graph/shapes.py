"""Shape and dtype inference for WebNN operations, one rule per op.

``infer(op, operands, attributes)`` returns the ``(dtype, shape)`` of each output, or raises
GraphError naming the op and the offending shapes. Dimensions may be symbols (``"batch"``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import GraphError
from . import options, shapes_nn
from .ir import DTYPES, Dim, Operand, Shape, factors, format_shape

FLOATS = ("float32", "float16")
INDICES = ("int32", "int64", "uint32")


def _fail(op: str, message: str) -> GraphError:
    return GraphError(f"{op}: {message}")


def _axis(op: str, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise _fail(op, f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def broadcast(op: str, a: Shape, b: Shape) -> Shape:
    """NumPy / WebNN bidirectional broadcasting; symbols broadcast only with 1 or themselves."""
    out: list[Dim] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise _fail(op, f"shapes {format_shape(a)} and {format_shape(b)} do not broadcast")
    return tuple(reversed(out))


def _same_dtype(op: str, operands: list[Operand]) -> str:
    dtypes = {o.dtype for o in operands}
    if len(dtypes) != 1:
        listing = ", ".join(repr(o) for o in operands)
        raise _fail(op, f"operands must share one data type, got {listing}")
    return operands[0].dtype


def _binary(op: str, xs: list[Operand], attrs: dict) -> list:
    a, b = xs
    return [(_same_dtype(op, xs), broadcast(op, a.shape, b.shape))]


def _compare(op: str, xs: list[Operand], attrs: dict) -> list:
    a, b = xs
    _same_dtype(op, xs)
    return [("uint8", broadcast(op, a.shape, b.shape))]


def _unary(op: str, xs: list[Operand], attrs: dict) -> list:
    return [(xs[0].dtype, xs[0].shape)]


def _float_unary(op: str, xs: list[Operand], attrs: dict) -> list:
    if xs[0].dtype not in FLOATS:
        raise _fail(op, f"needs a float operand, got {xs[0]!r}")
    return _unary(op, xs, attrs)


def _matmul(op: str, xs: list[Operand], attrs: dict) -> list:
    a, b = xs
    dtype = _same_dtype(op, xs)
    if a.rank < 2 or b.rank < 2:
        raise _fail(op, f"operands need rank >= 2, got {a!r} and {b!r}")
    if a.shape[-1] != b.shape[-2]:
        raise _fail(op, f"inner dimensions differ: {format_shape(a.shape)} @ {format_shape(b.shape)}")
    batch = broadcast(op, a.shape[:-2], b.shape[:-2])
    return [(dtype, batch + (a.shape[-2], b.shape[-1]))]


def _gemm(op: str, xs: list[Operand], attrs: dict) -> list:
    a, b = xs[:2]
    if a.rank != 2 or b.rank != 2:
        raise _fail(op, f"operands must be 2-D, got {a!r} and {b!r}")
    (m, k), (k2, n) = a.shape[::-1] if attrs.get("aTranspose") else a.shape, b.shape[::-1] if attrs.get("bTranspose") else b.shape
    if k != k2:
        raise _fail(op, f"inner dimensions differ: {format_shape(a.shape)} and {format_shape(b.shape)} (after transposes)")
    if len(xs) > 2 and broadcast(op, xs[2].shape, (m, n)) != (m, n):
        raise _fail(op, f"c {format_shape(xs[2].shape)} does not broadcast to [{m}, {n}]")
    return [(_same_dtype(op, xs), (m, n))]


def _reshape(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    new = tuple(attrs["newShape"])
    if factors(x.shape) != factors(new):  # symbols may be products: (batch, sequence, 4) -> (batch*sequence, 4)
        raise _fail(op, f"cannot reshape {format_shape(x.shape)} to {format_shape(new)}: element counts differ")
    return [(x.dtype, new)]


def _transpose(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    perm = attrs.get("permutation") or list(reversed(range(x.rank)))
    if sorted(perm) != list(range(x.rank)):
        raise _fail(op, f"permutation {list(perm)} is not a permutation of the axes of {format_shape(x.shape)}")
    return [(x.dtype, tuple(x.shape[p] for p in perm))]


def _softmax(op: str, xs: list[Operand], attrs: dict) -> list:
    _axis(op, attrs["axis"], xs[0].rank)
    return _float_unary(op, xs, attrs)


def _axes(op: str, axes: list[int], rank: int) -> list[int]:
    found = [_axis(op, a, rank) for a in axes]
    if len(set(found)) != len(found):
        raise _fail(op, f"axes {list(axes)} name an axis twice")
    return found


def _layer_norm(op: str, xs: list[Operand], attrs: dict) -> list:
    x, rest = xs[0], xs[1:]
    axes = _axes(op, attrs["axes"], x.rank)
    norm_shape = tuple(x.shape[a] for a in axes)
    for p in rest:
        if p.shape != norm_shape:
            raise _fail(op, f"scale/bias shape {format_shape(p.shape)} does not match normalized shape {format_shape(norm_shape)} of {format_shape(x.shape)}")
    _same_dtype(op, xs)
    return _float_unary(op, xs, attrs)


def _reduce(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    axes = attrs.get("axes")
    axes = list(range(x.rank)) if axes is None else _axes(op, axes, x.rank)
    keep = attrs.get("keepDimensions", False)
    shape = tuple((1 if i in axes else d) for i, d in enumerate(x.shape) if keep or i not in axes)
    return [(x.dtype, shape)]


def _cast(op: str, xs: list[Operand], attrs: dict) -> list:
    if attrs["type"] not in DTYPES:
        raise _fail(op, f"unknown data type {attrs['type']!r}; use one of {sorted(DTYPES)}")
    return [(attrs["type"], xs[0].shape)]


def _expand(op: str, xs: list[Operand], attrs: dict) -> list:
    new = tuple(attrs["newShape"])
    if broadcast(op, xs[0].shape, new) != new:
        raise _fail(op, f"cannot expand {format_shape(xs[0].shape)} to {format_shape(new)}")
    return [(xs[0].dtype, new)]


def _slice(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    starts, sizes = list(attrs["starts"]), list(attrs["sizes"])
    strides = list(attrs.get("strides") or [1] * x.rank)
    if len(strides) != x.rank or any(not isinstance(s, int) or s < 1 for s in strides):
        raise _fail(op, f"strides {strides} need one positive entry per axis of {format_shape(x.shape)}")
    if len(starts) != x.rank or len(sizes) != x.rank:
        raise _fail(op, f"starts {starts} and sizes {sizes} need one entry per axis of {format_shape(x.shape)}")
    for s, n, d in zip(starts, sizes, x.shape):
        if isinstance(n, str):  # bound at run time; must start at 0 and fit the axis then
            if s != 0 or (isinstance(d, str) and n != d):
                raise _fail(op, f"symbolic size {n!r} needs start 0 and a static axis or the same symbol, got {format_shape(x.shape)}")
        elif isinstance(d, int) and not (0 <= s and s + n <= d):
            raise _fail(op, f"window start {s} size {n} exceeds {format_shape(x.shape)}")
    return [(x.dtype, tuple(n if isinstance(n, str) else -(-n // st) for n, st in zip(sizes, strides)))]


def _concat(op: str, xs: list[Operand], attrs: dict) -> list:
    dtype = _same_dtype(op, xs)
    axis = _axis(op, attrs["axis"], xs[0].rank)
    first = xs[0].shape
    total: Dim = 0
    for x in xs:
        if x.rank != len(first) or any(d != e for i, (d, e) in enumerate(zip(x.shape, first)) if i != axis):
            raise _fail(op, f"shapes {format_shape(first)} and {format_shape(x.shape)} differ outside axis {axis}")
        d = x.shape[axis]
        total = total + d if isinstance(total, int) and isinstance(d, int) else f"{total}+{d}"
    return [(dtype, first[:axis] + (total,) + first[axis + 1 :])]


def _logical_not(op: str, xs: list[Operand], attrs: dict) -> list:
    if xs[0].dtype != "uint8":
        raise _fail(op, f"needs a uint8 operand, got {xs[0]!r}")
    return _unary(op, xs, attrs)


def _triangular(op: str, xs: list[Operand], attrs: dict) -> list:
    if xs[0].rank < 2:
        raise _fail(op, f"needs rank >= 2, got {xs[0]!r}")
    return _unary(op, xs, attrs)


def _where(op: str, xs: list[Operand], attrs: dict) -> list:
    cond, a, b = xs
    if cond.dtype != "uint8":
        raise _fail(op, f"condition must be uint8, got {cond!r}")
    dtype = _same_dtype(op, [a, b])
    return [(dtype, broadcast(op, cond.shape, broadcast(op, a.shape, b.shape)))]


def _gather(op: str, xs: list[Operand], attrs: dict) -> list:
    x, idx = xs
    if idx.dtype not in INDICES:
        raise _fail(op, f"indices must be one of {INDICES}, got {idx!r}")
    axis = _axis(op, attrs.get("axis", 0), x.rank)
    return [(x.dtype, x.shape[:axis] + idx.shape + x.shape[axis + 1 :])]


def _scatter_nd(op: str, xs: list[Operand], attrs: dict) -> list:
    x, idx, updates = xs
    if idx.dtype not in INDICES:
        raise _fail(op, f"indices must be one of {INDICES}, got {idx!r}")
    k = idx.shape[-1] if idx.rank else None
    if not isinstance(k, int) or k > x.rank:
        raise _fail(op, f"the last axis of indices {idx!r} must be static and at most the rank of {x!r}")
    if tuple(updates.shape) != tuple(idx.shape[:-1]) + tuple(x.shape[k:]):
        raise _fail(op, f"updates must be {format_shape(idx.shape[:-1] + x.shape[k:])}, got {updates!r}")
    return [(_same_dtype(op, [x, updates]), x.shape)]


RULES: dict[str, Callable[[str, list[Operand], dict], list]] = {
    **{op: _binary for op in ("add", "sub", "mul", "div", "max", "min", "pow")},
    **{op: _compare for op in ("equal", "greater", "greaterOrEqual", "lesser", "lesserOrEqual")},
    **{op: _float_unary for op in ("erf", "gelu", "tanh", "sqrt", "exp", "log", "reciprocal", "sigmoid", "ceil", "cos", "sin",
                                   "floor", "elu", "hardSigmoid", "hardSwish", "leakyRelu", "linear", "softplus",
                                   "softsign")},
    **{op: _unary for op in ("abs", "neg", "relu", "identity", "clamp")},
    **{op: _reduce for op in ("reduceMean", "reduceSum", "reduceMax", "reduceMin", "reduceL1", "reduceL2",
                              "reduceLogSum", "reduceLogSumExp", "reduceProduct", "reduceSumSquare")},
    "logicalNot": _logical_not,
    "triangular": _triangular,
    "conv2d": shapes_nn.conv2d,
    "convTranspose2d": shapes_nn.conv_transpose2d,
    "batchNormalization": shapes_nn.batch_normalization,
    "instanceNormalization": shapes_nn.instance_normalization,
    "split": shapes_nn.split,
    "matmul": _matmul,
    "gemm": _gemm,
    "reshape": _reshape,
    "transpose": _transpose,
    "softmax": _softmax,
    "layerNormalization": _layer_norm,
    "cast": _cast,
    "expand": _expand,
    "slice": _slice,
    "concat": _concat,
    "where": _where,
    "gather": _gather,
    "scatterND": _scatter_nd,
}


def infer(op: str, operands: list[Operand], attributes: dict[str, Any]) -> list[tuple[str, Shape]]:
    """The (dtype, shape) of each output of ``op`` applied to ``operands``."""
    rule = RULES.get(op)
    if rule is None:
        raise GraphError(f"unknown operation {op!r}; supported: {', '.join(sorted(RULES))}")
    options.check(op, attributes)
    return rule(op, operands, attributes)
