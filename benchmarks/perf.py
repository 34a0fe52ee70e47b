"""Speed of minilm against its peers (issue #3), every method in its own child process, one harness.

    python benchmarks/perf.py [--short 10000] [--long 1000] [--methods all] [--threads 2] [--repeat 1]
                              [--workdir ~/.cache/minilm-bench] [--json OUT.json] [--chart OUT.png]

Methods: sentence-transformers (torch CPU, batch 32), st-openvino (sentence-transformers
``backend="openvino"``, its default precision: bf16 where the CPU has it), st-openvino-f32 (the same
with INFERENCE_PRECISION_HINT f32), st-onnx (``backend="onnx"``), fastembed (its default batch 256,
on a local ONNX export), ort-fp32 / ort-int8 (plain ONNX Runtime on a torch.onnx export / its
quantize_dynamic, length-sorted batches of 32, mean pooling + L2 in NumPy), minilm (default
load, fp32), minilm-int8 (``precision="int8"``) and minilm-bf16 (``precision="bf16"``, OpenVINO; n/a
when minilm has no such option or OpenVINO is missing).
A missing package is reported ("not installed: pip install X") and its method skipped; nothing is
installed. Each (round, corpus, method) is one child process (benchmarks/perf_child.py), so each
peak RSS is the method's own; rounds (--repeat) rotate the method order and keep the best time.
Prints a Markdown table (texts/s, real tokens/s, share of the GEMM ceiling measured in the same
run, batch-1 latency, cold start, peak RSS, cosine vs sentence-transformers, top-10 overlap) and
the PASS/FAIL lines of the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cold  # noqa: E402
import perf_report  # noqa: E402
from perf_child import query_indices, read_texts  # noqa: E402

ALL = ["sentence-transformers", "st-openvino", "st-openvino-f32", "st-onnx", "fastembed", "ort-fp32", "ort-int8",
       "minilm", "minilm-int8", "minilm-bf16"]
NEEDS_EXPORT = {"fastembed", "ort-fp32", "ort-int8", "st-openvino", "st-openvino-f32", "st-onnx"}
FLOP_PER_TOKEN, ATTN_FLOP_PER_TOKEN_LEN = 21.2e6, 9216  # DESIGN.md §5: per real token, + 9216·L


def child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared, oversubscribed cores: spinning OpenMP (torch) stalls
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def run_json(argv: list[str], env: dict) -> dict:
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        print(done.stderr[-2000:], file=sys.stderr)
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(lines[-1])


def model_dir() -> Path:
    from minilm import sources

    return sources.resolve(None)


def prepare_files(args, env) -> None:
    """The peers' ONNX files (needs torch): made once in --workdir, reused after."""
    done = subprocess.run([sys.executable, str(HERE / "onnx_files.py"), str(args.model_dir), str(args.workdir)],
                          capture_output=True, text=True, env=env)
    for line in done.stderr.splitlines():
        if line.startswith(("reusing", "making", "not installed")):
            print(line, file=sys.stderr)
    if done.returncode not in (0, 3):
        print(done.stderr[-2000:], file=sys.stderr)


def token_lengths(model: Path, texts: list[str], max_length: int) -> np.ndarray:
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.enable_truncation(max_length)
    tok.no_padding()
    return np.array([len(e.ids) for e in tok.encode_batch(texts)])


def child_argv(args, method: str, path: Path, n: int) -> list[str]:
    return [sys.executable, str(HERE / "perf_child.py"), "--method", method, "--texts", str(path), "--n", str(n),
            "--threads", str(args.threads), "--model-dir", str(args.model_dir), "--workdir", str(args.workdir),
            "--max-length", str(args.max_length)]


def prime(args, env, corpora) -> None:
    """One unmeasured tiny run per method first: file caches (and minilm's own caches) are warm for all."""
    path, _ = next(iter(corpora.values()))
    for method in args.methods:
        got = run_json(child_argv(args, method, path, 8), env)
        print(f"warm-up {method:22} {'ok' if 'seconds' in got else perf_report.brief(got)}", file=sys.stderr)


