"""NumPy kernels for WebNN operations: the readable reference semantics.

Each kernel takes the input arrays and the node's attributes (symbols already bound to sizes) and
returns one array. Float math stays in the operand's dtype (float32 for our models).
"""

from __future__ import annotations

import numpy as np

from ..graph.ir import DTYPES
from . import kernels_nn

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
    # scale and bias are laid out in the order of ``axes``: move them onto x's axes
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    order = np.argsort(axes)
    params = [p.transpose(order).reshape(shape) for p in params]
    if hasScale:
        y = y * params.pop(0)
    if hasBias:
        y = y + params.pop(0)
    return y


def _reduce(fn, before=None, after=None):
    def kernel(x, axes=None, keepDimensions=False):
        y = fn(before(x) if before else x, axis=None if axes is None else tuple(axes), keepdims=keepDimensions)
        return after(y) if after else y
    return kernel


def _log_sum_exp(x, axis, keepdims):
    top = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros_like(x)
    top = np.where(np.isfinite(top), top, 0)
    y = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return y if keepdims else np.squeeze(y, axis=tuple(range(x.ndim)) if axis is None else axis)


def _slice(x, starts, sizes, strides=None):
    if any(s + n > d for s, n, d in zip(starts, sizes, x.shape)):
        raise ValueError(f"slice window starts {starts} sizes {sizes} exceeds shape {list(x.shape)}")
    strides = strides or [1] * x.ndim
    return x[tuple(slice(s, s + n, st) for s, n, st in zip(starts, sizes, strides))]


def _gemm(a, b, *c, alpha=1.0, beta=1.0, aTranspose=False, bTranspose=False, hasC=False):
    y = alpha * ((a.T if aTranspose else a) @ (b.T if bTranspose else b))
    return y + beta * c[0] if hasC else y


def _scatter_nd(x, idx, updates):
    out = x.copy()
    k = idx.shape[-1]
    flat = idx.reshape(-1, k).astype(np.int64)
    flat = np.where(flat < 0, flat + np.array(x.shape[:k]), flat)  # negative indices count from the end
    out[tuple(flat.T)] = updates.reshape((-1,) + x.shape[k:])
    return out


def _triangular(x, upper=True, diagonal=0):
    return np.triu(x, diagonal) if upper else np.tril(x, diagonal)


def _gather(x, idx, axis=0):
    dim = x.shape[axis]
    return np.take(x, np.clip(np.where(idx < 0, idx + dim, idx), 0, dim - 1), axis=axis)


def _clamp(x, minValue=None, maxValue=None):
    if x.dtype.kind in "iu":  # integer bounds, saturated to the data type's range
        info = np.iinfo(x.dtype)
        lo = info.min if minValue is None else int(min(max(minValue, info.min), info.max))
        hi = info.max if maxValue is None else int(min(max(maxValue, info.min), info.max))
        return np.clip(x, np.array(lo, x.dtype), np.array(hi, x.dtype))
    lo = -np.inf if minValue is None or np.isnan(minValue) else minValue  # a NaN bound is no bound
    hi = np.inf if maxValue is None or np.isnan(maxValue) else maxValue
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
    "reduceProduct": _reduce(np.prod), "reduceL1": _reduce(np.sum, np.abs), "reduceL2": _reduce(np.sum, np.square, np.sqrt),
    "reduceSumSquare": _reduce(np.sum, np.square), "reduceLogSum": _reduce(np.sum, after=np.log),
    "reduceLogSumExp": _reduce(_log_sum_exp),
    "ceil": np.ceil, "floor": np.floor, "logicalNot": lambda x: np.equal(x, 0).astype(np.uint8),
    "elu": lambda x, alpha=1.0: np.where(x < 0, alpha * (np.exp(np.minimum(x, 0)) - 1), x),
    "hardSigmoid": lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1),
    "hardSwish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "leakyRelu": lambda x, alpha=0.01: np.where(x < 0, alpha * x, x),
    "linear": lambda x, alpha=1.0, beta=0.0: alpha * x + beta,
    "softplus": lambda x: np.logaddexp(0, x), "softsign": lambda x: x / (1 + np.abs(x)),
    "triangular": _triangular,
    "conv2d": kernels_nn.conv2d, "convTranspose2d": kernels_nn.conv_transpose2d,
    "batchNormalization": kernels_nn.batch_normalization, "instanceNormalization": kernels_nn.instance_normalization,
    "split": kernels_nn.split,
    "matmul": np.matmul, "gemm": _gemm,
    "reshape": lambda x, newShape: x.reshape(newShape),
    "transpose": lambda x, permutation=None: np.transpose(x, permutation),
    "expand": lambda x, newShape: np.broadcast_to(x, newShape),
    "slice": _slice,
    "concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "where": lambda c, a, b: np.where(c.astype(bool), a, b),
    "gather": _gather, "scatterND": _scatter_nd, "cos": np.cos, "sin": np.sin,
    "cast": lambda x, type: x.astype(DTYPES[type]),  # noqa: A002
    "softmax": softmax,
    "layerNormalization": layer_normalization,
}
