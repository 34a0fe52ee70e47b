"""Make the fixtures of the BERT heads from the real transformers / sentence-transformers (needs torch; tests do not).

    python tools/make_head_fixtures.py

Reference stack (never needed at test or run time): pip install torch transformers sentence-transformers onnx

Writes, under tests/fixtures/heads/ (see tests/fixtures/README.md):
  rerank/  BertForSequenceClassification, 1 label, activation Identity in config.json (as cross-encoder/ms-marco-*),
           and onnx/model.onnx: torch.onnx.export of it, as a hub repository's ONNX copy
  nli/     BertForSequenceClassification, 3 labels with id2label (as cross-encoder/nli-*)
  mlm/     BertForMaskedLM (decoder tied to the word embeddings)
each a folder as Hugging Face writes it (save_pretrained: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) plus pytorch_model.bin (torch.save of the state dict, tied tensors included, as
transformers 4 wrote it), vocab.txt and special_tokens_map.json; and expected.json: token ids, logits
from transformers one input at a time, sentence-transformers' CrossEncoder.predict / rank, and the
text-classification and fill-mask pipelines of transformers.

Weights are seeded and sharp (initializer_range 0.2, LayerNorm weights 1 +- 0.2, random biases): the
script asserts that outputs vary across inputs far beyond the tests' 1e-4 and that the orders the tests
compare (rank, top-k) have gaps well above it. Offline and deterministic, like tools/make_fixtures.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from fixture_json import write
from make_fixtures import SPECIALS, tiny_vocab, versions

OUT = REPO / "tests" / "fixtures" / "heads"
SHAPE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64}
MAX_LENGTH = 32  # tokenizer model_max_length: pairs below are cut by longest_first
NLI_LABELS = {0: "contradiction", 1: "entailment", 2: "neutral"}
IDENTITY, SIGMOID, TANH = "torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Sigmoid", "torch.nn.modules.activation.Tanh"

LONG_A = "the cat sat on the mat and the dog sat on the old red mat with the cat"  # 17 words
LONG_B = "many people like the new blue text model for numbers and words in a long sentence every day"  # 18 words
PAIRS = [  # (a, b): short, empty, one side long, both long, exactly at the limit, one over, letters split into pieces
    ("what is a cat", "a cat is a small animal"),
    ("hello world", ""),
    ("", "the dog sat on the mat"),
    ("is the dog good", "the dog is good"),
    ("is the dog good", "the cat is bad"),
    (LONG_A + " " + LONG_A, "the cat"),
    ("where is the cat", LONG_B + " " + LONG_B),
    (LONG_A, LONG_B),
    (LONG_A + " " + LONG_B, LONG_B + " " + LONG_A),
    ("the cat sat on the mat", "the " * 23),  # 6 + 23 + 3 = 32: exactly max length
    ("the cat sat on the mat", "the " * 24),  # 33: one token cut
    ("zebra xylophone quokka", "unknown words like zebra"),
    ("UPPER case Text", "upper CASE text!"),
    ("numbers 123 and 456", "one two three, 42."),
]
QUERY = "where is the cat"
DOCUMENTS = ["the cat sat on the mat", "a dog is a good animal", "", "the cat is in the old red box with the dog",
             LONG_B, "where where where", "cats and dogs", "numbers 123"]
TEXTS = ["hello world", "the cat sat on the mat.", "", "is this a good model?", LONG_A + " " + LONG_B]  # classify
MASKED = ["the cat sat on the [MASK].", "[MASK] is a good dog", "hello [MASK] world!", "the [MASK] sat on the [MASK]",
          "a b c [MASK] e"]
SHARP = 100 * 1e-4  # outputs must spread at least 100x the tolerance; gaps in compared orders at least 10x


def seeded(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random LayerNorms (weights near 1) and biases too, so nothing relies on weight=1, bias=0."""
    gen = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.2 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=gen))
            elif isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
        bias = getattr(getattr(model, "cls", None), "predictions", None)
        if bias is not None:  # BertLMPredictionHead.bias (the decoder's bias)
            bias.bias.copy_(0.5 * torch.randn(bias.bias.shape, generator=gen))
    return model.eval()


def save_folder(name: str, model, tokenizer, config_extra: dict | None = None) -> Path:
    """The folder as save_pretrained writes it, plus pytorch_model.bin, vocab.txt and special_tokens_map.json."""
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # what transformers 4 wrote with safe_serialization=False
    if config_extra:
        path = folder / "config.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | config_extra, indent=2, sort_keys=True) + "\n")
    (folder / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIALS, indent=2) + "\n", encoding="utf-8")
    return folder


def make_tokenizer(work: Path, max_length: int):
    from transformers import BertTokenizerFast
    (work / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(work / "vocab.txt"), do_lower_case=True, model_max_length=max_length)


def bert_config(**extra):
    from transformers import BertConfig
    return BertConfig(vocab_size=len(tiny_vocab()), type_vocab_size=2, initializer_range=0.2, **SHAPE, **extra)


