"""int8 weights for the lowered ONNX model, by onnxruntime.quantization's dynamic quantisation.

Weights become int8 (per output channel), activations are quantised to uint8 per batch at run
time; the fused Attention becomes QAttention. The feed-forward MatMuls (intermediate.dense and
output.dense of each layer) are kept out of it (the input projection is quantised per row before,
runtime/per_row.py; the output projection stays float32): quantising them here drops the minimum cosine to
sentence-transformers on the golden texts from 0.992 to 0.966 (measured; docs/notes/performance.md). Given
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

import contextlib
import logging
import platform
import tempfile
from pathlib import Path

from .. import logs
from ..errors import BackendError

log = logs.get("runtime")


HEAD_WEIGHTS = ("pooler.", "classifier", "cls.predictions.", "embeddings.word_embeddings")  # the heads' (models/heads.py)


def sensitive(model) -> list[str]:
    """Names of the nodes kept in float32 (named by fusion.prune): the feed-forward MatMuls, and the heads'
    (pooler, classifier, the masked LM's transform and decoder), which run on one row per text or per
    mask, so int8 would save nothing there: a masked LM's decoder in int8 kept the top-1 token of a
    full-size MiniLM at only part of the masks (benchmarks/probes/head_precision.py)."""
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and
            (n.name.endswith(".intermediate.dense") or (n.name.endswith(".output.dense") and ".attention." not in n.name)
             or n.name.startswith(HEAD_WEIGHTS))]


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


class _Held(logging.Filter):
    """Holds back the root logger's records (their messages in ``held``)."""

    def __init__(self):
        super().__init__()
        self.held: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.held.append(record.getMessage())
        return False


@contextlib.contextmanager
def _root_to_debug():
    """onnxruntime.quantization logs advice ("consider to run pre-processing") on the root logger, which a
    library must not print: while it runs, such records are held and then logged at debug on
    minilm.runtime, and the handler that logging.warning() puts on a bare root logger is taken off again."""
    root, held = logging.getLogger(), _Held()
    handlers = list(root.handlers)
    root.addFilter(held)
    try:
        yield
    finally:
        root.removeFilter(held)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for message in held.held:
            log.debug("onnxruntime.quantization: %s", message)


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
            with _root_to_debug():
                quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                                 reduce_range=reduce_range,
                                 nodes_to_exclude=sensitive(model) if exclude is None else exclude,
                                 extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})
        except Exception as exc:
            raise BackendError(f"int8 quantisation failed: {exc}") from exc
        return onnx.load(str(dst))
