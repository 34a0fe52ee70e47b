"""Is a batch-1 query bound by reading the weights? (target: a single query's p50 <= 0.7x plain ORT's)

    python benchmarks/probes/batch1_memory.py [--rows 12] [--calls 50] [--rounds 5] [--float16]

Runs a chain of 18 feed-forward-shaped GEMM pairs, ``(rows x 384) @ (384 x 1536)`` then
``@ (1536 x 384)``, on ``rows`` tokens (a short query), in ONNX Runtime at 1 and 2 threads. The
same FLOPs every time; only how many distinct weight pairs the chain cycles through changes: 1 pair
(4.7 MB, stays in cache) up to 18 (85 MB). all-MiniLM-L6-v2's encoder reads 42 MB of float32 weights
per call (about 9 pairs' worth). Blocks of --calls consecutive calls per chain, the chains taking
turns for --rounds; prints the best and the median block's p50 per call. If the 9-pair chain takes
far longer than the 1-pair one, a query's time is mostly the weights' trip from memory, the same
for every float32 engine on this CPU: only fewer weight bytes (int8, bf16) would shorten it.
``--float16``: the chains in ONNX Runtime's float16 MatMul instead (input cast to float16 and back),
to see whether its CPU kernel turns half the bytes into time saved (on a CPU without AVX512-FP16 it
did not: float32 speed at best).
A developer's probe: it checks nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

DEPTH = 18


def pairs(distinct: int, rng, dtype=np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    """``distinct`` random (up 384 x 1536, down 1536 x 384) weight pairs."""
    return [((rng.standard_normal((384, 1536)) * 0.02).astype(dtype), (rng.standard_normal((1536, 384)) * 0.02).astype(dtype))
            for _ in range(distinct)]


def chain(weights: list[tuple[np.ndarray, np.ndarray]], threads: int) -> ort.InferenceSession:
    """A session of DEPTH pairs of MatMuls cycling through ``weights`` (float16 ones: input and output cast)."""
    float16 = weights[0][0].dtype == np.float16
    inits, nodes, x = [], [], "x"
    if float16:
        nodes.append(helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16))
        x = "x16"
    for i, (up, down) in enumerate(weights):
        inits += [numpy_helper.from_array(up, f"up{i}"), numpy_helper.from_array(down, f"down{i}")]
    for d in range(DEPTH):
        j = d % len(weights)
        nodes += [helper.make_node("MatMul", [x, f"up{j}"], [f"h{d}"]), helper.make_node("MatMul", [f"h{d}", f"down{j}"], [f"y{d}"])]
        x = f"y{d}"
    if float16:
        nodes.append(helper.make_node("Cast", [x], ["y"], to=TensorProto.FLOAT))
        x = "y"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 384])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["rows", 384])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def block_p50(fns: dict, calls: int, rounds: int) -> dict:
    """Per key, the p50 seconds of ``calls`` consecutive calls of its function, one block a round: each
    function's data stay as cached as they can within a block, and the functions take turns block by
    block, against the shared host's drift."""
    p50 = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            fn()
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            p50[key].append(float(np.median(times)))
    return p50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--float16", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, 384)).astype(np.float32)
    configs = [(threads, distinct) for threads in (1, 2) for distinct in (1, 3, 6, 9, 18)]
    dtype = np.float16 if args.float16 else np.float32
    sessions = {c: chain(pairs(c[1], rng, dtype), c[0]) for c in configs}
    p50 = block_p50({c: (lambda s=s: s.run(None, {"x": x})) for c, s in sessions.items()}, args.calls, args.rounds)
    for (threads, distinct), t in p50.items():
        mb = distinct * 2 * 384 * 1536 * (2 if args.float16 else 4) / 1e6
        print(f"threads {threads} | {distinct:2d} distinct pairs ({mb:5.1f} MB) | p50 per call, best block {min(t) * 1e3:.3f} ms, "
              f"median block {np.median(t) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
