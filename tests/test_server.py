"""The HTTP server, started on a free loopback port: OpenAI client, TEI routes, limits, faults, shutdown
(the drain: test_server_shutdown.py; body and token limits: test_server_limits.py; error shapes and
/metrics: test_server_errors.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
import uvicorn  # noqa: E402

from minilm.server.app import Settings, create_app  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url: str, tries: int = 300) -> None:
    """Poll ``url`` until the server answers it at all (any status), at most ``tries`` x 0.1 s."""
    for _ in range(tries):
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


@contextlib.contextmanager
def running(app, ready: str = "/health"):
    """``app`` served by uvicorn on a thread, on a free loopback port, once it answers ``ready``; yields its URL."""
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{srv.config.port}"
    try:
        wait_until_answering(url + ready)
        yield url
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(ort_embedder):
    settings = Settings(max_batch_tokens=64, max_inputs=50, max_input_chars=5000, api_key=None)
    app = create_app(ort_embedder, settings)
    with running(app) as url:
        yield url, app


def test_openai_client(server, ort_embedder):
    openai = pytest.importorskip("openai")
    url, _ = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    texts = ["Hello world", "The cat sits on the mat", "x " * 300]  # the last is split over the 64-token budget
    result = client.embeddings.create(input=texts, model="all-MiniLM-L6-v2")
    got = np.array([d.embedding for d in result.data], np.float32)
    np.testing.assert_allclose(got, ort_embedder.encode(texts), atol=1e-5)
    assert result.usage.prompt_tokens == sum(len(x) for x in ort_embedder.tokenize(texts))
    b64 = client.embeddings.create(input="Hello world", model="m", encoding_format="base64")
    raw = b64.data[0].embedding  # the client hands back the base64 text when it was asked for explicitly
    vec = np.frombuffer(base64.b64decode(raw), "<f4") if isinstance(raw, str) else np.array(raw, np.float32)
    np.testing.assert_allclose(vec, got[0], atol=1e-6)
    short = client.embeddings.create(input=[[101, 7592, 2088, 102]], model="m", dimensions=64)
    assert len(short.data[0].embedding) == 64


def test_raw_base64_and_tei_routes(server, ort_embedder):
    url, _ = server
    r = httpx.post(url + "/v1/embeddings", json={"input": "Hello world", "encoding_format": "base64"})
    vec = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), "<f4")
    np.testing.assert_allclose(vec, ort_embedder.encode("Hello world"), atol=1e-6)
    r = httpx.post(url + "/embed", json={"inputs": ["Hello world", "A feline"], "normalize": False})
    np.testing.assert_allclose(np.array(r.json()), ort_embedder.encode(["Hello world", "A feline"], normalize=False), atol=1e-5)
    r = httpx.post(url + "/similarity", json={"inputs": {"source_sentence": "The cat sits on the mat",
                                                         "sentences": ["A feline rests on the carpet", "Python"]}})
    assert r.status_code == 200 and r.json()[0] > 0.4 > r.json()[1]
    r = httpx.post(url + "/tokenize", json={"inputs": "Hello world"})
    assert [t["id"] for t in r.json()[0]] == [101, 7592, 2088, 102]
    assert httpx.get(url + "/info").json()["dim"] == 384
    assert httpx.get(url + "/openapi.json").json()["info"]["title"] == "minilm"
    metrics = httpx.get(url + "/metrics").text
    assert "minilm_requests_total" in metrics and "minilm_batch_size_bucket" in metrics and "minilm_queue_depth" in metrics


@pytest.mark.parametrize("body,status,message", [
    ("{not json", 422, "invalid request"),
    ({"input": 5}, 422, "invalid request"),
    ({}, 422, "invalid request"),
    ({"input": ["a"] * 51}, 413, "51 inputs is more than the limit of 50"),
    ({"input": "a" * 5001}, 413, "5001 characters, more than the limit of 5000"),
    ({"input": [[101, 999999]]}, 400, "token id 999999 is outside the vocabulary"),
    ({"input": "x", "encoding_format": "hex"}, 400, "encoding_format 'hex'"),
    ({"input": "x", "dimensions": 1000}, 400, "dimensions must be between 1 and 384"),
])
def test_errors_have_status_and_json_body(server, body, status, message):
    url, _ = server
    kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) else {"json": body}
    r = httpx.post(url + "/v1/embeddings", **kwargs)
    assert r.status_code == status and message in r.json()["error"]["message"]


def test_truncate_false_refuses_long_texts(server):
    url, _ = server
    r = httpx.post(url + "/embed", json={"inputs": "word " * 400, "truncate": False})
    assert r.status_code == 413 and "truncate=false" in r.json()["error"]["message"]
    assert httpx.post(url + "/embed", json={"inputs": "word " * 400}).status_code == 200


def test_a_failing_batch_fails_only_its_requests(server, ort_embedder, monkeypatch):
    url, app = server
    real = ort_embedder.encode_packed
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected runtime fault")
        return real(*args, **kwargs)

    monkeypatch.setattr(ort_embedder, "encode_packed", flaky)
    r = httpx.post(url + "/embed", json={"inputs": "first"})
    assert r.status_code == 500 and "injected runtime fault" in r.json()["error"]["message"]
    assert httpx.post(url + "/embed", json={"inputs": "second"}).status_code == 200
    for i in range(1000):  # malformed requests do not wear the server down
        httpx.post(url + "/v1/embeddings", content=b"\xff{" * (i % 7), headers={"content-type": "application/json"})
    assert httpx.get(url + "/health").json() == {"status": "ok"}


def serve_process(*options: str) -> tuple[subprocess.Popen, str]:
    """``minilm serve`` as a new process on a free port, once it answers /health; and its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minilm", "serve", "--port", str(port), *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(url + "/health")
    return proc, url


