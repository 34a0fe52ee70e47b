"""Where does the cold start of ``minilm embed [--precision bf16] hello`` go (issue #19: <= 1.0 s)?

    python benchmarks/probes/cold_start.py [--runs 5] [--threads 2] [--precisions fp32,bf16] [--trees OLD,.]

Each run is a fresh process that runs the command line's ``main`` with the steps of a load wrapped
in timers (wall clock, inclusive): interpreter start, importing minilm and the command line, finding
the model, the tokenizer, the weights, building the graph, the cache key, importing the engine, the
engine's session / compile (cache hit: the entry read and compiled, or the compiled image
imported), the first inference, and the exit. ``--trees``: checkouts of minilm to compare (each run from
its folder, first on PYTHONPATH; default: the installed one). One unmeasured run per tree and precision first
fills the caches (minilm's model cache, OpenVINO's blob cache, the page cache); then they alternate,
run by run, and the median of each step is printed. Reports, checks nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
T0 = time.time()
spans = {}

def timed(owner, name, label):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        start = time.time()
        try:
            return inner(*args, **kwargs)
        finally:
            spans[label] = spans.get(label, 0.0) + time.time() - start
    setattr(owner, name, wrapper)

import minilm.cli.main as cli
T1 = time.time()
from minilm import loading, sources, embedder
from minilm.models import bert
from minilm.runtime import model_cache, ort, openvino_exec
timed(sources, "resolve", "find model")
timed(loading, "load_tokenizer", "tokenizer")
for name in ("load_weights", "read_tensors", "check_weights"):  # whichever this tree's load() calls
    if hasattr(loading, name):
        timed(loading, name, "weights")
timed(bert, "build", "graph")
timed(model_cache, "key", "cache key")
timed(openvino_exec, "_openvino", "import openvino")
for owner, name in ((ort.OnnxRuntimeExecutor, "_build"), (openvino_exec.OpenVinoExecutor, "_compiled_form")):
    timed(owner, name, "session / compile")
timed(embedder.Embedder, "encode", "first inference")
if sys.argv[1] == "fp32":  # the fp32 path imports it in _build; timed apart here
    start = time.time()
    import onnxruntime  # noqa: F401
    spans["import onnxruntime"] = time.time() - start
command = cli.main

def main_then_report():
    code = command(["embed", "--precision", sys.argv[1], "--threads", sys.argv[2], "hello"])
    sys.stdout.flush()
    sys.stderr.write(json.dumps({"t0": T0, "imports": T1 - T0, "spans": spans, "end": time.time()}) + "\n")
    return code

cli.main = main_then_report
if hasattr(cli, "entry"):
    cli.entry()  # as the minilm command exits
sys.exit(main_then_report())  # a tree from before entry()
"""

STEPS = ("interpreter start", "import minilm + cli", "find model", "tokenizer", "weights", "graph", "cache key",
         "import onnxruntime", "import openvino", "session / compile", "first inference", "rest of main", "exit")


def run_once(precision: str, threads: int, tree: str | None) -> tuple[float, dict]:
    env, cwd = dict(os.environ), None
    if tree:  # python -c puts the working directory first on sys.path
        env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(tree)] + [p for p in [env.get("PYTHONPATH")] if p])
        cwd = tree
    start = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, precision, str(threads)], capture_output=True, text=True, env=env,
                          cwd=cwd)
    wall = time.time() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    spans = report["spans"]
    steps = {"interpreter start": report["t0"] - start, "import minilm + cli": report["imports"]} | spans
    inside = sum(v for k, v in spans.items() if k not in ("session / compile", "cache key", "import openvino")
                 and k != "import onnxruntime") + spans.get("session / compile", 0.0)
    main_wall = report["end"] - report["t0"] - report["imports"] - spans.get("import onnxruntime", 0.0)
    steps["session / compile"] = spans.get("session / compile", 0.0) - spans.get("cache key", 0.0)
    steps["rest of main"] = main_wall - inside - spans.get("import openvino", 0.0)
    steps["exit"] = start + wall - report["end"]
    return wall, steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--trees", default="", help="comma-separated minilm checkouts (default: the installed minilm)")
    args = p.parse_args()
    columns = [(tree, precision) for tree in (args.trees.split(",") if args.trees else [None])
               for precision in args.precisions.split(",")]
    for tree, precision in columns:
        run_once(precision, args.threads, tree)  # fills the caches
    walls = {c: [] for c in columns}
    steps = {c: {} for c in columns}
    for _ in range(args.runs):
        for tree, precision in columns:
            wall, got = run_once(precision, args.threads, tree)
            walls[tree, precision].append(wall)
            for k, v in got.items():
                steps[tree, precision].setdefault(k, []).append(v)
    print(f"median of {args.runs} runs, {args.threads} threads, PYTHONDONTWRITEBYTECODE="
          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    names = [f"{tree + ' ' if tree else ''}{precision} s" for tree, precision in columns]
    print(f"| step | {' | '.join(names)} |")
    print("|---|" + "---:|" * len(columns))
    for step in STEPS:
        cells = [f"{statistics.median(steps[c][step]):.3f}" if step in steps[c] else "-" for c in columns]
        print(f"| {step} | {' | '.join(cells)} |")
    print(f"| **wall** | {' | '.join(f'**{statistics.median(walls[c]):.3f}**' for c in columns)} |")


if __name__ == "__main__":
    main()
