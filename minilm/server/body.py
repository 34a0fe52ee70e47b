"""Reading a request body within ``--max-body-bytes``: a declared ``Content-Length`` above it is
refused before a byte is read, and a chunked body is read only up to it (then the 413 goes out and
the connection is closed, so the rest is never read)."""

from __future__ import annotations

from .status import HTTPError


class Disconnected(Exception):
    """The client left before its body was read."""


def too_large(length: int | None, limit: int) -> HTTPError:
    size = f"{length} bytes, more than" if length is not None else "more than"
    return HTTPError(413, f"the body is {size} the limit of {limit} bytes (--max-body-bytes)",
                     headers={"Connection": "close"})


def declared_length(scope) -> int | None:
    """The request's Content-Length, or None (chunked, or no body)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise HTTPError(400, f"Content-Length {value.decode('latin-1')!r} is not a number",
                                headers={"Connection": "close"}) from None
    return None


async def read_body(scope, receive, limit: int) -> bytes:
    """The whole body, or HTTPError 413 (``Connection: close``) as soon as it is known to exceed ``limit``."""
    length = declared_length(scope)
    if length is not None and length > limit:
        raise too_large(length, limit)
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(None, limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive):
    """A ``receive`` that hands out ``body`` once, then the real one (disconnects)."""
    sent = False

    async def again():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return again
