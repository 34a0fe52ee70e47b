"""The head routes' share of the embedding routes' checks (routes.Checks), through a real uvicorn and
httpx: a lone surrogate is 400 naming the text, --max-request-tokens counts the pairs after
truncation, truncate=false refuses an over-long pair, and a large request is tokenized on the
tokenizer threads in pieces (stopping at the piece that passes the token limit) while /health and
small requests go on."""

from __future__ import annotations

import json
import threading

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")

from test_server import running

from minilm.server.app import Settings, create_app

LONG = "word " * 100  # far past the tiny models' 32 tokens: 32 tokens once truncated, alone or in a pair
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(ort_embedder, reranker, classifier):
    settings = Settings(max_batch_tokens=256, max_inputs=20, max_input_chars=20_000, max_request_tokens=100)
    with running(create_app(ort_embedder, settings, reranker=reranker, classifier=classifier)) as url:
        yield url


def message(r: httpx.Response) -> str:
    return r.json()["error"]["message"]


@pytest.mark.parametrize("route,body,said", [
    ("/rerank", {"query": "\ud800", "texts": ["d"]}, "query has a lone surrogate (U+D800) at character 0"),
    ("/rerank", {"query": "q", "texts": ["ok", "caf\u00e9 \udfff"]}, "texts[1] has a lone surrogate (U+DFFF) at character 5"),
    ("/v1/rerank", {"query": "q", "documents": [{"text": "a\ud83d"}]},
     "documents[0] has a lone surrogate (U+D83D) at character 1"),
    ("/predict", {"inputs": "\udbff"}, "input 0 has a lone surrogate (U+DBFF) at character 0"),
    ("/predict", {"inputs": ["ok", ["a", "b \ud800"]]}, "input 1 text_pair has a lone surrogate (U+D800) at character 2"),
])
def test_a_lone_surrogate_is_400_naming_the_text(server, route, body, said):
    r = httpx.post(server + route, content=json.dumps(body).encode(), headers=JSON)  # ASCII escapes: "\ud800"
    assert r.status_code == 400
    assert message(r) == f"{said}: it is not Unicode text; send valid UTF-8"


@pytest.mark.parametrize("route,body", [
    ("/rerank", {"query": "q", "texts": [LONG] * 4}),
    ("/v1/rerank", {"query": LONG, "documents": ["d"] * 4}),  # the query is what longest_first cuts
    ("/predict", {"inputs": [LONG] * 4}),
    ("/predict", {"inputs": [[LONG, LONG]] * 4}),
])
def test_the_token_limit_counts_the_pairs_after_truncation(server, route, body):
    """4 inputs of 32 tokens each (truncated) are 128 > 100; 3 of them, 96, are served."""
    r = httpx.post(server + route, json=body)
    assert r.status_code == 413
    assert message(r) == ("the request has 128 tokens (each input truncated to 32), "
                          "more than the limit of 100 (--max-request-tokens)")
    fewer = {k: v[:3] if isinstance(v, list) else v for k, v in body.items()}
    assert httpx.post(server + route, json=fewer).status_code == 200


def test_inputs_count_pairs_not_texts(server):
    """15 pairs are 15 inputs (30 texts) under --max-inputs 20; 21 are refused naming the limit."""
    assert httpx.post(server + "/predict", json={"inputs": [["a", "b"]] * 15}).status_code == 200
    r = httpx.post(server + "/predict", json={"inputs": [["a", "b"]] * 21})
    assert r.status_code == 413 and message(r) == "21 inputs is more than the limit of 20 (--max-inputs)"


@pytest.mark.parametrize("route,body,said", [
    ("/rerank", {"query": "q", "texts": ["a", "word " * 40]}, "texts[1]"),
    ("/v1/rerank", {"query": "word " * 40, "documents": ["a"]}, "documents[0]"),
    ("/predict", {"inputs": ["hi", ["q", "word " * 40]]}, "input 1"),
    ("/predict", {"inputs": ["word " * 40]}, "input 0"),
    ("/rerank", {"query": "q", "texts": ["a b c"] * 3 + ["word " * 1000]}, "texts[3]"),  # large: in pieces
])
def test_truncate_false_refuses_an_over_long_pair(server, route, body, said, monkeypatch):
    monkeypatch.setattr("minilm.server.routes.PIECE_CHARS", 2000)
    r = httpx.post(server + route, json=body | {"truncate": False})
    assert r.status_code == 413
    assert message(r) == f"{said} is longer than the model's 32 tokens and truncate=false"
    assert httpx.post(server + route, json=body).status_code == 200  # truncated by default


def test_truncate_false_serves_pairs_that_fit(server, reranker):
    docs = ["a cat", "the dog sleeps on the mat"]
    r = httpx.post(server + "/rerank", json={"query": "q", "texts": docs, "truncate": False, "raw_scores": True})
    want = reranker.predict([("q", d) for d in docs], activation_fn="identity")
    assert r.status_code == 200 and max(abs(x["score"] - want[x["index"]]) for x in r.json()) <= 1e-5


def test_a_large_request_stops_tokenizing_at_the_token_limit(server, reranker, monkeypatch):
    """8 pairs of 32 tokens in pieces of one pair: the count passes 100 at the fourth piece."""
    monkeypatch.setattr("minilm.server.routes.PIECE_CHARS", 2000)
    seen, real = [], reranker.tokenizer.pair_encodings
    monkeypatch.setattr(reranker.tokenizer, "pair_encodings", lambda pairs: seen.append(len(pairs)) or real(pairs))
    r = httpx.post(server + "/rerank", json={"query": "q", "texts": ["word " * 400] * 8})
    assert r.status_code == 413 and message(r).startswith("the request has at least 128 tokens")
    assert seen == [1, 1, 1, 1]


def test_health_and_small_requests_answer_while_a_large_rerank_is_tokenized(server, reranker, monkeypatch):
    """The pair tokenizer is held inside a large request's tokenization, on a tokenizer thread;
    /health and a small /rerank (tokenized on the loop) must still answer."""
    inside, release, where = threading.Event(), threading.Event(), []
    real = reranker.tokenizer.pair_encodings

    def held(pairs):
        if max(len(a) + len(b) for a, b in pairs) > 1000:
            where.append(threading.current_thread().name)
            inside.set()
            assert release.wait(30)
        return real(pairs)
    monkeypatch.setattr(reranker.tokenizer, "pair_encodings", held)
    docs, answer = ["word " * 1000, "cat " * 1200, "the mat " * 700], {}  # 15,600 characters, 96 tokens
    body = {"query": "q", "texts": docs, "raw_scores": True}
    client = threading.Thread(target=lambda: answer.update(r=httpx.post(server + "/rerank", json=body, timeout=60)))
    client.start()
    try:
        assert inside.wait(30)
        assert httpx.get(server + "/health", timeout=10).json() == {"status": "ok"}  # timed out with it on the loop
        small = httpx.post(server + "/rerank", json={"query": "q", "texts": ["a cat"], "raw_scores": True}, timeout=10)
        assert small.status_code == 200 and abs(small.json()[0]["score"] - reranker.predict(("q", "a cat"))) <= 1e-5
        assert not answer  # the large one is still held
    finally:
        release.set()
        client.join(60)
    assert where[0].startswith("minilm-tokenize")
    want = reranker.predict([("q", d) for d in docs], activation_fn="identity")
    got = answer["r"].json()
    assert answer["r"].status_code == 200 and len(got) == 3
    assert np.abs([x["score"] - want[x["index"]] for x in got]).max() <= 1e-5
