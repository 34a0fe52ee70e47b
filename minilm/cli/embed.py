"""The ``minilm embed`` and ``minilm similarity`` commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import numpy as np

from ..atomic import atomic_write, output_file
from .common import INPUT_HELP, encode, gather_texts, label, load_model, positive_int


def cmd_embed(args, parser) -> int:
    if args.engine == "ray":
        if not args.input or not args.output or args.texts:
            parser.error("--engine ray reads --input DIR_OR_GLOB and writes Parquet files into --output DIR")
        from ..jobs.distributed import run
        count = run(args.input, args.output, model=args.model, address=args.address, column=args.column or args.field or "text",
                    workers=args.workers, threads=args.threads or 1, batch_size=args.batch_size, normalize=args.normalize,
                    rows_per_batch=args.chunk_size or 1024)
        print(f"wrote {count} rows with embeddings to {args.output}/ (Parquet)", file=sys.stderr)
        return 0
    if args.input and args.output and not args.texts:  # a file to a file: streamed, resumable
        from ..jobs.stream import embed_file
        model = load_model(args)
        log = lambda message: print(f"minilm: {message}", file=sys.stderr)  # noqa: E731
        count = embed_file(model, args.input, args.output, field=args.field, column=args.column,
                           batch_size=args.batch_size, chunk_size=args.chunk_size or 10_000, normalize=args.normalize,
                           output_kind=args.output_kind, progress=sys.stderr.isatty(), restart=args.restart, log=log)
        print(f"wrote {count} embeddings of dim {model.dim} to {args.output}", file=sys.stderr)
        return 0
    if args.output:
        output_file(args.output)  # a folder or a device refused before any work
    texts = gather_texts(args, parser)
    model = load_model(args)
    vectors = encode(model, texts, args, normalize=args.normalize, output=args.output_kind)
    if args.output and args.output.endswith(".npy"):
        with atomic_write(args.output) as f:
            np.save(f, vectors)
    else:  # a file appears whole or not at all (minilm.atomic)
        with atomic_write(args.output, "w", encoding="utf-8") if args.output else contextlib.nullcontext(sys.stdout) as out:
            for i, (text, vector) in enumerate(zip(texts, vectors)):  # 9 significant digits round-trip float32
                row = {"index": i, "text": text, "embedding": [float(f"{x:.9g}") for x in vector.tolist()]}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.output:
        print(f"wrote {len(texts)} embeddings of dim {model.dim} to {args.output}", file=sys.stderr)
    return 0


def format_table(texts: list[str], matrix: np.ndarray, columns: int | None = None) -> str:
    """Rows "i. text" (at most 40 characters, less if the terminal is narrow); column i is text i."""
    import shutil
    n, cell = len(texts), 8
    columns = columns or shutil.get_terminal_size((100, 24)).columns
    room = max(12, min(40, columns - 1 - len(f"{n}. ") - n * cell))
    labels = [f"{i + 1}. {label(t, room)}" for i, t in enumerate(texts)]
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


def register(command, common, inputs) -> None:
    """Add ``embed`` and ``similarity``; ``command`` is main.build_parser's helper."""
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
