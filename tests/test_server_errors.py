"""Every error of every route in the documented shape {"error": {"message", "type", "code"}} (404,
405, bad UTF-8 and deep JSON on the FastAPI routes too), a lone surrogate is 400 naming the input,
and /metrics: labels by route template, nothing written into it by a path, the API key."""

from __future__ import annotations

import httpx
import pytest

pytest.importorskip("fastapi")
from test_server import running  # noqa: E402

from minilm.server.app import Settings, create_app  # noqa: E402
from minilm.server.metrics import Metrics  # noqa: E402

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(ort_embedder):
    with running(create_app(ort_embedder, Settings(max_inputs=50))) as url:
        yield url


def error_of(r: httpx.Response) -> str:
    """The message of an error response, once its shape is checked."""
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}, body
    assert body["error"]["code"] == r.status_code and r.headers["content-type"] == "application/json"
    return body["error"]["message"]


@pytest.mark.parametrize("method,path,body,status,message", [
    ("GET", "/nope", None, 404, "no route /nope: see /openapi.json"),
    ("GET", "/static/nothere.js", None, 404, "no route /static/nothere.js"),
    ("GET", "/embed", None, 405, "method GET is not allowed on /embed: use POST"),
    ("DELETE", "/health", None, 405, "method DELETE is not allowed on /health: use GET"),
    ("POST", "/similarity", b'{"inputs": "\xff"}', 422, "the body is not valid JSON"),
    ("POST", "/tokenize", b'{"inputs": "\xff"}', 422, "the body is not valid JSON"),
    ("POST", "/similarity", b"[" * 100_000 + b"]" * 100_000, 422, "the body is not valid JSON"),
    ("POST", "/tokenize", b'{"inputs": ' * 50_000 + b"1" + b"}" * 50_000, 422, "the body is not valid JSON"),
    ("POST", "/embed", b"[" * 100_000 + b"]" * 100_000, 422, "the body is not valid JSON"),
    ("POST", "/v1/embeddings", b'{"input": ' * 50_000 + b"1" + b"}" * 50_000, 422, "the body is not valid JSON"),
    ("POST", "/tokenize", b'{"inputs": ' + b"[" * 300 + b"]" * 300 + b"}", 422, "invalid request"),
    ("POST", "/similarity", b'{"inputs": {"source_sentence": 5, "sentences": []}}', 422, "invalid request"),
])
def test_every_error_has_the_documented_shape(server, method, path, body, status, message):
    r = httpx.request(method, server + path, content=body, headers=JSON)
    assert r.status_code == status and message in error_of(r)


@pytest.mark.parametrize("route,body,message", [
    ("/tokenize", {"inputs": "\ud800"}, "input 0 has a lone surrogate (U+D800) at character 0"),
    ("/tokenize", {"inputs": ["ok", "caf\u00e9 \udfff"]}, "input 1 has a lone surrogate (U+DFFF) at character 5"),
    ("/similarity", {"inputs": {"source_sentence": "a\ud800", "sentences": ["b"]}}, "source_sentence has a lone surrogate"),
    ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b", "\udbff c"]}}, "sentences[1] has a lone surrogate (U+DBFF)"),
    ("/embed", {"inputs": ["a", "b\ud800"]}, "input 1 has a lone surrogate"),
    ("/v1/embeddings", {"input": "\ud83d"}, "input 0 has a lone surrogate (U+D83D)"),
])
def test_a_lone_surrogate_is_400_naming_the_input(server, route, body, message):
    import json
    r = httpx.post(server + route, content=json.dumps(body).encode(), headers=JSON)  # ASCII escapes: "\ud800"
    assert r.status_code == 400 and message in error_of(r)
    assert "not Unicode text" in error_of(r)


def test_a_surrogate_pair_is_text(server):
    r = httpx.post(server + "/tokenize", content=b'{"inputs": "smile \\ud83d\\ude00"}', headers=JSON)
    assert r.status_code == 200 and r.json()[0][0]["id"] == 101


def metrics_lines(url: str, **kwargs) -> list[str]:
    r = httpx.get(url + "/metrics", **kwargs)
    assert r.status_code == 200
    return [line for line in r.text.splitlines() if line.startswith("minilm_requests_total")]


def test_metrics_count_by_route_template_and_a_path_cannot_write_into_them(server):
    forged = "/x%22%7D%201%0Aminilm_injected_total%7Broute%3D%22pwn%22%7D%209999%0A%23"
    assert httpx.get(server + forged).status_code == 404
    for i in range(200):
        httpx.get(f"{server}/unknown/{i}")
    httpx.get(server + "/model/nothing.bin")
    text = httpx.get(server + "/metrics").text
    assert "injected" not in text and "pwn" not in text
    assert all(line.startswith(("#", "minilm_")) for line in text.splitlines())
    routes = {line.split('route="')[1].split('"')[0] for line in metrics_lines(server)}
    assert "unmatched" in routes and "/model/{name}" in routes
    assert not any(r.startswith("/unknown") or r.startswith("/x") for r in routes)
    before = len(httpx.get(server + "/metrics").text)
    for i in range(200, 400):  # 200 more distinct 404 paths add no series
        httpx.get(f"{server}/unknown/{i}")
    assert len(httpx.get(server + "/metrics").text) < before + 200


def test_label_values_are_escaped():
    metrics = Metrics()
    metrics.observe_request('a"b\\c\nd', 200, 0.01)
    lines = [line for line in metrics.render().splitlines() if "a" in line and "route=" in line]
    assert lines and all('route="a\\"b\\\\c\\nd"' in line for line in lines)
    assert not any(line.startswith("d") for line in metrics.render().splitlines())


def test_metrics_need_the_api_key_unless_opened(ort_embedder):
    with running(create_app(ort_embedder, Settings(api_key="k3y")), ready="/info") as url:
        r = httpx.get(url + "/metrics")
        assert r.status_code == 401 and "API key" in error_of(r)
        assert metrics_lines(url, headers={"Authorization": "Bearer k3y"})
    with running(create_app(ort_embedder, Settings(api_key="k3y", open_metrics=True)), ready="/info") as url:
        assert metrics_lines(url)
        assert httpx.post(url + "/embed", json={"inputs": "x"}).status_code == 401
