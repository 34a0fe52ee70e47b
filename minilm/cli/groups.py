"""The ``minilm dedup`` and ``minilm cluster`` commands (registered by cli.main.build_parser)."""

from __future__ import annotations

import argparse
import json
import sys

WIDTH = 70  # characters of a text shown in the tables


def _vectors(args, parser):
    from .common import encode, gather_texts, load_model
    texts = gather_texts(args, parser)
    if args.vectors:
        return texts, _saved(args.vectors, len(texts))
    model = load_model(args)
    return texts, encode(model, texts, args)


def _saved(path: str, count: int):
    import numpy as np

    from ..errors import InputError
    try:
        vectors = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"--vectors {path} is not a .npy array; "
                         f"write one with minilm embed --input FILE --output {path}") from exc
    if vectors.ndim != 2 or len(vectors) != count:
        raise InputError(f"--vectors {path} has shape {list(vectors.shape)} but the input has {count} texts; "
                         f"re-embed with minilm embed --input FILE --output {path}")
    return vectors


def _label(text: str) -> str:
    from .common import label
    return label(text, WIDTH)


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def cmd_dedup(args, parser) -> int:
    from ..search.dedup import duplicate_groups, duplicate_pairs
    texts, vectors = _vectors(args, parser)
    if args.groups:
        groups = duplicate_groups(vectors, args.threshold)
        for number, group in enumerate(groups, 1):
            members = [{"index": i, "score": s, "text": texts[i]} for i, s in zip(group.members, group.scores)]
            if args.json:
                print(_line({"group": number, "size": len(members), "representative": group.representative, "members": members}))
                continue
            first = group.representative
            print(f"group {number}: {len(members)} texts, representative #{first} {_label(texts[first])}")
            for m in members[1:args.show + 1]:
                print(f"  {m['score']:.4f}  #{m['index']:<6} {_label(m['text'])}")
            if len(members) - 1 > args.show:
                print(f"  ... and {len(members) - 1 - args.show} more")
        found = f"{len(groups)} groups ({sum(len(g.members) for g in groups)} texts)"
    else:
        count = 0
        if not args.json:
            print(f"{'score':<7} {'i':>6} {'j':>6}  texts")
        for pair in duplicate_pairs(vectors, args.threshold):  # streamed: printed as each block is scored
            count += 1
            if args.json:
                print(_line({"score": round(pair.score, 6), "i": pair.i, "j": pair.j,
                             "text_i": texts[pair.i], "text_j": texts[pair.j]}))
            else:
                print(f"{pair.score:.4f}  {pair.i:>6} {pair.j:>6}  {_label(texts[pair.i])}  |  {_label(texts[pair.j])}")
        found = f"{count} pairs"
    print(f"minilm: {found} with cosine >= {args.threshold} among {len(texts)} texts", file=sys.stderr)
    return 0


def cmd_cluster(args, parser) -> int:
    from ..search.cluster import clusters
    texts, vectors = _vectors(args, parser)
    found = clusters(vectors, args.threshold, args.min_size)
    for number, cluster in enumerate(found, 1):
        if args.json:
            print(_line({"cluster": number, "size": len(cluster.members), "central": cluster.central,
                         "centrality": cluster.centrality, "seed": cluster.seed,
                         "members": [{"index": i, "text": texts[i]} for i in cluster.members]}))
            continue
        print(f"cluster {number}: {len(cluster.members)} texts, central #{cluster.central} "
              f"(mean cosine {cluster.centrality:.3f}) {_label(texts[cluster.central])}")
        shown = [i for i in cluster.members if i != cluster.central][:args.show]
        for i in shown:
            print(f"  #{i:<6} {_label(texts[i])}")
        if len(cluster.members) - 1 > len(shown):
            print(f"  ... and {len(cluster.members) - 1 - len(shown)} more")
    clustered = sum(len(c.members) for c in found)
    print(f"minilm: {len(found)} clusters (threshold {args.threshold}, min size {args.min_size}) cover {clustered} "
          f"of {len(texts)} texts", file=sys.stderr)
    return 0


def cosine(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not -1 <= number <= 1:
        raise argparse.ArgumentTypeError(f"expected a cosine similarity from -1 to 1, got {value!r}")
    return number


def register(command, common, inputs) -> None:
    """Add ``dedup`` and ``cluster`` to the parser; ``command`` is main.build_parser's helper."""
    from .common import INPUT_HELP, positive_int
    vectors = argparse.ArgumentParser(add_help=False)
    vectors.add_argument("--vectors", metavar="FILE.npy", help="embeddings saved by minilm embed --input FILE --output "
                         "FILE.npy (row i = text i); skips embedding")
    dedup = command("dedup", "list near-duplicate pairs or groups of texts", [common, inputs, vectors], cmd_dedup,
                    INPUT_HELP + """

Output: one line per pair i < j with cosine >= --threshold (score, i, j, both texts cut to 70 characters),
in (i, j) order, printed as found; with --groups, groups of texts linked by such pairs (connected
components), largest first, each member with its cosine to the group's first text. Indices count
from 0, as minilm embed's "index". Memory: the vectors plus one block of scores, never n x n.""")
    dedup.add_argument("--threshold", type=cosine, default=0.9, metavar="T", help="minimum cosine (default 0.9)")
    dedup.add_argument("--groups", action="store_true", help="print groups (connected components) instead of pairs")
    dedup.add_argument("--show", type=positive_int, default=5, metavar="N", help="members shown per group (default 5)")
    dedup.add_argument("--json", action="store_true", help="print JSON lines (every member of every group)")
    cluster = command("cluster", "group texts into clusters by community detection", [common, inputs, vectors], cmd_cluster,
                      INPUT_HELP + """

A text with at least --min-size texts within cosine --threshold (itself included) seeds a cluster of
them; the largest seeds go first and each text joins one cluster at most (sentence-transformers'
community_detection, in bounded memory). Texts in no cluster are not printed. Each cluster shows
its most central text (highest mean cosine to the cluster) and a few members.""")
    cluster.add_argument("--threshold", type=cosine, default=0.75, metavar="T", help="minimum cosine to the seed (default 0.75)")
    cluster.add_argument("--min-size", type=positive_int, default=10, metavar="N", help="smallest cluster (default 10)")
    cluster.add_argument("--show", type=positive_int, default=3, metavar="N", help="members shown per cluster (default 3)")
    cluster.add_argument("--json", action="store_true", help="print JSON lines (every member of every cluster)")
