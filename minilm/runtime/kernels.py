"""NumPy kernels for WebNN operations: the readable reference semantics.

Each kernel takes the input arrays and the node's attributes (symbols already bound to sizes) and
returns one array. Float math stays in the operand's dtype (float32 for our models).
"""

from __future__ import annotations

import numpy as np

from ..graph.ir import DTYPES

# erf for float32 (Eigen / XLA rational approximation, |error| ~ 1 ulp on float32), since NumPy has none.
_ERF_ALPHA = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
              -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF_BETA = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
             -7.37332916720468e-03, -1.42647390514189e-02)


def erf(x: np.ndarray) -> np.ndarray:
    x64 = np.clip(x, -4.0, 4.0).astype(np.float64)  # float64 Horner steps keep it within ~1.5 ulp
    x2 = x64 * x64
    p = x2 * _ERF_ALPHA[0] + _ERF_ALPHA[1]
    for a in _ERF_ALPHA[2:]:
        p *= x2
        p += a
    q = x2 * _ERF_BETA[0] + _ERF_BETA[1]
    for b in _ERF_BETA[2:]:
        q *= x2
        q += b
    p *= x64
    p /= q
    return p.astype(x.dtype)


def gelu(x: np.ndarray) -> np.ndarray:
    return (x * 0.5 * (1.0 + erf(x * np.float32(1 / np.sqrt(2))))).astype(x.dtype)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_normalization(x, *params, axes, epsilon, hasScale=True, hasBias=True):
    axes = tuple(a % x.ndim for a in axes)
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.asarray(epsilon, x.dtype))
    params = list(params)
    if hasScale:
        y = y * params.pop(0)
    if hasBias:
        y = y + params.pop(0)
    return y


def _reduce(fn):
    def kernel(x, axes=None, keepDimensions=False):
        return fn(x, axis=None if axes is None else tuple(axes), keepdims=keepDimensions)
    return kernel


def _slice(x, starts, sizes):
    if any(s + n > d for s, n, d in zip(starts, sizes, x.shape)):
        raise ValueError(f"slice window starts {starts} sizes {sizes} exceeds shape {list(x.shape)}")
    return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]


def _clamp(x, minValue=None, maxValue=None):
    lo = -np.inf if minValue is None else minValue
    hi = np.inf if maxValue is None else maxValue
    return np.clip(x, lo, hi).astype(x.dtype)


KERNELS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "max": np.maximum, "min": np.minimum, "pow": np.power,
    "equal": lambda a, b: np.equal(a, b).astype(np.uint8),
    "greater": lambda a, b: np.greater(a, b).astype(np.uint8),
    "greaterOrEqual": lambda a, b: np.greater_equal(a, b).astype(np.uint8),
    "lesser": lambda a, b: np.less(a, b).astype(np.uint8),
    "lesserOrEqual": lambda a, b: np.less_equal(a, b).astype(np.uint8),
    "erf": erf, "gelu": gelu, "tanh": np.tanh, "sqrt": np.sqrt, "exp": np.exp, "log": np.log,
    "reciprocal": lambda x: (1 / x).astype(x.dtype), "sigmoid": lambda x: (1 / (1 + np.exp(-x))).astype(x.dtype),
    "abs": np.abs, "neg": np.negative, "relu": lambda x: np.maximum(x, 0).astype(x.dtype), "identity": np.copy,
    "clamp": _clamp,
    "reduceMean": _reduce(np.mean), "reduceSum": _reduce(np.sum), "reduceMax": _reduce(np.max), "reduceMin": _reduce(np.min),
    "matmul": np.matmul,
    "reshape": lambda x, newShape: x.reshape(newShape),
    "transpose": lambda x, permutation=None: np.transpose(x, permutation),
    "expand": lambda x, newShape: np.broadcast_to(x, newShape),
    "slice": _slice,
    "concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "where": lambda c, a, b: np.where(c.astype(bool), a, b),
    "gather": lambda x, idx, axis=0: np.take(x, idx, axis=axis),
    "cast": lambda x, type: x.astype(DTYPES[type]),  # noqa: A002
    "softmax": softmax,
    "layerNormalization": layer_normalization,
}
