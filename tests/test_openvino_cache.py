"""The OpenVINO executor's cache (runtime/openvino_exec.py, runtime/model_cache.py): its key follows the
weights, the graph, the lowering code, OpenVINO's version and the precision (the compiled image's also the
threads and the CPU); a rewritten weights file gets a new entry; a corrupt entry, or a compiled image cut
short or altered, is found and rebuilt; both compiled forms come from one mapped image; and OpenVINO is
imported without its converter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import minilm
from minilm.config import BertConfig
from minilm.models import bert
from minilm.runtime import model_cache, precision as prec

from tinymodel import CONFIG, random_weights, write_tiny_model

pytestmark = pytest.mark.skipif(not prec.engine_installed(),
                                reason="could not import 'openvino' (pip install 'minilm[openvino]')")
CFG = BertConfig(**{k: v for k, v in CONFIG.items() if k != "model_type"})


def _graph(seed=0, pooling="mean"):
    return bert.build(CFG, random_weights(CONFIG, seed), pooling, True, outputs=("sentence_embedding",))


def test_openvino_key_follows_weights_graph_code_version_and_precision(monkeypatch):
    from minilm.runtime.openvino_exec import cache_key
    base = cache_key(_graph(), "bf16", "2026.4.1")
    assert cache_key(_graph(), "bf16", "2026.4.1") == base          # the same inputs: the same entry
    assert cache_key(_graph(seed=1), "bf16", "2026.4.1") != base    # other weights
    assert cache_key(_graph(pooling="cls"), "bf16", "2026.4.1") != base  # another graph
    assert cache_key(_graph(), "fp32", "2026.4.1") != base          # another precision (float16 weights or not)
    assert cache_key(_graph(), "bf16", "2026.3.0") != base          # another OpenVINO
    monkeypatch.setattr(model_cache, "_code_version", lambda: b"edited lowering")
    assert cache_key(_graph(), "bf16", "2026.4.1") != base          # edited lowering or executor code


def _entries(cache, suffix):
    return sorted((cache / "models").glob(f"*{suffix}"))


def test_rewritten_weights_file_gets_a_new_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    before = minilm.load(folder, precision="bf16", threads=1).encode("hello world")
    assert minilm.load(folder, precision="bf16", threads=1).encode("hello world").tolist() == before.tolist()
    assert len(_entries(tmp_path / "cache", ".xml")) == 1
    write_tiny_model(folder, random_weights(CONFIG, seed=5))  # same path, new weights: its identity changes
    after = minilm.load(folder, precision="bf16", threads=1).encode("hello world")
    assert not np.allclose(after, before, atol=1e-2)
    assert len(_entries(tmp_path / "cache", ".xml")) == 2


def _mappings(suffixes):
    """The files with these suffixes this process has mapped, one entry per mapping."""
    with open("/proc/self/maps") as f:
        return [line.split()[-1] for line in f if line.rstrip().endswith(suffixes)]


def test_both_forms_are_imported_from_one_mapped_image(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    minilm.load(folder, precision="bf16", threads=2).encode("hello world")  # fills the cache
    model = minilm.load(folder, precision="bf16", threads=2)
    one, many = model.encode("hello world"), model.encode(["hello world", "a cat", "the mat"] * 20, batch_size=2)
    (executor,) = model._executors.values()
    assert set(executor._compiled) == {"LATENCY", "THROUGHPUT"}
    (image,) = _entries(tmp_path / "cache", ".blob")
    assert isinstance(executor._image, np.memmap) and str(executor._image.filename) == str(image)
    if sys.platform.startswith("linux"):  # the image mapped once, and no model weights (.bin) mapped beside it
        assert _mappings((".blob", ".bin")) == [str(image)]
    assert float(one @ many[0]) >= 0.9999


def test_image_key_follows_the_model_the_threads_and_the_cpu(monkeypatch):
    from minilm.runtime import openvino_exec
    base = openvino_exec.image_key(_graph(), "bf16", "2026.4.1", 2)
    assert openvino_exec.image_key(_graph(), "bf16", "2026.4.1", 2) == base
    assert openvino_exec.image_key(_graph(seed=1), "bf16", "2026.4.1", 2) != base
    assert openvino_exec.image_key(_graph(), "bf16", "2026.4.1", 1) != base
    monkeypatch.setattr(openvino_exec.openvino_image, "cpu_identity", lambda: "AMD EPYC|fpu avx2|x86_64")  # same name, other flags
    assert openvino_exec.image_key(_graph(), "bf16", "2026.4.1", 2) != base


@pytest.mark.parametrize("damage", ["cut", "flipped", "trailer", "foreign"])
def test_a_damaged_image_is_found_and_rebuilt(tmp_path, monkeypatch, caplog, damage):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    want = minilm.load(folder, precision="bf16", threads=1).encode("hello world")
    (image,) = _entries(tmp_path / "cache", ".blob")
    good = image.read_bytes()
    if damage == "cut":  # a writer killed mid-way
        image.write_bytes(good[: len(good) // 2])
    elif damage == "flipped":  # one bit of the compiled model (its weights) changed on disk
        middle = len(good) // 2
        image.write_bytes(good[:middle] + bytes([good[middle] ^ 0x10]) + good[middle + 1:])
    elif damage == "trailer":  # not an image of ours
        image.write_bytes(good[:-16] + b"\0" * 16)
    else:  # its check passes but OpenVINO cannot import it (another build of its plugin wrote it)
        from minilm.runtime import openvino_image
        openvino_image.write(image, b"not a compiled model" * 100)
    with caplog.at_level("WARNING", logger="minilm.cache"):
        assert minilm.load(folder, precision="bf16", threads=1).encode("hello world").tolist() == want.tolist()
    assert f"cache entry {image} could not be loaded: removed, the model is rebuilt" in caplog.text
    from minilm.runtime import openvino_image
    assert openvino_image.read(image) is not None  # found damaged, discarded and written again


def test_corrupt_weights_of_an_entry_are_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    want = minilm.load(folder, precision="bf16", threads=1).encode("hello world")
    (image,) = _entries(tmp_path / "cache", ".blob")
    image.unlink()  # no image: it is compiled again from the entry
    (bin_file,) = _entries(tmp_path / "cache", ".bin")
    bin_file.write_bytes(bin_file.read_bytes()[:100])  # its weights cut short
    assert minilm.load(folder, precision="bf16", threads=1).encode("hello world").tolist() == want.tolist()
    assert bin_file.stat().st_size > 100  # discarded and written again


def test_cache_off_compiles_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    want = minilm.load(folder, precision="bf16", threads=2).encode(["hello world", "a cat"])
    monkeypatch.setenv("MINILM_CACHE_DIR", "off")
    model = minilm.load(folder, precision="bf16", threads=2)
    got = model.encode(["hello world", "a cat"])
    (executor,) = model._executors.values()
    assert not isinstance(executor._image, np.memmap)
    assert np.abs(got - want).max() <= 1e-6


def test_openvino_is_imported_without_its_converter():
    code = ("import sys; from minilm.runtime.openvino_exec import _openvino; ov = _openvino()\n"
            "assert 'openvino.tools.ovc' not in sys.modules, 'converter imported'\n"
            "assert 'openvino_telemetry' not in sys.modules, 'telemetry imported'\n"
            "assert sys.modules.get('openvino.tools.ovc', 0) is not None\n"
            "try:\n    ov.convert_model(42)\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
            "assert 'openvino.tools.ovc' in sys.modules, 'convert_model did not import the converter'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
