"""Load test of ``minilm serve`` on loopback: throughput and p50/p99 latency at several concurrencies.

    python benchmarks/load.py [--texts 2000] [--seconds 10] [--rounds 3] [--concurrency 1,8,64] [--threads N]
                              [--precision fp32,bf16]

Starts the server itself on a free 127.0.0.1 port, sends one-sentence /v1/embeddings requests
(the first --texts texts of the short corpus, cycled; bounded in time: --rounds windows of
--seconds per level, and so in requests), stops it, and compares with offline Embedder.encode on
the same texts in the same process. The offline run is repeated between the server's windows (the
server idles meanwhile), and each window is compared with the offline runs on either side of it:
on a shared host the neighbours' load moves both rates by 10-20% within minutes, which one offline
run at the start cannot follow (docs/server.md).

On a shared machine wall-clock rates move with the neighbours' load, so it also reports CPU time
per text (Linux: the server's from /proc, offline's from process_time): work done, not waited for.

The load generator is ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``) when it is on PATH: one C
thread on epoll, a few percent of a core at these rates, so on a small machine it takes little
from the server it measures (its CPU time is printed). Without it, an asyncio httpx client in this
process is used, which costs more CPU per request than the server's own request path and so
understates the server on a 2-core machine; the output says which one ran.

``--precision`` (comma-separated, default fp32): one run per precision, server (``minilm serve
--precision P``) and offline model alike, one row per precision and concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

import minilm

REPO = Path(__file__).resolve().parents[1]
SETTLE = 0.5  # seconds between a server window and the offline run after it

# wrk script: cycles the request bodies (one JSON per line of $BODIES); non-2xx responses are
# counted as errors by wrk; prints one machine-readable line
WRK_LUA = r"""
local bodies, i = {}, 0
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/v1/embeddings", nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads; Linux /proc, else NaN)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive_wrk(url: str, texts: list[str], concurrency: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "embed.lua").write_text(WRK_LUA)
        (Path(tmp) / "bodies.txt").write_text("".join(json.dumps({"input": t}) + "\n" for t in texts))
        env = os.environ | {"BODIES": str(Path(tmp) / "bodies.txt")}
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, int(seconds))}s", "--timeout", "30s",
                              "-s", str(Path(tmp) / "embed.lua"), url], env=env, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    n, micros, errors, p50, p99 = re.search(r"RESULT (\d+) (\d+) (\d+) (\S+) (\S+)", out.stdout).groups()
    return {"requests": int(n), "seconds": int(micros) / 1e6, "errors": int(errors), "p50": float(p50) / 1e6,
            "p99": float(p99) / 1e6, "client_cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime}


def drive_httpx(url: str, texts: list[str], concurrency: int, seconds: float) -> dict:
    latencies, errors, sent = [], [0], [0]
    deadline = time.monotonic() + seconds

    async def worker(client):
        while time.monotonic() < deadline:
            text = texts[sent[0] % len(texts)]
            sent[0] += 1
            start = time.perf_counter()
            r = await client.post(url + "/v1/embeddings", json={"input": text})
            errors[0] += r.status_code != 200
            latencies.append(time.perf_counter() - start)

    async def run():
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))

    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(run())
    lat = np.array(latencies)
    return {"requests": len(lat), "seconds": time.perf_counter() - start, "errors": errors[0],
            "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)), "client_cpu": time.process_time() - cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--texts", type=int, default=2000, help="texts from the corpus (offline, and cycled by the client)")
    p.add_argument("--seconds", type=float, default=10, help="per window (--rounds windows per concurrency level)")
    p.add_argument("--rounds", type=int, default=3, help="server windows per level, each between two offline runs")
    p.add_argument("--concurrency", default="1,8,64")
    p.add_argument("--threads", type=int, help="the server's intra-op threads (default: all cores, as offline)")
    p.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "bench-corpus")
    p.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    p.add_argument("--precision", default="fp32", help="comma-separated: fp32, bf16, int8, auto (one run each)")
    args = p.parse_args()
    lines = (args.corpus / "short.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines][: args.texts]
    drive = drive_wrk if args.client == "wrk" else drive_httpx
    table = []
    for precision in args.precision.split(","):
        table += measure(args, precision.strip(), texts, drive)
    print("| precision | concurrency | requests | errors | texts/s | vs offline encode | p50 ms | p99 ms | "
          "p99 / single encode p50 (p99) | server CPU ms/text (vs offline) | load avg | client CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(table))


def measure(args, precision: str, texts: list[str], drive) -> list[str]:
    """Serve at ``precision`` and drive it at each concurrency; the rows of the table (a header is printed)."""
    model = minilm.load(precision=precision)
    model.encode(texts[:64])
    before = single_calls(model, texts)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = ["--threads", str(args.threads)] if args.threads else []
    server = subprocess.Popen([sys.executable, "-m", "minilm", "serve", "--port", str(port), "--precision", precision, *threads],
                              cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    levels, offline = [], []  # offline[i], window i, offline[i + 1], ...
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        offline.append(offline_rate(model, texts))  # the server is up and idle: it no longer loads or builds
        for c in (int(x) for x in args.concurrency.split(",")):
            drive(url, texts[:200], c, 2)  # warm-up
            windows = []
            for _ in range(args.rounds):
                cpu, load = cpu_seconds(server.pid), os.getloadavg()[0]
                r = drive(url, texts, c, args.seconds)
                windows.append(r | {"server_cpu": (cpu_seconds(server.pid) - cpu) / max(1, r["requests"]), "load": load})
                time.sleep(SETTLE)  # the last requests in flight finish before offline runs
                offline.append(offline_rate(model, texts))  # the server idles meanwhile
            levels.append((c, windows))
            print(f"concurrency {c}: {sum(w['requests'] for w in windows)} requests", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    after = single_calls(model, texts)  # the server is gone: one-text calls again, so the neighbours' load is sampled twice
    single_p50, single_p99 = np.mean([before[0], after[0]]), np.mean([before[1], after[1]])
    rates, cpus = [o[0] for o in offline], [o[1] for o in offline]
    ratios = paired_ratios(rates, [w["requests"] / w["seconds"] for _, windows in levels for w in windows])
    offline_cpu = float(np.median(cpus))
    caveat = (" (in this process, on the server's cores: it understates the server, at concurrency 64 by far; "
              "install wrk for figures to compare)") if args.client == "httpx" else ""
    print(f"precision {precision} ({model.precision}: {model.precision_reason}); "
          f"client: {args.client}{caveat}; server threads: {args.threads or 'default (all cores)'}; {os.cpu_count()} cores\n"
          f"offline Embedder.encode (batch 32), one run before each server window and after the last: "
          f"{min(rates):.0f}-{max(rates):.0f} texts/s (median {np.median(rates):.0f}), median {offline_cpu * 1000:.2f} CPU ms/text; "
          f"one text alone: p50 {single_p50 * 1000:.1f} ms, p99 {single_p99 * 1000:.1f} ms (means of before and after)\n"
          f"each level: {args.rounds} windows of {args.seconds:g} s; 'vs offline' = each window's rate over the mean of the "
          f"offline runs just before and after it, median (min-max) over the windows; other columns: median over the windows\n")
    rows, start = [], 0
    for c, windows in levels:
        mine, start = ratios[start:start + len(windows)], start + len(windows)
        med = lambda key: float(np.median([w[key] for w in windows]))  # noqa: E731
        rate, p99, server_cpu = float(np.median([w["requests"] / w["seconds"] for w in windows])), med("p99"), med("server_cpu")
        rows.append(f"| {precision} | {c} | {sum(w['requests'] for w in windows)} | {sum(w['errors'] for w in windows)} | "
                    f"{rate:.0f} | {np.median(mine):.2f} ({min(mine):.2f}-{max(mine):.2f}) | {med('p50') * 1000:.1f} | "
                    f"{p99 * 1000:.1f} | {p99 / single_p50:.1f}x ({p99 / single_p99:.1f}x) | {server_cpu * 1000:.2f} "
                    f"({server_cpu / offline_cpu:.2f}x) | {med('load'):.1f} | {sum(w['client_cpu'] for w in windows):.2f} |")
    return rows


def paired_ratios(offline: list[float], windows: list[float]) -> list[float]:
    """Each window's rate over the mean of the offline rates measured just before and just after it
    (``offline`` holds one more entry than ``windows``: before the first window, then after each), so
    that a neighbour's load drifting over minutes moves both sides of a ratio alike."""
    if len(offline) != len(windows) + 1:
        raise ValueError(f"need one offline rate more than windows, got {len(offline)} and {len(windows)}")
    return [w / ((offline[i] + offline[i + 1]) / 2) for i, w in enumerate(windows)]


def offline_rate(model, texts: list[str]) -> tuple[float, float]:
    """texts/s and CPU s/text of encode over all texts (batch 32)."""
    start, cpu = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=32)
    return len(texts) / (time.perf_counter() - start), (time.process_time() - cpu) / len(texts)


def single_calls(model, texts: list[str]) -> tuple[float, float]:
    """p50 and p99 seconds of one-text encode calls (the first 300 texts)."""
    single = []
    for text in texts[:300]:
        t0 = time.perf_counter()
        model.encode([text])
        single.append(time.perf_counter() - t0)
    return float(np.percentile(single, 50)), float(np.percentile(single, 99))


if __name__ == "__main__":
    main()
