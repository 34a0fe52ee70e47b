"""The playground: the page at ``/``, its static files, the model files it runs in the browser, and
``POST /search`` over an index given with ``minilm serve --index PATH``.

- ``GET /`` and ``/static/*``: plain HTML / JS / CSS shipped in ``minilm/server/static/`` (no CDN);
  ``static/vendor/`` holds onnxruntime-web and @huggingface/tokenizers, copied from npm by
  ``scripts/vendor-web.sh`` (not committed: the wasm is 14 MB).
- ``GET /playground.json``: what the page needs to know (model, dim, whether search is on, the
  reranker if one is served (its panel then ranks documents through ``POST /rerank``), whether the
  vendored files are there).
- ``GET /model/{name}``: the served model exported for the browser, made on first request into a
  temporary folder: ``model.onnx`` + ``tokenizer.json`` + ``minilm_export.json`` (onnxruntime-web),
  and ``webnn/model.js`` + ``webnn/model.weights`` + ``webnn/manifest.json`` (WebNN, batch 1,
  sequence length 128).
- ``POST /search {"query": str, "k": int}``: ``minilm.search.index.Index.open(path).search(query, k=k)``,
  imported lazily; 404 without ``--index``, 501 when ``minilm.search.index`` is not installed.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..sources import hub_id_of
from .status import HTTPError

STATIC = Path(__file__).parent / "static"
VENDOR = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "tokenizers.min.mjs")
ONNX_FILES = ("model.onnx", "tokenizer.json", "minilm_export.json")
WEBNN_FILES = ("model.js", "model.weights", "manifest.json", "webnn_config.json", "tokenizer.json")
WEBNN_SEQ_LEN = 128


class SearchRequest(BaseModel):
    query: str
    k: int = Field(10, ge=1, le=1000)


class BrowserModel:
    """The served model's files for the browser, exported once, on first request."""

    def __init__(self, embedder):
        self.embedder, self.lock, self.tmp = embedder, threading.Lock(), None

    def path(self, kind: str, name: str) -> Path:
        with self.lock:
            if self.tmp is None:
                self.tmp = tempfile.TemporaryDirectory(prefix="minilm-browser-")
            folder = Path(self.tmp.name) / kind
            if not folder.exists():
                self._export(kind, folder)
            return folder / name

    def _export(self, kind: str, folder: Path) -> None:
        if kind == "onnx":
            from ..export import export_onnx
            export_onnx(self.embedder, folder / "model.onnx")
        else:
            from ..webnn.js_module import write_module
            from ..webnn.model import export
            write_module(export(self.embedder, folder, batch=1, seq_len=WEBNN_SEQ_LEN))


class Search:
    """The index of --index PATH, opened on first use."""

    def __init__(self, path: str | None):
        self.path, self.index, self.lock = path, None, threading.Lock()

    def run(self, query: str, k: int) -> list[dict]:
        if self.path is None:
            raise HTTPError(404, "search is off: start the server with --index PATH (an index built by `minilm index`)")
        try:
            from minilm.search.index import Index
        except ImportError as exc:
            raise HTTPError(501, f"search needs minilm.search.index, which this installation does not have ({exc}); "
                                 "update minilm to a version with `minilm index`", "server_error") from exc
        with self.lock:
            if self.index is None:
                self.index = Index.open(self.path)
        return [{"id": plain(r.id), "score": float(r.score), "text": r.text} for r in self.index.search(query, k=k)]


def plain(value):
    """A JSON-ready id: NumPy integers become ints, anything else not str / int its str."""
    if isinstance(value, (str, int)):
        return value
    return int(value) if hasattr(value, "__index__") else str(value)


def add_playground(app: FastAPI, embedder, index: str | None = None, reranker=None) -> None:
    browser, search = BrowserModel(embedder), Search(index)
    app.state.search = search

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/playground.json", include_in_schema=False)
    async def playground():
        return {"model": hub_id_of(embedder.path), "dim": embedder.dim, "max_length": embedder.max_length,
                "search": search.path is not None, "webnn_seq_len": WEBNN_SEQ_LEN,
                "reranker": hub_id_of(reranker.path) if reranker is not None else None,
                "vendored": all((STATIC / "vendor" / f).exists() for f in VENDOR)}

    @app.get("/model/{name}", include_in_schema=False)
    async def onnx_file(name: str):
        if name not in ONNX_FILES:
            raise HTTPError(404, f"no model file {name!r}: one of {', '.join(ONNX_FILES)}")
        return FileResponse(await asyncio.to_thread(browser.path, "onnx", name))

    @app.get("/model/webnn/{name}", include_in_schema=False)
    async def webnn_file(name: str):
        if name not in WEBNN_FILES:
            raise HTTPError(404, f"no WebNN file {name!r}: one of {', '.join(WEBNN_FILES)}")
        media = "text/javascript" if name.endswith(".js") else None
        return FileResponse(await asyncio.to_thread(browser.path, "webnn", name), media_type=media)

    @app.post("/search")
    async def search_route(body: SearchRequest) -> dict:
        return {"query": body.query, "results": await asyncio.to_thread(search.run, body.query, body.k)}
