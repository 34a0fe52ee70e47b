"""``load``: find a model, read its config, weights and tokenizer, and build its Embedder.

It sits above ``embedder`` and ``webnn.model``: a folder written by ``minilm export --format webnn`` loads
as a WebnnEmbedder, anything else as an Embedder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from . import logs, sources
from .checkpoints import check_weights, load_onnx, read_tensors
from .config import PipelineConfig, read_bert_config, read_pipeline_config
from .embedder import Embedder
from .errors import BackendError, ConfigError, ModelWarning, PrecisionWarning
from .presets import check_preset, find_preset, preset_pipeline
from .runtime import check_backend, check_threads
from .runtime.precision import Choice, cpu_flags, slow_bf16
from .runtime.precision import resolve as resolve_precision
from .tokenizer import load_tokenizer

log = logs.get("loading")


def check_max_length(max_length: int | None, config, path: Path) -> None:
    if max_length is not None:
        if not isinstance(max_length, int) or not 2 <= max_length <= config.max_position_embeddings:
            raise ConfigError(f"max_length must be an integer from 2 to {config.max_position_embeddings} "
                              f"(max_position_embeddings of {path}), got {max_length!r}")


def load(model: str | os.PathLike | None = None, backend: str = "onnxruntime", threads: int | None = None,
         max_length: int | None = None, tokenizer: str | os.PathLike | None = None,
         device: str | None = None, dtype: str | None = None, quantize: str | None = None,
         precision: str = "fp32") -> Embedder:
    """Load a model (default: all-MiniLM-L6-v2, found offline) and build its executor.

    ``model`` is a folder, a name, or an exported BERT ``.onnx`` file; ``tokenizer`` is a folder
    with tokenizer.json / vocab.txt when the model has none beside it. ``device`` ("cuda", "mps",
    "cpu"; default: the first available) and ``dtype`` ("float16" on GPU) apply to backend="torch".
    ``precision`` (runtime/precision.py): "fp32" (default, exact) | "bf16" (OpenVINO, minilm[openvino]:
    bfloat16 matrix products, cosine >= 0.9999 to fp32) | "int8" (int8 weights, cosine >= 0.99) | "auto"
    (the fastest of these that keeps 0.9999 on this CPU, from its flags); ``quantize="int8"`` is
    ``precision="int8"``. The choice and its reason are ``model.precision`` / ``model.precision_reason``.
    """
    check_backend(backend)
    choice = resolve_precision(precision, quantize)
    backend, precision_options = precision_backend(choice.precision, backend)
    check_threads(threads)
    path = sources.resolve(model)
    if (path / "webnn_config.json").is_file():  # a folder written by `minilm export --format webnn`
        log.info("%s is a WebNN export: static batch and sequence length, sentence_embedding only", path)
        from .webnn.model import load as load_webnn
        if choice.precision == "int8":
            raise BackendError(f"{path} is a WebNN export: precision='int8' applies to a checkpoint, not to it")
        return record_choice(load_webnn(path, backend, threads, max_length, tokenizer, precision_options), choice)
    onnx_path = sources.onnx_file(path)
    preset = find_preset(str(onnx_path.stem if onnx_path else path)) or find_preset(str(model or ""))
    if onnx_path:
        config, weights = load_onnx(onnx_path, preset[1] if preset else None)
        pipeline = preset_pipeline(preset[1], config) if preset else PipelineConfig(config.max_position_embeddings)
        folder = onnx_path.parent
    else:
        config = read_bert_config(path)
        pipeline = read_pipeline_config(path, config)
        weights, folder = None, path
    check_max_length(max_length, config, path)
    tokenizer_path = Path(tokenizer) if tokenizer is not None else folder
    tok = load_tokenizer(tokenizer_path, max_length or pipeline.max_seq_length)
    if weights is None:
        tensors, file = read_tensors(path)
        check_bi_encoder(path, pipeline, tensors)
        weights = check_weights(tensors, config, file)
    if preset:
        check_preset(preset, config, path)
    options = {"device": device, "dtype": dtype} | precision_options
    embedder = record_choice(Embedder(path, config, pipeline, weights, tok, backend, threads, options), choice)
    log.info("loaded %s: %d layers, hidden %d, max length %d (%s), %s pooling%s; backend %s, %s (%s)",
             path, config.num_hidden_layers, config.hidden_size, tok.max_length,
             "--max-length" if max_length else "the model's", pipeline.pooling, ", normalized" if pipeline.normalize else "",
             backend, dtype or choice.precision, choice.reason)
    return embedder


def check_bi_encoder(folder: Path, pipeline: PipelineConfig, tensors: dict) -> None:
    """Refuse a cross-encoder (a classifier on [CLS], and no Pooling module or sentence-transformers says
    CrossEncoder): its encoder's vectors are not sentence embeddings. Warn (ModelWarning) on a masked-LM
    checkpoint with no modules.json, whose mean-pooled vectors were never trained for similarity."""
    pooling = "Pooling" in (pipeline.modules or ())
    if pipeline.model_type == "CrossEncoder" or ("classifier.weight" in tensors and not pooling):
        raise ConfigError(f"{folder}: this checkpoint is a cross-encoder (BertForSequenceClassification: a classifier on "
                          "[CLS] that scores a text or a pair), not a sentence-embedding model; load it with "
                          "minilm.CrossEncoder (scores of pairs) or minilm.Classifier (labels), or on the command line "
                          "with `minilm rerank` / `minilm classify`")
    if "cls.predictions.transform.dense.weight" in tensors and pipeline.modules is None:
        warnings.warn(f"{folder}: a masked-LM checkpoint (BertForMaskedLM) with no sentence-transformers modules.json: "
                      "its vectors are mean-pooled token embeddings of a model not trained for sentence similarity; "
                      "for fill-in use minilm.MaskedLM", ModelWarning, stacklevel=3)


def precision_backend(precision: str, backend: str) -> tuple[str, dict]:
    """The backend and executor options that compute at ``precision`` (fp32 | bf16 | int8) from ``backend``
    (fp32 is every executor's default: no option, so vector records match across backends)."""
    if precision == "fp32":
        return backend, {}
    if precision == "bf16":
        if backend not in ("onnxruntime", "openvino"):
            raise BackendError(f"precision='bf16' runs on OpenVINO; backend={backend!r} computes in float32 "
                               "(leave backend at its default)")
        return "openvino", {"precision": "bf16"}
    if backend != "onnxruntime":
        raise BackendError(f"quantize= applies to the onnxruntime backend only (precision='int8'), not {backend!r}")
    return backend, {"quantize": "int8"}


def record_choice(model, choice: Choice, stacklevel: int = 3):
    """``model`` (an Embedder, or a model with a head) with its precision and why; bf16 where bfloat16 is not
    native warns (PrecisionWarning)."""
    model.precision, model.precision_reason = choice.precision, choice.reason
    if choice.precision == "bf16":
        message = slow_bf16(cpu_flags())
        if message:
            warnings.warn(message, PrecisionWarning, stacklevel=stacklevel)
    return model