def floats(array) -> list:
    return np.asarray(array, np.float32).tolist()


def pair_ids(tokenizer, a: str, b: str, **options) -> dict:
    """A pair as a batch of one, as sentence-transformers tokenizes it: tokenizer(a, b) alone drops an empty b
    (``if text_pair``) and gives [CLS] a [SEP]; the batch form keeps the pair, [CLS] a [SEP] [SEP]."""
    enc = tokenizer([a], [b], truncation="longest_first", **options)
    return {k: v[0] for k, v in enc.items()}


def one_at_a_time(model, tokenizer, inputs: list) -> tuple[list, list, np.ndarray]:
    """transformers on one input at a time (no padding): ids, token types and logits."""
    ids, types, logits = [], [], []
    with torch.no_grad():
        for item in inputs:
            enc = pair_ids(tokenizer, *item) if isinstance(item, tuple) else tokenizer(item, truncation=True)
            ids.append(enc["input_ids"])
            types.append(enc["token_type_ids"])
            out = model(input_ids=torch.tensor([enc["input_ids"]]), token_type_ids=torch.tensor([enc["token_type_ids"]]))
            logits.append(out.logits[0].numpy())
    return ids, types, np.stack(logits)


def spread_check(name: str, values: np.ndarray) -> None:
    span = float(values.max() - values.min())
    assert span > SHARP, f"{name}: outputs span {span:.2e} across inputs, not sharp enough for a 1e-4 test"


def gaps_check(name: str, sorted_values: list[float], floor: float = SHARP / 10) -> None:
    """Neighbours in a compared order differ by more than ``floor`` (1e-3 for scores; 1e-4 for probabilities,
    which a 1e-4 logit error moves by at most 1e-4 times themselves)."""
    gaps = np.abs(np.diff(np.asarray(sorted_values, np.float64)))
    assert gaps.size == 0 or gaps.min() > floor, f"{name}: two compared scores are {gaps.min():.2e} apart"


def truncation_grid(tokenizer) -> list[dict]:
    """Ids of pairs of every length combination under small max lengths: where longest_first's cut matters."""
    words = ["the", "cat", "sat", "on", "the", "mat", "with", "a", "dog", "and", "an", "old", "red", "box", "of", "many", "new", "words"]
    rows = []
    for max_length in (8, 11, 16):
        for n_a in (0, 1, 3, 6, 9, 14):
            for n_b in (0, 2, 5, 8, 13):
                a, b = " ".join(words[:n_a]), " ".join(reversed(words[-n_b:])) if n_b else ""
                enc = pair_ids(tokenizer, a, b, max_length=max_length)
                rows.append({"a": a, "b": b, "max_length": max_length, "input_ids": enc["input_ids"],
                             "token_type_ids": enc["token_type_ids"]})
    return rows


def cross_encoder_refs(folder: Path, pairs: list, softmax: bool) -> dict:
    from sentence_transformers import CrossEncoder
    ce = CrossEncoder(str(folder), device="cpu")
    refs = {"activation_fn": type(ce.activation_fn).__name__, "max_seq_length": ce.max_seq_length,
            "predict": floats(ce.predict(pairs, batch_size=4))}
    if softmax:
        refs["predict_softmax"] = floats(ce.predict(pairs, batch_size=4, apply_softmax=True))
    return refs


def activation_variants(folder: Path, pairs: list) -> dict:
    """CrossEncoder.predict on the rerank weights under each way a folder can name its activation: config.json
    keys (a Hugging Face folder), and the files CrossEncoder.save writes (config_sentence_transformers.json wins)."""
    from sentence_transformers import CrossEncoder
    variants = {  # name: config.json keys to set (None: delete)
        "config_identity": {},
        "no_activation_key": {"sentence_transformers": None},
        "config_tanh": {"sentence_transformers": {"activation_fn": TANH}},
        "legacy_identity": {"sentence_transformers": None, "sbert_ce_default_activation_function": IDENTITY},
        "legacy_sigmoid": {"sentence_transformers": None, "sbert_ce_default_activation_function": SIGMOID},
    }
    out = {}
    for name, patch in list(variants.items()) + [("saved_sigmoid", None)]:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "model"
            shutil.copytree(folder, work)
            files = {}
            if patch is None:  # CrossEncoder.save with a Sigmoid: modules.json, config_sentence_transformers.json, ...
                saved = Path(tmp) / "saved"
                CrossEncoder(str(folder), device="cpu", activation_fn=torch.nn.Sigmoid()).save(str(saved))
                files = {p.name: json.loads(p.read_text()) for p in sorted(saved.glob("*.json"))
                         if not (folder / p.name).exists() or json.loads((folder / p.name).read_text()) != json.loads(p.read_text())}
                files.get("config_sentence_transformers.json", {}).pop("__version__", None)
            else:
                config = json.loads((work / "config.json").read_text())
                files["config.json"] = {k: v for k, v in (config | patch).items() if v is not None}
            for file, content in files.items():
                (work / file).write_text(json.dumps(content))
            refs = cross_encoder_refs(work, pairs, softmax=False)
        out[name] = {"files": files, "activation_fn": refs["activation_fn"], "predict": refs["predict"]}
    return out


