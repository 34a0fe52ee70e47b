"""``minilm serve``: the HTTP service (extra ``minilm[server]``: FastAPI + uvicorn)."""

from __future__ import annotations

from .. import logs
from ..errors import MissingDependencyError

BACKSTOP = 10.0  # seconds uvicorn waits past --shutdown-timeout before it cancels what is left


def serve(embedder, host: str = "127.0.0.1", port: int = 8080, reranker=None, classifier=None, **settings) -> None:
    """Run the server until SIGTERM / Ctrl-C, then drain: no new requests (503), the ones in flight
    finish within ``shutdown_timeout`` seconds, what is left then gets 503 with Retry-After; exit 0.
    ``reranker`` / ``classifier``: a minilm.CrossEncoder / Classifier for /rerank, /v1/rerank and /predict."""
    try:
        import uvicorn

        from .app import Settings, create_app
    except ImportError as exc:
        raise MissingDependencyError(f"minilm serve needs FastAPI and uvicorn ({exc.name} is missing): "
                                     "pip install 'minilm[server]'") from exc
    import asyncio
    import signal

    config = Settings(**settings)
    app = create_app(embedder, config, reranker=reranker, classifier=classifier)

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:  # in the main thread, which runs the event loop
            try:
                asyncio.get_running_loop().call_soon_threadsafe(app.drain)
            except RuntimeError:  # the loop is not running yet (or any more): nothing to drain
                pass
            super().handle_exit(sig, frame)

    # uvicorn re-raises the signal to the handler it found once it is done: make that one a no-op
    # so a graceful stop exits 0; it picks uvloop and httptools when installed (the server extra)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    log = logs.get("server")
    log.info("serving %s on http://%s:%d (SIGTERM or Ctrl-C drains it: %g s for the requests in flight)",
             embedder.path, host, port, config.shutdown_timeout)
    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_graceful_shutdown=config.shutdown_timeout + BACKSTOP)).run()
    log.info("stopped")
