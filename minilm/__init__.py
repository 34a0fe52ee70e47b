"""minilm: sentence embeddings from MiniLM / BERT encoders, our own network, no PyTorch needed.

    >>> import minilm
    >>> model = minilm.load()                  # all-MiniLM-L6-v2, found offline
    >>> model.encode(["Hello world"]).shape
    (1, 384)
"""

import logging

from .embedder import Embedder
from .loading import load
from .errors import (
    BackendError,
    CheckpointError,
    ConfigError,
    GraphError,
    InputError,
    MinilmError,
    MissingDependencyError,
    ModelNotFoundError,
    ModelWarning,
    PrecisionWarning,
    SearchIndexError,
)
from .search.index import Index
from .tasks import Classifier, CrossEncoder, MaskedLM

__version__ = "0.1.0"

logging.getLogger("minilm").addHandler(logging.NullHandler())  # a program's own logging config decides (minilm.logs)

__all__ = [
    "BackendError",
    "CheckpointError",
    "Classifier",
    "ConfigError",
    "CrossEncoder",
    "Embedder",
    "GraphError",
    "Index",
    "InputError",
    "MaskedLM",
    "MinilmError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "ModelWarning",
    "PrecisionWarning",
    "SearchIndexError",
    "__version__",
    "load",
]
