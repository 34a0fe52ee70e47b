"""The peers' model files, made once into a cache folder (--workdir) and reused by later runs.

    python benchmarks/onnx_files.py MODEL_DIR WORKDIR      # needs torch, transformers, onnxruntime

- ``bert-fp32.onnx``: ``torch.onnx.export`` of the Hugging Face ``BertModel`` (input_ids,
  attention_mask, token_type_ids -> last_hidden_state; dynamic batch and sequence axes).
- ``bert-int8.onnx``: ``onnxruntime.quantization.quantize_dynamic`` of that export (int8 weights).
- ``fastembed/``: the fp32 export as ``model.onnx`` plus the model's tokenizer files, the local
  folder fastembed loads through ``specific_model_path`` (no hub download). Its
  tokenizer_config.json says ``model_max_length: 256`` (sentence-transformers' max_seq_length), so
  fastembed truncates where the others do.

- ``st-openvino/``, ``st-onnx/``: the model saved by sentence-transformers with ``backend="openvino"`` /
  ``"onnx"`` (its own export, in its ``openvino/`` / ``onnx/`` subfolder), so those peers load without
  exporting again; skipped (reported) when sentence-transformers or its extra is not installed.

A file already present is reused (delete the folder to rebuild); each step writes to a temporary
name first, so an interrupted run leaves nothing half-written under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "special_tokens_map.json", "config.json")


def export_fp32(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import BertModel

    class Wrapped(torch.nn.Module):  # keyword arguments: BertModel.forward's positional order varies by version
        def __init__(self):
            super().__init__()
            self.bert = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False)

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = Wrapped().eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    inputs = (ids, (ids != 0).long(), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names + ["last_hidden_state"]}
    tmp = out.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(model, inputs, str(tmp), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    os.replace(tmp, out)


def quantize_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_suffix(".tmp.onnx")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, out)


def fastembed_dir(model_dir: Path, fp32: Path, out: Path) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in TOKENIZER_FILES:
        shutil.copy(model_dir / name, tmp / name)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    config["model_max_length"] = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    (tmp / "tokenizer_config.json").write_text(json.dumps(config))
    os.link(fp32, tmp / "model.onnx") if fp32.stat().st_dev == tmp.stat().st_dev else shutil.copy(fp32, tmp / "model.onnx")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def st_export(model_dir: Path, backend: str, out: Path) -> None:
    from sentence_transformers import SentenceTransformer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    SentenceTransformer(str(model_dir), device="cpu", backend=backend).save(str(tmp))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def prepare(model_dir: Path, workdir: Path, log=print) -> dict[str, Path]:
    """Make what is missing; return the paths. Raises ImportError when torch / transformers are absent."""
    workdir.mkdir(parents=True, exist_ok=True)
    paths = {"fp32": workdir / "bert-fp32.onnx", "int8": workdir / "bert-int8.onnx", "fastembed": workdir / "fastembed"}
    for key, make in (("fp32", lambda: export_fp32(model_dir, paths["fp32"])),
                      ("int8", lambda: quantize_int8(paths["fp32"], paths["int8"])),
                      ("fastembed", lambda: fastembed_dir(model_dir, paths["fp32"], paths["fastembed"]))):
        if paths[key].exists():
            log(f"reusing {paths[key]}")
        else:
            log(f"making {paths[key]}")
            make()
    for backend in ("openvino", "onnx"):
        out = paths[f"st-{backend}"] = workdir / f"st-{backend}"
        if out.exists():
            log(f"reusing {out}")
            continue
        try:
            log(f"making {out}")
            st_export(model_dir, backend, out)
        except Exception as exc:  # sentence-transformers raises a bare Exception when its extra is missing
            log(f"not installed: sentence-transformers[{backend}] ({str(exc).splitlines()[0][:120]}): no {out.name}")
    return paths


if __name__ == "__main__":
    try:
        prepare(Path(sys.argv[1]), Path(sys.argv[2]), log=lambda m: print(m, file=sys.stderr))
    except ImportError as exc:
        print(f"not installed: {exc.name} (pip install torch transformers onnxruntime)", file=sys.stderr)
        sys.exit(3)
