"""Adapters for other libraries' embedding interfaces; none of them is a dependency of minilm.

    from minilm.search.adapters import LangChainEmbeddings, ChromaEmbeddingFunction
    vectorstore = InMemoryVectorStore(LangChainEmbeddings())            # langchain_core
    collection = client.create_collection("docs", embedding_function=ChromaEmbeddingFunction())  # chromadb

Each class subclasses the library's own base (langchain_core.embeddings.Embeddings,
chromadb's EmbeddingFunction) when that library is installed, so isinstance checks and the
library's validation apply; without it the class is a plain object with the same methods. The
base is looked up on first access to the class, not on ``import minilm``. sentence-transformers
code needs no adapter: ``Embedder.encode`` takes its keywords (see minilm.st_compat).
"""

from __future__ import annotations

import importlib

import numpy as np

__all__ = ["ChromaEmbeddingFunction", "LangChainEmbeddings"]


def _base(module: str, name: str) -> type:
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        return object


class _LangChain:
    """LangChain ``Embeddings``: embed_documents(texts) -> list of vectors, embed_query(text) -> vector.

    ``model`` and ``load_kwargs`` go to minilm.load (default: all-MiniLM-L6-v2, onnxruntime);
    ``batch_size`` to encode. Vectors are lists of Python floats, as LangChain expects.
    """

    def __init__(self, model=None, batch_size: int = 32, **load_kwargs):
        from .. import load
        self.embedder = load(model, **load_kwargs)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(list(texts), batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        from ..errors import InputError
        if not isinstance(text, str):
            raise InputError(f"embed_query takes one string, got {type(text).__name__}; use embed_documents for a list")
        return self.embedder.encode(text).tolist()


class _Chroma:
    """chromadb ``EmbeddingFunction``: call it with a list of documents, get one float32 vector each.

    ``name()``, ``get_config()`` and ``build_from_config()`` let chromadb store it with a persistent
    collection and rebuild it on load (it is registered under the name "minilm"). The vectors are
    unit length, so the default space is cosine.
    """

    def __init__(self, model=None, backend: str = "onnxruntime", batch_size: int = 32):
        from .. import load
        self.model, self.backend, self.batch_size = model, backend, batch_size
        self.embedder = load(model, backend=backend)

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        return list(self.embedder.encode(list(input), batch_size=self.batch_size))

    @staticmethod
    def name() -> str:
        return "minilm"

    def get_config(self) -> dict:
        return {"model": None if self.model is None else str(self.model), "backend": self.backend, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict):
        return ChromaEmbeddingFunctionClass()(**config)

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "ip", "l2"]


_CLASSES: dict[str, type] = {}


def LangChainEmbeddingsClass() -> type:
    if "langchain" not in _CLASSES:
        base = _base("langchain_core.embeddings", "Embeddings")
        namespace = {"__module__": __name__, "__doc__": _LangChain.__doc__}
        _CLASSES["langchain"] = type("LangChainEmbeddings", (_LangChain, base), namespace)
    return _CLASSES["langchain"]


def ChromaEmbeddingFunctionClass() -> type:
    if "chroma" not in _CLASSES:
        base = _base("chromadb.api.types", "EmbeddingFunction")
        cls = type("ChromaEmbeddingFunction", (_Chroma, base), {"__module__": __name__, "__doc__": _Chroma.__doc__})
        if base is not object:  # so a persistent collection can rebuild it from its stored config
            from chromadb.utils.embedding_functions import known_embedding_functions, register_embedding_function
            if cls.name() not in known_embedding_functions:  # a name taken by another library stays theirs
                register_embedding_function(cls)
        _CLASSES["chroma"] = cls
    return _CLASSES["chroma"]


def __getattr__(name: str):
    if name == "LangChainEmbeddings":
        return LangChainEmbeddingsClass()
    if name == "ChromaEmbeddingFunction":
        return ChromaEmbeddingFunctionClass()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
