"""The public API and the handling of bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import minilm
from minilm.errors import BackendError, InputError


def test_public_api_is_small_and_sorted():
    assert minilm.__all__ == sorted(minilm.__all__)
    assert set(minilm.__all__) == {
        "BackendError", "CheckpointError", "Classifier", "ConfigError", "CrossEncoder", "Embedder", "GraphError", "Index",
        "InputError", "MaskedLM", "MinilmError", "MissingDependencyError", "ModelNotFoundError", "ModelWarning", "PrecisionWarning",
        "SearchIndexError", "__version__", "load",
    }
    for name in minilm.__all__:
        assert hasattr(minilm, name)


def test_error_tree():
    for name in minilm.__all__:
        obj = getattr(minilm, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, minilm.MinilmError)
    assert issubclass(InputError, TypeError) and issubclass(BackendError, ValueError)


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(BackendError, match="unknown backend 'tensorflow'; valid backends: numpy, onnxruntime"):
        minilm.load(backend="tensorflow")


def test_empty_list_gives_empty_matrix(embedder):
    out = embedder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_single_string_gives_vector_and_empty_string_works(embedder):
    v = embedder.encode("")
    assert v.shape == (384,) and v.dtype == np.float32
    assert abs(np.linalg.norm(v) - 1) < 1e-5
    assert embedder.tokenize("") == [[101, 102]]


@pytest.mark.parametrize("texts,index", [(["ok", None], 1), (["a", "b", 3], 2), ([b"bytes"], 0)])
def test_bad_items_name_their_index(ort_embedder, texts, index):
    with pytest.raises(TypeError, match=rf"texts\[{index}\] is "):
        ort_embedder.encode(texts)


@pytest.mark.parametrize("bad", [None, 42, b"bytes"])
def test_bad_container(ort_embedder, bad):
    with pytest.raises(InputError, match="texts must be a string or a list of strings"):
        ort_embedder.encode(bad)


def test_bad_arguments(ort_embedder):
    with pytest.raises(ValueError, match="output 'logits' is not one of"):
        ort_embedder.encode("x", output="logits")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ort_embedder.encode("x", batch_size=0)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        minilm.load(threads=0)


def test_huge_text_is_truncated(ort_embedder):
    """A 600 kB text of varied words keeps its first 255 tokens and [SEP]: the ids and the vector of
    its first 300 words (more than 256 tokens), whose first 150 words' tokens begin it."""
    words = "the quick brown fox jumps over lazy dog while seven wizards quietly judge boxing matches at dawn".split()
    huge = [f"{w}{i % 7 if i % 5 == 0 else ''}" for i, w in zip(range(100_000), itertools.cycle(words))]
    ids = ort_embedder.tokenize(" ".join(huge))[0]
    start = ort_embedder.tokenize(" ".join(huge[:150]))[0]
    assert len(ids) == 256 and ids[-1] == 102 and len(start) < 256 and ids[:len(start) - 1] == start[:-1]
    assert ids == ort_embedder.tokenize(" ".join(huge[:300]))[0]
    assert ids[1:-1] != ort_embedder.tokenize(" ".join(huge[-300:]))[0][-255:-1]  # not the end of the text
    vector = ort_embedder.encode(" ".join(huge))
    np.testing.assert_allclose(vector, ort_embedder.encode(" ".join(huge[:300])), atol=1e-6)


def test_token_ids_in_chunks_equal_full_encodings(ort_embedder, monkeypatch):
    """tokenizer.encode cuts the texts into chunks and keeps only ids: the same ids, in order, as the
    Encodings of all texts at once (whitespace stripped, truncated, special tokens)."""
    import minilm.tokenizer
    texts = [f" text {i} with Ünïcödé, café and 🚀 " * (i % 5) for i in range(23)] + ["word " * 400, ""]
    monkeypatch.setattr(minilm.tokenizer, "CHUNK", 4)
    expected = [e.ids for e in ort_embedder.tokenizer.encodings(texts)]
    assert ort_embedder.tokenizer.encode(texts) == expected
    assert len(expected[-2]) == 256 and expected[0] == expected[-1] == [101, 102]


def test_batch_invariance(embedder):
    texts = ["Hello world", "A much longer sentence, with punctuation and several clauses, to force padding in the batch.",
             "x", "Ünïcödé façade — naïve café", "🚀 launch " * 40, ""]
    batched = embedder.encode(texts, batch_size=4)
    for i, text in enumerate(texts):
        alone = embedder.encode(text)
        cos = float(alone @ batched[i] / (np.linalg.norm(alone) * np.linalg.norm(batched[i])))
        assert cos >= 0.999999, (text, cos)


def test_order_is_preserved_and_iterables_accepted(ort_embedder):
    texts = ["short", "a considerably longer text than the others", "mid length text"]
    forward = ort_embedder.encode(texts)
    backward = ort_embedder.encode(tuple(reversed(texts)))
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-6)
    np.testing.assert_allclose(ort_embedder.encode(iter(texts)), forward, atol=1e-6)


def test_normalize_switch_and_token_embeddings(ort_embedder):
    raw = ort_embedder.encode(["Hello world"], normalize=False)
    unit = ort_embedder.encode(["Hello world"])
    np.testing.assert_allclose(raw / np.linalg.norm(raw), unit, atol=1e-6)
    tokens = ort_embedder.encode(["Hello world", "a b c d e f"], output="token_embeddings")
    assert [t.shape for t in tokens] == [(4, 384), (8, 384)]
    np.testing.assert_allclose(tokens[0].mean(0), raw[0], atol=1e-5)


def test_similarity(ort_embedder):
    sim = ort_embedder.similarity(["The cat sits on the mat", "A feline rests on the carpet", "Python is a programming language"])
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1, atol=1e-5)
    assert sim[0, 1] > 0.4 > sim[0, 2]
    vectors = ort_embedder.encode(["a", "b"])
    assert ort_embedder.similarity(vectors, ["a"]).shape == (2, 1)


def test_prompts_from_the_model_config(tmp_path):
    import json

    from tinymodel import write_tiny_model
    folder = write_tiny_model(tmp_path / "m")
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "hello ", "doc": ""}}))
    model = minilm.load(folder, backend="numpy")
    np.testing.assert_array_equal(model.encode("world", prompt_name="query"), model.encode("hello world"))
    np.testing.assert_array_equal(model.encode("world", prompt="abc "), model.encode("abc world"))
    with pytest.raises(ValueError, match="prompt_name 'passage' is not one of the model's prompts: \\['doc', 'query'\\]"):
        model.encode("x", prompt_name="passage")
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "hello "}, "default_prompt_name": "query"}))
    np.testing.assert_array_equal(minilm.load(folder, backend="numpy").encode("world"), model.encode("hello world"))
