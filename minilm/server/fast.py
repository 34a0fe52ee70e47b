"""The lean request path: POST /v1/embeddings and /embed as plain ASGI, in front of FastAPI.

Per request the embedding routes pay for: reading the body, one ``orjson.loads`` (``json`` when
orjson is missing), checks written by hand, tokenization, the batcher, one ``orjson.dumps`` of the
float32 rows (no Python float lists), one bytes response. No middleware stack, no pydantic, no
dependency injection; these cost more CPU per one-sentence request than the model on a 2-core
machine. Everything else (and the OpenAPI document, which still declares these two routes with
their pydantic models) goes through FastAPI. The API key and the metrics are checked here, once,
for every route.
"""

from __future__ import annotations

import base64
import hmac
import json
import time

import numpy as np

from .. import logs
from ..errors import BackendError, InputError, MinilmError
from .batcher import QueueFullError

_log = logs.get("server")

try:
    import orjson

    def dumps(payload) -> bytes:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)

    loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the server extra
    def dumps(payload) -> bytes:
        return json.dumps(payload, separators=(",", ":"), default=np.ndarray.tolist).encode()

    loads = json.loads

OPEN_PATHS = ("/health", "/openapi.json", "/docs", "/metrics", "/", "/playground.json")
OPEN_PREFIX = "/static/"  # the playground's files (its API calls send the key)
JSON_HEADERS = [(b"content-type", b"application/json")]


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


def invalid(message: str) -> HTTPError:
    """Malformed JSON or wrong types: 422, as FastAPI's validation would say."""
    return HTTPError(422, f"invalid request: {message}")


# one table: exception class -> (HTTP status, error type)
STATUS = [(QueueFullError, 429, "rate_limit_error"), (InputError, 400, "invalid_request_error"),
          (BackendError, 500, "server_error"), (MinilmError, 500, "server_error"), (ValueError, 400, "invalid_request_error")]


def error_body(status: int, message: str, kind: str) -> bytes:
    return dumps({"error": {"message": message, "type": kind, "code": status}})


def error_of(exc: Exception) -> tuple[int, str, str, dict]:
    """(status, message, type, headers) of any exception, through the one table; logged (minilm.server):
    a server error at ERROR with its traceback, a client's at INFO (the message names counts and
    positions, never the texts)."""
    if isinstance(exc, HTTPError):
        status, message, kind, headers = exc.status, str(exc), exc.kind, exc.headers
    else:
        status, kind = next(((s, k) for cls, s, k in STATUS if isinstance(exc, cls)), (500, "server_error"))
        message, headers = str(exc) or type(exc).__name__, {"Retry-After": "1"} if status == 429 else {}
    if status >= 500:
        _log.error("request failed, %d: %s: %s", status, type(exc).__name__, message, exc_info=exc)
    else:
        _log.info("request refused, %d: %s", status, message)
    return status, message, kind, headers


def _optional(body: dict, name: str, kind: type, default=None):
    value = body.get(name, default)
    if value is not None and (type(value) is not kind):  # bool is not an int here
        raise invalid(f"{name} must be {kind.__name__}")
    return value


def _texts(value, name: str = "inputs") -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    raise invalid(f"{name} must be a string or a list of strings")


