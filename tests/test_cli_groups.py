"""minilm dedup and minilm cluster: outputs on small inputs, saved vectors, and bad input with its exit code."""

from __future__ import annotations

import json

import numpy as np
import pytest

from minilm.cli.main import main

TEXTS = ["Add your description here", "A small example package", "Add your description here",
         "A small example package.", "Gaussian distributions", "add your description here"]  # uncased: 5 embeds as 0


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    return str(path)


def test_dedup_pairs_and_groups(capsys, corpus, ort_embedder):
    code, out, err = run(capsys, "dedup", "--input", corpus, "--field", "body", "--threshold", "0.95", "--json")
    pairs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(p["i"], p["j"]) for p in pairs] == [(0, 2), (0, 5), (1, 3), (2, 5)]
    assert pairs[0]["text_i"] == pairs[0]["text_j"] == TEXTS[0] and pairs[0]["score"] == pytest.approx(1, abs=1e-6)
    vectors = ort_embedder.encode(TEXTS)
    assert pairs[2]["score"] == pytest.approx(float(vectors[1] @ vectors[3]), abs=1e-5)
    assert "4 pairs with cosine >= 0.95 among 6 texts" in err
    code, out, err = run(capsys, "dedup", "--input", corpus, "--field", "body", "--threshold", "0.95", "--groups")
    assert code == 0 and out.splitlines()[0] == "group 1: 3 texts, representative #0 Add your description here"
    assert "group 2: 2 texts, representative #1 A small example package" in out
    assert "2 groups (5 texts)" in err
    code, out, _ = run(capsys, "dedup", "--input", corpus, "--field", "body", "--threshold", "0.95")
    assert out.splitlines()[1].startswith("1.0000       0      2  Add your description here  |  Add your")


def test_cluster_prints_central_text(capsys, corpus, ort_embedder, tmp_path):
    code, out, err = run(capsys, "cluster", "--input", corpus, "--field", "body", "--threshold", "0.9", "--min-size", "2",
                         "--json")
    found = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [sorted(m["index"] for m in c["members"]) for c in found] == [[0, 2, 5], [1, 3]]
    assert found[0]["central"] in (0, 2, 5) and "2 clusters (threshold 0.9, min size 2) cover 5 of 6 texts" in err
    np.save(tmp_path / "v.npy", ort_embedder.encode(TEXTS))  # saved vectors: the same answer without the model
    code, out2, _ = run(capsys, "cluster", "--input", corpus, "--field", "body", "--threshold", "0.9", "--min-size", "2",
                        "--json", "--vectors", str(tmp_path / "v.npy"))
    assert code == 0 and out2 == out
    code, out, _ = run(capsys, "cluster", *TEXTS, "--threshold", "0.9", "--min-size", "2", "--show", "1")
    assert out.splitlines()[0].startswith("cluster 1: 3 texts, central #")
    assert out.splitlines()[2] == "  ... and 1 more"


@pytest.mark.parametrize("argv,code,message", [
    (["dedup", "a", "b", "--threshold", "1.5"], 2, "expected a cosine similarity from -1 to 1, got '1.5'"),
    (["cluster", "a", "b", "--min-size", "0"], 2, "expected a positive integer, got '0'"),
    (["dedup"], 2, "no texts: give them as arguments or with --input FILE"),
])
def test_usage_errors(capsys, argv, code, message):
    got, _, err = run(capsys, *argv)
    assert got == code and message in err


def test_bad_vectors_file(capsys, corpus, tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((2, 384), np.float32))
    code, _, err = run(capsys, "dedup", "--input", corpus, "--field", "body", "--vectors", str(tmp_path / "v.npy"))
    assert code == 5 and "has shape [2, 384] but the input has 6 texts; re-embed with minilm embed" in err
    (tmp_path / "bad.npy").write_text("not numpy")
    code, _, err = run(capsys, "cluster", "--input", corpus, "--field", "body", "--vectors", str(tmp_path / "bad.npy"))
    assert code == 5 and "is not a .npy array; write one with minilm embed --input FILE --output" in err
    code, _, err = run(capsys, "cluster", "--input", corpus, "--field", "body", "--vectors", str(tmp_path / "none.npy"))
    assert code == 5 and "No such file or directory" in err
