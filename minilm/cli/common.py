"""Helpers every command shares: reading texts, loading the model, encoding, option types."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..errors import InputError


def read_texts(path: str, field: str | None, column: str | None = None) -> list[str]:
    """All texts of a file (- reads stdin); see minilm.jobs.textfiles for the formats."""
    from ..jobs.textfiles import iter_texts
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
    from .. import load
    export = args.command == "export"  # export writes a float32 (or --int8) file: it loads the model at fp32
    quantize = "int8" if getattr(args, "int8", False) and not export else None
    precision = "fp32" if export else getattr(args, "precision", None) or "fp32"
    return load(args.model, backend=args.backend, threads=args.threads, max_length=args.max_length, tokenizer=args.tokenizer,
                quantize=quantize, precision=precision)


def precision(args) -> str:
    """--precision, with --int8 as its alias (default fp32)."""
    return "int8" if getattr(args, "int8", False) else getattr(args, "precision", None) or "fp32"


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def thread_count(value: str) -> int:
    """A positive integer within runtime.max_threads() (4 x the cores)."""
    from ..runtime import check_threads
    try:
        return check_threads(positive_int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("threads ")) from exc


INPUT_HELP = """Texts come as arguments, or from --input FILE (- reads stdin):
  plain text: one text per line, UTF-8. Every line is a text, empty lines included (they embed as ""),
    so output row i is input line i+1; a final newline does not add an empty text; CRLF is accepted.
  JSONL (FILE ends in .jsonl, or --field NAME is given): one JSON object per line, the text in field
    NAME (default "text"); blank lines are skipped.
  CSV / TSV / Parquet (FILE ends in .csv, .tsv, .parquet): the column --column NAME (default "text")."""


def label(text: str, width: int) -> str:
    text = " ".join(text.split()) or '""'
    return text if len(text) <= width else text[: width - 1] + "…"


def version(module: str) -> str:
    import importlib
    with contextlib.suppress(ImportError):
        return importlib.import_module(module).__version__
    return "not installed"
