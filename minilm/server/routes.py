"""The embedding routes' handlers, and the checks every text route shares (the head routes too).

A request's work is bounded before it reaches the model: at most ``--max-inputs`` inputs of at most
``--max-input-chars`` characters, no lone surrogate (not Unicode text: 400 naming the input), and at
most ``--max-request-tokens`` tokens after truncation (413 naming the limit). Tokenization runs on
the event loop only for small requests (``INLINE_CHARS``, ~0.1 ms); a larger one is tokenized on the
tokenizer threads in pieces of about ``PIECE_CHARS``, counting its tokens as it goes, so it neither
holds the event loop (``/health`` and other requests go on) nor tokenizes past the token limit. The
items are texts, or (text, text_pair) pairs for a model with a head (server/heads.py).
"""

from __future__ import annotations

import asyncio
import base64
import re
from concurrent.futures import Executor

import numpy as np

from ..errors import InputError
from .status import HTTPError, dumps, invalid

INLINE_CHARS = 4096
PIECE_CHARS = 65536
SURROGATE = re.compile("[\ud800-\udfff]")


def _optional(body: dict, name: str, kind: type, default=None):
    value = body.get(name, default)
    if value is not None and (type(value) is not kind):  # bool is not an int here
        raise invalid(f"{name} must be {kind.__name__}")
    return value


def _texts(value, name: str = "inputs") -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    raise invalid(f"{name} must be a string or a list of strings")


def _chars(item) -> int:
    """The characters of a text, or of a pair's two texts."""
    return len(item) if isinstance(item, str) else sum(map(len, item))


def _pieces(items: list):
    """(offset, items) runs of about PIECE_CHARS characters, one item at least."""
    start, size = 0, 0
    for i, item in enumerate(items):
        if i > start and size + _chars(item) > PIECE_CHARS:
            yield start, items[start:i]
            start, size = i, 0
        size += _chars(item)
    if start < len(items):
        yield start, items[start:]


def input_name(i: int) -> str:
    return f"input {i}"


def too_long(name: str, max_length: int) -> HTTPError:
    return HTTPError(413, f"{name} is longer than the model's {max_length} tokens and truncate=false")


