"""How fast can int8 get with ONNX Runtime's int8 kernels, fidelity aside?

    MINILM_CACHE_DIR=off python benchmarks/probes/int8_ceiling.py [--short 2000] [--long 100] [--repeat 3]

Times, on the same token ids: minilm's int8 model (channel scales, feed-forward input per row,
feed-forward output float32), "int8-all" (the same fused graph with every MatMul and the attention
int8, per-tensor activations: the fastest int8 model we can build from ORT's kernels, whatever its
fidelity), our float32 model, and plain ONNX Runtime on the torch export, float32 and
`quantize_dynamic` int8 (engine_probe.py makes both files; needs torch + transformers the first time).

Two settings: one thread, CPU time of this thread; and two threads, wall time, each engine as it runs
in its product (ours: two concurrent runs of a one-thread session, as `run_many`; plain ORT: one
two-thread session). Best of --repeat, interleaved. Prints each time and its ratio to plain ORT int8.
If int8-all is under 1.2x plain ORT int8, no graph rewrite on these kernels meets the int8 target,
since holding the fidelity bound only adds work to it. A developer's probe: it checks nothing.
"""

from __future__ import annotations

import argparse
import copy
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import minilm
from minilm.batching import batches
from minilm.models import bert
from minilm.runtime.lowering import to_onnx
from minilm.runtime.quantize import quantize_int8

from engine_probe import CORPUS, export_plain, plain_ort, read  # noqa: E402  (this folder is on sys.path as a script)
from int8_probe import session  # noqa: E402


def models(emb) -> dict:
    graph = bert.build(emb.config, emb.weights, emb.pipeline.pooling, True, outputs=("sentence_embedding",))
    fp32 = to_onnx(graph, fuse=True)
    return {"minilm-int8": quantize_int8(copy.deepcopy(fp32), calibration=emb._calibration(False)),
            "int8-all": quantize_int8(copy.deepcopy(fp32), exclude=[]), "minilm-fp32": fp32,
            "plain-int8": str(export_plain(True)), "plain-fp32": str(export_plain(False))}


def timer(name: str, model, emb, ids: list[list[int]], threads: int, pool) -> Callable[[], float]:
    """A function that runs the corpus once and returns its seconds (this thread's CPU time when pool is
    None). Plain ORT: engine_probe's runner, one session of ``threads``; ours: a one-thread session, its
    batches on ``pool`` when given (as ``run_many``). Either builds its feeds inside the timing."""
    if name.startswith("plain"):
        encode = plain_ort(model, threads)

        def work():
            encode(ids)
    else:
        sess = session(model)
        names = [i.name for i in sess.get_inputs()]
        chunks = batches([len(x) for x in ids], 32, 1024)

        def one(chunk):
            f = emb._feeds([ids[i] for i in chunk])
            return sess.run(None, {k: f[k] for k in names})

        def work():
            for _ in (pool.map(one, chunks) if pool else map(one, chunks)):
                pass
    clock = time.thread_time if pool is None else time.perf_counter

    def run() -> float:
        start = clock()
        work()
        return clock() - start
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    emb = minilm.load(threads=1)
    built = models(emb)
    pool = ThreadPoolExecutor(2)
    for threads in (1, 2):
        for corpus, n in (("short", args.short), ("long", args.long)):
            ids = emb.tokenize(read(CORPUS / f"{corpus}.jsonl", n))
            runs = {k: timer(k, m, emb, ids, threads, pool if threads == 2 else None) for k, m in built.items()}
            best = {k: float("inf") for k in runs}
            for _ in range(args.repeat):
                for k, run in runs.items():
                    best[k] = min(best[k], run())
            setting = "1 thread, CPU s" if threads == 1 else "2 threads, wall s"
            print(f"{corpus} {n} texts, {setting}: " + " | ".join(
                f"{k} {s:.3f} ({best['plain-int8'] / s:.2f}x plain-int8)" for k, s in best.items()), flush=True)


if __name__ == "__main__":
    main()
