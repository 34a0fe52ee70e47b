"""The server's routes of the models with a head (server/heads.py), through a real uvicorn and httpx:
TEI /rerank and /predict, Cohere / Jina /v1/rerank, with the embedding routes' limits, auth and errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")

from conftest import FIXTURES
from test_server import running

import minilm
from minilm.server.app import Settings, create_app

HEADS = FIXTURES / "heads"
REF = json.loads((HEADS / "rerank" / "expected.json").read_text(encoding="utf-8"))
QUERY, DOCS = REF["query"], REF["documents"]


@pytest.fixture(scope="module")
def server(ort_embedder, reranker, classifier):
    settings = Settings(max_batch_tokens=256, max_inputs=20, max_input_chars=300)
    with running(create_app(ort_embedder, settings, reranker=reranker, classifier=classifier)) as url:
        yield url


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def test_tei_rerank_scores_and_order(server, reranker):
    logits = reranker.predict([(QUERY, d) for d in DOCS], activation_fn="identity")
    assert np.abs(logits - np.asarray(REF["document_logits"])[:, 0]).max() <= 1e-4
    got = httpx.post(server + "/rerank", json={"query": QUERY, "texts": DOCS}).json()
    assert [r["index"] for r in got] == list(np.argsort(-logits, kind="stable"))
    assert np.abs([r["score"] for r in got] - sigmoid(logits[[r["index"] for r in got]])).max() <= 1e-6
    assert all(sorted(r) == ["index", "score"] for r in got)
    raw = httpx.post(server + "/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True, "return_text": True}).json()
    assert [r["text"] for r in raw] == [DOCS[r["index"]] for r in raw]
    assert np.abs([r["score"] for r in raw] - logits[[r["index"] for r in raw]]).max() <= 1e-6


def test_cohere_rerank_shape(server, reranker):
    logits = reranker.predict([(QUERY, d) for d in DOCS], activation_fn="identity")
    body = {"model": "rerank-tiny", "query": QUERY, "documents": [{"text": d} for d in DOCS], "top_n": 3, "return_documents": True}
    got = httpx.post(server + "/v1/rerank", json=body).json()
    assert got["model"] == "rerank-tiny" and got["usage"]["total_tokens"] > 8 * 3
    best = list(np.argsort(-logits, kind="stable")[:3])
    assert [r["index"] for r in got["results"]] == best
    assert [r["document"]["text"] for r in got["results"]] == [DOCS[i] for i in best]
    assert np.abs([r["relevance_score"] for r in got["results"]] - sigmoid(logits[best])).max() <= 1e-6
    plain = httpx.post(server + "/v1/rerank", json={"query": QUERY, "documents": DOCS}).json()
    assert len(plain["results"]) == len(DOCS) and "document" not in plain["results"][0]


def test_tei_predict(server, classifier):
    pair = ["what is a cat", "a cat is a small animal"]
    one = httpx.post(server + "/predict", json={"inputs": "hello world"}).json()
    assert [d["label"] for d in one] == [d["label"] for d in classifier.predict("hello world", top_k=None)]
    assert np.abs([d["score"] for d in one] - np.asarray([d["score"] for d in classifier.predict("hello world", top_k=None)])).max() <= 1e-6
    many = httpx.post(server + "/predict", json={"inputs": ["hello world", pair]}).json()
    assert many[0] == one and many[1][0]["label"] == classifier.predict(tuple(pair))[0]["label"]
    raw = httpx.post(server + "/predict", json={"inputs": pair, "raw_scores": True}).json()
    logits = minilm.CrossEncoder(HEADS / "nli").predict(tuple(pair))
    assert np.abs(sorted(d["score"] for d in raw) - np.sort(logits)).max() <= 1e-5


def test_limits_and_errors_use_the_one_table(server):
    too_many = httpx.post(server + "/rerank", json={"query": "q", "texts": ["d"] * 21})
    assert too_many.status_code == 413 and "21 texts is more than the limit of 20 (--max-inputs)" in too_many.json()["error"]["message"]
    too_long = httpx.post(server + "/v1/rerank", json={"query": "q", "documents": ["a" * 301]})
    assert too_long.status_code == 413 and "documents[0] has 301 characters" in too_long.json()["error"]["message"]
    cut = httpx.post(server + "/rerank", json={"query": "the " * 20, "texts": ["the " * 20], "truncate": False})
    assert cut.status_code == 413 and "longer than the model's 32 tokens and truncate=false" in cut.json()["error"]["message"]
    bad = httpx.post(server + "/rerank", json={"query": 3, "texts": ["a"]})
    assert bad.status_code == 422 and bad.json()["error"]["message"] == "invalid request: query must be a string"
    empty = httpx.post(server + "/rerank", json={"query": "q", "texts": []})
    assert empty.status_code == 400 and "texts must be a non-empty list" in empty.json()["error"]["message"]
    wrong = httpx.post(server + "/predict", json={"inputs": [["a", "b", "c"]]})
    assert wrong.status_code == 422 and "[text, text_pair] pair" in wrong.json()["error"]["message"]
    assert httpx.post(server + "/v1/rerank", json={"query": "q", "documents": ["a"], "top_n": 0}).status_code == 400
    assert httpx.post(server + "/rerank", content=b"{not json").status_code == 422


def test_concurrent_requests_are_batched_and_each_gets_its_own(server, reranker):
    async def one(client, i):
        docs = DOCS[i % len(DOCS):] + DOCS[:i % len(DOCS)]
        r = await client.post(server + "/rerank", json={"query": QUERY, "texts": docs, "raw_scores": True})
        return docs, r.json()

    async def all_of_them():
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(24)))

    want = dict(zip(DOCS, reranker.predict([(QUERY, d) for d in DOCS], activation_fn="identity")))
    for docs, got in asyncio.run(all_of_them()):
        assert max(abs(r["score"] - want[docs[r["index"]]]) for r in got) <= 1e-5
    metrics = httpx.get(server + "/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith('minilm_requests_total{route="/rerank",status="200"}'))
    assert int(line.split()[-1]) >= 24


def test_info_openapi_and_the_page_know_the_reranker(server):
    info = httpx.get(server + "/info").json()
    assert info["reranker"]["labels"] == ["LABEL_0"] and info["classifier"]["labels"] == ["contradiction", "entailment", "neutral"]
    paths = httpx.get(server + "/openapi.json").json()["paths"]
    assert {"/rerank", "/v1/rerank", "/predict"} <= set(paths)
    assert httpx.get(server + "/playground.json").json()["reranker"] == "rerank"


def test_auth_covers_the_head_routes(ort_embedder, reranker):
    app = create_app(ort_embedder, Settings(api_key="s3cret"), reranker=reranker)
    with running(app) as url:
        denied = httpx.post(url + "/rerank", json={"query": "q", "texts": ["d"]})
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        ok = httpx.post(url + "/v1/rerank", json={"query": "q", "documents": ["d"]}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and len(ok.json()["results"]) == 1
        predicted = httpx.post(url + "/predict", json={"inputs": ["q", "d"]}, headers={"Authorization": "Bearer s3cret"})
        assert predicted.status_code == 200 and predicted.json()[0]["label"] == "LABEL_0"  # the reranker serves /predict


def test_without_a_reranker_the_routes_are_absent(ort_embedder):
    with running(create_app(ort_embedder, Settings())) as url:
        assert httpx.post(url + "/rerank", json={"query": "q", "texts": ["d"]}).status_code in (404, 405)
        assert "/rerank" not in httpx.get(url + "/openapi.json").json()["paths"]
        assert httpx.get(url + "/playground.json").json()["reranker"] is None


def test_a_reranker_needs_one_label(ort_embedder):
    with pytest.raises(minilm.ConfigError, match=r"--reranker needs a cross-encoder with one label; this one has 3 "
                                                 r"\(contradiction, entailment, neutral\): serve it with --classifier"):
        create_app(ort_embedder, Settings(), reranker=minilm.CrossEncoder(HEADS / "nli"))
