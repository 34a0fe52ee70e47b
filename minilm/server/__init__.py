"""``minilm serve``: the HTTP service (extra ``minilm[server]``: FastAPI + uvicorn)."""

from __future__ import annotations

from .. import logs
from ..errors import MissingDependencyError


def serve(embedder, host: str = "127.0.0.1", port: int = 8080, reranker=None, classifier=None, **settings) -> None:
    """Run the server until SIGTERM / Ctrl-C (graceful: in-flight requests finish). ``reranker`` /
    ``classifier``: a minilm.CrossEncoder / Classifier for /rerank, /v1/rerank and /predict."""
    try:
        import uvicorn

        from .app import Settings, create_app
    except ImportError as exc:
        raise MissingDependencyError(f"minilm serve needs FastAPI and uvicorn ({exc.name} is missing): "
                                     "pip install 'minilm[server]'") from exc
    import signal

    app = create_app(embedder, Settings(**settings), reranker=reranker, classifier=classifier)
    # uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal to the handler it
    # found: make that one a no-op so a graceful stop exits 0
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    log = logs.get("server")
    log.info("serving %s on http://%s:%d (SIGTERM or Ctrl-C stops it, finishing the requests in flight)", embedder.path, host, port)
    # uvicorn picks uvloop and httptools when installed (the server extra has them); no access log
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)
    log.info("stopped")
