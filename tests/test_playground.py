"""The playground's server side: the page and its files, /playground.json, /model/*, POST /search
(with a fake minilm.search.index: 404 without --index, 501 when minilm.search.index is missing), and
``minilm similarity --plot``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import fakeindex  # noqa: E402
from minilm.cli.main import main  # noqa: E402
from minilm.compare import EXAMPLES  # noqa: E402
from minilm.server.app import Settings, create_app  # noqa: E402

ROOT = Path(__file__).parent.parent
STATIC = ROOT / "minilm" / "server" / "static"


@pytest.fixture(scope="module")
def client(ort_embedder):
    with TestClient(create_app(ort_embedder, Settings(index="corpus.idx"))) as c:
        yield c


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="heatmap"' in page.text and 'id="search-form"' in page.text and "https://" not in page.text
    assert 'id="rerank-panel" hidden' in page.text  # shown by the page when the server has a reranker
    for name in ("app.js", "heatmap.js", "browser.js", "style.css", "pool.js", "tokenize.js", "rerank.js"):
        assert client.get(f"/static/{name}").status_code == 200, name
    info = client.get("/playground.json").json()
    assert info["dim"] == 384 and info["search"] is True and info["model"] == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("name", ["pool.js", "tokenize.js"])
def test_browser_copies_equal_the_node_package(name):
    assert (STATIC / name).read_text() == (ROOT / "js" / "src" / name).read_text()


def test_model_files_for_the_browser(client):
    tokenizer = client.get("/model/tokenizer.json")
    assert tokenizer.status_code == 200 and tokenizer.json()["model"]["type"] == "WordPiece"
    assert client.get("/model/minilm_export.json").json()["max_seq_length"] == 256
    assert client.get("/model/secret.txt").status_code == 404


def test_search_with_a_fake_index(client, ort_embedder, monkeypatch):
    opened = fakeindex.install(monkeypatch, ort_embedder)
    client.app.state.search.index = None  # open again through the fake
    response = client.post("/search", json={"query": "a kitten", "k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert opened == ["corpus.idx"] and len(results) == 3
    assert results[0]["text"] in ("Kittens like to play with yarn", "The cat sits on the mat")
    assert isinstance(results[0]["id"], int) and results[0]["score"] >= results[1]["score"] >= results[2]["score"]
    assert client.post("/search", json={"query": "x", "k": 0}).status_code == 422


def test_search_missing_module_is_501(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "minilm.search.index", None)  # import minilm.search.index raises ImportError
    client.app.state.search.index = None
    response = client.post("/search", json={"query": "x"})
    assert response.status_code == 501 and "minilm.search.index" in response.json()["error"]["message"]


def test_search_off_without_index(ort_embedder):
    with TestClient(create_app(ort_embedder)) as c:
        response = c.post("/search", json={"query": "x"})
        assert response.status_code == 404 and "--index" in response.json()["error"]["message"]
        assert c.get("/playground.json").json()["search"] is False


def test_page_is_open_with_an_api_key(ort_embedder):
    with TestClient(create_app(ort_embedder, Settings(api_key="k"))) as c:
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        assert c.post("/search", json={"query": "x"}).status_code == 401


def test_similarity_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "heatmap.png"
    assert main(["similarity", "--plot", str(out), *EXAMPLES]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "0.561" in capsys.readouterr().out  # the table is still printed


def test_similarity_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["similarity", "--plot", str(tmp_path / "x.png"), "a", "b"]) == 7
    assert "pip install 'minilm[plot]'" in capsys.readouterr().err
