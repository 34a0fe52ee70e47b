"""A BERT with a head: found and read like an embedding model, run through one executor of its head's graph.

``HeadModel`` holds what ``CrossEncoder``, ``Classifier`` and ``MaskedLM`` share: the checkpoint (a
Hugging Face / sentence-transformers folder, by path or name as ``minilm.load`` finds it, or an exported
``.onnx`` file whose tensor names are recoverable), its config and labels, the tokenizer and the
executor; ``_run`` tokenizes nothing, it runs token ids (and token types) sorted by length in batches and
returns the logits in the caller's order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .. import sources
from ..batching import batches
from ..checkpoints import check_weights, read_onnx, read_tensors
from ..config import HeadConfig, read_bert_config, read_head_config, read_pipeline_config
from ..errors import ConfigError, InputError
from ..loading import check_max_length, precision_backend, record_choice
from ..models import heads
from ..runtime import check_backend, make_executor
from ..runtime.precision import resolve as resolve_precision
from ..tokenizer import load_tokenizer
from . import activations

FUNCTIONS = {"softmax": lambda x: activations.softmax(x, axis=1), "sigmoid": activations.sigmoid, "none": activations.identity}
MAX_BATCH_TOKENS = 4096  # padded tokens per call: pairs are longer than single sentences
# head: (a tensor only it has, its name, the tensors it is made of, the class that loads it)
WHAT = {"sequence_classification": ("classifier.weight", "classifier", "classifier.weight", "minilm.CrossEncoder"),
        "masked_lm": ("cls.predictions.transform.dense.weight", "masked-LM head", "cls.predictions.*", "minilm.MaskedLM")}


def _missing_head(file: Path, head: str, tensors: dict) -> ConfigError:
    """What the checkpoint is instead, and how to load it."""
    others = [h for h in heads.HEADS if h != head and WHAT[h][0] in tensors]
    if others:
        _, name, names, cls = WHAT[others[0]]
        hint = f"it has a {name} ({names}): load it with {cls}"
    else:
        hint = "it is a bi-encoder (or a bare BERT): load it with minilm.load"
    return ConfigError(f"{file}: this checkpoint has no {WHAT[head][1]}: {hint}")


def _exported_max_length(folder: Path, tokenizer_folder: Path, config) -> int:
    """An .onnx file's max length: minilm_export.json beside it (``minilm export``), else the tokenizer
    folder's model_max_length, else max_position_embeddings."""
    for path, key in ((folder / "minilm_export.json", "max_seq_length"), (tokenizer_folder / "tokenizer_config.json", "model_max_length")):
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and 2 <= value:
            return min(value, config.max_position_embeddings)
    return config.max_position_embeddings