def export_onnx(model, path: Path) -> None:
    """torch.onnx.export (the TorchScript exporter), dynamic batch and sequence: named initializers, anonymous MatMuls."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.tensor([[2, 88, 166, 3, 5, 3]])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path), input_names=names,
                      output_names=["logits"], dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
                      opset_version=17, dynamo=False)


def classifier(name: str, seed: int, num_labels: int, config_extra: dict | None) -> None:
    from sentence_transformers import CrossEncoder
    from transformers import BertForSequenceClassification
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = make_tokenizer(Path(tmp), MAX_LENGTH)
    torch.manual_seed(seed)
    labels = {"id2label": NLI_LABELS, "label2id": {v: k for k, v in NLI_LABELS.items()}} if num_labels == 3 else {}
    model = seeded(BertForSequenceClassification(bert_config(num_labels=num_labels, **labels)), seed)
    folder = save_folder(name, model, tokenizer, config_extra)
    ids, types, logits = one_at_a_time(model, tokenizer, PAIRS)
    spread_check(name, logits)
    assert any(len(x) == MAX_LENGTH for x in ids) and any(len(x) < MAX_LENGTH for x in ids)
    refs = {"pairs": [list(p) for p in PAIRS], "input_ids": ids, "token_type_ids": types, "logits": floats(logits)}
    refs |= cross_encoder_refs(folder, PAIRS, softmax=num_labels > 1)
    if num_labels == 1:
        export_onnx(model, folder / "onnx" / "model.onnx")
        ce = CrossEncoder(str(folder), device="cpu")
        _, _, doc_logits = one_at_a_time(model, tokenizer, [(QUERY, d) for d in DOCUMENTS])
        ranked = ce.rank(QUERY, DOCUMENTS, return_documents=True)
        gaps_check(f"{name} rank", [r["score"] for r in ranked])
        refs |= {"query": QUERY, "documents": DOCUMENTS, "document_logits": floats(doc_logits), "rank": ranked,
                 "rank_top3": ce.rank(QUERY, DOCUMENTS, top_k=3), "activations": activation_variants(folder, PAIRS)}
    else:
        from transformers import pipeline
        pipe = pipeline("text-classification", model=str(folder), device="cpu", truncation=True)
        inputs = TEXTS + [{"text": a, "text_pair": b} for a, b in PAIRS[:4]]
        text_ids, _, text_logits = one_at_a_time(model, tokenizer, TEXTS)
        spread_check(f"{name} texts", text_logits)
        results = [pipe(x, top_k=None) for x in inputs]
        for r in results:
            gaps_check(f"{name} labels", [d["score"] for d in r])
        refs |= {"texts": TEXTS, "text_input_ids": text_ids, "text_logits": floats(text_logits),
                 "pipeline_inputs": inputs, "pipeline_top_k_none": results}
    refs["truncation"] = truncation_grid(tokenizer)
    write(folder / "expected.json", {"versions": versions(), "seed": seed} | refs)


def masked_lm(seed: int) -> None:
    from transformers import BertForMaskedLM, pipeline
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = make_tokenizer(Path(tmp), 40)
    torch.manual_seed(seed)
    model = seeded(BertForMaskedLM(bert_config()), seed)
    assert model.cls.predictions.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()
    folder = save_folder("mlm", model, tokenizer)
    ids, _, logits = [], [], []
    with torch.no_grad():
        for text in MASKED:
            enc = tokenizer(text, truncation=True)
            ids.append(enc["input_ids"])
            logits.append(model(input_ids=torch.tensor([enc["input_ids"]])).logits[0].numpy())
    masked = [[i for i, t in enumerate(x) if t == tokenizer.mask_token_id] for x in ids]
    assert all(masked), "every fill-mask text has a [MASK]"
    at_masks = [floats(lg[m]) for lg, m in zip(logits, masked)]
    spread_check("mlm", np.concatenate([np.asarray(a) for a in at_masks]))
    pipe = pipeline("fill-mask", model=str(folder), device="cpu")
    results = [pipe(text, top_k=5) for text in MASKED]
    for text, lg, m in zip(MASKED, logits, masked):
        for row in lg[m]:
            probs = np.sort(torch.softmax(torch.tensor(row), -1).numpy())[::-1][:6]
            gaps_check(f"mlm {text!r}", list(probs), floor=1e-4)
    write(folder / "expected.json", {"versions": versions(), "seed": seed, "texts": MASKED, "input_ids": ids,
                                     "mask_positions": masked, "logits_at_masks": at_masks,
                                     "logits_all_0": floats(logits[0]), "fill_mask_top5": results})


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from transformers.utils import logging
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    OUT.mkdir(parents=True, exist_ok=True)
    classifier("rerank", 21, 1, {"sentence_transformers": {"activation_fn": IDENTITY}})
    classifier("nli", 22, 3, None)
    masked_lm(23)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
