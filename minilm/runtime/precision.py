"""The precision of the encoder's arithmetic, and what ``precision="auto"`` picks on a CPU.

- ``fp32`` (default): float32 on ONNX Runtime; the same vectors on every machine (cosine >= 0.99999
  to sentence-transformers).
- ``bf16``: OpenVINO (``pip install 'minilm[openvino]'``) runs minilm's own ONNX lowering with
  INFERENCE_PRECISION_HINT=bf16: the linears and the attention in bfloat16, layer norms, pooling and
  L2 in float32 (runtime/openvino_exec.py). Fast where the CPU multiplies bfloat16 natively (AMX, or
  AVX512_BF16); elsewhere it runs, slower than fp32, with a warning.
- ``int8``: int8 weights on ONNX Runtime (runtime/quantize.py), ``quantize="int8"`` is its alias.
- ``auto``: the fastest precision that holds min cosine >= 0.9999 on this CPU, chosen from its flags
  by ``choose`` (not by timing at load): bf16 where bfloat16 is native and OpenVINO is installed,
  else fp32; never int8 (min cosine 0.996 is under that bound).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

PRECISIONS = ("fp32", "bf16", "int8", "auto")
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")  # those that decide; `minilm info` prints them
# CPU flag -> the unit that multiplies bfloat16 natively. AVX512_BF16 without AMX counts: OpenVINO bf16 measured
# 1.9x its own f32 there (AMD EPYC, benchmarks/probes/bf16_engine.py, docs/performance.md)
NATIVE_BF16 = {"amx_bf16": "AMX", "avx512_bf16": "AVX512_BF16"}
INSTALL = "pip install 'minilm[openvino]'"


@dataclass(frozen=True)
class Choice:
    """A resolved precision and why it was picked."""
    precision: str
    reason: str


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The FLAGS this CPU has (Linux /proc/cpuinfo; an empty set where that cannot be read)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split()) & frozenset(FLAGS)
    except OSError:
        pass
    return frozenset()


def engine_installed() -> bool:
    """Whether OpenVINO, the bf16 engine, can be imported."""
    try:
        return importlib.util.find_spec("openvino") is not None
    except (ImportError, ValueError):
        return False


def native_bf16(flags) -> str | None:
    """The unit that multiplies bfloat16 natively on a CPU with ``flags``, or None."""
    return next((unit for flag, unit in NATIVE_BF16.items() if flag in flags), None)


def choose(flags, engine: bool) -> Choice:
    """What ``precision="auto"`` is on a CPU with ``flags`` (a set of /proc/cpuinfo flag names), with OpenVINO
    installed or not (``engine``). Pure: no CPU or import is looked at."""
    unit = native_bf16(flags)
    if unit and engine:
        return Choice("bf16", f"this CPU multiplies bfloat16 natively ({unit}) and OpenVINO is installed: bf16 "
                              "is the fastest precision that keeps cosine >= 0.9999 to fp32")
    if unit:
        return Choice("fp32", f"this CPU multiplies bfloat16 natively ({unit}), but bf16 needs OpenVINO ({INSTALL})")
    return Choice("fp32", "no native bfloat16 on this CPU (neither amx_bf16 nor avx512_bf16): bf16 would be "
                          "slower than fp32, and int8 does not keep cosine >= 0.9999")


def slow_bf16(flags) -> str | None:
    """The warning for bf16 on a CPU with ``flags`` that has no native bfloat16, else None."""
    if native_bf16(flags):
        return None
    return ("precision='bf16' on a CPU without native bfloat16 (neither amx_bf16 nor avx512_bf16): it works, "
            "but it is slower than fp32 here; precision='auto' picks the fastest")


def resolve(precision: str, quantize: str | None = None, flags=None, engine: bool | None = None) -> Choice:
    """``load``'s precision= (with its alias quantize="int8") as fp32 | bf16 | int8, and why."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    if quantize == "int8":
        if precision not in ("fp32", "int8"):
            raise ValueError(f"quantize='int8' is precision='int8'; it cannot be combined with precision={precision!r}")
        return Choice("int8", "asked for (quantize='int8')")
    if precision != "auto":
        return Choice(precision, "asked for" if precision != "fp32" else "the default")
    return choose(cpu_flags() if flags is None else flags, engine_installed() if engine is None else engine)
