"""The ``minilm webnn check|run`` and ``minilm compare`` commands (registered by cli.main.build_parser)."""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ..atomic import DISK_FULL, atomic_folder, atomic_write
from ..errors import GraphError, InputError
from ..graph import limits
from ..graph.ir import DTYPES, dtype_name, format_shape
from ..graph.limits import size_text
from ..runtime import BACKENDS
from .common import positive_int, thread_count


def _load_graph(args):
    from ..webnn import files
    try:
        return files.load(args.file, args.weights, args.manifest, max_bytes=args.max_bytes)
    except GraphError as exc:  # the graph file is this command's input: bad input (exit 5)
        raise InputError(str(exc)) from exc


def summary(graph, path: str) -> dict:
    ops = Counter(node.op for node in graph.nodes)
    weights = {k: v for k, v in graph.constants.items() if v.ndim}
    return {
        "file": path, "name": graph.name, "nodes": len(graph.nodes),
        "inputs": {k: [o.dtype, list(o.shape)] for k, o in graph.inputs.items()},
        "outputs": {k: [graph.operands[v].dtype, list(graph.operands[v].shape)] for k, v in graph.outputs.items()},
        "operations": dict(ops.most_common()),
        "constants": len(graph.constants), "constant_bytes": int(sum(v.nbytes for v in graph.constants.values())),
        "weight_tensors": len(weights),
    }


def cmd_check(args, parser) -> int:
    info = summary(_load_graph(args), args.file)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    shape = lambda d: f"{d[0]}[{', '.join(map(str, d[1]))}]"  # noqa: E731
    print(f"{info['file']}: graph {info['name']!r}, {info['nodes']} nodes - ok")
    print("inputs:\n" + "\n".join(f"  {k}: {shape(v)}" for k, v in info["inputs"].items()))
    print("outputs:\n" + "\n".join(f"  {k}: {shape(v)}" for k, v in info["outputs"].items()))
    print(f"operations ({len(info['operations'])} kinds): " + ", ".join(f"{k} {n}" for k, n in info["operations"].items()))
    print(f"constants: {info['constants']} ({info['weight_tensors']} tensors, {info['constant_bytes'] / 1e6:.1f} MB)")
    return 0


def _feeds(pairs: list[str], graph, parser) -> dict[str, np.ndarray]:
    paths = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            parser.error(f"--input takes NAME=FILE.npy, got {pair!r}")
        if name not in graph.inputs:
            parser.error(f"the graph has no input {name!r}; its inputs are {', '.join(graph.inputs)}")
        paths[name] = path
    missing = [k for k in graph.inputs if k not in paths]
    if missing:
        parser.error(f"missing --input {missing[0]}=FILE.npy (the graph's inputs: {', '.join(graph.inputs)})")
    feeds = {}
    for name, path in paths.items():
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (ValueError, EOFError) as exc:
            raise InputError(f"--input {name}: {path} is not a .npy array; write one with numpy.save(path, array)") from exc
        if not isinstance(feeds[name], np.ndarray):
            raise InputError(f"--input {name}: {path} is a .npz archive, not one .npy array")
    return feeds


def _sizes(graph, feeds: dict[str, np.ndarray], paths: list[str]) -> dict[str, int]:
    """Each feed against its input (dtype, rank, static sizes); the symbols' sizes. Bad input: InputError."""
    given = dict(pair.partition("=")[::2] for pair in paths)
    sizes: dict[str, int] = {}
    for name, operand in graph.inputs.items():
        array, want = feeds[name], np.dtype(DTYPES[operand.dtype])
        if array.dtype != want or array.ndim != operand.rank or any(
                isinstance(d, int) and d != n for d, n in zip(operand.shape, array.shape)):
            raise InputError(f"--input {name}: the graph's input {name!r} is {operand.dtype}{format_shape(operand.shape)}, "
                             f"{given[name]} is {dtype_name(array.dtype) if array.dtype in DTYPES.values() else array.dtype}"
                             f"{list(array.shape)}")
        for dim, size in zip(operand.shape, array.shape):
            if isinstance(dim, str) and sizes.setdefault(dim, size) != size:
                raise InputError(f"--input {name}: dimension {dim!r} is {size} here but {sizes[dim]} in another input")
    return sizes


def _check_space(out: Path, need: int) -> None:
    """OSError(ENOSPC) before a run whose outputs would not fit where they go."""
    where = out
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if need > free:
        raise OSError(errno.ENOSPC, f"{DISK_FULL}; the outputs need {size_text(need)}, {size_text(free)} are free "
                                    "(or choose another --output-dir)", str(out))


def cmd_run(args, parser) -> int:
    from ..runtime import make_executor
    graph = _load_graph(args)
    feeds = _feeds(args.input or [], graph, parser)
    sizes = _sizes(graph, feeds, args.input or [])
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output-dir {out} exists and is not a folder; give a folder path (it is created if missing)")
    try:  # the symbols are sized now: count again, with the constants already held
        need = limits.check(graph, args.max_bytes, sizes, held=limits.filled_bytes(graph.constants))
    except GraphError as exc:
        raise InputError(f"{args.file}: with these inputs, {exc}") from exc
    _check_space(out, need + 128 * len(graph.outputs))  # + a .npy header each
    results = make_executor(args.backend, graph, args.threads).run(feeds)
    with atomic_folder(out) as stage:  # all outputs complete before any replaces an old one
        for name, value in results.items():
            with atomic_write(stage / f"{name}.npy") as f:
                np.save(f, value)
    for name, value in results.items():
        print(f"wrote {out / name}.npy: {value.dtype}{list(value.shape)}", file=sys.stderr)
    return 0


