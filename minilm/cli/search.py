"""The ``minilm index build|add`` and ``minilm search`` commands (registered by cli.main.build_parser)."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

from ..errors import InputError
from .common import positive_int, precision

INDEX_HELP = """An index is a folder: meta.json (the model, the segments) and per segment a float32 .npy of unit
vectors and a .jsonl of ids, texts and metadata. No server; search is exact cosine over the vectors,
memory-mapped (see docs/search.md for the measurements behind that choice).
--input: plain text (one text per line), JSONL (--field, default "text"), CSV / TSV / Parquet (--column).
Ids: --id-field NAME (a JSONL field or a CSV / Parquet column), else row numbers continuing the index's
count; ids must be unique within the index (an add with an id already present fails and changes nothing).
Metadata: --meta NAME (repeatable) stores those fields with each text and prints them with --json.
An add is all or nothing: killed at any moment it leaves the index as it was. Each file's CRC-32 is in
meta.json: a search checks a segment the first time it reads it, `minilm index verify` checks them all."""


def _rows(args):
    """(texts, ids, metadata) iterators over --input, read lazily."""
    from ..jobs.records import iter_fields
    from ..jobs.textfiles import iter_texts
    if args.input == "-" and (args.id_field or args.meta):
        raise InputError("--id-field / --meta read the file twice: give a file, not stdin")
    texts = iter_texts(args.input, args.field, args.column)
    names = ([args.id_field] if args.id_field else []) + (args.meta or [])
    if not names:
        return texts, None, None
    for_ids, for_meta = itertools.tee(iter_fields(args.input, names, args.field, args.column))
    ids = (f[args.id_field] for f in for_ids) if args.id_field else None
    meta = ({k: f[k] for k in args.meta} for f in for_meta) if args.meta else None
    return texts, ids, meta


def cmd_build(args, parser) -> int:
    from .common import load_model
    from ..search.index import Index
    texts, ids, meta = _rows(args)
    model = load_model(args)
    start = time.perf_counter()
    index = Index.build(args.out, texts, ids, meta, embedder=model, batch_size=args.batch_size,
                        chunk_size=args.chunk_size, ann=args.ann)
    print(f"built {args.out}: {len(index)} texts, {index.manifest['model']['name']} ({index.dim} dims) in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _open(args):
    """The index, with its recorded model and settings; --model, --max-length, --tokenizer, --precision / --int8 override
    them (and are refused if they would make other vectors); --backend and --threads apply."""
    from pathlib import Path

    from ..search.index import Index
    from ..search.model_record import load_recorded
    from ..search.store import read_manifest
    record = read_manifest(Path(args.index))["model"]
    embedder = load_recorded(record, model=args.model, backend=args.backend, threads=args.threads,
                             max_length=args.max_length, tokenizer=args.tokenizer,
                             quantize="int8" if getattr(args, "int8", False) else None,
                             precision=getattr(args, "precision", None))
    return Index.open(args.index, embedder=embedder)


def cmd_verify(args, parser) -> int:
    from ..errors import SearchIndexError
    from ..search.verify import verify
    start = time.perf_counter()
    report = verify(args.index)
    if report["problems"]:
        raise SearchIndexError(f"{args.index}: {len(report['problems'])} of {report['files']} files are corrupt:\n  "
                               + "\n  ".join(report["problems"]))
    old = f"; {report['unchecksummed']} segments written without checksums, checked as unit vectors" \
        if report["unchecksummed"] else ""
    strays = f"; {len(report['strays'])} files not in meta.json (a killed writer's; the next add deletes them)" \
        if report["strays"] else ""
    print(f"{args.index}: ok, {report['rows']} rows in {report['segments']} segments, {report['files']} files match "
          f"meta.json{old}{strays} ({time.perf_counter() - start:.2f} s)")
    return 0


def cmd_add(args, parser) -> int:
    index = _open(args)
    texts, ids, meta = _rows(args)
    start, before = time.perf_counter(), len(index)
    added = index.add(texts, ids, meta, batch_size=args.batch_size, chunk_size=args.chunk_size)
    print(f"added {added} texts to {args.index} ({before} -> {len(index)}) in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    return 0


def _line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def cmd_search(args, parser) -> int:
    if args.candidates is not None and not args.rerank:
        parser.error("--candidates applies with --rerank MODEL")
    index = _open(args)
    if args.rerank:  # retrieve the candidates by the index, rerank them with the cross-encoder
        from ..search.rerank import CANDIDATES, search
        from ..tasks import CrossEncoder
        cross_encoder = CrossEncoder(args.rerank, backend=args.backend, threads=args.threads, precision=precision(args))
        results = search(index, args.queries, cross_encoder, k=args.k, candidates=args.candidates or CANDIDATES,
                         exact=args.exact)
    else:
        results = index.search(args.queries, k=args.k, exact=args.exact)
    for n, (query, found) in enumerate(zip(args.queries, results)):
        if args.json:
            print(json.dumps({"query": query, "results": [
                {"rank": r, "id": x.id, "score": round(x.score, 6), "text": x.text, "metadata": x.metadata}
                | ({"retrieval_score": round(x.retrieval_score, 6)} if args.rerank else {})
                for r, x in enumerate(found, 1)]}, ensure_ascii=False))
            continue
        if len(args.queries) > 1:
            print(("\n" if n else "") + f"query: {query}")
        ids = [str(x.id) for x in found]
        width = max(map(len, ids), default=2)
        for rank, (x, id_) in enumerate(zip(found, ids), 1):
            print(f"{rank:>3}  {x.score:.4f}  {id_:<{width}}  {_line(x.text, 80)}")
    return 0


def register(command, common, inputs) -> None:
    """Add ``index`` (build, add) and ``search``; ``command`` is main.build_parser's helper."""
    index = command("index", "build or extend an on-disk search index of texts", [], None, INDEX_HELP)
    sub = index.add_subparsers(dest="index_command", required=True, metavar="SUBCOMMAND")
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("--input", required=True, metavar="FILE", help="texts: .txt, .jsonl, .csv/.tsv, .parquet (- = stdin)")
    source.add_argument("--field", metavar="NAME", help="JSONL: the text field (default: text)")
    source.add_argument("--column", metavar="NAME", help="CSV / Parquet: the text column (default: text)")
    source.add_argument("--id-field", "--id-column", dest="id_field", metavar="NAME",
                        help="ids from this field / column (default: row numbers)")
    source.add_argument("--meta", action="append", metavar="NAME", help="store this field / column as metadata (repeatable)")
    source.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="texts per batch (default: 32)")
    source.add_argument("--chunk-size", type=positive_int, default=10_000, metavar="N",
                        help="texts embedded and written per segment (default: 10000); memory stays bounded")
    build = sub.add_parser("build", parents=[common, source], help="embed a file of texts into a new index",
                           description=INDEX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--out", required=True, metavar="INDEX", help="the index folder to create (must not exist)")
    build.add_argument("--ann", choices=["usearch"], help="also keep an HNSW graph for approximate search "
                       "(pip install 'minilm[ann]'; every add extends it; see docs/search.md)")
    build.set_defaults(run=cmd_build, parser=build)
    add = sub.add_parser("add", parents=[common, source], help="append a file of texts to an index (all or nothing)",
                         description=INDEX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("index", metavar="INDEX")
    add.set_defaults(run=cmd_add, parser=add)
    check = sub.add_parser("verify", help="check every file of an index against the checksums in its meta.json",
                           description="Each segment's .npy and .jsonl against the CRC-32 recorded when it was written, "
                           "and the rows' shape; exit 8 naming each corrupt file. Needs no model.")
    check.add_argument("index", metavar="INDEX")
    check.set_defaults(run=cmd_verify, parser=check)
    search = command("search", "print the texts of an index most similar to a query", [common], cmd_search,
                     "Ranked by cosine similarity, best first: rank, score (4 decimals), id, text (cut to 80 characters).\n"
                     "--json: one object per query {query, results: [{rank, id, score, text, metadata}]}.\n"
                     "The model is the one the index was built with unless --model is given.\n"
                     "--rerank MODEL: retrieve --candidates texts (default 100) by the index, then order them by the\n"
                     "cross-encoder MODEL's score of (query, text) and keep the best K; score is then the cross-encoder's\n"
                     "and --json adds retrieval_score (the cosine).")
    search.add_argument("index", metavar="INDEX")
    search.add_argument("queries", nargs="+", metavar="QUERY")
    search.add_argument("-k", type=positive_int, default=10, metavar="K", help="results per query (default: 10)")
    search.add_argument("--json", action="store_true", help="print JSON lines")
    search.add_argument("--exact", action="store_true", help="exact search even when the index keeps an HNSW graph")
    search.add_argument("--rerank", metavar="MODEL", help="a cross-encoder (path or name) to rerank the candidates with")
    search.add_argument("--candidates", type=positive_int, metavar="N", help="--rerank: texts retrieved to rerank (default: 100)")
