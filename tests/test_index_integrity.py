"""An index never trusts its files: checksums per segment, checked on first read and by `minilm index
verify`; malformed rows and garbled headers are SearchIndexError (exit 8) naming the file; an add
refuses non-finite vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tinymodel import write_tiny_model

import minilm
from minilm.cli.main import main
from minilm.errors import BackendError, SearchIndexError
from minilm.search.index import Index

TEXTS = [f"{a} {b} {c}" for a in "abcdefghij" for b in "klmnopqrst" for c in "uvwxyz"][:600]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return minilm.load(str(write_tiny_model(tmp_path_factory.mktemp("tiny") / "model")))


@pytest.fixture()
def built(tmp_path, model) -> Path:
    path = tmp_path / "idx"
    Index.build(path, TEXTS, embedder=model, chunk_size=400)  # seg-0000: 400 rows, seg-0001: 200
    return path


def _manifest(path: Path) -> dict:
    return json.loads((path / "meta.json").read_text())


def _flip_row(path: Path, row: int, value: float) -> None:
    vectors = np.load(path / "seg-0000.npy", mmap_mode="r+")
    vectors[row, :4] = value
    vectors.flush()


def test_meta_json_records_a_checksum_per_segment_file(built):
    segments = _manifest(built)["segments"]
    assert [s["rows"] for s in segments] == [400, 200]
    for s in segments:
        assert set(s["crc32"]) == {"npy", "jsonl"} and all(len(v) == 8 for v in s["crc32"].values())


@pytest.mark.parametrize("value", [1.96e38, np.nan, 0.5])
def test_changed_vector_bytes_are_found_on_first_search(built, model, capsys, value):
    _flip_row(built, 250, value)
    with pytest.raises(SearchIndexError, match=r"seg-0000.npy: corrupt segment: its CRC-32 is [0-9a-f]{8}, meta.json "
                                               r"recorded [0-9a-f]{8} when it was written.*rebuild it"):
        Index.open(built, model).search("a k u")
    assert main(["search", str(built), "a k u"]) == 8
    assert "seg-0000.npy: corrupt segment: its CRC-32" in capsys.readouterr().err


def test_a_segment_without_a_checksum_is_checked_as_unit_vectors(built, model):
    meta = _manifest(built)
    for s in meta["segments"]:
        del s["crc32"]  # as an index written before checksums
    (built / "meta.json").write_text(json.dumps(meta))
    assert Index.open(built, model).search("a k u", k=1)[0].text == "a k u"
    _flip_row(built, 300, np.nan)
    with pytest.raises(SearchIndexError, match=r"seg-0000.npy: corrupt segment: row 300 is not a unit vector"):
        Index.open(built, model).search("a k u")


def test_verify_checks_every_file(built, capsys):
    assert main(["index", "verify", str(built)]) == 0
    assert f"{built}: ok, 600 rows in 2 segments, 4 files match meta.json" in capsys.readouterr().out
    _flip_row(built, 10, 0.25)
    lines = (built / "seg-0001.jsonl").read_text().splitlines()
    (built / "seg-0001.jsonl").write_text("\n".join(lines[:-1] + ['{"id": 599, "text": "changed"}']) + "\n")
    assert main(["index", "verify", str(built)]) == 8
    err = capsys.readouterr().err
    assert f"{built}: 2 of 4 files are corrupt:" in err
    assert "seg-0000.npy: corrupt segment: its CRC-32" in err and "seg-0001.jsonl: corrupt segment: its CRC-32" in err


def test_a_garbled_npy_header_is_an_index_error(built, model, capsys):
    data = bytearray((built / "seg-0001.npy").read_bytes())
    data[20:24] = b"{{{{"  # numpy raises tokenize.TokenError here, not ValueError
    (built / "seg-0001.npy").write_bytes(bytes(data))
    meta = _manifest(built)
    del meta["segments"][1]["crc32"]
    (built / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(SearchIndexError, match=r"seg-0001.npy: corrupt segment \(TokenError"):
        Index.open(built, model).search("a k u")
    assert main(["search", str(built), "a k u"]) == 8


@pytest.mark.parametrize("row, problem", [
    ("[]", "a row is a JSON object, not list"), ('{"text": "a"}', 'the row has no "id"'),
    ('{"id": 1, "text": 5}', '"text" is int, not a string'), ('{"id": [1], "text": "a"}', '"id" is list'),
    ('{"id": 1, "text": "a", "metadata": 3}', '"metadata" is int'),
])
def test_malformed_rows_are_index_errors_in_search_and_add(built, model, tmp_path, capsys, row, problem):
    lines = (built / "seg-0000.jsonl").read_text().splitlines()
    (built / "seg-0000.jsonl").write_text("\n".join([row] + lines[1:]) + "\n")
    meta = _manifest(built)
    del meta["segments"][0]["crc32"]  # else the checksum finds it first
    (built / "meta.json").write_text(json.dumps(meta))
    message = f"seg-0000.jsonl: line 1: corrupt segment ({problem}"
    with pytest.raises(SearchIndexError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Index.open(built, model).search(["a k u"] * 3, k=600)
    (tmp_path / "more.txt").write_text("z z z\n")
    assert main(["index", "add", str(built), "--input", str(tmp_path / "more.txt")]) == 8
    assert message in capsys.readouterr().err


def test_an_add_refuses_non_finite_vectors_and_changes_nothing(built, model, monkeypatch):
    before = _manifest(built)
    real = model.encode

    def with_nan(texts, **kwargs):
        vectors = real(texts, **kwargs)
        vectors[1, 3] = np.nan
        return vectors
    index = Index.open(built, model)
    monkeypatch.setattr(model, "encode", with_nan)
    with pytest.raises(BackendError, match=r"row 601 \(id 'y'\): the model gave NaN or inf for this text, so nothing was "
                                           r"added"):
        index.add(["x x x", "y y y"], ids=["x", "y"])
    assert _manifest(built) == before and sorted(p.name for p in built.iterdir()) == [
        "lock", "meta.json", "seg-0000.jsonl", "seg-0000.npy", "seg-0001.jsonl", "seg-0001.npy"]
