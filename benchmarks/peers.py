"""One function per benchmarked method: each loads its model and returns ``(encode, encode_one)``.

``encode(texts) -> float32 [n, 384]`` embeds a corpus in that method's own batching;
``encode_one(text)`` embeds one query, tokenization included (the batch-1 latency). A missing
package raises ``Unavailable("not installed: pip install X")``; nothing is installed here.
``ctx`` carries ``model_dir`` (the Hugging Face folder), ``files`` (from onnx_files.prepare, or
None when torch is absent), ``threads`` and ``max_length``.
"""

from __future__ import annotations

import inspect

import numpy as np


class Unavailable(Exception):
    """The method cannot run here (a package is missing, or minilm lacks the feature): its cells say n/a."""


def _need(module: str, pip: str):
    try:
        return __import__(module)
    except ImportError:
        raise Unavailable(f"not installed: pip install {pip}") from None


def _ort_session(path, threads: int):
    ort = _need("onnxruntime", "onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _mean_pool_l2(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def _plain_ort(ctx, key: str, batch_size: int = 32):
    """ONNX Runtime on the torch.onnx export: length-sorted batches, mean pooling + L2 in NumPy."""
    if ctx.files is None:
        raise Unavailable("no ONNX export (it needs torch + transformers: pip install torch transformers)")
    tokenizers = _need("tokenizers", "tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(ctx.model_dir / "tokenizer.json"))
    tok.enable_truncation(ctx.max_length)
    tok.no_padding()
    session = _ort_session(ctx.files[key], ctx.threads)

    def run(ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), np.int64)
        for row, x in zip(input_ids, ids):
            row[: len(x)] = x
        mask = (np.arange(width)[None, :] < np.array([len(x) for x in ids])[:, None]).astype(np.int64)
        hidden = session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(input_ids)})[0]
        return _mean_pool_l2(hidden, mask)

    def encode(texts):
        ids = [e.ids for e in tok.encode_batch(texts)]
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = np.empty((len(texts), 384), np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = run([ids[i] for i in chunk])
        return out

    return encode, lambda text: run([tok.encode(text).ids])[0]


def ort_fp32(ctx):
    return _plain_ort(ctx, "fp32")


def ort_int8(ctx):
    return _plain_ort(ctx, "int8")


def sentence_transformers(ctx, batch_size: int = 32):
    torch = _need("torch", "torch")
    st = _need("sentence_transformers", "sentence-transformers")
    torch.set_num_threads(ctx.threads)
    model = st.SentenceTransformer(str(ctx.model_dir), device="cpu")
    model.max_seq_length = ctx.max_length
    return (lambda texts: model.encode(texts, batch_size=batch_size, convert_to_numpy=True),
            lambda text: model.encode(text, convert_to_numpy=True))


def _st_backend(ctx, backend: str, folder: str, ov_config: dict | None = None, batch_size: int = 32):
    """sentence-transformers with backend="openvino" / "onnx" on its export in ctx.files (onnx_files.py), else
    exported at load. OpenVINO: its default precision (bf16 where the CPU has it), LATENCY hint, or ``ov_config``."""
    _need("torch", "torch")
    st = _need("sentence_transformers", "sentence-transformers")
    _need("optimum", f"'sentence-transformers[{backend}]'")
    path = ctx.files.get(folder) if ctx.files else None
    if backend == "openvino":
        kwargs = {"ov_config": {"INFERENCE_NUM_THREADS": ctx.threads} | (ov_config or {})}
    else:
        ort = _need("onnxruntime", "onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = ctx.threads, 1
        kwargs = {"provider": "CPUExecutionProvider", "session_options": options}
    model = st.SentenceTransformer(str(path if path and path.exists() else ctx.model_dir), device="cpu", backend=backend,
                                   model_kwargs=kwargs)
    model.max_seq_length = ctx.max_length
    return (lambda texts: model.encode(texts, batch_size=batch_size, convert_to_numpy=True),
            lambda text: model.encode(text, convert_to_numpy=True))


def st_openvino(ctx):
    return _st_backend(ctx, "openvino", "st-openvino")


def st_openvino_f32(ctx):
    return _st_backend(ctx, "openvino", "st-openvino", {"INFERENCE_PRECISION_HINT": "f32"})


def st_onnx(ctx):
    return _st_backend(ctx, "onnx", "st-onnx")


def fastembed(ctx):
    """fastembed on the local export (specific_model_path): its default batch (256), no hub access."""
    fe = _need("fastembed", "fastembed")
    if ctx.files is None:
        raise Unavailable("no ONNX export for fastembed (it needs torch + transformers)")
    model = fe.TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", threads=ctx.threads,
                             specific_model_path=str(ctx.files["fastembed"]), local_files_only=True)
    return (lambda texts: np.asarray(list(model.embed(texts)), np.float32),
            lambda text: np.asarray(list(model.embed([text]))[0], np.float32))


def _minilm(ctx, **kwargs):
    import minilm

    model = minilm.load(threads=ctx.threads, **kwargs)
    return model.encode, model.encode  # its own default batching, whatever the engine does now


def minilm_fp32(ctx):
    return _minilm(ctx)


def minilm_int8(ctx):
    import minilm

    if "quantize" not in inspect.signature(minilm.load).parameters:
        raise Unavailable("this minilm.load has no quantize= parameter")
    return _minilm(ctx, quantize="int8")


def minilm_bf16(ctx):
    import minilm

    if "precision" not in inspect.signature(minilm.load).parameters:
        raise Unavailable("this minilm.load has no precision= parameter")
    _need("openvino", "'minilm[openvino]'")
    return _minilm(ctx, precision="bf16")


METHODS = {"sentence-transformers": sentence_transformers, "st-openvino": st_openvino, "st-openvino-f32": st_openvino_f32,
           "st-onnx": st_onnx, "fastembed": fastembed, "ort-fp32": ort_fp32, "ort-int8": ort_int8, "minilm": minilm_fp32,
           "minilm-int8": minilm_int8, "minilm-bf16": minilm_bf16}