def test_api_key_and_sigterm(tmp_path):
    proc, url = serve_process("--api-key", "s3cret")
    try:
        r = httpx.post(url + "/embed", json={"inputs": "x"})
        assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
        r = httpx.post(url + "/embed", json={"inputs": "x"}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


@pytest.mark.parametrize("route,body,status,message", [
    ("/v1/embeddings", [1, 2], 422, "invalid request"),
    ("/v1/embeddings", {"input": ["a", 1]}, 422, "invalid request"),
    ("/v1/embeddings", {"input": "x", "dimensions": True}, 422, "dimensions must be int"),
    ("/v1/embeddings", {"input": "x", "model": 3}, 422, "model must be str"),
    ("/v1/embeddings", {"input": []}, 400, "input must not be empty"),
    ("/v1/embeddings", {"input": [[101, 102], []]}, 400, "input must not be empty"),
    ("/embed", {"inputs": 5}, 422, "inputs must be a string or a list of strings"),
    ("/embed", {"inputs": "x", "normalize": "yes"}, 422, "normalize must be bool"),
    ("/embed", "[", 422, "not valid JSON"),
])
def test_hot_path_checks_by_hand(server, route, body, status, message):
    url, _ = server
    kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) else {"json": body}
    r = httpx.post(url + route, **kwargs)
    assert r.status_code == status and message in r.json()["error"]["message"]
    assert r.headers["content-type"] == "application/json"


def test_openapi_documents_the_hot_routes(server):
    url, _ = server
    doc = httpx.get(url + "/openapi.json").json()
    for path, model in (("/v1/embeddings", "OpenAIRequest"), ("/embed", "TEIRequest")):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith(model) and model in doc["components"]["schemas"]


def test_concurrent_requests_are_batched_and_answered_in_order(server, ort_embedder):
    url, _ = server
    texts = [f"sentence number {i} " + "word " * (i % 9) for i in range(40)]

    async def go():
        async with httpx.AsyncClient(timeout=30) as client:
            rs = await asyncio.gather(*(client.post(url + "/v1/embeddings", json={"input": t}) for t in texts))
            return [r.json()["data"][0]["embedding"] for r in rs]

    got = np.array(asyncio.run(go()), np.float32)
    np.testing.assert_allclose(got, ort_embedder.encode(texts), atol=1e-5)