def cmd_compare(args, parser) -> int:
    from .. import compare as cmp
    from .common import gather_texts, load_model
    if args.against_fixtures is not None:
        if args.texts or args.input or args.against or args.against_model:
            parser.error("--against-fixtures compares with the reference's own texts; drop TEXT/--input/--against")
        texts, reference, meta = cmp.reference(args.against_fixtures or None)
        model = load_model(args)
        if not args.against_fixtures:
            cmp.check_same_weights(model.path, meta)
        ours, theirs = model.encode(texts), reference
        labels = (f"{model.path.name} on {args.backend}", f"reference ({meta.get('model', args.against_fixtures)})")
    else:
        texts = gather_texts(args, parser) if (args.texts or args.input) else list(cmp.EXAMPLES)
        if not args.against and not args.against_model:
            parser.error("say what to compare with: --against BACKEND, --against-model M or --against-fixtures")
        model = load_model(args)
        other = load_model(argparse.Namespace(**{**vars(args), "backend": args.against or args.backend,
                                                 "model": args.against_model or args.model}))
        ours, theirs = model.encode(texts), other.encode(texts)
        labels = (f"{model.path.name} on {args.backend}", f"{other.path.name} on {other.backend}")
    result = cmp.compare(ours, theirs)
    if args.json:
        rows = [{"text": t, "cosine": float(c), "euclidean": float(e), "mse": float(s), "mae": float(a)}
                for t, c, e, s, a in zip(texts, result.cosine, result.euclidean, result.mse, result.mae)]
        print(json.dumps({"a": labels[0], "b": labels[1], "texts": rows, **result.summary()}, ensure_ascii=False, indent=1))
    else:
        print(f"a: {labels[0]}\nb: {labels[1]}")
        print(f"{'#':>3}  {'cosine':>10}  {'euclidean':>10}  {'MSE':>10}  {'MAE':>10}  text")
        for i, t in enumerate(texts):
            label = t if len(t) <= 40 else t[:39] + "…"
            print(f"{i:>3}  {result.cosine[i]:10.7f}  {result.euclidean[i]:10.3e}  {result.mse[i]:10.3e}  "
                  f"{result.mae[i]:10.3e}  {label!r}")
        s = result.summary()
        print(f"all  min cosine {s['cosine_min']:.7f}, mean {s['cosine_mean']:.7f}; max euclidean {s['euclidean_max']:.3e}; "
              f"mean MSE {s['mse_mean']:.3e}; mean MAE {s['mae_mean']:.3e}")
        print(result.verdict)
    return 0 if result.passed else 1


def register(command, common, inputs) -> None:
    """Add ``webnn`` (check, run) and ``compare`` to the parser; ``command`` is main.build_parser's helper."""
    webnn = command("webnn", "check or run any WebNN graph file (.webnn text or its JSON form)", [], None)
    sub = webnn.add_subparsers(dest="webnn_command", required=True, metavar="SUBCOMMAND")
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("file", metavar="FILE.webnn")
    files.add_argument("--weights", metavar="F", help="the .weights file (default: FILE with .weights)")
    files.add_argument("--manifest", metavar="M", help="the manifest (default: FILE.manifest.json, else manifest.json beside it)")
    files.add_argument("--max-bytes", type=positive_int, default=limits.DEFAULT_MAX_BYTES, metavar="N",
                       help="refuse a graph whose run would hold more than N bytes of operands at once "
                            "(default 4 GiB; .weights tensors are memory-mapped and not counted)")
    check = sub.add_parser("check", parents=[files], help="validate a graph and print a summary",
                           description="Parse and build the graph with its weights (every check runs), then print "
                                       "inputs, outputs, operation counts and constant bytes.")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=cmd_check, parser=check)
    run = sub.add_parser("run", parents=[files], help="run a graph on .npy inputs, write DIR/NAME.npy per output")
    run.add_argument("--input", action="append", metavar="NAME=ARRAY.npy", help="one per graph input")
    run.add_argument("--output-dir", required=True, metavar="DIR")
    run.add_argument("--backend", choices=["numpy", "onnxruntime"], default="numpy", help="default: numpy")
    run.add_argument("--threads", type=thread_count, metavar="N", help="default: all cores; at most 4 x the cores")
    run.set_defaults(run=cmd_run, parser=run)
    compare = command("compare", "compare embeddings from two backends, two models, or a reference", [common, inputs],
                      cmd_compare, """Prints per text and overall: cosine similarity, euclidean distance, MSE and MAE,
then a verdict: very similar when every cosine > 0.99. Exit status 1 when the verdict fails.
Default texts: the five example sentences (or TEXT... / --input FILE).""")
    compare.add_argument("--against", choices=sorted(BACKENDS), help="the other backend (same model unless --against-model)")
    compare.add_argument("--against-model", metavar="M", help="the other model (folder, .onnx, WebNN export, name)")
    compare.add_argument("--against-fixtures", nargs="?", const="", metavar="FILE",
                         help="sentence-transformers' vectors: a reference JSON (texts + sentence_embedding, or a "
                              "golden .json with its .npz); default: the one shipped for all-MiniLM-L6-v2")
    compare.add_argument("--json", action="store_true", help="print JSON")
