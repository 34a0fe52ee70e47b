"""Parity with the real sentence-transformers / transformers (fixtures from tools/make_fixtures.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import minilm
from minilm.models import packed as bert_packed
from conftest import FIXTURES, cosine_rows, load_golden

GOLDEN = "all-MiniLM-L6-v2"
TINY = ["mean_norm", "cls", "max", "sqrt_len_relu", "weighted_gelu_new", "lasttoken"]


@pytest.fixture(scope="module")
def golden():
    return load_golden(GOLDEN)


def test_golden_fixture_is_varied(golden):
    meta, arrays = golden
    texts = meta["texts"]
    assert len(texts) >= 200
    assert "" in texts and any(len(ids) == 256 for ids in meta["input_ids"])  # empty and truncated texts
    assert any(ord(c) > 0x3000 for t in texts for c in t)  # CJK / emoji
    assert arrays["sentence_embedding"].shape == (len(texts), 384)


def test_token_ids_identical(ort_embedder, golden):
    meta, _ = golden
    assert ort_embedder.tokenize(meta["texts"]) == meta["input_ids"]


def test_sentence_embeddings_match_sentence_transformers(embedder, golden):
    meta, arrays = golden
    ours = embedder.encode(meta["texts"], batch_size=32)
    ref = arrays["sentence_embedding"]
    cos = cosine_rows(ours, ref)
    worst = int(cos.argmin())
    assert cos.min() >= 0.99999, (meta["texts"][worst][:80], cos.min())
    assert np.abs(ours - ref).max() <= 1e-4


def test_pooler_output_matches_transformers(embedder, golden):
    meta, arrays = golden
    ours = embedder.encode(meta["texts"], output="pooler_output")
    np.testing.assert_allclose(ours, arrays["pooler_output"], atol=1e-4)


def test_unnormalized_mean_matches_transformers(embedder, golden):
    meta, arrays = golden
    ours = embedder.encode(meta["texts"], normalize=False)
    assert cosine_rows(ours, arrays["mean_unnormalized"]).min() >= 0.99999
    np.testing.assert_allclose(ours, arrays["mean_unnormalized"], atol=1e-4)


def test_published_values(embedder):
    # DESIGN.md §4: values published for all-MiniLM-L6-v2, checked against the real sentence-transformers
    v = embedder.encode("This is an example sentence")
    np.testing.assert_allclose(v[:5], [0.067657, 0.063496, 0.048713, 0.079305, 0.037448], atol=1e-5)
    assert embedder.tokenize("Hello world") == [[101, 7592, 2088, 102]]
    p = embedder.encode("Hello world", output="pooler_output")
    np.testing.assert_allclose(p[:5], [-0.039659, 0.022168, -0.011310, 0.027763, -0.024910], atol=1e-5)
    assert abs(float(np.linalg.norm(p)) - 1.18315) < 1e-5


def typed_feeds(model, ids: list[int], types: list[int]) -> dict[str, np.ndarray]:
    feeds = model._feeds([ids])
    feeds["token_type_ids"] = np.array([types], np.int64)
    return feeds


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("backend", ["onnxruntime", "numpy", "torch"])
def test_tiny_random_configs_match_transformers(name, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    folder = FIXTURES / "tiny" / name
    meta = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    expected = np.load(folder / "expected.npz")
    model = minilm.load(folder, backend=backend)
    assert model.tokenize(meta["texts"]) == meta["input_ids"]
    np.testing.assert_allclose(model.encode(meta["texts"]), expected["sentence_embedding"], atol=1e-5)
    np.testing.assert_allclose(model.encode(meta["texts"], output="pooler_output"), expected["pooler_output"], atol=1e-5)
    tokens = model.encode(meta["texts"], output="token_embeddings")
    for i, t in enumerate(tokens):
        np.testing.assert_allclose(t, expected[f"last_hidden_state_{i}"], atol=1e-5)


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("backend", ["onnxruntime", "numpy", "torch"])
def test_tiny_text_pairs_use_their_token_types(name, backend):
    """Segment B typed 1, as a cross-encoder feeds a pair: the padded graph's token states and pooler
    against transformers', and the packed graph against the padded one with the same types."""
    if backend == "torch":
        pytest.importorskip("torch")
    folder = FIXTURES / "tiny" / name
    pairs = json.loads((folder / "expected.json").read_text(encoding="utf-8"))["pairs"]
    expected = np.load(folder / "expected.npz")
    model = minilm.load(folder, backend=backend)
    hidden, pooler = model.executor("token_embeddings", None), model.executor("pooler_output", None)
    padded = model.executor("sentence_embedding", model.pipeline.normalize)
    packed = model.executor("sentence_embedding", model.pipeline.normalize, packed=True)
    ids = [p["input_ids"] for p in pairs]
    packed_feeds = bert_packed.feeds(ids, model.config.pad_token_id)
    packed_feeds["token_type_ids"] = np.array([t for p in pairs for t in p["token_type_ids"]], np.int64)
    got_packed = packed.run(packed_feeds)["sentence_embedding"]
    for i, pair in enumerate(pairs):
        feeds = typed_feeds(model, pair["input_ids"], pair["token_type_ids"])
        np.testing.assert_allclose(hidden.run(feeds)["token_embeddings"][0], expected[f"pair_last_hidden_state_{i}"], atol=1e-5)
        np.testing.assert_allclose(pooler.run(feeds)["pooler_output"][0], expected[f"pair_pooler_output_{i}"], atol=1e-5)
        np.testing.assert_allclose(got_packed[i], padded.run(feeds)["sentence_embedding"][0], atol=1e-5)


@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_l12_shaped_random_checkpoint_matches_transformers(tmp_path, backend):
    from tinymodel import L12_CONFIG, L12_IDS, L12_SCALE, L12_TYPES, random_weights, write_tiny_model

    folder = write_tiny_model(tmp_path / "all-MiniLM-L12-v2", random_weights(L12_CONFIG, seed=12, scale=L12_SCALE), L12_CONFIG)
    model = minilm.load(folder, backend=backend)  # named like the preset: its shape is checked too
    expected = np.load(FIXTURES / "l12_random.npz")
    for i, (ids, types) in enumerate(zip(L12_IDS, L12_TYPES)):
        feeds = typed_feeds(model, ids, types)
        hidden = model.executor("token_embeddings", None).run(feeds)["token_embeddings"][0]
        pooler = model.executor("pooler_output", None).run(feeds)["pooler_output"][0]
        np.testing.assert_allclose(hidden, expected[f"last_hidden_state_{i}"], atol=1e-4)
        np.testing.assert_allclose(pooler, expected[f"pooler_output_{i}"], atol=1e-4)
