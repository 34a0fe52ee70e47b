"""WebNN calls <-> graph nodes.

``call`` applies one operation as a ``.webnn`` file (or a WPT case) writes it: positional
arguments in ``MLGraphBuilder`` IDL order, an options dictionary, operands anywhere. A node keeps
its operands in ``Node.inputs`` (positional ones first, then operand options, each flagged by
``has<Option>``) and every literal under its IDL name, with the spec's defaults filled in.
``describe`` is the inverse, used by the writer. The reference converter's dialect
(``cast(to=)``, ``slice(starts, ends, axes)``, positional layerNormalization scale and bias,
``concat(a, b, axis)``, ``unsqueeze``, ``squeeze``, ``tile``, ``shape``, ``constant``) is
translated by ``dialect.py`` before the call is bound.
"""

from __future__ import annotations

from ..errors import GraphError
from ..graph.ir import Node, Operand
from .dialect import translate

BINARY = ("add", "sub", "mul", "div", "max", "min", "pow", "equal", "greater", "greaterOrEqual", "lesser",
          "lesserOrEqual", "matmul", "gemm")
UNARY = ("abs", "ceil", "floor", "exp", "log", "neg", "cos", "sin", "relu", "sigmoid", "sqrt", "tanh", "erf", "gelu",
         "identity", "reciprocal", "hardSwish", "clamp", "elu", "hardSigmoid", "leakyRelu", "linear", "softplus",
         "softsign", "transpose", "layerNormalization", "instanceNormalization", "triangular")
REDUCE = ("reduceL1", "reduceL2", "reduceLogSum", "reduceLogSumExp", "reduceMax", "reduceMean", "reduceMin",
          "reduceProduct", "reduceSum", "reduceSumSquare")

# op -> positional parameters in IDL order; "inputs" takes a sequence of operands
POSITIONAL: dict[str, tuple[str, ...]] = {
    **{op: ("a", "b") for op in BINARY},
    **{op: ("input",) for op in UNARY + REDUCE},
    "logicalNot": ("a",),
    "cast": ("input", "type"),
    "concat": ("inputs", "axis"),
    "expand": ("input", "newShape"),
    "reshape": ("input", "newShape"),
    "slice": ("input", "starts", "sizes"),
    "softmax": ("input", "axis"),
    "split": ("input", "splits"),
    "gather": ("input", "indices"),
    "scatterND": ("input", "indices", "updates"),
    "where": ("condition", "trueValue", "falseValue"),
    "batchNormalization": ("input", "mean", "variance"),
    "conv2d": ("input", "filter"),
    "convTranspose2d": ("input", "filter"),
}
OPERANDS = {"a", "b", "input", "inputs", "indices", "updates", "condition", "trueValue", "falseValue", "mean", "variance", "filter"}
# operand-valued options, in the order they follow the positional operands in Node.inputs
OPERAND_OPTIONS = {"layerNormalization": ("scale", "bias"), "batchNormalization": ("scale", "bias"),
                   "instanceNormalization": ("scale", "bias"), "conv2d": ("bias",), "convTranspose2d": ("bias",), "gemm": ("c",)}
SUPPORTED = frozenset(POSITIONAL)


def _flag(option: str) -> str:
    return "has" + option[0].upper() + option[1:]


def _defaults(op: str, x: Operand, attrs: dict) -> None:
    """Fill in the spec's defaults that depend on the input (the rest live in shapes.py and kernels)."""
    if op == "layerNormalization":
        attrs.setdefault("axes", list(range(1, x.rank)))
        attrs.setdefault("epsilon", 1e-5)
    elif op in ("batchNormalization", "instanceNormalization"):
        attrs.setdefault("epsilon", 1e-5)
    elif op in REDUCE:
        attrs.setdefault("axes", None)
        attrs.setdefault("keepDimensions", False)
    elif op in ("gather", "split"):
        attrs.setdefault("axis", 0)


def call(builder, op: str, args: list, options: dict, outputs: list[str] | None = None) -> list[Operand]:
    """Add ``op(*args, **options)`` to ``builder``; returns its output operands."""
    translated = translate(builder, op, list(args), dict(options))
    if isinstance(translated, Operand):  # the dialect op, built from WebNN ops
        return [builder.identity(translated, name=outputs[0]) if outputs else translated]
    if translated is not None:
        op, args, options = translated
    params = POSITIONAL.get(op)
    if params is None:
        raise GraphError(f"unknown operation {op!r}; supported: {', '.join(sorted(SUPPORTED))}")
    if len(args) > len(params):
        raise GraphError(f"{op} takes {len(params)} positional arguments ({', '.join(params)}), got {len(args)}")
    bound = dict(zip(params, args))
    for key in list(options):
        if key in params:
            if key in bound:
                raise GraphError(f"{op}: {key!r} is given both by position and by name")
            bound[key] = options.pop(key)
    missing = [p for p in params if p not in bound]
    if missing:
        raise GraphError(f"{op}: missing argument {missing[0]!r} (arguments: {', '.join(params)})")
    inputs: list[Operand] = []
    attrs: dict = {}
    for p in params:
        value = bound[p]
        if p == "inputs":
            if not isinstance(value, list) or not all(isinstance(v, Operand) for v in value):
                raise GraphError(f"{op}: 'inputs' must be a list of operands, got {value!r}")
            inputs += value
        elif p in OPERANDS:
            if not isinstance(value, Operand):
                raise GraphError(f"{op}: argument {p!r} must be an operand, got {value!r}")
            inputs.append(value)
        elif isinstance(value, Operand):
            raise GraphError(f"{op}: argument {p!r} must be a literal, got operand {value.name!r}")
        else:
            attrs[p] = value
    for key in OPERAND_OPTIONS.get(op, ()):
        value = options.pop(key, None)
        if value is not None and not isinstance(value, Operand):
            raise GraphError(f"{op}: option {key!r} must be an operand, got {value!r}")
        if value is not None:
            inputs.append(value)
        attrs[_flag(key)] = value is not None
    for key, value in options.items():
        if isinstance(value, Operand):
            raise GraphError(f"{op}: option {key!r} takes a literal, got operand {value.name!r}")
        attrs[key] = value
    _defaults(op, inputs[0], attrs)
    name = outputs if outputs and (len(outputs) > 1 or op == "split") else (outputs[0] if outputs else None)
    result = builder._node(op, inputs, name=name, **attrs)
    return result if isinstance(result, list) else [result]


def describe(node: Node) -> tuple[list, dict]:
    """The (positional operand arguments, options) that ``call`` turns back into ``node``."""
    attrs = dict(node.attributes)
    names = list(node.inputs)
    flags = [k for k in OPERAND_OPTIONS.get(node.op, ()) if attrs.pop(_flag(k), False)]
    for key in OPERAND_OPTIONS.get(node.op, ()):
        attrs.pop(_flag(key), None)
    tail = names[len(names) - len(flags):] if flags else []
    head = names[: len(names) - len(flags)]
    args: list = []
    for p in POSITIONAL.get(node.op, ()):
        if p == "inputs":
            args.append(head)
            head = []
        elif p in OPERANDS:
            args.append(head.pop(0))
    options = {k: v for k, v in attrs.items() if v is not None}
    options.update(zip(flags, tail))
    return args, options
