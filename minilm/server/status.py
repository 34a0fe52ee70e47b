"""The server's one status table: every exception a route raises becomes an HTTP status and the
documented body ``{"error": {"message", "type", "code"}}``; and the JSON codec of the responses."""

from __future__ import annotations

import json

import numpy as np

from .. import logs
from ..errors import BackendError, InputError, MinilmError
from .batcher import QueueFullError, ShuttingDownError

_log = logs.get("server")

try:
    import orjson

    def dumps(payload) -> bytes:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)

    strict_loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the server extra
    def dumps(payload) -> bytes:
        return json.dumps(payload, separators=(",", ":"), default=np.ndarray.tolist).encode()

    strict_loads = json.loads


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None):
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, headers or {}


def invalid(message: str) -> HTTPError:
    """Malformed JSON or wrong types: 422, as FastAPI's validation would say."""
    return HTTPError(422, f"invalid request: {message}")


# one table: exception class -> (HTTP status, error type); 429 and 503 also say Retry-After
STATUS = [(QueueFullError, 429, "rate_limit_error"), (ShuttingDownError, 503, "server_error"),
          (InputError, 400, "invalid_request_error"), (BackendError, 500, "server_error"),
          (MinilmError, 500, "server_error"), (ValueError, 400, "invalid_request_error")]
RETRY_AFTER = {429: "1", 503: "1"}  # seconds


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
        message = str(exc) or type(exc).__name__
        headers = {"Retry-After": RETRY_AFTER[status]} if status in RETRY_AFTER else {}
    if status >= 500 and status not in RETRY_AFTER:
        _log.error("request failed, %d: %s: %s", status, type(exc).__name__, message, exc_info=exc)
    else:
        _log.info("request refused, %d: %s", status, message)
    return status, message, kind, headers


def loads(body: bytes):
    """The JSON value of a request body; malformed JSON (bad UTF-8, nesting too deep) is 422.

    orjson refuses a lone surrogate escape (``"\\ud800"``), which is valid JSON syntax: those bodies
    are read again by ``json`` so that the text check can name the input (400, not 422)."""
    try:
        return strict_loads(body)
    except ValueError as exc:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError
        if strict_loads is not json.loads and b"\\u" in body:
            try:
                return json.loads(body)
            except (ValueError, RecursionError):
                pass
        raise invalid(f"the body is not valid JSON ({exc})") from exc
    except RecursionError as exc:  # json (without orjson) on nesting deeper than the interpreter's stack
        raise invalid("the body is not valid JSON (nested too deeply)") from exc