def make_routes(embedder, batcher, settings):
    """The hot handlers {path: parsed JSON body -> response bytes} (errors raise HTTPError & co.),
    and the tokenize / check_texts helpers the other routes share."""
    vocab = embedder.tokenizer.vocab_size

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

    def token_ids(raw: list) -> list[list[int]]:
        ids = [raw] if type(raw[0]) is int else raw
        if not all(isinstance(x, list) and all(type(t) is int for t in x) for x in ids):
            raise invalid("input must be a string, a list of strings, or token ids (a list of integers or of lists of integers)")
        if any(not x for x in ids):
            raise HTTPError(400, "input must not be empty")
        check_count(len(ids))
        ids = [x[: embedder.max_length] for x in ids]
        bad = [t for x in ids for t in x if not 0 <= t < vocab]
        if bad:
            raise HTTPError(400, f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        return ids

    async def openai_embeddings(body) -> bytes:
        if not isinstance(body, dict) or "input" not in body:
            raise invalid("the body must be a JSON object with an 'input' field")
        raw, model = body["input"], _optional(body, "model", str)
        fmt, dimensions = _optional(body, "encoding_format", str, "float"), _optional(body, "dimensions", int)
        _optional(body, "user", str)
        if fmt not in ("float", "base64"):
            raise HTTPError(400, f"encoding_format {fmt!r} is not 'float' or 'base64'")
        if dimensions is not None and not 1 <= dimensions <= embedder.dim:
            raise HTTPError(400, f"dimensions must be between 1 and {embedder.dim}")
        if isinstance(raw, list) and not raw:
            raise HTTPError(400, "input must not be empty")
        if isinstance(raw, str) or (isinstance(raw, list) and isinstance(raw[0], str)):
            ids = tokenize(_texts(raw, "input"))
        elif isinstance(raw, list):
            ids = token_ids(raw)
        else:
            raise invalid("input must be a string, a list of strings, or token ids")
        vectors = await batcher.embed(ids)  # every check above runs before the request costs a batch
        if dimensions is not None:
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if fmt == "base64":
            rows = [base64.b64encode(v.astype("<f4", copy=False).tobytes()).decode() for v in vectors]
        else:
            rows = list(np.ascontiguousarray(vectors, np.float32))
        tokens = sum(map(len, ids))
        return dumps({"object": "list", "model": model or embedder.path.name,
                      "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(rows)],
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def tei_embed(body) -> bytes:
        if not isinstance(body, dict) or "inputs" not in body:
            raise invalid("the body must be a JSON object with an 'inputs' field")
        texts = _texts(body["inputs"])
        normalize, truncate = _optional(body, "normalize", bool, True), _optional(body, "truncate", bool, True)
        vectors = await batcher.embed(tokenize(texts, truncate), normalize=normalize)
        return dumps(np.ascontiguousarray(vectors, np.float32))

    return {"/v1/embeddings": openai_embeddings, "/embed": tei_embed}, tokenize, check_texts


class Service:
    """The ASGI application: API key and metrics for every request, the hot routes inline, the rest
    (lifespan included) to the FastAPI app."""

    def __init__(self, api, hot: dict, api_key: str | None, metrics):
        self.api, self.hot, self.metrics = api, hot, metrics
        self.key = api_key.encode() if api_key else None
        self.state = api.state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.api(scope, receive, send)
        start, path = time.perf_counter(), scope["path"]
        if self.key and path not in OPEN_PATHS and not path.startswith(OPEN_PREFIX) and not self._authorized(scope):
            status = await self._send(send, 401, error_body(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                                            "authentication_error"))
        elif scope["method"] == "POST" and path in self.hot:
            status = await self._hot(self.hot[path], receive, send)
        else:
            status = 500
            seen = {}

            async def send_seen(message):
                if message["type"] == "http.response.start":
                    seen["status"] = message["status"]
                await send(message)

            try:
                await self.api(scope, receive, send_seen)
            finally:
                self.metrics.observe_request(path, seen.get("status", status), time.perf_counter() - start)
            return
        self.metrics.observe_request(path, status, time.perf_counter() - start)

    def _authorized(self, scope) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given.removeprefix(b"Bearer ").strip(), self.key)

    async def _hot(self, handler, receive, send) -> int:
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 499  # the client left before sending its body
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            try:
                body = loads(b"".join(chunks))
            except ValueError as exc:  # orjson.JSONDecodeError, json.JSONDecodeError, bad UTF-8
                raise invalid(f"the body is not valid JSON ({exc})") from exc
            return await self._send(send, 200, await handler(body))
        except Exception as exc:  # noqa: BLE001  every error is a JSON body with its status
            status, message, kind, headers = error_of(exc)
            return await self._send(send, status, error_body(status, message, kind), headers)

    @staticmethod
    async def _send(send, status: int, body: bytes, headers: dict | None = None) -> int:
        extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status,
                    "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())] + extra})
        await send({"type": "http.response.body", "body": body})
        return status
