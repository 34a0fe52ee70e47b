"""Cold start: wall time of a new process that loads a method and embeds "hello", warm file caches.

Each method's command is run once unmeasured (to warm the page cache), then --runs times; the
median is reported. minilm is its own command line (``python -m minilm embed hello``, and
``--int8`` when the CLI has it, ``--precision bf16`` for minilm-bf16); the peers are the shortest honest script for each.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

PLAIN_ORT = """
import sys, numpy as np, onnxruntime as ort, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1] + "/tokenizer.json"); tok.enable_truncation(256)
o = ort.SessionOptions(); o.intra_op_num_threads = int(sys.argv[3])
s = ort.InferenceSession(sys.argv[2], o, providers=["CPUExecutionProvider"])
ids = np.array([tok.encode("hello").ids], np.int64)
h = s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)})[0]
v = h.mean(1); print((v / np.linalg.norm(v))[0, :3])
"""

ST = """
import sys, torch
torch.set_num_threads(int(sys.argv[2]))
from sentence_transformers import SentenceTransformer
print(SentenceTransformer(sys.argv[1], device="cpu").encode(["hello"])[0, :3])
"""

ST_BACKEND = """
import sys, json
from sentence_transformers import SentenceTransformer
kwargs = json.loads(sys.argv[3])
print(SentenceTransformer(sys.argv[1], device="cpu", backend=sys.argv[2], model_kwargs=kwargs).encode(["hello"])[0, :3])
"""

FASTEMBED = """
import sys
from fastembed import TextEmbedding
m = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=sys.argv[1],
                  threads=int(sys.argv[2]), local_files_only=True)
print(next(iter(m.embed(["hello"])))[:3])
"""


def minilm_has_int8_flag(env: dict) -> bool:
    argv = [sys.executable, "-m", "minilm", "embed", "--help"]
    help_text = subprocess.run(argv, capture_output=True, text=True, env=env).stdout
    return "--int8" in help_text


def commands(model_dir: Path, workdir: Path, threads: int, ran: set[str], env: dict) -> dict[str, list[str]]:
    """The argv per method that ran in the throughput runs (``ran``) and has its files here."""
    py, t = sys.executable, str(threads)
    found = {"minilm": [py, "-m", "minilm", "embed", "--threads", t, "hello"]}
    if "minilm-int8" in ran and minilm_has_int8_flag(env):
        found["minilm-int8"] = [py, "-m", "minilm", "embed", "--int8", "--threads", t, "hello"]
    for name, key in (("ort-fp32", "bert-fp32.onnx"), ("ort-int8", "bert-int8.onnx")):
        if name in ran and (workdir / key).exists():
            found[name] = [py, "-c", PLAIN_ORT, str(model_dir), str(workdir / key), t]
    if "minilm-bf16" in ran:
        found["minilm-bf16"] = [py, "-m", "minilm", "embed", "--precision", "bf16", "--threads", t, "hello"]
    if "sentence-transformers" in ran:
        found["sentence-transformers"] = [py, "-c", ST, str(model_dir), t]
    for name, backend, kwargs in (("st-openvino", "openvino", {"ov_config": {"INFERENCE_NUM_THREADS": threads}}),
                                  ("st-openvino-f32", "openvino", {"ov_config": {"INFERENCE_NUM_THREADS": threads,
                                                                                 "INFERENCE_PRECISION_HINT": "f32"}}),
                                  ("st-onnx", "onnx", {"provider": "CPUExecutionProvider"})):
        folder = workdir / f"st-{backend}"
        if name in ran and folder.exists():
            found[name] = [py, "-c", ST_BACKEND, str(folder), backend, json.dumps(kwargs)]
    if "fastembed" in ran and (workdir / "fastembed").exists():
        found["fastembed"] = [py, "-c", FASTEMBED, str(workdir / "fastembed"), t]
    return found


def cold_start(argv: list[str], runs: int, env: dict) -> dict:
    """Median wall seconds of ``runs`` fresh processes, after one unmeasured run."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1]}
        if i:
            times.append(elapsed)
    return {"cold_s": statistics.median(times), "cold_runs": times}


def measure(methods: list[str], model_dir: Path, workdir: Path, threads: int, runs: int, env: dict) -> dict[str, dict]:
    argvs = commands(model_dir, workdir, threads, set(methods), env)
    return {name: cold_start(argv, runs, env) for name, argv in argvs.items() if name in methods}
