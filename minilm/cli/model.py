"""The ``minilm info`` and ``minilm export`` commands."""

from __future__ import annotations

import json
import platform
import sys

from .. import __version__
from .cache import summary as cache_summary
from .common import load_model, positive_int, version


def cmd_info(args, parser) -> int:
    import onnxruntime

    from ..runtime.ort import default_threads
    from ..sources import hub_id_of
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
        **precision_info(model),
        "cache": cache_summary(),
        "versions": {"python": platform.python_version(), "minilm": __version__,
                     **{m: version(m) for m in ("numpy", "onnxruntime", "onnx", "tokenizers", "safetensors", "openvino")}},
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        print(f"{key + ':':<21}{'-' if value is None else value}")
    return 0


def _head_model(args):
    """--head: the model with that head (minilm.CrossEncoder / MaskedLM), as it runs."""
    from ..tasks import CrossEncoder, MaskedLM
    cls = {"sequence_classification": CrossEncoder, "masked_lm": MaskedLM}[args.head]
    return cls(args.model, backend=args.backend, threads=args.threads, max_length=args.max_length, tokenizer=args.tokenizer)


def precision_info(model) -> dict:
    """The model's precision, this CPU's flags, what precision="auto" picks and why, and bf16's speed here."""
    from ..runtime.precision import choose, cpu_flags, engine_installed, native_bf16, slow_bf16
    flags = cpu_flags()
    auto = choose(flags, engine_installed())
    return {"precision": f"{model.precision} ({model.precision_reason})", "cpu_flags": sorted(flags),
            "auto_precision": f"{auto.precision}: {auto.reason}",
            "bf16": f"native ({native_bf16(flags)})" if native_bf16(flags) else slow_bf16(flags)}


def cmd_export(args, parser) -> int:
    from ..export import export_onnx
    if args.precision in ("bf16", "auto"):
        parser.error(f"export writes a float32 or int8 file (--precision int8 / --int8); --precision {args.precision} "
                     "is a run-time choice")
    args.int8 = args.int8 or args.precision == "int8"
    if args.head and (args.int8 or args.format == "webnn-js"):
        parser.error("--head exports --format onnx or webnn, in float32")
    if args.format in ("webnn", "webnn-js"):
        if args.int8:
            parser.error("--int8 applies to --format onnx")
        from ..webnn.model import export, export_head
        if args.head:
            path = export_head(_head_model(args), args.out, batch=args.batch, seq_len=args.seq_len)
        else:
            path = export(load_model(args), args.out, batch=args.batch, seq_len=args.seq_len)
        if args.format == "webnn-js":  # + model.js: the graph built with the browser's MLGraphBuilder
            from ..webnn.js_module import write_module
            write_module(path)
        use = f"minilm webnn run {path}" if args.head else f"minilm.load({str(path.parent)!r})"
        print(f"wrote {path.parent}/: model.webnn{', model.js' if args.format == 'webnn-js' else ''}, model.weights, manifest.json, tokenizer.json, config.json, "
              f"webnn_config.json (static batch {args.batch}, sequence length {args.seq_len}; run it with {use})", file=sys.stderr)
        return 0
    if args.batch != 1 or args.seq_len != 128:
        parser.error("--batch and --seq-len apply to --format webnn / webnn-js (the ONNX export has dynamic axes)")
    model = _head_model(args) if args.head else load_model(args)
    path = export_onnx(model, args.out, int8=args.int8)
    extra, outputs = (", positions [positions]", "logits") if args.head else ("", "last_hidden_state, sentence_embedding")
    extra = extra if args.head == "masked_lm" else ""
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): inputs input_ids, attention_mask, token_type_ids "
          f"[batch, sequence]{extra}; outputs {outputs}", file=sys.stderr)
    return 0


def register(command, common, inputs) -> None:
    """Add ``info`` and ``export``; ``command`` is main.build_parser's helper."""
    info = command("info", "model, dims, pooling, backend, providers, threads, precision, CPU flags, cache, versions", [common],
                   cmd_info)
    info.add_argument("--json", action="store_true", help="print JSON")
    export = command("export", "write the model as a standalone ONNX file or as WebNN files", [common], cmd_export,
                     """--format onnx: one .onnx file, dynamic batch and sequence axes.
--format webnn: a folder (--out DIR) with model.webnn, model.weights, manifest.json and the tokenizer;
  WebNN shapes are static (--batch, --seq-len); minilm.load(DIR) runs it.
--format webnn-js: the same folder plus model.js, a JS module building the graph with WebNN's MLGraphBuilder.
--head sequence_classification | masked_lm: the model's head instead (a cross-encoder / classifier, a masked LM),
  to logits [batch, labels] / [positions, vocab] (positions: flat indices b * T + t; in a WebNN export batch * seq-len).""")
    export.add_argument("model_arg", nargs="?", metavar="MODEL", help="same as --model")
    export.add_argument("--format", choices=["onnx", "webnn", "webnn-js"], default="onnx")
    export.add_argument("--out", required=True, metavar="FILE_OR_DIR")
    export.add_argument("--head", choices=["sequence_classification", "masked_lm"],
                        help="export the model's head (BertForSequenceClassification / BertForMaskedLM) to logits")
    export.add_argument("--batch", type=positive_int, default=1, metavar="N", help="webnn: static batch size (default 1)")
    export.add_argument("--seq-len", type=positive_int, default=128, metavar="N",
                        help="webnn: static sequence length (default 128); longer texts are truncated")
