"""Shape rules for the convolution, normalization and split operations of WebNN."""

from __future__ import annotations

from ..errors import GraphError
from .ir import Operand, format_shape

# where the spatial / channel axes sit in each layout
INPUT_LAYOUTS = {"nchw": (1, 2, 3), "nhwc": (3, 1, 2)}  # (channel, height, width)
FILTER_LAYOUTS = {  # (output channels, input channels, height, width)
    "oihw": (0, 1, 2, 3), "hwio": (3, 2, 0, 1), "ohwi": (0, 3, 1, 2), "ihwo": (3, 0, 1, 2),
}
TRANSPOSE_FILTER_LAYOUTS = {  # (input channels, output channels per group, height, width)
    "iohw": (0, 1, 2, 3), "hwoi": (3, 2, 0, 1), "ohwi": (3, 0, 1, 2),
}


def _fail(op: str, message: str) -> GraphError:
    return GraphError(f"{op}: {message}")


def _static(op: str, *xs: Operand) -> None:
    for x in xs:
        if not all(isinstance(d, int) for d in x.shape):
            raise _fail(op, f"needs static shapes, got {x!r}")


def conv_geometry(op: str, x: Operand, w: Operand, attrs: dict):
    """(N, C, H, W) of the input and (O, I, kH, kW) of the filter, whatever their layouts."""
    _static(op, x, w)
    if x.rank != 4 or w.rank != 4:
        raise _fail(op, f"input and filter must be 4-D, got {x!r} and {w!r}")
    layout = attrs.get("inputLayout", "nchw")
    transposed = op == "convTranspose2d"
    filters = TRANSPOSE_FILTER_LAYOUTS if transposed else FILTER_LAYOUTS
    filter_layout = attrs.get("filterLayout", "iohw" if transposed else "oihw")
    if layout not in INPUT_LAYOUTS or filter_layout not in filters:
        raise _fail(op, f"unknown layout {layout!r}/{filter_layout!r}; inputLayout is one of {sorted(INPUT_LAYOUTS)}, "
                        f"filterLayout one of {sorted(filters)}")
    c, h, wd = INPUT_LAYOUTS[layout]
    a, b, kh, kw = filters[filter_layout]
    return (x.shape[0], x.shape[c], x.shape[h], x.shape[wd]), (w.shape[a], w.shape[b], w.shape[kh], w.shape[kw])


def _pairs(attrs: dict):
    pad = list(attrs.get("padding") or [0, 0, 0, 0])
    strides = list(attrs.get("strides") or [1, 1])
    dilations = list(attrs.get("dilations") or [1, 1])
    return pad, strides, dilations


def _layout(attrs: dict, n: int, c: int, h: int, w: int) -> tuple:
    return (n, c, h, w) if attrs.get("inputLayout", "nchw") == "nchw" else (n, h, w, c)


def _bias(op: str, xs: list[Operand], channels: int) -> None:
    if len(xs) > 2 and xs[2].shape != (channels,):
        raise _fail(op, f"bias must be [{channels}], got {xs[2]!r}")


def conv2d(op: str, xs: list[Operand], attrs: dict) -> list:
    x, w = xs[:2]
    (n, c, h, wd), (o, i, kh, kw) = conv_geometry(op, x, w, attrs)
    groups = attrs.get("groups", 1)
    if c != i * groups:
        raise _fail(op, f"input has {c} channels, filter expects {i} x {groups} groups")
    pad, s, d = _pairs(attrs)
    oh = (h + pad[0] + pad[1] - ((kh - 1) * d[0] + 1)) // s[0] + 1
    ow = (wd + pad[2] + pad[3] - ((kw - 1) * d[1] + 1)) // s[1] + 1
    if oh <= 0 or ow <= 0:
        raise _fail(op, f"the filter {format_shape(w.shape)} does not fit the padded input {format_shape(x.shape)}")
    _bias(op, xs, o)
    return [(x.dtype, _layout(attrs, n, o, oh, ow))]


def conv_transpose2d(op: str, xs: list[Operand], attrs: dict) -> list:
    x, w = xs[:2]
    (n, c, h, wd), (i, o, kh, kw) = conv_geometry(op, x, w, attrs)
    groups = attrs.get("groups", 1)
    if c != i:
        raise _fail(op, f"input has {c} channels, filter expects {i}")
    pad, s, d = _pairs(attrs)
    extra = list(attrs.get("outputPadding") or [0, 0])
    sizes = attrs.get("outputSizes")
    full = [(h - 1) * s[0] + (kh - 1) * d[0] + 1 - pad[0] - pad[1], (wd - 1) * s[1] + (kw - 1) * d[1] + 1 - pad[2] - pad[3]]
    oh, ow = list(sizes) if sizes else [full[0] + extra[0], full[1] + extra[1]]
    if sizes and not all(f <= z < f + st for f, z, st in zip(full, sizes, s)):
        raise _fail(op, f"outputSizes {list(sizes)} must be within a stride of {full}")
    _bias(op, xs, o * groups)
    return [(x.dtype, _layout(attrs, n, o * groups, oh, ow))]


def batch_normalization(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    axis = attrs.get("axis", 1)
    if not -x.rank <= axis < x.rank:
        raise _fail(op, f"axis {axis} is out of range for {x!r}")
    for p in xs[1:]:
        if p.shape != (x.shape[axis],):
            raise _fail(op, f"mean, variance, scale and bias must be [{x.shape[axis]}], got {p!r}")
    return [(x.dtype, x.shape)]


def instance_normalization(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    if x.rank != 4:
        raise _fail(op, f"input must be 4-D, got {x!r}")
    channels = x.shape[INPUT_LAYOUTS[attrs.get("layout", "nchw")][0]]
    for p in xs[1:]:
        if p.shape != (channels,):
            raise _fail(op, f"scale and bias must be [{channels}], got {p!r}")
    return [(x.dtype, x.shape)]


def split(op: str, xs: list[Operand], attrs: dict) -> list:
    x = xs[0]
    axis = attrs.get("axis", 0)
    if not -x.rank <= axis < x.rank:
        raise _fail(op, f"axis {axis} is out of range for {x!r}")
    axis %= x.rank
    dim, splits = x.shape[axis], attrs["splits"]
    if not isinstance(dim, int):
        raise _fail(op, f"axis {axis} of {x!r} must be static")
    if isinstance(splits, int):
        if splits <= 0 or dim % splits:
            raise _fail(op, f"{dim} elements on axis {axis} do not split into {splits} equal parts")
        splits = [dim // splits] * splits
    if sum(splits) != dim or any(s <= 0 for s in splits):
        raise _fail(op, f"splits {list(splits)} must be positive and add up to {dim}")
    return [(x.dtype, x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in splits]
