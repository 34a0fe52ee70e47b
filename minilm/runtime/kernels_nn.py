"""NumPy kernels for convolutions, batch / instance normalization and split (reference semantics)."""

from __future__ import annotations

import numpy as np

from ..graph.shapes_nn import FILTER_LAYOUTS, TRANSPOSE_FILTER_LAYOUTS


def _nchw(x, layout):
    return x if layout == "nchw" else x.transpose(0, 3, 1, 2)


def _from_nchw(y, layout):
    return y if layout == "nchw" else y.transpose(0, 2, 3, 1)


def _params(padding, strides, dilations):
    return list(padding or [0, 0, 0, 0]), list(strides or [1, 1]), list(dilations or [1, 1])


def conv2d(x, w, *bias, padding=None, strides=None, dilations=None, groups=1, inputLayout="nchw",
           filterLayout="oihw", hasBias=False):
    x = _nchw(x, inputLayout)
    w = w.transpose(FILTER_LAYOUTS[filterLayout])  # -> oihw
    pad, s, d = _params(padding, strides, dilations)
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    n, c, h, wd = x.shape
    o, i, kh, kw = w.shape
    oh, ow = (h - (kh - 1) * d[0] - 1) // s[0] + 1, (wd - (kw - 1) * d[1] - 1) // s[1] + 1
    out = np.zeros((n, o, oh, ow), np.float64)
    per_group = o // groups
    for g in range(groups):
        xs = x[:, g * i:(g + 1) * i].astype(np.float64)
        ws = w[g * per_group:(g + 1) * per_group].astype(np.float64)
        for a in range(kh):
            for b in range(kw):
                window = xs[:, :, a * d[0]:a * d[0] + (oh - 1) * s[0] + 1:s[0], b * d[1]:b * d[1] + (ow - 1) * s[1] + 1:s[1]]
                out[:, g * per_group:(g + 1) * per_group] += np.einsum("nchw,oc->nohw", window, ws[:, :, a, b])
    if hasBias:
        out += bias[0].reshape(1, -1, 1, 1)
    return _from_nchw(out.astype(x.dtype), inputLayout)


def conv_transpose2d(x, w, *bias, padding=None, strides=None, dilations=None, groups=1, inputLayout="nchw",
                     filterLayout="iohw", outputPadding=None, outputSizes=None, hasBias=False):
    x = _nchw(x, inputLayout)
    w = w.transpose(TRANSPOSE_FILTER_LAYOUTS[filterLayout])  # -> iohw
    pad, s, d = _params(padding, strides, dilations)
    n, c, h, wd = x.shape
    i, o, kh, kw = w.shape
    full = np.zeros((n, o * groups, (h - 1) * s[0] + (kh - 1) * d[0] + 1 + s[0], (wd - 1) * s[1] + (kw - 1) * d[1] + 1 + s[1]))
    per_group = c // groups
    for g in range(groups):
        xs = x[:, g * per_group:(g + 1) * per_group].astype(np.float64)
        ws = w[g * per_group:(g + 1) * per_group].astype(np.float64)
        for a in range(kh):
            for b in range(kw):
                contribution = np.einsum("nchw,co->nohw", xs, ws[:, :, a, b])
                full[:, g * o:(g + 1) * o, a * d[0]:a * d[0] + (h - 1) * s[0] + 1:s[0],
                     b * d[1]:b * d[1] + (wd - 1) * s[1] + 1:s[1]] += contribution
    base = [(h - 1) * s[0] + (kh - 1) * d[0] + 1 - pad[0] - pad[1], (wd - 1) * s[1] + (kw - 1) * d[1] + 1 - pad[2] - pad[3]]
    extra = list(outputPadding or [0, 0])
    oh, ow = list(outputSizes) if outputSizes else [base[0] + extra[0], base[1] + extra[1]]
    out = full[:, :, pad[0]:pad[0] + oh, pad[2]:pad[2] + ow]
    if hasBias:
        out = out + bias[0].reshape(1, -1, 1, 1)
    return _from_nchw(out.astype(x.dtype), inputLayout)


def batch_normalization(x, mean, variance, *params, axis=1, epsilon=1e-5, hasScale=False, hasBias=False):
    shape = [1] * x.ndim
    shape[axis % x.ndim] = -1
    params = [p.reshape(shape) for p in params]
    y = (x - mean.reshape(shape)) / np.sqrt(variance.reshape(shape) + epsilon)
    if hasScale:
        y = y * params.pop(0)
    if hasBias:
        y = y + params.pop(0)
    return y.astype(x.dtype)


def instance_normalization(x, *params, epsilon=1e-5, layout="nchw", hasScale=False, hasBias=False):
    x = _nchw(x, layout)
    mean = x.mean(axis=(2, 3), keepdims=True)
    variance = np.square(x - mean).mean(axis=(2, 3), keepdims=True)
    y = (x - mean) / np.sqrt(variance + epsilon)
    params = [p.reshape(1, -1, 1, 1) for p in params]
    if hasScale:
        y = y * params.pop(0)
    if hasBias:
        y = y + params.pop(0)
    return _from_nchw(y.astype(x.dtype), layout)


def split(x, splits, axis=0):
    axis %= x.ndim
    if isinstance(splits, int):
        return np.split(x, splits, axis=axis)
    return np.split(x, np.cumsum(splits)[:-1], axis=axis)
