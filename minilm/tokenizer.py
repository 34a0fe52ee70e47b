"""A thin wrapper over the ``tokenizers`` library: tokenizer.json, or vocab.txt as a fallback.

Like sentence-transformers' Transformer.tokenize: texts are stripped, special tokens added,
truncated to ``max_length``; padding is done later, per batch.

A long text is tokenized only as far as ``max_length`` can use (``_heads``): a 50 MB line took
5.4 GB of RSS and 110 s when tokenized whole, for 256 tokens kept. The ids are the same as the
whole text's, by this argument: the tokenizer normalizes character by character and splits the
normalized text into words before the model sees them (the pipelines listed in LOCAL), so a word
that ends before the cut is cut into the same tokens as in the whole text. A prefix is used only
when the word of its last kept token is not its last word; otherwise the prefix doubles, up to the
whole text. tests/test_tokenize_cut.py checks this on texts where the cut matters.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer

from .errors import CheckpointError

CHUNK = 1024  # texts per encode_batch call in WordPieceTokenizer.encode
HEAD_CHARS = 8  # characters per token of max_length in the first prefix tried (English: 4-5 per token)
# normalizers and pre-tokenizers that look at one character (or one word) at a time: a cut changes
# only the word it falls in
LOCAL = {"normalizer": {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents", "Strip",
                        "Precompiled", "Prepend", "Sequence"},
         "pre_tokenizer": {"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits", "Metaspace",
                           "ByteLevel", "UnicodeScripts", "Sequence"}}


SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> int:
    """The index of the first surrogate code point in ``text`` (no UTF-8 for it: JSON's "\\ud800"
    alone, or a pair escaped in a str), else -1."""
    if text.isascii():
        return -1
    found = SURROGATE.search(text)
    return found.start() if found else -1


def _lowercase(folder: Path) -> bool:
    path = folder / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return bool(config.get("do_lower_case", True)) if isinstance(config, dict) else True


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


def _local(spec: dict | None, kind: str) -> bool:
    """Whether a normalizer / pre-tokenizer spec (tokenizer.json) is made only of LOCAL steps."""
    if spec is None:
        return kind == "normalizer"  # no pre-tokenizer: the whole text is one word, no cut is safe
    if spec.get("type") not in LOCAL[kind]:
        return False
    parts = spec.get("normalizers" if kind == "normalizer" else "pretokenizers")
    return spec["type"] != "Sequence" or (isinstance(parts, list) and all(_local(p, kind) for p in parts))


def _probe(inner: Tokenizer) -> tuple[Tokenizer | None, int]:
    """A copy of ``inner`` without truncation (to see where a prefix's words end), or None when the
    pipeline is not known to be local and texts must be tokenized whole; and the margin: added tokens
    ([SEP], ...) are matched in the text before it is split into words, so a prefix's last kept token
    must end more than the longest of them before the cut."""
    spec = json.loads(inner.to_str())
    added = spec.get("added_tokens") or []
    if (not (_local(spec.get("normalizer"), "normalizer") and _local(spec.get("pre_tokenizer"), "pre_tokenizer"))
            or any(t.get("lstrip") or t.get("rstrip") for t in added)):  # these swallow the spaces around them
        return None, 0
    probe = Tokenizer.from_str(inner.to_str())
    probe.no_truncation()
    probe.no_padding()
    return probe, 1 + max((len(t.get("content", "")) for t in added), default=0)


class WordPieceTokenizer:
    def __init__(self, inner: Tokenizer, max_length: int, folder: Path | None = None):
        self.inner, self.folder = inner, folder  # folder: where it was read from (an index records it)
        self.inner.no_padding()
        self.max_length = max_length
        self.inner.enable_truncation(max_length)
        self.head_chars = HEAD_CHARS * max_length

    @cached_property
    def probe(self) -> Tokenizer | None:
        """``_probe``'s copy of the tokenizer (and ``margin``), made when a text first needs it (one longer
        than ``head_chars``): a second parse of tokenizer.json, 35 ms of every cold start otherwise."""
        probe, self.margin = _probe(self.inner)
        return probe

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def _heads(self, texts: list[str]) -> dict[int, object]:
        """index -> the Encoding, for texts longer than the first prefix whose prefix was enough."""
        budget = self.max_length - self.inner.num_special_tokens_to_add(False)
        done: dict[int, object] = {}
        size = self.head_chars
        pending = [i for i, t in enumerate(texts) if len(t) > size]
        if not pending or self.probe is None:
            return done
        while pending:
            heads = self.probe.encode_batch([texts[i][:size] for i in pending], add_special_tokens=False)
            left = []
            for i, enc in zip(pending, heads):
                words = enc.word_ids
                if len(words) > budget and (budget <= 0 or (words[budget - 1] != words[-1]
                                                            and enc.offsets[budget - 1][1] <= size - self.margin)):
                    done[i] = self.inner.post_process(enc)  # truncated, special tokens added, as encode does
                else:
                    left.append(i)
            size *= 2
            pending = [i for i in left if len(texts[i]) > size]
        return done

    def encodings(self, texts: list[str]) -> list:
        """The ``tokenizers`` Encoding of each stripped text (ids, tokens, offsets; ``overflowing``
        is non-empty when truncation cut the text)."""
        stripped = [t.strip() for t in texts]
        heads = self._heads(stripped)
        rest = [i for i in range(len(stripped)) if i not in heads]
        heads.update(zip(rest, self.inner.encode_batch([stripped[i] for i in rest])))
        return [heads[i] for i in range(len(stripped))]

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, with [CLS] / [SEP], truncated, unpadded.

        In chunks of CHUNK texts, keeping only the ids: a ``tokenizers`` Encoding also holds tokens,
        offsets and masks, and 10,000 short texts' Encodings at once were +36 MB of RSS, chunked +10 MB
        (docs/notes/performance.md, RSS). Offsets are not computed (``encode_batch_fast``) where the library
        has it; the ids are the same."""
        batch = getattr(self.inner, "encode_batch_fast", self.inner.encode_batch)
        ids: list[list[int]] = []
        for start in range(0, len(texts), CHUNK):
            chunk = [t.strip() for t in texts[start:start + CHUNK]]
            heads = {i: e.ids for i, e in self._heads(chunk).items()}
            rest = [i for i in range(len(chunk)) if i not in heads]
            heads.update(zip(rest, (e.ids for e in batch([chunk[i] for i in rest]))))
            ids.extend(heads[i] for i in range(len(chunk)))
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
