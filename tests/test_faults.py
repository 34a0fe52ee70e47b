"""Fault injection: SIGKILL at random moments of `embed --output` (every format) and `index add`, and a
full disk under every writer.

Kills: each run is the real command in a subprocess on a tiny random model, killed after a delay
drawn from [0.2, 1] x the clean run's duration (seed: $MINILM_FAULT_SEED, default 20; the delays are in
every failure message), rerun to completion, and compared with a clean run: one row per input, in
order, equal values; an index is the old or the new one and passes `minilm index verify`.
Full disk: a 1 MiB tmpfs (mount needs root; skipped with the reason where it fails), filled, then
each writer must fail with exit 5 naming its file and saying the disk is full, leave the old file as
it was and no temporary behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tinymodel import write_tiny_model

from minilm.atomic import is_temp
from minilm.cli.main import main

SEED = int(os.environ.get("MINILM_FAULT_SEED", "20"))
KILLS = 3  # per command
TEXTS = [" ".join("abcdefghijklmnopqrstuvwxyz"[i % 11:i % 11 + 2 + i % 13]) + f" {i % 10}" for i in range(3000)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _run(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "minilm", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def _clean(*args) -> float:
    start = time.perf_counter()
    proc = _run(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return time.perf_counter() - start


def _killed(rng: random.Random, duration: float, *args) -> float:
    """Run ARGS, SIGKILL it after a random delay (or let it finish first); the delay."""
    delay = rng.uniform(0.2 * duration, duration)  # the first fifth is mostly start-up
    proc = _run(*args)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    return round(delay, 3)


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if is_temp(p.name) or p.name.endswith(".tmp")]


def _rows(path: Path):
    if path.suffix == ".npy":
        return None, np.load(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(path)
        assert table.column("index").to_pylist() == list(range(table.num_rows))
        return table.column("text").to_pylist(), np.asarray(table.column("embedding").to_pylist(), np.float32)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    return [r["text"] for r in rows], np.asarray([r["embedding"] for r in rows], np.float32)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".jsonl"])
def test_streamed_embed_killed_at_random_moments_resumes_to_the_clean_result(tmp_path, tiny, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    common = ["--model", tiny, "--input", src, "--chunk-size", 250, "--threads", 1]
    clean, out = tmp_path / f"clean{suffix}", tmp_path / f"out{suffix}"
    duration = _clean("embed", *common, "--output", clean)
    rng = random.Random(f"{SEED}{suffix}")
    delays = [_killed(rng, duration, "embed", *common, "--output", out) for _ in range(KILLS)]
    if out.exists():  # a kill landed after the end: run it again from nothing to test the resume at all
        out.unlink()
    _clean("embed", *common, "--output", out)
    texts, vectors = _rows(out)
    clean_texts, clean_vectors = _rows(clean)
    assert vectors.shape == (len(TEXTS), 16) and texts == clean_texts, f"kills after {delays} s"
    assert np.array_equal(vectors, clean_vectors), f"kills after {delays} s"
    assert not _temps(tmp_path) and not (tmp_path / f"out{suffix}.partial").exists(), f"kills after {delays} s"


@pytest.mark.parametrize("suffix", [".npy", ".jsonl"])
def test_embed_of_arguments_killed_leaves_the_old_file_or_the_new_one(tmp_path, tiny, suffix):
    out, new = tmp_path / f"out{suffix}", tmp_path / f"new{suffix}"
    assert main(["embed", "--model", str(tiny), "old text", "--output", str(out)]) == 0
    old = out.read_bytes()
    args = ["embed", "--model", tiny, "--threads", 1, *TEXTS[:1500], "--output"]
    duration = _clean(*args, new)
    rng = random.Random(f"{SEED}args{suffix}")
    for _ in range(KILLS):
        delay = _killed(rng, duration, *args, out)
        assert out.read_bytes() in (old, new.read_bytes()), f"kill after {delay} s"
        out.write_bytes(old)


def test_index_add_killed_at_random_moments_is_old_or_new(tmp_path, tiny):
    import shutil

    from minilm.search.index import Index
    base, index, after = tmp_path / "base", tmp_path / "idx", tmp_path / "after"
    (tmp_path / "base.txt").write_text("\n".join(TEXTS[2000:2100]) + "\n", encoding="utf-8")
    assert main(["index", "build", "--model", str(tiny), "--input", str(tmp_path / "base.txt"), "--out", str(base)]) == 0
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps({"id": f"n{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS[:2000])))
    shutil.copytree(base, after)
    add = ["--input", new, "--id-field", "id", "--chunk-size", 200, "--threads", 1]
    duration = _clean("index", "add", after, *add)
    rng = random.Random(f"{SEED}index")
    for _ in range(KILLS):
        shutil.rmtree(index, ignore_errors=True)
        shutil.copytree(base, index)
        delay = _killed(rng, duration, "index", "add", index, *add)
        count = len(Index.open(index))
        assert count in (100, 2100), f"kill after {delay} s: {count} rows"
        assert main(["index", "verify", str(index)]) == 0, f"kill after {delay} s"
        if count == 100:
            _clean("index", "add", index, *add)
        assert Index.open(index).ids() == Index.open(after).ids(), f"kill after {delay} s"


# -- a full disk under every writer ----------------------------------------------------------------------
class Disk:
    def __init__(self, root: Path):
        self.root = root

    def fill(self, leave: int = 0) -> None:
        """Fill the disk, then free LEAVE bytes."""
        fd = os.open(self.root / "filler", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(self.root / "filler", max(0, os.path.getsize(self.root / "filler") - leave))

    def free(self) -> None:
        (self.root / "filler").unlink(missing_ok=True)


@pytest.fixture()
def disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"a full disk needs a small tmpfs, and mount failed here ({done.stderr.strip() or 'not root'})")
    try:
        yield Disk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)


def _full(capsys, code: int, path: Path) -> str:
    err = capsys.readouterr().err
    assert code == 5, err
    assert "No space left on device (the disk is full: free some space, then run the command again)" in err, err
    assert str(path) in err and "requested and" not in err, err
    return err


WRITERS = {  # name: (the old file or folder it replaces, the command); {m} the model, {o} the output, {s} input
    "embed .npy": ("v.npy", ["embed", "--model", "{m}", *TEXTS[:800], "--output", "{o}"]),
    "embed .jsonl": ("v.jsonl", ["embed", "--model", "{m}", *TEXTS[:800], "--output", "{o}"]),
    "streamed .npy": ("s.npy", ["embed", "--model", "{m}", "--input", "{s}", "--output", "{o}"]),
    "streamed .parquet": ("s.parquet", ["embed", "--model", "{m}", "--input", "{s}", "--output", "{o}"]),
    "streamed .jsonl": ("s.jsonl", ["embed", "--model", "{m}", "--input", "{s}", "--output", "{o}"]),
    "export onnx": ("x/model.onnx", ["export", "--model", "{m}", "--out", "{o}"]),
    "export webnn": ("w", ["export", "--model", "{m}", "--format", "webnn", "--seq-len", "16", "--out", "{o}"]),
    "heatmap": ("h.png", ["similarity", "--model", "{m}", *TEXTS[:20], "--plot", "{o}"]),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_full_disk_keeps_the_old_file_and_names_it(tmp_path, tiny, disk, capsys, writer):
    if "parquet" in writer:
        pytest.importorskip("pyarrow")
    if writer == "heatmap":
        pytest.importorskip("matplotlib")
    name, command = WRITERS[writer]
    target = disk.root / name
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    if name == "w":
        target.mkdir()
        (target / "model.webnn").write_text("old")
    else:
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"old")
    before = {p.name: p.read_bytes() for p in disk.root.rglob("*") if p.is_file()}
    disk.fill()
    args = [a.format(m=tiny, o=target, s=src) for a in command]
    _full(capsys, main(args), target)
    disk.free()
    after = {p.name: p.read_bytes() for p in disk.root.rglob("*") if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "filler"} and not _temps(disk.root)


def test_a_full_disk_mid_job_keeps_finished_parts_and_resumes(tmp_path, tiny, disk, capsys):
    src, out, clean = tmp_path / "in.txt", disk.root / "v.npy", tmp_path / "clean.npy"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    args = ["embed", "--model", str(tiny), "--input", str(src), "--chunk-size", "300", "--output"]
    disk.fill(leave=100_000)  # room for a few parts of 300 x 16 floats (19 kB), not for all and the join
    err = _full(capsys, main(args + [str(out)]), disk.root / "v.npy.partial")
    parts = len(list((disk.root / "v.npy.partial").glob("part-*.npy")))
    assert 1 <= parts < 10 and f"the {parts} finished parts are kept in {disk.root / 'v.npy.partial'}" in err
    disk.free()
    assert main(args + [str(out)]) == 0
    assert f"resuming: {parts} parts ({parts * 300} texts) already done" in capsys.readouterr().err
    assert main(args + [str(clean)]) == 0
    assert np.array_equal(np.load(out), np.load(clean)) and not _temps(disk.root)


def test_a_full_disk_leaves_an_index_as_it_was(tmp_path, tiny, disk, capsys):
    from minilm.search.index import Index
    index, src = disk.root / "idx", tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    assert main(["index", "build", "--model", str(tiny), "--input", str(src), "--out", str(index)]) == 0
    before = Index.open(index).ids()
    disk.fill()
    _full(capsys, main(["index", "add", str(index), "--input", str(src)]), index)
    _full(capsys, main(["index", "build", "--model", str(tiny), "--input", str(src), "--out", str(disk.root / "new")]),
          disk.root / "new")
    disk.free()
    assert Index.open(index).ids() == before and not (disk.root / "new").exists()
    assert main(["index", "verify", str(index)]) == 0 and not _temps(disk.root)


def test_a_full_disk_under_webnn_run_outputs(tmp_path, disk, capsys):
    graph = tmp_path / "g.webnn"
    graph.write_text('webnn_graph "g" v1 {\n  inputs { x: f32[400, 100]; }\n  nodes { y = relu(x); }\n  outputs { y; }\n}\n')
    np.save(tmp_path / "x.npy", np.ones((400, 100), np.float32))
    out = disk.root / "out"
    out.mkdir()
    (out / "y.npy").write_bytes(b"old")
    disk.fill()
    _full(capsys, main(["webnn", "run", str(graph), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out)]), out)
    disk.free()
    assert (out / "y.npy").read_bytes() == b"old" and not _temps(disk.root)
