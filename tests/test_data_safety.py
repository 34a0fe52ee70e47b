"""Data on disk: resume refuses other settings, every output is written atomically, empty input writes
nothing, symlinks are followed and special files refused, an index reuses the settings it was built with.

Most tests run the real command (minilm.cli.main) on a tiny random model, so they are quick.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from tinymodel import CONFIG as TINY
from tinymodel import random_weights, write_tiny_model

import minilm
from minilm import atomic
from minilm.cli import embed as embed_command
from minilm.cli.main import main
from minilm.errors import InputError, SearchIndexError
from minilm.jobs import stream
from minilm.search.index import Index

CONFIG = dict(TINY, max_position_embeddings=128)  # int8's calibration runs 60-token texts
TEXTS = [" ".join("abcdefghijklmnopqrstuvwxyz"[i % 7:i % 7 + 3 + i % 20]) for i in range(40)]  # 3-22 tokens


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "model", config=CONFIG)


def embed(tiny, *args) -> int:
    return main(["embed", "--model", str(tiny), *map(str, args)])


@pytest.fixture()
def src(tmp_path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return path


def _kill_before_join(monkeypatch):
    """The job stops after its last part, before joining (as a kill there would)."""
    def stop(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(stream, "_join", stop)


# -- item 1: resume records every setting that changes a vector --------------------------------------------
def _other_tokenizer(tmp_path, tiny) -> Path:
    folder = tmp_path / "other-tokenizer"
    folder.mkdir()
    vocab = (tiny / "vocab.txt").read_text().splitlines()
    (folder / "vocab.txt").write_text("\n".join(vocab[:5] + vocab[5:][::-1]) + "\n")  # letters map to other ids
    return folder


@pytest.mark.parametrize("change, expected", [
    (["--max-length", "8"], "max_length 128 -> 8"),
    (["--normalize"], "normalize False -> True"),
    (["--output-kind", "pooler_output"], "output sentence_embedding -> pooler_output"),
    (["--backend", "numpy"], "backend onnxruntime -> numpy"),
    (["--int8"], "options {} -> {'quantize': 'int8'}"),
    (["--tokenizer", "OTHER"], "tokenizer "),
])
def test_resume_refuses_a_run_with_other_settings(tmp_path, tiny, src, monkeypatch, capsys, change, expected):
    out = tmp_path / "v.npy"
    with monkeypatch.context() as m:
        _kill_before_join(m)
        assert embed(tiny, "--input", src, "--output", out, "--chunk-size", 10) == 130
    assert len(list((tmp_path / "v.npy.partial").glob("part-*.npy"))) == 4
    change = [str(_other_tokenizer(tmp_path, tiny)) if a == "OTHER" else a for a in change]
    capsys.readouterr()
    assert embed(tiny, "--input", src, "--output", out, "--chunk-size", 10, *change) == 5
    err = capsys.readouterr().err
    assert "v.npy.partial holds an unfinished run made with other settings (" in err and expected in err
    assert "Rerun with --restart to discard it and start over" in err and not out.exists()
    assert embed(tiny, "--input", src, "--output", out, "--chunk-size", 10, *change, "--restart") == 0
    clean = tmp_path / "clean.npy"
    assert embed(tiny, "--input", src, "--output", clean, "--chunk-size", 10, *change) == 0
    assert np.array_equal(np.load(out), np.load(clean))  # nothing of the first run's vectors


def test_resume_refuses_changed_weights_at_the_same_path(tmp_path, src, monkeypatch, capsys):
    model = write_tiny_model(tmp_path / "model", config=CONFIG)
    out = tmp_path / "v.npy"
    with monkeypatch.context() as m:
        _kill_before_join(m)
        assert embed(model, "--input", src, "--output", out, "--chunk-size", 10) == 130
    write_tiny_model(model, random_weights(CONFIG, seed=1), CONFIG)  # fine-tuned in place, say
    assert embed(model, "--input", src, "--output", out, "--chunk-size", 10) == 5
    assert "other settings (weights " in capsys.readouterr().err


def test_resume_with_the_same_settings_goes_on(tmp_path, tiny, src, monkeypatch, capsys):
    out, clean = tmp_path / "v.npy", tmp_path / "clean.npy"
    with monkeypatch.context() as m:
        _kill_before_join(m)
        assert embed(tiny, "--input", src, "--output", out, "--chunk-size", 10, "--max-length", 8) == 130
    assert embed(tiny, "--input", src, "--output", out, "--chunk-size", 10, "--max-length", 8) == 0
    assert "resuming: 4 parts (40 texts) already done" in capsys.readouterr().err
    assert embed(tiny, "--input", src, "--output", clean, "--chunk-size", 10, "--max-length", 8) == 0
    assert np.array_equal(np.load(out), np.load(clean))


# -- item 2: atomic writes ---------------------------------------------------------------------------------
def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "y.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic.atomic_write(target, "w") as f:
            f.write("new, partial")
            raise RuntimeError("half way")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["y.jsonl"]
    with atomic.atomic_write(target, "w") as f:
        f.write("new\n")
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["y.jsonl"]


def test_a_short_write_is_reported_as_a_full_disk_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda folder: shutil._ntuple_diskusage(10**9, 10**9, 4096))
    target = tmp_path / "v.npy"
    with pytest.raises(OSError) as caught:
        with atomic.atomic_write(target):
            raise OSError("76800 requested and 15328 written")  # numpy's tofile on a full disk: no errno, no path
    assert caught.value.errno == 28 and caught.value.filename == str(target)
    assert "No space left on device (the disk is full" in caught.value.strerror and os.listdir(tmp_path) == []


def test_output_folder_is_refused_before_any_work_and_leaves_nothing(tmp_path, tiny, src, capsys):
    folder = tmp_path / "vectors"
    folder.mkdir()
    for args in (["--input", src], ["a b", "c d"]):
        assert embed(tiny, *args, "--output", folder) == 5
        assert f"{folder} is a folder; give a file name inside it" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["in.txt", "vectors"] and os.listdir(folder) == []


def test_a_second_run_that_fails_keeps_the_first_output(tmp_path, tiny, monkeypatch, capsys):
    out = tmp_path / "y.jsonl"
    assert embed(tiny, "a b", "c d", "--output", out) == 0
    first = out.read_bytes()

    class FullAfter50:  # the disk fills while row 50 is written
        @staticmethod
        def dumps(row, **kwargs):
            if row["index"] == 50:
                raise OSError(28, "No space left on device")
            return json.dumps(row, **kwargs)
    monkeypatch.setattr(embed_command, "json", FullAfter50)
    assert embed(tiny, *[f"text {i}" for i in range(100)], "--output", out) == 5
    assert f"the disk is full: free some space, then run the command again): '{out}'" in capsys.readouterr().err
    assert out.read_bytes() == first and os.listdir(tmp_path) == ["y.jsonl"]


# -- item 4: empty input writes nothing ----------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".jsonl"])
def test_empty_input_writes_nothing(tmp_path, tiny, capsys, suffix):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / f"e{suffix}"
    assert embed(tiny, "--input", empty, "--output", out) == 5
    assert f"{empty}: no texts in it; nothing written" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["empty.txt"]


# -- item 5: symlinks followed, special files refused ---------------------------------------------------------
@pytest.mark.parametrize("streamed", [True, False])
def test_a_symlink_output_writes_its_target(tmp_path, tiny, src, streamed):
    target, link = tmp_path / "real" / "v.npy", tmp_path / "v.npy"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link.symlink_to(target)
    args = ["--input", src] if streamed else TEXTS
    assert embed(tiny, *args, "--output", link) == 0
    assert link.is_symlink() and np.load(target).shape == (len(TEXTS), 16)
    assert sorted(os.listdir(target.parent)) == ["v.npy"]


def _special_files(tmp_path) -> list[tuple[Path, str]]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    found = [(fifo, "FIFO (named pipe)")]
    if os.geteuid() == 0:  # a character device like /dev/null (only root may make one)
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        found.append((tmp_path / "null", "character device"))
    return found


def test_special_files_are_refused_and_left_alone(tmp_path, tiny, src, capsys):
    for path, kind in _special_files(tmp_path):
        mode = path.stat().st_mode
        for args in (["--input", src], ["a b"]):
            assert embed(tiny, *args, "--output", path) == 5
            err = capsys.readouterr().err
            assert f"{path} is a {kind}, not a regular file" in err and "give the path of a regular file" in err
        assert path.stat().st_mode == mode
    with pytest.raises(InputError, match="is a FIFO"):
        atomic.output_file(tmp_path / "fifo")


# -- item 6: an index reuses the settings its vectors were made with -----------------------------------------
def test_an_index_reopens_with_its_max_length_and_refuses_others(tmp_path, tiny, capsys):
    path = tmp_path / "idx"
    Index.build(path, TEXTS, embedder=minilm.load(str(tiny), max_length=8))
    assert Index.open(path).embedder.max_length == 8
    assert main(["search", str(path), TEXTS[5], "-k", "1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["results"][0]
    assert found["text"] == TEXTS[5] and found["score"] > 0.9999
    assert main(["search", str(path), "a b", "--max-length", "16"]) == 8
    err = capsys.readouterr().err
    assert "its vectors were made with other settings than the model given (max_length 8 -> 16)" in err
    with pytest.raises(SearchIndexError, match=r"max_length 8 -> 128"):
        Index.open(path, minilm.load(str(tiny)))


def test_an_index_refuses_another_model_of_the_same_dim(tmp_path, tiny, capsys):
    other = write_tiny_model(tmp_path / "other", random_weights(CONFIG, seed=3), CONFIG)
    path = tmp_path / "idx"
    Index.build(path, TEXTS[:5], embedder=minilm.load(str(tiny)))
    (tmp_path / "more.txt").write_text("x y\n")
    assert main(["index", "add", str(path), "--input", str(tmp_path / "more.txt"), "--model", str(other)]) == 8
    assert "other settings than the model given (weights " in capsys.readouterr().err
    assert len(Index.open(path)) == 5
