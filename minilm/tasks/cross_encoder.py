"""CrossEncoder: scores of (query, document) pairs from a BertForSequenceClassification, in the shape of
sentence-transformers' CrossEncoder (``predict``, ``rank``; the same scores, tests/test_heads.py).

The default activation is CrossEncoder's: the folder's own (config_sentence_transformers.json of a
folder it saved, else config.json's ``sentence_transformers.activation_fn``, else the legacy
``sbert_ce_default_activation_function``), else sigmoid for one label and the identity for more.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..errors import InputError
from . import activations
from .model import HeadModel, check_pairs, is_pair


class CrossEncoder(HeadModel):
    """``CrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2")``: a path, a name (found as minilm.load finds a
    model) or an exported .onnx file. ``activation_fn``: None (the folder's, see above), a name ("sigmoid",
    "identity", "tanh", "relu", "softmax", or the torch path a config writes) or a function of a NumPy array."""

    head = "sequence_classification"

    def __init__(self, model: str | os.PathLike | None, backend: str = "onnxruntime", threads: int | None = None,
                 max_length: int | None = None, tokenizer: str | os.PathLike | None = None,
                 device: str | None = None, dtype: str | None = None, activation_fn=None,
                 precision: str = "fp32"):
        super().__init__(model, backend, threads, max_length, tokenizer, device, dtype, precision)
        default = activations.sigmoid if self.num_labels == 1 else activations.identity
        if activation_fn is None and self.head_config.activation_fn:
            activation_fn = activations.from_name(self.head_config.activation_fn, self.head_config.activation_source)
        self.activation_fn: Callable = activations.resolve(activation_fn, default)

    def predict(self, pairs, batch_size: int = 32, activation_fn=None, apply_softmax: bool = False,
                show_progress_bar: bool = False) -> np.ndarray:
        """float32 scores: ``[n]`` for a one-label model, ``[n, labels]`` otherwise; one pair -> one score
        (or row). The activation (``activation_fn``, else the model's) is applied to the logits, then,
        with ``apply_softmax`` and several labels, a softmax over them."""
        single = is_pair(pairs) and not is_pair(pairs[0])
        items = check_pairs([pairs] if single else pairs)
        fn = activations.resolve(activation_fn, self.activation_fn)
        scores = np.asarray(fn(self._run(self.tokenizer.encode_pairs(items), batch_size, show_progress_bar)), np.float32)
        if self.num_labels == 1:
            scores = scores.reshape(-1)
        elif apply_softmax:
            scores = activations.softmax(scores, axis=1)
        return scores[0] if single else scores

    def rank(self, query: str, documents, top_k: int | None = None, return_documents: bool = False,
             batch_size: int = 32, activation_fn=None, show_progress_bar: bool = False) -> list[dict]:
        """``[{"corpus_id", "score", "text"?}]`` for the documents, best first (ties keep their order), at most
        ``top_k``. One-label models only, as in sentence-transformers."""
        if self.num_labels != 1:
            raise ValueError(f"rank() needs a model with one label; {self.path.name} has {self.num_labels} "
                             f"({', '.join(self.labels)}): use predict() with pairs instead")
        if not isinstance(query, str):
            raise InputError("query must be a string, got " + type(query).__name__)
        docs = list(documents) if not isinstance(documents, str) else None
        if docs is None:
            raise InputError("documents must be a list of strings, not one string")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
        pairs = [(query, d) for d in docs]
        for i, doc in enumerate(docs):
            if not isinstance(doc, str):
                raise InputError(f"documents[{i}] is {type(doc).__name__}, not str")
        scores = self.predict(pairs, batch_size, activation_fn, show_progress_bar=show_progress_bar) if pairs else []
        results = [{"corpus_id": i, "score": float(s)} | ({"text": docs[i]} if return_documents else {})
                   for i, s in enumerate(scores)]
        return sorted(results, key=lambda r: r["score"], reverse=True)[:top_k]
