"""The HTTP service: OpenAI- and TEI-compatible routes over one Embedder and a dynamic Batcher.

``create_app`` returns the ASGI application of ``fast.Service``: the two embedding routes run on
its lean path; the FastAPI app here serves the other routes and the OpenAPI document (where the
embedding routes are declared with their pydantic models, and would also work if it were mounted
alone).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, logs
from ..errors import BackendError
from ..sources import hub_id_of
from .batcher import Batcher
from .fast import Service
from .heads import make_head_routes
from .metrics import Metrics
from .playground import add_playground
from .routes import Checks, make_routes
from .status import HTTPError, error_body, error_of


@dataclass
class Settings:
    max_batch_tokens: int = 16384
    max_wait_ms: float = 0.0
    max_inputs: int = 2048
    max_input_chars: int = 100_000
    max_queue: int = 1024
    max_request_tokens: int = 300_000  # tokens of one request after truncation (OpenAI's limit for embeddings)
    max_body_bytes: int = 4 * 1024 * 1024
    shutdown_timeout: float = 30.0  # seconds of drain after SIGTERM; what is left then gets 503
    open_metrics: bool = False  # GET /metrics without the API key
    workers: Optional[int] = None  # batches at once (Batcher); None: see batch_workers
    api_key: Optional[str] = None
    index: Optional[str] = None  # --index PATH: enables POST /search


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


class RerankRequest(BaseModel):  # TEI /rerank
    query: str
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool = True


class Document(BaseModel):
    text: str


class V1RerankRequest(BaseModel):  # Cohere / Jina /v1/rerank
    query: str
    documents: list[Union[str, Document]]
    model: Optional[str] = None
    top_n: Optional[int] = None
    return_documents: bool = False
    truncate: bool = True


class PredictRequest(BaseModel):  # TEI /predict
    inputs: Union[str, list[str], list[Union[str, list[str]]]]
    raw_scores: bool = False
    truncate: bool = True


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    error: ErrorDetail


# every route's errors, as the OpenAPI document declares them (in place of FastAPI's own 422 shape)
ERRORS = {"4XX": {"model": ErrorResponse, "description": "Bad request: malformed JSON or wrong types (422), a bad value (400), "
                                                          "over a limit (413), missing key (401), no route (404, 405), queue full (429)"},
          "5XX": {"model": ErrorResponse, "description": "Server error (500), unhealthy or shutting down (503)"}}


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> Response:
    return Response(error_body(status, message, kind), status, headers=headers, media_type="application/json")


def batch_workers(embedder, workers: int | None) -> tuple[int, int | None]:
    """Batches the Batcher runs at once, and the threads of each (None: the model's). Default: two,
    on half the model's threads each, where the model runs packed batches on onnxruntime with 2+
    threads (docs/server.md); else one batch at a time on all of them. On openvino (precision="bf16") the
    batches share one model (runtime/openvino_exec.py): a small batch runs on all its threads (LATENCY),
    a larger one on one stream of its THROUGHPUT form."""
    cores = getattr(embedder.executor("sentence_embedding", embedder.pipeline.normalize), "threads", 1)
    if not getattr(embedder, "encode_packed", None) or embedder.backend not in ("onnxruntime", "openvino"):
        return 1, None  # a static .webnn graph, or torch (one device, its own threads)
    workers = workers or (2 if cores >= 2 else 1)
    if embedder.backend == "openvino":
        return min(workers, cores), None
    return workers, (max(1, cores // workers) if workers > 1 else None)


def create_app(embedder, settings: Settings | None = None, reranker=None, classifier=None) -> Service:
    """``reranker``: a minilm.CrossEncoder for /rerank, /v1/rerank (and /predict without a classifier);
    ``classifier``: a minilm.Classifier for /predict (server/heads.py)."""
    settings = settings or Settings()
    metrics = Metrics()
    workers, threads = batch_workers(embedder, settings.workers)
    batcher = Batcher(embedder, settings.max_batch_tokens, settings.max_wait_ms, settings.max_queue, metrics,
                      workers, threads)
    pool = ThreadPoolExecutor(2, thread_name_prefix="minilm-tokenize")  # the tokenization of large requests
    checks = Checks(embedder, settings, pool)
    hot = make_routes(embedder, batcher, checks)
    head_routes, head_batchers = make_head_routes(reranker, classifier, settings, metrics, pool)
    hot |= head_routes

    @asynccontextmanager
    async def lifespan(app):
        if getattr(embedder, "encode_packed", None):  # the graphs of the server's batches, built now, not in the first one
            for packed, size in ((True, None), (True, threads), (False, threads)):
                await asyncio.to_thread(embedder.executor, "sentence_embedding", embedder.pipeline.normalize, packed, size)
        for b in [batcher] + head_batchers:
            b.start()
        logs.get("server").info("ready: %s, dim %d, max length %d, backend %s; %d batch worker%s on %s threads; "
                                "limits: %d inputs, %d characters each, %d tokens per batch, queue %d%s",
                                hub_id_of(embedder.path), embedder.dim, embedder.max_length, embedder.backend, workers,
                                "s" if workers > 1 else "", threads or "the model's", settings.max_inputs,
                                settings.max_input_chars, settings.max_batch_tokens, settings.max_queue,
                                ", API key required" if settings.api_key else "")
        yield
        logs.get("server").info("shutting down: %d batches still queued are finished first",
                                sum(len(b.queue) for b in [batcher] + head_batchers))
        for b in [batcher] + head_batchers:
            await b.stop()  # SIGTERM: Service.drain answered or refused every request; the workers end
        pool.shutdown(wait=False)

    app = FastAPI(title="minilm", version=__version__, lifespan=lifespan, responses=ERRORS)
    app.state.batcher, app.state.metrics = batcher, metrics

    @app.exception_handler(RequestValidationError)
    async def on_validation(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"invalid request: {first.get('msg', 'bad body')}" + (f" at {where}" if where else ""),
                      "invalid_request_error")

    @app.exception_handler(Exception)
    async def on_error(request, exc):
        status, message, kind, headers = error_of(exc)
        return _error(status, message, kind, headers)

    app.add_exception_handler(HTTPError, on_error)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request, exc):  # FastAPI's own 404, 405 and body errors, in our shape
        if exc.status_code == 404:
            message = f"no route {request.url.path}: see /openapi.json"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}: use {exc.headers.get('Allow', 'another')}"
        else:
            message = str(exc.detail)
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return _error(exc.status_code, message, kind, exc.headers)

    # served by fast.Service; declared here for the OpenAPI document (and for FastAPI alone)
    @app.post("/v1/embeddings", response_class=Response)
    async def openai_embeddings(body: OpenAIRequest):
        return Response(await hot["/v1/embeddings"](body.model_dump()), media_type="application/json")

    @app.post("/embed", response_class=Response)
    async def tei_embed(body: TEIRequest):
        return Response(await hot["/embed"](body.model_dump()), media_type="application/json")

    if "/rerank" in hot:  # declared for the OpenAPI document, served by fast.Service (server/heads.py)
        @app.post("/rerank", response_class=Response)
        async def tei_rerank(body: RerankRequest):
            return Response(await hot["/rerank"](body.model_dump()), media_type="application/json")

        @app.post("/v1/rerank", response_class=Response)
        async def v1_rerank(body: V1RerankRequest):
            return Response(await hot["/v1/rerank"](body.model_dump()), media_type="application/json")

    if "/predict" in hot:
        @app.post("/predict", response_class=Response)
        async def tei_predict(body: PredictRequest):
            return Response(await hot["/predict"](body.model_dump()), media_type="application/json")

    @app.post("/similarity")
    async def similarity(body: SimilarityRequest) -> list[float]:
        texts = [body.inputs.source_sentence] + body.inputs.sentences
        ids = await checks.tokenize(texts, name=lambda i: f"sentences[{i - 1}]" if i else "source_sentence")
        vectors = await batcher.embed(ids, normalize=True)
        return (vectors[1:] @ vectors[0]).tolist()

    @app.post("/tokenize")
    async def tokenize_route(body: TokenizeRequest) -> list[list[dict]]:
        return await checks.table([body.inputs] if isinstance(body.inputs, str) else body.inputs)

    @app.get("/health")
    async def health():
        try:
            vector = await batcher.embed([[101, 102], [101, 101, 102]])  # two lengths: the packed graph, as batches
            if not np.isfinite(vector).all():
                raise BackendError("the runtime returned non-finite values")
        except Exception as exc:  # noqa: BLE001
            return _error(503, f"unhealthy: {exc}", "server_error")
        return {"status": "ok"}

    @app.get("/info")
    async def info():
        heads = {name: {"model": str(m.path), "labels": list(m.labels), "max_length": m.max_length,
                        "precision": getattr(m, "precision", "fp32")}
                 for name, m in (("reranker", reranker), ("classifier", classifier)) if m is not None}
        return {"model": str(embedder.path), "dim": embedder.dim, "max_length": embedder.max_length,
                "backend": embedder.backend, "precision": getattr(embedder, "precision", "fp32"), "version": __version__,
                **heads,
                "limits": settings.__dict__ | {"api_key": bool(settings.api_key)}}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus():
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    add_playground(app, embedder, settings.index, reranker)  # GET / (the page), /static, /model/*, POST /search
    return Service(app, hot, settings, metrics, [batcher] + head_batchers)
