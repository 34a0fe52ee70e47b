"""The ``minilm rerank``, ``minilm classify`` and ``minilm fill-mask`` commands: models with a head."""

from __future__ import annotations

import argparse
import json
import os

from .common import INPUT_HELP, gather_texts, label, positive_int, precision

MODEL_HELP = ("--model is required: a folder, name (cross-encoder/NAME for rerank and classify; found as minilm.load "
              "finds a model: $MINILM_MODEL, $LLM_MODELS_PATH, the Hugging Face cache, ...) or an exported .onnx file.")


def _load(cls, args):
    if not args.model and not os.environ.get("MINILM_MODEL"):
        args.parser.error(f"--model is required ({cls.__name__}: a checkpoint with a head)")
    if args.int8 and args.precision not in (None, "int8"):
        args.parser.error(f"--int8 is --precision int8; it cannot be combined with --precision {args.precision}")
    return cls(args.model, backend=args.backend, threads=args.threads, max_length=args.max_length, tokenizer=args.tokenizer,
               precision=precision(args))


def cmd_rerank(args, parser) -> int:
    from ..tasks import CrossEncoder
    documents = gather_texts(args, parser)
    model = _load(CrossEncoder, args)
    ranked = model.rank(args.query, documents, top_k=args.k, batch_size=args.batch_size,
                        activation_fn="identity" if args.raw_scores else None)
    if args.json:
        print(json.dumps({"query": args.query, "results": [
            {"rank": r, "corpus_id": x["corpus_id"], "score": round(x["score"], 6), "text": documents[x["corpus_id"]]}
            for r, x in enumerate(ranked, 1)]}, ensure_ascii=False))
        return 0
    width = len(str(len(documents) - 1))
    for rank, x in enumerate(ranked, 1):
        print(f"{rank:>3}  {x['score']:.4f}  #{x['corpus_id']:<{width}}  {label(documents[x['corpus_id']], 80)}")
    return 0


def _pairs(args, texts: list[str]) -> list:
    """Texts, or (text, text_pair) pairs: --pair TEXT for every text, or --pair-field NAME of each --input row."""
    if args.pair is not None and args.pair_field:
        args.parser.error("give --pair TEXT or --pair-field NAME, not both")
    if args.pair is not None:
        return [(t, args.pair) for t in texts]
    if args.pair_field:
        if not args.input or args.input == "-":
            args.parser.error("--pair-field reads a JSONL / CSV / Parquet --input FILE")
        from ..jobs.records import iter_fields
        return [(t, str(f[args.pair_field])) for t, f in zip(texts, iter_fields(args.input, [args.pair_field], args.field, args.column))]
    return texts


def cmd_classify(args, parser) -> int:
    from ..tasks import Classifier
    texts = gather_texts(args, parser)
    inputs = _pairs(args, texts)
    model = _load(Classifier, args)
    results = model.predict(inputs, top_k=args.k, batch_size=args.batch_size)
    for i, (item, labels) in enumerate(zip(inputs, results)):
        text, pair = item if isinstance(item, tuple) else (item, None)
        if args.json:
            row = {"index": i, "text": text} | ({"text_pair": pair} if pair is not None else {})
            print(json.dumps(row | {"labels": [{"label": x["label"], "score": round(x["score"], 6)} for x in labels]},
                         ensure_ascii=False))
        else:
            shown = label(text, 40) + (f" | {label(pair, 30)}" if pair is not None else "")
            print(f"{shown}  " + ", ".join(f"{x['label']} {x['score']:.4f}" for x in labels))
    return 0


def cmd_fill_mask(args, parser) -> int:
    from ..tasks import MaskedLM
    texts = gather_texts(args, parser)
    model = _load(MaskedLM, args)
    results = model.fill_mask(texts, top_k=args.k, batch_size=args.batch_size)
    for i, (text, found) in enumerate(zip(texts, results)):
        masks = found if found and isinstance(found[0], list) else [found]
        if args.json:
            print(json.dumps({"index": i, "text": text, "masks": [[{k: round(v, 6) if k == "score" else v for k, v in x.items()}
                                                                    for x in row] for row in masks]}, ensure_ascii=False))
            continue
        print(("\n" if i else "") + text)
        for m, row in enumerate(masks):
            if len(masks) > 1:
                print(f"  mask {m + 1}:")
            for x in row:
                print(f"  {x['score']:.4f}  {x['token_str']:<16}  {label(x['sequence'], 70)}")
    return 0


def register(command, common, inputs) -> None:
    """Add ``rerank``, ``classify`` and ``fill-mask``; ``command`` is main.build_parser's helper."""
    rerank = command("rerank", "order documents by a cross-encoder's relevance to a query", [common], cmd_rerank,
                     INPUT_HELP.replace("Texts come", "Documents come") + "\n\n" + MODEL_HELP + """
Output: rank, score (4 decimals; the model's activation, as sentence-transformers' CrossEncoder.rank), #index
of the document (from 0), text; --json: {"query", "results": [{"rank", "corpus_id", "score", "text"}]}.""")
    rerank.add_argument("query", metavar="QUERY")
    rerank.add_argument("texts", nargs="*", metavar="DOCUMENT", help="documents (or use --input)")
    rerank.add_argument("--input", metavar="FILE", help="documents, one per line, or JSONL / CSV / Parquet; - = stdin")
    rerank.add_argument("--field", metavar="NAME", help="JSONL: the text field (default: text)")
    rerank.add_argument("--column", metavar="NAME", help="CSV / Parquet: the text column (default: text)")
    rerank.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="pairs per batch (default: 32)")
    rerank.add_argument("-k", type=positive_int, default=10, metavar="K", help="documents to print (default: 10)")
    rerank.add_argument("--raw-scores", action="store_true", help="the logits, without the model's activation")
    rerank.add_argument("--json", action="store_true", help="print JSON")
    pairs = argparse.ArgumentParser(add_help=False)
    pairs.add_argument("--pair", metavar="TEXT", help="classify each text paired with TEXT (text, text_pair)")
    pairs.add_argument("--pair-field", metavar="NAME", help="--input JSONL / CSV / Parquet: the text_pair of each row")
    classify = command("classify", "labels of texts (or text pairs) from a sequence-classification model",
                       [common, inputs, pairs], cmd_classify, INPUT_HELP + "\n\n" + MODEL_HELP + """
Scores as transformers' text-classification pipeline: softmax over the labels (sigmoid for one label).
Output: text, then its top -k labels and scores; --json: one line {"index", "text", "text_pair"?, "labels"} per input.""")
    classify.add_argument("-k", type=positive_int, default=1, metavar="K", help="labels per text (default: 1)")
    classify.add_argument("--json", action="store_true", help="print JSON lines")
    fill = command("fill-mask", "the words a masked-LM model puts at [MASK]", [common, inputs], cmd_fill_mask,
                   INPUT_HELP + "\n\n" + MODEL_HELP + """
Each text needs a [MASK]. Output: the text, then per mask the top -k fillings: probability, token, the text
filled in; --json: one line {"index", "text", "masks": [[{"score", "token", "token_str", "sequence"}]]} per text.""")
    fill.add_argument("-k", type=positive_int, default=5, metavar="K", help="fillings per mask (default: 5)")
    fill.add_argument("--json", action="store_true", help="print JSON lines")
