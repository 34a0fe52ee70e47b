"""``minilm cache`` (cli/cache.py, runtime/cache_entries.py): the model cache's entries listed by kind, size and
last use; pruned by age and cleared, touching nothing but the cache's own files; a removed entry rebuilt."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import minilm
from minilm.cli.main import main
from minilm.runtime import cache_entries, model_cache

from tinymodel import write_tiny_model

DAY = 86400.0
K1, K2, K3, K4 = ("1" * 64, "2" * 64, "3" * 64, "4" * 64)


def _file(path, size, age_s=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder with an ONNX Runtime entry used today, an OpenVINO one unused for 40 days, a compiled image
    unused for 10, weights left without their model 2 hours ago, a writer's temporary folder 2 hours old and one
    just made, and files that are not the cache's."""
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "c"))
    models = tmp_path / "c" / "models"
    _file(models / f"{K1}.onnx", 100), _file(models / f"{K1}.data", 1000, 50 * DAY)
    _file(models / f"{K2}.xml", 10, 40 * DAY), _file(models / f"{K2}.bin", 500, 40 * DAY)
    _file(models / f"{K3}.blob", 300, 10 * DAY)
    _file(models / f"{K4}.data", 700, 7200)
    old_tmp, new_tmp = models / ".tmp-old", models / ".tmp-new"
    _file(old_tmp / "x.onnx", 50), _file(new_tmp / "y.onnx", 60)
    t = time.time() - 7200
    os.utime(old_tmp, (t, t))
    foreign = [_file(models / "README.txt", 5, 400 * DAY), _file(models / f"{'5' * 64}.json", 5, 400 * DAY),
               _file(tmp_path / "c" / "notes.txt", 5, 400 * DAY)]
    return models, foreign


def test_entries_by_kind_size_and_last_use(cache):
    models, _ = cache
    found = {e.key: e for e in cache_entries.entries()}
    assert set(found) == {K1, K2, K3, K4, ".tmp-old", ".tmp-new"}  # README.txt and the .json are not ours
    assert [found[k].kind for k in (K1, K2, K3, K4)] == ["onnxruntime", "openvino", "openvino image", "leftover"]
    assert found[K1].size == 1100 and found[K2].size == 510 and found[".tmp-new"].size == 60
    assert found[K1].last_used > time.time() - 60  # the newest of its files: the model, used today
    assert abs(found[K2].last_used - (time.time() - 40 * DAY)) < 60
    assert [e.key for e in cache_entries.entries()][0] == K2  # least recently used first


def test_a_lookup_hit_marks_the_entry_used(cache):
    models, _ = cache
    old = time.time() - 40 * DAY
    assert model_cache.lookup(K2, ".xml") == models / f"{K2}.xml"
    assert (models / f"{K2}.xml").stat().st_mtime > old + DAY
    removed, _ = cache_entries.prune(30 * DAY)
    assert K2 not in {e.key for e in removed}


def test_prune_removes_old_entries_and_stale_leftovers_only(cache):
    models, foreign = cache
    would, _ = cache_entries.prune(30 * DAY, dry_run=True)
    assert {e.key for e in would} == {K2, K4, ".tmp-old"}
    assert (models / f"{K2}.xml").exists()  # a dry run removes nothing
    removed, kept = cache_entries.prune(30 * DAY)
    assert {e.key for e in removed} == {K2, K4, ".tmp-old"} and {e.key for e in kept} == {K1, K3, ".tmp-new"}
    left = {p.name for p in models.iterdir()}
    assert left == {f"{K1}.onnx", f"{K1}.data", f"{K3}.blob", ".tmp-new", "README.txt", f"{'5' * 64}.json"}
    assert all(p.exists() for p in foreign)


def test_clear_keeps_a_writer_at_work_and_what_is_not_ours(cache):
    models, foreign = cache
    removed, kept = cache_entries.prune(0.0)
    assert {e.key for e in kept} == {".tmp-new"}  # a writer's folder under an hour old
    assert {p.name for p in models.iterdir()} == {".tmp-new", "README.txt", f"{'5' * 64}.json"}
    assert all(p.exists() for p in foreign)


def test_cli_info_prune_clear(cache, capsys):
    models, _ = cache
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"folder:     {models.parent}\n" in out and "entries:    6, 2.7 kB" in out
    assert "  onnxruntime:        1  1.1 kB" in out and "  leftover:           3  810 B" in out
    assert main(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["entries"] == 6 and info["kinds"]["openvino"] == {"entries": 1, "bytes": 510}
    assert main(["cache", "prune", "--older-than", "30", "--dry-run"]) == 0
    assert capsys.readouterr().out == "would remove 3 entries (1.3 kB) unused for 30 days or more; kept 3 (1.5 kB)\n"
    assert main(["cache", "prune", "--older-than", "5"]) == 0
    assert capsys.readouterr().out == "removed 4 entries (1.6 kB) unused for 5 days or more; kept 2 (1.2 kB)\n"
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out == "removed 1 entry (1.1 kB); kept 1 (60 B)\n"


def test_cli_errors_and_cache_off(tmp_path, monkeypatch, capsys):
    assert main(["cache", "prune", "--older-than", "-1"]) == 2
    assert "argument --older-than: expected a number of days >= 0, got '-1'" in capsys.readouterr().err
    assert main(["cache", "prune", "--older-than", "a week"]) == 2
    assert "argument --older-than: expected a number of days, got 'a week'" in capsys.readouterr().err
    monkeypatch.setenv("MINILM_CACHE_DIR", "off")
    for command in (["cache"], ["cache", "prune"], ["cache", "clear"]):
        assert main(command) == 0
        assert capsys.readouterr().out == "the model cache is off (MINILM_CACHE_DIR=off): nothing is cached\n"
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "new"))
    assert main(["cache"]) == 0
    assert capsys.readouterr().out.startswith(f"folder:     {tmp_path / 'new'} (not created yet)\nentries:    0, 0 B\n")


def test_a_cleared_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "c"))
    folder = write_tiny_model(tmp_path / "m")
    model = minilm.load(folder, threads=1)
    want = model.encode(["hello world", "a cat"])
    assert [e.kind for e in cache_entries.entries()] == ["onnxruntime"]
    removed, _ = cache_entries.prune(0.0)
    assert len(removed) == 1 and not list((tmp_path / "c" / "models").iterdir())
    assert np.array_equal(model.encode(["hello world", "a cat"]), want)  # a loaded model keeps running
    assert np.array_equal(minilm.load(folder, threads=1).encode(["hello world", "a cat"]), want)
    assert [e.kind for e in cache_entries.entries()] == ["onnxruntime"]  # written again
