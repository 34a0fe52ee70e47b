"""The OpenVINO executor's cache (runtime/openvino_exec.py, runtime/model_cache.py): its key follows the
weights, the graph, the lowering code, OpenVINO's version and the precision; a rewritten weights file, a
corrupt entry or a truncated compiled blob is rebuilt; and OpenVINO is imported without its converter."""

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


def test_corrupt_weights_of_an_entry_and_truncated_blobs_are_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    want = minilm.load(folder, precision="bf16", threads=1).encode("hello world")
    blob = next((tmp_path / "cache" / "openvino").glob("*.blob"))
    size = blob.stat().st_size
    blob.chmod(0o644)
    with open(blob, "r+b") as f:  # a compiled blob cut short (a writer killed mid-way)
        f.truncate(size // 2)
    assert minilm.load(folder, precision="bf16", threads=1).encode("hello world").tolist() == want.tolist()
    assert blob.stat().st_size == size  # OpenVINO found it short and wrote it again
    for path in (tmp_path / "cache" / "openvino").glob("*.blob"):
        path.chmod(0o644)
        path.unlink()  # no blob: our entry itself is compiled
    (bin_file,) = _entries(tmp_path / "cache", ".bin")
    bin_file.write_bytes(bin_file.read_bytes()[:100])  # its weights cut short
    assert minilm.load(folder, precision="bf16", threads=1).encode("hello world").tolist() == want.tolist()
    assert bin_file.stat().st_size > 100  # discarded and written again


def test_openvino_is_imported_without_its_converter():
    code = ("import sys; from minilm.runtime.openvino_exec import _openvino; ov = _openvino()\n"
            "assert 'openvino.tools.ovc' not in sys.modules, 'converter imported'\n"
            "assert 'openvino_telemetry' not in sys.modules, 'telemetry imported'\n"
            "assert sys.modules.get('openvino.tools.ovc', 0) is not None\n"
            "try:\n    ov.convert_model(42)\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
            "assert 'openvino.tools.ovc' in sys.modules, 'convert_model did not import the converter'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