def run_rounds(args, env, corpora, vec_dir: Path) -> dict:
    """{(method, corpus): merged child results}: best seconds / p50, largest RSS, over the rounds."""
    found: dict[tuple, dict] = {}
    prime(args, env, corpora)
    for r in range(args.repeat):
        order = args.methods[r % len(args.methods):] + args.methods[: r % len(args.methods)]
        for corpus, (path, n) in corpora.items():
            for method in order:
                key = (method, corpus)
                if "skipped" in found.get(key, {}) or "error" in found.get(key, {}):
                    continue
                argv = child_argv(args, method, path, n)
                if corpus == "short":
                    argv += ["--queries", str(args.queries)]
                if r == 0:
                    argv += ["--vectors", str(vec_dir / f"{method}-{corpus}.npy")]
                got = run_json(argv, env)
                print(f"round {r + 1} {corpus:5} {method:22} {perf_report.brief(got)}", file=sys.stderr)
                old = found.get(key)
                if old is None or "seconds" not in got:
                    found[key] = got
                else:
                    for field, pick in (("seconds", min), ("p50_ms", min), ("p95_ms", min), ("rss_mb", max)):
                        if field in got:
                            old[field] = pick(old[field], got[field])
    return found


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def similarities(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    v = vectors.astype(np.float64) / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v[queries] @ v.T
    sims[np.arange(len(queries)), queries] = -np.inf  # a text is not its own neighbour
    return sims


def top10(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argpartition(-similarities(vectors, queries), k, axis=1)[:, :k]


def overlap10(mine: np.ndarray, reference: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Share of my top-k that is in the reference's top-k; a tie with the reference's k-th counts.

    Ties matter: the corpus repeats some texts, so several neighbours can share the k-th
    similarity and which of them argpartition keeps is arbitrary.
    """
    ref_sims = similarities(reference, queries)
    kth = -np.partition(-ref_sims, k - 1, axis=1)[:, k - 1]
    picked = np.take_along_axis(ref_sims, top10(mine, queries, k), axis=1)
    return float(np.mean(picked >= kth[:, None] - 1e-6))


def add_quality(rows: dict, vec_dir: Path, queries: int) -> str | None:
    """Cosine vs the reference vectors per text, and top-10 neighbour overlap on the short corpus."""
    ref = next((m for m in ("sentence-transformers", "ort-fp32", "minilm")
                if (vec_dir / f"{m}-short.npy").exists()), None)
    if ref is None:
        return None
    for (method, corpus), row in rows.items():
        mine, theirs = vec_dir / f"{method}-{corpus}.npy", vec_dir / f"{ref}-{corpus}.npy"
        if method == ref or not (mine.exists() and theirs.exists()):
            continue
        a, b = np.load(mine), np.load(theirs)
        cos = cosines(a, b)
        row["min_cos"], row["mean_cos"] = float(cos.min()), float(cos.mean())
        if corpus == "short":
            row["overlap10"] = overlap10(a, b, query_indices(len(a), queries))
    return ref


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=HERE.parents[1] / "shared" / "bench-corpus")
    p.add_argument("--short", type=int, default=10_000)
    p.add_argument("--long", type=int, default=1_000)
    p.add_argument("--methods", default=",".join(ALL), help="comma-separated, from: " + ", ".join(ALL))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="rounds; the best time of each method is kept")
    p.add_argument("--queries", type=int, default=200, help="batch-1 queries / top-10 queries (short corpus)")
    p.add_argument("--cold-runs", type=int, default=5, help="cold starts per method (median); 0 skips them")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "minilm-bench")
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--chart", type=Path, help="write a PNG chart here (needs matplotlib)")
    args = p.parse_args()
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(args.methods) - set(ALL)
    if unknown:
        p.error(f"unknown method(s) {sorted(unknown)}; choose from {ALL}")
    args.model_dir = model_dir()
    env = child_env(args.threads)

    if NEEDS_EXPORT & set(args.methods):
        prepare_files(args, env)
    ceiling = run_json([sys.executable, str(HERE / "ceiling.py"), "--threads", str(args.threads)], env)
    corpora = {"short": (args.corpus / "short.jsonl", args.short), "long": (args.corpus / "long.jsonl", args.long)}
    corpora = {k: v for k, v in corpora.items() if v[1] > 0}
    with tempfile.TemporaryDirectory(prefix="minilm-perf-") as tmp:
        found = run_rounds(args, env, corpora, Path(tmp))
        ref = add_quality(found, Path(tmp), args.queries)
    ran = [m for m in args.methods if "seconds" in found.get((m, "short"), found.get((m, "long"), {}))]
    colds = cold.measure(ran, args.model_dir, args.workdir, args.threads, args.cold_runs, env) if args.cold_runs else {}
    lengths = {c: token_lengths(args.model_dir, read_texts(path, n), args.max_length) for c, (path, n) in corpora.items()}
    rows = perf_report.rows(found, colds, lengths, ceiling.get("gflops"), FLOP_PER_TOKEN, ATTN_FLOP_PER_TOKEN_LEN)
    meta = perf_report.machine(args, ceiling, ref)
    meta["omp_wait_policy"] = env["OMP_WAIT_POLICY"]
    print(perf_report.markdown(rows, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    if args.chart:
        print(perf_report.chart(rows, meta, args.chart), file=sys.stderr)


if __name__ == "__main__":
    main()