class Checks:
    """The limits of one server (its Settings) applied to a request's texts and tokens for one model:
    the Embedder, or a model with a head. ``encode(items, truncate, name)`` turns a run of items into
    token lists (a list's length is its token count), refusing with ``truncate=False`` what the model
    would cut; by default the model's tokenizer on texts."""

    def __init__(self, model, settings, pool: Executor, encode=None):
        self.model, self.settings, self.pool = model, settings, pool
        self.encode = encode or self._encode

    def count(self, n: int, what: str = "inputs") -> None:
        if n > self.settings.max_inputs:
            raise HTTPError(413, f"{n} {what} is more than the limit of {self.settings.max_inputs} (--max-inputs)")

    def text(self, text: str, name: str) -> None:
        limit = self.settings.max_input_chars
        if len(text) > limit:
            raise HTTPError(413, f"{name} has {len(text)} characters, more than the limit of {limit} (--max-input-chars)")
        if not text.isascii() and (bad := SURROGATE.search(text)):
            raise InputError(f"{name} has a lone surrogate (U+{ord(bad.group()):04X}) at character {bad.start()}: "
                             "it is not Unicode text; send valid UTF-8")

    def texts(self, texts: list[str], name=input_name, what: str = "inputs") -> None:
        self.count(len(texts), what)
        for i, text in enumerate(texts):
            self.text(text, name(i))

    def tokens(self, total: int, complete: bool = True) -> None:
        limit = self.settings.max_request_tokens
        if total > limit:
            some = "" if complete else "at least "
            raise HTTPError(413, f"the request has {some}{total} tokens (each input truncated to {self.model.max_length}), "
                                 f"more than the limit of {limit} (--max-request-tokens)")

    def _encode(self, texts: list[str], truncate: bool, name) -> list[list[int]]:
        if truncate:
            return self.model.tokenizer.encode(texts)
        encodings = self.model.tokenizer.encodings(texts)
        for i, enc in enumerate(encodings):
            if enc.overflowing:  # the tokenizer truncates; what it cut off shows here
                raise too_long(name(i), self.model.max_length)
        return [enc.ids for enc in encodings]

    async def tokenize(self, texts: list[str], truncate: bool = True, name=input_name) -> list[list[int]]:
        """Token ids per text, checked; off the event loop unless the request is small."""
        self.texts(texts, name)
        return await self.encoded(texts, truncate, name)

    async def encoded(self, items: list, truncate: bool = True, name=input_name) -> list[list[int]]:
        """``encode`` of items already checked (texts or pairs), within the token limit; off the event
        loop in pieces, stopping at the piece that passes the limit, unless the request is small."""
        if sum(map(_chars, items)) <= INLINE_CHARS:
            ids = self.encode(items, truncate, name)
        else:
            loop, ids, total = asyncio.get_running_loop(), [], 0
            for offset, piece in _pieces(items):
                part = await loop.run_in_executor(self.pool, self.encode, piece, truncate, lambda i, o=offset: name(o + i))
                ids += part
                total += sum(map(len, part))
                self.tokens(total, complete=len(ids) == len(items))
        self.tokens(sum(map(len, ids)))
        return ids

    async def table(self, texts: list[str]) -> list[list[dict]]:
        """POST /tokenize: every token with its text, offsets and whether it is special; off the loop."""
        self.texts(texts)

        def run():
            out = []
            for enc in self.model.tokenizer.encodings(texts):
                out.append([{"id": i, "text": t, "special": bool(s), "start": a, "stop": b}
                            for i, t, s, (a, b) in zip(enc.ids, enc.tokens, enc.special_tokens_mask, enc.offsets)])
            return out
        out = run() if sum(map(len, texts)) <= INLINE_CHARS else await asyncio.get_running_loop().run_in_executor(self.pool, run)
        self.tokens(sum(map(len, out)))
        return out

    def token_ids(self, raw: list) -> list[list[int]]:
        ids = [raw] if type(raw[0]) is int else raw
        if not all(isinstance(x, list) and all(type(t) is int for t in x) for x in ids):
            raise invalid("input must be a string, a list of strings, or token ids (a list of integers or of lists of integers)")
        if any(not x for x in ids):
            raise HTTPError(400, "input must not be empty")
        self.count(len(ids))
        ids = [x[: self.model.max_length] for x in ids]
        vocab = self.model.tokenizer.vocab_size
        bad = [t for x in ids for t in x if not 0 <= t < vocab]
        if bad:
            raise HTTPError(400, f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        self.tokens(sum(map(len, ids)))
        return ids


def make_routes(embedder, batcher, checks: Checks) -> dict:
    """The hot handlers {path: parsed JSON body -> response bytes}; errors raise HTTPError & co."""

    async def openai_embeddings(body) -> bytes:
        if not isinstance(body, dict) or "input" not in body:
            raise invalid("the body must be a JSON object with an 'input' field")
        raw, model = body["input"], _optional(body, "model", str)
        fmt, dimensions = _optional(body, "encoding_format", str, "float"), _optional(body, "dimensions", int)
        _optional(body, "user", str)
        if fmt not in ("float", "base64"):
            raise HTTPError(400, f"encoding_format {fmt!r} is not 'float' or 'base64'")
        if dimensions is not None and not 1 <= dimensions <= embedder.dim:
            raise HTTPError(400, f"dimensions must be between 1 and {embedder.dim}")
        if isinstance(raw, list) and not raw:
            raise HTTPError(400, "input must not be empty")
        if isinstance(raw, str) or (isinstance(raw, list) and isinstance(raw[0], str)):
            ids = await checks.tokenize(_texts(raw, "input"))
        elif isinstance(raw, list):
            ids = checks.token_ids(raw)
        else:
            raise invalid("input must be a string, a list of strings, or token ids")
        vectors = await batcher.embed(ids)  # every check above runs before the request costs a batch
        if dimensions is not None:
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if fmt == "base64":
            rows = [base64.b64encode(v.astype("<f4", copy=False).tobytes()).decode() for v in vectors]
        else:
            rows = list(np.ascontiguousarray(vectors, np.float32))
        tokens = sum(map(len, ids))
        return dumps({"object": "list", "model": model or embedder.path.name,
                      "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(rows)],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def tei_embed(body) -> bytes:
        if not isinstance(body, dict) or "inputs" not in body:
            raise invalid("the body must be a JSON object with an 'inputs' field")
        texts = _texts(body["inputs"])
        normalize, truncate = _optional(body, "normalize", bool, True), _optional(body, "truncate", bool, True)
        vectors = await batcher.embed(await checks.tokenize(texts, truncate), normalize=normalize)
        return dumps(np.ascontiguousarray(vectors, np.float32))

    return {"/v1/embeddings": openai_embeddings, "/embed": tei_embed}
