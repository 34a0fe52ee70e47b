"""The parsed form of a WebNN graph file, before it becomes a Graph.

A Document is what a `.webnn` text file or its JSON form says, position information included, so
that text -> Document -> text is exact and errors can point at a line and column. Values in node
arguments are literals (numbers, strings, booleans, None, lists) or ``Ref`` (an operand name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any, Union


# text-format dtype -> WebNN MLOperandDataType
DTYPES = {"f32": "float32", "f16": "float16", "i4": "int4", "u4": "uint4", "i32": "int32", "u32": "uint32",
          "i64": "int64", "u64": "uint64", "i8": "int8", "u8": "uint8"}
SHORT = {v: k for k, v in DTYPES.items()}
# bytes per element; int4/uint4 pack two elements per byte
ITEM_BITS = {"float32": 32, "float16": 16, "int4": 4, "uint4": 4, "int32": 32, "uint32": 32, "int64": 64,
             "uint64": 64, "int8": 8, "uint8": 8}


def byte_length(dtype: str, shape) -> int:
    return (prod(shape) * ITEM_BITS[dtype] + 7) // 8  # Python ints: a product past 2**63 does not wrap to 0


@dataclass(frozen=True)
class Ref:
    """An operand named in an argument (``x`` in ``relu(x)``)."""

    name: str
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


Value = Union[Ref, int, float, str, bool, None, list]


@dataclass
class Operand:
    """An input or a constant declaration: ``x: f32[1, 128];`` (dims may be symbols, our extension)."""

    name: str
    dtype: str  # WebNN name, e.g. "float32"
    shape: list
    init: tuple | None = None  # constants: ("weights", key) | ("scalar", value) | ("bytes", [ints])
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    path: str = field(default="", compare=False)  # where in the JSON form, e.g. "consts.w"


@dataclass
class Call:
    """One statement: ``outputs = op(args..., name=value...)``."""

    outputs: list[str]
    op: str
    args: list[Value]
    options: dict[str, Value]
    multi: bool = False  # written as ``[a, b] = ...``
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    path: str = field(default="", compare=False)  # where in the JSON form, e.g. "nodes[3]"


@dataclass
class Document:
    name: str = "graph"
    version: int = 1
    quantized: bool = False
    inputs: list[Operand] = field(default_factory=list)
    consts: list[Operand] = field(default_factory=list)
    nodes: list[Call] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def weight_keys(self) -> list[str]:
        return [c.init[1] for c in self.consts if c.init and c.init[0] == "weights"]


def plain(value: Any) -> Any:
    """A value with Refs replaced by their names (for JSON and comparisons)."""
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
