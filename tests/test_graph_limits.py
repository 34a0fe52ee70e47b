"""Graph files whose operands would not fit: refused when built, with the node named (exit 5), before any
allocation; `webnn run` checks free disk space before it runs; --max-bytes / max_bytes= raise the limit."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from collections import namedtuple

import numpy as np
import pytest

from minilm.cli.main import main
from minilm.errors import CheckpointError, GraphError
from minilm.graph.limits import DEFAULT_MAX_BYTES, nbytes
from minilm.webnn import files
from minilm.webnn.weights import read_manifest

EXPAND = """webnn_graph "big" v1 {
  inputs { x: f32[1, 1]; }
  nodes {
    y = expand(x, newShape=[1000000, 1000000]);
  }
  outputs { y; }
}
"""
SCALAR = """webnn_graph "big" v1 {
  inputs { x: f32[1]; }
  consts {
    c: f32[1000000000000] @scalar(1.0);
  }
  nodes { y = add(x, c); }
  outputs { y; }
}
"""
SYMBOLIC = """webnn_graph "wide" v1 {
  inputs { x: f32[batch, 1]; }
  nodes {
    y = expand(x, newShape=["batch", 1000000]);
  }
  outputs { y; }
}
"""
MEDIUM = """webnn_graph "medium" v1 {
  inputs { x: f32[1, 1]; }
  nodes { y = expand(x, newShape=[1000, 1000]); }
  outputs { y; }
}
"""


def write(tmp_path, text: str, name: str = "g.webnn"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_expand_to_4_tb_is_refused_at_check_with_the_node_named(tmp_path, capsys):
    path = write(tmp_path, EXPAND)
    assert main(["webnn", "check", str(path)]) == 5
    err = capsys.readouterr().err
    assert f"{path}:4:5: node 'y': the output of expand 'y' is float32[1000000, 1000000] = 3.6 TiB, above the limit " \
           "of 4.0 GiB for a graph's operands; raise it with --max-bytes N" in err
    with pytest.raises(GraphError, match="above the limit of 4.0 GiB"):
        files.load(path)


def test_a_huge_scalar_constant_is_refused_before_it_is_filled(tmp_path, capsys):
    path = write(tmp_path, SCALAR)
    tracemalloc.start()
    try:
        assert main(["webnn", "check", str(path)]) == 5
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20  # nothing near 3.6 TiB (nor 4 GiB) was allocated
    assert f"{path}:4:5: constant 'c' is float32[1000000000000] = 3.6 TiB, above the limit" in capsys.readouterr().err


def test_max_bytes_raises_and_lowers_the_limit(tmp_path, capsys):
    path = write(tmp_path, MEDIUM)  # 4 MB of output
    assert main(["webnn", "check", str(path), "--max-bytes", "1000000"]) == 5
    assert "the output of expand 'y' is float32[1000, 1000] = 3.8 MiB, above the limit of 976.6 KiB" in capsys.readouterr().err
    assert main(["webnn", "check", str(path), "--max-bytes", "5000000"]) == 0
    with pytest.raises(GraphError, match="above the limit of 976.6 KiB"):
        files.load(path, max_bytes=1_000_000)
    assert files.load(path, max_bytes=None).outputs == {"y": "y"}  # None: no limit
    for bad in ("0", "-5", "lots"):
        assert main(["webnn", "check", str(path), "--max-bytes", bad]) == 2
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        files.load(path, max_bytes=0)


def test_operands_are_counted_together(tmp_path, capsys):
    # two outputs of 3.8 MiB: each fits 6 MB, both do not
    path = write(tmp_path, MEDIUM.replace("y = expand(x, newShape=[1000, 1000]);",
                                          "y = expand(x, newShape=[1000, 1000]); z = relu(y);").replace("y; }", "y; z; }"))
    assert main(["webnn", "check", str(path), "--max-bytes", "6000000"]) == 5
    assert "the output of relu 'z' is float32[1000, 1000] = 3.8 MiB, 7.6 MiB with the operands alive beside it" in capsys.readouterr().err


def test_symbolic_dimensions_are_counted_when_the_feeds_bind_them(tmp_path, capsys):
    path = write(tmp_path, SYMBOLIC)
    assert main(["webnn", "check", str(path)]) == 0  # unknown until run
    np.save(tmp_path / "x.npy", np.zeros((5000, 1), np.float32))  # y would be 5000 x 1e6 x 4 bytes = 18.6 GiB
    out = tmp_path / "out"
    assert main(["webnn", "run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out)]) == 5
    assert "the output of expand 'y' is float32[5000, 1000000] = 18.6 GiB, above the limit" in capsys.readouterr().err
    assert not out.exists()
    np.save(tmp_path / "x.npy", np.ones((2, 1), np.float32))
    assert main(["webnn", "run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out)]) == 0
    assert np.load(out / "y.npy").shape == (2, 1000000)


def test_run_checks_free_disk_space_before_running(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, MEDIUM)
    np.save(tmp_path / "x.npy", np.ones((1, 1), np.float32))
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10 << 20, 9 << 20, 1 << 20))  # 1 MiB free
    out = tmp_path / "out"
    argv = ["webnn", "run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(out)]
    assert main(argv) == 5
    assert ("No space left on device (the disk is full: free some space, then run the command again); the outputs need "
            f"3.8 MiB, 1.0 MiB are free (or choose another --output-dir): {str(out)!r}") in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    monkeypatch.undo()
    assert main(argv) == 0 and sorted(p.name for p in out.iterdir()) == ["y.npy"]  # no temporary left


def test_byte_sizes_do_not_overflow(tmp_path):
    assert nbytes("float32", (1 << 32, 1 << 32)) == 1 << 66 and nbytes("int4", (3,)) == 2 and nbytes("float32", ("b", 2)) is None
    manifest = {"format": "wg-weights-manifest", "version": 1, "endianness": "little",
                "tensors": {"w": {"dataType": "float32", "shape": [1 << 32, 1 << 32], "byteOffset": 8, "byteLength": 0}}}
    (tmp_path / "m.json").write_text(json.dumps(manifest))  # int64 products wrapped to 0 and this was accepted
    with pytest.raises(CheckpointError, match="byteLength 0 != 73786976294838206464"):
        read_manifest(tmp_path / "m.json")
    assert DEFAULT_MAX_BYTES == 4 << 30
