"""minilm.search.index: search equals brute force over Embedder.encode, ids / metadata round trip, bad indexes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from minilm import Index, InputError, SearchIndexError
from minilm.search import store

TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
         "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
         "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
         "Stock markets fell sharply on Monday.", "The central bank raised interest rates."]
QUERIES = ["someone eats", "a horse rider", "music", "finance news"]


def brute_force(embedder, texts, queries, k):
    """(ids, scores) per query: cosine of every text, sorted, from Embedder.encode directly."""
    scores = embedder.encode(queries, normalize=True) @ embedder.encode(texts, normalize=True).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, 1)


@pytest.fixture()
def built(tmp_path, ort_embedder):
    return Index.build(tmp_path / "idx", TEXTS[:6], embedder=ort_embedder, chunk_size=4)


def test_search_equals_brute_force_across_segments(built, ort_embedder):
    built.add(TEXTS[6:], metadata=[{"n": i} for i in range(6, 10)], chunk_size=3)
    assert len(built) == 10 and [s["rows"] for s in built.manifest["segments"]] == [4, 2, 3, 1]
    order, scores = brute_force(ort_embedder, TEXTS, QUERIES, k=5)
    results = built.search(QUERIES, k=5)
    for found, want_ids, want_scores in zip(results, order, scores):
        assert [r.id for r in found] == list(want_ids)  # default ids are row numbers
        np.testing.assert_allclose([r.score for r in found], want_scores, atol=1e-5)
        assert [r.text for r in found] == [TEXTS[i] for i in want_ids]
        assert [r.metadata for r in found] == [{"n": int(i)} if i >= 6 else None for i in want_ids]


def test_ids_metadata_reopen_and_default_model(tmp_path, ort_embedder):
    ids = [f"doc-{i}" for i in range(len(TEXTS))]
    meta = [{"len": len(t), "tags": ["x"]} for t in TEXTS]
    Index.build(tmp_path / "idx", TEXTS, ids=ids, metadata=meta, embedder=ort_embedder)
    again = Index.open(tmp_path / "idx")  # no embedder: the model recorded in meta.json
    assert again.manifest["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert again.ids() == ids and len(again) == 10 and again.dim == 384
    top = again.search("a horse rider", k=3)
    assert top[0].id == "doc-3" and top[0].metadata == {"len": len(TEXTS[3]), "tags": ["x"]}
    assert top == Index.open(tmp_path / "idx", ort_embedder).search("a horse rider", k=3)
    assert len(again.search("x", k=100)) == 10  # k above the count gives every row
    np.testing.assert_allclose(again.vectors(), ort_embedder.encode(TEXTS), atol=1e-6)


def test_store_top_k_matches_argsort():
    rng = np.random.default_rng(1)
    mats = [rng.standard_normal((n, 16)).astype(np.float32) for n in (7, 50, 3)]
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    full = queries @ np.concatenate(mats).T
    scores, rows = store.top_k(queries, mats, 6, chunk=8)  # many chunks, uneven segments
    np.testing.assert_array_equal(rows, np.argsort(-full, axis=1)[:, :6])
    np.testing.assert_allclose(scores, -np.sort(-full, axis=1)[:, :6], rtol=1e-6)


class OtherModel:
    dim, path = 768, Path("bert-base")


def test_dimension_mismatch_is_refused(built):
    with pytest.raises(SearchIndexError, match=r"384 dims.*gives 768 dims.*same model, or rebuild"):
        Index.open(built.path, OtherModel())


def test_bad_input_changes_nothing(built):
    before = (len(built), built.ids(), sorted(p.name for p in built.path.iterdir()))
    cases = [
        (dict(texts=["new", "new2"], ids=[0, "z"]), r"row 6: duplicate id 0; ids must be unique"),
        (dict(texts=["a", "b"], ids=["x", "x"]), r"row 7: duplicate id 'x'"),
        (dict(texts=[]), r"no texts to add: the input is empty"),
        (dict(texts=["a", "b"], ids=["x"]), r"fewer ids than texts"),
        (dict(texts=["a"], ids=["x", "y"]), r"more ids than texts"),
        (dict(texts=["a"], metadata=["tag"]), r"row 6: metadata is str; give a dict"),
        (dict(texts=["a", 3]), r"row 7: text is int"),
        (dict(texts=["a"], ids=[1.5]), r"id 1.5 is float; ids are strings or integers"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError, match=message):
            built.add(**kwargs, chunk_size=1)
        reopened = Index.open(built.path, built.embedder)
        assert (len(reopened), reopened.ids(), sorted(p.name for p in built.path.iterdir())) == before


def test_search_arguments(built):
    for k in (0, -1, 2.0, True):
        with pytest.raises(InputError, match="k must be a positive integer"):
            built.search("x", k=k)
    with pytest.raises(InputError, match="a string or a list of strings"):
        built.search([1])
    assert built.search([], k=3) == []


def test_build_refuses_an_existing_folder(built, ort_embedder):
    with pytest.raises(SearchIndexError, match="already exists; add to it with `minilm index add`"):
        Index.build(built.path, ["x"], embedder=ort_embedder)


def test_failed_build_leaves_nothing(tmp_path, ort_embedder):
    with pytest.raises(InputError, match="empty"):
        Index.build(tmp_path / "idx", [], embedder=ort_embedder)
    assert not (tmp_path / "idx").exists()


def test_missing_and_not_an_index(tmp_path):
    with pytest.raises(SearchIndexError, match=r"no such index; create it with `minilm index build"):
        Index.open(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SearchIndexError, match=r"not an index \(no meta.json in it\)"):
        Index.open(tmp_path / "empty")


def _corrupt(path: Path, what: str) -> None:
    meta = json.loads((path / "meta.json").read_text())
    if what == "garbage manifest":
        (path / "meta.json").write_text("{not json")
    elif what == "other format":
        (path / "meta.json").write_text(json.dumps({**meta, "format": "something"}))
    elif what == "newer version":
        (path / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    elif what == "count mismatch":
        (path / "meta.json").write_text(json.dumps({**meta, "count": 99}))
    elif what == "truncated npy":
        data = (path / "seg-0000.npy").read_bytes()
        (path / "seg-0000.npy").write_bytes(data[: len(data) // 2])
    elif what == "missing npy":
        (path / "seg-0001.npy").unlink()
    elif what == "jsonl rows":
        lines = (path / "seg-0000.jsonl").read_text().splitlines(keepends=True)
        (path / "seg-0000.jsonl").write_text("".join(lines[:-1]))
    elif what == "garbage jsonl":
        (path / "seg-0001.jsonl").write_text("{oops\n")


@pytest.mark.parametrize("what, message", [
    ("garbage manifest", r"meta.json: corrupt manifest"), ("other format", r"not a minilm index manifest"),
    ("newer version", r"index version 99, this minilm reads 1"), ("count mismatch", r"inconsistent manifest"),
    ("truncated npy", r"seg-0000.npy: corrupt segment"), ("missing npy", r"seg-0001.npy: missing segment"),
    ("jsonl rows", r"seg-0000.jsonl: corrupt segment: its CRC-32 is [0-9a-f]{8}, meta.json recorded"), ("garbage jsonl", r"seg-0001.jsonl: corrupt segment"),
])
def test_corrupt_index_says_rebuild(built, what, message):
    _corrupt(built.path, what)
    with pytest.raises(SearchIndexError, match=message + r".*rebuild it with `minilm index build`"):
        Index.open(built.path, built.embedder).search(["x"], k=10)


def test_a_second_writer_is_refused(built):
    with store.writer_lock(built.path):
        with pytest.raises(SearchIndexError, match="another process is writing this index"):
            built.add(["x"])
    assert built.add(["x"]) == 1


def test_strays_of_a_killed_writer_are_ignored_then_removed(built):
    for name in ("seg-0007.npy", "seg-0007.jsonl", "meta.json.tmp", "seg-0002.npy.tmp"):
        (built.path / name).write_bytes(b"half written")
    assert len(Index.open(built.path, built.embedder).search("x", k=10)) == 6  # readers ignore them
    built.add(["one more"])
    names = sorted(p.name for p in built.path.iterdir())
    assert names == ["lock", "meta.json"] + [f"seg-000{i}.{e}" for i in range(3) for e in ("jsonl", "npy")]
