"""int8 weights for the lowered ONNX model, by onnxruntime.quantization's dynamic quantisation.

Weights become int8 (per output channel), activations are quantised to uint8 per batch at run
time; the fused Attention becomes QAttention. The feed-forward MatMuls (intermediate.dense and
output.dense of each layer) are kept out of it (the input projection is quantised per row before,
runtime/per_row.py; the output projection stays float32): quantising them here drops the minimum cosine to
sentence-transformers on the golden texts from 0.992 to 0.966 (measured; docs/perf-notes.md). Given
calibration feeds (``quantize_int8(..., calibration=)``, as ``minilm.load(quantize="int8")`` and
``minilm export --int8`` pass), the outlier input channels of the attention's MatMuls and of the
feed-forward input are scaled first (runtime/smooth.py), and the feed-forward input is then
quantised per row (runtime/per_row.py).

On x86 CPUs without VNNI, ONNX Runtime's u8 x s8 kernel multiplies with AVX2's ``vpmaddubsw``, whose
sums of two products saturate at 16 bits when the weights use the full int8 range (255 x 127 x 2 >
32767); there the weights are quantised to 7 bits (``reduce_range``), which measured better on such a
machine: golden-text min cosine 0.9914 instead of 0.9880 (the bound is 0.99), short corpus 0.99425
instead of 0.99303, long 0.99709 instead of 0.99242. With VNNI (or on ARM) nothing saturates and the
full 8 bits are kept.
"""

from __future__ import annotations

import platform
import tempfile
from pathlib import Path

from ..errors import BackendError


def sensitive(model) -> list[str]:
    """Names of the nodes kept in float32: the feed-forward MatMuls (named by fusion.prune)."""
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and
            (n.name.endswith(".intermediate.dense") or (n.name.endswith(".output.dense") and ".attention." not in n.name))]


def fold_weight_transposes(model):
    """``model`` (ModelProto, changed in place) with every ``Transpose`` of a weight that feeds ``MatMul``s
    replaced by the transposed weight (``<name>.T``), and each such unnamed MatMul named after its
    weight (``encoder.layer.0.intermediate.dense``): the unfused lowering writes ``nn.Linear`` as
    ``MatMul(x, Transpose(W))``, which ``quantize_dynamic`` would leave float32 (it quantises MatMuls
    of constant weights) and ``sensitive`` could not name."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    users: dict[str, list] = {}
    for n in model.graph.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
    keep = []
    for n in model.graph.node:
        source = n.input[0] if n.op_type == "Transpose" else None
        consumers = users.get(n.output[0], []) if source in inits else []
        if not consumers or any(c.op_type != "MatMul" or c.input[1] != n.output[0] for c in consumers):
            keep.append(n)
            continue
        perm = next((list(a.ints) for a in n.attribute if a.name == "perm"), None)
        name = source + ".T"
        if name not in inits:
            inits[name] = numpy_helper.from_array(numpy_helper.to_array(inits[source]).transpose(perm).copy(), name)
            model.graph.initializer.append(inits[name])
        for c in consumers:
            c.input[1] = name
    return replace_nodes(model, keep)


def replace_nodes(model, nodes: list):
    """``model`` with ``nodes`` as its node list, pruned by ``fusion.prune`` (initializers no node uses
    dropped; each MatMul of a ``<checkpoint name>.weight.T`` named after it)."""
    from .fusion import prune

    nodes, initializers = prune(list(nodes), list(model.graph.initializer), [o.name for o in model.graph.output])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(initializers)
    return model


VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")  # /proc/cpuinfo flags of int8 dot products without saturation


def saturates(cpuinfo: str | None = None) -> bool:
    """Whether ORT's int8 GEMM here is AVX2's saturating one: an x86 CPU whose flags (``cpuinfo``, default
    /proc/cpuinfo) name no VNNI. True on x86 where the flags cannot be read (the safe choice)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return True
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return not any(f in flags for f in VNNI)


def quantize_int8(model, per_channel: bool = True, exclude: list[str] | None = None, reduce_range: bool | None = None,
                  calibration: list | None = None):
    """The int8 form of an ONNX ``model`` (a ModelProto); ``exclude``: node names kept in float32
    (default: ``sensitive(model)``; [] quantises every MatMul); ``reduce_range``: 7-bit weights
    (default: ``saturates()``); ``calibration``: feeds for the channel scales (runtime/smooth.py),
    which also turn on the per-row feed-forward input (runtime/per_row.py); with it ``model`` itself
    is changed (scaled, and its feed-forward inputs rewritten)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reduce_range = saturates() if reduce_range is None else reduce_range
    if calibration:
        from .per_row import per_row_int8
        from .smooth import smooth
        model = per_row_int8(smooth(model, calibration), reduce_range)

    with tempfile.TemporaryDirectory(prefix="minilm-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        try:
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                             reduce_range=reduce_range,
                             nodes_to_exclude=sensitive(model) if exclude is None else exclude, extra_options={"MatMulConstBOnly": True,
                                            "DefaultTensorType": onnx.TensorProto.FLOAT})
        except Exception as exc:
            raise BackendError(f"int8 quantisation failed: {exc}") from exc
        return onnx.load(str(dst))
