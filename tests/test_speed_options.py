"""The speed options of the ONNX Runtime path: fused lowering, int8, the model cache, token-budget
batches and concurrent runs. Each must keep the answers (measured speed: docs/notes/performance.md)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import minilm
from minilm.batching import batches as token_batches
from minilm.errors import BackendError
from minilm.models import bert
from minilm.runtime import make_executor, model_cache
from minilm.runtime.lowering import to_onnx
from minilm.config import BertConfig

from conftest import load_golden
from tinymodel import CONFIG, random_weights, write_tiny_model

CFG = BertConfig(**{k: v for k, v in CONFIG.items() if k != "model_type"})
IDS = np.array([[2, 31, 32, 3, 0, 0], [2, 7, 8, 9, 10, 3]], np.int64)
FEEDS = {"input_ids": IDS, "attention_mask": (np.arange(6) < np.array([[4], [6]])).astype(np.int64),
         "token_type_ids": np.zeros_like(IDS)}


def _graph(seed=0):
    return bert.build(CFG, random_weights(CONFIG, seed), "mean", True, outputs=("sentence_embedding", "token_embeddings"))


def test_fused_lowering_uses_contrib_ops_and_matches_the_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", "off")
    graph = _graph()
    ops = [n.op_type for n in to_onnx(graph, fuse=True).graph.node]
    assert ops.count("Attention") == CFG.num_hidden_layers
    assert "SkipLayerNormalization" not in ops  # slower on CPU than Add + LayerNormalization (runtime/fusion.py)
    assert ops.count("LayerNormalization") == 2 * CFG.num_hidden_layers + 1
    assert "Softmax" not in ops
    ref = make_executor("numpy", graph).run(FEEDS)
    for fuse in (True, False):
        got = make_executor("onnxruntime", graph, threads=1, fuse=fuse).run(FEEDS)
        for name in ref:
            np.testing.assert_allclose(got[name], ref[name], atol=1e-5, err_msg=f"fuse={fuse} {name}")


def test_a_graph_without_the_patterns_lowers_as_before():
    from minilm.graph import GraphBuilder
    g = GraphBuilder("plain")
    x = g.input("x", "float32", [2, 3])
    graph = g.build({"y": g.softmax(g.matmul(x, g.constant(np.eye(3, dtype=np.float32))), axis=1)})
    assert to_onnx(graph, fuse=True).SerializeToString() == to_onnx(graph).SerializeToString()


def test_int8_holds_the_fidelity_bound_on_the_golden_texts():
    meta, arrays = load_golden("all-MiniLM-L6-v2")
    ours = minilm.load(quantize="int8").encode(meta["texts"])
    ref = arrays["sentence_embedding"]
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.99 and cos.mean() >= 0.995, (cos.min(), cos.mean())
    assert cos.min() < 0.99999  # really quantised, not the float32 path


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_sessions_run_no_skip_layer_normalization(tmp_path, monkeypatch, quantize):
    """ONNX Runtime would fuse the int8 model's Add + Add + LayerNormalization into its slower
    SkipLayerNormalization (quantize_dynamic adds the shapes its checks need); the optimised model
    that the sessions write to the cache shows what they run."""
    import onnx
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    make_executor("onnxruntime", _graph(), threads=1, quantize=quantize).run(FEEDS)
    (path,) = (tmp_path / "models").glob("*.onnx")
    ops = [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]
    assert "SkipLayerNormalization" not in ops
    assert ops.count("LayerNormalization") == 2 * CFG.num_hidden_layers + 1
    assert ("QAttention" if quantize else "Attention") in ops


def test_bad_quantize_values():
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        minilm.load(quantize="int4")
    with pytest.raises(BackendError, match="quantize= applies to the onnxruntime backend only"):
        minilm.load(backend="numpy", quantize="int8")


def test_cache_hit_miss_invalidation_and_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    entries = lambda: sorted((tmp_path / "models").glob("*.onnx"))  # noqa: E731
    first = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    assert len(entries()) == 1                                              # miss: written
    stamp = entries()[0].stat().st_ino  # a rewrite renames a new file into place
    again = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    assert entries()[0].stat().st_ino == stamp and len(entries()) == 1     # hit: read, not rewritten
    np.testing.assert_array_equal(first, again)
    other = make_executor("onnxruntime", _graph(seed=1), threads=1).run(FEEDS)["sentence_embedding"]
    assert len(entries()) == 2 and not np.allclose(other, first)           # other weights: other key
    make_executor("onnxruntime", _graph(), threads=1, quantize="int8")
    assert len(entries()) == 3                                              # other options: other key
    for path in entries():
        path.write_bytes(b"not an onnx model")                              # corrupt every entry
    fixed = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    np.testing.assert_array_equal(fixed, first)                             # rebuilt, same answer
    assert any(p.read_bytes()[:20] != b"not an onnx model"[:20] for p in entries())
    for data in (tmp_path / "models").glob("*.data"):
        data.write_bytes(data.read_bytes()[:100])                           # truncated weights
    fixed = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    np.testing.assert_array_equal(fixed, first)                             # rebuilt again
    assert not list((tmp_path / "models").glob(".tmp-*"))                   # no temporary folder left


def test_cache_entry_keeps_its_weights_beside_it(tmp_path, monkeypatch):
    """The weights go to <key>.data (ONNX external data, memory-mapped by ONNX Runtime on load), the
    small tensors stay inside the .onnx; a hit reads them back with the same answer."""
    import onnx
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path))
    first = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    (model,) = (tmp_path / "models").glob("*.onnx")
    data = model.with_suffix(model_cache.DATA)
    proto = onnx.load(str(model), load_external_data=False)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert {e.value for t in external for e in t.external_data if e.key == "location"} == {data.name}
    assert "embeddings.word_embeddings.weight" in {t.name for t in external}
    lengths = [int(e.value) for t in external for e in t.external_data if e.key == "length"]
    assert min(lengths) >= 1024 and data.stat().st_size >= sum(lengths)
    again = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)["sentence_embedding"]
    np.testing.assert_array_equal(first, again)


def test_cache_key_follows_the_code_and_the_runtime(monkeypatch):
    graph = _graph()
    base = model_cache.key(graph, {"ort": ort.__version__})
    assert model_cache.key(graph, {"ort": ort.__version__}) == base
    assert model_cache.key(graph, {"ort": "0.0.0"}) != base
    monkeypatch.setattr(model_cache, "_code_version", lambda: b"edited lowering")
    assert model_cache.key(graph, {"ort": ort.__version__}) != base


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MINILM_CACHE_DIR", "off")
    assert model_cache.cache_dir() is None
    monkeypatch.delenv("MINILM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache.cache_dir() == tmp_path / "minilm"


def test_unwritable_cache_still_runs(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MINILM_CACHE_DIR", str(blocker / "sub"))  # a folder under a file: cannot be made
    out = make_executor("onnxruntime", _graph(), threads=1).run(FEEDS)
    assert out["sentence_embedding"].shape == (2, CFG.hidden_size)


def test_token_batches_respect_both_limits():
    ids = [[1] * n for n in (3, 50, 7, 20, 20, 1, 9)]
    batches = token_batches([len(x) for x in ids], batch_size=3, max_tokens=40)
    assert sorted(i for b in batches for i in b) == list(range(len(ids)))
    assert batches[0] == [1]                                 # 50 tokens > budget: alone
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or max(len(ids[i]) for i in b) * len(b) <= 40)


def test_token_budget_and_concurrent_runs_keep_the_answers(tmp_path):
    model = minilm.load(write_tiny_model(tmp_path / "m"), threads=2)
    executor = model.executor("sentence_embedding", True)
    assert executor.workers == 1  # the default: one run at a time on all threads
    executor.workers = 2  # concurrent runs (make_executor(..., workers=2)) must give the same answers
    texts = ["hello world", "a b c d e f g h i j k", "", "abc", "hello"] * 7
    one_by_one = np.stack([model.encode(t) for t in texts])
    for tokens in (1, 8, 64, 10_000):
        np.testing.assert_allclose(model.encode(texts, max_batch_tokens=tokens), one_by_one, atol=1e-6)
    with pytest.raises(ValueError, match="max_batch_tokens must be a positive integer"):
        model.encode(texts, max_batch_tokens=0)


def test_rewritten_weights_file_invalidates_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "m")
    before = minilm.load(folder).encode("hello world")
    assert minilm.load(folder).encode("hello world").tolist() == before.tolist()  # a hit gives the same vector
    write_tiny_model(folder, random_weights(CONFIG, seed=5))                      # same path, new weights
    after = minilm.load(folder).encode("hello world")
    assert not np.allclose(after, before)
    assert len(list((tmp_path / "cache" / "models").glob("*.onnx"))) == 2


def test_cli_int8_switch(capsys):
    import json
    from minilm.cli.main import main
    assert main(["embed", "--int8", "hello world"]) == 0
    int8 = np.array(json.loads(capsys.readouterr().out)["embedding"])
    assert main(["embed", "hello world"]) == 0
    fp32 = np.array(json.loads(capsys.readouterr().out)["embedding"])
    assert 0.99 <= float(int8 @ fp32) < 0.99999
    assert main(["embed", "--backend", "numpy", "--int8", "hello"]) != 0
    assert "quantize= applies to the onnxruntime backend only" in capsys.readouterr().err


def test_int8_weights_use_7_bits_where_avx2_would_saturate(monkeypatch):
    import platform
    from minilm.runtime import quantize
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert quantize.saturates("processor : 0\nflags : fpu sse2 avx2 fma\n")
    assert not quantize.saturates("flags : fpu avx2 avx512f avx512_vnni\n")
    assert not quantize.saturates("flags : fpu avx2 avx_vnni\n")
    assert quantize.saturates("")  # no flags line: the safe choice
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert not quantize.saturates("flags : fp asimd\n")


def test_folding_weight_transposes_keeps_the_answers_and_names_the_matmuls():
    from minilm.runtime.quantize import sensitive
    from minilm.runtime.rewrite import fold_weight_transposes
    model = to_onnx(_graph())
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, FEEDS)
    folded = fold_weight_transposes(model)
    inits = {t.name for t in folded.graph.initializer}
    assert not [n for n in folded.graph.node if n.op_type == "Transpose" and n.input[0] in inits]
    linear = [n for n in folded.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    assert len(linear) == 6 * CFG.num_hidden_layers and all(n.input[1] == n.name + ".weight.T" for n in linear)
    assert len(sensitive(folded)) == 2 * CFG.num_hidden_layers  # the feed-forward pair of each layer
    after = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, FEEDS)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-6)