def _exported_head(folder: Path) -> HeadConfig | None:
    """Labels, problem type and activation that ``minilm export --head`` wrote beside its .onnx file."""
    try:
        settings = json.loads((folder / "minilm_export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(settings.get("labels"), list) or not settings["labels"]:
        return None
    return HeadConfig(labels=tuple(map(str, settings["labels"])), problem_type=settings.get("problem_type"),
                      activation_fn=settings.get("activation_fn"), activation_source=f"{folder / 'minilm_export.json'}: activation_fn")


class HeadModel:
    """Base of the models with a head. ``head`` is one of minilm.models.heads.HEADS. ``precision`` is
    minilm.load's ("fp32" | "bf16" | "int8" | "auto"; the choice and why: ``precision`` /
    ``precision_reason``); the fidelity of each on logits is in docs/use.md."""

    head = ""
    org = "cross-encoder"  # of a model name without one, as sentence-transformers' CrossEncoder has it

    def __init__(self, model: str | os.PathLike | None, backend: str = "onnxruntime", threads: int | None = None,
                 max_length: int | None = None, tokenizer: str | os.PathLike | None = None,
                 device: str | None = None, dtype: str | None = None, precision: str = "fp32"):
        check_backend(backend)
        choice = resolve_precision(precision)
        backend, precision_options = precision_backend(choice.precision, backend)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        path = sources.resolve(model, self.org)
        if (path / "webnn_config.json").is_file():
            raise ConfigError(f"{path}: a WebNN export runs with `minilm webnn run`; load the original checkpoint here")
        onnx_path = sources.onnx_file(path)
        if onnx_path:  # names recoverable (ours, torch.onnx.export, optimum); config.json beside it, if any, for heads and labels
            file, folder = onnx_path, onnx_path.parent
            if folder.name == "onnx" and (folder.parent / "config.json").exists():  # a hub repository's onnx/model.onnx
                folder = folder.parent
            config, tensors = read_onnx(onnx_path, read_bert_config(folder) if (folder / "config.json").exists() else None)
            max_seq_length = _exported_max_length(folder, Path(tokenizer) if tokenizer is not None else folder, config)
            head_config = read_head_config(folder) if (folder / "config.json").exists() else _exported_head(folder)
        else:
            config = read_bert_config(path)
            head_config = read_head_config(path)
            tensors, file = read_tensors(path)
            folder, max_seq_length = path, read_pipeline_config(path, config).max_seq_length
        if WHAT[self.head][0] not in tensors:
            raise _missing_head(file, self.head, tensors)
        if head_config is None:
            n = tensors["classifier.weight"].shape[0] if "classifier.weight" in tensors else 2
            head_config = HeadConfig(labels=tuple(f"LABEL_{i}" for i in range(n)))
        self.tied = head_config.tie_word_embeddings or heads.DECODER not in tensors
        extra = heads.head_shapes(config, self.head, len(head_config.labels), self.tied)
        self.weights = check_weights(tensors, config, file, extra)
        check_max_length(max_length, config, path)
        self.path, self.config, self.head_config = path, config, head_config
        self.tokenizer = load_tokenizer(Path(tokenizer) if tokenizer is not None else folder, max_length or max_seq_length)
        self.backend, self.threads = backend, threads
        options = {k: v for k, v in {"device": device, "dtype": dtype}.items() if v is not None} | precision_options
        if options.get("quantize"):  # int8: the attention's channel scales (runtime/smooth.py) need calibration runs
            options["calibration"] = self._calibration()
        self.executor = make_executor(backend, heads.build(config, self.weights, self.head, self.tied), threads, **options)
        record_choice(self, choice, stacklevel=3 if type(self).__init__ is HeadModel.__init__ else 4)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.head_config.labels

    @property
    def num_labels(self) -> int:
        return len(self.head_config.labels)

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def function(self, name: str | None = None):
        """The text-classification pipeline's function of the logits: ``name`` softmax / sigmoid / none, or None
        for its default (none for problem_type regression, sigmoid for multi_label_classification or one
        label, else softmax)."""
        if name is None:
            kind = self.head_config.problem_type
            name = ("none" if kind == "regression" else "sigmoid" if kind == "multi_label_classification" or self.num_labels == 1
                    else "softmax")
        if name not in FUNCTIONS:
            raise ValueError(f"function_to_apply must be one of {', '.join(FUNCTIONS)} or None, got {name!r}")
        return FUNCTIONS[name]

    def _calibration(self) -> list[dict[str, np.ndarray]]:
        """Feeds of random token ids (runtime/smooth.py) in batches of 32; a masked LM's at every position."""
        from ..runtime.smooth import calibration_ids
        ids = calibration_ids(self.config.vocab_size, self.tokenizer.encode([""])[0], self.tokenizer.max_length)
        feeds = [self._feeds([(x, [0] * len(x)) for x in ids[i:i + 32]]) for i in range(0, len(ids), 32)]
        if self.head == "masked_lm":
            for f in feeds:
                f["positions"] = np.arange(f["input_ids"].size, dtype=np.int64)
        return feeds

    def _feeds(self, batch: list[tuple[list[int], list[int]]]) -> dict[str, np.ndarray]:
        """Padded to the batch's longest: ids with the pad id, token types with 0."""
        width = max(len(ids) for ids, _ in batch)
        input_ids = np.full((len(batch), width), self.config.pad_token_id, np.int64)
        attention_mask = np.zeros((len(batch), width), np.int64)
        token_type_ids = np.zeros((len(batch), width), np.int64)
        for row, (ids, types) in enumerate(batch):
            input_ids[row, :len(ids)], attention_mask[row, :len(ids)], token_type_ids[row, :len(ids)] = ids, 1, types
        return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}

    def _run(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 32, show_progress_bar: bool = False,
             positions: list[list[int]] | None = None):
        """Logits in the caller's order: (n, L) for sequence classification; for masked_lm, one (len(p), V)
        array per item, at its ``positions``."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        calls = batches([len(ids) for ids, _ in encoded], batch_size, MAX_BATCH_TOKENS)
        if show_progress_bar:
            from tqdm.auto import tqdm
            calls = tqdm(calls, desc="Batches", unit="batch")
        if positions is None:
            out = np.zeros((len(encoded), self.num_labels), np.float32)
            for chunk in calls:
                out[chunk] = self.executor.run(self._feeds([encoded[i] for i in chunk]), ["logits"])["logits"]
            return out
        results: list = [None] * len(encoded)
        for chunk in calls:
            feeds = self._feeds([encoded[i] for i in chunk])
            width = feeds["input_ids"].shape[1]
            flat = [row * width + p for row, i in enumerate(chunk) for p in positions[i]]
            feeds["positions"] = np.asarray(flat, np.int64)
            logits = self.executor.run(feeds, ["logits"])["logits"] if flat else np.zeros((0, self.config.vocab_size), np.float32)
            start = 0
            for i in chunk:
                results[i] = logits[start:start + len(positions[i])]
                start += len(positions[i])
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.path)!r}, backend={self.backend!r}, labels={list(self.labels)!r}, "
                f"max_length={self.max_length})" if self.head == "sequence_classification" else
                f"{type(self).__name__}({str(self.path)!r}, backend={self.backend!r}, max_length={self.max_length})")


def is_pair(item) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item)


def check_pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    """A list of (text, text) pairs, each a tuple or list of two strings; InputError names the bad one."""
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise InputError(f"{name} must be a list of (text, text) pairs, got {type(pairs).__name__}")
    items = list(pairs)
    for i, item in enumerate(items):
        if not is_pair(item):
            raise InputError(f"{name}[{i}] must be a pair of two strings (query, document), got {_describe(item)}")
    return [(a, b) for a, b in items]


def _describe(item) -> str:
    if isinstance(item, (tuple, list)):
        return f"a {type(item).__name__} of {len(item)}: {', '.join(type(t).__name__ for t in item)}"
    return type(item).__name__
