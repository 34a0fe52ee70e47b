"""The types of WebNN operation options, checked before a shape rule reads them.

One name has one meaning across the operations (``axis`` is an integer in softmax, concat, gather
and split alike), so the table is by option name. A graph file's ``softmax(x, axis="a")`` is a
GraphError naming the option and the value, not a TypeError from a comparison deep in a rule.
Options not listed (an extension's) are left to the executors.
"""

from __future__ import annotations

from ..errors import GraphError


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dim(v) -> bool:  # a static size, or a symbol bound at run time ("batch", "batch*sequence")
    return (_int(v) and v >= 0) or (isinstance(v, str) and bool(v))


def _list_of(test):
    return lambda v: isinstance(v, (list, tuple)) and all(test(x) for x in v)


def _or_none(test):
    return lambda v: v is None or test(v)


INTS = _list_of(_int)
KINDS = {  # kind -> (test, what the message says it must be)
    "int": (_int, "an integer"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "number": (lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)), "a number"),
    "number?": (_or_none(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)), "a number or null"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "dims": (_list_of(_dim), "a list of dimensions (non-negative integers)"),
    "dims?": (_or_none(_list_of(_dim)), "a list of dimensions (non-negative integers) or null"),
    "ints": (INTS, "a list of integers"),
    "indices": (_list_of(lambda v: _int(v) and v >= 0), "a list of non-negative integers"),
    "ints?": (_or_none(INTS), "a list of integers or null"),
    "splits": (lambda v: _int(v) or INTS(v), "an integer or a list of integers"),
}
OPTIONS = {
    **dict.fromkeys(("axis", "groups", "diagonal"), "int"),
    **dict.fromkeys(("keepDimensions", "aTranspose", "bTranspose", "upper", "hasScale", "hasBias", "hasC"), "bool"),
    **dict.fromkeys(("epsilon", "alpha", "beta"), "number"),
    **dict.fromkeys(("minValue", "maxValue"), "number?"),
    **dict.fromkeys(("type", "inputLayout", "filterLayout", "layout"), "str"),
    **dict.fromkeys(("newShape", "sizes"), "dims"),
    "outputSizes": "dims?",
    "starts": "indices",
    **dict.fromkeys(("permutation", "axes", "padding", "strides", "dilations", "outputPadding"), "ints?"),
    "splits": "splits",
}


def check(op: str, attributes: dict) -> None:
    """GraphError for the first option whose value is not of its kind."""
    for key, value in attributes.items():
        kind = OPTIONS.get(key)
        if kind is None:
            continue
        test, what = KINDS[kind]
        if not test(value):
            raise GraphError(f"{op}: option {key!r} must be {what}, got {value!r}")
