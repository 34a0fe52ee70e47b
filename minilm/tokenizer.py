"""A thin wrapper over the ``tokenizers`` library: tokenizer.json, or vocab.txt as a fallback.

Like sentence-transformers' Transformer.tokenize: texts are stripped, special tokens added,
truncated to ``max_length``; padding is done later, per batch.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer

from .errors import CheckpointError

CHUNK = 1024  # texts per encode_batch call in WordPieceTokenizer.encode


def _lowercase(folder: Path) -> bool:
    path = folder / "tokenizer_config.json"
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("do_lower_case", True))
    except (OSError, ValueError):
        return True


def load_tokenizer(folder: Path, max_length: int) -> "WordPieceTokenizer":
    json_path, vocab_path = folder / "tokenizer.json", folder / "vocab.txt"
    try:
        if json_path.exists():
            inner = Tokenizer.from_file(str(json_path))
        elif vocab_path.exists():
            inner = BertWordPieceTokenizer(str(vocab_path), lowercase=_lowercase(folder))._tokenizer
        else:
            raise CheckpointError(f"{folder}: no tokenizer.json or vocab.txt; copy them from the model's original folder")
    except Exception as exc:
        if isinstance(exc, CheckpointError):
            raise
        bad = json_path if json_path.exists() else vocab_path
        raise CheckpointError(f"{bad}: cannot load the tokenizer ({exc}); restore the file from the model's original folder") from exc
    return WordPieceTokenizer(inner, max_length, folder)


class WordPieceTokenizer:
    def __init__(self, inner: Tokenizer, max_length: int, folder: Path | None = None):
        self.inner, self.folder = inner, folder  # folder: where it was read from (an index records it)
        self.inner.no_padding()
        self.max_length = max_length
        self.inner.enable_truncation(max_length)

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def encodings(self, texts: list[str]) -> list:
        """The ``tokenizers`` Encoding of each stripped text (ids, tokens, offsets; ``overflowing``
        is non-empty when truncation cut the text)."""
        return self.inner.encode_batch([t.strip() for t in texts])

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, with [CLS] / [SEP], truncated, unpadded.

        In chunks of CHUNK texts, keeping only the ids: a ``tokenizers`` Encoding also holds tokens,
        offsets and masks, and 10,000 short texts' Encodings at once were +36 MB of RSS, chunked +10 MB
        (docs/notes/performance.md, RSS). Offsets are not computed (``encode_batch_fast``) where the library
        has it; the ids are the same."""
        batch = getattr(self.inner, "encode_batch_fast", self.inner.encode_batch)
        ids: list[list[int]] = []
        for start in range(0, len(texts), CHUNK):
            ids.extend(e.ids for e in batch([t.strip() for t in texts[start:start + CHUNK]]))
        return ids

    def encode_pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(ids, token_type_ids) of each pair: ``[CLS] a [SEP] b [SEP]``, types 0 then 1, cut to max_length
        by ``longest_first`` (a token at a time from the longer side), as the Hugging Face tokenizer does
        for a batch of pairs (its ``tokenizer(a, "")`` alone drops an empty second text; the batch form and
        sentence-transformers keep it: ``[CLS] a [SEP] [SEP]``)."""
        return [(e.ids, e.type_ids) for e in self.pair_encodings(pairs)]

    def pair_encodings(self, pairs: list[tuple[str, str]]) -> list:
        """The ``tokenizers`` Encoding of each pair (``type_ids``; ``overflowing`` non-empty when cut)."""
        out: list = []
        for start in range(0, len(pairs), CHUNK):
            out.extend(self.inner.encode_batch(pairs[start:start + CHUNK]))
        return out

    def token_id(self, token: str) -> int | None:
        return self.inner.token_to_id(token)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.inner.decode(ids, skip_special_tokens=skip_special_tokens)
