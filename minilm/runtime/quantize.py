"""int8 weights for the lowered ONNX model, by onnxruntime.quantization's dynamic quantisation.

Weights become int8 (per output channel), activations are quantised to uint8 per batch at run
time; the fused Attention becomes QAttention. The feed-forward MatMuls (intermediate.dense and
output.dense of each layer) stay float32: quantising them too drops the minimum cosine to
sentence-transformers on the golden texts from 0.992 to 0.966 (measured; docs/perf-notes.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import BackendError


def sensitive(model) -> list[str]:
    """Names of the nodes kept in float32: the feed-forward MatMuls (named by fusion.prune)."""
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and
            (n.name.endswith(".intermediate.dense") or (n.name.endswith(".output.dense") and ".attention." not in n.name))]


def quantize_int8(model, per_channel: bool = True, exclude: list[str] | None = None):
    """The int8 form of an ONNX ``model`` (a ModelProto); ``exclude``: node names kept in float32
    (default: ``sensitive(model)``; [] quantises every MatMul)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="minilm-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        try:
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                             nodes_to_exclude=sensitive(model) if exclude is None else exclude, extra_options={"MatMulConstBOnly": True,
                                            "DefaultTensorType": onnx.TensorProto.FLOAT})
        except Exception as exc:
            raise BackendError(f"int8 quantisation failed: {exc}") from exc
        return onnx.load(str(dst))
