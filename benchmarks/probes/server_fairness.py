"""How long do a one-sentence request and /health wait while a huge request runs, and what does an
oversized body cost the server?

    python benchmarks/probes/server_fairness.py [--texts 2048] [--words 200] [--threads 2] [--serve-args "..."]

Starts `minilm serve` (the code importable from the current directory), posts one huge /embed request
(--texts texts of --words words; the token limit is raised for it with --serve-args, e.g.
"--max-request-tokens 1000000"; a server without that flag takes it as is), and while it runs sends a
one-sentence /embed and a GET /health every 0.25 s, each timed. Then: peak RSS of the server after
a 300 MB body (refused by its Content-Length, or read whole by a server without a body limit), and
how long /health waits while a body of 512 texts of 100,000 characters is sent. Prints a summary.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def timed(call) -> tuple[float, int]:
    start = time.perf_counter()
    try:
        status = call().status_code
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    return time.perf_counter() - start, status


def while_running(url: str, body: dict, label: str) -> None:
    """Post ``body``; meanwhile time one-sentence /embed and /health every 0.25 s until it ends."""
    result = {}

    def post():
        result["seconds"], result["status"] = timed(lambda: httpx.post(url + "/embed", json=body, timeout=600))
    client = threading.Thread(target=post)
    client.start()
    time.sleep(0.25)
    small, health = [], []
    while client.is_alive():
        small.append(timed(lambda: httpx.post(url + "/embed", json={"inputs": "Hello world"}, timeout=600)))
        health.append(timed(lambda: httpx.get(url + "/health", timeout=600)))
        time.sleep(0.25)
    client.join()
    print(f"{label}: status {result['status']} in {result['seconds']:.1f} s")
    for name, runs in (("one-sentence /embed", small), ("/health", health)):
        waits = [s for s, _ in runs]
        if waits:
            print(f"  {name} during it: n={len(waits)} p50 {statistics.median(waits) * 1000:.0f} ms, "
                  f"max {max(waits) * 1000:.0f} ms, statuses {sorted(set(str(s) for _, s in runs))}")


def batch_seconds(url: str) -> tuple[float, float]:
    text = httpx.get(url + "/metrics").text
    value = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.startswith("minilm_batch_seconds_")}
    return value.get("minilm_batch_seconds_sum{}", 0.0), value.get("minilm_batch_seconds_count{}", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--words", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve-args", default="", help="more `minilm serve` options, e.g. '--max-request-tokens 1000000'")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "minilm", "serve", "--port", str(port), "--threads", str(args.threads),
                             *shlex.split(args.serve_args)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/health", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"server pid {proc.pid}, {os.cpu_count()} CPUs, --threads {args.threads} {args.serve_args}")
        huge = {"inputs": [f"text {i}: " + "word " * args.words for i in range(args.texts)]}
        while_running(url, huge, f"huge request ({args.texts} x {args.words} words)")
        total, count = batch_seconds(url)
        print(f"  batches so far: {count:.0f}, mean {total / max(count, 1) * 1000:.0f} ms in the model")
        before = peak_rss_mb(proc.pid)
        seconds, status = timed(lambda: httpx.post(url + "/embed", content=b"[" + b"1," * 150_000_000 + b"1]",
                                                   headers={"content-type": "application/json"}, timeout=600))
        print(f"300 MB body: status {status} in {seconds:.2f} s; server peak RSS {before:.0f} -> {peak_rss_mb(proc.pid):.0f} MB")
        while_running(url, {"inputs": ["word " * 20000] * 512}, "512 x 100,000-character texts (51 MB)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
