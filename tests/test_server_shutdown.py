"""SIGTERM on `minilm serve` with work in flight: no new connections, the requests in flight finish
within --shutdown-timeout, the rest get 503 with Retry-After (never a 500, never a dropped
connection), and the process exits 0. Synchronised on the server's observed state (/metrics: a batch
in the model, requests queued behind it), not on delays."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

pytest.importorskip("fastapi")
from test_server import serve_process  # noqa: E402

TEXTS = [f"text {i}: " + "many words here " * 100 for i in range(8)]  # 8 x 256 tokens: two chunks of 1024


def gauge(url: str, name: str) -> float:
    line = next(x for x in httpx.get(url + "/metrics", timeout=10).text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def until(check, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the server never reached the state"
        time.sleep(0.02)


def load(url: str, n: int) -> tuple[list[threading.Thread], list[dict]]:
    """n requests of 8 long texts at once, and until the first one's batch runs with the rest queued."""
    answers: list[dict] = [{} for _ in range(n)]

    def post(i):
        try:
            r = httpx.post(url + "/embed", json={"inputs": TEXTS}, timeout=300)
            answers[i].update(status=r.status_code, headers=r.headers, body=r.json())
        except httpx.HTTPError as exc:  # a dropped connection: counted as a failure below
            answers[i].update(status=None, error=repr(exc))
    clients = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for client in clients:
        client.start()
    until(lambda: gauge(url, "minilm_batches_running") == 1 and gauge(url, "minilm_queue_depth") == n - 1)
    return clients, answers


def stop(proc, clients) -> float:
    """SIGTERM; the seconds until the process ended (exit code checked)."""
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    for client in clients:
        client.join(300)
    assert proc.wait(300) == 0
    return time.monotonic() - signalled


def test_sigterm_finishes_the_requests_in_flight_and_refuses_new_ones():
    proc, url = serve_process("--threads", "1", "--workers", "1", "--max-batch-tokens", "1024", "--shutdown-timeout", "300")
    try:
        clients, answers = load(url, 4)
        proc.send_signal(signal.SIGTERM)
        late = []  # a request after the signal: refused (503) until the listener is closed, then no connection
        # (or, racing the close, a connection closed before its request was read)
        until(lambda: late.append(probe(url)) or late[-1] == "refused", 60)
        for client in clients:
            client.join(300)
        assert proc.wait(300) == 0
        assert [a["status"] for a in answers] == [200] * 4 and all(len(a["body"]) == 8 for a in answers)
        while late[0] == 200:  # answered before the signal reached the server
            late.pop(0)
        assert set(late) <= {503, "refused", "closed"}, late
    finally:
        if proc.poll() is None:
            proc.kill()


def probe(url: str):
    try:
        r = httpx.get(url + "/info", timeout=10)
    except httpx.ConnectError:
        return "refused"
    except httpx.RemoteProtocolError:  # a new connection caught as the listener closed: never read, never served
        return "closed"
    assert r.headers.get("retry-after") == "1" and "shutting down" in r.json()["error"]["message"]
    return r.status_code


def test_sigterm_answers_what_does_not_fit_in_the_drain_503_and_exits_0():
    proc, url = serve_process("--threads", "1", "--workers", "1", "--max-batch-tokens", "1024", "--shutdown-timeout", "0")
    try:
        clients, answers = load(url, 6)
        stop(proc, clients)
        statuses = [a["status"] for a in answers]
        assert set(statuses) <= {200, 503} and 503 in statuses, answers
        for a in answers:
            if a["status"] == 503:
                assert a["headers"]["retry-after"] == "1" and a["body"]["error"]["code"] == 503
                assert "did not finish within its 0 s drain (--shutdown-timeout)" in a["body"]["error"]["message"]
    finally:
        if proc.poll() is None:
            proc.kill()
