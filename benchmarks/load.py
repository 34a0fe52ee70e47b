"""Load test of ``minilm serve`` on loopback: throughput and p50/p99 latency at several concurrencies.

    python benchmarks/load.py [--requests 2000] [--concurrency 1,8,64] [--corpus ../shared/bench-corpus]

Starts the server itself on a free 127.0.0.1 port, sends one-sentence /v1/embeddings requests
(bounded in count and time), stops it, and compares with offline Embedder.encode on the same texts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

import minilm

REPO = Path(__file__).resolve().parents[1]


async def drive(url: str, texts: list[str], concurrency: int, deadline: float) -> tuple[float, np.ndarray]:
    latencies: list[float] = []
    queue = list(texts)

    async def worker(client):
        while queue and time.monotonic() < deadline:
            text = queue.pop()
            start = time.perf_counter()
            r = await client.post(url + "/v1/embeddings", json={"input": text})
            r.raise_for_status()
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - start, np.array(latencies)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", default="1,8,64")
    p.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "bench-corpus")
    p.add_argument("--max-seconds", type=float, default=120, help="per concurrency level")
    args = p.parse_args()
    texts = [json.loads(line)["text"] for line in (args.corpus / "short.jsonl").read_text(encoding="utf-8").splitlines()][: args.requests]

    model = minilm.load()
    model.encode(texts[:64])
    start = time.perf_counter()
    model.encode(texts, batch_size=32)
    offline = len(texts) / (time.perf_counter() - start)
    single = []
    for text in texts[:200]:
        t0 = time.perf_counter()
        model.encode([text])
        single.append(time.perf_counter() - t0)
    single_p50 = float(np.median(single))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "minilm", "serve", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"offline Embedder.encode (batch 32): {offline:.0f} texts/s; one text alone: p50 {single_p50 * 1000:.1f} ms\n")
        print("| concurrency | requests | texts/s | vs offline encode | p50 ms | p99 ms | p99 / single encode |")
        print("|---|---|---|---|---|---|---|")
        for c in (int(x) for x in args.concurrency.split(",")):
            asyncio.run(drive(url, texts[:32], c, time.monotonic() + 30))  # warm-up
            seconds, lat = asyncio.run(drive(url, texts, c, time.monotonic() + args.max_seconds))
            p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
            print(f"| {c} | {len(lat)} | {len(lat) / seconds:.0f} | {len(lat) / seconds / offline:.2f} | "
                  f"{p50 * 1000:.1f} | {p99 * 1000:.1f} | {p99 / single_p50:.1f}x |")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
