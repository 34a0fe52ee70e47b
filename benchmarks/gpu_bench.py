"""GPU throughput: minilm's torch backend against sentence-transformers on the same GPU, one run.

    python benchmarks/gpu_bench.py --model DIR --corpus DIR [--batch-size 128]

DIR may hold ``model.f16.safetensors`` instead of ``model.safetensors`` (to travel light): it is
widened to float32 into a temporary copy first, so both libraries load the same float32 weights.
Prints texts/s for each method and dtype, the ratio to sentence-transformers, and the min cosine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def float32_copy(model: Path) -> Path:
    if (model / "model.safetensors").exists():
        return model
    from safetensors.numpy import load_file, save_file
    folder = Path(tempfile.mkdtemp()) / "model"
    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("*.f16.safetensors"))
    tensors = load_file(str(model / "model.f16.safetensors"))
    save_file({k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in tensors.items()}, str(folder / "model.safetensors"))
    return folder


def timed(fn, texts, torch):
    fn(texts[:64])
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = np.asarray(fn(texts), np.float32)
    torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    import minilm

    model = float32_copy(args.model)
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; batch size {args.batch_size}")
    methods = {}
    st = SentenceTransformer(str(model), device="cuda")
    methods["sentence-transformers fp32"] = lambda t: st.encode(t, batch_size=args.batch_size, convert_to_numpy=True)
    st16 = SentenceTransformer(str(model), device="cuda").half()
    methods["sentence-transformers fp16"] = lambda t: st16.encode(t, batch_size=args.batch_size, convert_to_numpy=True)
    ours = minilm.load(model, backend="torch", device="cuda")
    methods["minilm torch fp32"] = lambda t: ours.encode(t, batch_size=args.batch_size)
    ours16 = minilm.load(model, backend="torch", device="cuda", dtype="float16")
    methods["minilm torch fp16"] = lambda t: ours16.encode(t, batch_size=args.batch_size)
    print("| method | corpus | texts | texts/s | vs sentence-transformers fp32 | min cosine vs it |")
    print("|---|---|---|---|---|---|")
    for corpus in ("short", "long"):
        texts = [json.loads(line)["text"] for line in (args.corpus / f"{corpus}.jsonl").read_text(encoding="utf-8").splitlines()]
        results = {name: timed(fn, texts, torch) for name, fn in methods.items()}
        base_s, base = results["sentence-transformers fp32"]
        for name, (seconds, vectors) in results.items():
            cos = (vectors * base).sum(1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(base, axis=1))
            print(f"| {name} | {corpus} | {len(texts)} | {len(texts) / seconds:.0f} | {base_s / seconds:.2f}x | {cos.min():.6f} |")


if __name__ == "__main__":
    main()
