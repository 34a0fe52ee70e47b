"""Embedder: tokenize, batch by length, run the graph, restore the caller's order."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import numpy as np

from .config import BertConfig, PipelineConfig
from .errors import ConfigError, InputError
from .batching import MAX_BATCH_TOKENS, batches
from .models import bert, packed as bert_packed
from .runtime import make_executor
from .tokenizer import WordPieceTokenizer, lone_surrogate

Texts = Union[str, Sequence[str]]
FIX_SURROGATE = ("it is not valid Unicode (a \\ud800-style escape without its pair?); fix the source, or replace "
                 "it with text.encode('utf-8', 'replace').decode('utf-8')")


def check_texts(texts) -> list[str]:
    """``texts`` as a list of str (one string: a list of one), each valid Unicode; else InputError naming the item."""
    if isinstance(texts, str):
        items, label = [texts], lambda i: "the text"
    elif isinstance(texts, Mapping):
        raise InputError(f"texts is a {type(texts).__name__}: its keys would be embedded; pass list(d.values()) or list(d)")
    elif isinstance(texts, (set, frozenset)):
        raise InputError(f"texts is a {type(texts).__name__}, which has no order, so the vectors could not be matched "
                         "to the texts; pass a list (e.g. sorted(texts))")
    elif isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InputError(f"texts must be a string or a list of strings, got {type(texts).__name__}")
    else:
        items, label = list(texts), lambda i: f"texts[{i}]"
    for i, text in enumerate(items):
        if not isinstance(text, str):
            hint = " (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
            raise InputError(f"{label(i)} is {type(text).__name__}, not str{hint}")
        at = lone_surrogate(text)
        if at >= 0:
            raise InputError(f"{label(i)} has a lone surrogate (U+{ord(text[at]):04X}) at character {at}; {FIX_SURROGATE}")
    return items


def check_normalize(normalize) -> bool | None:
    if normalize is None or isinstance(normalize, (bool, np.bool_)):
        return None if normalize is None else bool(normalize)
    raise InputError(f"normalize must be None, True or False, got {normalize!r}")


class Embedder:
    """Sentence embeddings from one model on one backend. Build it with ``minilm.load``."""

    precision, precision_reason = "fp32", "the default"  # set by minilm.load (runtime/precision.py)

    def __init__(self, path: Path, config: BertConfig, pipeline: PipelineConfig, weights: dict[str, np.ndarray],
                 tokenizer: WordPieceTokenizer, backend: str, threads: int | None, options: dict | None = None):
        self.path, self.config, self.pipeline = path, config, pipeline
        self.weights, self.tokenizer = weights, tokenizer
        self.backend, self.threads, self.options = backend, threads, {k: v for k, v in (options or {}).items() if v is not None}
        self._executors: dict[tuple, object] = {}
        self.max_batch_tokens = MAX_BATCH_TOKENS
        self.executor("sentence_embedding", pipeline.normalize)  # build the default path now: fail early

    @property
    def dim(self) -> int:
        return self.config.hidden_size

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def executor(self, output: str, normalize: bool, packed: bool = False, threads: int | None = None):
        """The executor of one output on padded inputs (``_feeds``), or of sentence_embedding on packed
        ones (``models/packed.py``); ``threads`` other than the model's: a second executor with as many."""
        threads = None if threads == self.threads else threads
        key = (output, normalize if output == "sentence_embedding" else None, packed, threads)
        if key not in self._executors:
            if output == "pooler_output" and "pooler.dense.weight" not in self.weights:
                raise ConfigError(f"{self.path}: this checkpoint has no pooler weights, so it has no pooler_output")
            if packed:
                graph = bert_packed.build(self.config, self.weights, self.pipeline.pooling, normalize)
            else:
                graph = bert.build(self.config, self.weights, self.pipeline.pooling, normalize, outputs=(output,))
            options = self.options
            if options.get("quantize"):  # int8: the attention's channel scales (runtime/smooth.py) need calibration runs
                options = options | {"calibration": self._calibration(packed)}
            self._executors[key] = make_executor(self.backend, graph, threads or self.threads, **options)
        return self._executors[key]

    def _calibration(self, packed: bool) -> list[dict[str, np.ndarray]]:
        """Feeds of random token ids (runtime/smooth.py), in batches of 32."""
        from .runtime.smooth import calibration_ids
        ids = calibration_ids(self.config.vocab_size, self.tokenizer.encode([""])[0], self.tokenizer.max_length)
        chunks = [ids[i:i + 32] for i in range(0, len(ids), 32)]
        return [bert_packed.feeds(c, self.config.pad_token_id) if packed else self._feeds(c) for c in chunks]

    def tokenize(self, texts: Texts) -> list[list[int]]:
        """Token ids per text, as the model sees them (special tokens added, truncated)."""
        return self.tokenizer.encode(check_texts(texts))

    def encode(self, texts: Texts, batch_size: int = 32, normalize: bool | None = None,
               output: str = "sentence_embedding", show_progress_bar: bool = False,
               prompt_name: str | None = None, prompt: str | None = None, max_batch_tokens: int | None = None,
               **st_options):
        """float32 embeddings: ``[n, dim]`` for a list, ``[dim]`` for one string.

        ``normalize`` None follows the model (modules.json); ``output`` is one of
        sentence_embedding, token_embeddings (a list of ``[tokens, dim]`` arrays), pooler_output.
        ``prompt`` (or ``prompt_name``, a key of the model's prompts) is put before every text, as
        sentence-transformers does; the model's default_prompt_name applies when neither is given.
        Batches hold at most ``batch_size`` texts and ``max_batch_tokens`` padded tokens (default 1024).
        sentence-transformers' keywords (normalize_embeddings, convert_to_tensor, precision, ...) work
        with the same meaning: see minilm.st_compat.
        """
        finish = None
        normalize = check_normalize(normalize)
        if st_options:
            from .st_compat import translate
            normalize, output, finish = translate(st_options, normalize, output)
        single = isinstance(texts, str)
        items = check_texts(texts)
        prefix = self._prompt(prompt_name, prompt)
        if prefix:
            items = [prefix + t for t in items]
        if output not in bert.OUTPUTS:
            raise ValueError(f"output {output!r} is not one of {', '.join(bert.OUTPUTS)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if max_batch_tokens is not None and (not isinstance(max_batch_tokens, int) or max_batch_tokens < 1):
            raise ValueError(f"max_batch_tokens must be a positive integer, got {max_batch_tokens!r}")
        result = self.encode_ids(self.tokenizer.encode(items), batch_size, normalize, output, show_progress_bar, single,
                                 max_batch_tokens)
        return finish(result) if finish else result

    def encode_ids(self, ids: list[list[int]], batch_size: int = 32, normalize: bool | None = None,
                   output: str = "sentence_embedding", show_progress_bar: bool = False, single: bool = False,
                   max_batch_tokens: int | None = None):
        """Like encode, from token ids (with [CLS]/[SEP], at most max_length each)."""
        normalize = self.pipeline.normalize if normalize is None else check_normalize(normalize)
        executor = self.executor(output, normalize)
        calls = batches([len(x) for x in ids], batch_size, max_batch_tokens or self.max_batch_tokens)
        feeds = (self._feeds([ids[i] for i in chunk]) for chunk in calls)
        run_many = getattr(executor, "run_many", None) if len(calls) > 1 else None  # one batch: no thread hop
        outs = run_many(feeds, [output]) if run_many else (executor.run(f, [output]) for f in feeds)
        if show_progress_bar:
            from tqdm.auto import tqdm
            outs = tqdm(outs, total=len(calls), desc="Batches", unit="batch")
        if output == "token_embeddings":
            results: list = [None] * len(ids)
            for chunk, out in zip(calls, outs):
                for row, i in enumerate(chunk):
                    results[i] = out[output][row, :len(ids[i])].copy()
            return results[0] if single else results
        vectors = np.empty((len(ids), self.dim), np.float32)  # filled in place: no second [n, dim] copy
        for chunk, out in zip(calls, outs):
            vectors[chunk] = out[output]
        return vectors[0] if single else vectors

    def encode_packed(self, ids: list[list[int]], normalize: bool | None = None, threads: int | None = None) -> np.ndarray:
        """sentence_embedding of token-id lists through the packed graph: no compute on padding in the
        token-wise layers, calls cut by a token budget. For batches of uneven lengths that cannot be
        sorted first (a server's requests in flight); ``encode`` is faster on a whole corpus. A call
        with no padding (one text, or texts of one length) runs on the padded graph instead, which
        has the fused attention (runtime/fusion.py) and the same result. ``threads``: run on executors
        with that many threads instead of the model's (a server running several batches at once)."""
        normalize = self.pipeline.normalize if normalize is None else check_normalize(normalize)
        out = np.zeros((len(ids), self.dim), np.float32)
        for chunk in batches([len(x) for x in ids]):
            batch = [ids[i] for i in chunk]
            if len({len(x) for x in batch}) == 1:
                executor, feeds = self.executor("sentence_embedding", normalize, threads=threads), self._feeds(batch)
            else:
                executor = self.executor("sentence_embedding", normalize, packed=True, threads=threads)
                feeds = bert_packed.feeds(batch, self.config.pad_token_id)
            out[chunk] = executor.run(feeds, ["sentence_embedding"])["sentence_embedding"]
        return out

    def _prompt(self, prompt_name: str | None, prompt: str | None) -> str:
        prompts = dict(self.pipeline.prompts)
        if prompt is not None:
            return prompt
        name = prompt_name or self.pipeline.default_prompt_name
        if name is None:
            return ""
        if name not in prompts:
            raise ValueError(f"prompt_name {name!r} is not one of the model's prompts: {sorted(prompts) or 'none'}")
        return prompts[name]

    def _feeds(self, batch: list[list[int]], width: int | None = None) -> dict[str, np.ndarray]:
        """Padded inputs of a batch: to its longest text, or to ``width`` (a static-shape model)."""
        width = width or max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self.config.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, x in enumerate(batch):
            input_ids[row, :len(x)] = x
            attention_mask[row, :len(x)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": np.zeros_like(input_ids)}

    def similarity(self, a, b=None) -> np.ndarray:
        """Cosine similarity matrix ``[len(a), len(b)]`` of texts or embedding arrays (b defaults to a)."""
        x = self._as_vectors(a)
        y = x if b is None else self._as_vectors(b)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        return (x @ y.T).astype(np.float32)

    def _as_vectors(self, value) -> np.ndarray:
        if isinstance(value, np.ndarray):
            return np.atleast_2d(value.astype(np.float32, copy=False))
        return np.atleast_2d(self.encode(value))

    def __repr__(self) -> str:
        return f"Embedder({str(self.path)!r}, backend={self.backend!r}, dim={self.dim}, max_length={self.max_length})"
