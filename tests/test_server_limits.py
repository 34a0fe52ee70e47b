"""What a request may cost the server, as a client sees it: a body over --max-body-bytes is refused
from its Content-Length before it is read, a chunked one once it passes the limit; a request over
--max-request-tokens is 413 naming the limit; a large request is tokenized off the event loop, so
/health answers while it is."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
from test_server import running  # noqa: E402

from minilm.server.app import Settings, create_app  # noqa: E402

LIMIT = 20_000  # bytes


@pytest.fixture(scope="module")
def server(ort_embedder):
    settings = Settings(max_batch_tokens=64, max_inputs=50, max_input_chars=6000, max_request_tokens=300, max_body_bytes=LIMIT)
    with running(create_app(ort_embedder, settings)) as url:
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def response(sock: socket.socket) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of the answer on ``sock``; the server closes the connection after it."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("route", ["/embed", "/v1/embeddings", "/similarity", "/tokenize"])
def test_content_length_over_the_limit_is_refused_before_the_body_is_read(server, route):
    with connect(server) as sock:  # 300 MB announced, not a byte of it sent
        sock.sendall(f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 300000000\r\n\r\n".encode())
        status, headers, body = response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert body["error"]["message"] == f"the body is 300000000 bytes, more than the limit of {LIMIT} bytes (--max-body-bytes)"


def test_a_chunked_body_is_answered_once_it_passes_the_limit(server):
    """Chunks up to just past the limit, never the final one: the 413 comes without the body's end."""
    with connect(server) as sock:
        sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece, sent = b'{"inputs": "' + b"a" * 4000, 0
        while sent <= LIMIT:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        status, headers, body = response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert body["error"]["message"] == f"the body is more than the limit of {LIMIT} bytes (--max-body-bytes)"


def test_a_client_sending_a_large_body_reads_the_413(server):
    r = httpx.post(server + "/embed", content=b"[" + b"1," * 500_000 + b"1]", headers={"content-type": "application/json"})
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["error"]["message"]


def test_a_body_within_the_limit_is_served(server, ort_embedder):
    text = "word " * 700  # 3,500 bytes
    r = httpx.post(server + "/embed", json={"inputs": [text]})
    assert r.status_code == 200
    np.testing.assert_allclose(np.array(r.json()), ort_embedder.encode([text]), atol=1e-5)


@pytest.mark.parametrize("route,body,tokens", [
    ("/embed", {"inputs": ["word " * 100] * 3}, 306),
    ("/v1/embeddings", {"input": [[101] * 200, [101] * 200]}, 400),
    ("/v1/embeddings", {"input": ["word " * 1000] * 2}, 512),  # truncated to 256 each, then counted
    ("/similarity", {"inputs": {"source_sentence": "word " * 200, "sentences": ["word " * 200]}}, 404),
    ("/tokenize", {"inputs": ["word " * 200] * 2}, 404),
])
def test_a_request_over_the_token_limit_is_413_naming_it(server, route, body, tokens):
    r = httpx.post(server + route, json=body)
    assert r.status_code == 413
    message = r.json()["error"]["message"]
    assert message.endswith("more than the limit of 300 (--max-request-tokens)")
    assert f" {tokens} tokens (each input truncated to 256)" in message


def test_a_large_request_stops_tokenizing_at_the_token_limit(server, ort_embedder, monkeypatch):
    """8 texts of 402 tokens in pieces of one text: the count passes 300 after the second piece."""
    monkeypatch.setattr("minilm.server.routes.PIECE_CHARS", 2000)
    seen, real = [], ort_embedder.tokenizer.encode
    monkeypatch.setattr(ort_embedder.tokenizer, "encode", lambda texts: seen.append(len(texts)) or real(texts))
    r = httpx.post(server + "/embed", json={"inputs": ["word " * 400] * 8})
    assert r.status_code == 413 and "has at least 512 tokens" in r.json()["error"]["message"]
    assert seen == [1, 1]


def test_within_the_token_limit_is_served(server, ort_embedder):
    texts = ["word " * 100, "The cat sits on the mat"]
    r = httpx.post(server + "/embed", json={"inputs": texts})
    assert r.status_code == 200
    np.testing.assert_allclose(np.array(r.json()), ort_embedder.encode(texts), atol=1e-5)


def test_health_answers_while_a_large_request_is_tokenized(server, ort_embedder, monkeypatch):
    """The tokenizer is held inside a large request's tokenization; /health must still answer."""
    inside, release = threading.Event(), threading.Event()
    tokenizer = ort_embedder.tokenizer
    for method in ("encode", "encodings"):
        real = getattr(tokenizer, method)

        def held(texts, real=real):
            if max(map(len, texts)) > 1000:
                inside.set()
                assert release.wait(30)
            return real(texts)
        monkeypatch.setattr(tokenizer, method, held)
    text, answer = "word " * 1000, {}
    client = threading.Thread(target=lambda: answer.update(r=httpx.post(server + "/embed", json={"inputs": [text]}, timeout=60)))
    client.start()
    try:
        assert inside.wait(30)
        assert httpx.get(server + "/health", timeout=10).json() == {"status": "ok"}  # timed out with it on the loop
    finally:
        release.set()
        client.join(60)
    np.testing.assert_allclose(np.array(answer["r"].json()), ort_embedder.encode([text]), atol=1e-5)
