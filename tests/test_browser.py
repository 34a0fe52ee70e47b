"""The playground in a real browser: headless Chromium (Debian's /usr/bin/chromium, never a
downloaded one) driven by Playwright. The page is served by ``minilm serve --index IDX`` on a free
loopback port, in a subprocess, over an index built by ``minilm index build`` from a few texts. Checks:
the heatmap of the five example sentences equals ``Embedder.similarity`` (|diff| < 1e-3), the
in-browser onnxruntime-web vectors equal the server's (also for text pairs fed token types), WebNN's
status is reported, search shows top-k with scores, the rerank panel (``--reranker``, a tiny random
cross-encoder) shows /rerank's order. Screenshots go to $MINILM_TEST_ARTIFACTS (default test-artifacts/)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")

from conftest import cosine_rows  # noqa: E402
from minilm.compare import EXAMPLES  # noqa: E402
from minilm.server.playground import STATIC, VENDOR  # noqa: E402
from test_server import free_port  # noqa: E402
from webdeps import require  # noqa: E402

CHROMIUM = os.environ.get("MINILM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
JS_FIXTURE = Path(__file__).parent.parent / "js" / "test" / "fixtures" / "embeddings.json"
ARTIFACTS = Path(os.environ.get("MINILM_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


CORPUS = ["The cat sits on the mat", "A dog sleeps in the garden", "Stock markets fell sharply today",
          "Python is a programming language", "It is raining in London", "Kittens like to play with yarn"]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """`minilm index build` over CORPUS, then `minilm serve --index` on it, in subprocesses."""
    folder = tmp_path_factory.mktemp("browser")
    (folder / "corpus.txt").write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    index = folder / "corpus.idx"
    subprocess.run([sys.executable, "-m", "minilm", "index", "build", "--input", str(folder / "corpus.txt"), "--out", str(index)],
                   check=True, timeout=300, capture_output=True)
    port = free_port()
    reranker = Path(__file__).parent / "fixtures" / "heads" / "rerank"  # a tiny random cross-encoder: the panel's plumbing
    proc = subprocess.Popen([sys.executable, "-m", "minilm", "serve", "--port", str(port), "--index", str(index),
                             "--reranker", str(reranker)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            if proc.poll() is not None:
                pytest.fail(f"minilm serve exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield base
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


@pytest.fixture(scope="module")
def pw():
    require(CHROMIUM is not None, "chromium is not installed (apt-get install chromium; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package is not installed (pip install playwright; .ci/run does; no browser download needed)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw):
    b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()


def heatmap(page) -> np.ndarray:
    cells = page.eval_on_selector_all("#heatmap td.cell", "els => els.map(e => [+e.dataset.i, +e.dataset.j, +e.dataset.value])")
    n = int(round(len(cells) ** 0.5))
    matrix = np.zeros((n, n))
    for i, j, v in cells:
        matrix[i, j] = v
    return matrix


def test_heatmap_search_and_screenshot(url, browser, ort_embedder):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#texts", "\n".join(EXAMPLES))
    page.click("#compare")
    page.wait_for_function("document.getElementById('heatmap').dataset.engine === 'server'")
    page.wait_for_selector("#heatmap td.cell")
    labels = page.eval_on_selector_all("#heatmap tbody th", "els => els.map(e => e.textContent)")
    assert labels == [f"{i + 1}. {t}" for i, t in enumerate(EXAMPLES)]
    expected = ort_embedder.similarity(ort_embedder.encode(list(EXAMPLES)))
    assert np.abs(heatmap(page) - expected).max() < 1e-3
    assert page.eval_on_selector("#heatmap td.cell", "e => e.style.background").startswith("rgb(")
    assert "WebNN:" in page.inner_text("#webnn-status")

    page.fill("#query", "a small cat")
    page.fill("#k", "3")
    page.click("#search")
    page.wait_for_selector("#results li")
    rows = page.eval_on_selector_all("#results li", "els => els.map(e => [e.dataset.id, +e.dataset.score, e.textContent])")
    assert len(rows) == 3 and rows[0][1] >= rows[1][1] >= rows[2][1]
    assert "cat" in rows[0][2].lower() or "kitten" in rows[0][2].lower()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    assert (ARTIFACTS / "playground.png").stat().st_size > 10_000 and not errors


def test_rerank_panel_shows_the_servers_order(url, browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_visible("#rerank-panel") and "rerank" in page.inner_text("#rerank-status")
    page.fill("#rerank-query", "where is the cat")
    page.fill("#documents", "\n".join(CORPUS))
    page.click("#rerank")
    page.wait_for_selector("#ranked li")
    rows = page.eval_on_selector_all("#ranked li", "els => els.map(e => [+e.dataset.index, +e.dataset.score, e.textContent])")
    want = httpx.post(url + "/rerank", json={"query": "where is the cat", "texts": CORPUS}).json()
    assert [r[0] for r in rows] == [w["index"] for w in want]
    assert max(abs(r[1] - w["score"]) for r, w in zip(rows, want)) < 1e-5
    assert all(CORPUS[r[0]] in r[2] for r in rows) and not errors


def test_in_browser_onnxruntime_web_equals_the_server(url, browser, ort_embedder):
    require(all((STATIC / "vendor" / f).exists() for f in VENDOR),
            "onnxruntime-web is not vendored: run scripts/vendor-web.sh (needs npm; .ci/run does)")
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#engine", "ort")
    page.click("#compare")
    page.wait_for_function("document.getElementById('heatmap').dataset.engine === 'ort'"
                           " || document.getElementById('compare-status').className === 'error'", timeout=180_000)
    assert "failed" not in page.inner_text("#compare-status"), page.inner_text("#compare-status")
    assert float(page.get_attribute("#heatmap", "data-agreement")) >= 0.99999
    expected = ort_embedder.similarity(ort_embedder.encode(list(EXAMPLES)))
    assert np.abs(heatmap(page) - expected).max() < 1e-3


def test_in_browser_onnxruntime_web_passes_token_types(url, browser):
    """Text pairs as ids with token types 1 on the second segment (js/test/fixtures: the Python graph's
    vectors for the same feeds): equal with the types, and not without them."""
    require(all((STATIC / "vendor" / f).exists() for f in VENDOR),
            "onnxruntime-web is not vendored: run scripts/vendor-web.sh (needs npm; .ci/run does)")
    pairs = json.loads(JS_FIXTURE.read_text(encoding="utf-8"))["pairs"]
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    got = page.evaluate("""async ([ids, types]) => {
        const embed = await (await import('/static/browser.js')).ortEmbedder({});
        return [await embed.ids(ids, types), await embed.ids(ids)].map((vs) => vs.map((v) => Array.from(v)));
    }""", [[p["input_ids"] for p in pairs], [p["token_type_ids"] for p in pairs]])
    want = np.array([np.frombuffer(base64.b64decode(p["embedding_f32_base64"]), "<f4") for p in pairs])
    typed, untyped = (np.array(v, np.float32) for v in got)
    assert cosine_rows(typed, want).min() >= 0.99999 and cosine_rows(untyped, want).max() < 0.9999


def test_webnn_status_with_the_feature_on(url, pw):
    """Chromium with WebNN switched on: navigator.ml exists; on Linux without a WebNN backend it
    cannot make a context, which the page says; where it can, the WebNN vectors equal the server's."""
    b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS + ["--enable-features=WebMachineLearningNeuralNetwork"])
    try:
        page = b.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]")
        state = page.get_attribute("body", "data-webnn")
        assert state in ("available", "unsupported", "missing")
        assert page.inner_text("#webnn-status").startswith("WebNN:")
        if state != "available":
            return
        page.select_option("#engine", "webnn")
        page.click("#compare")
        page.wait_for_function("document.getElementById('heatmap').dataset.engine === 'webnn'"
                               " || document.getElementById('compare-status').className === 'error'", timeout=180_000)
        assert float(page.get_attribute("#heatmap", "data-agreement")) >= 0.9999, page.inner_text("#compare-status")
    finally:
        b.close()
