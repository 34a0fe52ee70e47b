"""Would 16-bit weights shorten a batch-1 query? A kernel of our own, float32 against float16 weights.

    python benchmarks/probes/batch1_f16.py [--calls 50] [--rounds 5]     # needs gcc and AVX-512

benchmarks/probes/batch1_memory.py found a query's GEMMs 1.6-1.8x slower with the encoder's 42 MB of float32
weights than with cached ones, and benchmarks/probes/weights_precision.py that float16 weights with float32
arithmetic hold the float32 fidelity bound. ONNX Runtime has no such kernel on this CPU, so this
compiles a plain one (batch1_f16.c: AVX-512, 12 rows x 16 columns of accumulators, weights packed to
stream once, float16 widened in registers) and times the same chains as batch1_memory.py, one thread:
1 weight pair (cached) and 9 distinct pairs (the encoder's 42 MB in float32, 21 MB in float16), with
float32 and with float16 weights, next to ONNX Runtime's float32 MatMul. Same kernel, same FLOPs: the
difference between its two weight types is what half the bytes buys. Prints p50 per call, best and
median block. A developer's probe: it checks nothing (beyond agreeing with NumPy).
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from batch1_memory import DEPTH, block_p50, chain, pairs  # noqa: E402  (this folder is on sys.path as a script)

HERE = Path(__file__).resolve().parent


def build(tmp: Path) -> ctypes.CDLL:
    lib = tmp / "batch1_f16.so"
    subprocess.run(["gcc", "-O3", "-march=native", "-shared", "-fPIC", str(HERE / "batch1_f16.c"), "-o", str(lib)], check=True)
    return ctypes.CDLL(str(lib))


def pack(w: np.ndarray, dtype) -> np.ndarray:
    """(k, n) -> [n / 16][k][16], contiguous: each 16-column panel streamed once per call."""
    k, n = w.shape
    return np.ascontiguousarray(w.reshape(k, n // 16, 16).transpose(1, 0, 2)).astype(dtype)


def runner(lib: ctypes.CDLL, weights: list[tuple[np.ndarray, np.ndarray]], rows: int, float16: bool):
    fn = lib.gemm_w16 if float16 else lib.gemm_w32
    dtype = np.float16 if float16 else np.float32
    packed = [(pack(u, dtype), pack(d, dtype)) for u, d in weights]
    h, y = np.empty((rows, 1536), np.float32), np.empty((rows, 384), np.float32)
    ptr = ctypes.c_void_p

    def run(x: np.ndarray) -> np.ndarray:
        cur = np.ascontiguousarray(x)
        for d in range(DEPTH):
            u, dn = packed[d % len(packed)]
            fn(ptr(cur.ctypes.data), rows, 384, 1536, ptr(u.ctypes.data), ptr(h.ctypes.data))
            fn(ptr(h.ctypes.data), rows, 1536, 384, ptr(dn.ctypes.data), ptr(y.ctypes.data))
            cur = y.copy()
        return cur
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="minilm-f16-") as tmp:
        lib = build(Path(tmp))
        rng = np.random.default_rng(0)
        x = rng.standard_normal((12, 384)).astype(np.float32)
        runs = {}
        for distinct in (1, 9):
            weights = pairs(distinct, rng)
            expect = x
            for d in range(DEPTH):
                u, dn = weights[d % distinct]
                expect = expect @ u @ dn
            session = chain(weights, 1)
            runs[(distinct, "onnxruntime float32")] = lambda s=session: s.run(None, {"x": x})
            for float16 in (False, True):
                run = runner(lib, weights, 12, float16)
                err = np.abs(run(x) - expect).max() / np.abs(expect).max()
                label = "ours float16 weights" if float16 else "ours float32 weights"
                print(f"{distinct} pair(s), {label}: max error {err:.1e} of the largest |y|")
                runs[(distinct, label)] = lambda run=run: run(x)
        p50 = block_p50(runs, args.calls, args.rounds)
        for (distinct, label), t in p50.items():
            print(f"{distinct} pair(s) | {label} | p50 per call, best block {min(t) * 1e3:.3f} ms, median block {np.median(t) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
