"""Which engine runs minilm's own ONNX lowering in bfloat16: OpenVINO's Python runtime, or ONNX Runtime
with the OpenVINO execution provider (issue #19)? Speed, fidelity and threading, interleaved.

    # a scratch venv: onnxruntime-openvino replaces onnxruntime (same module name)
    python -m venv /tmp/ov && /tmp/ov/bin/pip install -e . && /tmp/ov/bin/pip uninstall -y onnxruntime
    /tmp/ov/bin/pip install onnxruntime-openvino openvino
    /tmp/ov/bin/python benchmarks/probes/bf16_engine.py [--short 2000] [--long 150] [--threads 2] [--repeat 3]
        [--queries 200] [--plain ~/.cache/minilm-bench/bert-fp32.onnx] [--only ov-bf16-tput,...]

Every engine runs the same ONNX file, minilm's unfused lowering of all-MiniLM-L6-v2 (pooling and L2
inside, weight transposes folded), on the same token ids cut by minilm's own batching (longest first,
32 texts and 1024 padded tokens a call). Methods:

- ``minilm``: minilm's fp32 default (ONNX Runtime CPU, fused attention); the fidelity reference (its
  vectors equal sentence-transformers' within 1e-6).
- ``plain-ort``: ONNX Runtime fp32 on the torch.onnx export of the Hugging Face model (``--plain``,
  made by benchmarks/onnx_files.py), mean pooling and L2 in NumPy: the speed reference.
- ``ov-{f32,bf16}-tput``: OpenVINO, INFERENCE_PRECISION_HINT f32 / bf16, THROUGHPUT hint with
  ``threads`` streams of 1 thread, calls through an AsyncInferQueue of as many requests.
- ``ov-{f32,bf16}-lat``: OpenVINO, LATENCY hint, one stream of ``threads`` threads, calls one by one.
- ``ep-{f32,bf16}``: ONNX Runtime's OpenVINO EP (package onnxruntime-openvino), num_of_threads =
  threads, one stream, session.run one by one; bf16 through load_config's INFERENCE_PRECISION_HINT.
- ``ep-bf16-2s``: the same with num_streams=2 and two session.run calls in flight (threads).

The newer plugin form of the EP (package onnxruntime-ep-openvino, with plain onnxruntime) offers no
device on a non-Intel CPU (its factory skips devices whose vendor is not Intel), so it is not
measured here. Reports, checks nothing: texts/s ratios (best of --repeat), min / mean cosine and
top-10 neighbour overlap (--queries short texts) against minilm fp32, batch-1 p50 (one short text,
tokenization included), compile seconds (first, then from OpenVINO's CACHE_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx

import minilm
from minilm.batching import MAX_BATCH_TOKENS, batches
from minilm.runtime import precision as prec
from minilm.runtime.lowering import to_onnx
from minilm.runtime.rewrite import fold_weight_transposes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the harness's top-10 overlap
from engine_probe import CORPUS, interleave, plain_ort, read  # noqa: E402 (this folder is on sys.path)
from perf import cosines, overlap10  # noqa: E402
from perf_child import query_indices  # noqa: E402

OUT = "sentence_embedding"


def calls(ids: list[list[int]]) -> list[list[int]]:
    return batches([len(x) for x in ids], 32, MAX_BATCH_TOKENS)


def openvino_methods(path: Path, emb, threads: int, cache: Path) -> tuple[dict, dict, dict]:
    """``{name: encode}``, ``{name: encode_one}``, ``{name: (compile s, cached compile s)}``."""
    import openvino as ov
    encoders, singles, compile_s = {}, {}, {}
    for hint in ("f32", "bf16"):
        for mode in ("tput", "lat"):
            config = {"INFERENCE_PRECISION_HINT": hint, "CACHE_DIR": str(cache)}
            if mode == "tput":
                config |= {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": threads, "INFERENCE_NUM_THREADS": threads}
            else:
                config |= {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads}
            times = []
            for _ in range(2):  # the second compile reads OpenVINO's cache
                start = time.perf_counter()
                compiled = ov.Core().compile_model(str(path), "CPU", config)
                times.append(time.perf_counter() - start)
            name = f"ov-{hint}-{mode}"
            compile_s[name] = tuple(times)
            encoders[name] = _ov_queue(compiled, emb, threads) if mode == "tput" else _ov_sync(compiled, emb)
            request = compiled.create_infer_request()
            singles[name] = lambda text, r=request: r.infer(emb._feeds(emb.tokenize([text])))[OUT][0]
    return encoders, singles, compile_s


def _ov_queue(compiled, emb, requests: int):
    import openvino as ov
    queue = ov.AsyncInferQueue(compiled, requests)

    def encode(ids: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(ids), emb.dim), np.float32)
        queue.set_callback(lambda request, chunk: out.__setitem__(chunk, request.get_output_tensor(0).data))
        for chunk in calls(ids):
            queue.start_async(emb._feeds([ids[i] for i in chunk]), chunk)
        queue.wait_all()
        return out
    return encode


def _ov_sync(compiled, emb):
    request = compiled.create_infer_request()

    def encode(ids: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(ids), emb.dim), np.float32)
        for chunk in calls(ids):
            out[chunk] = request.infer(emb._feeds([ids[i] for i in chunk]))[OUT]
        return out
    return encode


def ep_methods(path: Path, emb, threads: int) -> tuple[dict, dict, dict]:
    import onnxruntime as ort
    if "OpenVINOExecutionProvider" not in ort.get_available_providers():
        print("ep-*: not installed (pip install onnxruntime-openvino, in place of onnxruntime)", file=sys.stderr)
        return {}, {}, {}
    encoders, singles, compile_s = {}, {}, {}
    for name, hint, streams in (("ep-f32", "f32", 1), ("ep-bf16", "bf16", 1), ("ep-bf16-2s", "bf16", 2)):
        options = {"device_type": "CPU", "num_of_threads": str(threads), "num_streams": str(streams),
                   "load_config": json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": hint}})}
        start = time.perf_counter()
        session = ort.InferenceSession(str(path), providers=[("OpenVINOExecutionProvider", options)])
        compile_s[name] = (time.perf_counter() - start, float("nan"))
        run = lambda feeds, s=session: s.run([OUT], feeds)[0]  # noqa: E731
        encoders[name] = _ep_encode(run, emb, streams)
        singles[name] = lambda text, r=run: r(emb._feeds(emb.tokenize([text])))[0]
    return encoders, singles, compile_s


def _ep_encode(run, emb, in_flight: int):
    pool = ThreadPoolExecutor(in_flight) if in_flight > 1 else None

    def encode(ids: list[list[int]]) -> np.ndarray:
        out = np.zeros((len(ids), emb.dim), np.float32)
        chunks = calls(ids)
        feeds = (emb._feeds([ids[i] for i in chunk]) for chunk in chunks)
        for chunk, vectors in zip(chunks, pool.map(run, feeds) if pool else map(run, feeds)):
            out[chunk] = vectors
        return out
    return encode


def p50s(singles: dict, texts: list[str], rounds: int = 2) -> dict[str, float]:
    """Batch-1 p50 ms per method, the methods interleaved query by query (a shared machine drifts)."""
    for t in texts[:5]:
        for fn in singles.values():
            fn(t)
    times: dict[str, list[float]] = {k: [] for k in singles}
    for _ in range(rounds):
        for t in texts:
            for k, fn in singles.items():
                start = time.perf_counter()
                fn(t)
                times[k].append(time.perf_counter() - start)
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--plain", type=Path, default=Path.home() / ".cache" / "minilm-bench" / "bert-fp32.onnx")
    ap.add_argument("--only", help="comma-separated methods (minilm and plain-ort always run)")
    ap.add_argument("--batch1-only", action="store_true", help="only the batch-1 table")
    args = ap.parse_args()
    ours = minilm.load(threads=args.threads)
    folder = Path(tempfile.mkdtemp(prefix="minilm-bf16-"))
    path = folder / "model.onnx"
    onnx.save(fold_weight_transposes(to_onnx(ours.executor(OUT, True).graph)), str(path),
              save_as_external_data=True, location="model.data")
    plain = plain_ort(args.plain, args.threads)
    tok = ours.tokenizer
    encoders = {"minilm": ours.encode_ids, "plain-ort": plain}
    singles = {"minilm": ours.encode, "plain-ort": lambda t: plain(tok.encode([t]))[0]}
    compile_s = {}
    for group in (openvino_methods(path, ours, args.threads, folder / "ov-cache"), ep_methods(path, ours, args.threads)):
        encoders |= group[0]
        singles |= group[1]
        compile_s |= group[2]
    if args.only:
        keep = {"minilm", "plain-ort", *args.only.split(",")}
        encoders = {k: v for k, v in encoders.items() if k in keep}
        singles = {k: v for k, v in singles.items() if k in keep}
    cpu = sorted(prec.cpu_flags())
    print(f"CPU flags: {' '.join(cpu)}; threads {args.threads}; OpenVINO compile s (first, cached): "
          + ", ".join(f"{k} {a:.2f}/{b:.2f}" for k, (a, b) in compile_s.items()))
    print("| corpus | method | seconds | x plain-ort | x minilm | min cosine | mean cosine | top-10 |\n"
          "|---|---|---|---|---|---|---|---|")
    for corpus, n in (("short", args.short), ("long", args.long)):
        if not n or args.batch1_only:
            continue
        ids = ours.tokenize(read(CORPUS / f"{corpus}.jsonl", n))
        for encode in encoders.values():  # warm-up: shapes compiled, arenas grown
            encode(ids[:256])
        best, outs = interleave(encoders, ids, args.repeat)
        queries = query_indices(len(ids), args.queries)
        for k in encoders:
            cos = cosines(outs[k], outs["minilm"])
            top = overlap10(outs[k], outs["minilm"], queries) if corpus == "short" else float("nan")
            print(f"| {corpus} {n} | {k} | {best[k]:.3f} | {best['plain-ort'] / best[k]:.2f} | {best['minilm'] / best[k]:.2f} | "
                  f"{cos.min():.6f} | {cos.mean():.6f} | {top:.4f} |", flush=True)
    texts = read(CORPUS / "short.jsonl", args.short)
    texts = [texts[i] for i in query_indices(len(texts), args.queries)]
    p50 = p50s(singles, texts)
    print("\n| batch-1 (one short text, tokenized) | p50 ms | x plain-ort |\n|---|---|---|")
    for k, ms in p50.items():
        print(f"| {k} | {ms:.2f} | {ms / p50['plain-ort']:.2f} |")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
