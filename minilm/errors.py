"""One exception tree for the whole package.

    MinilmError                      every error we raise on purpose
    ├── ModelNotFoundError           no model at any of the places tried
    ├── CheckpointError              a model file is missing, truncated, corrupt or inconsistent
    ├── ConfigError                  config.json / modules.json / pooling config we cannot use
    ├── GraphError                   an operation was built with bad operands (names op and shapes)
    │   └── ParseError               a malformed .webnn / JSON graph file (line, column, what was expected)
    ├── BackendError (ValueError)    unknown backend, or a backend failed to build or run a graph
    ├── MissingDependencyError       an optional extra is not installed (says which pip command fixes it)
    ├── SearchIndexError             an index folder missing, not an index, corrupt, of another dimension, or locked
    ├── InputError (TypeError)       bad input to encode(): wrong type, names the item's index
    └── PrecisionWarning (UserWarning)  warned, not raised: bf16 on a CPU without native bfloat16 (slower than fp32)

Errors of onnx / onnxruntime / safetensors are re-raised as ours ``from exc``.
The CLI maps these classes to exit codes through one table (``minilm.cli.main.EXIT_CODES``).
"""

from __future__ import annotations


class MinilmError(Exception):
    """Base class of every error raised by minilm."""


class ModelNotFoundError(MinilmError):
    """No model was found at any of the places tried."""


class CheckpointError(MinilmError):
    """A checkpoint file is missing, truncated, corrupt, or does not match its config."""


class ConfigError(MinilmError):
    """A configuration file is missing a field or has a value we do not support."""


class GraphError(MinilmError):
    """A graph operation was given operands of the wrong shape or dtype."""


class BackendError(MinilmError, ValueError):
    """Unknown backend, or a backend failed to build or run a graph."""


class MissingDependencyError(MinilmError, ImportError):
    """An optional dependency is not installed."""


class SearchIndexError(MinilmError):
    """An index (``minilm index``) is missing, corrupt, built with a model of another dimension, or locked by a writer."""


class InputError(MinilmError, TypeError):
    """Input to encode() of the wrong type."""


class ParseError(GraphError):
    """A malformed WebNN graph file; ``line`` and ``column`` count from 1 (0 when unknown)."""

    def __init__(self, message: str, source: str = "<text>", line: int = 0, column: int = 0):
        self.source, self.line, self.column, self.message = source, line, column, message
        where = f"{source}:{line}:{column}: " if line else f"{source}: "
        super().__init__(where + message)


class PrecisionWarning(MinilmError, UserWarning):
    """A precision that works but is slower than fp32 on this CPU (bf16 without native bfloat16)."""


class ModelWarning(MinilmError, UserWarning):
    """A checkpoint that loads as an embedding model but was not trained as one (a bare masked-LM BERT)."""
