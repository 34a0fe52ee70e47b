"""Fixtures for the Node.js package (js/test/fixtures/embeddings.json), from our Python embedder.

    python tools/make_js_fixtures.py [--model PATH]

Writes a few varied texts (short, long past 256 tokens, empty, emoji, CJK, accents) with their token
ids and sentence embeddings (float32, little-endian, base64) as ``minilm.load()`` computes them
(ONNX Runtime backend; itself checked against sentence-transformers to cosine >= 0.99999). The
Node test embeds them one by one and as one padded batch and wants cosine >= 0.99999 per text.
Also text pairs as token ids with token_type_ids (``[CLS] A [SEP]`` typed 0, ``B [SEP]`` typed 1) and their
sentence embeddings from the same graph fed those types: the Node package must pass the types through.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import numpy as np

import minilm

TEXTS = [
    "This is an example sentence",
    "Hello world",
    "The cat sits on the mat",
    "A feline rests on the carpet",
    "",
    "  leading and trailing spaces  ",
    "Crème brûlée à la carte, naïve café",
    "東京は日本の首都です",
    "Emoji 🎉🚀 and symbols ©®™ mixed in",
    "def f(x): return x ** 2  # code",
    "UPPER lower MiXeD 12345 3.14159",
    " ".join(["A long text that runs well past the model's two hundred and fifty-six token limit."] * 20),
]
PAIRS = [("How do I bake bread?", "Mix flour, water, yeast and salt, then bake."),
         ("The cat sits on the mat", "A feline rests on the carpet"), ("short", "")]
OUT = Path(__file__).resolve().parent.parent / "js" / "test" / "fixtures" / "embeddings.json"


def pairs(model) -> list[dict]:
    """Each pair as ids [CLS] A [SEP] B [SEP] with types 0 ... 0 1 ... 1, and its vector from the padded graph."""
    executor = model.executor("sentence_embedding", model.pipeline.normalize)
    out = []
    for a, b in PAIRS:
        first, second = model.tokenize([a, b])
        ids, types = first + second[1:], [0] * len(first) + [1] * (len(second) - 1)
        feeds = model._feeds([ids])
        feeds["token_type_ids"] = np.array([types], np.int64)
        vector = np.asarray(executor.run(feeds)["sentence_embedding"][0], "<f4")
        out.append({"texts": [a, b], "input_ids": ids, "token_type_ids": types,
                    "embedding_f32_base64": base64.b64encode(vector.tobytes()).decode()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the installed all-MiniLM-L6-v2)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    model = minilm.load(args.model)
    vectors = np.asarray(model.encode(TEXTS), dtype="<f4")
    data = {"model": model.path.name, "source": "tools/make_js_fixtures.py: minilm.load().encode(texts), backend onnxruntime",
            "minilm": minilm.__version__, "max_seq_length": model.max_length, "dim": model.dim, "texts": TEXTS,
            "input_ids": model.tokenize(TEXTS),
            "embeddings_f32_base64": [base64.b64encode(v.tobytes()).decode() for v in vectors], "pairs": pairs(model)}
    Path(args.out).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(TEXTS)} texts")


if __name__ == "__main__":
    main()
