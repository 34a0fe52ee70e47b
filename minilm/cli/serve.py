"""The ``minilm serve`` command."""

from __future__ import annotations

import argparse
import os
import sys

from .common import load_model, positive_int, thread_count


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {value!r}")
    return number


def cmd_serve(args, parser) -> int:
    from ..server import serve
    from ..tasks import Classifier, CrossEncoder
    model = load_model(args)
    options = {"backend": args.backend, "threads": args.threads, "precision": model.precision}  # auto resolved once
    reranker = CrossEncoder(args.reranker, **options) if args.reranker else None
    classifier = Classifier(args.classifier, **options) if args.classifier else None
    heads = "".join(f", {what} {m.path.name}" for what, m in (("reranker", reranker), ("classifier", classifier)) if m)
    print(f"minilm serving {model.path.name} ({model.precision}){heads} on http://{args.host}:{args.port} "
          "(playground at /, OpenAPI at /openapi.json)",
          file=sys.stderr)
    serve(model, args.host, args.port, reranker=reranker, classifier=classifier, max_batch_tokens=args.max_batch_tokens, max_wait_ms=args.max_wait_ms,
          max_inputs=args.max_inputs, max_input_chars=args.max_input_chars, max_queue=args.max_queue, api_key=args.api_key,
          index=args.index, workers=args.workers, max_request_tokens=args.max_request_tokens,
          max_body_bytes=args.max_body_bytes, shutdown_timeout=args.shutdown_timeout, open_metrics=args.open_metrics)
    return 0


def register(command, common, inputs) -> None:
    """Add ``serve``; ``command`` is main.build_parser's helper."""
    srv = command("serve", "HTTP server: OpenAI /v1/embeddings, TEI /embed, ...", [common], cmd_serve)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (default: $MINILM_API_KEY, else none)",
                     default=os.environ.get("MINILM_API_KEY"))
    srv.add_argument("--max-batch-tokens", type=int, default=16384, help="token budget of one batch")
    srv.add_argument("--max-wait-ms", type=float, default=0.0,
                     help="extra wait to fill a batch (default 0: requests arriving during a batch form the next)")
    srv.add_argument("--max-inputs", type=int, default=2048, help="inputs per request (413 above)")
    srv.add_argument("--max-input-chars", type=int, default=100_000, help="characters per input (413 above)")
    srv.add_argument("--max-request-tokens", type=positive_int, default=300_000, metavar="N",
                     help="tokens per request, after truncation (413 above; default 300000)")
    srv.add_argument("--max-body-bytes", type=positive_int, default=4 * 1024 * 1024, metavar="N",
                     help="bytes per request body: 413 from Content-Length before reading, or once a chunked body passes it "
                          "(default 4 MiB)")
    srv.add_argument("--max-queue", type=int, default=1024, help="requests waiting for a batch before 429")
    srv.add_argument("--shutdown-timeout", type=seconds, default=30.0, metavar="SECONDS",
                     help="on SIGTERM: new requests get 503, those in flight this long to finish, then 503 "
                          "with Retry-After for the rest; exit 0 (default 30)")
    srv.add_argument("--open-metrics", action="store_true",
                     help="serve GET /metrics without the API key (with --api-key it needs the key by default)")
    srv.add_argument("--workers", type=thread_count, metavar="N",
                     help="batches run at once, each on threads/N cores; a batch alone gets all of them "
                          "(default: 2 with 2+ threads on onnxruntime, else 1)")
    srv.add_argument("--index", metavar="PATH", help="an index built by `minilm index`: enables POST /search and the page's search panel")
    srv.add_argument("--reranker", metavar="MODEL", help="a cross-encoder (path or name): enables POST /rerank (TEI), "
                     "/v1/rerank (Cohere / Jina), /predict, and the page's rerank panel")
    srv.add_argument("--classifier", metavar="MODEL", help="a sequence-classification model: serves POST /predict (TEI)")
