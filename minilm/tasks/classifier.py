"""Classifier: labels of texts or text pairs from a BertForSequenceClassification, as transformers'
text-classification pipeline gives them (``[{"label", "score"}]``, best first; the same scores,
tests/test_heads.py).

The scores are the pipeline's default function of the logits: the identity for ``problem_type``
"regression", sigmoid for "multi_label_classification" or one label, else a softmax over the labels.
Texts are cut to the model's max length (the pipeline's ``truncation=True``); pairs by longest_first.
An empty ``text_pair`` means no pair, as in the pipeline (whose ``tokenizer(text, text_pair="")`` drops it;
CrossEncoder, like sentence-transformers, keeps it: ``[CLS] a [SEP] [SEP]``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .model import HeadModel, is_pair


class Classifier(HeadModel):
    """``Classifier("path/to/nli-model")``; loads as minilm.CrossEncoder does."""

    head = "sequence_classification"

    def predict(self, inputs, top_k: int | None = 1, batch_size: int = 32, function_to_apply: str | None = None,
                show_progress_bar: bool = False) -> list:
        """For each input (a text, a (text, text_pair) pair, or {"text", "text_pair"}): its ``top_k`` labels
        (None: all) as ``[{"label", "score"}]``, best first. One input (a tuple is one pair) -> one such list;
        a list -> a list of them, as the pipeline (``["a", "b"]`` is two texts)."""
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
        single = isinstance(inputs, (str, dict)) or (isinstance(inputs, tuple) and is_pair(inputs))  # a list is a batch
        items = [_item(x, i) for i, x in enumerate([inputs] if single else _as_list(inputs))]
        encoded: list = [None] * len(items)
        singles = [i for i, x in enumerate(items) if isinstance(x, str)]
        pairs = [i for i, x in enumerate(items) if not isinstance(x, str)]
        for i, ids in zip(singles, self.tokenizer.encode([items[i] for i in singles])):
            encoded[i] = (ids, [0] * len(ids))
        for i, enc in zip(pairs, self.tokenizer.encode_pairs([items[i] for i in pairs])):
            encoded[i] = enc
        scores = self.function(function_to_apply)(self._run(encoded, batch_size, show_progress_bar))
        out = []
        for row in np.asarray(scores, np.float32):
            order = sorted(range(len(row)), key=lambda j: -row[j])[:top_k]
            out.append([{"label": self.labels[j], "score": float(row[j])} for j in order])
        return out[0] if single else out


def _as_list(inputs) -> list:
    if isinstance(inputs, (bytes, bytearray)) or not hasattr(inputs, "__iter__"):
        raise InputError(f"inputs must be a text, a pair, or a list of them, got {type(inputs).__name__}")
    return list(inputs)


def _item(item, i: int) -> str | tuple[str, str]:
    """A text, or a (text, text_pair) pair: from a string, a pair, or the pipeline's {"text", "text_pair"}."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and "text" in item and set(item) <= {"text", "text_pair"} \
            and all(isinstance(v, str) for v in item.values()):
        item = (item["text"], item.get("text_pair", ""))
    if is_pair(item):  # an empty text_pair is none, as the pipeline's tokenizer(text, text_pair="") has it
        return (item[0], item[1]) if item[1] else item[0]
    raise InputError(f"inputs[{i}] must be a text, a (text, text_pair) pair or {{'text', 'text_pair'}}, "
                     f"got {type(item).__name__}")
