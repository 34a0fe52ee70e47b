"""The activations a cross-encoder's config can name, mapped to NumPy; nothing is imported from a config.

sentence-transformers stores ``activation_fn`` as a dotted path (``torch.nn.modules.activation.Sigmoid``)
and imports it; here the known names map to functions and any other path is refused with a ConfigError
(pass ``activation_fn=`` to choose one). The default, as CrossEncoder's: sigmoid for one label, else the
identity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ConfigError


def identity(x: np.ndarray) -> np.ndarray:
    return x


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


# torch class names (what sentence-transformers writes, in any of torch's spellings) -> ours
BY_CLASS = {"Identity": identity, "Sigmoid": sigmoid, "Tanh": tanh, "ReLU": relu, "Softmax": softmax}
TORCH_PREFIXES = ("torch.nn.modules.linear.", "torch.nn.modules.activation.", "torch.nn.")
NAMES = {"identity": identity, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax}


def from_name(name: str, where: str = "activation_fn") -> Callable[[np.ndarray], np.ndarray]:
    """``"sigmoid"`` or a torch path such as ``torch.nn.modules.activation.Sigmoid`` -> the function."""
    if name.lower() in NAMES:
        return NAMES[name.lower()]
    for prefix in TORCH_PREFIXES:
        if name.startswith(prefix) and name[len(prefix):] in BY_CLASS:
            return BY_CLASS[name[len(prefix):]]
    known = ", ".join(f"torch.nn.{n}" for n in BY_CLASS)
    raise ConfigError(f"{where}: activation {name!r} is not one minilm knows ({known}; nothing is imported from a "
                      f"config); pass activation_fn='identity' / 'sigmoid' / a function of a NumPy array instead")


def resolve(value, default: Callable, where: str = "activation_fn") -> Callable[[np.ndarray], np.ndarray]:
    """None -> ``default``; a name -> its function; a callable -> itself."""
    if value is None:
        return default
    if isinstance(value, str):
        return from_name(value, where)
    if callable(value):
        return value
    raise ValueError(f"activation_fn must be None, a name such as 'sigmoid', or a function, got {type(value).__name__}")


def name_of(fn: Callable) -> str:
    return next((k for k, v in NAMES.items() if v is fn), getattr(fn, "__name__", type(fn).__name__))
