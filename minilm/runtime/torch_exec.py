"""The PyTorch executor (optional extra ``minilm[torch]``): the same graph on CPU, CUDA or MPS.

Device: ``device=`` or the first of cuda, mps, cpu. ``dtype="float16"`` runs float math in half
precision (GPU only: on CPU it stays float32). Outputs come back as float32 NumPy arrays.
"""

from __future__ import annotations

import numpy as np

from .. import logs
from ..errors import BackendError, MissingDependencyError
from ..graph import Graph
from ..graph.ir import DTYPES
from .feeds import bind_symbols
from .interpreter import _resolve


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("the torch backend needs PyTorch: pip install 'minilm[torch]' (or pip install torch)") from exc
    return torch


def _kernels(torch, half: bool = False):
    F = torch.nn.functional
    dtypes = {name: getattr(torch, np.dtype(dt).name) for name, dt in DTYPES.items()}
    if half:  # float math runs in float16 throughout
        dtypes["float32"] = torch.float16
    dims = lambda axes, x: tuple(range(x.dim())) if axes is None else tuple(axes)  # noqa: E731

    def reduce(fn):
        return lambda x, axes=None, keepDimensions=False: fn(x, dim=dims(axes, x), keepdim=keepDimensions)

    def layer_norm(x, *params, axes, epsilon, hasScale=True, hasBias=True):
        params = list(params)
        scale = params.pop(0) if hasScale else None
        bias = params.pop(0) if hasBias else None
        n = len(axes)
        if sorted(a % x.dim() for a in axes) != list(range(x.dim() - n, x.dim())):
            raise BackendError(f"torch executor: layerNormalization over non-trailing axes {axes}")
        return F.layer_norm(x, x.shape[x.dim() - n:], scale, bias, epsilon)

    def gather(x, idx, axis=0):
        return torch.index_select(x, axis, idx.reshape(-1).long()).reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])

    return {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "max": torch.maximum,
        "min": torch.minimum, "pow": torch.pow,
        "equal": lambda a, b: torch.eq(a, b).to(torch.uint8), "greater": lambda a, b: torch.gt(a, b).to(torch.uint8),
        "greaterOrEqual": lambda a, b: torch.ge(a, b).to(torch.uint8), "lesser": lambda a, b: torch.lt(a, b).to(torch.uint8),
        "lesserOrEqual": lambda a, b: torch.le(a, b).to(torch.uint8),
        "erf": torch.erf, "gelu": F.gelu, "tanh": torch.tanh, "sqrt": torch.sqrt, "exp": torch.exp, "log": torch.log,
        "reciprocal": torch.reciprocal, "sigmoid": torch.sigmoid, "abs": torch.abs, "neg": torch.neg, "relu": torch.relu,
        "identity": torch.clone, "clamp": lambda x, minValue=None, maxValue=None: torch.clamp(x, minValue, maxValue),
        "reduceMean": reduce(torch.mean), "reduceSum": reduce(torch.sum), "reduceMin": reduce(torch.amin),
        "reduceMax": reduce(torch.amax), "matmul": torch.matmul,
        "reshape": lambda x, newShape: x.reshape(newShape),
        "transpose": lambda x, permutation=None: x.permute(permutation or list(reversed(range(x.dim())))),
        "expand": lambda x, newShape: x.expand(newShape),
        "slice": lambda x, starts, sizes: x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))],
        "concat": lambda *xs, axis: torch.cat(xs, dim=axis),
        "where": lambda c, a, b: torch.where(c.bool(), a, b),
        "gather": gather, "cast": lambda x, type: x.to(dtypes[type]),  # noqa: A002
        "softmax": lambda x, axis: torch.softmax(x, dim=axis), "layerNormalization": layer_norm,
    }


class TorchExecutor:
    name = "torch"

    def __init__(self, graph: Graph, threads: int | None = None, device: str | None = None, dtype: str | None = None):
        torch = self.torch = _torch()
        why = "asked for"
        if device is None:
            mps = getattr(torch.backends, "mps", None)
            device = "cuda" if torch.cuda.is_available() else "mps" if mps and mps.is_available() else "cpu"
            why = "the first available of cuda, mps, cpu"
        self.device = torch.device(device)
        self.half = dtype == "float16" and self.device.type != "cpu"
        if dtype == "float16" and not self.half:
            logs.get("runtime").warning("torch: float16 is for GPUs; running float32 on the CPU")
        self.kernels = _kernels(torch, self.half)
        missing = sorted({n.op for n in graph.nodes} - set(self.kernels))
        if missing:
            raise BackendError(f"torch executor has no kernel for {missing}")
        if threads:
            torch.set_num_threads(threads)
        self.graph, self.threads, self.providers = graph, threads or torch.get_num_threads(), [f"torch:{self.device}"]
        logs.get("runtime").info("torch %s %r: device %s (%s), %s, %d threads", torch.__version__, graph.name, self.device,
                                 why, "float16" if self.half else "float32", self.threads)
        self.constants = {k: self._tensor(v) for k, v in graph.constants.items()}

    def _tensor(self, array: np.ndarray):
        array = np.array(array)  # a copy: memmaps are read-only
        if self.half and array.dtype.kind == "f":  # keep mask constants like finfo(float32).min finite
            array = np.asarray(np.clip(array, -65504, 65504), dtype=np.float16)
        return self.torch.from_numpy(array).to(self.device)

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        graph = self.graph if outputs is None else self.graph.pruned(outputs)
        sizes = bind_symbols(graph, feeds)
        values = dict(self.constants)
        values.update({k: self._tensor(feeds[k]) for k in graph.inputs})
        with self.torch.inference_mode():
            for node in graph.nodes:
                attrs = {k: _resolve(v, sizes) for k, v in node.attributes.items()}
                try:
                    values[node.outputs[0]] = self.kernels[node.op](*(values[i] for i in node.inputs), **attrs)
                except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                    raise BackendError(f"torch executor: {node.op} -> {node.outputs[0]} failed: {exc}") from exc
        result = {}
        for name, operand in graph.outputs.items():
            value = values[operand]
            result[name] = value.float().cpu().numpy() if value.is_floating_point() else value.cpu().numpy()
        return result
