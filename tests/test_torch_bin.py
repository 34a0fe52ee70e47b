"""pytorch_model.bin read without torch and without running pickle code."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

import minilm
from minilm.checkpoints.torch_bin import read_torch_bin
from minilm.errors import CheckpointError
from tinymodel import random_weights, write_tiny_model


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": _Evil(target)}, protocol=2))
    with pytest.raises(CheckpointError, match=r"refusing to load: the pickle asks for global '(os|posix)\.system'"):
        read_torch_bin(path)
    assert not target.exists()


def test_truncated_and_garbage_files(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.ones(3, 4)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="pytorch_model.bin: zip archive truncated or corrupt"):
        read_torch_bin(path)
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        read_torch_bin(path)
    torch.save({"w": torch.ones(3, 4)}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="pytorch_model.bin: truncated: storage"):
        read_torch_bin(path)


def test_truncated_pickle_inside_zip_and_non_tensor_content(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0] * 100}, protocol=2)[:40])
    with pytest.raises(CheckpointError, match="pytorch_model.bin: .*truncated or corrupt"):
        read_torch_bin(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(CheckpointError, match="holds a list, not a state dict"):
        read_torch_bin(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("nest", [None, "state_dict", "model"])
def test_round_trip_of_dtypes_views_and_shared_storage(tmp_path, legacy, nest):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {"f32": torch.randn(3, 5), "f16": torch.randn(7).half(), "i64": torch.arange(5),
             "bf16": torch.tensor([1.5, -2.25, 3.0], dtype=torch.bfloat16),
             "transposed": base.t(), "row": base[2], "column": base[:, 3], "scalar": torch.tensor(3.5),
             "bool": torch.tensor([True, False]), "i32": torch.arange(4, dtype=torch.int32),
             "empty": torch.zeros(0, 3), "param": torch.nn.Parameter(torch.randn(2, 2))}
    path = tmp_path / "pytorch_model.bin"
    torch.save(state if nest is None else {nest: state, "epoch": 3}, path, _use_new_zipfile_serialization=not legacy)
    got = read_torch_bin(path)
    assert set(got) == set(state)
    for name, tensor in state.items():
        expected = (tensor.detach().float() if tensor.dtype == torch.bfloat16 else tensor.detach()).numpy()
        assert got[name].dtype == expected.dtype and got[name].shape == expected.shape
        np.testing.assert_array_equal(got[name], expected)
        assert got[name].flags.c_contiguous


def test_model_folder_with_pytorch_bin_loads_like_safetensors(tmp_path):
    torch = pytest.importorskip("torch")
    weights = random_weights()
    reference = minilm.load(write_tiny_model(tmp_path / "st", weights), backend="numpy").encode(["hello world", "abc"])
    folder = write_tiny_model(tmp_path / "bin", weights)
    (folder / "model.safetensors").unlink()
    torch.save({"bert." + k: torch.from_numpy(v) for k, v in weights.items()}, folder / "pytorch_model.bin")
    got = minilm.load(folder, backend="numpy").encode(["hello world", "abc"])
    np.testing.assert_array_equal(got, reference)


def test_reader_works_with_torch_unimportable(tmp_path):
    import subprocess
    import sys
    torch = pytest.importorskip("torch")
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.arange(6.0).reshape(2, 3).t()}, path)
    code = ("import sys; sys.modules['torch'] = None\n"
            "from minilm.checkpoints.torch_bin import read_torch_bin\n"
            f"w = read_torch_bin(__import__('pathlib').Path({str(path)!r}))['w']\n"
            "assert w.tolist() == [[0, 3], [1, 4], [2, 5]], w")
    subprocess.run([sys.executable, "-c", code], check=True)
