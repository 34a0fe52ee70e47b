"""MiniLM as WebNN files: ``export`` a loaded model to a folder, ``load`` that folder as an Embedder.

The folder holds ``model.webnn`` + ``model.weights`` + ``manifest.json`` (the static graph from
token ids to the sentence embedding), ``tokenizer.json``, ``config.json`` (the BERT fields) and
``webnn_config.json`` (batch, sequence length, pooling, normalisation). WebNN graphs have fixed
shapes, so texts are truncated to the sequence length (with a warning) and padded to it, and more
texts than the batch size run in several calls.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..config import BertConfig, PipelineConfig
from ..embedder import Embedder, check_normalize, check_texts
from ..errors import ConfigError
from ..graph.static import bind
from ..models import bert, heads
from ..runtime import make_executor
from ..tokenizer import load_tokenizer
from . import files

CONFIG = "webnn_config.json"
GRAPH = "model.webnn"


def export(embedder: Embedder, out: str | os.PathLike, batch: int = 1, seq_len: int = 128) -> Path:
    if not (isinstance(batch, int) and batch >= 1 and isinstance(seq_len, int) and 2 <= seq_len):
        raise ValueError(f"batch must be >= 1 and seq_len >= 2, got batch={batch!r} seq_len={seq_len!r}")
    if seq_len > embedder.config.max_position_embeddings:
        raise ValueError(f"seq_len {seq_len} exceeds the model's {embedder.config.max_position_embeddings} positions")
    out = Path(out)
    pipe = embedder.pipeline
    graph = bert.build(embedder.config, embedder.weights, pipe.pooling, pipe.normalize, outputs=("sentence_embedding",))
    with atomic_folder(out) as stage:  # every file complete before any replaces the old ones
        files.save(bind(graph, {"batch": batch, "sequence": seq_len}), stage, name=embedder.path.name or "minilm")
        embedder.tokenizer.inner.save(str(stage / "tokenizer.json"))
        (stage / "config.json").write_text(json.dumps(dataclasses.asdict(embedder.config), indent=2) + "\n")
        settings = {"format": "minilm-webnn", "version": 1, "batch": batch, "sequence_length": seq_len,
                    "max_seq_length": min(pipe.max_seq_length, seq_len), "pooling": pipe.pooling,
                    "normalize": pipe.normalize, "output": "sentence_embedding", "source": str(embedder.path)}
        (stage / CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
    return out / GRAPH


def export_head(model, out: str | os.PathLike, batch: int = 1, seq_len: int = 128) -> Path:
    """A model with a head (minilm.CrossEncoder / Classifier / MaskedLM) as WebNN files: its graph to
    ``logits``, static. A masked LM's ``positions`` input is bound to batch * seq_len (every slot; feed
    the flat indices b * T + t, any of them repeated): a static graph cannot know where the masks are."""
    if not (isinstance(batch, int) and batch >= 1 and isinstance(seq_len, int) and 2 <= seq_len <= model.config.max_position_embeddings):
        raise ValueError(f"batch must be >= 1 and seq_len from 2 to {model.config.max_position_embeddings}, "
                         f"got batch={batch!r} seq_len={seq_len!r}")
    out = Path(out)
    graph = heads.build(model.config, model.weights, model.head, model.tied)
    sizes = {"batch": batch, "sequence": seq_len} | ({heads.M: batch * seq_len} if model.head == "masked_lm" else {})
    with atomic_folder(out) as stage:  # every file complete before any replaces the old ones
        files.save(bind(graph, sizes), stage, name=model.path.name or model.head)
        model.tokenizer.inner.save(str(stage / "tokenizer.json"))
        (stage / "config.json").write_text(json.dumps(dataclasses.asdict(model.config), indent=2) + "\n")
        settings = {"format": "minilm-webnn", "version": 1, "batch": batch, "sequence_length": seq_len, "head": model.head,
                    "max_seq_length": min(model.max_length, seq_len), "output": "logits", "source": str(model.path)}
        if model.head == "sequence_classification":
            settings["labels"] = list(model.labels)
        (stage / CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
    return out / GRAPH


class WebnnEmbedder(Embedder):
    """An Embedder running a static WebNN graph: fixed batch and sequence length."""

    def __init__(self, path: Path, config: BertConfig, pipeline: PipelineConfig, graph, tokenizer, batch: int,
                 seq_len: int, backend: str, threads: int | None, options: dict | None = None):
        self.batch, self.seq_len, self.graph = batch, seq_len, graph
        super().__init__(path, config, pipeline, {}, tokenizer, backend, threads, options)

    def executor(self, output: str, normalize: bool):
        if output != "sentence_embedding" or normalize != self.pipeline.normalize:
            raise ConfigError(f"{self.path}: this WebNN export computes only sentence_embedding with normalize="
                              f"{self.pipeline.normalize}; export the original model again for other outputs")
        if not self._executors:
            self._executors["graph"] = make_executor(self.backend, self.graph, self.threads, **self.options)
        return self._executors["graph"]

    encode_packed = None  # fixed shapes: no packed graph (a server runs padded calls, Batcher._encode)

    def encode(self, texts, *args, **kwargs):
        items = check_texts(texts)
        cut = sum(bool(e.overflowing) for e in self.tokenizer.encodings(items))
        if cut:
            warnings.warn(f"{cut} of {len(items)} texts are longer than this WebNN export's sequence length "
                          f"({self.seq_len} tokens) and were truncated", stacklevel=2)
        return super().encode(texts if isinstance(texts, str) else items, *args, **kwargs)

    def encode_ids(self, ids, batch_size: int = 32, normalize=None, output="sentence_embedding",
                   show_progress_bar=False, single=False, max_batch_tokens=None):  # fixed shapes: the export's batch
        normalize = self.pipeline.normalize if normalize is None else check_normalize(normalize)
        executor = self.executor(output, normalize)
        rows = []
        for start in range(0, len(ids), self.batch):
            chunk = ids[start:start + self.batch]
            padded = chunk + [[self.config.pad_token_id]] * (self.batch - len(chunk))  # fill the static batch
            feeds = self._feeds(padded)
            feeds["attention_mask"][len(chunk):] = 0
            rows.append(executor.run(feeds, [output])[output][:len(chunk)])
        stacked = np.concatenate(rows).astype(np.float32, copy=False) if rows else np.zeros((0, self.dim), np.float32)
        return stacked[0] if single else stacked

    def _feeds(self, batch):  # the graph's fixed sequence length
        return super()._feeds(batch, self.seq_len)


def load(path: Path, backend: str = "onnxruntime", threads: int | None = None, max_length: int | None = None,
         tokenizer=None, options: dict | None = None) -> WebnnEmbedder:
    try:
        settings = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        if settings.get("head"):
            raise ConfigError(f"{path}: a WebNN export of a {settings['head']} head, not an embedding model; "
                              "run it with `minilm webnn run`")
        config = BertConfig(**json.loads((path / "config.json").read_text(encoding="utf-8")))
        batch, seq_len = int(settings["batch"]), int(settings["sequence_length"])
        pipeline = PipelineConfig(int(settings["max_seq_length"]), settings["pooling"], bool(settings["normalize"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: {CONFIG} / config.json unreadable ({exc}); export the model again") from exc
    if max_length is not None and not 2 <= max_length <= seq_len:
        raise ConfigError(f"max_length must be from 2 to {seq_len} (the sequence length of this WebNN export)")
    graph = files.load(path / GRAPH)
    tok = load_tokenizer(Path(tokenizer) if tokenizer else path, max_length or pipeline.max_seq_length)
    return WebnnEmbedder(path, config, pipeline, graph, tok, batch, seq_len, backend, threads, options)