def test_queue_full_is_429_with_retry_after(ort_embedder):
    with running(create_app(ort_embedder, Settings(max_queue=0)), ready="/info") as url:  # /health would queue too
        for route, body in (("/v1/embeddings", {"input": "x"}), ("/embed", {"inputs": "x"})):
            r = httpx.post(url + route, json=body)
            assert r.status_code == 429 and r.headers["retry-after"] == "1" and "queue is full" in r.json()["error"]["message"]


def test_health_runs_the_packed_graph_of_the_batches(server, ort_embedder, monkeypatch):
    url, _ = server
    executor = ort_embedder.executor("sentence_embedding", ort_embedder.pipeline.normalize, packed=True)
    ran, run = [], executor.run
    monkeypatch.setattr(executor, "run", lambda feeds, outputs: ran.append(feeds["attention_mask"].shape) or run(feeds, outputs))
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    assert ran == [(2, 3)]


def test_health_is_503_while_the_runtime_is_broken(server, ort_embedder, monkeypatch):
    url, _ = server
    real = ort_embedder.encode_packed

    def broken(*args, **kwargs):
        raise RuntimeError("injected: the runtime is gone")

    monkeypatch.setattr(ort_embedder, "encode_packed", broken)
    r = httpx.get(url + "/health")
    assert r.status_code == 503 and "unhealthy: injected: the runtime is gone" in r.json()["error"]["message"]
    monkeypatch.setattr(ort_embedder, "encode_packed", lambda *a, **k: real(*a, **k) * np.nan)
    r = httpx.get(url + "/health")
    assert r.status_code == 503 and "non-finite" in r.json()["error"]["message"]
    monkeypatch.setattr(ort_embedder, "encode_packed", real)
    assert httpx.get(url + "/health").json() == {"status": "ok"}


# `minilm ARGS...` whose first batch of 8 or more texts waits, once started (STARTED is created), until
# RELEASE exists: the test decides when the request in flight ends, not the speed of the machine
GATED = """
import sys, time
from pathlib import Path
import minilm.embedder
started, release, real = Path(sys.argv[1]), Path(sys.argv[2]), minilm.embedder.Embedder.encode_packed
def gated(self, ids, *args, **kwargs):
    if len(ids) >= 8 and not started.exists():
        started.touch()
        while not release.exists():
            time.sleep(0.01)
    return real(self, ids, *args, **kwargs)
minilm.embedder.Embedder.encode_packed = gated
from minilm.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
    return False


def until(predicate, what: str, seconds: float = 120) -> None:
    """Poll PREDICATE every 10 ms; fail naming WHAT after SECONDS (only a broken server takes that long)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.01)


def test_sigterm_finishes_the_request_in_flight(tmp_path):
    """SIGTERM while a request is being embedded: the server stops accepting, that request still gets
    its vectors, then exit 0."""
    started, release, port = tmp_path / "started", tmp_path / "release", free_port()
    proc = subprocess.Popen([sys.executable, "-c", GATED, str(started), str(release), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + "/health")
        texts = [f"text {i}: " + "many words here " * 10 for i in range(16)]
        answer: dict = {}

        def post():
            r = httpx.post(url + "/embed", json={"inputs": texts}, timeout=120)
            answer.update(status=r.status_code, rows=len(r.json()))

        client = threading.Thread(target=post)
        client.start()
        until(started.exists, "the request's batch started")
        proc.send_signal(signal.SIGTERM)
        until(lambda: not accepting(port), "the server stopped accepting connections after SIGTERM")
        assert client.is_alive() and not answer  # the request is still in flight
        release.touch()
        client.join(120)
        assert answer == {"status": 200, "rows": 16}
        assert proc.wait(30) == 0, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()


# more work than the drain holds (503 with Retry-After for the rest, exit 0): tests/test_server_shutdown.py
