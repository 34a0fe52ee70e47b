"""The HTTP service: OpenAI- and TEI-compatible routes over one Embedder and a dynamic Batcher."""

from __future__ import annotations

import base64
import hmac
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from .. import __version__
from ..errors import BackendError, InputError, MinilmError
from .batcher import Batcher, QueueFullError
from .metrics import Metrics


@dataclass
class Settings:
    max_batch_tokens: int = 16384
    max_wait_ms: float = 0.0
    max_inputs: int = 2048
    max_input_chars: int = 100_000
    max_queue: int = 1024
    api_key: Optional[str] = None


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


# one table: exception class -> (HTTP status, error type)
STATUS = [(QueueFullError, 429, "rate_limit_error"), (InputError, 400, "invalid_request_error"),
          (BackendError, 500, "server_error"), (MinilmError, 500, "server_error"), (ValueError, 400, "invalid_request_error")]


class OpenAIRequest(BaseModel):
    input: Union[str, list[str], list[int], list[list[int]]]
    model: Optional[str] = None
    encoding_format: str = "float"
    dimensions: Optional[int] = None
    user: Optional[str] = None


class TEIRequest(BaseModel):
    inputs: Union[str, list[str]]
    normalize: bool = True
    truncate: bool = True


class SimilarityInputs(BaseModel):
    source_sentence: str
    sentences: list[str]


class SimilarityRequest(BaseModel):
    inputs: SimilarityInputs


class TokenizeRequest(BaseModel):
    inputs: Union[str, list[str]]


def _json(payload) -> Response:
    """Serialise directly: FastAPI's generic encoder is slow on thousands of floats."""
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


def create_app(embedder, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    batcher = Batcher(embedder, settings.max_batch_tokens, settings.max_wait_ms, settings.max_queue, metrics)

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()  # SIGTERM: uvicorn stops accepting, waits for requests, then we drain

    app = FastAPI(title="minilm", version=__version__, lifespan=lifespan)
    app.state.batcher, app.state.metrics = batcher, metrics

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        open_paths = ("/health", "/openapi.json", "/docs", "/metrics")
        key = settings.api_key
        if key and request.url.path not in open_paths:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), key.encode()):
                response = _error(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "authentication_error")
                metrics.observe_request(request.url.path, 401, time.perf_counter() - start)
                return response
        response = await call_next(request)
        metrics.observe_request(request.url.path, response.status_code, time.perf_counter() - start)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"invalid request: {first.get('msg', 'bad body')}" + (f" at {where}" if where else ""),
                      "invalid_request_error")

    @app.exception_handler(HTTPError)
    async def on_http_error(request, exc: HTTPError):
        return _error(exc.status, str(exc), exc.kind, exc.headers)

    @app.exception_handler(Exception)
    async def on_error(request, exc):
        status, kind = next(((s, k) for cls, s, k in STATUS if isinstance(exc, cls)), (500, "server_error"))
        headers = {"Retry-After": "1"} if status == 429 else None
        return _error(status, str(exc) or type(exc).__name__, kind, headers)

    def check_count(n: int) -> None:
        if n > settings.max_inputs:
            raise HTTPError(413, f"{n} inputs is more than the limit of {settings.max_inputs} (--max-inputs)")

    def check_texts(texts: list[str]) -> None:
        check_count(len(texts))
        for i, text in enumerate(texts):
            if len(text) > settings.max_input_chars:
                raise HTTPError(413, f"input {i} has {len(text)} characters, more than the limit of "
                                     f"{settings.max_input_chars} (--max-input-chars)")

    def tokenize(texts: list[str], truncate: bool = True) -> list[list[int]]:
        check_texts(texts)
        encodings = embedder.tokenizer.encodings(texts)
        if not truncate:
            for i, enc in enumerate(encodings):
                if enc.overflowing:  # the tokenizer truncates; what it cut off shows here
                    raise HTTPError(413, f"input {i} is longer than the model's {embedder.max_length} tokens and truncate=false")
        return [enc.ids for enc in encodings]

    @app.post("/v1/embeddings")
    async def openai_embeddings(body: OpenAIRequest):
        raw = body.input
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], str)):
            ids = tokenize([raw] if isinstance(raw, str) else raw)
        else:
            ids = [raw] if raw and isinstance(raw[0], int) else raw
            if not ids or any(not x for x in ids):
                raise HTTPError(400, "input must not be empty")
            check_count(len(ids))
            ids = [x[: embedder.max_length] for x in ids]
            bad = [t for x in ids for t in x if not 0 <= t < embedder.tokenizer.vocab_size]
            if bad:
                raise HTTPError(400, f"token id {bad[0]} is outside the vocabulary (0..{embedder.tokenizer.vocab_size - 1})")
        if body.encoding_format not in ("float", "base64"):
            raise HTTPError(400, f"encoding_format {body.encoding_format!r} is not 'float' or 'base64'")
        if body.dimensions is not None and not 1 <= body.dimensions <= embedder.dim:
            raise HTTPError(400, f"dimensions must be between 1 and {embedder.dim}")
        vectors = await batcher.embed(ids)  # every check above runs before the request costs a batch
        if body.dimensions is not None:
            vectors = vectors[:, : body.dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        encode = (lambda v: base64.b64encode(v.astype("<f4").tobytes()).decode()) if body.encoding_format == "base64" \
            else (lambda v: v.tolist())
        tokens = sum(len(x) for x in ids)
        return _json({"object": "list", "model": body.model or embedder.path.name,
                      "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    @app.post("/embed")
    async def tei_embed(body: TEIRequest):
        texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
        vectors = await batcher.embed(tokenize(texts, body.truncate), normalize=body.normalize)
        return _json(vectors.tolist())

    @app.post("/similarity")
    async def similarity(body: SimilarityRequest) -> list[float]:
        texts = [body.inputs.source_sentence] + body.inputs.sentences
        vectors = await batcher.embed(tokenize(texts), normalize=True)
        return (vectors[1:] @ vectors[0]).tolist()

    @app.post("/tokenize")
    async def tokenize_route(body: TokenizeRequest) -> list[list[dict]]:
        texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
        check_texts(texts)
        out = []
        for enc in embedder.tokenizer.encodings(texts):
            special = enc.special_tokens_mask
            out.append([{"id": i, "text": t, "special": bool(s), "start": a, "stop": b}
                        for i, t, s, (a, b) in zip(enc.ids, enc.tokens, special, enc.offsets)])
        return out

    @app.get("/health")
    async def health():
        try:
            vector = await batcher.embed([[101, 102]])
            if not np.isfinite(vector).all():
                raise BackendError("the runtime returned non-finite values")
        except Exception as exc:  # noqa: BLE001
            return _error(503, f"unhealthy: {exc}", "server_error")
        return {"status": "ok"}

    @app.get("/info")
    async def info():
        return {"model": str(embedder.path), "dim": embedder.dim, "max_length": embedder.max_length,
                "backend": embedder.backend, "version": __version__, "limits": settings.__dict__ | {"api_key": bool(settings.api_key)}}

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
