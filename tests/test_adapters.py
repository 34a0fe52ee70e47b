"""Adapters for LangChain and Chroma (against the real libraries when installed), and sentence-transformers' encode keywords."""

from __future__ import annotations

import numpy as np
import pytest

from minilm import st_compat
from minilm.search import adapters
from minilm.errors import InputError

DOCS = ["The cat sits on the mat", "Python is a programming language", "Stock markets fell sharply today"]


def test_langchain_embeddings_match_encode(ort_embedder, monkeypatch):
    monkeypatch.setattr("minilm.load", lambda model=None, **kw: ort_embedder)
    emb = adapters.LangChainEmbeddings()
    docs = emb.embed_documents(DOCS)
    assert isinstance(docs, list) and isinstance(docs[0], list) and isinstance(docs[0][0], float)
    np.testing.assert_array_equal(np.array(docs, np.float32), ort_embedder.encode(DOCS))
    np.testing.assert_array_equal(np.array(emb.embed_query(DOCS[0]), np.float32), ort_embedder.encode(DOCS[0]))
    with pytest.raises(InputError, match="embed_query takes one string, got list; use embed_documents"):
        emb.embed_query(DOCS)


def test_langchain_vector_store(ort_embedder, monkeypatch):
    core = pytest.importorskip("langchain_core")
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore
    monkeypatch.setattr("minilm.load", lambda model=None, **kw: ort_embedder)
    emb = adapters.LangChainEmbeddings()
    assert isinstance(emb, Embeddings), core.__version__
    store = InMemoryVectorStore.from_texts(DOCS, emb)
    assert store.similarity_search("a kitten resting on a rug", k=1)[0].page_content == DOCS[0]


def test_chroma_collection_add_and_query(ort_embedder, monkeypatch):
    chromadb = pytest.importorskip("chromadb")
    monkeypatch.setattr("minilm.load", lambda model=None, **kw: ort_embedder)
    function = adapters.ChromaEmbeddingFunction()
    assert isinstance(function, chromadb.api.types.EmbeddingFunction) and not function.is_legacy()
    collection = chromadb.EphemeralClient().create_collection("minilm-test", embedding_function=function)
    collection.add(ids=["cat", "python", "stocks"], documents=DOCS)
    found = collection.query(query_texts=["a kitten resting on a rug", "shares dropped"], n_results=1)
    assert found["ids"] == [["cat"], ["stocks"]]
    expected = 1 - float(ort_embedder.encode("shares dropped") @ ort_embedder.encode(DOCS[2]))
    assert found["distances"][1][0] == pytest.approx(expected, abs=1e-4)  # cosine space: distance = 1 - cosine
    rebuilt = type(function).build_from_config(function.get_config())
    assert rebuilt.get_config() == {"model": None, "backend": "onnxruntime", "batch_size": 32}


def test_chroma_function_without_chromadb_is_a_plain_callable(ort_embedder, monkeypatch):
    monkeypatch.setattr("minilm.load", lambda model=None, **kw: ort_embedder)
    vectors = adapters._Chroma()(DOCS)
    assert len(vectors) == 3 and vectors[0].dtype == np.float32 and vectors[0].shape == (384,)
    assert adapters._Chroma.name() == "minilm"


def test_sentence_transformers_keywords(ort_embedder):
    base = ort_embedder.encode(DOCS)
    np.testing.assert_array_equal(ort_embedder.encode(DOCS, normalize_embeddings=True, convert_to_numpy=True), base)
    cut = ort_embedder.encode(DOCS, truncate_dim=64, normalize_embeddings=True)
    np.testing.assert_allclose(cut, base[:, :64] / np.linalg.norm(base[:, :64], axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_array_equal(ort_embedder.encode(DOCS, truncate_dim=64), base[:, :64])
    rows = ort_embedder.encode(DOCS, convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 3
    assert ort_embedder.encode(DOCS, precision="ubinary").shape == (3, 48)
    assert ort_embedder.encode(DOCS[0], precision="binary").shape == (48,)
    tokens = ort_embedder.encode(DOCS[:1], output_value="token_embeddings")
    assert tokens[0].shape[1] == 384


@pytest.mark.parametrize("kwargs,message", [
    ({"precision": "int4"}, "precision 'int4' is not one of float32, int8, uint8, binary, ubinary"),
    ({"output_value": None}, "output_value None is not offered; use 'sentence_embedding' or 'token_embeddings'"),
    ({"device": "cuda"}, r"device 'cuda': encode runs where the model was loaded; choose the device with minilm.load"),
    ({"truncate_dim": 0}, "truncate_dim must be a positive integer, got 0"),
])
def test_sentence_transformers_keywords_bad_values(ort_embedder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ort_embedder.encode(DOCS, **kwargs)


def test_unknown_keyword_is_a_type_error(ort_embedder):
    with pytest.raises(TypeError, match="unexpected keyword argument 'normalise'"):
        ort_embedder.encode(DOCS, normalise=True)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_quantization_equals_sentence_transformers(precision):
    util = pytest.importorskip("sentence_transformers.util")
    x = np.random.default_rng(0).normal(size=(50, 384)).astype(np.float32)
    expected = util.quantize_embeddings(x, precision=precision)
    got = st_compat.quantize(x, precision)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_convert_to_tensor(ort_embedder):
    torch = pytest.importorskip("torch")
    tensor = ort_embedder.encode(DOCS, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tuple(tensor.shape) == (3, 384)


def test_same_keywords_same_results_as_sentence_transformers(ort_embedder):
    st = pytest.importorskip("sentence_transformers")
    import inspect
    assert set(st_compat.KEYWORDS) <= set(inspect.signature(st.SentenceTransformer.encode).parameters)
    reference = st.SentenceTransformer(str(ort_embedder.path), device="cpu")
    for kwargs in [{}, {"normalize_embeddings": True}, {"truncate_dim": 128, "normalize_embeddings": True}, {"truncate_dim": 32}]:
        np.testing.assert_allclose(ort_embedder.encode(DOCS, **kwargs), reference.encode(DOCS, **kwargs), atol=2e-6)
    ours, theirs = ort_embedder.encode(DOCS, precision="ubinary"), reference.encode(DOCS, precision="ubinary")
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert (np.unpackbits(ours) == np.unpackbits(theirs)).mean() > 0.99  # a sign may flip for a value within 1e-7 of 0


def test_without_the_libraries_the_classes_are_duck_typed(ort_embedder, monkeypatch):
    monkeypatch.setattr("minilm.load", lambda model=None, **kw: ort_embedder)
    monkeypatch.setattr(adapters, "_CLASSES", {})
    monkeypatch.setattr(adapters, "_base", lambda module, name: object)  # as if langchain_core / chromadb were absent
    emb, function = adapters.LangChainEmbeddings(), adapters.ChromaEmbeddingFunction()
    assert type(emb).__mro__[-2:] == (adapters._LangChain, object) and len(emb.embed_query("x")) == 384
    assert len(function(DOCS)) == 3 and function.default_space() == "cosine"


def test_a_missing_library_gives_a_plain_base():
    assert adapters._base("minilm_no_such_module", "Embeddings") is object


def test_importing_the_adapters_imports_no_library():
    import subprocess
    import sys
    code = "import minilm.search.adapters, sys; print(sorted({'langchain_core', 'chromadb'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
