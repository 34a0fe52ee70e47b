"""The fp32 GEMM ceiling of this machine, measured now: the model's own matmul shapes at --threads.

    OPENBLAS_NUM_THREADS=2 python benchmarks/ceiling.py --threads 2     # prints one JSON object

Times ``(rows x 384) @ (384 x 1536)`` (the FFN up-projection of a 32 x 64-token batch) and its
mirror ``(rows x 1536) @ (1536 x 384)`` with NumPy (its BLAS) and with an ONNX Runtime MatMul, best
of --repeat, and reports GFLOP/s for each. The driver takes the larger as the ceiling.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def best_seconds(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def ort_matmul(weight: np.ndarray, threads: int):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    k, n = weight.shape
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", n])],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def measure(threads: int, rows: int = 2048, repeat: int = 20) -> dict:
    rng = np.random.default_rng(0)
    result = {"rows": rows, "threads": threads}
    for backend in ("numpy", "onnxruntime"):
        best = 0.0
        for k, n in ((384, 1536), (1536, 384)):
            x = rng.standard_normal((rows, k), np.float32)
            w = rng.standard_normal((k, n), np.float32)
            try:
                run = (lambda x=x, w=w: x @ w) if backend == "numpy" else (lambda f=ort_matmul(w, threads), x=x: f(x))
            except ImportError:
                break
            best = max(best, 2 * rows * k * n / best_seconds(run, repeat) / 1e9)
        result[f"{backend}_gflops"] = round(best, 1) if best else None
    result["gflops"] = max(v for key, v in result.items() if key.endswith("_gflops") and v)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    print(json.dumps(measure(args.threads, repeat=args.repeat)))
