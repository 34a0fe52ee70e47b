"""Export a loaded model as a standalone ONNX file with dynamic batch and sequence axes.

Inputs follow the common convention (input_ids, attention_mask, token_type_ids: int64 [batch,
sequence]); outputs are last_hidden_state [batch, sequence, hidden] and sentence_embedding
[batch, hidden] (pooled, and normalised when the model says so). The file needs only onnxruntime.
Beside it go ``tokenizer.json`` and ``minilm_export.json`` (max length, pooling, normalisation), so
the folder is complete for other runtimes (the Node.js package in js/, onnxruntime-web).

A model with a head (minilm.CrossEncoder / Classifier / MaskedLM) exports its head's graph instead:
the same three inputs (and ``positions`` (M,), flat ``b * T + t``, for a masked LM) -> ``logits``
(``[batch, labels]``, or ``[positions, vocab]``); ``minilm_export.json`` then names the head and labels.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .atomic import atomic_path, atomic_write, output_file
from .errors import BackendError
from .graph import Graph
from .models import bert, heads


def export_graph(embedder) -> Graph:
    if getattr(embedder, "head", None):  # a HeadModel: its head's graph, as it runs
        return heads.build(embedder.config, embedder.weights, embedder.head, embedder.tied)
    graph = bert.build(embedder.config, embedder.weights, embedder.pipeline.pooling, embedder.pipeline.normalize,
                       outputs=("token_embeddings", "sentence_embedding"))
    graph.outputs = {"last_hidden_state": graph.outputs["token_embeddings"],
                     "sentence_embedding": graph.outputs["sentence_embedding"]}
    return graph


def write_sidecar(embedder, folder: Path, stack: contextlib.ExitStack | None = None) -> None:
    """tokenizer.json and minilm_export.json: what a runtime needs besides the graph (minilm.atomic;
    with STACK, they replace the old files only when the stack closes without error)."""
    with contextlib.ExitStack() if stack is None else contextlib.nullcontext(stack) as files:
        tokenizer = files.enter_context(atomic_path(folder / "tokenizer.json"))
        embedder.tokenizer.inner.save(str(tokenizer))
        if getattr(embedder, "head", None):  # a model with a head: its labels and activation, no pooling
            settings = {"format": "minilm-onnx", "version": 1, "max_seq_length": embedder.max_length, "head": embedder.head,
                        "outputs": ["logits"], "source": str(embedder.path)}
            if embedder.head == "sequence_classification":
                config = embedder.head_config
                settings |= {"labels": list(embedder.labels), "problem_type": config.problem_type,
                             "activation_fn": config.activation_fn}
        else:
            pipe = embedder.pipeline
            settings = {"format": "minilm-onnx", "version": 1, "max_seq_length": embedder.max_length, "pooling": pipe.pooling,
                        "normalize": pipe.normalize, "dim": embedder.dim, "source": str(embedder.path)}
        files.enter_context(atomic_write(folder / "minilm_export.json", "w", encoding="utf-8")).write(
            json.dumps(settings, indent=2) + "\n")


def export_onnx(embedder, out: str | os.PathLike, int8: bool = False) -> Path:
    """Write the model to ``out``. ``int8``: the int8 model of ``minilm.load(quantize="int8")`` in standard
    ONNX ops (runtime/quantize.py: the attention's MatMuls int8 with per-channel weights, the
    feed-forward input per row (runtime/per_row.py), both with the channel scales of runtime/smooth.py;
    the feed-forward output float32), with 7-bit weights so that it
    holds its fidelity on any x86 CPU (runtime/quantize.py: AVX2 without VNNI saturates otherwise).
    The three files are written under temporary names and renamed once all are complete (minilm.atomic)."""
    import onnx

    from .runtime.lowering import to_onnx

    out = output_file(out)  # a folder or a device is refused before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    model = to_onnx(export_graph(embedder))
    if int8 and getattr(embedder, "head", None):
        raise ValueError("int8 export applies to embedding models; export a model with a head in float32")
    if int8:
        from .runtime.quantize import quantize_int8
        from .runtime.rewrite import fold_weight_transposes
        try:
            model = quantize_int8(fold_weight_transposes(model), reduce_range=True, calibration=embedder._calibration(False))
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"int8 quantisation of {embedder.path} failed: {exc}") from exc
    with contextlib.ExitStack() as files:
        onnx.save(model, str(files.enter_context(atomic_path(out))))
        write_sidecar(embedder, out.parent, files)
    return out
