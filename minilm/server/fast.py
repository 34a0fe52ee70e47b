"""The lean request path: POST /v1/embeddings and /embed as plain ASGI, in front of FastAPI.

Per request the embedding routes pay for: reading the body, one ``orjson.loads`` (``json`` when
orjson is missing), checks written by hand, tokenization, the batcher, one ``orjson.dumps`` of the
float32 rows (no Python float lists), one bytes response. No middleware stack, no pydantic, no
dependency injection; these cost more CPU per one-sentence request than the model on a 2-core
machine. Everything else (and the OpenAPI document, which still declares these two routes with
their pydantic models) goes through FastAPI. For every route, here and once: the API key, the body
limit (``body.py``), the JSON check of a POST body, the metrics by route template, and the drain of
a shutdown (``drain``: new requests 503 at once, the rest 503 when ``--shutdown-timeout`` is up).
"""

from __future__ import annotations

import asyncio
import hmac
import time

from starlette.routing import Match

from .batcher import ShuttingDownError
from .body import Disconnected, read_body, replay
from .metrics import UNMATCHED
from .status import HTTPError, error_body, error_of, loads  # noqa: F401  HTTPError: imported from here too

OPEN_PATHS = ("/health", "/openapi.json", "/docs", "/", "/playground.json")  # and /metrics with --open-metrics
OPEN_PREFIX = "/static/"  # the playground's files (its API calls send the key)
JSON_HEADERS = [(b"content-type", b"application/json")]
CLOSED = 499  # the status counted for a client that left before its answer


def route_of(api, scope) -> str:
    """The route template a request is counted under (``/model/{name}``), or UNMATCHED."""
    for route in api.router.routes:
        if route.matches(scope)[0] != Match.NONE:
            return route.path
    return UNMATCHED


class Service:
    """The ASGI application: key, body limit, metrics and drain for every request, the hot routes
    inline, the rest (lifespan included) to the FastAPI app."""

    def __init__(self, api, hot: dict, settings, metrics, batchers: list):
        self.api, self.hot, self.metrics, self.batchers = api, hot, metrics, batchers
        self.key = settings.api_key.encode() if settings.api_key else None
        self.open = OPEN_PATHS + (("/metrics",) if settings.open_metrics else ())
        self.max_body, self.shutdown_timeout = settings.max_body_bytes, settings.shutdown_timeout
        self.draining = False
        self.state = api.state

    def drain(self) -> None:
        """Shutdown has begun (on the event loop): refuse new requests; what is still queued or
        running when ``--shutdown-timeout`` is up gets 503 too."""
        if self.draining:
            return
        self.draining = True
        error = ShuttingDownError(f"the server is shutting down and this request did not finish within its "
                                  f"{self.shutdown_timeout:g} s drain (--shutdown-timeout); retry")
        for batcher in self.batchers:
            asyncio.get_running_loop().call_later(self.shutdown_timeout, batcher.abort, error)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.api(scope, receive, send)
        start, path, method = time.perf_counter(), scope["path"], scope["method"]
        hot = self.hot.get(path) if method == "POST" else None
        route = path if hot else route_of(self.api, scope)
        seen = {}

        async def reply(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)
        try:
            if self.draining:
                raise HTTPError(503, "the server is shutting down; retry", "server_error",
                                {"Retry-After": "1", "Connection": "close"})
            if self.key and path not in self.open and not path.startswith(OPEN_PREFIX) and not self._authorized(scope):
                raise HTTPError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'", "authentication_error")
            body = await read_body(scope, receive, self.max_body)
            if hot:
                await self._send(reply, 200, await hot(loads(body)))
            else:
                if method == "POST" and body and route != UNMATCHED:
                    loads(body)  # malformed JSON: the same 422 as the hot routes, before FastAPI parses it again
                await self.api(scope, replay(body, receive), reply)
        except Disconnected:
            seen.setdefault("status", CLOSED)
        except asyncio.CancelledError:  # uvicorn's last resort at shutdown: answer 503, never its 500
            if "status" not in seen:
                await self._error(reply, ShuttingDownError("the server is shutting down; retry"))
        except Exception as exc:  # noqa: BLE001  every error is a JSON body with its status
            if "status" in seen:
                raise  # FastAPI answered it already (its 500 handler re-raises for the server's log)
            await self._error(reply, exc)
        finally:
            self.metrics.observe_request(route, seen.get("status", 500), time.perf_counter() - start)

    def _authorized(self, scope) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given.removeprefix(b"Bearer ").strip(), self.key)

    async def _error(self, send, exc: Exception) -> None:
        status, message, kind, headers = error_of(exc)
        await self._send(send, status, error_body(status, message, kind), headers)

    @staticmethod
    async def _send(send, status: int, body: bytes, headers: dict | None = None) -> int:
        extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status,
                    "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())] + extra})
        await send({"type": "http.response.body", "body": body})
        return status
