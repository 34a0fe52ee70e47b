"""Streaming `minilm embed --input --output`: formats, input readers, kill-and-resume, refusing mixed runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cosine_rows

from minilm.cli.main import main
from minilm.errors import InputError
from minilm.jobs.stream import embed_file
from minilm.jobs.textfiles import count_texts, iter_texts

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench-corpus" / "short.jsonl"


def corpus(n: int) -> list[str]:
    if CORPUS.exists():
        texts = [json.loads(line)["text"].replace("\n", " ").replace("\r", " ") for line in CORPUS.open(encoding="utf-8")]
    else:  # the shared corpus is beside the repository on our machines; made-up texts elsewhere
        texts = [f"text number {i} about {'cats' if i % 2 else 'the weather'}" for i in range(n)]
    return texts[:n]


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".jsonl"])
def test_file_to_file_equals_encode(tmp_path, ort_embedder, suffix):
    pytest.importorskip("pyarrow") if suffix == ".parquet" else None
    texts = corpus(230) + ["", "  spaced  "]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    assert embed_file(ort_embedder, str(src), out, chunk_size=50) == len(texts)
    assert not (tmp_path / f"out{suffix}.partial").exists()
    if suffix == ".npy":
        vectors, got_texts = np.load(out), texts
    elif suffix == ".parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(out)
        assert table.column("index").to_pylist() == list(range(len(texts)))
        vectors, got_texts = np.asarray(table.column("embedding").to_pylist(), np.float32), table.column("text").to_pylist()
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [r["index"] for r in rows] == list(range(len(texts)))
        vectors, got_texts = np.asarray([r["embedding"] for r in rows], np.float32), [r["text"] for r in rows]
    assert got_texts == texts
    assert cosine_rows(vectors, ort_embedder.encode(texts)).min() > 0.999999


def test_readers_csv_tsv_parquet_and_errors(tmp_path):
    (tmp_path / "a.csv").write_text('id,body\n1,"hello, world"\n2,"multi\nline"\n3,\n', encoding="utf-8")
    assert list(iter_texts(str(tmp_path / "a.csv"), column="body")) == ["hello, world", "multi\nline", ""]
    with pytest.raises(InputError, match="no column 'text' in the header \\['id', 'body'\\]; choose one with --column"):
        list(iter_texts(str(tmp_path / "a.csv")))
    (tmp_path / "a.tsv").write_text("text\tx\nfirst\t1\n", encoding="utf-8")
    assert list(iter_texts(str(tmp_path / "a.tsv"))) == ["first"]
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfone\r\n\ntwo")
    assert list(iter_texts(str(tmp_path / "a.txt"))) == ["one", "", "two"] and count_texts(str(tmp_path / "a.txt")) == 3
    (tmp_path / "b.txt").write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(InputError, match="line 2 is not valid UTF-8 \\(byte 5 of the line is 0xff\\)"):
        list(iter_texts(str(tmp_path / "b.txt")))
    with pytest.raises(InputError, match="--column applies to .csv and .parquet"):
        iter_texts(str(tmp_path / "a.txt"), column="x")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"t": ["x", None, "z"], "n": [1, 2, 3]}), tmp_path / "a.parquet")
    assert list(iter_texts(str(tmp_path / "a.parquet"), column="t")) == ["x", "", "z"]
    assert count_texts(str(tmp_path / "a.parquet")) == 3
    with pytest.raises(InputError, match="column 'n' holds int"):
        list(iter_texts(str(tmp_path / "a.parquet"), column="n"))
    (tmp_path / "c.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(iter_texts(str(tmp_path / "c.parquet")))


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
# `minilm ARGS...` that SIGKILLs itself when a file named PART is renamed into place ("after"), or just
# before ("before": its temporary is written): a kill from outside at a known point, not after a delay
KILLED_AT_PART = """
import os, signal, sys
from pathlib import Path
part, when, real = sys.argv[1], sys.argv[2], os.replace
def replace(src, dst, *args, **kwargs):
    if Path(dst).name == part and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst, *args, **kwargs)
    if Path(dst).name == part:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from minilm.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def _embed(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "minilm", "embed", *args], env=ENV, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize("when, done", [("after", 3), ("before", 2)])
def test_kill_and_resume(tmp_path, ort_embedder, when, done):
    texts = corpus(1500)
    src, out = tmp_path / "in.txt", tmp_path / "out.npy"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    args = ["--input", str(src), "--output", str(out), "--chunk-size", "100", "--threads", "1"]
    first = subprocess.run([sys.executable, "-c", KILLED_AT_PART, "part-000002.npy", when, "embed", *args], env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert not out.exists()  # nothing half-written where the result goes
    partial = tmp_path / "out.npy.partial"
    assert sorted(p.name for p in partial.glob("part-*.npy")) == [f"part-{i:06d}.npy" for i in range(done)]
    second = _embed(*args)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert f"resuming: {done} parts ({done * 100} texts) already done" in err
    assert not partial.exists()
    vectors = np.load(out)
    assert vectors.shape == (len(texts), 384)
    assert cosine_rows(vectors, ort_embedder.encode(texts)).min() > 0.999999


def test_a_changed_input_is_not_mixed_with_old_parts(tmp_path, ort_embedder, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.npy"
    src.write_text("a\nb\nc\n")
    partial = tmp_path / "out.npy.partial"
    partial.mkdir()
    (partial / "job.json").write_text(json.dumps({"input": "elsewhere"}))
    assert main(["embed", "--input", str(src), "--output", str(out)]) == 5
    err = capsys.readouterr().err
    assert "holds an unfinished run made with other settings (input elsewhere -> " in err and "--restart" in err
    assert main(["embed", "--input", str(src), "--output", str(out), "--restart"]) == 0
    assert np.load(out).shape == (3, 384) and not partial.exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["embed", "--input", str(empty), "--output", str(tmp_path / "e.npy")]) == 5
    assert "no texts in it" in capsys.readouterr().err
