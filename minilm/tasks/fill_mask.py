"""MaskedLM: the words a BertForMaskedLM puts at ``[MASK]``, as transformers' fill-mask pipeline gives them.

``fill_mask("Paris is the [MASK] of France.", top_k=5)`` -> ``[{"score", "token", "token_str", "sequence"}]``
(a softmax over the vocabulary at the mask, best first; ``sequence`` the text decoded with the token in
place). As in the pipeline, a text with several masks gives one such list per mask, and its sequences
keep the special tokens. The head runs only at the masks (models/heads.py): a batch costs (masks, V)
logits, not (texts, T, V). Texts longer than the model's max length are cut first.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError, InputError
from . import activations
from .model import HeadModel

MASK = "[MASK]"


class MaskedLM(HeadModel):
    """``MaskedLM("bert-base-uncased")``; loads as minilm.CrossEncoder does. ``mask_token``: the tokenizer's."""

    head = "masked_lm"
    org = ""  # a name without an organisation is a hub id as it stands (bert-base-uncased)

    def __init__(self, model: str | os.PathLike | None, backend: str = "onnxruntime", threads: int | None = None,
                 max_length: int | None = None, tokenizer: str | os.PathLike | None = None,
                 device: str | None = None, dtype: str | None = None, mask_token: str = MASK,
                 precision: str = "fp32"):
        super().__init__(model, backend, threads, max_length, tokenizer, device, dtype, precision)
        self.mask_token, self.mask_token_id = mask_token, self.tokenizer.token_id(mask_token)
        if self.mask_token_id is None:
            raise ConfigError(f"{self.path}: the tokenizer has no {mask_token!r} token; pass mask_token= with its mask token")

    def logits(self, texts, positions: list[list[int]] | None = None, batch_size: int = 32) -> list[np.ndarray]:
        """float32 logits ``[len(positions[i]), vocab]`` of each text at the token positions asked (None:
        every token, ``[T_i, vocab]``; [CLS] is position 0)."""
        items = _texts(texts)
        ids = self.tokenizer.encode(items)
        if positions is None:
            positions = [list(range(len(x))) for x in ids]
        if len(positions) != len(ids):
            raise ValueError(f"positions has {len(positions)} lists for {len(ids)} texts")
        for i, (x, p) in enumerate(zip(ids, positions)):
            if any(not isinstance(t, int) or not 0 <= t < len(x) for t in p):
                raise ValueError(f"positions[{i}] must be token positions 0..{len(x) - 1} of texts[{i}]")
        return self._run([(x, [0] * len(x)) for x in ids], batch_size, positions=positions)

    def fill_mask(self, inputs, top_k: int = 5, batch_size: int = 32) -> list:
        """The ``top_k`` fillings of each mask. A text with one mask -> a list of dicts; with several -> a
        list of such lists; a list of texts -> a list of those."""
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        single = isinstance(inputs, str)
        items = _texts(inputs)
        encodings = self.tokenizer.encodings(items)
        masks = [[p for p, t in enumerate(e.ids) if t == self.mask_token_id] for e in encodings]
        for i, (e, m) in enumerate(zip(encodings, masks)):
            if not m:
                cut = f" within its first {self.max_length} tokens (the model's max length)" if e.overflowing else ""
                raise InputError(f"texts[{i}] has no {self.mask_token} token{cut}: put {self.mask_token} where a word is to be filled in")
        logits = self._run([(e.ids, [0] * len(e.ids)) for e in encodings], batch_size, positions=masks)
        out = [self._fillings(e.ids, m, lg, min(top_k, self.config.vocab_size)) for e, m, lg in zip(encodings, masks, logits)]
        return out[0] if single else out

    def _fillings(self, ids: list[int], masks: list[int], logits: np.ndarray, top_k: int) -> list:
        """As FillMaskPipeline.postprocess: softmax, top k, and each candidate decoded in place."""
        rows = []
        for position, probs in zip(masks, activations.softmax(logits, axis=-1)):
            best = [int(j) for j in np.argsort(-probs, kind="stable")[:top_k]]
            row = []
            for token in best:
                filled = list(ids)
                filled[position] = token
                sequence = self.tokenizer.decode([t for t in filled if t != self.config.pad_token_id],
                                                 skip_special_tokens=len(masks) == 1)
                row.append({"score": float(probs[token]), "token": token,
                            "token_str": self.tokenizer.decode([token], skip_special_tokens=False), "sequence": sequence})
            rows.append(row)
        return rows[0] if len(masks) == 1 else rows


def _texts(texts) -> list[str]:
    items = [texts] if isinstance(texts, str) else list(texts) if hasattr(texts, "__iter__") and not isinstance(texts, bytes) else None
    if items is None:
        raise InputError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is {type(text).__name__}, not str")
    return items
