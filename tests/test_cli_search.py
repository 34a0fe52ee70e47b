"""`minilm index build|add` and `minilm search`: output, --json, ids and metadata from files, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minilm.cli.main import main

TEXTS = ["The cat sits on the mat", "Kittens like to play with yarn", "Stock prices fell today",
         "A recipe for apple pie", "Dogs are loyal animals", "The economy is slowing down"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def jsonl(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"key": f"k{i}", "body": t, "lang": "en", "n": i}) + "\n"
                            for i, t in enumerate(TEXTS)), encoding="utf-8")
    return path


def test_build_search_text_and_json(capsys, tmp_path, jsonl, ort_embedder):
    idx = tmp_path / "docs.idx"
    code, _, err = run(capsys, "index", "build", "--input", jsonl, "--field", "body", "--id-field", "key",
                       "--meta", "lang", "--meta", "n", "--out", idx)
    assert code == 0 and f"built {idx}: 6 texts, sentence-transformers/all-MiniLM-L6-v2 (384 dims)" in err
    scores = ort_embedder.encode(TEXTS) @ ort_embedder.encode("a kitten")
    order = np.argsort(-scores)[:3]
    code, out, _ = run(capsys, "search", idx, "a kitten", "-k", "3")
    assert code == 0
    assert out.splitlines() == [f"{r:>3}  {scores[i]:.4f}  k{i}  {TEXTS[i]}" for r, i in enumerate(order, 1)]
    code, out, _ = run(capsys, "search", idx, "a kitten", "money", "-k", "2", "--json")
    first, second = map(json.loads, out.splitlines())
    assert first["query"] == "a kitten" and [r["id"] for r in first["results"]] == [f"k{i}" for i in order[:2]]
    assert first["results"][0] == {"rank": 1, "id": f"k{order[0]}", "score": round(float(scores[order[0]]), 6),
                                   "text": TEXTS[order[0]], "metadata": {"lang": "en", "n": int(order[0])}}
    assert second["query"] == "money" and len(second["results"]) == 2


def test_add_csv_and_text(capsys, tmp_path, ort_embedder):
    idx, csv, txt = tmp_path / "i", tmp_path / "more.csv", tmp_path / "more.txt"
    txt.write_text("first line\nsecond line\n", encoding="utf-8")
    csv.write_text("id,text\nc1,A cat on a sofa\nc2,Bonds and equities\n", encoding="utf-8")
    assert run(capsys, "index", "build", "--input", txt, "--out", idx)[0] == 0
    code, _, err = run(capsys, "index", "add", idx, "--input", csv, "--id-column", "id")
    assert code == 0 and f"added 2 texts to {idx} (2 -> 4)" in err
    code, out, _ = run(capsys, "search", idx, "kitty", "-k", "1", "--json")
    assert json.loads(out)["results"][0]["id"] == "c1"
    code, _, err = run(capsys, "index", "add", idx, "--input", txt)  # row-number ids 4, 5: no clash
    assert code == 0 and "(4 -> 6)" in err


def test_errors_and_exit_codes(capsys, tmp_path, jsonl):
    code, _, err = run(capsys, "search", tmp_path / "none", "x")
    assert code == 8 and "no such index; create it with `minilm index build" in err
    idx = tmp_path / "docs.idx"
    assert run(capsys, "index", "build", "--input", jsonl, "--field", "body", "--id-field", "key", "--out", idx)[0] == 0
    code, _, err = run(capsys, "index", "build", "--input", jsonl, "--field", "body", "--out", idx)
    assert code == 8 and "already exists" in err
    code, _, err = run(capsys, "index", "add", idx, "--input", jsonl, "--field", "body", "--id-field", "key")
    assert code == 5 and "duplicate id 'k0'" in err
    code, _, err = run(capsys, "index", "add", idx, "--input", jsonl, "--field", "body", "--meta", "nope")
    assert code == 5 and "line 1 has no field 'nope'" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "index", "add", idx, "--input", empty)
    assert code == 5 and "the input is empty" in err
    code, _, err = run(capsys, "index", "add", idx, "--input", empty, "--id-field", "id")
    assert code == 5 and "a plain-text file has no fields; --id-field / --meta need JSONL, CSV or Parquet" in err
    code, _, err = run(capsys, "search", idx, "x", "-k", "0")
    assert code == 2 and "expected a positive integer" in err
    (idx / "meta.json").write_text("{", encoding="utf-8")
    code, _, err = run(capsys, "search", idx, "x")
    assert code == 8 and "corrupt manifest" in err and "rebuild it" in err


def test_parquet_columns(capsys, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    path, idx = tmp_path / "docs.parquet", tmp_path / "idx"
    pq.write_table(pa.table({"body": TEXTS, "uid": list(range(100, 106)), "source": ["pypi"] * 6}), path)
    code, _, err = run(capsys, "index", "build", "--input", path, "--column", "body", "--id-column", "uid",
                       "--meta", "source", "--out", idx)
    assert code == 0, err
    code, out, _ = run(capsys, "search", idx, "apple dessert", "-k", "1", "--json")
    assert json.loads(out)["results"][0] | {"score": 0} == {"rank": 1, "id": 103, "score": 0, "text": TEXTS[3],
                                                          "metadata": {"source": "pypi"}}
